// Regression tests for engine-level bugs found in review.
#include <catch2/catch.hpp>

#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/engine/trust.hpp"

using namespace hoso;

namespace {
crypto::SignedItem rewrap_with_cosig(const crypto::SignedItem& item) {
  auto env = crypto::parse_canonical(item.bytes);
  REQUIRE(env);
  (*env)["cosig"] = std::string(128, 'a');
  auto bytes = crypto::canonical_json(*env);
  REQUIRE(bytes);
  auto again = crypto::parse_item(*bytes);
  REQUIRE(again);
  return *again;
}
}  // namespace

TEST_CASE("a revoked certificate cannot be revived by adding a countersignature", "[engine][trust]") {
  auto root = crypto::SigningKey::generate();
  auto officer = crypto::SigningKey::generate();
  engine::CertRequest req;
  req.kind = engine::CertKind::officer;
  req.name = "Officer";
  req.unit = "U1";
  req.roles = {"receiver"};
  req.pub = officer.public_key();
  req.issued_at = 1000;
  auto cert = engine::issue_certificate(root, req);
  REQUIRE(cert);
  auto parsed = engine::read_certificate(*cert, root.public_key());
  REQUIRE(parsed);
  auto rev = engine::issue_revocation(root, *parsed, "stolen", 2000, 2000);
  REQUIRE(rev);

  auto copy = rewrap_with_cosig(*cert);
  CHECK(copy.id != cert->id);
  auto read = engine::read_certificate(copy, root.public_key());
  REQUIRE_FALSE(read);
  CHECK(read.error().code == crypto::Errc::bad_format);

  engine::Trust trust(root.public_key());
  REQUIRE(trust.add(*cert));
  REQUIRE(trust.add(*rev));
  CHECK_FALSE(trust.add(copy));
  engine::Act act{copy.id_hex(), engine::CertKind::officer, std::string("receiver"), std::string("U1"), 3000, 3000};
  CHECK_FALSE(trust.authorize(act));

  CHECK_FALSE(engine::read_revocation(rewrap_with_cosig(*rev), root.public_key()));
  auto doc = engine::sign_document(root, engine::kTypeCalendar, nlohmann::json{{"kind", "calendar"}}, 1000);
  REQUIRE(doc);
  CHECK(engine::read_document(*doc, root.public_key()));
  CHECK_FALSE(engine::read_document(rewrap_with_cosig(*doc), root.public_key()));
  // A document whose kind differs from its item type is refused.
  auto wrong = engine::sign_document(root, engine::kTypeProcedure, nlohmann::json{{"kind", "calendar"}}, 1000);
  REQUIRE(wrong);
  CHECK_FALSE(engine::read_document(*wrong, root.public_key()));
}

TEST_CASE("a public key file with a non-string format is an error, not a crash", "[engine][crypto]") {
  auto r = crypto::parse_public_key_file(R"({"format":1,"pub":"00"})");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == crypto::Errc::bad_format);
}

#include <unistd.h>

#include <filesystem>

#include "../cli/defaults.hpp"
#include "hoso/engine/store.hpp"

TEST_CASE("an equivocation is refused and kept as evidence", "[engine][store]") {
  namespace fs = std::filesystem;
  std::string dir = (fs::temp_directory_path() / "hoso-equiv-XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()));
  struct Cleanup {
    std::string d;
    ~Cleanup() { fs::remove_all(d); }
  } cleanup{dir};
  auto t0 = engine::parse_iso8601("2026-03-02T09:00:00+07:00");
  REQUIRE(t0);
  auto root = crypto::SigningKey::generate();
  auto officer = crypto::SigningKey::generate();
  auto device = crypto::SigningKey::generate();
  std::vector<crypto::SignedItem> items;
  engine::CertRequest u;
  u.kind = engine::CertKind::unit;
  u.name = "Xã";
  u.unit = "U1";
  u.issued_at = *t0 - 86400;
  items.push_back(*engine::issue_certificate(root, u));
  engine::CertRequest o = u;
  o.kind = engine::CertKind::officer;
  o.roles = {"receiver"};
  o.pub = officer.public_key();
  items.push_back(*engine::issue_certificate(root, o));
  engine::CertRequest dv = u;
  dv.kind = engine::CertKind::device;
  dv.slot = 1;
  dv.pub = device.public_key();
  auto dcert = engine::issue_certificate(root, dv);
  REQUIRE(dcert);
  items.push_back(*dcert);
  items.push_back(*engine::sign_document(root, engine::kTypeProcedure, *crypto::parse_json_strict(cli::defaults::kProcedure), *t0));
  items.push_back(*engine::sign_document(root, engine::kTypeCalendar, *crypto::parse_json_strict(cli::defaults::kCalendar2026), *t0));
  auto sealed = crypto::seal_key_file(device, "d", "pw", crypto::Kdf::interactive);
  REQUIRE(sealed);
  std::string key(sealed->begin(), sealed->end());
  // The same laptop twice: a restored copy that signed on without pulling.
  auto a = engine::Store::create_device(dir + "/a.db", root.public_key(), *dcert, key, "");
  auto b = engine::Store::create_device(dir + "/b.db", root.public_key(), *dcert, key, "");
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(a->ingest(items, *t0));
  REQUIRE(b->ingest(items, *t0));
  std::map<std::string, std::string> fields{{"cccd", "1"}, {"child_name", "B"}, {"birth_date", "2026-02-01"}};
  REQUIRE(a->receive(officer, device, {"1.001193", "An", fields, {}}, *t0));
  REQUIRE(b->receive(officer, device, {"1.001193", "Bình", fields, {}}, *t0 + 60));
  auto other = b->device_log(b->device_cert_id(), 0, 10);
  REQUIRE(other);
  REQUIRE(other->size() == 1);
  auto r = a->ingest(*other, *t0 + 120);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == crypto::Errc::conflict);
  CHECK(r.error().message.find("equivocation") != std::string::npos);
  auto wm = a->watermarks();
  REQUIRE(wm);
  CHECK(wm->at(a->device_cert_id()) == 1);

  // Attachments are visible to the units of the dossiers that reference them only.
  engine::ReceiveRequest with{"1.001193", "Chi", fields, {{"scan.pdf", "%PDF scan"}}};
  REQUIRE(a->receive(officer, device, with, *t0 + 180));
  std::string h = crypto::to_hex(crypto::blake2b256(crypto::as_bytes(std::string("%PDF scan"))));
  std::vector<std::string> mine{"U1"}, others{"U2"};
  CHECK(*a->attachment_referenced(h));
  CHECK(*a->attachment_referenced(h, &mine));
  CHECK_FALSE(*a->attachment_referenced(h, &others));
  CHECK_FALSE(*a->attachment_referenced(std::string(64, '0')));
  auto v = a->verify();
  CHECK(v.ok());
  REQUIRE(v.warnings.size() == 1);  // the equivocation; the store is otherwise sound
  CHECK(v.warnings[0].find("two different events at sequence 1") != std::string::npos);
}
