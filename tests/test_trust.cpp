// The province's chain of trust (engine/trust.hpp): issuing and reading
// certificates, revocations and signed documents, files of items, and
// Trust::authorize's answer for every way an act can be refused.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/engine/trust.hpp"

namespace hc = hoso::crypto;
namespace he = hoso::engine;
using nlohmann::json;

namespace {

template <class R>
std::string code(const R& r) {
  return r.ok() ? "ok" : hc::errc_name(r.error().code);
}
template <class R>
std::string msg(const R& r) {
  return r.ok() ? "" : r.error().message;
}
bool has(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

hc::SigningKey key_from(uint8_t first) {
  hc::Bytes s(32);
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(first + i);
  return hc::SigningKey::from_seed(s);
}

// 2026-03-05T01:00:00Z (08:00 at +07:00).
constexpr int64_t kT0 = 1772672400;
constexpr int64_t kDay = 86400;
constexpr int64_t kGrace = 7 * kDay;
const std::string kUnit = "000.00.31.H12";
const std::string kParent = "000.00.00.H12";

struct Keys {
  hc::SigningKey root = key_from(0x01);
  hc::SigningKey other_root = key_from(0x81);
  hc::SigningKey officer = key_from(0x21);
  hc::SigningKey device = key_from(0x41);
  hc::SigningKey server = key_from(0x61);
};
const Keys& keys() {
  static const Keys k;
  return k;
}

he::CertRequest officer_req(int64_t issued_at = kT0, int64_t days = he::kDefaultCertDays) {
  he::CertRequest r;
  r.kind = he::CertKind::officer;
  r.name = "Nguyễn Văn A";
  r.unit = kUnit;
  r.roles = {"specialist", "receiver"};
  r.pub = keys().officer.public_key();
  r.issued_at = issued_at;
  r.days = days;
  return r;
}
he::CertRequest device_req(int64_t issued_at = kT0) {
  he::CertRequest r;
  r.kind = he::CertKind::device;
  r.name = "Máy bàn 1";
  r.unit = kUnit;
  r.slot = 1;
  r.pub = keys().device.public_key();
  r.issued_at = issued_at;
  return r;
}
he::CertRequest server_req(int64_t issued_at = kT0) {
  he::CertRequest r;
  r.kind = he::CertKind::server;
  r.name = "Máy chủ tỉnh";
  r.unit = kParent;
  r.pub = keys().server.public_key();
  r.issued_at = issued_at;
  return r;
}
he::CertRequest unit_req(int64_t issued_at = kT0) {
  he::CertRequest r;
  r.kind = he::CertKind::unit;
  r.name = "UBND xã A";
  r.unit = kUnit;
  r.parent = kParent;
  r.issued_at = issued_at;
  return r;
}

hc::SignedItem issue(const he::CertRequest& r, const hc::SigningKey& root = keys().root) {
  auto it = he::issue_certificate(root, r);
  INFO(msg(it));
  REQUIRE(it.ok());
  return *it;
}
he::Certificate read(const hc::SignedItem& item) {
  auto c = he::read_certificate(item, keys().root.public_key());
  INFO(msg(c));
  REQUIRE(c.ok());
  return *c;
}
hc::SignedItem revoke(const he::Certificate& c, int64_t effective, int64_t issued, const std::string& reason = "Máy bị mất") {
  auto r = he::issue_revocation(keys().root, c, reason, effective, issued);
  INFO(msg(r));
  REQUIRE(r.ok());
  return *r;
}

// The body of `item` changed by `edit`, signed again by `signer` as `type`:
// the signature is good, so only the shape can be wrong.
hc::SignedItem resign(const hc::SignedItem& item, const std::function<void(json&)>& edit,
                      const hc::SigningKey& signer = keys().root, const char* type = nullptr) {
  json body = item.body;
  edit(body);
  auto it = hc::sign_item(type ? type : item.type, body, signer);
  INFO(msg(it));
  REQUIRE(it.ok());
  return *it;
}

he::Act officer_act(const std::string& id, int64_t at, std::optional<std::string> role = std::string("receiver"),
                    std::optional<std::string> unit = kUnit, std::optional<int64_t> arrived = std::nullopt) {
  he::Act a;
  a.cert_id = id;
  a.kind = he::CertKind::officer;
  a.role = std::move(role);
  a.unit = std::move(unit);
  a.at = at;
  a.arrived_at = arrived;
  return a;
}

}  // namespace

// ============================================================================
// Kinds, times
// ============================================================================

TEST_CASE("trust: certificate kinds by name", "[trust]") {
  for (auto k : {he::CertKind::unit, he::CertKind::officer, he::CertKind::device, he::CertKind::server}) {
    auto back = he::parse_cert_kind(he::cert_kind_name(k));
    REQUIRE(back.ok());
    CHECK(*back == k);
  }
  CHECK(std::string(he::cert_kind_name(he::CertKind::device)) == "device");
  for (const char* bad : {"", "Unit", "officers", "root", " unit"}) {
    auto r = he::parse_cert_kind(bad);
    INFO(bad);
    CHECK(code(r) == "invalid_argument");
    CHECK(has(msg(r), "unit, officer, device or server"));
  }
}

TEST_CASE("trust: utc_iso", "[trust]") {
  CHECK(he::utc_iso(0) == "1970-01-01T00:00:00Z");
  CHECK(he::utc_iso(kT0) == "2026-03-05T01:00:00Z");
  CHECK(he::utc_iso(kT0 + kDay - 1) == "2026-03-06T00:59:59Z");
}

// ============================================================================
// Issuing certificates
// ============================================================================

TEST_CASE("trust: issue_certificate writes every kind as PROTOCOL §5.2 says", "[trust]") {
  const auto& k = keys();
  SECTION("officer") {
    auto it = issue(officer_req());
    CHECK(it.type == "cert");
    CHECK_FALSE(it.cosig.has_value());
    CHECK(hc::verify_sig(it, k.root.public_key()));
    const json& b = it.body;
    CHECK(b["issuer"] == hc::to_hex(k.root.public_key()));
    CHECK(b["kind"] == "officer");
    CHECK(b["name"] == "Nguyễn Văn A");
    CHECK(b["unit"] == kUnit);
    CHECK(b["issued_at"] == kT0);
    CHECK(b["not_after"] == kT0 + 1825 * kDay);
    CHECK(b["pub"] == hc::to_hex(k.officer.public_key()));
    CHECK(b["roles"] == json({"receiver", "specialist"}));  // sorted
    CHECK(b["serial"].get<std::string>().size() == 32);
    CHECK(hc::fixed_from_hex<16>(b["serial"].get<std::string>()).ok());
    CHECK_FALSE(b.contains("slot"));
    CHECK_FALSE(b.contains("parent"));
    auto c = read(it);
    CHECK(c.id == it.id_hex());
    CHECK(c.kind == he::CertKind::officer);
    CHECK(c.name == "Nguyễn Văn A");
    CHECK(c.unit == kUnit);
    CHECK(c.pub == k.officer.public_key());
    CHECK(c.roles == std::vector<std::string>{"receiver", "specialist"});
    CHECK(c.has_role("receiver"));
    CHECK(c.has_role("specialist"));
    CHECK_FALSE(c.has_role("leader"));
    CHECK_FALSE(c.slot.has_value());
    CHECK_FALSE(c.parent.has_value());
    CHECK(c.issued_at == kT0);
    CHECK(c.not_after == kT0 + 1825 * kDay);
    CHECK(c.item.bytes == it.bytes);
  }
  SECTION("duplicate roles are written once") {
    auto r = officer_req();
    r.roles = {"leader", "receiver", "leader"};
    CHECK(issue(r).body["roles"] == json({"leader", "receiver"}));
  }
  SECTION("device") {
    auto c = read(issue(device_req()));
    CHECK(c.kind == he::CertKind::device);
    CHECK(c.slot == 1);
    CHECK(c.roles.empty());
    CHECK(c.pub == k.device.public_key());
    auto r = device_req();
    r.slot = 0;
    CHECK(read(issue(r)).slot == 0);
    r.slot = 9;
    CHECK(read(issue(r)).slot == 9);
  }
  SECTION("server") {
    auto c = read(issue(server_req()));
    CHECK(c.kind == he::CertKind::server);
    CHECK(c.unit == kParent);
    CHECK_FALSE(c.slot.has_value());
  }
  SECTION("unit, with or without a key") {
    auto it = issue(unit_req());
    CHECK_FALSE(it.body.contains("pub"));
    auto c = read(it);
    CHECK(c.kind == he::CertKind::unit);
    CHECK(c.parent == kParent);
    CHECK_FALSE(c.pub.has_value());
    auto r = unit_req();
    r.parent.reset();
    r.pub = k.server.public_key();
    auto top = read(issue(r));
    CHECK(top.pub == k.server.public_key());
    CHECK_FALSE(top.parent.has_value());
  }
  SECTION("days: 1 and 36500 are the bounds") {
    CHECK(read(issue(officer_req(kT0, 1))).not_after == kT0 + kDay);
    CHECK(read(issue(officer_req(kT0, 36500))).not_after == kT0 + 36500 * kDay);
  }
  SECTION("two otherwise identical certificates differ by serial and id") {
    auto a = issue(officer_req()), b = issue(officer_req());
    CHECK(a.body["serial"] != b.body["serial"]);
    CHECK(a.id != b.id);
  }
}

TEST_CASE("trust: issue_certificate refuses each bad combination, naming the flag", "[trust]") {
  struct Case {
    const char* why;
    std::function<void(he::CertRequest&)> edit;
    he::CertRequest (*base)(int64_t);
    const char* says;
  };
  auto officer = [](int64_t t) { return officer_req(t); };
  auto device = [](int64_t t) { return device_req(t); };
  auto server = [](int64_t t) { return server_req(t); };
  auto unit = [](int64_t t) { return unit_req(t); };
  const std::vector<Case> cases = {
      {"empty name", [](auto& r) { r.name = ""; }, officer, "--name"},
      {"empty unit", [](auto& r) { r.unit = ""; }, officer, "--unit"},
      {"unit with a dash", [](auto& r) { r.unit = "000-31"; }, officer, "--unit"},
      {"unit with a space", [](auto& r) { r.unit = "000 31"; }, device, "--unit"},
      {"unit not ASCII", [](auto& r) { r.unit = "Xã"; }, unit, "--unit"},
      {"unit of 33 characters", [](auto& r) { r.unit = std::string(33, '1'); }, server, "--unit"},
      {"days 0", [](auto& r) { r.days = 0; }, officer, "--days"},
      {"days negative", [](auto& r) { r.days = -5; }, device, "--days"},
      {"days 36501", [](auto& r) { r.days = 36501; }, unit, "--days"},
      {"parent on an officer", [](auto& r) { r.parent = kParent; }, officer, "--parent"},
      {"parent on a device", [](auto& r) { r.parent = kParent; }, device, "--parent"},
      {"parent on a server", [](auto& r) { r.parent = kParent; }, server, "--parent"},
      {"parent not a code", [](auto& r) { r.parent = "a-b"; }, unit, "--parent"},
      {"parent empty", [](auto& r) { r.parent = ""; }, unit, "--parent"},
      {"parent is the unit itself", [](auto& r) { r.parent = kUnit; }, unit, "--parent must differ"},
      {"roles on a unit", [](auto& r) { r.roles = {"leader"}; }, unit, "--roles is only for --kind officer"},
      {"roles on a device", [](auto& r) { r.roles = {"receiver"}; }, device, "--roles is only for --kind officer"},
      {"roles on a server", [](auto& r) { r.roles = {"receiver"}; }, server, "--roles is only for --kind officer"},
      {"officer without roles", [](auto& r) { r.roles.clear(); }, officer, "--roles is required"},
      {"role with a capital", [](auto& r) { r.roles = {"Leader"}; }, officer, "--roles"},
      {"role starting with a digit", [](auto& r) { r.roles = {"1st"}; }, officer, "--roles"},
      {"role with a dash", [](auto& r) { r.roles = {"receiver", "vice-leader"}; }, officer, "\"vice-leader\""},
      {"empty role", [](auto& r) { r.roles = {"receiver", ""}; }, officer, "--roles"},
      {"role of 65 characters", [](auto& r) { r.roles = {std::string(65, 'a')}; }, officer, "--roles"},
      {"slot on an officer", [](auto& r) { r.slot = 1; }, officer, "--slot is only for --kind device"},
      {"slot on a unit", [](auto& r) { r.slot = 1; }, unit, "--slot is only for --kind device"},
      {"slot on a server", [](auto& r) { r.slot = 0; }, server, "--slot is only for --kind device"},
      {"device without slot", [](auto& r) { r.slot.reset(); }, device, "--slot is required"},
      {"slot -1", [](auto& r) { r.slot = -1; }, device, "--slot must be between 0 and 9"},
      {"slot 10", [](auto& r) { r.slot = 10; }, device, "--slot must be between 0 and 9"},
      {"officer without pub", [](auto& r) { r.pub.reset(); }, officer, "--pub is required for --kind officer"},
      {"device without pub", [](auto& r) { r.pub.reset(); }, device, "--pub is required for --kind device"},
      {"server without pub", [](auto& r) { r.pub.reset(); }, server, "--pub is required for --kind server"},
  };
  for (const auto& c : cases) {
    he::CertRequest r = c.base(kT0);
    c.edit(r);
    auto it = he::issue_certificate(keys().root, r);
    INFO(c.why << ": " << msg(it));
    CHECK(code(it) == "invalid_argument");
    CHECK(has(msg(it), c.says));
  }
  // the longest role and unit code are fine
  auto r = officer_req();
  r.roles = {std::string(64, 'a'), "a_1"};
  r.unit = std::string(32, '.');
  CHECK(he::issue_certificate(keys().root, r).ok());
}

// ============================================================================
// Reading certificates
// ============================================================================

TEST_CASE("trust: read_certificate refuses other roots, bad signatures and other types", "[trust]") {
  const auto& k = keys();
  auto good = issue(officer_req());

  SECTION("a certificate from another root is unauthorized, naming it") {
    auto foreign = issue(officer_req(), k.other_root);
    auto r = he::read_certificate(foreign, k.root.public_key());
    CHECK(code(r) == "unauthorized");
    CHECK(has(msg(r), "another root"));
    CHECK(has(msg(r), hc::fingerprint(k.other_root.public_key())));
    CHECK(has(msg(r), hc::fingerprint(k.root.public_key())));
    // the other root reads it fine
    CHECK(he::read_certificate(foreign, k.other_root.public_key()).ok());
  }
  SECTION("a bad root signature") {
    // names our root as issuer, signed by another key
    auto forged = resign(good, [](json&) {}, k.other_root);
    auto r = he::read_certificate(forged, k.root.public_key());
    CHECK(code(r) == "bad_signature");
    CHECK(has(msg(r), "bad root signature"));
    // a body changed after signing
    std::string bytes = good.bytes;
    auto at = bytes.find("Nguy");
    REQUIRE(at != std::string::npos);
    bytes[at] = 'X';
    auto parsed = hc::parse_item(bytes);
    REQUIRE(parsed.ok());
    CHECK(code(he::read_certificate(*parsed, k.root.public_key())) == "bad_signature");
    // the signature of another certificate
    auto other = issue(device_req());
    hc::SignedItem swapped = good;
    swapped.sig = other.sig;
    CHECK(code(he::read_certificate(swapped, k.root.public_key())) == "bad_signature");
    // signed under another domain (a revocation's) with the right key
    auto as_rev = resign(good, [](json&) {}, k.root, "revocation");
    hc::SignedItem retyped = as_rev;
    retyped.type = "cert";
    CHECK(code(he::read_certificate(retyped, k.root.public_key())) == "bad_signature");
  }
  SECTION("other item types") {
    auto doc = he::sign_document(k.root, he::kTypeCalendar, json{{"kind", "calendar"}}, kT0);
    REQUIRE(doc.ok());
    CHECK(code(he::read_certificate(*doc, k.root.public_key())) == "bad_format");
    auto as_event = resign(good, [](json&) {}, k.root, "event");
    auto r = he::read_certificate(as_event, k.root.public_key());
    CHECK(code(r) == "bad_format");
    CHECK(has(msg(r), "not a certificate"));
  }
}

TEST_CASE("trust: read_certificate refuses unknown keys and ill-shaped bodies", "[trust]") {
  const auto& k = keys();
  auto officer = issue(officer_req());
  auto device = issue(device_req());
  auto unit = issue(unit_req());
  auto server = issue(server_req());
  // Each body below is signed by the root, so only its shape is wrong.
  struct Case {
    const char* why;
    const hc::SignedItem* base;
    std::function<void(json&)> edit;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"an unknown key", &officer, [](json& b) { b["x_extra"] = 1; }, "unknown key x_extra"},
      {"an unknown key on a unit", &unit, [](json& b) { b["owner"] = "me"; }, "unknown key owner"},
      {"no issuer", &officer, [](json& b) { b.erase("issuer"); }, "missing issuer"},
      {"no kind", &officer, [](json& b) { b.erase("kind"); }, "missing kind"},
      {"no name", &officer, [](json& b) { b.erase("name"); }, "missing name"},
      {"no unit", &device, [](json& b) { b.erase("unit"); }, "missing unit"},
      {"no issued_at", &device, [](json& b) { b.erase("issued_at"); }, "missing issued_at"},
      {"no not_after", &server, [](json& b) { b.erase("not_after"); }, "missing not_after"},
      {"no serial", &unit, [](json& b) { b.erase("serial"); }, "missing serial"},
      {"issuer not hex", &officer, [](json& b) { b["issuer"] = std::string(64, 'x'); }, "issuer"},
      {"issuer in capitals", &officer,
       [&k](json& b) {
         std::string h = hc::to_hex(k.root.public_key());
         std::transform(h.begin(), h.end(), h.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
         b["issuer"] = h;
       },
       "issuer"},
      {"issuer an integer", &officer, [](json& b) { b["issuer"] = 1; }, "issuer"},
      {"unknown kind", &officer, [](json& b) { b["kind"] = "mayor"; }, "unknown certificate kind"},
      {"kind an integer", &officer, [](json& b) { b["kind"] = 1; }, "kind is not a string"},
      {"name an integer", &officer, [](json& b) { b["name"] = 5; }, "name is not a string"},
      {"unit an array", &officer, [](json& b) { b["unit"] = json::array(); }, "unit is not a string"},
      {"issued_at a string", &officer, [](json& b) { b["issued_at"] = "2026-03-05"; }, "issued_at is not an integer"},
      {"not_after null", &officer, [](json& b) { b["not_after"] = nullptr; }, "not_after is not an integer"},
      {"not_after equal to issued_at", &officer, [](json& b) { b["not_after"] = b["issued_at"]; }, "not_after"},
      {"not_after before issued_at", &device, [](json& b) { b["not_after"] = b["issued_at"].get<int64_t>() - 1; }, "not_after"},
      {"pub not hex", &officer, [](json& b) { b["pub"] = "zz"; }, "pub"},
      {"pub too short", &device, [](json& b) { b["pub"] = b["pub"].get<std::string>().substr(2); }, "pub"},
      {"officer without pub", &officer, [](json& b) { b.erase("pub"); }, "missing pub"},
      {"device without pub", &device, [](json& b) { b.erase("pub"); }, "missing pub"},
      {"server without pub", &server, [](json& b) { b.erase("pub"); }, "missing pub"},
      {"roles not an array", &officer, [](json& b) { b["roles"] = "receiver"; }, "roles is not an array"},
      {"roles holding a number", &officer, [](json& b) { b["roles"] = json({"receiver", 3}); }, "non-string"},
      {"officer with empty roles", &officer, [](json& b) { b["roles"] = json::array(); }, "without roles"},
      {"officer without roles", &officer, [](json& b) { b.erase("roles"); }, "without roles"},
      {"device without slot", &device, [](json& b) { b.erase("slot"); }, "without slot"},
      {"slot a string", &device, [](json& b) { b["slot"] = "1"; }, "slot is not an integer"},
      {"parent an integer", &unit, [](json& b) { b["parent"] = 12; }, "parent is not a string"},
      // the writer's rules (PROTOCOL §5.2), checked again by the reader
      {"empty name", &officer, [](json& b) { b["name"] = ""; }, "name"},
      {"unit not a code", &officer, [](json& b) { b["unit"] = "000-31"; }, "unit"},
      {"parent not a code", &unit, [](json& b) { b["parent"] = "a b"; }, "parent"},
      {"parent equal to unit", &unit, [](json& b) { b["parent"] = b["unit"]; }, "parent"},
      {"parent on an officer", &officer, [](json& b) { b["parent"] = kParent; }, "parent"},
      {"roles on a device", &device, [](json& b) { b["roles"] = json({"receiver"}); }, "roles"},
      {"roles on a unit", &unit, [](json& b) { b["roles"] = json({"leader"}); }, "roles"},
      {"a bad role name", &officer, [](json& b) { b["roles"] = json({"Receiver"}); }, "roles"},
      {"roles out of order", &officer, [](json& b) { b["roles"] = json({"specialist", "receiver"}); }, "roles"},
      {"duplicate roles", &officer, [](json& b) { b["roles"] = json({"receiver", "receiver"}); }, "roles"},
      {"slot on an officer", &officer, [](json& b) { b["slot"] = 1; }, "slot"},
      {"slot on a server", &server, [](json& b) { b["slot"] = 1; }, "slot"},
      {"slot 10", &device, [](json& b) { b["slot"] = 10; }, "slot"},
      {"slot -1", &device, [](json& b) { b["slot"] = -1; }, "slot"},
      {"serial an integer", &officer, [](json& b) { b["serial"] = 7; }, "serial"},
      {"serial too short", &officer, [](json& b) { b["serial"] = "00"; }, "serial"},
      {"serial in capitals", &device, [](json& b) { b["serial"] = std::string(32, 'A'); }, "serial"},
  };
  for (const auto& c : cases) {
    auto item = resign(*c.base, c.edit);
    auto r = he::read_certificate(item, k.root.public_key());
    INFO(c.why << ": " << item.body.dump() << " -> " << msg(r));
    CHECK(code(r) == "bad_format");
    CHECK(has(msg(r), c.says));
    he::Trust t(k.root.public_key());
    CHECK(code(t.add(item)) == "bad_format");
    CHECK(t.certificates().empty());
  }
  // the unchanged bodies re-signed read fine: the harness itself is sound
  for (const auto* base : {&officer, &device, &unit, &server}) CHECK(he::read_certificate(resign(*base, [](json&) {}), k.root.public_key()).ok());
}

// ============================================================================
// Revocations and documents
// ============================================================================

TEST_CASE("trust: revocations are issued and read strictly", "[trust]") {
  const auto& k = keys();
  auto cert = read(issue(officer_req()));
  auto it = revoke(cert, kT0 + 10 * kDay, kT0 + 9 * kDay, "Nghỉ việc");
  CHECK(it.type == "revocation");
  auto r = he::read_revocation(it, k.root.public_key());
  REQUIRE(r.ok());
  CHECK(r->cert == cert.id);
  CHECK(r->reason == "Nghỉ việc");
  CHECK(r->effective_at == kT0 + 10 * kDay);
  CHECK(r->issued_at == kT0 + 9 * kDay);
  CHECK(r->id == it.id_hex());
  // effective at the moment of issue (the CLI's default)
  CHECK(he::issue_revocation(k.root, cert, "now", kT0, kT0).ok());

  SECTION("issue refusals") {
    CHECK(code(he::issue_revocation(k.root, cert, "", kT0, kT0)) == "invalid_argument");
    // never retroactive (SPEC §2): not effective before it is issued
    auto back = he::issue_revocation(k.root, cert, "late", kT0 - 1, kT0);
    CHECK(code(back) == "invalid_argument");
    CHECK(has(msg(back), "--effective"));
  }
  SECTION("read refusals") {
    CHECK(code(he::read_revocation(issue(officer_req()), k.root.public_key())) == "bad_format");
    auto foreign = he::issue_revocation(k.other_root, cert, "x", kT0, kT0);
    REQUIRE(foreign.ok());
    auto f = he::read_revocation(*foreign, k.root.public_key());
    CHECK(code(f) == "unauthorized");
    CHECK(has(msg(f), "another root"));
    CHECK(code(he::read_revocation(resign(it, [](json&) {}, k.other_root), k.root.public_key())) == "bad_signature");
    struct Case {
      const char* why;
      std::function<void(json&)> edit;
      const char* says;
    };
    const std::vector<Case> cases = {
        {"unknown key", [](json& b) { b["note"] = "x"; }, "unknown key note"},
        {"no cert", [](json& b) { b.erase("cert"); }, "missing cert"},
        {"no reason", [](json& b) { b.erase("reason"); }, "missing reason"},
        {"no effective_at", [](json& b) { b.erase("effective_at"); }, "missing effective_at"},
        {"no issued_at", [](json& b) { b.erase("issued_at"); }, "missing issued_at"},
        {"no issuer", [](json& b) { b.erase("issuer"); }, "missing issuer"},
        {"cert not an id", [](json& b) { b["cert"] = "abc"; }, "cert"},
        {"cert in capitals", [](json& b) { b["cert"] = std::string(64, 'A'); }, "cert"},
        {"cert an integer", [](json& b) { b["cert"] = 1; }, "cert is not a string"},
        {"reason an object", [](json& b) { b["reason"] = json::object(); }, "reason is not a string"},
        {"effective_at a string", [](json& b) { b["effective_at"] = "now"; }, "effective_at is not an integer"},
        {"issued_at a bool", [](json& b) { b["issued_at"] = true; }, "issued_at is not an integer"},
    };
    for (const auto& c : cases) {
      auto bad = resign(it, c.edit);
      auto rr = he::read_revocation(bad, k.root.public_key());
      INFO(c.why << ": " << msg(rr));
      CHECK(code(rr) == "bad_format");
      CHECK(has(msg(rr), c.says));
      he::Trust t(k.root.public_key());
      CHECK_FALSE(t.add(bad).ok());
      CHECK(t.revocations().empty());
    }
  }
}

TEST_CASE("trust: signed procedures and calendars", "[trust]") {
  const auto& k = keys();
  json cal = {{"kind", "calendar"}, {"year", 2026}};
  auto it = he::sign_document(k.root, he::kTypeCalendar, cal, kT0);
  REQUIRE(it.ok());
  CHECK(it->type == "calendar");
  CHECK(it->body["signed_at"] == kT0);
  auto d = he::read_document(*it, k.root.public_key());
  REQUIRE(d.ok());
  CHECK(d->document == cal);
  CHECK(d->signed_at == kT0);
  json proc = {{"kind", "procedure"}, {"code", "1.001193"}};
  auto p = he::sign_document(k.root, he::kTypeProcedure, proc, kT0);
  REQUIRE(p.ok());
  CHECK(he::read_document(*p, k.root.public_key()).ok());

  CHECK(code(he::read_document(issue(officer_req()), k.root.public_key())) == "bad_format");
  auto foreign = he::sign_document(k.other_root, he::kTypeCalendar, cal, kT0);
  REQUIRE(foreign.ok());
  auto f = he::read_document(*foreign, k.root.public_key());
  CHECK(code(f) == "unauthorized");
  CHECK(has(msg(f), "another root"));
  CHECK(code(he::read_document(resign(*it, [](json&) {}, k.other_root), k.root.public_key())) == "bad_signature");
  struct Case {
    const char* why;
    std::function<void(json&)> edit;
  };
  const std::vector<Case> cases = {
      {"unknown key", [](json& b) { b["x"] = 1; }},
      {"no document", [](json& b) { b.erase("document"); }},
      {"no signed_at", [](json& b) { b.erase("signed_at"); }},
      {"document an array", [](json& b) { b["document"] = json::array(); }},
      {"signed_at a string", [](json& b) { b["signed_at"] = "today"; }},
      {"document of another kind", [](json& b) { b["document"]["kind"] = "procedure"; }},
      {"document without kind", [](json& b) { b["document"].erase("kind"); }},
  };
  for (const auto& c : cases) {
    auto r = he::read_document(resign(*it, c.edit), k.root.public_key());
    INFO(c.why << ": " << msg(r));
    CHECK(code(r) == "bad_format");
  }
}

TEST_CASE("trust: root-signed items carry no countersignature", "[trust]") {
  // With one, the same content would get a new id and escape a revocation
  // that names the old one (PROTOCOL §4.4).
  const auto& k = keys();
  auto rewrap = [&k](const hc::SignedItem& item) {
    auto env = hc::parse_canonical(item.bytes);
    REQUIRE(env.ok());
    (*env)["cosig"] = hc::to_hex(item.sig);
    auto bytes = hc::canonical_json(*env);
    REQUIRE(bytes.ok());
    auto again = hc::parse_item(*bytes);
    REQUIRE(again.ok());
    CHECK(again->id != item.id);
    CHECK(hc::verify_sig(*again, k.root.public_key()));
    return *again;
  };
  auto cert_item = issue(officer_req());
  auto cert = he::read_certificate(rewrap(cert_item), k.root.public_key());
  CHECK(code(cert) == "bad_format");
  CHECK(has(msg(cert), "countersignature"));
  auto rev = revoke(read(cert_item), kT0, kT0);
  CHECK(code(he::read_revocation(rewrap(rev), k.root.public_key())) == "bad_format");
  auto doc = he::sign_document(k.root, he::kTypeCalendar, json{{"kind", "calendar"}}, kT0);
  REQUIRE(doc.ok());
  CHECK(code(he::read_document(rewrap(*doc), k.root.public_key())) == "bad_format");
  // a cosigner at signing time is refused the same way
  auto cosigned = hc::sign_item(he::kTypeCert, cert_item.body, k.root, &k.device);
  REQUIRE(cosigned.ok());
  CHECK(code(he::read_certificate(*cosigned, k.root.public_key())) == "bad_format");
  he::Trust t(k.root.public_key());
  REQUIRE(t.add(cert_item).ok());
  REQUIRE(t.add(rev).ok());
  CHECK_FALSE(t.add(rewrap(cert_item)).ok());
  CHECK_FALSE(t.add(rewrap(rev)).ok());
  CHECK(t.certificates().size() == 1);
  CHECK(code(t.authorize(officer_act(rewrap(cert_item).id_hex(), kT0 + 1))) == "not_found");
}

// ============================================================================
// Files of items
// ============================================================================

TEST_CASE("trust: read_items splits a file of envelopes", "[trust]") {
  auto a = issue(unit_req()), b = issue(officer_req()), c = issue(device_req());
  auto ids = [](const std::vector<hc::SignedItem>& v) {
    std::vector<std::string> out;
    for (const auto& i : v) out.push_back(i.id_hex());
    return out;
  };
  const std::vector<std::string> want = {a.id_hex(), b.id_hex(), c.id_hex()};

  SECTION("one per line, with or without a final newline") {
    auto r = he::read_items(a.bytes + "\n" + b.bytes + "\n" + c.bytes + "\n");
    REQUIRE(r.ok());
    CHECK(ids(*r) == want);
    auto r2 = he::read_items(a.bytes + "\n" + b.bytes + "\n" + c.bytes);
    REQUIRE(r2.ok());
    CHECK(ids(*r2) == want);
  }
  SECTION("blank lines and CRLF") {
    auto r = he::read_items("\n\n" + a.bytes + "\r\n  \n\t\r\n" + b.bytes + "\r\n\r\n" + c.bytes + "\r\n \t \n");
    INFO(msg(r));
    REQUIRE(r.ok());
    CHECK(ids(*r) == want);
    CHECK((*r)[0].bytes == a.bytes);  // the line ending is not part of the item
  }
  SECTION("a bad line names its number") {
    auto r = he::read_items(a.bytes + "\n\n" + b.bytes + "\n{\"not\":\"an item\"}\n" + c.bytes + "\n");
    CHECK(code(r) == "bad_format");
    CHECK(msg(r).rfind("line 4: ", 0) == 0);
    // a line with surrounding spaces is not an envelope
    auto sp = he::read_items(a.bytes + "\n " + b.bytes + "\n");
    CHECK(code(sp) == "bad_format");
    CHECK(has(msg(sp), "line 2"));
    auto trailing = he::read_items(a.bytes + " \n");
    CHECK(has(msg(trailing), "line 1"));
    // a flipped byte in the third line
    std::string bad = c.bytes;
    bad[bad.size() - 2] = '2';  // "v":2
    auto v = he::read_items(a.bytes + "\r\n" + b.bytes + "\r\n" + bad + "\r\n");
    CHECK(code(v) == "bad_format");
    CHECK(has(msg(v), "line 3"));
    CHECK(has(msg(v), "version 2"));
    // a CR alone is not a line break
    auto cr = he::read_items(a.bytes + "\r" + b.bytes + "\n");
    CHECK(has(msg(cr), "line 1"));
    // two CRs: only one is removed
    auto crcr = he::read_items(a.bytes + "\r\r\n");
    CHECK(has(msg(crcr), "line 1"));
  }
  SECTION("no items at all") {
    for (const std::string text : {"", "\n", "\r\n", "  \n\t\n", "\n\n\n"}) {
      auto r = he::read_items(text);
      CHECK(code(r) == "bad_format");
      CHECK(has(msg(r), "no signed items"));
    }
  }
}

// ============================================================================
// The Trust store and authorisation
// ============================================================================

TEST_CASE("trust: Trust::add keeps certificates and revocations", "[trust]") {
  const auto& k = keys();
  he::Trust t(k.root.public_key());
  CHECK(t.root() == k.root.public_key());
  auto cert_item = issue(officer_req());
  REQUIRE(t.add(cert_item).ok());
  REQUIRE(t.add(cert_item).ok());  // twice: a no-op
  CHECK(t.certificates().size() == 1);
  const he::Certificate* c = t.certificate(cert_item.id_hex());
  REQUIRE(c != nullptr);
  CHECK(c->name == "Nguyễn Văn A");
  CHECK(t.certificate(std::string(64, '0')) == nullptr);
  CHECK(t.revocation(c->id) == nullptr);

  auto rev = revoke(*c, kT0 + kDay, kT0 + kDay);
  REQUIRE(t.add(rev).ok());
  REQUIRE(t.add(rev).ok());
  CHECK(t.revocations().size() == 1);
  REQUIRE(t.revocation(c->id) != nullptr);
  CHECK(t.revocation(c->id)->id == rev.id_hex());

  SECTION("refused items change nothing") {
    auto foreign = issue(officer_req(), k.other_root);
    auto r = t.add(foreign);
    CHECK(code(r) == "unauthorized");
    CHECK(has(msg(r), "another root"));
    CHECK(t.certificate(foreign.id_hex()) == nullptr);
    auto forged = resign(cert_item, [](json& b) { b["name"] = "Kẻ giả mạo"; }, k.other_root);
    CHECK(code(t.add(forged)) == "bad_signature");
    CHECK(t.certificate(forged.id_hex()) == nullptr);
    auto doc = he::sign_document(k.root, he::kTypeProcedure, json{{"kind", "procedure"}}, kT0);
    REQUIRE(doc.ok());
    CHECK(code(t.add(*doc)) == "bad_format");
    CHECK(t.certificates().size() == 1);
    CHECK(t.revocations().size() == 1);
  }
  SECTION("units: the newest certificate of a code") {
    CHECK(t.unit(kUnit) == nullptr);
    auto old_unit = issue(unit_req(kT0));
    auto new_unit = issue(unit_req(kT0 + kDay));
    REQUIRE(t.add(new_unit).ok());
    REQUIRE(t.add(old_unit).ok());  // arriving later does not make it current
    REQUIRE(t.unit(kUnit) != nullptr);
    CHECK(t.unit(kUnit)->id == new_unit.id_hex());
    CHECK(t.unit(kParent) == nullptr);
  }
  SECTION("units: equally new certificates of a code are chosen alike in every store") {
    auto r1 = unit_req(kT0 + kDay), r2 = unit_req(kT0 + kDay);
    r2.parent = "000.00.01.H12";  // the two disagree on the parent
    auto u1 = issue(r1), u2 = issue(r2);
    const std::string want = std::min(u1.id_hex(), u2.id_hex());
    for (bool first : {true, false}) {
      he::Trust s(k.root.public_key());
      REQUIRE(s.add(first ? u1 : u2).ok());
      REQUIRE(s.add(first ? u2 : u1).ok());
      REQUIRE(s.unit(kUnit) != nullptr);
      INFO((first ? "u1 first" : "u2 first"));
      CHECK(s.unit(kUnit)->id == want);
    }
  }
  SECTION("find_by_key prefers a certificate valid at the time, then the newest") {
    // the newer certificate must sort first by id, so that the search meets it first
    auto later = issue(officer_req(kT0 + 100 * kDay, 10));
    while (later.id_hex() > cert_item.id_hex()) later = issue(officer_req(kT0 + 100 * kDay, 10));
    REQUIRE(t.add(later).ok());
    const auto& pk = k.officer.public_key();
    REQUIRE(t.find_by_key(pk, he::CertKind::officer, kT0 + 1) != nullptr);
    CHECK(t.find_by_key(pk, he::CertKind::officer, kT0 + 1)->id == cert_item.id_hex());
    CHECK(t.find_by_key(pk, he::CertKind::officer, kT0 + 101 * kDay)->id == later.id_hex());
    CHECK(t.find_by_key(pk, he::CertKind::officer, kT0 - 1)->id == later.id_hex());  // none valid: newest
    CHECK(t.find_by_key(pk, he::CertKind::device, kT0 + 1) == nullptr);
    CHECK(t.find_by_key(k.device.public_key(), he::CertKind::officer, kT0 + 1) == nullptr);
  }
}

TEST_CASE("trust: authorize — validity window", "[trust]") {
  const auto& k = keys();
  he::Trust t(k.root.public_key());
  auto item = issue(officer_req(kT0, 30));
  REQUIRE(t.add(item).ok());
  const std::string id = item.id_hex();
  const int64_t end = kT0 + 30 * kDay;

  CHECK(t.authorize(officer_act(id, kT0)).ok());
  CHECK(t.authorize(officer_act(id, end - 1)).ok());

  auto early = t.authorize(officer_act(id, kT0 - 1));
  CHECK(code(early) == "expired");
  CHECK(has(msg(early), "not yet valid"));
  CHECK(has(msg(early), "Nguyễn Văn A"));
  auto late = t.authorize(officer_act(id, end));
  CHECK(code(late) == "expired");
  CHECK(has(msg(late), "expired at " + he::utc_iso(end)));
  CHECK(code(t.authorize(officer_act(id, end + 365 * kDay))) == "expired");
  // judged at the act's time, not its arrival
  CHECK(t.authorize(officer_act(id, end - 1, std::string("receiver"), kUnit, end + 100 * kDay)).ok());
  // the validity check comes before the role and unit checks
  CHECK(code(t.authorize(officer_act(id, end, std::string("leader"), std::string("other")))) == "expired");
}

TEST_CASE("trust: authorize — kind, role and unit", "[trust]") {
  const auto& k = keys();
  he::Trust t(k.root.public_key());
  auto off = issue(officer_req());
  auto dev = issue(device_req());
  REQUIRE(t.add(off).ok());
  REQUIRE(t.add(dev).ok());
  const int64_t at = kT0 + kDay;

  SECTION("unknown certificate") {
    auto r = t.authorize(officer_act(std::string(64, 'f'), at));
    CHECK(code(r) == "not_found");
    CHECK(has(msg(r), "ffffffffffffffff"));
    CHECK(code(t.authorize(officer_act("", at))) == "not_found");
  }
  SECTION("wrong kind") {
    auto r = t.authorize(officer_act(dev.id_hex(), at, std::nullopt, std::nullopt));
    CHECK(code(r) == "unauthorized");
    CHECK(has(msg(r), "officer certificate"));
    he::Act as_device{off.id_hex(), he::CertKind::device, std::nullopt, kUnit, at, std::nullopt};
    auto r2 = t.authorize(as_device);
    CHECK(code(r2) == "unauthorized");
    CHECK(has(msg(r2), "not a device certificate"));
    he::Act ok_device{dev.id_hex(), he::CertKind::device, std::nullopt, kUnit, at, std::nullopt};
    CHECK(t.authorize(ok_device).ok());
  }
  SECTION("a role not in the certificate") {
    CHECK(t.authorize(officer_act(off.id_hex(), at, std::string("receiver"))).ok());
    CHECK(t.authorize(officer_act(off.id_hex(), at, std::string("specialist"))).ok());
    auto r = t.authorize(officer_act(off.id_hex(), at, std::string("leader")));
    CHECK(code(r) == "unauthorized");
    CHECK(has(msg(r), "lacks the role \"leader\""));
    CHECK(code(t.authorize(officer_act(off.id_hex(), at, std::string("Receiver")))) == "unauthorized");
    CHECK(code(t.authorize(officer_act(off.id_hex(), at, std::string("")))) == "unauthorized");
    CHECK(t.authorize(officer_act(off.id_hex(), at, std::nullopt)).ok());  // no role needed
  }
  SECTION("a unit not in the certificate") {
    auto r = t.authorize(officer_act(off.id_hex(), at, std::string("receiver"), kParent));
    CHECK(code(r) == "unauthorized");
    CHECK(has(msg(r), "belongs to unit " + kUnit + ", not " + kParent));
    CHECK(t.authorize(officer_act(off.id_hex(), at, std::string("receiver"), std::nullopt)).ok());
    he::Act dev_other{dev.id_hex(), he::CertKind::device, std::nullopt, kParent, at, std::nullopt};
    CHECK(code(t.authorize(dev_other)) == "unauthorized");
    // the unit is checked before the role
    auto both = t.authorize(officer_act(off.id_hex(), at, std::string("leader"), kParent));
    CHECK(has(msg(both), "belongs to unit"));
  }
}

TEST_CASE("trust: authorize — revocation, effective time and the 7-day grace", "[trust]") {
  const auto& k = keys();
  auto item = issue(officer_req());
  auto cert = read(item);
  const std::string id = item.id_hex();
  const int64_t E = kT0 + 10 * kDay;
  auto rev = revoke(cert, E, kT0 + 9 * kDay, "Mất máy");
  he::Trust t(k.root.public_key());
  REQUIRE(t.add(item).ok());
  REQUIRE(t.add(rev).ok());

  SECTION("before the effective time it counts; from it on it does not") {
    CHECK(t.authorize(officer_act(id, E - 1)).ok());
    CHECK(t.authorize(officer_act(id, kT0)).ok());
    auto at_e = t.authorize(officer_act(id, E));
    CHECK(code(at_e) == "revoked");
    CHECK(has(msg(at_e), "revoked from " + he::utc_iso(E)));
    CHECK(has(msg(at_e), "Mất máy"));
    CHECK(code(t.authorize(officer_act(id, E + 1))) == "revoked");
    CHECK(code(t.authorize(officer_act(id, E + 100 * kDay))) == "revoked");
  }
  SECTION("an earlier act arriving within the grace counts; after it, not") {
    CHECK(t.authorize(officer_act(id, E - 1, std::string("receiver"), kUnit, E - 1)).ok());
    CHECK(t.authorize(officer_act(id, E - 1, std::string("receiver"), kUnit, E + 3 * kDay)).ok());
    CHECK(t.authorize(officer_act(id, E - 1, std::string("receiver"), kUnit, E + kGrace)).ok());  // exactly 7 days
    auto late = t.authorize(officer_act(id, E - 1, std::string("receiver"), kUnit, E + kGrace + 1));
    CHECK(code(late) == "revoked");
    CHECK(has(msg(late), "more than 7 days"));
    CHECK(code(t.authorize(officer_act(id, kT0, std::string("receiver"), kUnit, E + 30 * kDay))) == "revoked");
    // an act at or after E is revoked however soon it arrives
    CHECK(code(t.authorize(officer_act(id, E, std::string("receiver"), kUnit, E))) == "revoked");
  }
  SECTION("revocation comes before the role and unit checks") {
    auto r = t.authorize(officer_act(id, E, std::string("leader"), kParent));
    CHECK(code(r) == "revoked");
  }
  SECTION("another certificate of the same key is not revoked") {
    auto again = issue(officer_req());
    REQUIRE(t.add(again).ok());
    CHECK(t.authorize(officer_act(again.id_hex(), E + kDay)).ok());
  }
}

TEST_CASE("trust: a revocation may arrive before its certificate", "[trust]") {
  const auto& k = keys();
  auto item = issue(device_req());
  auto cert = read(item);
  const int64_t E = kT0 + 5 * kDay;
  auto rev = revoke(cert, E, kT0 + kDay);
  he::Trust t(k.root.public_key());
  REQUIRE(t.add(rev).ok());
  CHECK(t.certificates().empty());
  he::Act act{item.id_hex(), he::CertKind::device, std::nullopt, kUnit, E + 1, std::nullopt};
  CHECK(code(t.authorize(act)) == "not_found");
  REQUIRE(t.revocation(item.id_hex()) != nullptr);
  REQUIRE(t.add(item).ok());
  CHECK(code(t.authorize(act)) == "revoked");
  act.at = E - 1;
  CHECK(t.authorize(act).ok());
  act.arrived_at = E + kGrace + 1;
  CHECK(code(t.authorize(act)) == "revoked");
}

TEST_CASE("trust: of two revocations the earliest effective one wins", "[trust]") {
  const auto& k = keys();
  auto item = issue(officer_req());
  auto cert = read(item);
  const int64_t E1 = kT0 + 10 * kDay, E2 = kT0 + 20 * kDay;
  auto early = revoke(cert, E1, kT0 + 9 * kDay, "sớm");
  auto late = revoke(cert, E2, kT0 + 8 * kDay, "muộn");
  for (bool early_first : {true, false}) {
    INFO((early_first ? "early added first" : "late added first"));
    he::Trust t(k.root.public_key());
    REQUIRE(t.add(item).ok());
    REQUIRE(t.add(early_first ? early : late).ok());
    REQUIRE(t.add(early_first ? late : early).ok());
    CHECK(t.revocations().size() == 2);
    REQUIRE(t.revocation(item.id_hex()) != nullptr);
    CHECK(t.revocation(item.id_hex())->id == early.id_hex());
    CHECK(t.revocation(item.id_hex())->reason == "sớm");
    CHECK(t.authorize(officer_act(item.id_hex(), E1 - 1)).ok());
    auto between = t.authorize(officer_act(item.id_hex(), E1 + kDay));
    CHECK(code(between) == "revoked");
    CHECK(has(msg(between), "sớm"));
    // the grace counts from the earliest effective time
    CHECK(code(t.authorize(officer_act(item.id_hex(), E1 - 1, std::string("receiver"), kUnit, E1 + kGrace + 1))) ==
          "revoked");
    CHECK(t.authorize(officer_act(item.id_hex(), E1 - 1, std::string("receiver"), kUnit, E1 + kGrace)).ok());
  }
}

TEST_CASE("trust: certificates of another root are never authorised", "[trust]") {
  const auto& k = keys();
  auto foreign = issue(officer_req(), k.other_root);
  he::Trust t(k.root.public_key());
  auto added = t.add(foreign);
  CHECK(code(added) == "unauthorized");
  CHECK(has(msg(added), "issued by another root"));
  CHECK(code(t.authorize(officer_act(foreign.id_hex(), kT0 + 1))) == "not_found");
  // nor are revocations of another root accepted against ours
  auto ours = issue(officer_req());
  REQUIRE(t.add(ours).ok());
  auto their_rev = he::issue_revocation(k.other_root, read(ours), "x", kT0, kT0);
  REQUIRE(their_rev.ok());
  CHECK(code(t.add(*their_rev)) == "unauthorized");
  CHECK(t.authorize(officer_act(ours.id_hex(), kT0 + 1)).ok());
}
