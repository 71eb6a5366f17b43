// The crypto module (crypto/): errors, libsodium facade, hex, BLAKE2b,
// canonical JSON, keys and key files, signed items, file IO. Every function
// with its failure cases, single-byte tampering at every position, and
// randomised round trips. Key files use Kdf::interactive (or hand-built files
// with the smallest argon2id parameters) so the whole file stays fast.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <limits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/file.hpp"
#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/result.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/crypto/sodium.hpp"

namespace hc = hoso::crypto;
using nlohmann::json;

namespace {

// "ok" or the error code's name: prints well in Catch's messages.
template <class R>
std::string code(const R& r) {
  return r.ok() ? "ok" : hc::errc_name(r.error().code);
}
template <class R>
std::string msg(const R& r) {
  return r.ok() ? "" : r.error().message;
}

hc::Bytes bytes_of(std::string_view s) { return hc::Bytes(s.begin(), s.end()); }
std::string str_of(const hc::Bytes& b) { return std::string(b.begin(), b.end()); }
bool has_text(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
std::string hex_of(std::string_view s) { return hc::to_hex(hc::as_bytes(s)); }

hc::SigningKey key_from(uint8_t first) {
  hc::Bytes s(32);
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(first + i);
  return hc::SigningKey::from_seed(s);
}

// The test's own random generator: fixed seed, so a failure reproduces.
constexpr uint64_t kSeed = 0x686f736f2d763130ull;
std::mt19937_64& rng() {
  static std::mt19937_64 g(kSeed);
  return g;
}
uint64_t rnd(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng()); }
std::string random_bytes_str(size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rnd(256));
  return s;
}

// Restores libsodium's random source when a test's deterministic one goes.
struct RandomGuard {
  explicit RandomGuard(hc::RandomSource src) { hc::set_random_source(std::move(src)); }
  ~RandomGuard() { hc::set_random_source(nullptr); }
  RandomGuard(const RandomGuard&) = delete;
  RandomGuard& operator=(const RandomGuard&) = delete;
};

// A fresh directory, removed with its files afterwards.
struct TempDir {
  std::string path;
  TempDir() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/hoso-test-crypto-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    REQUIRE(::mkdtemp(buf.data()) != nullptr);
    path = buf.data();
  }
  ~TempDir() {
    for (const auto& f : entries()) ::unlink((path + "/" + f).c_str());
    ::rmdir(path.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path.c_str())) {
      while (dirent* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) out.emplace_back(e->d_name);
      ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

// --- UTF-8 helpers independent of the code under test ------------------------

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// Well-formed UTF-8 by the table of the Unicode standard (Table 3-7), a
// different formulation from the code's bit arithmetic.
bool reference_utf8(std::string_view s) {
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  size_t i = 0;
  while (i < s.size()) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    unsigned char c = b(0);
    size_t left = s.size() - i;
    if (c <= 0x7F) { i += 1; continue; }
    if (in(c, 0xC2, 0xDF)) {
      if (left < 2 || !in(b(1), 0x80, 0xBF)) return false;
      i += 2;
      continue;
    }
    if (in(c, 0xE0, 0xEF)) {
      unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      if (left < 3 || !in(b(1), lo, hi) || !in(b(2), 0x80, 0xBF)) return false;
      i += 3;
      continue;
    }
    if (in(c, 0xF0, 0xF4)) {
      unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      if (left < 4 || !in(b(1), lo, hi) || !in(b(2), 0x80, 0xBF) || !in(b(3), 0x80, 0xBF)) return false;
      i += 4;
      continue;
    }
    return false;
  }
  return true;
}

// A random Unicode scalar value, biased towards the interesting ones.
uint32_t random_scalar() {
  switch (rnd(8)) {
    case 0: return static_cast<uint32_t>(rnd(0x20));                 // controls
    case 1: return "\"\\/\b\f\n\r\t\x7f"[rnd(9)];                    // escapes and DEL
    case 2: return static_cast<uint32_t>(0x20 + rnd(0x60));          // printable ASCII
    case 3: return static_cast<uint32_t>(0x80 + rnd(0x800 - 0x80));  // 2 bytes
    case 4: {                                                        // 3 bytes, no surrogates
      uint32_t cp;
      do cp = static_cast<uint32_t>(0x800 + rnd(0x10000 - 0x800)); while (cp >= 0xD800 && cp <= 0xDFFF);
      return cp;
    }
    case 5: return static_cast<uint32_t>(0x10000 + rnd(0x110000 - 0x10000));  // 4 bytes
    case 6: {
      static const uint32_t edges[] = {0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF, 0x2028, 0x2029, 0xFEFF};
      return edges[rnd(sizeof edges / sizeof edges[0])];
    }
    default: {  // Vietnamese letters
      static const uint32_t vi[] = {0x0110, 0x0111, 0x01A0, 0x01A1, 0x01AF, 0x01B0, 0x1EA0, 0x1EBF, 0x1EDD, 0x1EF9, 0x0300, 0x0301, 0x0303};
      return vi[rnd(sizeof vi / sizeof vi[0])];
    }
  }
}

std::string random_text(size_t max_len) {
  std::string s;
  size_t n = rnd(max_len + 1);
  for (size_t i = 0; i < n; ++i) s += utf8(random_scalar());
  return s;
}

std::string random_key() {  // object keys: bytes 0x20..0x7F
  std::string k;
  size_t n = rnd(6);
  for (size_t i = 0; i < n; ++i) k += static_cast<char>(0x20 + rnd(0x60));
  return k;
}

int64_t random_int() {
  switch (rnd(5)) {
    case 0: return static_cast<int64_t>(rnd(10));
    case 1: return -static_cast<int64_t>(rnd(1000));
    case 2: return hc::kMaxSafeInteger - static_cast<int64_t>(rnd(3));
    case 3: return -hc::kMaxSafeInteger + static_cast<int64_t>(rnd(3));
    default: return static_cast<int64_t>(rnd(2 * static_cast<uint64_t>(hc::kMaxSafeInteger) + 1)) - hc::kMaxSafeInteger;
  }
}

json random_value(int depth) {
  uint64_t pick = rnd(depth <= 0 ? 5 : 7);
  switch (pick) {
    case 0: return nullptr;
    case 1: return rnd(2) == 0;
    case 2: return random_int();
    case 3: return static_cast<uint64_t>(rnd(static_cast<uint64_t>(hc::kMaxSafeInteger) + 1));
    case 4: return random_text(12);
    case 5: {
      json a = json::array();
      size_t n = rnd(5);
      for (size_t i = 0; i < n; ++i) a.push_back(random_value(depth - 1));
      return a;
    }
    default: {
      json o = json::object();
      size_t n = rnd(5);
      for (size_t i = 0; i < n; ++i) o[random_key()] = random_value(depth - 1);
      return o;
    }
  }
}

// The string encoding of PROTOCOL §2.2, written from the table.
std::string expected_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    static const char* const shorts[] = {"\\b", "\\t", "\\n", nullptr, "\\f", "\\r"};  // 0x08..0x0D
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c >= 0x08 && c <= 0x0D && shorts[c - 8]) out += shorts[c - 8];
    else if (c < 0x20) {
      out += "\\u00";
      out += "0123456789abcdef"[c >> 4];
      out += "0123456789abcdef"[c & 15];
    } else out += ch;
  }
  return out + "\"";
}

std::string nest(int depth, const char* open, const char* close, const char* inner = "") {
  std::string s;
  for (int i = 0; i < depth; ++i) s += open;
  s += inner;
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

}  // namespace

// ============================================================================
// Errors
// ============================================================================

TEST_CASE("crypto: every error code has its own name", "[crypto]") {
  std::set<std::string> names;
  for (int c = static_cast<int>(hc::Errc::invalid_argument); c <= static_cast<int>(hc::Errc::internal); ++c) {
    std::string n = hc::errc_name(static_cast<hc::Errc>(c));
    CHECK(n != "unknown");
    names.insert(n);
  }
  CHECK(names.size() == 14);
  CHECK(std::string(hc::errc_name(hc::Errc::wrong_passphrase)) == "wrong_passphrase");
  CHECK(std::string(hc::errc_name(hc::Errc::damaged)) == "damaged");
  CHECK(std::string(hc::errc_name(static_cast<hc::Errc>(999))) == "unknown");
}

TEST_CASE("crypto: Result and Status carry a value or one error", "[crypto]") {
  hc::Result<int> good(7);
  CHECK(good.ok());
  CHECK(static_cast<bool>(good));
  CHECK(*good == 7);
  hc::Result<std::string> text(std::string("abc"));
  CHECK(text->size() == 3);
  std::string moved = std::move(text).value();
  CHECK(moved == "abc");

  hc::Result<int> bad(hc::make_error(hc::Errc::not_found, "no such dossier"));
  CHECK_FALSE(bad.ok());
  CHECK(bad.error().code == hc::Errc::not_found);
  CHECK(bad.error().message == "no such dossier");

  hc::Status fine;
  CHECK(fine.ok());
  hc::Status from_good(good);
  CHECK(from_good.ok());
  hc::Status from_bad(bad);
  REQUIRE_FALSE(from_bad.ok());
  CHECK(from_bad.error().code == hc::Errc::not_found);
  CHECK(from_bad.error().message == "no such dossier");
  hc::Status direct(hc::make_error(hc::Errc::busy, "store busy"));
  CHECK_FALSE(direct);
  CHECK(code(direct) == "busy");
}

// ============================================================================
// libsodium facade
// ============================================================================

TEST_CASE("crypto: init is idempotent and thread-safe", "[crypto]") {
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([] {
      for (int k = 0; k < 100; ++k) hc::init();
    });
  for (auto& t : ts) t.join();
  CHECK(sodium_init() == 1);  // already initialised
}

TEST_CASE("crypto: SecretBytes holds, moves and frees secrets", "[crypto]") {
  hc::SecretBytes none;
  CHECK(none.empty());
  CHECK(none.size() == 0);
  CHECK(none.data() == nullptr);
  CHECK(none.view().empty());

  hc::SecretBytes zero(size_t{0});
  CHECK(zero.empty());

  const uint8_t src[5] = {'h', 'e', 'l', 'l', 'o'};
  hc::SecretBytes a(src, 5);
  CHECK(a.size() == 5);
  CHECK_FALSE(a.empty());
  CHECK(a.view() == "hello");
  CHECK(a.data() != src);  // a copy

  hc::SecretBytes big(4096);
  CHECK(big.size() == 4096);
  std::memset(big.data(), 0x5a, big.size());
  CHECK(big.data()[4095] == 0x5a);

  hc::SecretBytes b(std::move(a));
  CHECK(b.view() == "hello");
  CHECK(a.empty());  // NOLINT: moved-from state is specified
  CHECK(a.data() == nullptr);

  hc::SecretBytes c(src, 2);
  c = std::move(b);
  CHECK(c.view() == "hello");
  CHECK(b.empty());  // NOLINT
  hc::SecretBytes& self = c;
  c = std::move(self);  // self-move keeps the contents
  CHECK(c.view() == "hello");
}

