#include "hoso/crypto/canonical.hpp"

#include <cstdio>

namespace hoso::crypto {
namespace {

// Returns false if `s` is not well-formed UTF-8 (overlongs, surrogates and
// code points above U+10FFFF are malformed).
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) { ++i; continue; }
    int n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + static_cast<size_t>(n) >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

void put_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

Status encode(std::string& out, const nlohmann::json& v, const std::string& path) {
  using T = nlohmann::json::value_t;
  switch (v.type()) {
    case T::null: out += "null"; return {};
    case T::boolean: out += v.get<bool>() ? "true" : "false"; return {};
    case T::number_integer: {
      int64_t i = v.get<int64_t>();
      if (i > kMaxSafeInteger || i < -kMaxSafeInteger)
        return make_error(Errc::bad_format, path + ": integer out of the safe range");
      out += std::to_string(i);
      return {};
    }
    case T::number_unsigned: {
      uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(kMaxSafeInteger))
        return make_error(Errc::bad_format, path + ": integer out of the safe range");
      out += std::to_string(u);
      return {};
    }
    case T::number_float:
      return make_error(Errc::bad_format, path + ": numbers must be integers");
    case T::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (!valid_utf8(s)) return make_error(Errc::bad_format, path + ": invalid UTF-8");
      put_string(out, s);
      return {};
    }
    case T::array: {
      out.push_back('[');
      size_t i = 0;
      for (const auto& e : v) {
        if (i) out.push_back(',');
        Status st = encode(out, e, path + "[" + std::to_string(i) + "]");
        if (!st) return st;
        ++i;
      }
      out.push_back(']');
      return {};
    }
    case T::object: {
      out.push_back('{');
      bool first = true;
      // nlohmann::json's default object is a std::map: keys iterate in byte order.
      for (auto it = v.begin(); it != v.end(); ++it) {
        for (char c : it.key())
          if (static_cast<unsigned char>(c) >= 0x80 || static_cast<unsigned char>(c) < 0x20)
            return make_error(Errc::bad_format, path + ": key \"" + it.key() + "\" is not printable ASCII");
        if (!first) out.push_back(',');
        first = false;
        put_string(out, it.key());
        out.push_back(':');
        Status st = encode(out, it.value(), path.empty() ? it.key() : path + "." + it.key());
        if (!st) return st;
      }
      out.push_back('}');
      return {};
    }
    case T::binary:
    case T::discarded:
      break;
  }
  return make_error(Errc::bad_format, path + ": value has no JSON form");
}

// Depth limit and duplicate-key detection during parsing.
struct StrictCallback {
  int max_depth = 32;
  int depth = 0;
  std::vector<std::vector<std::string>> keys;  // keys seen per open object
  std::string error;
  bool operator()(int d, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    (void)d;
    switch (ev) {
      case E::object_start:
        if (++depth > max_depth) { error = "nesting deeper than " + std::to_string(max_depth); throw std::runtime_error(error); }
        keys.emplace_back();
        break;
      case E::array_start:
        if (++depth > max_depth) { error = "nesting deeper than " + std::to_string(max_depth); throw std::runtime_error(error); }
        break;
      case E::object_end:
        --depth;
        keys.pop_back();
        break;
      case E::array_end:
        --depth;
        break;
      case E::key: {
        auto k = parsed.get<std::string>();
        auto& ks = keys.back();
        for (const auto& seen : ks)
          if (seen == k) { error = "duplicate key \"" + k + "\""; throw std::runtime_error(error); }
        ks.push_back(std::move(k));
        break;
      }
      case E::value:
        if (parsed.is_number_float()) { error = "numbers must be integers"; throw std::runtime_error(error); }
        break;
    }
    return true;
  }
};

// Reads bytes that must be canonical in one pass, building the value as it
// goes: the encoder's language read directly, instead of parsing any JSON and
// encoding it again to compare (which was most of parse_item's time, and
// parse_item runs once per event a server ingests). It says only whether the
// bytes are canonical; parse_canonical asks the general parser why not, so
// every refusal keeps the message people and tests know. The two must agree
// on every input: tests/test_crypto.cpp and fuzz_item compare them.
class CanonicalReader {
 public:
  CanonicalReader(std::string_view s, int max_depth) : p_(s.data()), end_(s.data() + s.size()), max_depth_(max_depth) {}

  // The whole input as one value; false if it is not canonical.
  bool read(nlohmann::json& out) { return value(out, 0) && p_ == end_; }

