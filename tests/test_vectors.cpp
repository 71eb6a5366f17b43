// Test vectors of docs/PROTOCOL.md: fixed seeds and times -> exact bytes,
// hashes and signatures, stored in tests/vectors/.
//
// Every vector is checked both ways:
//   1. the code recomputes it from the fixed inputs and must produce the
//      stored bytes, byte for byte;
//   2. the stored bytes are checked on their own, as a third-party verifier
//      would: ids re-hashed with BLAKE2b-256, signatures verified with the
//      stored public keys over the stored messages (through crypto::verify
//      and through libsodium directly), the key file opened with the stored
//      passphrase.
//
// Regenerate after a deliberate protocol change (and say so in
// docs/PROTOCOL.md) with:  HOSO_REGEN_VECTORS=1 hoso_tests "[vectors]"
// which writes the files instead of comparing them.
#include <catch2/catch.hpp>

#include <sodium.h>
#include <zstd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/file.hpp"
#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/crypto/sodium.hpp"
#include "hoso/engine/calendar.hpp"
#include "hoso/engine/procedure.hpp"
#include "hoso/engine/trust.hpp"
#include "hoso/sync/frame.hpp"

namespace hc = hoso::crypto;
namespace he = hoso::engine;
namespace hs = hoso::sync;
using ojson = nlohmann::ordered_json;
using nlohmann::json;

namespace {

// ---- Fixed inputs (docs/PROTOCOL.md §11) ----------------------------------

// 2026-03-05T01:00:00Z (08:00 at +07:00).
constexpr int64_t kT0 = 1772672400;
constexpr int64_t kDay = 86400;

hc::Bytes seed_from(uint8_t first) {
  hc::Bytes s(32);
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(first + i);
  return s;
}
// Root 0x01..0x20, officer 0x21..0x40, device 0x41..0x60.
const hc::Bytes kRootSeed = seed_from(0x01);
const hc::Bytes kOfficerSeed = seed_from(0x21);
const hc::Bytes kDeviceSeed = seed_from(0x41);

const char* const kUnitCode = "000.00.31.H12";
const char* const kParentCode = "000.00.00.H12";
const char* const kKeyFilePassphrase = "mật khẩu thử nghiệm";

// The deterministic random source of the vectors: bytes start, start+1, ...
// (mod 256), continuing across calls, until the guard is destroyed.
class DeterministicRandom {
 public:
  explicit DeterministicRandom(uint8_t start) : next_(start) {
    hc::set_random_source([this](uint8_t* p, size_t n) {
      for (size_t i = 0; i < n; ++i) p[i] = next_++;
    });
  }
  ~DeterministicRandom() { hc::set_random_source(nullptr); }
  DeterministicRandom(const DeterministicRandom&) = delete;
  DeterministicRandom& operator=(const DeterministicRandom&) = delete;

 private:
  uint8_t next_;
};

bool regenerating() {
  const char* e = std::getenv("HOSO_REGEN_VECTORS");
  return e && std::string(e) == "1";
}

std::string vector_path(const std::string& name) { return std::string(HOSO_VECTORS_DIR) + "/" + name; }

std::string hex(std::string_view s) { return hc::to_hex(hc::as_bytes(s)); }

std::string unhex(const std::string& h) {
  auto b = hc::from_hex(h);
  REQUIRE(b.ok());
  return std::string(b->begin(), b->end());
}

template <size_t N>
std::array<uint8_t, N> unhex_fixed(const std::string& h) {
  auto b = hc::fixed_from_hex<N>(h);
  REQUIRE(b.ok());
  return *b;
}

// In regeneration mode writes `text` to the vector file and returns it;
// otherwise returns the stored file's contents.
std::string stored_text(const std::string& name, const std::string& text) {
  std::string path = vector_path(name);
  if (regenerating()) {
    hc::Status st = hc::write_file_atomic(path, text);
    INFO(path);
    REQUIRE(st.ok());
    WARN("regenerated " << path);
    return text;
  }
  auto f = hc::read_file(path);
  INFO(path << " (regenerate with HOSO_REGEN_VECTORS=1)");
  REQUIRE(f.ok());
  return *f;
}

std::string dump(const ojson& j) { return j.dump(2, ' ', false) + "\n"; }

// Stores or loads a JSON vector file, and checks the stored text equals what
// the code computes now, entry by entry first for a readable failure.
ojson stored_json(const std::string& name, const ojson& computed, const char* list_key = nullptr) {
  std::string text = stored_text(name, dump(computed));
  ojson stored = ojson::parse(text);
  if (list_key) {
    const auto& a = computed[list_key];
    const auto& b = stored[list_key];
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      INFO(name << ": " << list_key << "[" << i << "] " << a[i].value("name", ""));
      CHECK(a[i].dump(2) == b[i].dump(2));
    }
  }
  INFO(name << " differs from what the code computes (regenerate with HOSO_REGEN_VECTORS=1 only for a deliberate change)");
  CHECK(dump(computed) == text);
  return stored;
}