TEST_CASE("crypto: the random source seam", "[crypto]") {
  SECTION("a deterministic source replaces libsodium's, and nullptr restores it") {
    hc::Bytes a(40), b(40), c(40), d(40);
    {
      uint8_t next = 7;
      RandomGuard g([&next](uint8_t* p, size_t n) {
        for (size_t i = 0; i < n; ++i) p[i] = next++;
      });
      hc::random_bytes(a.data(), a.size());
      for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == static_cast<uint8_t>(7 + i));
      hc::random_bytes(b.data(), 0);  // zero bytes draws nothing
      hc::random_bytes(b.data(), 1);
      CHECK(b[0] == static_cast<uint8_t>(7 + 40));
    }
    hc::random_bytes(c.data(), c.size());
    hc::random_bytes(d.data(), d.size());
    CHECK(c != d);
    CHECK(c != a);
  }
  SECTION("keys from a deterministic source are reproducible") {
    auto make = [] {
      uint8_t next = 1;
      RandomGuard g([&next](uint8_t* p, size_t n) {
        for (size_t i = 0; i < n; ++i) p[i] = next++;
      });
      return hc::SigningKey::generate();
    };
    auto k1 = make();
    auto k2 = make();
    CHECK(k1.public_key() == k2.public_key());
    CHECK(k1.public_key() == key_from(1).public_key());  // seed 01 02 .. 20
    auto r1 = hc::SigningKey::generate();
    auto r2 = hc::SigningKey::generate();
    CHECK(r1.public_key() != r2.public_key());
    CHECK(r1.public_key() != k1.public_key());
  }
}

