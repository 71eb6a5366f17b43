// Envelopes and events as they arrive from a peer, a file or a bundle:
// canonical JSON (crypto::parse_json_strict, parse_canonical and its
// definition by encoding), the envelope
// (crypto::parse_item) and the event body (engine::read_event); also the key
// files a USB stick brings (crypto::parse_public_key_file, peek_key_file: the
// part read before any passphrase).
#include "fuzz_common.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/engine/event.hpp"

using namespace hoso;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = fuzz::input(data, size);

  // People's JSON: whatever parses and has a canonical form keeps it.
  if (auto j = crypto::parse_json_strict(in); j) {
    if (auto c = crypto::canonical_json(*j); c) {
      auto back = crypto::parse_canonical(*c);
      HOSO_FUZZ_CHECK(back && *back == *j);
    }
  }

  // One value, one spelling: canonical bytes re-encode to themselves.
  auto fast = crypto::parse_canonical(in);
  if (fast) {
    auto c = crypto::canonical_json(*fast);
    HOSO_FUZZ_CHECK(c && *c == in);
  }
  // The one-pass reader and its definition (parse, encode, compare) agree.
  auto slow = crypto::detail::parse_canonical_by_encoding(in);
  HOSO_FUZZ_CHECK(fast.ok() == slow.ok());
  if (fast) HOSO_FUZZ_CHECK(fast->dump() == slow->dump());
  else HOSO_FUZZ_CHECK(fast.error().message == slow.error().message);

  if (auto pk = crypto::parse_public_key_file(in); pk) {
    auto again = crypto::parse_public_key_file(crypto::public_key_file(pk->pub, pk->name));
    HOSO_FUZZ_CHECK(again && again->pub == pk->pub && again->name == pk->name);
  }
  (void)crypto::peek_key_file(crypto::as_bytes(in));

  auto item = crypto::parse_item(in);
  if (!item) return 0;
  HOSO_FUZZ_CHECK(item->bytes == in);
  HOSO_FUZZ_CHECK(item->body.is_object());
  auto body = crypto::canonical_json(item->body);
  HOSO_FUZZ_CHECK(body && *body == item->body_bytes);
  // Signatures only check bytes; they must not trip on any parsed item.
  (void)crypto::verify_sig(*item, fuzz::vector_root().public_key());
  (void)crypto::verify_cosig(*item, fuzz::vector_root().public_key());

  auto ev = engine::read_event(*item);
  if (!ev) return 0;
  HOSO_FUZZ_CHECK(ev->hash == item->id_hex());
  (void)ev->body.note();
  (void)ev->body.fields();
  for (const auto& a : ev->body.attachments()) HOSO_FUZZ_CHECK(a.hash.size() == 64 && a.size >= 0);
  // What read_event takes from the body is the whole body: a signer signs
  // exactly the event the store folds.
  HOSO_FUZZ_CHECK(engine::event_body_json(ev->body) == item->body);
  return 0;
}