hc::SigningKey key(const hc::Bytes& seed) { return hc::SigningKey::from_seed(hc::ByteView(seed.data(), seed.size())); }

// Ed25519 verification straight through libsodium over domain || 0x00 || msg,
// built here by hand rather than by crypto::signing_input.
bool raw_verify(const std::string& pub_hex, const std::string& domain, const std::string& msg, const std::string& sig_hex) {
  std::string input = domain + std::string(1, '\0') + msg;
  auto pk = unhex_fixed<32>(pub_hex);
  auto sig = unhex_fixed<64>(sig_hex);
  return crypto_sign_verify_detached(sig.data(), reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                                     pk.data()) == 0;
}

std::string raw_blake2b256_hex(const std::string& data) {
  unsigned char h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(data.data()), data.size(), nullptr, 0);
  return hc::to_hex(hc::ByteView(h, sizeof h));
}

// ---- §2 canonical JSON --------------------------------------------------

struct CanonCase {
  const char* name;
  std::string input;  // JSON as people write it
};

std::vector<CanonCase> canon_cases() {
  std::string deep32;
  for (int i = 0; i < 32; ++i) deep32 += "[";
  for (int i = 0; i < 32; ++i) deep32 += "]";
  return {
      {"empty object", "{}"},
      {"empty array", "[ ]"},
      {"null", "null"},
      {"booleans", "[true, false]"},
      {"key order is by bytes", R"({"b": 1, "a": 2, "aa": 3, "B": 4, "_": 5, "a_b": 6, "": 7})"},
      {"nested objects are sorted at every level, arrays keep their order",
       R"({"z": {"y": [3, 1, {"b": null, "a": true}], "x": false}, "a": []})"},
      {"integers at the limits", "[9007199254740991, -9007199254740991, 0, -1, 1]"},
      {"minus zero is the integer 0", "-0"},
      {"quotes and backslash are escaped, slash is not", R"("\"quoted\" \\ back\/slash /")"},
      {"short escapes", R"("\b\t\n\f\r")"},
      {"other control characters are \\u00xx in lower case, DEL is raw",
       R"("\u0000\u0001\u000b\u000E\u001F\u007f")"},
      {"Vietnamese text is raw UTF-8", R"("Nguyễn Thị Lan — Đăng ký khai sinh, Ủy ban nhân dân xã")"},
      {"escaped non-ASCII becomes raw UTF-8", R"("\u0110\u01b0\u1edd\u006e\u0067")"},
      {"non-BMP character from a surrogate pair", R"("\ud83d\udcc4 h\u1ed3 s\u01a1")"},
      {"U+2028 and U+2029 stay raw", R"("a\u2028b\u2029c")"},
      {"keys with characters that need escaping", R"({"a\"b": 1, "a\\b": 2, "a b": 3})"},
      {"a document as people write it",
       "{\n  \"kind\": \"calendar\",\n  \"year\": 2026,\n  \"office_hours\": [[\"07:00\", \"11:30\"], [\"13:30\", \"17:00\"]],\n"
       "  \"weekend\": [\"sat\", \"sun\"]\n}\n"},
      {"32 levels of nesting (the limit)", deep32},
  };
}

struct RejectCase {
  const char* name;
  std::string bytes;
};

std::vector<RejectCase> reject_cases() {
  std::string deep33;
  for (int i = 0; i < 33; ++i) deep33 += "[";
  for (int i = 0; i < 33; ++i) deep33 += "]";
  return {
      {"space after a colon", R"({"a": 1})"},
      {"space between tokens", "[1, 2]"},
      {"keys out of order", R"({"b":1,"a":2})"},
      {"duplicate key", R"({"a":1,"a":1})"},
      {"trailing newline", "{}\n"},
      {"leading byte order mark", "\xEF\xBB\xBF{}"},
      {"needless escape of a printable ASCII character", R"("\u0041")"},
      {"escaped slash", R"("\/")"},
      {"upper-case hex in an escape", R"("\u001F")"},
      {"escaped non-ASCII character", R"("\u00e9")"},
      {"short escape spelled long", R"("\u000a")"},
      {"float", "1.0"},
      {"exponent", "1e2"},
      {"minus zero", "-0"},
      {"leading zero", "01"},
      {"integer above 2^53-1", "9007199254740992"},
      {"integer below -(2^53-1)", "-9007199254740992"},
      {"non-ASCII key", "{\"\xC3\xA9\":1}"},
      {"control character in a key", R"({"\u0001":1})"},
      {"raw control character in a string", "\"a\tb\""},
      {"invalid UTF-8 (C3 28)", "\"\xC3\x28\""},
      {"overlong UTF-8 (C0 AF)", "\"\xC0\xAF\""},
      {"UTF-8 encoded surrogate (ED A0 80)", "\"\xED\xA0\x80\""},
      {"code point above U+10FFFF (F4 90 80 80)", "\"\xF4\x90\x80\x80\""},
      {"lone surrogate escape", R"("\ud800")"},
      {"33 levels of nesting", deep33},
      {"true spelled in upper case", "TRUE"},
  };
}