TEST_CASE("crypto: BLAKE2b-256 one-shot and incremental", "[crypto]") {
  // RFC 7693 / libb2 known answers for BLAKE2b with a 32-byte output.
  CHECK(hc::to_hex(hc::blake2b256({})) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  CHECK(hc::to_hex(hc::blake2b256(hc::as_bytes("abc"))) ==
        "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  {
    hc::Blake2b256 h;
    CHECK(hc::to_hex(h.finish()) == hc::to_hex(hc::blake2b256({})));
  }
  for (int round = 0; round < 200; ++round) {
    std::string data = random_bytes_str(rnd(600));
    hc::Blake2b256 h;
    size_t pos = 0;
    while (pos < data.size()) {
      size_t n = std::min<size_t>(data.size() - pos, rnd(70));
      h.update(hc::as_bytes(std::string_view(data).substr(pos, n)));
      pos += n;
    }
    auto inc = h.finish();
    INFO("round " << round << " size " << data.size());
    CHECK(inc == hc::blake2b256(hc::as_bytes(data)));
    // independent check against libsodium's API
    hc::Hash ref{};
    crypto_generichash(ref.data(), ref.size(), reinterpret_cast<const uint8_t*>(data.data()), data.size(), nullptr, 0);
    CHECK(inc == ref);
    if (!data.empty()) {
      std::string other = data;
      other[rnd(other.size())] ^= static_cast<char>(1 + rnd(255));
      CHECK(hc::blake2b256(hc::as_bytes(other)) != inc);
    }
  }
}

TEST_CASE("crypto: hex encoding and decoding", "[crypto]") {
  CHECK(hc::to_hex(hc::ByteView{}) == "");
  CHECK(hc::to_hex(hc::as_bytes(std::string("\x00\x01\x7f\x80\xfe\xff", 6))) == "00017f80feff");
  std::array<uint8_t, 3> arr{0xde, 0xad, 0x01};
  CHECK(hc::to_hex(arr) == "dead01");

  auto lower = hc::from_hex("00017f80feff");
  REQUIRE(lower.ok());
  CHECK(str_of(*lower) == std::string("\x00\x01\x7f\x80\xfe\xff", 6));
  auto upper = hc::from_hex("DEADbeef");
  REQUIRE(upper.ok());
  CHECK(hc::to_hex(*upper) == "deadbeef");
  auto empty = hc::from_hex("");
  REQUIRE(empty.ok());
  CHECK(empty->empty());

  for (const char* bad : {"0", "abc", "0g", "g0", "zz", " 0", "0 ", "0x00", "-1", "12\n", "é0"}) {
    INFO(bad);
    auto r = hc::from_hex(bad);
    CHECK(code(r) == "bad_format");
  }
  CHECK(code(hc::from_hex(std::string("0\0", 2))) == "bad_format");
  // every byte value that is not a hex digit is refused in either position
  for (int c = 0; c < 256; ++c) {
    char ch = static_cast<char>(c);
    bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    std::string hi = std::string(1, ch) + "0", lo = "0" + std::string(1, ch);
    INFO("byte " << c);
    CHECK(hc::from_hex(hi).ok() == digit);
    CHECK(hc::from_hex(lo).ok() == digit);
  }

  SECTION("fixed_from_hex: exact length, lower case only") {
    auto ok = hc::fixed_from_hex<4>("0a0b0c0d");
    REQUIRE(ok.ok());
    CHECK((*ok == std::array<uint8_t, 4>{0x0a, 0x0b, 0x0c, 0x0d}));
    CHECK(code(hc::fixed_from_hex<4>("0a0b0c")) == "bad_format");
    CHECK(code(hc::fixed_from_hex<4>("0a0b0c0d0e")) == "bad_format");
    CHECK(code(hc::fixed_from_hex<4>("0A0b0c0d")) == "bad_format");
    CHECK(code(hc::fixed_from_hex<4>("0a0b0c0g")) == "bad_format");
    CHECK(code(hc::fixed_from_hex<4>("")) == "bad_format");
    CHECK(msg(hc::fixed_from_hex<4>("0a")).find("8 hex digits") != std::string::npos);
  }

  SECTION("random bytes -> hex -> bytes") {
    for (int round = 0; round < 1000; ++round) {
      std::string data = random_bytes_str(rnd(80));
      std::string h = hc::to_hex(hc::as_bytes(data));
      REQUIRE(h.size() == 2 * data.size());
      CHECK(std::all_of(h.begin(), h.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
      auto back = hc::from_hex(h);
      REQUIRE(back.ok());
      CHECK(str_of(*back) == data);
      std::string up = h;
      for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      auto back_up = hc::from_hex(up);
      REQUIRE(back_up.ok());
      CHECK(str_of(*back_up) == data);
    }
    for (int round = 0; round < 200; ++round) {
      std::string data = random_bytes_str(32);
      auto fixed = hc::fixed_from_hex<32>(hc::to_hex(hc::as_bytes(data)));
      REQUIRE(fixed.ok());
      CHECK(std::equal(fixed->begin(), fixed->end(), data.begin(), data.end(),
                       [](uint8_t a, char b) { return a == static_cast<uint8_t>(b); }));
    }
  }
}

TEST_CASE("crypto: wipe and constant-time comparison", "[crypto]") {
  std::string secret = "correct horse battery staple";
  hc::wipe(secret.data(), secret.size());
  CHECK(secret == std::string(28, '\0'));
  hc::wipe(nullptr, 0);  // nothing to do, no crash
  std::string partial = "abcdef";
  hc::wipe(partial.data() + 2, 2);
  CHECK(partial == std::string("ab\0\0ef", 6));

  std::string a = random_bytes_str(64);
  CHECK(hc::equal_ct(hc::as_bytes(a), hc::as_bytes(a)));
  CHECK(hc::equal_ct({}, {}));
  for (size_t i = 0; i < a.size(); ++i) {
    std::string b = a;
    b[i] ^= 0x01;
    INFO("position " << i);
    CHECK_FALSE(hc::equal_ct(hc::as_bytes(a), hc::as_bytes(b)));
  }
  CHECK_FALSE(hc::equal_ct(hc::as_bytes(a), hc::as_bytes(std::string_view(a).substr(0, 63))));
  CHECK_FALSE(hc::equal_ct(hc::as_bytes(std::string_view(a).substr(0, 0)), hc::as_bytes(a)));
}

// ============================================================================
// Keys and signatures
// ============================================================================

TEST_CASE("crypto: signing input is domain, 0x00, message", "[crypto]") {
  auto in = hc::signing_input("hoso-v1:example", hc::as_bytes("abc"));
  CHECK(hc::to_hex(in) == "686f736f2d76313a6578616d706c6500616263");
  auto empty = hc::signing_input("", {});
  CHECK(empty == hc::Bytes{0});
  CHECK(hc::signature_domain("cert") == "hoso-v1:cert");
  CHECK(hc::cosignature_domain("event") == "hoso-v1:event:cosign");
}

TEST_CASE("crypto: ed25519 keys from seeds, signatures and fingerprints", "[crypto]") {
  // RFC 8032 §7.1 test 1: the seed's public key.
  auto seed = hc::from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  REQUIRE(seed.ok());
  auto k = hc::SigningKey::from_seed(*seed);
  CHECK(hc::to_hex(k.public_key()) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  CHECK(k.seed().size() == 32);
  CHECK(hc::to_hex(hc::ByteView(k.seed().data(), k.seed().size())) == hc::to_hex(*seed));

  // The signature is plain Ed25519 over the signing input: check with libsodium.
  auto sig = k.sign("hoso-v1:example", hc::as_bytes("abc"));
  auto in = hc::signing_input("hoso-v1:example", hc::as_bytes("abc"));
  CHECK(crypto_sign_verify_detached(sig.data(), in.data(), in.size(), k.public_key().data()) == 0);
  // ed25519 is deterministic
  CHECK(k.sign("hoso-v1:example", hc::as_bytes("abc")) == sig);

  CHECK(hc::verify(k.public_key(), "hoso-v1:example", hc::as_bytes("abc"), sig));
  SECTION("wrong domain, message, key or signature fails") {
    CHECK_FALSE(hc::verify(k.public_key(), "hoso-v1:exampl", hc::as_bytes("abc"), sig));
    CHECK_FALSE(hc::verify(k.public_key(), "hoso-v1:example:cosign", hc::as_bytes("abc"), sig));
    CHECK_FALSE(hc::verify(k.public_key(), "hoso-v1:examplea", hc::as_bytes("bc"), sig));  // shifted boundary
    CHECK_FALSE(hc::verify(k.public_key(), "", hc::as_bytes("abc"), sig));
    CHECK_FALSE(hc::verify(k.public_key(), "hoso-v1:example", hc::as_bytes("abd"), sig));
    CHECK_FALSE(hc::verify(k.public_key(), "hoso-v1:example", hc::as_bytes("abc "), sig));
    CHECK_FALSE(hc::verify(key_from(1).public_key(), "hoso-v1:example", hc::as_bytes("abc"), sig));
    // a plain (undomained) signature of the message is not accepted
    hc::Signature plain{};
    const auto& sk = k.seed();
    uint8_t pk[32], esk[64];
    crypto_sign_seed_keypair(pk, esk, sk.data());
    crypto_sign_detached(plain.data(), nullptr, reinterpret_cast<const uint8_t*>("abc"), 3, esk);
    sodium_memzero(esk, sizeof esk);
    CHECK_FALSE(hc::verify(k.public_key(), "hoso-v1:example", hc::as_bytes("abc"), plain));
    for (size_t i = 0; i < sig.size(); ++i) {
      auto s = sig;
      s[i] ^= static_cast<uint8_t>(1u << (i % 8));
      INFO("signature byte " << i);
      CHECK_FALSE(hc::verify(k.public_key(), "hoso-v1:example", hc::as_bytes("abc"), s));
    }
    hc::PublicKey zero{};
    CHECK_FALSE(hc::verify(zero, "hoso-v1:example", hc::as_bytes("abc"), sig));
    hc::Signature zsig{};
    CHECK_FALSE(hc::verify(k.public_key(), "hoso-v1:example", hc::as_bytes("abc"), zsig));
  }
  SECTION("different seeds, different keys; same seed, same key") {
    CHECK(key_from(1).public_key() == key_from(1).public_key());
    CHECK(key_from(1).public_key() != key_from(2).public_key());
  }
  SECTION("fingerprint: first 8 bytes of BLAKE2b-256(pk) in hex") {
    auto h = hc::blake2b256(hc::ByteView(k.public_key().data(), 32));
    CHECK(hc::fingerprint(k.public_key()) == hc::to_hex(hc::ByteView(h.data(), 8)));
    CHECK(hc::fingerprint(k.public_key()).size() == 16);
    CHECK(hc::fingerprint(key_from(1).public_key()) != hc::fingerprint(k.public_key()));
  }
  SECTION("a seed of any size but 32 bytes is refused, never read past") {
    for (size_t n : {size_t(0), size_t(1), size_t(16), size_t(31), size_t(33), size_t(64)}) {
      INFO("seed of " << n << " bytes");
      hc::Bytes s(n, 0x42);
      CHECK_THROWS_AS(hc::SigningKey::from_seed(s), std::invalid_argument);
      CHECK_THROWS_WITH(hc::SigningKey::from_seed(s), Catch::Contains("exactly 32 bytes"));
    }
    CHECK_THROWS_AS(hc::SigningKey::from_seed(hc::ByteView()), std::invalid_argument);
    hc::Bytes exact(32, 0x42);
    CHECK_NOTHROW(hc::SigningKey::from_seed(exact));
  }
}

TEST_CASE("crypto: random messages sign and verify; any change fails", "[crypto]") {
  auto k = hc::SigningKey::generate();
  auto other = hc::SigningKey::generate();
  for (int round = 0; round < 300; ++round) {
    std::string m = random_bytes_str(rnd(400));
    std::string domain = "hoso-v1:" + std::string(1 + rnd(10), static_cast<char>('a' + rnd(26)));
    auto sig = k.sign(domain, hc::as_bytes(m));
    INFO("round " << round << " domain " << domain << " size " << m.size());
    CHECK(hc::verify(k.public_key(), domain, hc::as_bytes(m), sig));
    CHECK_FALSE(hc::verify(other.public_key(), domain, hc::as_bytes(m), sig));
    CHECK_FALSE(hc::verify(k.public_key(), domain + ":cosign", hc::as_bytes(m), sig));
    if (!m.empty()) {
      std::string t = m;
      t[rnd(t.size())] ^= static_cast<char>(1u << rnd(8));
      CHECK_FALSE(hc::verify(k.public_key(), domain, hc::as_bytes(t), sig));
      CHECK_FALSE(hc::verify(k.public_key(), domain, hc::as_bytes(std::string_view(m).substr(0, m.size() - 1)), sig));
    }
    CHECK_FALSE(hc::verify(k.public_key(), domain, hc::as_bytes(m + "x"), sig));
    auto s2 = sig;
    s2[rnd(64)] ^= static_cast<uint8_t>(1u << rnd(8));
    CHECK_FALSE(hc::verify(k.public_key(), domain, hc::as_bytes(m), s2));
  }
}

// ============================================================================
// Public key files
// ============================================================================

TEST_CASE("crypto: public key files", "[crypto]") {
  auto k = key_from(0x21);
  std::string text = hc::public_key_file(k.public_key(), "Nguyễn Văn A");
  CHECK(text == "{\"format\":\"hoso-public-key-v1\",\"name\":\"Nguyễn Văn A\",\"pub\":\"" + hc::to_hex(k.public_key()) + "\"}\n");
  auto back = hc::parse_public_key_file(text);
  REQUIRE(back.ok());
  CHECK(back->pub == k.public_key());
  CHECK(back->name == "Nguyễn Văn A");

  SECTION("people's spelling is accepted; name is optional; other keys are ignored") {
    std::string pub = hc::to_hex(k.public_key());
    auto r = hc::parse_public_key_file("{\n  \"pub\": \"" + pub + "\",\n  \"format\": \"hoso-public-key-v1\", \"x_note\": 1\n}\n");
    REQUIRE(r.ok());
    CHECK(r->pub == k.public_key());
    CHECK(r->name.empty());
    auto n = hc::parse_public_key_file("{\"format\":\"hoso-public-key-v1\",\"name\":5,\"pub\":\"" + pub + "\"}");
    REQUIRE(n.ok());
    CHECK(n->name.empty());
  }
  SECTION("refusals are bad_format") {
    std::string pub = hc::to_hex(k.public_key());
    std::string upper = pub;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::vector<std::string> bad = {
        "",
        "not json",
        "[]",
        "\"hoso-public-key-v1\"",
        "{\"pub\":\"" + pub + "\"}",
        "{\"format\":\"hoso-public-key-v2\",\"pub\":\"" + pub + "\"}",
        "{\"format\":1,\"pub\":\"" + pub + "\"}",
        "{\"format\":null,\"pub\":\"" + pub + "\"}",
        "{\"format\":[\"hoso-public-key-v1\"],\"pub\":\"" + pub + "\"}",
        "{\"format\":\"hoso-public-key-v1\"}",
        "{\"format\":\"hoso-public-key-v1\",\"pub\":1}",
        "{\"format\":\"hoso-public-key-v1\",\"pub\":\"" + upper + "\"}",
        "{\"format\":\"hoso-public-key-v1\",\"pub\":\"" + pub.substr(2) + "\"}",
        "{\"format\":\"hoso-public-key-v1\",\"pub\":\"" + pub + "00\"}",
        "{\"format\":\"hoso-public-key-v1\",\"pub\":\"" + pub + "\",\"pub\":\"" + pub + "\"}",
    };
    for (const auto& b : bad) {
      INFO(b);
      hc::Result<hc::KeyFileInfo> r = hc::make_error(hc::Errc::internal, "threw");
      CHECK_NOTHROW(r = hc::parse_public_key_file(b));
      CHECK(code(r) == "bad_format");
      CHECK(msg(r).rfind("public key file", 0) == 0);
    }
  }
}

// ============================================================================
// Key files
// ============================================================================

namespace {

constexpr size_t kKeyFileFixed = 175;  // size without the name (PROTOCOL §6.1)

hc::Bytes with_checksum(hc::Bytes f) {
  f.resize(f.size() - 32);
  auto sum = hc::blake2b256(f);
  f.insert(f.end(), sum.begin(), sum.end());
  return f;
}

void put_be(hc::Bytes& f, size_t at, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) f[at + static_cast<size_t>(n - 1 - i)] = static_cast<uint8_t>(v >> (8 * i));
}

// A key file built by hand with libsodium from PROTOCOL §6.1, independent of
// seal_key_file; `pub` may differ from the seed's to test the last check.
hc::Bytes build_key_file(const hc::SigningKey& key, const hc::PublicKey& pub, std::string_view name,
                         std::string_view pass, uint32_t ops, uint64_t mem) {
  hc::Bytes f = {'H', 'O', 'S', 'O', 'K', 'E', 'Y', 1, 1};
  f.resize(f.size() + 12);
  put_be(f, 9, ops, 4);
  put_be(f, 13, mem, 8);
  for (int i = 0; i < 16; ++i) f.push_back(static_cast<uint8_t>(0xA0 + i));  // salt
  for (int i = 0; i < 24; ++i) f.push_back(static_cast<uint8_t>(0xB0 + i));  // nonce
  f.push_back(static_cast<uint8_t>(name.size() >> 8));
  f.push_back(static_cast<uint8_t>(name.size() & 0xFF));
  f.insert(f.end(), name.begin(), name.end());
  f.insert(f.end(), pub.begin(), pub.end());
  uint8_t k[32];
  REQUIRE(crypto_pwhash(k, sizeof k, pass.data(), pass.size(), f.data() + 21, ops, mem, crypto_pwhash_ALG_ARGON2ID13) == 0);
  size_t header = f.size();
  f.resize(header + 48);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(f.data() + header, &clen, key.seed().data(), 32, f.data(), header, nullptr,
                                             f.data() + 37, k);
  sodium_memzero(k, sizeof k);
  f.resize(f.size() + 32);
  return with_checksum(f);
}

constexpr uint32_t kMinOps = 1;
constexpr uint64_t kMinMem = 8192;

}  // namespace

TEST_CASE("crypto: key file round trip and layout (interactive KDF)", "[crypto]") {
  auto key = hc::SigningKey::generate();
  const std::string name = "Cán bộ tiếp nhận 1";
  const std::string pass = "mật khẩu đúng";
  auto sealed = hc::seal_key_file(key, name, pass, hc::Kdf::interactive);
  REQUIRE(sealed.ok());
  const hc::Bytes& f = *sealed;
  REQUIRE(f.size() == kKeyFileFixed + name.size());
  CHECK(str_of(hc::Bytes(f.begin(), f.begin() + 8)) == std::string("HOSOKEY\x01", 8));
  CHECK(f[8] == 1);
  CHECK(hc::to_hex(hc::ByteView(f.data() + 9, 4)) == "00000002");                  // opslimit 2
  CHECK(hc::to_hex(hc::ByteView(f.data() + 13, 8)) == "0000000004000000");          // 64 MiB
  CHECK(f[61] == 0);
  CHECK(f[62] == static_cast<uint8_t>(name.size()));
  CHECK(str_of(hc::Bytes(f.begin() + 63, f.begin() + 63 + static_cast<long>(name.size()))) == name);
  CHECK(std::equal(key.public_key().begin(), key.public_key().end(), f.begin() + 63 + static_cast<long>(name.size())));
  auto sum = hc::blake2b256(hc::ByteView(f.data(), f.size() - 32));
  CHECK(std::equal(sum.begin(), sum.end(), f.end() - 32));
  // the seed is not in the clear
  std::string fs = str_of(f);
  CHECK(fs.find(std::string(key.seed().view())) == std::string::npos);

  hc::KeyFileInfo info;
  auto opened = hc::open_key_file(f, pass, &info);
  REQUIRE(opened.ok());
  CHECK(opened->public_key() == key.public_key());
  CHECK(opened->seed().view() == key.seed().view());
  CHECK(info.name == name);
  CHECK(info.pub == key.public_key());
  auto opened_no_info = hc::open_key_file(f, pass);
  CHECK(opened_no_info.ok());

  auto peek = hc::peek_key_file(f);
  REQUIRE(peek.ok());
  CHECK(peek->name == name);
  CHECK(peek->pub == key.public_key());

  SECTION("a wrong passphrase is wrong_passphrase, not damaged") {
    auto w = hc::open_key_file(f, "mật khẩu sai");
    CHECK(code(w) == "wrong_passphrase");
    auto prefix = hc::open_key_file(f, pass.substr(0, pass.size() - 1));
    CHECK(code(prefix) == "wrong_passphrase");
  }
  SECTION("salt and nonce are fresh each time") {
    // a cheap second seal: same key, same passphrase, other bytes
    auto again = hc::seal_key_file(key, name, pass, hc::Kdf::interactive);
    REQUIRE(again.ok());
    CHECK(hc::Bytes(again->begin() + 21, again->begin() + 61) != hc::Bytes(f.begin() + 21, f.begin() + 61));
    CHECK(*again != f);
  }
}

TEST_CASE("crypto: seal_key_file refuses empty passphrases and long names", "[crypto]") {
  auto key = key_from(3);
  CHECK(code(hc::seal_key_file(key, "x", "", hc::Kdf::interactive)) == "invalid_argument");
  CHECK(code(hc::seal_key_file(key, std::string(256, 'n'), "p", hc::Kdf::interactive)) == "invalid_argument");
  CHECK(code(hc::seal_key_file(key, std::string(1000, 'n'), "p", hc::Kdf::moderate)) == "invalid_argument");
}

TEST_CASE("crypto: hand-built key files (PROTOCOL §6.1) open; every check is reached", "[crypto]") {
  auto key = key_from(0x41);
  const std::string pass = "pass";
  const std::string name(255, 'k');  // the longest name hoso writes
  hc::Bytes f = build_key_file(key, key.public_key(), name, pass, kMinOps, kMinMem);
  REQUIRE(f.size() == kKeyFileFixed + 255);
  auto opened = hc::open_key_file(f, pass);
  REQUIRE(opened.ok());
  CHECK(opened->public_key() == key.public_key());

  SECTION("an empty name") {
    hc::Bytes g = build_key_file(key, key.public_key(), "", pass, kMinOps, kMinMem);
    CHECK(g.size() == kKeyFileFixed);
    hc::KeyFileInfo info;
    info.name = "stale";
    REQUIRE(hc::open_key_file(g, pass, &info).ok());
    CHECK(info.name.empty());
  }
  SECTION("a sealed seed whose public key differs from the stored one is damaged") {
    hc::Bytes g = build_key_file(key, key_from(0x42).public_key(), "x", pass, kMinOps, kMinMem);
    CHECK(hc::peek_key_file(g).ok());  // intact to the checksum
    auto r = hc::open_key_file(g, pass);
    CHECK(code(r) == "damaged");
  }
  SECTION("any header change with a recomputed checksum fails to open (AEAD over the header)") {
    for (size_t at : {size_t{21}, size_t{40}, size_t{63}, size_t{63 + 254}, size_t{63 + 255 + 5}}) {
      hc::Bytes g = f;
      g[at] ^= 0x01;
      g = with_checksum(g);
      INFO("byte " << at);
      CHECK(hc::peek_key_file(g).ok());
      CHECK(code(hc::open_key_file(g, pass)) == "wrong_passphrase");
    }
    // in-range parameters changed: the header differs, so the AEAD refuses
    hc::Bytes g = f;
    put_be(g, 9, 2, 4);
    CHECK(code(hc::open_key_file(with_checksum(g), pass)) == "wrong_passphrase");
  }
  SECTION("out-of-range KDF parameters are damaged before argon2id runs") {
    struct Case { uint64_t ops, mem; };
    for (Case c : {Case{0, kMinMem}, Case{17, kMinMem}, Case{0xFFFFFFFFull, kMinMem}, Case{kMinOps, kMinMem - 1},
                   Case{kMinOps, (1ull << 30) + 1}, Case{kMinOps, 0}, Case{kMinOps, ~0ull}}) {
      hc::Bytes g = f;
      put_be(g, 9, c.ops, 4);
      put_be(g, 13, c.mem, 8);
      g = with_checksum(g);
      INFO("ops " << c.ops << " mem " << c.mem);
      auto r = hc::open_key_file(g, pass);
      CHECK(code(r) == "damaged");
      CHECK(msg(r).find("out-of-range") != std::string::npos);
      CHECK(code(hc::peek_key_file(g)) == "damaged");
    }
    // the bounds themselves are accepted (peek: no argon2id with 1 GiB here)
    for (Case c : {Case{16, kMinMem}, Case{kMinOps, 1ull << 30}}) {
      hc::Bytes g = f;
      put_be(g, 9, c.ops, 4);
      put_be(g, 13, c.mem, 8);
      INFO("ops " << c.ops << " mem " << c.mem);
      CHECK(hc::peek_key_file(with_checksum(g)).ok());
    }
  }
  SECTION("bad magic, unknown KDF, wrong name length: damaged even with a good checksum") {
    hc::Bytes magic = f;
    magic[0] = 'X';
    CHECK(code(hc::open_key_file(with_checksum(magic), pass)) == "damaged");
    hc::Bytes version = f;
    version[7] = 2;
    CHECK(code(hc::open_key_file(with_checksum(version), pass)) == "damaged");
    hc::Bytes kdf = f;
    kdf[8] = 2;
    auto r = hc::open_key_file(with_checksum(kdf), pass);
    CHECK(code(r) == "damaged");
    CHECK(msg(r).find("unknown KDF") != std::string::npos);
    for (uint64_t n : {0ull, 254ull, 256ull, 65535ull}) {
      hc::Bytes g = f;
      put_be(g, 61, n, 2);
      INFO("name length " << n);
      CHECK(code(hc::open_key_file(with_checksum(g), pass)) == "damaged");
      CHECK(code(hc::peek_key_file(with_checksum(g))) == "damaged");
    }
    // an extra byte inside, checksum recomputed: the size no longer matches
    hc::Bytes g = f;
    g.insert(g.begin() + 70, 'z');
    CHECK(code(hc::open_key_file(with_checksum(g), pass)) == "damaged");
  }
}

TEST_CASE("crypto: every flipped, missing or extra byte of a key file is damaged", "[crypto]") {
  auto key = key_from(0x61);
  const std::string pass = "pass";
  // sealed by the code under test (argon2id interactive) ...
  auto sealed = hc::seal_key_file(key, "thiết bị 1", pass, hc::Kdf::interactive);
  REQUIRE(sealed.ok());
  // ... and by hand, with a long name
  const std::vector<hc::Bytes> files = {*sealed, build_key_file(key, key.public_key(), "a name", pass, kMinOps, kMinMem)};
  for (const hc::Bytes& f : files) {
    INFO("file of " << f.size() << " bytes");
    size_t checked = 0;
    for (size_t i = 0; i < f.size(); ++i) {
      for (uint8_t mask : {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF}) {
        hc::Bytes g = f;
        g[i] ^= mask;
        auto r = hc::open_key_file(g, pass);
        auto p = hc::peek_key_file(g);
        if (code(r) != "damaged" || code(p) != "damaged") {
          FAIL_CHECK("byte " << i << " mask " << int(mask) << ": open " << code(r) << ", peek " << code(p));
        }
        ++checked;
      }
    }
    CHECK(checked == f.size() * 9);
    // truncated at every length, the empty file included
    for (size_t n = 0; n < f.size(); ++n) {
      hc::Bytes g(f.begin(), f.begin() + static_cast<long>(n));
      if (code(hc::open_key_file(g, pass)) != "damaged" || code(hc::peek_key_file(g)) != "damaged")
        FAIL_CHECK("truncated to " << n << " bytes is not damaged");
    }
    CHECK(code(hc::open_key_file({}, pass)) == "damaged");
    // appended bytes
    for (int extra = 0; extra < 256; extra += 17) {
      hc::Bytes g = f;
      g.push_back(static_cast<uint8_t>(extra));
      CHECK(code(hc::open_key_file(g, pass)) == "damaged");
    }
    hc::Bytes twice = f;
    twice.insert(twice.end(), f.begin(), f.end());
    CHECK(code(hc::open_key_file(twice, pass)) == "damaged");
    // a byte removed from the middle
    hc::Bytes g = f;
    g.erase(g.begin() + 30);
    CHECK(code(hc::open_key_file(g, pass)) == "damaged");
    // still opens untouched
    CHECK(hc::open_key_file(f, pass).ok());
  }
}

// ============================================================================
// Canonical JSON
// ============================================================================

TEST_CASE("crypto: canonical encoding", "[crypto]") {
  auto enc = [](const json& j) {
    auto r = hc::canonical_json(j);
    INFO(msg(r));
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(enc(json::parse(R"({"b": 1, "a": 2, "aa": 3, "B": 4, "_": 5, "a_b": 6, "": 7})")) ==
        R"({"":7,"B":4,"_":5,"a":2,"a_b":6,"aa":3,"b":1})");
  CHECK(enc(json::parse(R"({"z": {"y": [3, 1, {"b": null, "a": true}], "x": false}, "a": []})")) ==
        R"({"a":[],"z":{"x":false,"y":[3,1,{"a":true,"b":null}]}})");
  CHECK(enc(json::parse("[9007199254740991, -9007199254740991, 0, -1, 1]")) ==
        "[9007199254740991,-9007199254740991,0,-1,1]");
  CHECK(enc(json::parse(R"("\"quoted\" \\ back\/slash /")")) == R"("\"quoted\" \\ back/slash /")");
  CHECK(hex_of(enc(json::parse(R"("\u0000\u0001\u000b\u000E\u001F\u007f")"))) ==
        "225c75303030305c75303030315c75303030625c75303030655c75303031667f22");
  CHECK(enc(json::parse(R"("\u0110\u01b0\u1edd\u006e\u0067")")) == "\"Đường\"");
  CHECK(enc(json::parse(R"("\ud83d\udcc4 h\u1ed3 s\u01a1")")) == "\"📄 hồ sơ\"");
  CHECK(enc(json::parse("-0")) == "0");
  CHECK(enc(json::object()) == "{}");
  CHECK(enc(json::array()) == "[]");
  CHECK(enc(json("")) == "\"\"");
  CHECK(enc(json(nullptr)) == "null");
  CHECK(enc(json(true)) == "true");
  CHECK(enc(json(false)) == "false");
  CHECK(enc(json(uint64_t{9007199254740991})) == "9007199254740991");
  CHECK(enc(json::parse("{\"a\\\"b\":1}")) == "{\"a\\\"b\":1}");
  CHECK(enc(json::parse("{\"\\u007f\":1}")) == "{\"\x7f\":1}");
  CHECK(enc(json("\u2028\u2029")) == "\"\u2028\u2029\"");

  SECTION("every ASCII byte in a string: the escape table of PROTOCOL §2.2") {
    for (int c = 0; c < 0x80; ++c) {
      std::string s(1, static_cast<char>(c));
      std::string want;
      switch (c) {
        case '"': want = "\\\""; break;
        case '\\': want = "\\\\"; break;
        case 0x08: want = "\\b"; break;
        case 0x0C: want = "\\f"; break;
        case 0x0A: want = "\\n"; break;
        case 0x0D: want = "\\r"; break;
        case 0x09: want = "\\t"; break;
        default: {
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            want = buf;
          } else {
            want = s;
          }
        }
      }
      INFO("byte " << c);
      CHECK(enc(json(s)) == "\"" + want + "\"");
      // and as a key
      CHECK(hc::canonical_json(json{{s, 0}}).ok() == (c >= 0x20));
    }
    // bytes 0x80..0xFF alone are never UTF-8
    for (int c = 0x80; c < 0x100; ++c) {
      INFO("byte " << c);
      CHECK(code(hc::canonical_json(json(std::string(1, static_cast<char>(c))))) == "bad_format");
    }
  }

  SECTION("refusals name the path") {
    struct Case {
      json value;
      const char* path;
    };
    const std::vector<Case> cases = {
        {json::parse(R"({"a": [0, {"b": 1.5}]})"), "a[1].b"},
        {json::parse(R"([1.0])"), "[0]"},
        {json::parse(R"({"x": {"y": 9007199254740992}})"), "x.y"},
        {json::parse(R"({"n": -9007199254740992})"), "n"},
        {json{{"u", std::numeric_limits<uint64_t>::max()}}, "u"},
        {json{{"i", std::numeric_limits<int64_t>::min()}}, "i"},
        {json{{"s", std::string("\xC0\x80")}}, "s"},
        {json{{"list", {1, 2, std::string("ok\xED\xA0\x80")}}}, "list[2]"},
        {json{{"o", {{"caf\xC3\xA9", 1}}}}, "o"},
        {json{{"o", {{std::string("a\nb"), 1}}}}, "o"},
        {json::binary({1, 2, 3}), ""},
    };
    for (const auto& c : cases) {
      auto r = hc::canonical_json(c.value);
      INFO("path " << c.path << ": " << msg(r));
      CHECK(code(r) == "bad_format");
      CHECK(msg(r).rfind(std::string(c.path) + ":", 0) == 0);
    }
    CHECK(msg(hc::canonical_json(json::parse("[1.5]"))).find("integers") != std::string::npos);
    CHECK(msg(hc::canonical_json(json{{"s", std::string("\xFF")}})).find("UTF-8") != std::string::npos);
    CHECK(msg(hc::canonical_json(json{{"\xC3\xA9", 1}})).find("ASCII") != std::string::npos);
    json nan = std::numeric_limits<double>::quiet_NaN();
    CHECK(code(hc::canonical_json(nan)) == "bad_format");
    CHECK(code(hc::canonical_json(json(0.0))) == "bad_format");
  }
}

TEST_CASE("crypto: parse_canonical accepts one spelling per value", "[crypto]") {
  const std::vector<std::string> good = {
      "{}", "[]", "null", "true", "false", "0", "-1", "9007199254740991", "-9007199254740991", "\"\"",
      R"({"":7,"B":4,"_":5,"a":2,"a_b":6,"aa":3,"b":1})",
      R"({"a":[],"z":{"x":false,"y":[3,1,{"a":true,"b":null}]}})",
      "\"Đường\"", "\"📄 hồ sơ\"", "\"\\u0000\\u001f\\b\\f\\n\\r\\t\\\"\\\\/\x7f\"",
      "{\"a\":1,\"a\\\"\":0,\"a0\":2}" /* key bytes sort a < a" (0x22) < a0 (0x30) */,
  };
  for (const auto& g : good) {
    auto r = hc::parse_canonical(g);
    INFO(g << " -> " << msg(r));
    REQUIRE(r.ok());
    CHECK(*hc::canonical_json(*r) == g);
  }
  CHECK(code(hc::parse_canonical("{\"a\":1,\"a0\":2,\"a\\\"\":0}")) == "bad_format");

  // PROTOCOL §2.3: every other spelling is refused
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "empty"},
      {" {}", "leading space"},
      {"{} ", "trailing space"},
      {"{}\n", "trailing newline"},
      {"{ }", "space inside"},
      {"{\"a\": 1}", "space after colon"},
      {"{\"a\":1 }", "space before brace"},
      {"[1, 2]", "space after comma"},
      {"\xEF\xBB\xBF{}", "byte order mark"},
      {"{\"b\":1,\"a\":2}", "key order"},
      {"{\"B\":1,\"A\":2}", "key order, capitals"},
      {"{\"aa\":1,\"a\":2}", "prefix sorts first"},
      {"{\"a\":1,\"a\":1}", "duplicate key"},
      {"{\"a\":1,\"a\":2}", "duplicate key, other value"},
      {"{\"o\":{\"k\":1,\"k\":1}}", "nested duplicate key"},
      {"[{\"k\":1,\"k\":1}]", "duplicate key in array"},
      {"\"\\u0041\"", "\\u0041"},
      {"\"\\/\"", "\\/"},
      {"\"\\u001F\"", "upper-case hex escape"},
      {"\"\\u000a\"", "short escape spelled long"},
      {"\"\\u0022\"", "quote spelled long"},
      {"\"\\u005c\"", "backslash spelled long"},
      {"\"\\u00e9\"", "escaped non-ASCII"},
      {"\"\\u1ec7\"", "escaped Vietnamese"},
      {"\"\\ud83d\\udcc4\"", "escaped surrogate pair"},
      {"\"\\u2028\"", "escaped line separator"},
      {"\"\\u007f\"", "escaped DEL"},
      {"\"\\ud800\"", "lone high surrogate escape"},
      {"\"\\udc00\"", "lone low surrogate escape"},
      {"\"\\udc00\\ud800\"", "reversed surrogates"},
      {"1.0", "1.0"},
      {"1e2", "1e2"},
      {"1E2", "1E2"},
      {"0.5", "fraction"},
      {"[1.5]", "nested fraction"},
      {"{\"a\":1e0}", "exponent in object"},
      {"-0", "-0"},
      {"01", "leading zero"},
      {"+1", "plus sign"},
      {"9007199254740992", "2^53"},
      {"-9007199254740992", "-2^53"},
      {"18446744073709551616", "beyond uint64"},
      {"{\"\xC3\xA9\":1}", "non-ASCII key"},
      {"{\"\\u0001\":1}", "control-character key"},
      {"\"a\nb\"", "raw newline in string"},
      {std::string("\"a\0b\"", 5), "raw NUL in string"},
      {"\"\x1f\"", "raw control character"},
      {"\"\xC0\x80\"", "overlong NUL"},
      {"\"\xC1\xBF\"", "overlong 2-byte"},
      {"\"\xE0\x80\x80\"", "overlong 3-byte"},
      {"\"\xE0\x9F\xBF\"", "overlong 3-byte, top"},
      {"\"\xF0\x80\x80\x80\"", "overlong 4-byte"},
      {"\"\xF0\x8F\xBF\xBF\"", "overlong 4-byte, top"},
      {"\"\xED\xA0\x80\"", "encoded high surrogate"},
      {"\"\xED\xBF\xBF\"", "encoded low surrogate"},
      {"\"\xED\xA0\xBD\xED\xB3\x84\"", "CESU-8 pair"},
      {"\"\xF4\x90\x80\x80\"", "above U+10FFFF"},
      {"\"\xF5\x80\x80\x80\"", "F5 lead"},
      {"\"\xF8\x88\x80\x80\x80\"", "5-byte form"},
      {"\"\xFF\"", "FF"},
      {"\"\xFE\"", "FE"},
      {"\"\x80\"", "stray continuation"},
      {"\"a\xBF\"", "stray continuation after ASCII"},
      {"\"\xC3\"", "truncated 2-byte"},
      {"\"\xE1\x80\"", "truncated 3-byte"},
      {"\"\xF0\x9F\x93\"", "truncated 4-byte"},
      {"\"\xC3\x28\"", "bad continuation"},
      {"\"\xE1\x80\x28\"", "bad third byte"},
      {"{", "unterminated object"},
      {"[1,]", "trailing comma"},
      {"{}{}", "two values"},
      {"{}x", "trailing garbage"},
      {"'a'", "single quotes"},
      {"{a:1}", "unquoted key"},
      {"[1]//c", "comment"},
      {"NaN", "NaN"},
      {"Infinity", "Infinity"},
      {"True", "capitalised literal"},
  };
  for (const auto& [text, why] : bad) {
    auto r = hc::parse_canonical(text);
    INFO(why << ": " << hex_of(text));
    CHECK(code(r) == "bad_format");
    CHECK_FALSE(msg(r).empty());
    // the refusal's words are the general parser's
    CHECK(msg(r) == msg(hc::detail::parse_canonical_by_encoding(text)));
  }
  CHECK(msg(hc::parse_canonical("{\"a\":1,\"a\":1}")).find("duplicate key \"a\"") != std::string::npos);
  CHECK(msg(hc::parse_canonical("[1.0]")).find("integers") != std::string::npos);
  CHECK(msg(hc::parse_canonical("{\"b\":1,\"a\":2}")).find("canonical") != std::string::npos);
}

TEST_CASE("crypto: nesting is bounded", "[crypto]") {
  CHECK(hc::parse_canonical(nest(32, "[", "]")).ok());
  CHECK(code(hc::parse_canonical(nest(33, "[", "]"))) == "bad_format");
  CHECK(msg(hc::parse_canonical(nest(33, "[", "]"))).find("nesting deeper than 32") != std::string::npos);
  CHECK(hc::parse_canonical(nest(31, "{\"a\":", "}", "[]")).ok());
  CHECK(code(hc::parse_canonical(nest(32, "{\"a\":", "}", "[]"))) == "bad_format");
  CHECK(hc::parse_canonical(nest(32, "{\"a\":", "}", "1")).ok());
  CHECK(code(hc::parse_canonical(nest(33, "{\"a\":", "}", "1"))) == "bad_format");
  CHECK(code(hc::parse_canonical(nest(31, "[", "]", nest(2, "{\"a\":", "}", "1").c_str()))) == "bad_format");
  CHECK(code(hc::parse_canonical(nest(100000, "[", "]"))) == "bad_format");  // no stack overflow
  CHECK(code(hc::parse_json_strict(nest(100000, "{\"a\":", "}", "1"))) == "bad_format");
  // siblings do not add up: depth, not count
  std::string wide = "[";
  for (int i = 0; i < 100; ++i) wide += (i ? "," : "") + nest(31, "[", "]");
  wide += "]";
  CHECK(hc::parse_canonical(wide).ok());
  // the bound is a parameter
  CHECK(hc::parse_canonical("[[[]]]", 3).ok());
  CHECK(code(hc::parse_canonical("[[[]]]", 2)) == "bad_format");
  CHECK(hc::parse_json_strict(" [ [ ] ] ", 2).ok());
  CHECK(code(hc::parse_json_strict("[[[]]]", 2)) == "bad_format");
  CHECK(code(hc::parse_canonical("[]", 0)) == "bad_format");
  CHECK(hc::parse_canonical("1", 0).ok());
}

TEST_CASE("crypto: parse_json_strict reads people's JSON", "[crypto]") {
  auto r = hc::parse_json_strict("\n{ \"b\" : [ 1 , 2 ],\r\n\t\"a\": \"Xã\" }\n");
  REQUIRE(r.ok());
  CHECK(*hc::canonical_json(*r) == "{\"a\":\"Xã\",\"b\":[1,2]}");
  CHECK(hc::parse_json_strict("\"\\u0041\\/\"").ok());
  CHECK(*hc::parse_json_strict("\"\\u0041\\/\"") == json("A/"));

  for (const std::string bad : {"{\"a\":1, \"a\":2}", "[1.0]", "{\"x\": 1e3}", "\"\xC0\x80\"", "\"\xED\xA0\x80\"",
                                "\"\\ud800\"", "{", "", "{} {}", "[1,]", "// c\n{}", "{\"a\":[{\"b\":1,\"b\":1}]}"}) {
    INFO(hex_of(bad));
    CHECK(code(hc::parse_json_strict(bad)) == "bad_format");
  }
  // errors say where
  auto e = hc::parse_json_strict("{\n  \"a\": tru,\n  \"b\": 1\n}");
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().message.rfind("invalid JSON: ", 0) == 0);
  CHECK(e.error().message.find("line 2") != std::string::npos);
  CHECK(e.error().message.find("[json.exception") == std::string::npos);
  CHECK(msg(hc::parse_json_strict("{\"k\":1,\"k\":2}")).find("duplicate key \"k\"") != std::string::npos);
  // duplicates in different objects are fine
  CHECK(hc::parse_json_strict("{\"a\":{\"k\":1},\"b\":{\"k\":1}}").ok());
  CHECK(hc::parse_json_strict("[{\"k\":1},{\"k\":1}]").ok());
}

TEST_CASE("crypto: random values round-trip through canonical JSON", "[crypto]") {
  INFO("rng seed " << kSeed);
  for (int round = 0; round < 3000; ++round) {
    json v = random_value(5);
    auto c = hc::canonical_json(v);
    INFO("round " << round << ": " << v.dump());
    REQUIRE(c.ok());
    auto back = hc::parse_canonical(*c);
    INFO("canonical " << *c << " -> " << msg(back));
    REQUIRE(back.ok());
    CHECK(*back == v);
    CHECK(*hc::canonical_json(*back) == *c);
    // an independent encoder (nlohmann's compact output, which sorts keys by
    // bytes and escapes like RFC 8785) agrees byte for byte on this subset
    CHECK(v.dump() == *c);
    // any other spelling reads as the same value with parse_json_strict ...
    std::string pretty = v.dump(1 + static_cast<int>(rnd(3)), ' ', rnd(2) == 0);
    auto strict = hc::parse_json_strict(pretty);
    REQUIRE(strict.ok());
    CHECK(*strict == v);
    // ... and parse_canonical refuses it unless it is byte-identical
    if (pretty != *c) CHECK(code(hc::parse_canonical(pretty)) == "bad_format");
    // nlohmann's own compact output differs only where canonical JSON is stricter
    std::string compact = v.dump(-1, ' ', true);  // \uXXXX for all non-ASCII
    if (compact != *c) CHECK_FALSE(hc::parse_canonical(compact).ok());
  }
}

namespace {
// Same value and the same number types throughout (nlohmann's == counts 5 and
// 5u equal; doc_check tells them apart).
bool same_tree(const json& a, const json& b) {
  if (a.type() != b.type()) return false;
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto i = a.begin(), k = b.begin(); i != a.end(); ++i, ++k)
      if (i.key() != k.key() || !same_tree(i.value(), k.value())) return false;
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_tree(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

// parse_canonical reads the bytes in one pass; its definition is "parse,
// encode again, compare" (detail::parse_canonical_by_encoding). Either both
// refuse, or both accept with the same tree.
void agree(const std::string& text, int max_depth = 32) {
  auto fast = hc::parse_canonical(text, max_depth);
  auto slow = hc::detail::parse_canonical_by_encoding(text, max_depth);
  if (fast.ok() != slow.ok()) {
    FAIL_CHECK("readers disagree on " << hex_of(text) << ": one-pass " << (fast.ok() ? "ok" : msg(fast)) << ", by encoding "
                                      << (slow.ok() ? "ok" : msg(slow)));
    return;
  }
  if (fast.ok() && !same_tree(*fast, *slow)) FAIL_CHECK("readers build different values from " << hex_of(text));
  // A refusal says why in the general parser's words, never "internal".
  if (!fast.ok() && (code(fast) != "bad_format" || msg(fast) != msg(slow))) FAIL_CHECK("refusal of " << hex_of(text) << ": " << msg(fast));
}
}  // namespace

TEST_CASE("crypto: the one-pass canonical reader agrees with parse-and-encode on every input", "[crypto]") {
  INFO("rng seed " << kSeed);
  const std::string alphabet = "{}[]\",:\\-0123456789.eEtrufalsn u/\x01\x7f\xc3\xa9\xed\xa0";
  int accepted = 0, mutants = 0;
  for (int round = 0; round < 4000; ++round) {
    json v = random_value(4);
    auto c = hc::canonical_json(v);
    REQUIRE(c.ok());
    agree(*c);
    auto back = hc::parse_canonical(*c);
    REQUIRE(back.ok());
    CHECK(same_tree(*back, *hc::detail::parse_canonical_by_encoding(*c)));
    ++accepted;
    // Depth limits: the same bytes under a tighter bound.
    agree(*c, 1 + static_cast<int>(rnd(4)));
    // Mutants: a byte replaced, inserted or removed; two bytes swapped; cut short.
    for (int m = 0; m < 6 && !c->empty(); ++m) {
      std::string t = *c;
      const size_t at = rnd(t.size());
      switch (rnd(5)) {
        case 0: t[at] = rnd(2) ? alphabet[rnd(alphabet.size())] : static_cast<char>(rnd(256)); break;
        case 1: t.insert(t.begin() + static_cast<long>(at), alphabet[rnd(alphabet.size())]); break;
        case 2: t.erase(at, 1); break;
        case 3: std::swap(t[at], t[rnd(t.size())]); break;
        default: t.resize(at); break;
      }
      agree(t);
      ++mutants;
    }
    // Other spellings of the same value.
    agree(v.dump(1, ' ', rnd(2) == 0));
    agree(v.dump(-1, ' ', true));
  }
  // Short strings over the alphabet the grammar turns on.
  for (int round = 0; round < 20000; ++round) {
    std::string t;
    for (size_t n = 1 + rnd(8); n > 0; --n) t += alphabet[rnd(alphabet.size())];
    agree(t);
  }
  // Every two-byte string, and every escape spelling.
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) agree(std::string{'"', static_cast<char>(a), static_cast<char>(b), '"'});
  for (int e = 0; e < 0x100; ++e) {
    char u[16];
    std::snprintf(u, sizeof u, "\"\\u%04x\"", e);
    agree(u);
    std::snprintf(u, sizeof u, "\"\\u%04X\"", e);
    agree(u);
    std::snprintf(u, sizeof u, "{\"\\u%04x\":1}", e);
    agree(u);
  }
  // Integers at every length and edge.
  for (const char* n : {"0", "-0", "00", "-1", "1", "9007199254740991", "-9007199254740991", "9007199254740992",
                        "-9007199254740992", "99999999999999999", "1234567890123456", "12345678901234567", "1.", "-", "--1",
                        "1e", "0x1", "[0,-0]", "[01]", "{\"a\":-}"})
    agree(n);
  CHECK(accepted == 4000);
  CHECK(mutants > 20000);
}

TEST_CASE("crypto: random strings with every byte value through the string encoder", "[crypto]") {
  INFO("rng seed " << kSeed);
  // every one- and two-byte string: accepted exactly when well-formed UTF-8
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) {
      std::string s{static_cast<char>(a), static_cast<char>(b)};
      auto c = hc::canonical_json(json(s));
      if (c.ok() != reference_utf8(s)) FAIL_CHECK("bytes " << a << " " << b << ": encoder " << code(c));
      if (c.ok()) {
        auto back = hc::parse_canonical(*c);
        if (!back.ok() || back->get<std::string>() != s) FAIL_CHECK("bytes " << a << " " << b << " do not round-trip");
      }
    }
  // every three-byte string starting with a lead byte E0..EF (the surrogate and overlong corners)
  for (int a = 0xE0; a <= 0xEF; ++a)
    for (int b = 0x70; b < 0xD0; ++b)
      for (int c3 : {0x00, 0x41, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF}) {
        std::string s{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c3)};
        if (hc::canonical_json(json(s)).ok() != reference_utf8(s)) FAIL_CHECK("bytes " << a << " " << b << " " << c3);
      }
  // four-byte leads
  for (int a = 0xF0; a <= 0xFF; ++a)
    for (int b = 0x70; b < 0xD0; ++b) {
      std::string s{static_cast<char>(a), static_cast<char>(b), '\x80', '\x80'};
      if (hc::canonical_json(json(s)).ok() != reference_utf8(s)) FAIL_CHECK("bytes " << a << " " << b << " 80 80");
    }
  // random byte strings: refused or round-tripped, as the reference says
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string s = random_bytes_str(rnd(12));
    auto c = hc::canonical_json(json(s));
    if (c.ok() != reference_utf8(s)) FAIL_CHECK("random bytes " << hex_of(s) << ": encoder " << code(c));
    if (!c.ok()) continue;
    ++accepted;
    auto back = hc::parse_canonical(*c);
    if (!back.ok() || back->get<std::string>() != s) FAIL_CHECK("random bytes " << hex_of(s) << " do not round-trip");
  }
  CHECK(accepted > 100);
  // random strings of scalar values, all bytes 0x00..0x7F among them, round-trip in
  // strings and as keys (ASCII keys only)
  for (int round = 0; round < 5000; ++round) {
    std::string s = random_text(40);
    auto c = hc::canonical_json(json(s));
    INFO("string " << hex_of(s));
    REQUIRE(c.ok());
    auto back = hc::parse_canonical(*c);
    REQUIRE(back.ok());
    CHECK(back->get<std::string>() == s);
    // exactly the escapes of the table, every other byte raw
    CHECK(*c == expected_string(s));
    // the string in escaped form through nlohmann's ASCII output reads back the same
    auto strict = hc::parse_json_strict(json(s).dump(-1, ' ', true));
    REQUIRE(strict.ok());
    CHECK(strict->get<std::string>() == s);
  }
}

