// The sync stream as a peer sends it: frames (sync/src/frame.cpp) fed in
// arbitrary pieces, then each frame's message (wire::parse_message) and, as
// PUSH and FEED tails are, its batch (decompress + wire::records).
#include <vector>

#include "fuzz_common.hpp"
#include "hoso/sync/frame.hpp"
#include "wire.hpp"

using namespace hoso;

namespace {

struct Decoded {
  std::vector<sync::Frame> frames;
  bool failed = false;
};

// Feeds `in` in pieces of `piece` bytes (0: all at once), draining frames as
// a session does.
Decoded decode(std::string_view in, size_t piece, size_t max_frame) {
  Decoded d;
  sync::FrameDecoder dec(max_frame);
  size_t pos = 0;
  do {
    size_t n = piece == 0 ? in.size() : std::min(piece, in.size() - pos);
    crypto::Status st = dec.feed(in.substr(pos, n));
    pos += n;
    if (!st) {
      d.failed = true;
      // A broken stream stays broken.
      HOSO_FUZZ_CHECK(!dec.feed("x").ok());
      HOSO_FUZZ_CHECK(!dec.next());
      break;
    }
    while (auto f = dec.next()) d.frames.push_back(std::move(*f));
  } while (pos < in.size());
  return d;
}

void message(const std::string& payload) {
  auto m = sync::wire::parse_message(payload);
  if (!m) return;
  HOSO_FUZZ_CHECK(m->first.is_object());
  // What a reader accepts, a writer can say again.
  std::string again = sync::wire::message(m->first, m->second);
  auto m2 = sync::wire::parse_message(again);
  HOSO_FUZZ_CHECK(m2 && m2->first == m->first && m2->second == m->second);
  if (m->second.empty()) return;
  auto plain = sync::decompress(m->second);
  if (!plain) return;
  HOSO_FUZZ_CHECK(plain->size() <= sync::kMaxDecompressed);
  auto recs = sync::wire::records(*plain);
  if (!recs) return;
  std::string re;
  for (const auto& [at, bytes] : *recs) {
    HOSO_FUZZ_CHECK(bytes.size() <= crypto::kMaxItemBytes);
    sync::wire::put_record(re, at, bytes);
  }
  HOSO_FUZZ_CHECK(re == *plain);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = fuzz::input(data, size);
  // Small limits too, so the limit checks are reached with small inputs
  // (the server reads HELLO with a 64 KiB limit).
  for (size_t max_frame : {sync::kMaxFrame, size_t{64}}) {
    Decoded whole = decode(in, 0, max_frame);
    // The same bytes in other pieces give the same frames: a cut in the
    // middle of a header or payload must not change what is read.
    for (size_t piece : {size_t{1}, size_t{3}, size_t{7} + size % 13}) {
      Decoded parts = decode(in, piece, max_frame);
      HOSO_FUZZ_CHECK(parts.frames.size() == whole.frames.size());
      for (size_t i = 0; i < parts.frames.size(); ++i)
        HOSO_FUZZ_CHECK(parts.frames[i].type == whole.frames[i].type &&
                        parts.frames[i].payload == whole.frames[i].payload);
    }
    // Every frame read back encodes to the bytes it came from.
    std::string re;
    for (const auto& f : whole.frames) HOSO_FUZZ_CHECK(sync::encode_frame(re, f.type, f.payload).ok());
    HOSO_FUZZ_CHECK(in.substr(0, re.size()) == re);
    if (max_frame == sync::kMaxFrame)
      for (const auto& f : whole.frames) message(f.payload);
  }
  return 0;
}