// ---- §5 trust items -----------------------------------------------------

const char* const kProcedureDoc = R"JSON({
  "kind": "procedure", "code": "1.001193", "version": 1, "name": "Đăng ký khai sinh",
  "total_working_days": 3, "start": "receive",
  "fields": [{"name": "cccd", "label": "Số CCCD", "type": "text", "required": true}],
  "steps": {
    "receive": {"role": "receiver", "hours": 4, "actions": {"accept": "review", "request_supplement": "receive", "reject": "@rejected"}},
    "review": {"role": "specialist", "hours": 8, "actions": {"approve": "sign", "send_back": "receive", "forward": "province_review"}},
    "province_review": {"role": "specialist", "unit": "parent", "hours": 16, "actions": {"approve": "sign", "send_back": "review"}},
    "sign": {"role": "leader", "hours": 4, "actions": {"approve": "deliver", "send_back": "review"}},
    "deliver": {"role": "receiver", "actions": {"deliver": "@done"}} } })JSON";

const char* const kCalendarDoc = R"JSON({
  "kind": "calendar", "year": 2026, "utc_offset": "+07:00",
  "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
  "weekend": ["sat", "sun"], "holidays": ["2026-01-01", "2026-02-16"],
  "working_days": ["2026-01-03"] })JSON";

struct ItemVector {
  std::string name, signer, cosigner;
  hc::SignedItem item;
};

// Builds every signed item of the vectors from the fixed inputs.
std::vector<ItemVector> build_items() {
  auto root = key(kRootSeed), officer = key(kOfficerSeed), device = key(kDeviceSeed);
  std::vector<ItemVector> out;
  auto cert = [&](const char* name, uint8_t serial_start, he::CertRequest req) {
    DeterministicRandom rng(serial_start);
    auto it = he::issue_certificate(root, req);
    REQUIRE(it.ok());
    out.push_back({name, "root", "", std::move(*it)});
  };

  he::CertRequest unit;
  unit.kind = he::CertKind::unit;
  unit.name = "UBND xã Tân Phú";
  unit.unit = kUnitCode;
  unit.parent = kParentCode;
  unit.issued_at = kT0;
  cert("unit_certificate", 0xa0, unit);

  he::CertRequest off;
  off.kind = he::CertKind::officer;
  off.name = "Nguyễn Thị Lan";
  off.unit = kUnitCode;
  off.pub = officer.public_key();
  off.roles = {"specialist", "receiver", "receiver"};  // stored sorted and unique
  off.issued_at = kT0;
  cert("officer_certificate", 0xb0, off);

  he::CertRequest dev;
  dev.kind = he::CertKind::device;
  dev.name = "Máy tính một cửa số 1";
  dev.unit = kUnitCode;
  dev.pub = device.public_key();
  dev.slot = 1;
  dev.issued_at = kT0;
  dev.days = 365;
  cert("device_certificate", 0xc0, dev);

  auto device_cert = he::read_certificate(out.back().item, root.public_key());
  REQUIRE(device_cert.ok());
  auto rev = he::issue_revocation(root, *device_cert, "Máy bị mất", kT0 + 10 * kDay + 3600, kT0 + 10 * kDay);
  REQUIRE(rev.ok());
  out.push_back({"revocation", "root", "", std::move(*rev)});

  auto proc = hc::parse_json_strict(kProcedureDoc);
  REQUIRE(proc.ok());
  REQUIRE(he::parse_procedure(*proc).ok());
  auto sp = he::sign_document(root, he::kTypeProcedure, *proc, kT0 + 60);
  REQUIRE(sp.ok());
  out.push_back({"procedure", "root", "", std::move(*sp)});

  auto cal = hc::parse_json_strict(kCalendarDoc);
  REQUIRE(cal.ok());
  REQUIRE(he::parse_calendar(*cal).ok());
  auto sc = he::sign_document(root, he::kTypeCalendar, *cal, kT0 + 120);
  REQUIRE(sc.ok());
  out.push_back({"calendar", "root", "", std::move(*sc)});

  // A generic countersigned item: the officer signs, the device countersigns
  // (the shape every event has; events themselves are in §9).
  json body{{"note", "Hồ sơ đã tiếp nhận \"đủ\"\n"}, {"n", 1}, {"at", kT0 + 300}};
  auto co = hc::sign_item("example", body, officer, &device);
  REQUIRE(co.ok());
  out.push_back({"cosigned_example", "officer", "device", std::move(*co)});
  return out;
}

std::string pub_hex_of(const std::string& who) {
  if (who == "root") return hc::to_hex(key(kRootSeed).public_key());
  if (who == "officer") return hc::to_hex(key(kOfficerSeed).public_key());
  if (who == "device") return hc::to_hex(key(kDeviceSeed).public_key());
  FAIL("unknown signer " << who);
  return {};
}