// ============================================================================
// Signed items
// ============================================================================

namespace {

json sample_body() {
  return json{{"dossier", "000.00.31.H12-260305-1001"},
              {"action", "accept"},
              {"note", "Hồ sơ đầy đủ — \"đã kiểm tra\"\n"},
              {"seq", 42},
              {"fields", {{"cccd", "001234567890"}, {"tags", {"a", "b", nullptr, true, -7}}}}};
}

}  // namespace

TEST_CASE("crypto: sign_item builds the canonical envelope", "[crypto]") {
  auto signer = key_from(0x21), cosigner = key_from(0x41);
  json body = sample_body();
  auto it = hc::sign_item("example", body, signer);
  REQUIRE(it.ok());
  std::string bb = *hc::canonical_json(body);
  CHECK(it->type == "example");
  CHECK(it->body == body);
  CHECK(it->body_bytes == bb);
  CHECK_FALSE(it->cosig.has_value());
  CHECK(it->bytes == "{\"body\":" + bb + ",\"sig\":\"" + hc::to_hex(it->sig) + "\",\"type\":\"example\",\"v\":1}");
  CHECK(it->id == hc::blake2b256(hc::as_bytes(it->bytes)));
  CHECK(it->id_hex() == hc::to_hex(it->id));
  CHECK(hc::verify(signer.public_key(), "hoso-v1:example", hc::as_bytes(bb), it->sig));
  CHECK(hc::verify_sig(*it, signer.public_key()));
  CHECK_FALSE(hc::verify_sig(*it, cosigner.public_key()));
  CHECK_FALSE(hc::verify_cosig(*it, cosigner.public_key()));  // there is none

  auto co = hc::sign_item("example", body, signer, &cosigner);
  REQUIRE(co.ok());
  REQUIRE(co->cosig.has_value());
  CHECK(co->sig == it->sig);
  CHECK(co->bytes == "{\"body\":" + bb + ",\"cosig\":\"" + hc::to_hex(*co->cosig) + "\",\"sig\":\"" +
                         hc::to_hex(co->sig) + "\",\"type\":\"example\",\"v\":1}");
  CHECK(co->id != it->id);
  CHECK(hc::verify_sig(*co, signer.public_key()));
  CHECK(hc::verify_cosig(*co, cosigner.public_key()));
  CHECK_FALSE(hc::verify_cosig(*co, signer.public_key()));
  // the countersignature covers body bytes then the 64 raw sig bytes
  hc::Bytes m = bytes_of(bb);
  m.insert(m.end(), co->sig.begin(), co->sig.end());
  CHECK(hc::verify(cosigner.public_key(), "hoso-v1:example:cosign", m, *co->cosig));
  CHECK_FALSE(hc::verify(cosigner.public_key(), "hoso-v1:example:cosign", hc::as_bytes(bb), *co->cosig));
  CHECK_FALSE(hc::verify(cosigner.public_key(), "hoso-v1:example", m, *co->cosig));
  // a signature is not a countersignature, even by the same key
  auto self = hc::sign_item("example", body, signer, &signer);
  REQUIRE(self.ok());
  CHECK(hc::verify_cosig(*self, signer.public_key()));
  hc::SignedItem swapped = *self;
  swapped.cosig = swapped.sig;
  CHECK_FALSE(hc::verify_cosig(swapped, signer.public_key()));

  SECTION("refusals") {
    for (const char* t : {"", "Cert", "a-b", "a1", "a b", "hoso:cert", "abcdefghijklmnopqrstuvwxyzabcdefg", "é"}) {
      INFO("type \"" << t << "\"");
      CHECK(code(hc::sign_item(t, body, signer)) == "invalid_argument");
    }
    CHECK(hc::sign_item("abcdefghijklmnopqrstuvwxyz_abcde", body, signer).ok());  // 32
    CHECK(hc::sign_item("_", body, signer).ok());
    for (const json& b : {json::array(), json(1), json("x"), json(nullptr)}) {
      INFO(b.dump());
      CHECK(code(hc::sign_item("example", b, signer)) == "bad_format");
    }
    CHECK(code(hc::sign_item("example", json{{"f", 1.5}}, signer)) == "bad_format");
    CHECK(code(hc::sign_item("example", json{{"s", std::string("\xC0\xAF")}}, signer)) == "bad_format");
    CHECK(code(hc::sign_item("example", json{{"big", std::string(1 << 20, 'x')}}, signer)) == "invalid_argument");
    // nesting: the envelope is level 1, the body level 2; a reader accepts 32 levels
    json deep = 1;
    for (int i = 0; i < 30; ++i) deep = json::array({deep});
    auto ok31 = hc::sign_item("example", json{{"d", deep}}, signer);  // body: 31 levels
    REQUIRE(ok31.ok());
    CHECK(hc::parse_item(ok31->bytes).ok());
    deep = json::array({deep});
    auto too_deep = hc::sign_item("example", json{{"d", deep}}, signer);  // body: 32 levels
    CHECK(code(too_deep) == "bad_format");
    CHECK(has_text(msg(too_deep), "nested deeper"));
  }
}

