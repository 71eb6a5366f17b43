// The libsodium facade: initialisation, secure memory, randomness, hashing,
// hex. Everything else in hoso reaches libsodium through this module.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hoso/crypto/result.hpp"

namespace hoso::crypto {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Initialises libsodium once; safe to call from any thread, any number of
// times. Aborts the process if libsodium cannot start (no usable RNG): running
// without one would produce predictable keys.
void init();

// Memory for secrets: allocated with sodium_malloc (guard pages, mlock where
// allowed), wiped and freed on destruction. Move-only.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t n);
  SecretBytes(const uint8_t* p, size_t n);
  ~SecretBytes();
  SecretBytes(SecretBytes&& o) noexcept;
  SecretBytes& operator=(SecretBytes&& o) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() { return p_; }
  const uint8_t* data() const { return p_; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  std::string_view view() const { return {reinterpret_cast<const char*>(p_), n_}; }

 private:
  uint8_t* p_ = nullptr;
  size_t n_ = 0;
};

// The randomness seam. Production uses libsodium's CSPRNG; tests may install
// a deterministic source to get reproducible keys, salts and nonces.
using RandomSource = std::function<void(uint8_t*, size_t)>;
void random_bytes(uint8_t* out, size_t n);
// Replaces the source for this process; pass nullptr to restore libsodium's.
void set_random_source(RandomSource src);

using Hash = std::array<uint8_t, 32>;

// BLAKE2b with a 32-byte output (unkeyed), over one buffer or incrementally.
Hash blake2b256(ByteView data);
class Blake2b256 {
 public:
  Blake2b256();
  void update(ByteView data);
  Hash finish();

 private:
  alignas(64) unsigned char state_[384];
};

std::string to_hex(ByteView b);
template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& a) { return to_hex(ByteView(a.data(), N)); }
// Lower- or upper-case hex; anything else (odd length, other characters) is an error.
Result<Bytes> from_hex(std::string_view hex);
// Exactly N bytes of lower-case hex (the canonical form inside signed items).
template <size_t N>
Result<std::array<uint8_t, N>> fixed_from_hex(std::string_view hex) {
  if (hex.size() != 2 * N) return make_error(Errc::bad_format, "expected " + std::to_string(2 * N) + " hex digits");
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return make_error(Errc::bad_format, "expected lower-case hex digits");
  auto b = from_hex(hex);
  if (!b) return b.error();
  std::array<uint8_t, N> out{};
  std::copy(b->begin(), b->end(), out.begin());
  return out;
}

// Zeroes memory in a way the compiler may not optimise away.
void wipe(void* p, size_t n);

// Constant-time comparison of equal-length buffers.
bool equal_ct(ByteView a, ByteView b);

}  // namespace hoso::crypto