ojson item_json(const ItemVector& v) {
  const auto& it = v.item;
  ojson j;
  j["name"] = v.name;
  j["type"] = it.type;
  j["signer"] = v.signer;
  j["signer_pub"] = pub_hex_of(v.signer);
  j["domain"] = hc::signature_domain(it.type);
  j["body"] = it.body_bytes;
  j["body_hex"] = hex(it.body_bytes);
  j["sig"] = hc::to_hex(it.sig);
  if (it.cosig) {
    j["cosigner"] = v.cosigner;
    j["cosigner_pub"] = pub_hex_of(v.cosigner);
    j["cosign_domain"] = hc::cosignature_domain(it.type);
    j["cosign_message_hex"] = hex(it.body_bytes) + hc::to_hex(it.sig);
    j["cosig"] = hc::to_hex(*it.cosig);
  }
  j["envelope"] = it.bytes;
  j["envelope_hex"] = hex(it.bytes);
  j["id"] = it.id_hex();
  return j;
}

}  // namespace

TEST_CASE("vectors: canonical JSON encodings", "[vectors]") {
  ojson computed;
  computed["accept"] = ojson::array();
  for (const auto& c : canon_cases()) {
    auto v = hc::parse_json_strict(c.input);
    INFO(c.name);
    REQUIRE(v.ok());
    auto bytes = hc::canonical_json(*v);
    REQUIRE(bytes.ok());
    computed["accept"].push_back({{"name", c.name}, {"input", c.input}, {"canonical", *bytes}, {"canonical_hex", hex(*bytes)}});
  }
  computed["reject"] = ojson::array();
  for (const auto& c : reject_cases()) computed["reject"].push_back({{"name", c.name}, {"hex", hex(c.bytes)}});

  ojson stored = stored_json("canonical.json", computed, "accept");

  // The stored vectors on their own.
  for (const auto& e : stored["accept"]) {
    INFO(e["name"].get<std::string>());
    std::string bytes = unhex(e["canonical_hex"].get<std::string>());
    CHECK(bytes == e["canonical"].get<std::string>());
    auto parsed = hc::parse_canonical(bytes);
    REQUIRE(parsed.ok());
    auto as_written = hc::parse_json_strict(e["input"].get<std::string>());
    REQUIRE(as_written.ok());
    CHECK(*parsed == *as_written);
    auto again = hc::canonical_json(*parsed);
    REQUIRE(again.ok());
    CHECK(*again == bytes);
  }
  for (const auto& e : stored["reject"]) {
    INFO(e["name"].get<std::string>());
    CHECK_FALSE(hc::parse_canonical(unhex(e["hex"].get<std::string>())).ok());
  }

  // Values the encoder itself refuses (they have no canonical form).
  CHECK_FALSE(hc::canonical_json(json(1.5)).ok());
  CHECK_FALSE(hc::canonical_json(json(9007199254740992LL)).ok());
  CHECK_FALSE(hc::canonical_json(json(-9007199254740992LL)).ok());
  CHECK_FALSE(hc::canonical_json(json(uint64_t{18446744073709551615ULL})).ok());
  CHECK_FALSE(hc::canonical_json(json{{"\xC3\xA9", 1}}).ok());
  CHECK_FALSE(hc::canonical_json(json{{"a\x1f", 1}}).ok());
  CHECK_FALSE(hc::canonical_json(json("\xFF")).ok());
  CHECK_FALSE(hc::canonical_json(json("\xE0\x80\x80")).ok());
  auto nested = hc::canonical_json(json{{"a", json::array({0, json{{"b", 0.5}}})}});
  REQUIRE_FALSE(nested.ok());
  CHECK(nested.error().message.find("a[1].b") != std::string::npos);
}

