// Framing of the sync protocol (docs/PROTOCOL.md §8): every message is a
// 4-byte big-endian length, a 1-byte message type, then the payload. The
// length covers type and payload and is bounded by kMaxFrame, checked before
// anything is buffered, so a peer cannot make us allocate more. Batches of
// events travel zstd-compressed with a declared, bounded decompressed size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hoso/crypto/result.hpp"

namespace hoso::sync {

using crypto::Errc;
using crypto::Result;
using crypto::Status;

inline constexpr size_t kMaxFrame = 4u << 20;        // 4 MiB on the wire
inline constexpr size_t kMaxDecompressed = 16u << 20;  // 16 MiB once inflated

struct Frame {
  uint8_t type = 0;
  std::string payload;
};

// Appends one encoded frame; Errc::invalid_argument if it would exceed kMaxFrame.
Status encode_frame(std::string& out, uint8_t type, std::string_view payload);

// Incremental decoder over a byte stream: feed() what arrives, next() yields
// whole frames. A declared length of zero or above the limit poisons the
// decoder (Errc::bad_format) before its payload is read.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_frame = kMaxFrame) : max_(max_frame) {}
  Status feed(std::string_view bytes);
  // The next complete frame, if one is buffered.
  std::optional<Frame> next();
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  size_t max_;
  std::string buf_;
  size_t pos_ = 0;
  bool poisoned_ = false;
};

// zstd with the content size recorded; decompress refuses more than `limit`.
Result<std::string> compress(std::string_view data, int level = 3);
Result<std::string> decompress(std::string_view data, size_t limit = kMaxDecompressed);

}  // namespace hoso::sync
