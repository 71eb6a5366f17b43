#include "hoso/crypto/keys.hpp"

#include <sodium.h>

#include <cstring>
#include <stdexcept>

#include "hoso/crypto/canonical.hpp"

namespace hoso::crypto {

Bytes signing_input(std::string_view domain, ByteView message) {
  Bytes m;
  m.reserve(domain.size() + 1 + message.size());
  m.insert(m.end(), domain.begin(), domain.end());
  m.push_back(0);
  m.insert(m.end(), message.begin(), message.end());
  return m;
}

SigningKey SigningKey::generate() {
  SecretBytes seed(crypto_sign_SEEDBYTES);
  random_bytes(seed.data(), seed.size());
  return from_seed(ByteView(seed.data(), seed.size()));
}

SigningKey SigningKey::from_seed(ByteView seed32) {
  // Never read past (or silently truncate) a seed of the wrong size.
  if (seed32.size() != crypto_sign_SEEDBYTES)
    throw std::invalid_argument("SigningKey::from_seed: the seed must be exactly 32 bytes, not " +
                                std::to_string(seed32.size()));
  init();
  SigningKey k;
  k.seed_ = SecretBytes(seed32.data(), crypto_sign_SEEDBYTES);
  k.sk_ = SecretBytes(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(k.pk_.data(), k.sk_.data(), k.seed_.data());
  return k;
}

Signature SigningKey::sign(std::string_view domain, ByteView message) const {
  Bytes m = signing_input(domain, message);
  Signature s{};
  crypto_sign_detached(s.data(), nullptr, m.data(), m.size(), sk_.data());
  return s;
}

bool verify(const PublicKey& pk, std::string_view domain, ByteView message, const Signature& sig) {
  init();
  Bytes m = signing_input(domain, message);
  return crypto_sign_verify_detached(sig.data(), m.data(), m.size(), pk.data()) == 0;
}

std::string fingerprint(const PublicKey& pk) {
  Hash h = blake2b256(ByteView(pk.data(), pk.size()));
  return to_hex(ByteView(h.data(), 8));
}

// --- Key files -------------------------------------------------------------
namespace {

constexpr char kMagic[8] = {'H', 'O', 'S', 'O', 'K', 'E', 'Y', 1};
constexpr uint8_t kKdfArgon2id13 = 1;
// Bounds on stored KDF parameters: a file edited to ask for absurd work or
// memory is refused before argon2id runs.
constexpr uint64_t kMaxOps = 16;
constexpr uint64_t kMaxMem = 1ull << 30;
constexpr size_t kSaltLen = crypto_pwhash_SALTBYTES;                        // 16
constexpr size_t kNonceLen = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;  // 24
constexpr size_t kSealedLen = crypto_sign_SEEDBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES;

void put_be(Bytes& out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t get_be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}

Result<SecretBytes> derive(std::string_view pass, const uint8_t* salt, uint64_t ops, uint64_t mem) {
  SecretBytes k(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  if (crypto_pwhash(k.data(), k.size(), pass.data(), pass.size(), salt, ops, static_cast<size_t>(mem),
                    crypto_pwhash_ALG_ARGON2ID13) != 0)
    return make_error(Errc::internal, "argon2id failed (out of memory?)");
  return k;
}

struct Parsed {
  uint64_t ops, mem;
  const uint8_t* salt;
  const uint8_t* nonce;
  KeyFileInfo info;
  size_t header_len;  // bytes covered as associated data
  const uint8_t* sealed;
};

Result<Parsed> parse(ByteView f) {
  const Error damaged = make_error(Errc::damaged, "key file is damaged or not a hoso key file");
  constexpr size_t fixed = 8 + 1 + 4 + 8 + kSaltLen + kNonceLen + 2;
  if (f.size() < fixed + 32 + kSealedLen + 32) return damaged;
  Hash sum = blake2b256(f.first(f.size() - 32));
  if (!equal_ct(ByteView(sum.data(), 32), f.last(32))) return damaged;
  if (std::memcmp(f.data(), kMagic, 8) != 0) return damaged;
  const uint8_t* p = f.data() + 8;
  if (*p++ != kKdfArgon2id13) return make_error(Errc::damaged, "key file uses an unknown KDF");
  Parsed r{};
  r.ops = get_be(p, 4); p += 4;
  r.mem = get_be(p, 8); p += 8;
  if (r.ops < crypto_pwhash_OPSLIMIT_MIN || r.ops > kMaxOps || r.mem < crypto_pwhash_MEMLIMIT_MIN || r.mem > kMaxMem)
    return make_error(Errc::damaged, "key file asks for out-of-range argon2id parameters");
  r.salt = p; p += kSaltLen;
  r.nonce = p; p += kNonceLen;
  size_t nlen = get_be(p, 2); p += 2;
  if (f.size() != fixed + nlen + 32 + kSealedLen + 32) return damaged;
  r.info.name.assign(reinterpret_cast<const char*>(p), nlen); p += nlen;
  std::memcpy(r.info.pub.data(), p, 32); p += 32;
  r.header_len = static_cast<size_t>(p - f.data());
  r.sealed = p;
  return r;
}

}  // namespace

Result<Bytes> seal_key_file(const SigningKey& key, std::string_view name, std::string_view passphrase, Kdf kdf) {
  init();
  if (passphrase.empty()) return make_error(Errc::invalid_argument, "empty passphrase");
  if (name.size() > 255) return make_error(Errc::invalid_argument, "key name longer than 255 bytes");
  uint64_t ops = kdf == Kdf::interactive ? crypto_pwhash_OPSLIMIT_INTERACTIVE : crypto_pwhash_OPSLIMIT_MODERATE;
  uint64_t mem = kdf == Kdf::interactive ? crypto_pwhash_MEMLIMIT_INTERACTIVE : crypto_pwhash_MEMLIMIT_MODERATE;
  Bytes out(kMagic, kMagic + 8);
  out.push_back(kKdfArgon2id13);
  put_be(out, ops, 4);
  put_be(out, mem, 8);
  uint8_t salt[kSaltLen], nonce[kNonceLen];
  random_bytes(salt, sizeof salt);
  random_bytes(nonce, sizeof nonce);
  out.insert(out.end(), salt, salt + kSaltLen);
  out.insert(out.end(), nonce, nonce + kNonceLen);
  put_be(out, name.size(), 2);
  out.insert(out.end(), name.begin(), name.end());
  out.insert(out.end(), key.public_key().begin(), key.public_key().end());
  auto k = derive(passphrase, salt, ops, mem);
  if (!k) return k.error();
  size_t header_len = out.size();
  out.resize(header_len + kSealedLen);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + header_len, &clen, key.seed().data(), key.seed().size(),
                                             out.data(), header_len, nullptr, nonce, k->data());
  Hash sum = blake2b256(out);
  out.insert(out.end(), sum.begin(), sum.end());
  return out;
}

Result<KeyFileInfo> peek_key_file(ByteView file) {
  auto p = parse(file);
  if (!p) return p.error();
  return p->info;
}

Result<SigningKey> open_key_file(ByteView file, std::string_view passphrase, KeyFileInfo* info) {
  auto p = parse(file);
  if (!p) return p.error();
  auto k = derive(passphrase, p->salt, p->ops, p->mem);
  if (!k) return k.error();
  SecretBytes seed(crypto_sign_SEEDBYTES);
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(seed.data(), &mlen, nullptr, p->sealed, kSealedLen, file.data(),
                                                 p->header_len, p->nonce, k->data()) != 0)
    return make_error(Errc::wrong_passphrase, "wrong passphrase for key file");
  SigningKey key = SigningKey::from_seed(ByteView(seed.data(), seed.size()));
  if (key.public_key() != p->info.pub)
    return make_error(Errc::damaged, "key file's public key does not match its secret key");
  if (info) *info = p->info;
  return key;
}

std::string public_key_file(const PublicKey& pk, std::string_view name) {
  nlohmann::json j{{"format", "hoso-public-key-v1"}, {"name", std::string(name)}, {"pub", to_hex(pk)}};
  auto s = canonical_json(j);
  return (s ? *s : j.dump()) + "\n";
}

Result<KeyFileInfo> parse_public_key_file(std::string_view text) {
  auto j = parse_json_strict(text);
  if (!j) return make_error(Errc::bad_format, "public key file: " + j.error().message);
  if (!j->is_object() || !j->contains("format") || (*j)["format"] != "hoso-public-key-v1")
    return make_error(Errc::bad_format, "public key file: not a hoso public key (format)");
  if (!j->contains("pub") || !(*j)["pub"].is_string())
    return make_error(Errc::bad_format, "public key file: missing pub");
  auto pk = fixed_from_hex<32>((*j)["pub"].get<std::string>());
  if (!pk) return make_error(Errc::bad_format, "public key file: pub: " + pk.error().message);
  KeyFileInfo info;
  info.pub = *pk;
  if (j->contains("name") && (*j)["name"].is_string()) info.name = (*j)["name"].get<std::string>();
  return info;
}

}  // namespace hoso::crypto