TEST_CASE("vectors: keys, signing input, fingerprints, public key files", "[vectors]") {
  auto root = key(kRootSeed);
  ojson computed;
  computed["keys"] = ojson::array();
  const std::vector<std::pair<const char*, const hc::Bytes*>> seeds = {
      {"root", &kRootSeed}, {"officer", &kOfficerSeed}, {"device", &kDeviceSeed}};
  for (const auto& [name, seed] : seeds) {
    auto k = key(*seed);
    computed["keys"].push_back({{"name", name},
                                {"seed", hc::to_hex(*seed)},
                                {"pub", hc::to_hex(k.public_key())},
                                {"fingerprint", hc::fingerprint(k.public_key())}});
  }
  const std::string domain = "hoso-v1:example", message = "abc";
  hc::Bytes input = hc::signing_input(domain, hc::as_bytes(message));
  computed["signature"] = {{"signer", "root"},
                           {"domain", domain},
                           {"message_hex", hex(message)},
                           {"signing_input_hex", hc::to_hex(input)},
                           {"sig", hc::to_hex(root.sign(domain, hc::as_bytes(message)))}};
  computed["public_key_file"] = {{"name", "Tỉnh Thử Nghiệm"},
                                 {"text", hc::public_key_file(root.public_key(), "Tỉnh Thử Nghiệm")}};

  ojson stored = stored_json("keys.json", computed, "keys");

  for (const auto& k : stored["keys"]) {
    INFO(k["name"].get<std::string>());
    // Seed -> public key straight through libsodium.
    auto seed = unhex_fixed<32>(k["seed"].get<std::string>());
    unsigned char pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, seed.data());
    CHECK(hc::to_hex(hc::ByteView(pk, 32)) == k["pub"].get<std::string>());
    CHECK(raw_blake2b256_hex(unhex(k["pub"].get<std::string>())).substr(0, 16) == k["fingerprint"].get<std::string>());
  }
  const auto& s = stored["signature"];
  std::string root_pub = stored["keys"][0]["pub"].get<std::string>();
  CHECK(unhex(s["signing_input_hex"].get<std::string>()) ==
        s["domain"].get<std::string>() + std::string(1, '\0') + unhex(s["message_hex"].get<std::string>()));
  CHECK(raw_verify(root_pub, s["domain"].get<std::string>(), unhex(s["message_hex"].get<std::string>()), s["sig"].get<std::string>()));
  CHECK(hc::verify(unhex_fixed<32>(root_pub), s["domain"].get<std::string>(), hc::as_bytes(unhex(s["message_hex"].get<std::string>())),
                   unhex_fixed<64>(s["sig"].get<std::string>())));
  // The same signature under another domain does not verify.
  CHECK_FALSE(raw_verify(root_pub, "hoso-v1:example:cosign", unhex(s["message_hex"].get<std::string>()), s["sig"].get<std::string>()));

  auto pkf = hc::parse_public_key_file(stored["public_key_file"]["text"].get<std::string>());
  REQUIRE(pkf.ok());
  CHECK(hc::to_hex(pkf->pub) == root_pub);
  CHECK(pkf->name == stored["public_key_file"]["name"].get<std::string>());
}

TEST_CASE("vectors: signed items (certificates, revocation, procedure, calendar, cosigned)", "[vectors]") {
  auto items = build_items();
  ojson computed;
  computed["root_pub"] = pub_hex_of("root");
  computed["items"] = ojson::array();
  std::string file_of_items;
  for (const auto& v : items) {
    computed["items"].push_back(item_json(v));
    file_of_items += v.item.bytes + "\n";
  }
  ojson stored = stored_json("items.json", computed, "items");
  std::string stored_file = stored_text("items.txt", file_of_items);
  CHECK(stored_file == file_of_items);

  auto root_pub = unhex_fixed<32>(stored["root_pub"].get<std::string>());
  he::Trust trust(root_pub);
  for (const auto& e : stored["items"]) {
    std::string name = e["name"].get<std::string>();
    INFO(name);
    std::string env = unhex(e["envelope_hex"].get<std::string>());
    std::string body = unhex(e["body_hex"].get<std::string>());
    std::string type = e["type"].get<std::string>();
    CHECK(env == e["envelope"].get<std::string>());
    CHECK(body == e["body"].get<std::string>());
    // The id is BLAKE2b-256 of the envelope bytes.
    CHECK(raw_blake2b256_hex(env) == e["id"].get<std::string>());
    CHECK(hc::to_hex(hc::blake2b256(hc::as_bytes(env))) == e["id"].get<std::string>());
    // The domain is "hoso-v1:" + type; the envelope's shape is fixed.
    CHECK(e["domain"].get<std::string>() == "hoso-v1:" + type);
    std::string tail = ",\"sig\":\"" + e["sig"].get<std::string>() + "\",\"type\":\"" + type + "\",\"v\":1}";
    std::string cosig_part = e.contains("cosig") ? ",\"cosig\":\"" + e["cosig"].get<std::string>() + "\"" : "";
    CHECK(env == "{\"body\":" + body + cosig_part + tail);
    // The signature, independently and through the library.
    CHECK(raw_verify(e["signer_pub"].get<std::string>(), e["domain"].get<std::string>(), body, e["sig"].get<std::string>()));
    CHECK(hc::verify(unhex_fixed<32>(e["signer_pub"].get<std::string>()), e["domain"].get<std::string>(), hc::as_bytes(body),
                     unhex_fixed<64>(e["sig"].get<std::string>())));
    if (e.contains("cosig")) {
      CHECK(e["cosign_domain"].get<std::string>() == "hoso-v1:" + type + ":cosign");
      std::string msg = body + unhex(e["sig"].get<std::string>());
      CHECK(hex(msg) == e["cosign_message_hex"].get<std::string>());
      CHECK(raw_verify(e["cosigner_pub"].get<std::string>(), e["cosign_domain"].get<std::string>(), msg, e["cosig"].get<std::string>()));
      CHECK(hc::verify(unhex_fixed<32>(e["cosigner_pub"].get<std::string>()), e["cosign_domain"].get<std::string>(),
                       hc::as_bytes(msg), unhex_fixed<64>(e["cosig"].get<std::string>())));
      // The countersignature is not a signature of the body alone.
      CHECK_FALSE(raw_verify(e["cosigner_pub"].get<std::string>(), e["cosign_domain"].get<std::string>(), body,
                             e["cosig"].get<std::string>()));
    }
    // The library parses the stored bytes to the same item.
    auto it = hc::parse_item(env);
    REQUIRE(it.ok());
    CHECK(it->id_hex() == e["id"].get<std::string>());
    CHECK(it->body_bytes == body);
    CHECK(hc::verify_sig(*it, unhex_fixed<32>(e["signer_pub"].get<std::string>())));
    if (e.contains("cosig")) CHECK(hc::verify_cosig(*it, unhex_fixed<32>(e["cosigner_pub"].get<std::string>())));
    // Trust items read under the stored root.
    if (type == he::kTypeCert || type == he::kTypeRevocation) CHECK(trust.add(*it).ok());
    if (type == he::kTypeProcedure || type == he::kTypeCalendar) {
      auto d = he::read_document(*it, root_pub);
      REQUIRE(d.ok());
      CHECK(d->document["kind"].get<std::string>() == type);
    }
  }

  // docs/PROTOCOL.md §11 quotes these vectors: it must quote the current ones.
  {
    auto doc = hc::read_file(std::string(HOSO_VECTORS_DIR) + "/../../docs/PROTOCOL.md");
    REQUIRE(doc.ok());
    for (const auto& e : stored["items"]) {
      INFO("docs/PROTOCOL.md does not quote the id of " << e["name"].get<std::string>() << " (update §11)");
      CHECK(doc->find(e["id"].get<std::string>()) != std::string::npos);
    }
  }

  // The file of items parses back to the same ids, in order.
  auto parsed = he::read_items(stored_file);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == stored["items"].size());
  for (size_t i = 0; i < parsed->size(); ++i) CHECK((*parsed)[i].id_hex() == stored["items"][i]["id"].get<std::string>());
  // The same file with CRLF line ends and blank lines reads the same.
  std::string crlf;
  for (const auto& it : *parsed) crlf += "\r\n" + it.bytes + "\r\n";
  auto parsed2 = he::read_items(crlf);
  REQUIRE(parsed2.ok());
  CHECK(parsed2->size() == parsed->size());
}