 private:
  using json = nlohmann::json;

  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  // What std::to_string writes: no '+', no leading zero, no "-0", at most
  // 2^53-1; a fraction or an exponent makes a float, which has no canonical form.
  bool number(json& out) {
    const bool neg = *p_ == '-';
    if (neg) ++p_;
    if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
    const char* first = p_;
    uint64_t v = 0;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
      if (p_ - first == 16) return false;  // 17 digits exceed 2^53-1
      v = v * 10 + static_cast<uint64_t>(*p_ - '0');
      ++p_;
    }
    if (*first == '0' && (p_ - first > 1 || neg)) return false;
    if (v > static_cast<uint64_t>(kMaxSafeInteger)) return false;
    if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    // The general parser's types: unsigned without a sign, signed with one.
    if (neg) out = json(-static_cast<int64_t>(v));
    else out = json(v);
    return true;
  }

  // A string with exactly put_string's escapes; its bytes valid UTF-8.
  bool string(std::string& out) {
    if (p_ == end_ || *p_ != '"') return false;
    ++p_;
    for (;;) {
      const char* run = p_;
      while (p_ != end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) ++p_;
      out.append(run, static_cast<size_t>(p_ - run));
      if (p_ == end_ || static_cast<unsigned char>(*p_) < 0x20) return false;
      if (*p_ == '"') break;
      if (++p_ == end_) return false;
      switch (*p_++) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          // Only the control characters without a short escape, in lower-case hex.
          if (end_ - p_ < 4 || p_[0] != '0' || p_[1] != '0' || (p_[2] != '0' && p_[2] != '1')) return false;
          const char h = p_[3];
          int lo;
          if (h >= '0' && h <= '9') lo = h - '0';
          else if (h >= 'a' && h <= 'f') lo = h - 'a' + 10;
          else return false;
          const char c = static_cast<char>((p_[2] - '0') * 16 + lo);
          if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') return false;
          out.push_back(c);
          p_ += 4;
          break;
        }
        default: return false;
      }
    }
    ++p_;
    return valid_utf8(out);
  }

  bool value(json& out, int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case 'n': out = nullptr; return literal("null");
      case 't': out = true; return literal("true");
      case 'f': out = false; return literal("false");
      case '"': {
        std::string s;
        if (!string(s)) return false;
        out = std::move(s);
        return true;
      }
      case '[': {
        if (depth + 1 > max_depth_) return false;
        ++p_;
        out = json::array();
        auto& arr = out.get_ref<json::array_t&>();
        if (p_ != end_ && *p_ == ']') { ++p_; return true; }
        for (;;) {
          arr.emplace_back();
          if (!value(arr.back(), depth + 1)) return false;
          if (p_ == end_) return false;
          if (*p_ == ']') { ++p_; return true; }
          if (*p_++ != ',') return false;
        }
      }
      case '{': {
        if (depth + 1 > max_depth_) return false;
        ++p_;
        out = json::object();
        auto& obj = out.get_ref<json::object_t&>();
        if (p_ != end_ && *p_ == '}') { ++p_; return true; }
        const std::string* last = nullptr;
        for (;;) {
          std::string key;
          if (!string(key)) return false;
          for (char c : key)
            if (static_cast<unsigned char>(c) >= 0x80 || static_cast<unsigned char>(c) < 0x20) return false;
          // Sorted by bytes, so a repeated key is out of order too.
          if (last && !(*last < key)) return false;
          if (p_ == end_ || *p_++ != ':') return false;
          auto at = obj.emplace_hint(obj.end(), std::move(key), json());
          last = &at->first;
          if (!value(at->second, depth + 1)) return false;
          if (p_ == end_) return false;
          if (*p_ == '}') { ++p_; return true; }
          if (*p_++ != ',') return false;
        }
      }
      default:
        if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return number(out);
        return false;
    }
  }

  const char* p_;
  const char* end_;
  int max_depth_;
};

}  // namespace

Result<std::string> canonical_json(const nlohmann::json& value) {
  std::string out;
  Status st = encode(out, value, "");
  if (!st) return st.error();
  return out;
}

Result<nlohmann::json> parse_json_strict(std::string_view text, int max_depth) {
  StrictCallback cb;
  cb.max_depth = max_depth;
  try {
    nlohmann::json j = nlohmann::json::parse(
        text.begin(), text.end(),
        [&cb](int d, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) { return cb(d, ev, parsed); });
    return j;
  } catch (const nlohmann::json::exception& e) {
    std::string m = e.what();
    // nlohmann prefixes "[json.exception.parse_error.101] "; keep the human part.
    auto p = m.find("] ");
    return make_error(Errc::bad_format, "invalid JSON: " + (p == std::string::npos ? m : m.substr(p + 2)));
  } catch (const std::exception&) {
    return make_error(Errc::bad_format, "invalid JSON: " + cb.error);
  }
}

Result<nlohmann::json> parse_canonical(std::string_view bytes, int max_depth) {
  nlohmann::json fast;
  if (CanonicalReader(bytes, max_depth).read(fast)) return fast;
  // Not canonical: the general parser and the encoder say why.
  auto slow = detail::parse_canonical_by_encoding(bytes, max_depth);
  if (slow) return make_error(Errc::internal, "canonical reader refused bytes the encoder writes");
  return slow.error();
}

namespace detail {

Result<nlohmann::json> parse_canonical_by_encoding(std::string_view bytes, int max_depth) {
  auto j = parse_json_strict(bytes, max_depth);
  if (!j) return j.error();
  auto again = canonical_json(*j);
  if (!again) return again.error();
  if (*again != bytes) return make_error(Errc::bad_format, "not in canonical form");
  return j;
}

}  // namespace detail

}  // namespace hoso::crypto