TEST_CASE("crypto: envelopes of exactly 1 MiB are the largest", "[crypto]") {
  auto signer = key_from(0x21);
  auto probe = hc::sign_item("example", json{{"p", ""}}, signer);
  REQUIRE(probe.ok());
  size_t pad = hc::kMaxItemBytes - probe->bytes.size();
  auto exact = hc::sign_item("example", json{{"p", std::string(pad, 'x')}}, signer);
  REQUIRE(exact.ok());
  CHECK(exact->bytes.size() == hc::kMaxItemBytes);
  auto parsed = hc::parse_item(exact->bytes);
  REQUIRE(parsed.ok());
  CHECK(hc::verify_sig(*parsed, signer.public_key()));
  CHECK(code(hc::sign_item("example", json{{"p", std::string(pad + 1, 'x')}}, signer)) == "invalid_argument");
  // a reader refuses 1 MiB + 1 before parsing
  std::string over = exact->bytes;
  over.insert(over.find("\"p\":\"") + 5, "x");
  auto r = hc::parse_item(over);
  CHECK(code(r) == "bad_format");
  CHECK(msg(r).find("1 MiB") != std::string::npos);
}

TEST_CASE("crypto: parse_item reads envelopes and refuses malformed ones", "[crypto]") {
  auto signer = key_from(0x21), cosigner = key_from(0x41);
  auto co = hc::sign_item("example", sample_body(), signer, &cosigner);
  REQUIRE(co.ok());
  auto p = hc::parse_item(co->bytes);
  REQUIRE(p.ok());
  CHECK(p->type == co->type);
  CHECK(p->body == co->body);
  CHECK(p->body_bytes == co->body_bytes);
  CHECK(p->sig == co->sig);
  CHECK(p->cosig == co->cosig);
  CHECK(p->bytes == co->bytes);
  CHECK(p->id == co->id);
  CHECK(hc::verify_sig(*p, signer.public_key()));
  CHECK(hc::verify_cosig(*p, cosigner.public_key()));

  const std::string sig = hc::to_hex(co->sig);
  const std::string B = co->body_bytes;
  auto env = [&](const std::string& members) { return "{" + members + "}"; };
  const std::vector<std::pair<std::string, std::string>> bad = {
      {co->bytes + "\n", "trailing newline"},
      {" " + co->bytes, "leading space"},
      {"[]", "not an object"},
      {"\"item\"", "a string"},
      {env("\"body\":" + B + ",\"extra\":1,\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":1"), "unknown key"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"type\":\"example\""), "missing v"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":2"), "v 2"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":0"), "v 0"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":\"1\""), "v as string"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":true"), "v as bool"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"v\":1"), "missing type"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"type\":\"Example\",\"v\":1"), "type with a capital"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"type\":\"\",\"v\":1"), "empty type"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"type\":1,\"v\":1"), "type as integer"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"type\":\"" + std::string(33, 'a') + "\",\"v\":1"), "type too long"},
      {env("\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":1"), "missing body"},
      {env("\"body\":[],\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":1"), "body an array"},
      {env("\"body\":null,\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":1"), "body null"},
      {env("\"body\":" + B + ",\"type\":\"example\",\"v\":1"), "missing sig"},
      {env("\"body\":" + B + ",\"sig\":1,\"type\":\"example\",\"v\":1"), "sig as integer"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig.substr(2) + "\",\"type\":\"example\",\"v\":1"), "sig short"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig + "00\",\"type\":\"example\",\"v\":1"), "sig long"},
      {env("\"body\":" + B + ",\"sig\":\"A" + sig.substr(1) + "\",\"type\":\"example\",\"v\":1"), "sig upper case"},
      {env("\"body\":" + B + ",\"sig\":\"g" + sig.substr(1) + "\",\"type\":\"example\",\"v\":1"), "sig not hex"},
      {env("\"body\":" + B + ",\"cosig\":1,\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":1"), "cosig integer"},
      {env("\"body\":" + B + ",\"cosig\":\"ab\",\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":1"), "cosig short"},
      {env("\"body\":" + B + ",\"cosig\":null,\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":1"), "cosig null"},
      {env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":1,\"v\":1"), "duplicate v"},
      {env("\"sig\":\"" + sig + "\",\"body\":" + B + ",\"type\":\"example\",\"v\":1"), "keys out of order"},
      {"{\"body\":{\"b\":1,\"a\":2},\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":1}", "body not canonical"},
      {"{\"body\":{\"a\":1.5},\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":1}", "float in body"},
      {"", "empty"},
  };
  for (const auto& [text, why] : bad) {
    auto r = hc::parse_item(text);
    INFO(why << ": " << text.substr(0, 300));
    CHECK(code(r) == "bad_format");
    CHECK(msg(r).rfind("signed item", 0) == 0);
  }
  // the good spelling of the same pieces parses
  CHECK(hc::parse_item(env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":1")).ok());
  CHECK(msg(hc::parse_item(env("\"body\":" + B + ",\"extra\":1,\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":1")))
            .find("\"extra\"") != std::string::npos);
  CHECK(msg(hc::parse_item(env("\"body\":" + B + ",\"sig\":\"" + sig + "\",\"type\":\"example\",\"v\":2")))
            .find("version 2") != std::string::npos);
}

// parse_item cuts the signed body out of the canonical bytes instead of
// encoding it again: bodies holding the envelope's own key names, quotes and
// braces in strings, nested objects and non-ASCII text must give the same
// bytes as an encoding of the parsed body.
TEST_CASE("crypto: parse_item's signed bytes are the body's canonical encoding, whatever the body holds", "[crypto]") {
  auto signer = key_from(0x22), cosigner = key_from(0x42);
  const std::vector<std::string> bodies = {
      R"({})",
      R"({"a":1})",
      R"({"sig":"x","type":"example","v":1,"cosig":"y"})",
      R"({"note":"\",\"sig\":\"","z":{"sig":{"v":1},"type":[1,2,{"cosig":null}]}})",
      R"({"text":"Nguyễn Thị Lan }{ ,\"type\":\"example\",\"v\":1}","n":-12,"b":false})",
      R"({"body":{"body":{"body":"}"}},"zz":"\u0000"})"};
  for (const auto& text : bodies) {
    auto body = hc::parse_json_strict(text);
    INFO(text);
    REQUIRE(body.ok());
    for (bool with_cosig : {false, true}) {
      auto item = hc::sign_item("example", *body, signer, with_cosig ? &cosigner : nullptr);
      REQUIRE(item.ok());
      auto p = hc::parse_item(item->bytes);
      REQUIRE(p.ok());
      auto again = hc::canonical_json(p->body);
      REQUIRE(again.ok());
      CHECK(p->body_bytes == *again);
      CHECK(p->body_bytes == item->body_bytes);
      CHECK(p->body == *body);
      CHECK(hc::verify_sig(*p, signer.public_key()));
      CHECK(hc::verify_cosig(*p, cosigner.public_key()) == with_cosig);
    }
  }
}

TEST_CASE("crypto: a signature is bound to its type (domain)", "[crypto]") {
  auto signer = key_from(0x21), cosigner = key_from(0x41);
  auto it = hc::sign_item("cert", json{{"k", "v"}}, signer, &cosigner);
  REQUIRE(it.ok());
  // the same body and signatures presented under another type
  for (const char* other : {"event", "certs", "cer", "revocation", "example"}) {
    std::string e = it->bytes;
    e.replace(e.find("\"type\":\"cert\""), 13, std::string("\"type\":\"") + other + "\"");
    auto p = hc::parse_item(e);
    INFO(other);
    REQUIRE(p.ok());
    CHECK_FALSE(hc::verify_sig(*p, signer.public_key()));
    CHECK_FALSE(hc::verify_cosig(*p, cosigner.public_key()));
  }
  // a signature used as a countersignature and the other way round
  hc::SignedItem x = *it;
  std::swap(x.sig, *x.cosig);
  CHECK_FALSE(hc::verify_sig(x, cosigner.public_key()));
  CHECK_FALSE(hc::verify_cosig(x, signer.public_key()));
  // a cosig taken from another item over the same body does not verify
  auto other = hc::sign_item("cert", json{{"k", "v"}}, key_from(0x01), &cosigner);
  REQUIRE(other.ok());
  hc::SignedItem y = *it;
  y.cosig = other->cosig;
  CHECK_FALSE(hc::verify_cosig(y, cosigner.public_key()));
}

TEST_CASE("crypto: one flipped bit anywhere in a signed item is rejected", "[crypto]") {
  auto signer = key_from(0x21), cosigner = key_from(0x41);
  auto orig = hc::sign_item("example", sample_body(), signer, &cosigner);
  REQUIRE(orig.ok());
  auto plain = hc::sign_item("event", sample_body(), signer);
  REQUIRE(plain.ok());

  SECTION("every byte of a cosigned envelope, every bit") {
    const std::string& e = orig->bytes;
    size_t parsed = 0, tried = 0;
    for (size_t i = 0; i < e.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string t = e;
        t[i] = static_cast<char>(t[i] ^ (1 << bit));
        ++tried;
        auto p = hc::parse_item(t);
        if (!p.ok()) continue;
        ++parsed;
        if (hc::verify_sig(*p, signer.public_key()) && hc::verify_cosig(*p, cosigner.public_key()))
          FAIL_CHECK("byte " << i << " bit " << bit << " ('" << e[i] << "') still verifies");
        CHECK(p->id != orig->id);
      }
    }
    CHECK(tried == e.size() * 8);
    CHECK(parsed > 0);  // some flips keep the JSON canonical: the signatures catch them
  }
  SECTION("every byte of an envelope without cosig, every bit") {
    const std::string& e = plain->bytes;
    for (size_t i = 0; i < e.size(); ++i)
      for (int bit = 0; bit < 8; ++bit) {
        std::string t = e;
        t[i] = static_cast<char>(t[i] ^ (1 << bit));
        auto p = hc::parse_item(t);
        if (p.ok() && hc::verify_sig(*p, signer.public_key()))
          FAIL_CHECK("byte " << i << " bit " << bit << " still verifies");
      }
  }
  SECTION("every byte of the body, every bit: the signature fails") {
    const std::string& b = orig->body_bytes;
    hc::Bytes cm = bytes_of(b);
    cm.insert(cm.end(), orig->sig.begin(), orig->sig.end());
    for (size_t i = 0; i < b.size(); ++i)
      for (int bit = 0; bit < 8; ++bit) {
        std::string t = b;
        t[i] = static_cast<char>(t[i] ^ (1 << bit));
        if (hc::verify(signer.public_key(), "hoso-v1:example", hc::as_bytes(t), orig->sig))
          FAIL_CHECK("body byte " << i << " bit " << bit << " still verifies");
        hc::SignedItem s = *orig;
        s.body_bytes = t;
        if (hc::verify_sig(s, signer.public_key()) || hc::verify_cosig(s, cosigner.public_key()))
          FAIL_CHECK("item with body byte " << i << " bit " << bit << " still verifies");
      }
    // every byte of the countersigned message (body bytes, then sig)
    for (size_t i = 0; i < cm.size(); ++i) {
      hc::Bytes t = cm;
      t[i] ^= 0x01;
      if (hc::verify(cosigner.public_key(), "hoso-v1:example:cosign", t, *orig->cosig))
        FAIL_CHECK("cosign message byte " << i << " still verifies");
    }
  }
  SECTION("random messages as bodies: sign, parse, verify") {
    for (int round = 0; round < 300; ++round) {
      json body = json::object();
      body["m"] = random_text(30);
      body["v"] = random_value(3);
      auto it = hc::sign_item("example", body, signer, rnd(2) ? &cosigner : nullptr);
      REQUIRE(it.ok());
      auto p = hc::parse_item(it->bytes);
      INFO("round " << round << ": " << it->bytes);
      REQUIRE(p.ok());
      CHECK(p->body == body);
      CHECK(hc::verify_sig(*p, signer.public_key()));
      CHECK(hc::verify_cosig(*p, cosigner.public_key()) == it->cosig.has_value());
      std::string t = it->bytes;
      size_t at = rnd(t.size());
      t[at] = static_cast<char>(t[at] ^ (1 << rnd(8)));
      auto q = hc::parse_item(t);
      CHECK_FALSE((q.ok() && hc::verify_sig(*q, signer.public_key()) &&
                   (!it->cosig || hc::verify_cosig(*q, cosigner.public_key())) && q->cosig == it->cosig));
    }
  }
}

// ============================================================================
// Files
// ============================================================================

TEST_CASE("crypto: read_file", "[crypto]") {
  TempDir d;
  std::string bin = random_bytes_str(100000) + std::string("\0\r\n", 3);
  REQUIRE(hc::write_file_atomic(d.file("bin"), bin).ok());
  auto r = hc::read_file(d.file("bin"));
  REQUIRE(r.ok());
  CHECK(*r == bin);

  REQUIRE(hc::write_file_atomic(d.file("empty"), "").ok());
  auto e = hc::read_file(d.file("empty"));
  REQUIRE(e.ok());
  CHECK(e->empty());

  auto missing = hc::read_file(d.file("missing"));
  CHECK(code(missing) == "not_found");
  CHECK(msg(missing).find(d.file("missing")) != std::string::npos);
  CHECK(code(hc::read_file(d.path + "/missing-dir/file")) == "not_found");
  auto dir = hc::read_file(d.path);
  CHECK(code(dir) == "io");
  CHECK(msg(dir).find("directory") != std::string::npos);

  // the size bound
  CHECK(hc::read_file(d.file("bin"), bin.size()).ok());
  auto big = hc::read_file(d.file("bin"), bin.size() - 1);
  CHECK(code(big) == "invalid_argument");
  CHECK(msg(big).find("larger than") != std::string::npos);
  CHECK(code(hc::read_file(d.file("bin"), 0)) == "invalid_argument");
  CHECK(hc::read_file(d.file("empty"), 0).ok());
}

TEST_CASE("crypto: write_file_atomic", "[crypto]") {
  TempDir d;
  ::umask(022);
  const std::string f = d.file("cert");
  REQUIRE(hc::write_file_atomic(f, "one\n").ok());
  CHECK(*hc::read_file(f) == "one\n");
  struct stat st{};
  REQUIRE(::stat(f.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);

  // replaces by default
  REQUIRE(hc::write_file_atomic(f, "two\n").ok());
  CHECK(*hc::read_file(f) == "two\n");

  // exclusive: never replaces, and leaves the old contents
  auto ex = hc::write_file_atomic(f, "three\n", 0600, true);
  CHECK(code(ex) == "conflict");
  CHECK(msg(ex).find("already exists") != std::string::npos);
  CHECK(*hc::read_file(f) == "two\n");

  const std::string k = d.file("secret.key");
  REQUIRE(hc::write_file_atomic(k, std::string("\x01\x02\0", 3), 0600, true).ok());
  CHECK(*hc::read_file(k) == std::string("\x01\x02\0", 3));
  REQUIRE(::stat(k.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(code(hc::write_file_atomic(k, "x", 0600, true)) == "conflict");

  // no temporary files are left behind
  CHECK(d.entries() == std::vector<std::string>{"cert", "secret.key"});

  // a folder that does not exist
  CHECK(code(hc::write_file_atomic(d.path + "/nope/file", "x")) == "not_found");
  CHECK(code(hc::write_file_atomic(d.path + "/nope/file", "x", 0600, true)) == "not_found");
  // a path that is a folder
  CHECK_FALSE(hc::write_file_atomic(d.path, "x").ok());
  CHECK(d.entries() == std::vector<std::string>{"cert", "secret.key"});

  // threads writing the same path: every write succeeds and the file is
  // always one writer's whole contents, never a mix
  {
    const std::string shared = d.file("shared");
    std::atomic<int> failures{0}, torn{0};
    auto writer = [&](char c) {
      for (int i = 0; i < 200; ++i) {
        if (!hc::write_file_atomic(shared, std::string(20000, c)).ok()) ++failures;
        auto now = hc::read_file(shared);
        if (now.ok() && *now != std::string(20000, 'a') && *now != std::string(20000, 'b')) ++torn;
      }
    };
    std::thread ta(writer, 'a'), tb(writer, 'b');
    ta.join();
    tb.join();
    CHECK(failures == 0);
    CHECK(torn == 0);
    CHECK(d.entries() == std::vector<std::string>{"cert", "secret.key", "shared"});
    ::unlink(shared.c_str());
  }

  // a relative path (folder ".")
  char cwd[4096];
  REQUIRE(::getcwd(cwd, sizeof cwd) != nullptr);
  REQUIRE(::chdir(d.path.c_str()) == 0);
  auto rel = hc::write_file_atomic("relative", "r");
  REQUIRE(::chdir(cwd) == 0);
  CHECK(rel.ok());
  CHECK(*hc::read_file(d.file("relative")) == "r");
}