TEST_CASE("vectors: authorisation decisions", "[vectors]") {
  auto items = build_items();
  he::Trust trust(key(kRootSeed).public_key());
  std::map<std::string, std::string> id;
  for (const auto& v : items)
    if (v.item.type == he::kTypeCert || v.item.type == he::kTypeRevocation) {
      REQUIRE(trust.add(v.item).ok());
      id[v.name] = v.item.id_hex();
    }
  const int64_t off_not_after = kT0 + 1825 * kDay, dev_not_after = kT0 + 365 * kDay;
  const int64_t eff = kT0 + 10 * kDay + 3600, grace = 7 * kDay;
  struct Case {
    const char* name;
    std::string cert;
    const char* kind;
    const char* role;
    const char* unit;
    int64_t at;
    std::optional<int64_t> arrived;
  };
  std::vector<Case> cases = {
      {"officer acting in a role it holds", "officer_certificate", "officer", "receiver", kUnitCode, kT0, kT0},
      {"one second before issued_at", "officer_certificate", "officer", "receiver", kUnitCode, kT0 - 1, kT0},
      {"last second of validity", "officer_certificate", "officer", "specialist", kUnitCode, off_not_after - 1, {}},
      {"at not_after", "officer_certificate", "officer", "receiver", kUnitCode, off_not_after, {}},
      {"role it lacks", "officer_certificate", "officer", "leader", kUnitCode, kT0, {}},
      {"another unit", "officer_certificate", "officer", "receiver", "000.00.32.H12", kT0, {}},
      {"officer certificate used as a device", "officer_certificate", "device", nullptr, nullptr, kT0, {}},
      {"unknown certificate", std::string(64, '0'), "officer", "receiver", nullptr, kT0, {}},
      {"device before revocation, no arrival time", "device_certificate", "device", nullptr, kUnitCode, eff - 1, {}},
      {"device before revocation, arrived at the end of the grace", "device_certificate", "device", nullptr, kUnitCode, eff - 1,
       eff + grace},
      {"device before revocation, arrived one second too late", "device_certificate", "device", nullptr, kUnitCode, eff - 1,
       eff + grace + 1},
      {"device at the revocation's effective time", "device_certificate", "device", nullptr, kUnitCode, eff, eff},
      {"device after its not_after", "device_certificate", "device", nullptr, kUnitCode, dev_not_after, dev_not_after},
  };
  ojson computed;
  computed["certificates"] = id;
  computed["cases"] = ojson::array();
  for (const auto& c : cases) {
    he::Act a;
    a.cert_id = id.count(c.cert) ? id[c.cert] : c.cert;
    a.kind = *he::parse_cert_kind(c.kind);
    if (c.role) a.role = c.role;
    if (c.unit) a.unit = c.unit;
    a.at = c.at;
    a.arrived_at = c.arrived;
    hc::Status st = trust.authorize(a);
    ojson j;
    j["name"] = c.name;
    j["cert"] = a.cert_id;
    j["kind"] = c.kind;
    j["role"] = c.role ? ojson(c.role) : ojson(nullptr);
    j["unit"] = c.unit ? ojson(c.unit) : ojson(nullptr);
    j["at"] = c.at;
    j["arrived_at"] = c.arrived ? ojson(*c.arrived) : ojson(nullptr);
    j["result"] = st.ok() ? "ok" : hc::errc_name(st.error().code);
    computed["cases"].push_back(j);
  }
  ojson stored = stored_json("authorize.json", computed, "cases");
  // Spot checks of the rules themselves, independent of the stored file.
  const auto& sc = stored["cases"];
  CHECK(sc[0]["result"] == "ok");
  CHECK(sc[1]["result"] == "expired");
  CHECK(sc[2]["result"] == "ok");
  CHECK(sc[3]["result"] == "expired");
  CHECK(sc[4]["result"] == "unauthorized");
  CHECK(sc[5]["result"] == "unauthorized");
  CHECK(sc[6]["result"] == "unauthorized");
  CHECK(sc[7]["result"] == "not_found");
  CHECK(sc[8]["result"] == "ok");
  CHECK(sc[9]["result"] == "ok");
  CHECK(sc[10]["result"] == "revoked");
  CHECK(sc[11]["result"] == "revoked");
  CHECK(sc[12]["result"] == "expired");
}

