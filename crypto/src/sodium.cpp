#include "hoso/crypto/sodium.hpp"

#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

namespace hoso::crypto {

const char* errc_name(Errc c) {
  switch (c) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::bad_format: return "bad_format";
    case Errc::bad_signature: return "bad_signature";
    case Errc::wrong_passphrase: return "wrong_passphrase";
    case Errc::damaged: return "damaged";
    case Errc::not_found: return "not_found";
    case Errc::unauthorized: return "unauthorized";
    case Errc::expired: return "expired";
    case Errc::revoked: return "revoked";
    case Errc::io: return "io";
    case Errc::busy: return "busy";
    case Errc::conflict: return "conflict";
    case Errc::storage: return "storage";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();
  });
}

SecretBytes::SecretBytes(size_t n) : n_(n) {
  init();
  if (n == 0) return;
  p_ = static_cast<uint8_t*>(sodium_malloc(n));
  if (!p_) throw std::bad_alloc();
}

SecretBytes::SecretBytes(const uint8_t* p, size_t n) : SecretBytes(n) {
  if (n) std::memcpy(p_, p, n);
}

SecretBytes::~SecretBytes() {
  if (p_) sodium_free(p_);  // sodium_free wipes before releasing
}

SecretBytes::SecretBytes(SecretBytes&& o) noexcept : p_(o.p_), n_(o.n_) {
  o.p_ = nullptr;
  o.n_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
  if (this != &o) {
    if (p_) sodium_free(p_);
    p_ = o.p_;
    n_ = o.n_;
    o.p_ = nullptr;
    o.n_ = 0;
  }
  return *this;
}

namespace {
std::mutex g_rng_mu;
RandomSource g_rng;
}  // namespace

void random_bytes(uint8_t* out, size_t n) {
  init();
  {
    std::lock_guard<std::mutex> lk(g_rng_mu);
    if (g_rng) {
      g_rng(out, n);
      return;
    }
  }
  randombytes_buf(out, n);
}

void set_random_source(RandomSource src) {
  std::lock_guard<std::mutex> lk(g_rng_mu);
  g_rng = std::move(src);
}

static_assert(sizeof(crypto_generichash_state) <= 384, "Blake2b256 state buffer too small");

Hash blake2b256(ByteView data) {
  init();
  Hash h{};
  crypto_generichash(h.data(), h.size(), data.data(), data.size(), nullptr, 0);
  return h;
}

Blake2b256::Blake2b256() {
  init();
  crypto_generichash_init(reinterpret_cast<crypto_generichash_state*>(state_), nullptr, 0, 32);
}

void Blake2b256::update(ByteView data) {
  crypto_generichash_update(reinterpret_cast<crypto_generichash_state*>(state_), data.data(), data.size());
}

Hash Blake2b256::finish() {
  Hash h{};
  crypto_generichash_final(reinterpret_cast<crypto_generichash_state*>(state_), h.data(), h.size());
  return h;
}

std::string to_hex(ByteView b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.resize(b.size() * 2);
  for (size_t i = 0; i < b.size(); ++i) {
    s[2 * i] = digits[b[i] >> 4];
    s[2 * i + 1] = digits[b[i] & 15];
  }
  return s;
}

Result<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2) return make_error(Errc::bad_format, "hex string of odd length");
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return make_error(Errc::bad_format, "not a hex digit");
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

void wipe(void* p, size_t n) {
  if (n) sodium_memzero(p, n);
}

bool equal_ct(ByteView a, ByteView b) {
  init();
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace hoso::crypto
