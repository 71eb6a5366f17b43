// ed25519 keys, domain-separated signatures, and key files encrypted at rest.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "hoso/crypto/result.hpp"
#include "hoso/crypto/sodium.hpp"

namespace hoso::crypto {

using PublicKey = std::array<uint8_t, 32>;
using Signature = std::array<uint8_t, 64>;

// The exact bytes an ed25519 signature covers: the ASCII domain, one 0x00 byte,
// then the message. Every signed thing in hoso has its own domain (see
// docs/PROTOCOL.md §3) so a signature made for one purpose never verifies for
// another.
Bytes signing_input(std::string_view domain, ByteView message);

class SigningKey {
 public:
  // A fresh key from the process's random source.
  static SigningKey generate();
  // A key from a 32-byte seed (test vectors, key files). The seed must be
  // exactly 32 bytes: any other size throws std::invalid_argument (nothing is
  // read past a short seed, nothing of a long one is silently dropped).
  static SigningKey from_seed(ByteView seed32);

  const PublicKey& public_key() const { return pk_; }
  // The 32-byte seed, in wiped memory.
  const SecretBytes& seed() const { return seed_; }
  Signature sign(std::string_view domain, ByteView message) const;

 private:
  SigningKey() = default;
  SecretBytes seed_;
  SecretBytes sk_;  // libsodium's 64-byte expanded secret key
  PublicKey pk_{};
};

// True only if `sig` is `pk`'s signature over signing_input(domain, message).
bool verify(const PublicKey& pk, std::string_view domain, ByteView message, const Signature& sig);

// Short printable fingerprint of a public key: the first 8 bytes of
// BLAKE2b-256(pk) in hex, for humans comparing keys over the phone.
std::string fingerprint(const PublicKey& pk);

// --- Key files -------------------------------------------------------------
// Binary layout in docs/PROTOCOL.md §6: argon2id parameters and salt, the
// name and public key in the clear (authenticated), the seed sealed with
// XChaCha20-Poly1305 using the whole header as associated data, and a final
// BLAKE2b-256 checksum so a damaged file is told apart from a wrong passphrase.

enum class Kdf { interactive, moderate };

struct KeyFileInfo {
  std::string name;
  PublicKey pub{};
};

// Errc::invalid_argument for an empty passphrase or a name over 255 bytes.
Result<Bytes> seal_key_file(const SigningKey& key, std::string_view name, std::string_view passphrase, Kdf kdf);
// Errc::damaged for any changed, missing or extra byte; Errc::wrong_passphrase
// when the file is intact but the passphrase does not open it.
Result<SigningKey> open_key_file(ByteView file, std::string_view passphrase, KeyFileInfo* info = nullptr);
// Reads the public part of an intact key file without the passphrase.
Result<KeyFileInfo> peek_key_file(ByteView file);

// Public key files are small JSON documents: {"format":"hoso-public-key-v1","name":..,"pub":hex}.
std::string public_key_file(const PublicKey& pk, std::string_view name);
Result<KeyFileInfo> parse_public_key_file(std::string_view text);

}  // namespace hoso::crypto