TEST_CASE("vectors: encrypted key file", "[vectors]") {
  auto officer = key(kOfficerSeed);
  const std::string name = "Nguyễn Thị Lan";
  hc::Bytes file;
  {
    // Salt = 00..0f, nonce = 10..27: the first 40 bytes of the source.
    DeterministicRandom rng(0x00);
    auto sealed = hc::seal_key_file(officer, name, kKeyFilePassphrase, hc::Kdf::interactive);
    REQUIRE(sealed.ok());
    file = std::move(*sealed);
  }
  const size_t name_len = name.size();
  const size_t header_len = 8 + 1 + 4 + 8 + 16 + 24 + 2 + name_len + 32;
  REQUIRE(file.size() == header_len + 48 + 32);
  auto slice = [&](size_t off, size_t n) { return hc::to_hex(hc::ByteView(file.data() + off, n)); };
  // The argon2id key, computed here for implementers debugging their KDF.
  unsigned char kdf_key[32];
  REQUIRE(crypto_pwhash(kdf_key, sizeof kdf_key, kKeyFilePassphrase, std::strlen(kKeyFilePassphrase), file.data() + 21,
                        crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) == 0);
  ojson computed;
  computed["seed"] = hc::to_hex(kOfficerSeed);
  computed["pub"] = hc::to_hex(officer.public_key());
  computed["name"] = name;
  computed["passphrase"] = kKeyFilePassphrase;
  computed["passphrase_hex"] = hex(kKeyFilePassphrase);
  computed["kdf"] = "interactive";
  computed["magic"] = slice(0, 8);
  computed["kdf_id"] = slice(8, 1);
  computed["opslimit"] = static_cast<int64_t>(crypto_pwhash_OPSLIMIT_INTERACTIVE);
  computed["opslimit_hex"] = slice(9, 4);
  computed["memlimit"] = static_cast<int64_t>(crypto_pwhash_MEMLIMIT_INTERACTIVE);
  computed["memlimit_hex"] = slice(13, 8);
  computed["salt"] = slice(21, 16);
  computed["nonce"] = slice(37, 24);
  computed["name_len_hex"] = slice(61, 2);
  computed["header_hex"] = slice(0, header_len);
  computed["argon2id_key"] = hc::to_hex(hc::ByteView(kdf_key, sizeof kdf_key));
  computed["ciphertext_hex"] = slice(header_len, 48);
  computed["checksum"] = slice(header_len + 48, 32);
  computed["file_hex"] = hc::to_hex(file);
  ojson stored = stored_json("keyfile.json", computed);

  // The stored file on its own.
  std::string f = unhex(stored["file_hex"].get<std::string>());
  std::string header = unhex(stored["header_hex"].get<std::string>());
  std::string ct = unhex(stored["ciphertext_hex"].get<std::string>());
  std::string sum = unhex(stored["checksum"].get<std::string>());
  CHECK(f == header + ct + sum);
  CHECK(header.substr(0, 8) == std::string("HOSOKEY\x01", 8));
  CHECK(static_cast<uint8_t>(header[8]) == 1);
  CHECK(header.substr(21, 16) == unhex(stored["salt"].get<std::string>()));
  CHECK(header.substr(37, 24) == unhex(stored["nonce"].get<std::string>()));
  CHECK(header.substr(63, name_len) == stored["name"].get<std::string>());
  CHECK(hex(header.substr(63 + name_len, 32)) == stored["pub"].get<std::string>());
  CHECK(raw_blake2b256_hex(header + ct) == stored["checksum"].get<std::string>());
  {
    // AEAD open straight through libsodium with the stored argon2id key.
    auto k = unhex_fixed<32>(stored["argon2id_key"].get<std::string>());
    auto nonce = unhex_fixed<24>(stored["nonce"].get<std::string>());
    unsigned char seed[32];
    unsigned long long mlen = 0;
    REQUIRE(crypto_aead_xchacha20poly1305_ietf_decrypt(
                seed, &mlen, nullptr, reinterpret_cast<const unsigned char*>(ct.data()), ct.size(),
                reinterpret_cast<const unsigned char*>(header.data()), header.size(), nonce.data(), k.data()) == 0);
    CHECK(mlen == 32);
    CHECK(hc::to_hex(hc::ByteView(seed, 32)) == stored["seed"].get<std::string>());
  }
  // Through the library.
  hc::KeyFileInfo info;
  auto opened = hc::open_key_file(hc::as_bytes(f), stored["passphrase"].get<std::string>(), &info);
  REQUIRE(opened.ok());
  REQUIRE(opened->seed().size() == 32);
  CHECK(hc::to_hex(hc::ByteView(opened->seed().data(), 32)) == stored["seed"].get<std::string>());
  CHECK(info.name == stored["name"].get<std::string>());
  CHECK(hc::to_hex(info.pub) == stored["pub"].get<std::string>());
  auto wrong = hc::open_key_file(hc::as_bytes(f), "mat khau thu nghiem");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == hc::Errc::wrong_passphrase);
  std::string damaged = f;
  damaged[30] ^= 1;
  auto bad = hc::open_key_file(hc::as_bytes(damaged), stored["passphrase"].get<std::string>());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == hc::Errc::damaged);
}

