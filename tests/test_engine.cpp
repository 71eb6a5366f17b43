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
