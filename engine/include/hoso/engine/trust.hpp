// The province's chain of trust: certificates for units, officers, devices and
// servers, revocations, and the one question every layer asks — may this
// certified key act in this role for this unit at this moment, and if not,
// exactly why. All trust items are envelopes (hoso/crypto/signed_item.hpp)
// signed by the province root; their body layouts are in docs/PROTOCOL.md §5.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/result.hpp"
#include "hoso/crypto/signed_item.hpp"

namespace hoso::engine {

using crypto::Errc;
using crypto::Error;
using crypto::make_error;
using crypto::Result;
using crypto::Status;

// Item types (the envelope's "type"; each is also its signature domain).
inline constexpr const char* kTypeCert = "cert";
inline constexpr const char* kTypeRevocation = "revocation";
inline constexpr const char* kTypeProcedure = "procedure";
inline constexpr const char* kTypeCalendar = "calendar";

// Default certificate lifetime (SPEC §2) and the grace a revoked
// certificate's earlier events get to reach a server.
inline constexpr int64_t kDefaultCertDays = 1825;
inline constexpr int64_t kRevocationGraceSeconds = 7 * 86400;

enum class CertKind { unit, officer, device, server };
const char* cert_kind_name(CertKind k);
Result<CertKind> parse_cert_kind(const std::string& s);

struct CertRequest {
  CertKind kind = CertKind::officer;
  std::string name;                     // person, laptop, server or unit name
  std::string unit;                     // unit code (a unit's own code for kind unit)
  std::optional<std::string> parent;    // units only: the parent unit's code
  std::optional<crypto::PublicKey> pub;  // required except for units
  std::vector<std::string> roles;       // officers only, at least one
  std::optional<int64_t> slot;          // devices only, 0..9
  int64_t issued_at = 0;                // unix seconds
  int64_t days = kDefaultCertDays;
};

struct Certificate {
  crypto::SignedItem item;
  std::string id;  // hex of item.id
  CertKind kind = CertKind::officer;
  std::string name, unit;
  std::optional<std::string> parent;
  std::optional<crypto::PublicKey> pub;
  std::vector<std::string> roles;
  std::optional<int64_t> slot;
  int64_t issued_at = 0, not_after = 0;

  bool has_role(const std::string& r) const;
};

struct Revocation {
  crypto::SignedItem item;
  std::string id;    // hex of item.id
  std::string cert;  // revoked certificate's id
  std::string reason;
  int64_t effective_at = 0, issued_at = 0;
};

// A procedure or calendar document as signed by the root.
struct SignedDocument {
  crypto::SignedItem item;
  nlohmann::json document;
  int64_t signed_at = 0;
};

// Checks the request (Errc::invalid_argument naming the flag) and signs it.
Result<crypto::SignedItem> issue_certificate(const crypto::SigningKey& root, const CertRequest& req);
Result<crypto::SignedItem> issue_revocation(const crypto::SigningKey& root, const Certificate& cert,
                                            const std::string& reason, int64_t effective_at, int64_t issued_at);
// `type` is kTypeProcedure or kTypeCalendar; the caller has validated `doc`.
Result<crypto::SignedItem> sign_document(const crypto::SigningKey& root, const char* type, const nlohmann::json& doc,
                                         int64_t signed_at);

// Parse and check root-signed items: right type, body layout, issued by
// `root` (Errc::unauthorized "issued by another root" otherwise), signature
// (Errc::bad_signature).
Result<Certificate> read_certificate(const crypto::SignedItem& item, const crypto::PublicKey& root);
Result<Revocation> read_revocation(const crypto::SignedItem& item, const crypto::PublicKey& root);
Result<SignedDocument> read_document(const crypto::SignedItem& item, const crypto::PublicKey& root);

// Splits a file of items (one canonical envelope per line, blank lines
// ignored) into parsed envelopes. Errors name the line.
Result<std::vector<crypto::SignedItem>> read_items(std::string_view text);

// What an actor wants to do, for Trust::authorize.
struct Act {
  std::string cert_id;
  CertKind kind = CertKind::officer;
  std::optional<std::string> role;  // officers: the role the step needs
  std::optional<std::string> unit;  // the unit the actor must belong to
  int64_t at = 0;                   // the moment of the act (device time)
  // When the act reached a server (unix seconds); a device judging its own
  // act passes its clock. Only matters for revoked certificates.
  std::optional<int64_t> arrived_at;
};

class Trust {
 public:
  explicit Trust(crypto::PublicKey root) : root_(root) {}
  const crypto::PublicKey& root() const { return root_; }

  // Adds a certificate or revocation after read_*'s checks. Adding the same
  // item twice is a no-op. A revocation may arrive before its certificate.
  Status add(const crypto::SignedItem& item);

  const Certificate* certificate(const std::string& id) const;
  const Certificate* unit(const std::string& code) const;  // newest unit certificate
  // `code` and every unit whose chain of parents reaches it (a relay carries these).
  std::vector<std::string> units_under(const std::string& code) const;
  // Earliest effective revocation of a certificate, if any.
  const Revocation* revocation(const std::string& cert_id) const;
  const std::map<std::string, Certificate>& certificates() const { return certs_; }
  const std::map<std::string, Revocation>& revocations() const { return revs_; }

  // The one answer: ok, or exactly why not — Errc::not_found (unknown
  // certificate), Errc::unauthorized (wrong kind, missing role, other unit),
  // Errc::expired (not yet valid or past not_after at `at`), Errc::revoked
  // (revoked at `at`, or arrived more than 7 days after the effective time).
  Status authorize(const Act& act) const;

  // The certificate of a public key of a kind (the newest valid at `at`).
  const Certificate* find_by_key(const crypto::PublicKey& pk, CertKind kind, int64_t at) const;

 private:
  crypto::PublicKey root_;
  std::map<std::string, Certificate> certs_;
  std::map<std::string, Revocation> revs_;                // by revocation id
  std::map<std::string, std::string> earliest_rev_;       // cert id -> revocation id
  std::map<std::string, std::string> unit_by_code_;       // code -> cert id
};

// An ISO 8601 UTC rendering for messages ("2026-03-05T02:12:00Z").
std::string utc_iso(int64_t t);

}  // namespace hoso::engine
