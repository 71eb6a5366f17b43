// Files of root-signed items (engine::read_items) and the readers of
// certificates, revocations and documents (engine/src/trust.cpp). An input's
// items are read twice: as given (against the root named in their `issuer`,
// so real items verify whatever root signed them) and re-signed by the
// test-vector root, so a mutated body gets past the signature check and its
// layout checks are explored too.
#include "fuzz_common.hpp"
#include "hoso/engine/calendar.hpp"
#include "hoso/engine/procedure.hpp"
#include "hoso/engine/trust.hpp"

using namespace hoso;

namespace {

crypto::PublicKey issuer_of(const crypto::SignedItem& it) {
  auto i = it.body.find("issuer");
  if (i != it.body.end() && i->is_string())
    if (auto pk = crypto::fixed_from_hex<32>(i->get<std::string>()); pk) return *pk;
  return fuzz::vector_root().public_key();
}

void exercise(engine::Trust& trust, const crypto::SignedItem& it) {
  const auto& root = trust.root();
  if (it.type == engine::kTypeCert) {
    if (auto c = engine::read_certificate(it, root); c) {
      HOSO_FUZZ_CHECK(c->id == it.id_hex());
      HOSO_FUZZ_CHECK(c->not_after > c->issued_at);
    }
  } else if (it.type == engine::kTypeRevocation) {
    (void)engine::read_revocation(it, root);
  } else if (it.type == engine::kTypeProcedure || it.type == engine::kTypeCalendar) {
    if (auto d = engine::read_document(it, root); d) {
      if (it.type == engine::kTypeProcedure)
        (void)engine::parse_procedure(d->document);
      else
        (void)engine::parse_calendar(d->document);
    }
    return;
  }
  (void)trust.add(it);
}

void ask(const engine::Trust& trust) {
  for (const auto& [id, c] : trust.certificates()) {
    (void)trust.units_under(c.unit);
    if (c.pub) (void)trust.find_by_key(*c.pub, c.kind, c.issued_at);
    for (int64_t at : {c.issued_at - 1, c.issued_at, c.not_after - 1, c.not_after}) {
      engine::Act a;
      a.cert_id = id;
      a.kind = c.kind;
      a.at = at;
      a.arrived_at = at + engine::kRevocationGraceSeconds + 1;
      if (!c.roles.empty()) a.role = c.roles.front();
      a.unit = c.unit;
      (void)trust.authorize(a);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto items = engine::read_items(fuzz::input(data, size));
  if (!items) return 0;
  if (items->size() > 64) return 0;  // signing is the slow part: keep runs fast
  engine::Trust as_given(issuer_of(items->front()));
  engine::Trust resigned(fuzz::vector_root().public_key());
  const std::string root_hex = crypto::to_hex(fuzz::vector_root().public_key());
  for (const auto& it : *items) {
    exercise(as_given, it);
    nlohmann::json body = it.body;
    if (body.contains("issuer")) body["issuer"] = root_hex;
    auto again = crypto::sign_item(it.type, body, fuzz::vector_root());
    if (again) exercise(resigned, *again);
  }
  ask(as_given);
  ask(resigned);
  return 0;
}
