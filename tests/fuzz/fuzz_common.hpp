// Shared by the fuzz targets: the test-vector root (tests/vectors/keys.json),
// so seeds signed by it verify, and a helper that turns a fuzz input into a
// string_view. Fuzz targets must never throw: every API they call promises
// Result/Status, so an escaping exception is a bug libFuzzer reports.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/sodium.hpp"

namespace hoso::fuzz {

inline std::string_view input(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline const crypto::SigningKey& vector_root() {
  static const crypto::SigningKey k = [] {
    uint8_t seed[32];
    for (int i = 0; i < 32; ++i) seed[i] = static_cast<uint8_t>(i + 1);
    return crypto::SigningKey::from_seed(crypto::ByteView(seed, 32));
  }();
  return k;
}

// An invariant that failed: abort so libFuzzer keeps the input.
[[noreturn]] inline void broken(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

#define HOSO_FUZZ_CHECK(cond) \
  do {                        \
    if (!(cond)) ::hoso::fuzz::broken(#cond); \
  } while (0)

}  // namespace hoso::fuzz
