// The envelope every signed thing travels in (docs/PROTOCOL.md §4):
//   {"body":{...},"cosig":"<hex>"?,"sig":"<hex>","type":"<type>","v":1}
// in canonical JSON. `sig` is the signer's signature over the body under the
// domain "hoso-v1:<type>"; the optional `cosig` is a second key's signature
// over the body bytes followed by the 64 `sig` bytes, under
// "hoso-v1:<type>:cosign" (a device countersigning its officer's event). The
// item's id is BLAKE2b-256 of the whole envelope. Who must have signed is the
// caller's business (the trust rules); this layer only checks bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/result.hpp"
#include "hoso/crypto/sodium.hpp"

namespace hoso::crypto {

inline constexpr int kEnvelopeVersion = 1;
// Hard bound on one item's bytes: an item is parsed whole in memory.
inline constexpr size_t kMaxItemBytes = 1 << 20;

struct SignedItem {
  std::string type;
  nlohmann::json body;
  std::string body_bytes;  // canonical body, the signed message
  Signature sig{};
  std::optional<Signature> cosig;
  std::string bytes;  // the canonical envelope, exactly as stored and sent
  Hash id{};          // BLAKE2b-256(bytes)

  std::string id_hex() const { return to_hex(id); }
};

std::string signature_domain(std::string_view type);
std::string cosignature_domain(std::string_view type);

// Signs `body` as an item of `type` ([a-z_]{1,32}); with `cosigner`, adds its
// countersignature. Errc::bad_format if the body has no canonical form.
Result<SignedItem> sign_item(std::string_view type, const nlohmann::json& body, const SigningKey& signer,
                             const SigningKey* cosigner = nullptr);

// Parses envelope bytes: canonical, known version, well-formed fields. Does
// not verify signatures. Errc::bad_format names the problem.
Result<SignedItem> parse_item(std::string_view bytes);

// Signature checks against given keys.
bool verify_sig(const SignedItem& item, const PublicKey& signer);
bool verify_cosig(const SignedItem& item, const PublicKey& cosigner);

}  // namespace hoso::crypto
