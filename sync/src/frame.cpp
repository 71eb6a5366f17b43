#include "hoso/sync/frame.hpp"

#include <zstd.h>

namespace hoso::sync {

using crypto::make_error;

Status encode_frame(std::string& out, uint8_t type, std::string_view payload) {
  size_t len = payload.size() + 1;
  if (len > kMaxFrame) return make_error(Errc::invalid_argument, "frame larger than " + std::to_string(kMaxFrame) + " bytes");
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out.push_back(static_cast<char>(type));
  out.append(payload);
  return {};
}

Status FrameDecoder::feed(std::string_view bytes) {
  if (poisoned_) return make_error(Errc::bad_format, "stream already broken by an invalid frame");
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  buf_.append(bytes);
  if (buffered() >= 4) {
    const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
    size_t len = size_t(p[0]) << 24 | size_t(p[1]) << 16 | size_t(p[2]) << 8 | p[3];
    if (len == 0 || len > max_) {
      poisoned_ = true;
      return make_error(Errc::bad_format, "frame of " + std::to_string(len) + " bytes exceeds the limit of " + std::to_string(max_));
    }
  }
  return {};
}

std::optional<Frame> FrameDecoder::next() {
  if (poisoned_ || buffered() < 4) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  size_t len = size_t(p[0]) << 24 | size_t(p[1]) << 16 | size_t(p[2]) << 8 | p[3];
  if (len == 0 || len > max_) {
    poisoned_ = true;
    return std::nullopt;
  }
  if (buffered() < 4 + len) return std::nullopt;
  Frame f;
  f.type = static_cast<uint8_t>(buf_[pos_ + 4]);
  f.payload = buf_.substr(pos_ + 5, len - 1);
  pos_ += 4 + len;
  // Compact once the consumed prefix dominates, keeping memory bounded.
  if (pos_ > (1u << 16) && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  // Check the following header early so an oversized declaration is seen at once.
  if (buffered() >= 4) {
    const auto* q = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
    size_t nlen = size_t(q[0]) << 24 | size_t(q[1]) << 16 | size_t(q[2]) << 8 | q[3];
    if (nlen == 0 || nlen > max_) poisoned_ = true;
  }
  return f;
}

Result<std::string> compress(std::string_view data, int level) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) return make_error(Errc::internal, std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Result<std::string> decompress(std::string_view data, size_t limit) {
  unsigned long long size = ZSTD_getFrameContentSize(data.data(), data.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) return make_error(Errc::bad_format, "not a zstd frame");
  if (size == ZSTD_CONTENTSIZE_UNKNOWN) return make_error(Errc::bad_format, "zstd frame without a content size");
  if (size > limit) return make_error(Errc::bad_format, "compressed batch inflates to " + std::to_string(size) + " bytes, over the limit");
  std::string out(static_cast<size_t>(size), '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), data.data(), data.size());
  if (ZSTD_isError(n)) return make_error(Errc::bad_format, std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != size) return make_error(Errc::bad_format, "zstd frame shorter than declared");
  return out;
}

}  // namespace hoso::sync
