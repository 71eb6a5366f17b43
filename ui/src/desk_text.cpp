// Text helpers of the desk: search folding for Vietnamese and QR codes.
#include <qrencode.h>

#include <array>
#include <memory>
#include <string>

#include "hoso/ui/desk.hpp"

namespace hoso::ui {

namespace {

// Every precomposed Latin letter Vietnamese uses, with its base letter: the
// browser sends NFC text, but NFD input is handled too (combining marks are
// dropped below).
struct Fold {
  char32_t cp;
  char base;
};
constexpr const char* kGroups[] = {
    "aàáảãạăằắẳẵặâầấẩẫậ", "AÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ", "eèéẻẽẹêềếểễệ", "EÈÉẺẼẸÊỀẾỂỄỆ", "iìíỉĩị", "IÌÍỈĨỊ",
    "oòóỏõọôồốổỗộơờớởỡợ", "OÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ", "uùúủũụưừứửữự", "UÙÚỦŨỤƯỪỨỬỮỰ", "yỳýỷỹỵ", "YỲÝỶỸỴ", "dđ", "DĐ"};

bool next_cp(std::string_view s, size_t& i, char32_t& cp) {
  auto c = static_cast<unsigned char>(s[i]);
  int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    ++i;
    cp = 0xFFFD;
    return false;
  }
  cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return true;
}

const std::map<char32_t, char>& fold_table() {
  static const std::map<char32_t, char> t = [] {
    std::map<char32_t, char> m;
    for (const char* g : kGroups) {
      std::string_view s(g);
      size_t i = 0;
      char32_t cp;
      next_cp(s, i, cp);
      char base = static_cast<char>(cp);
      while (i < s.size())
        if (next_cp(s, i, cp)) m[cp] = base;
    }
    return m;
  }();
  return t;
}

}  // namespace

std::string fold_vietnamese(std::string_view s) {
  const auto& t = fold_table();
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    char32_t cp;
    bool ok = next_cp(s, i, cp);
    if (ok && cp < 0x80) {
      out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    } else if (ok && cp >= 0x300 && cp <= 0x36F) {
      // combining diacritic (NFD input): dropped
    } else if (auto it = t.find(cp); ok && it != t.end()) {
      char b = it->second;
      out += static_cast<char>(b >= 'A' && b <= 'Z' ? b + 32 : b);
    } else if (ok) {
      out.append(s.substr(start, i - start));
    }
  }
  return out;
}

Result<std::string> qr_svg(const std::string& text) {
  std::unique_ptr<QRcode, void (*)(QRcode*)> qr(QRcode_encodeString8bit(text.c_str(), 0, QR_ECLEVEL_M), QRcode_free);
  if (!qr) return crypto::make_error(Errc::internal, "cannot make a QR code of " + std::to_string(text.size()) + " bytes");
  const int w = qr->width, quiet = 4, size = w + 2 * quiet;
  std::string path;
  for (int y = 0; y < w; ++y)
    for (int x = 0; x < w; ++x)
      if (qr->data[y * w + x] & 1)
        path += "M" + std::to_string(x + quiet) + " " + std::to_string(y + quiet) + "h1v1h-1z";
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + std::to_string(size) + " " + std::to_string(size) +
         "\" shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>"
         "<path fill=\"#000\" d=\"" + path + "\"/></svg>";
}

}  // namespace hoso::ui