TEST_CASE("vectors: sync frames and zstd batches", "[vectors]") {
  ojson computed;
  computed["frames"] = ojson::array();
  struct F {
    const char* name;
    uint8_t type;
    std::string payload;
  };
  for (const auto& c : {F{"type 1 with payload \"hello\"", 1, "hello"}, F{"type 0x7f with an empty payload", 0x7f, ""},
                        F{"type 0xff with a 300-byte payload", 0xff, std::string(300, 'x')}}) {
    std::string out;
    REQUIRE(hs::encode_frame(out, c.type, c.payload).ok());
    computed["frames"].push_back({{"name", c.name}, {"type", c.type}, {"payload_hex", hex(c.payload)}, {"frame_hex", hex(out)}});
  }
  // zstd output differs between library versions, so only decompression is a
  // vector: this stored batch must inflate to its content.
  std::string content;
  for (int i = 0; i < 20; ++i) content += "{\"body\":{\"n\":" + std::to_string(i) + "},\"type\":\"example\",\"v\":1}\n";
  std::string stored_batch_hex;
  {
    auto c = hs::compress(content);
    REQUIRE(c.ok());
    stored_batch_hex = hex(*c);
  }
  computed["zstd"] = {{"content_hex", hex(content)}, {"compressed_hex", stored_batch_hex}};
  std::string text = stored_text("frames.json", dump(computed));
  ojson stored = ojson::parse(text);
  CHECK(stored["frames"] == computed["frames"]);
  CHECK(stored["zstd"]["content_hex"] == computed["zstd"]["content_hex"]);

  for (const auto& f : stored["frames"]) {
    INFO(f["name"].get<std::string>());
    std::string bytes = unhex(f["frame_hex"].get<std::string>());
    std::string payload = unhex(f["payload_hex"].get<std::string>());
    REQUIRE(bytes.size() == 5 + payload.size());
    uint32_t len = uint32_t(uint8_t(bytes[0])) << 24 | uint32_t(uint8_t(bytes[1])) << 16 | uint32_t(uint8_t(bytes[2])) << 8 |
                   uint8_t(bytes[3]);
    CHECK(len == payload.size() + 1);
    CHECK(uint8_t(bytes[4]) == f["type"].get<int>());
    hs::FrameDecoder d;
    REQUIRE(d.feed(bytes).ok());
    auto fr = d.next();
    REQUIRE(fr.has_value());
    CHECK(fr->type == f["type"].get<int>());
    CHECK(fr->payload == payload);
  }
  std::string batch = unhex(stored["zstd"]["compressed_hex"].get<std::string>());
  CHECK(ZSTD_getFrameContentSize(batch.data(), batch.size()) == unhex(stored["zstd"]["content_hex"].get<std::string>()).size());
  auto inflated = hs::decompress(batch);
  REQUIRE(inflated.ok());
  CHECK(*inflated == unhex(stored["zstd"]["content_hex"].get<std::string>()));
  // Limits: a declared length of 0 or above 4 MiB is refused before any payload.
  hs::FrameDecoder zero;
  CHECK_FALSE(zero.feed(std::string("\x00\x00\x00\x00", 4)).ok());
  hs::FrameDecoder big;
  CHECK_FALSE(big.feed(std::string("\x00\x40\x00\x01", 4)).ok());
  hs::FrameDecoder max;
  CHECK(max.feed(std::string("\x00\x40\x00\x00", 4)).ok());
  CHECK_FALSE(hs::decompress(batch, content.size() - 1).ok());
}
