// The root-signed items of one commune for engine-level tests: unit U1 with
// a receiver and one laptop (slot 1), the default procedure and the 2026
// calendar, all issued a day before t0.
#pragma once

#include <catch2/catch.hpp>

#include <vector>

#include "../cli/defaults.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/engine/trust.hpp"

namespace hoso::testing {

// `dcert` receives the laptop's certificate (also among the items).
inline std::vector<crypto::SignedItem> one_commune_items(const crypto::SigningKey& root, const crypto::SigningKey& officer,
                                                         const crypto::SigningKey& device, int64_t t0, crypto::SignedItem& dcert) {
  std::vector<crypto::SignedItem> items;
  engine::CertRequest u;
  u.kind = engine::CertKind::unit;
  u.name = "Xã";
  u.unit = "U1";
  u.issued_at = t0 - 86400;
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
  auto c = engine::issue_certificate(root, dv);
  REQUIRE(c);
  dcert = *c;
  items.push_back(dcert);
  items.push_back(*engine::sign_document(root, engine::kTypeProcedure, *crypto::parse_json_strict(cli::defaults::kProcedure), t0));
  items.push_back(*engine::sign_document(root, engine::kTypeCalendar, *crypto::parse_json_strict(cli::defaults::kCalendar2026), t0));
  return items;
}

}  // namespace hoso::testing
