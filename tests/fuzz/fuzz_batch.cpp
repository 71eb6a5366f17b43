// A batch as it arrives in a PUSH or FEED tail: a zstd frame with a declared
// size (sync::decompress), whose content is a run of records
// (wire::records), each an envelope (crypto::parse_item).
#include "fuzz_common.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/engine/event.hpp"
#include "hoso/sync/frame.hpp"
#include "wire.hpp"

using namespace hoso;

namespace {

void records(std::string_view plain) {
  auto recs = sync::wire::records(plain);
  if (!recs) return;
  std::string re;
  for (const auto& [at, bytes] : *recs) {
    sync::wire::put_record(re, at, bytes);
    auto item = crypto::parse_item(bytes);
    if (item && item->type == engine::kTypeEvent) (void)engine::read_event(*item);
  }
  HOSO_FUZZ_CHECK(re == plain);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = fuzz::input(data, size);
  // A small limit as well, so "declares more than the limit" is reachable.
  for (size_t limit : {sync::kMaxDecompressed, size_t{1024}}) {
    auto plain = sync::decompress(in, limit);
    if (!plain) continue;
    HOSO_FUZZ_CHECK(plain->size() <= limit);
    // What we inflate, we can deflate and inflate again.
    auto z = sync::compress(*plain);
    HOSO_FUZZ_CHECK(z.ok());
    auto back = sync::decompress(*z, limit);
    HOSO_FUZZ_CHECK(back && *back == *plain);
    if (limit == sync::kMaxDecompressed) records(*plain);
  }
  // The records layer on its own, for inputs that are not zstd.
  records(in);
  return 0;
}
