#include "hoso/engine/trust.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

#include "hoso/crypto/canonical.hpp"

namespace hoso::engine {
namespace {

using crypto::SignedItem;
using nlohmann::json;

bool valid_name_token(const std::string& s) {
  if (s.empty() || s.size() > 64 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// Unit codes are the national codes (e.g. 000.00.31.H12): printable ASCII,
// no spaces, no dash (the dash separates the parts of a dossier code).
bool valid_unit_code(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
  });
}

// Reads a root-signed body strictly: every key known, of its type.
class Body {
 public:
  Body(const json& j, std::string what) : j_(j), what_(std::move(what)) {}
  Status expect_keys(std::initializer_list<const char*> required, std::initializer_list<const char*> optional) {
    if (!j_.is_object()) return make_error(Errc::bad_format, what_ + ": body is not an object");
    for (const char* k : required)
      if (!j_.contains(k)) return make_error(Errc::bad_format, what_ + ": missing " + k);
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      bool known = false;
      for (const char* k : required) known |= it.key() == k;
      for (const char* k : optional) known |= it.key() == k;
      if (!known) return make_error(Errc::bad_format, what_ + ": unknown key " + it.key());
    }
    return {};
  }
  Result<std::string> str(const char* k) const {
    if (!j_[k].is_string()) return make_error(Errc::bad_format, what_ + ": " + k + " is not a string");
    return j_[k].get<std::string>();
  }
  Result<int64_t> integer(const char* k) const {
    if (!j_[k].is_number_integer()) return make_error(Errc::bad_format, what_ + ": " + k + " is not an integer");
    return j_[k].get<int64_t>();
  }
  Result<crypto::PublicKey> key(const char* k) const {
    auto s = str(k);
    if (!s) return s.error();
    auto pk = crypto::fixed_from_hex<32>(*s);
    if (!pk) return make_error(Errc::bad_format, what_ + ": " + k + ": " + pk.error().message);
    return *pk;
  }
  bool has(const char* k) const { return j_.contains(k); }

 private:
  const json& j_;
  std::string what_;
};

Status check_issuer(const Body& b, const crypto::PublicKey& root, const std::string& what) {
  auto issuer = b.key("issuer");
  if (!issuer) return issuer.error();
  if (*issuer != root)
    return make_error(Errc::unauthorized, what + " was issued by another root (key " + crypto::fingerprint(*issuer) +
                                              ", expected " + crypto::fingerprint(root) + ")");
  return {};
}

}  // namespace

const char* cert_kind_name(CertKind k) {
  switch (k) {
    case CertKind::unit: return "unit";
    case CertKind::officer: return "officer";
    case CertKind::device: return "device";
    case CertKind::server: return "server";
  }
  return "?";
}

Result<CertKind> parse_cert_kind(const std::string& s) {
  if (s == "unit") return CertKind::unit;
  if (s == "officer") return CertKind::officer;
  if (s == "device") return CertKind::device;
  if (s == "server") return CertKind::server;
  return make_error(Errc::invalid_argument, "unknown certificate kind \"" + s + "\" (unit, officer, device or server)");
}

bool Certificate::has_role(const std::string& r) const {
  return std::find(roles.begin(), roles.end(), r) != roles.end();
}

std::string utc_iso(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<SignedItem> issue_certificate(const crypto::SigningKey& root, const CertRequest& req) {
  auto bad = [](std::string m) { return make_error(Errc::invalid_argument, std::move(m)); };
  if (req.name.empty()) return bad("--name must not be empty");
  if (!valid_unit_code(req.unit)) return bad("--unit \"" + req.unit + "\" is not a unit code (letters, digits, '.', '_')");
  if (req.days < 1 || req.days > 36500) return bad("--days must be between 1 and 36500");
  if (req.parent && req.kind != CertKind::unit) return bad("--parent is only for --kind unit");
  if (req.parent && !valid_unit_code(*req.parent)) return bad("--parent \"" + *req.parent + "\" is not a unit code");
  if (req.parent && *req.parent == req.unit) return bad("--parent must differ from --unit");
  if (!req.roles.empty() && req.kind != CertKind::officer) return bad("--roles is only for --kind officer");
  if (req.kind == CertKind::officer && req.roles.empty()) return bad("--roles is required for an officer");
  for (const auto& r : req.roles)
    if (!valid_name_token(r)) return bad("--roles: \"" + r + "\" is not a role name (a-z, 0-9, _)");
  if (req.slot && req.kind != CertKind::device) return bad("--slot is only for --kind device");
  if (req.kind == CertKind::device && !req.slot) return bad("--slot is required for a device");
  if (req.slot && (*req.slot < 0 || *req.slot > 9)) return bad("--slot must be between 0 and 9");
  if (req.kind != CertKind::unit && !req.pub) return bad("--pub is required for --kind " + std::string(cert_kind_name(req.kind)));

  json body{{"issuer", crypto::to_hex(root.public_key())},
            {"kind", cert_kind_name(req.kind)},
            {"name", req.name},
            {"unit", req.unit},
            {"issued_at", req.issued_at},
            {"not_after", req.issued_at + req.days * 86400}};
  uint8_t serial[16];
  crypto::random_bytes(serial, sizeof serial);
  body["serial"] = crypto::to_hex(crypto::ByteView(serial, sizeof serial));
  if (req.parent) body["parent"] = *req.parent;
  if (req.pub) body["pub"] = crypto::to_hex(*req.pub);
  if (req.kind == CertKind::officer) {
    std::vector<std::string> roles = req.roles;
    std::sort(roles.begin(), roles.end());
    roles.erase(std::unique(roles.begin(), roles.end()), roles.end());
    body["roles"] = roles;
  }
  if (req.slot) body["slot"] = *req.slot;
  return crypto::sign_item(kTypeCert, body, root);
}

Result<Certificate> read_certificate(const SignedItem& item, const crypto::PublicKey& root) {
  if (item.type != kTypeCert) return make_error(Errc::bad_format, "not a certificate (type " + item.type + ")");
  // A countersignature on a root-signed item would give the same content a
  // new id (and so escape a revocation naming the old one): refuse it.
  if (item.cosig) return make_error(Errc::bad_format, "certificate: carries a countersignature it must not have");
  Body b(item.body, "certificate");
  Status st = b.expect_keys({"issuer", "kind", "name", "unit", "issued_at", "not_after", "serial"},
                            {"parent", "pub", "roles", "slot"});
  if (!st) return st.error();
  st = check_issuer(b, root, "certificate " + item.id_hex().substr(0, 16));
  if (!st) return st.error();
  if (!crypto::verify_sig(item, root))
    return make_error(Errc::bad_signature, "certificate " + item.id_hex().substr(0, 16) + ": bad root signature");
  Certificate c;
  c.item = item;
  c.id = item.id_hex();
  auto kind = b.str("kind");
  if (!kind) return kind.error();
  auto k = parse_cert_kind(*kind);
  if (!k) return make_error(Errc::bad_format, "certificate: " + k.error().message);
  c.kind = *k;
  auto name = b.str("name"), unit = b.str("unit");
  if (!name) return name.error();
  if (!unit) return unit.error();
  c.name = *name;
  c.unit = *unit;
  auto ia = b.integer("issued_at"), na = b.integer("not_after");
  if (!ia) return ia.error();
  if (!na) return na.error();
  c.issued_at = *ia;
  c.not_after = *na;
  if (c.not_after <= c.issued_at) return make_error(Errc::bad_format, "certificate: not_after before issued_at");
  if (b.has("parent")) {
    auto p = b.str("parent");
    if (!p) return p.error();
    c.parent = *p;
  }
  if (b.has("pub")) {
    auto pk = b.key("pub");
    if (!pk) return pk.error();
    c.pub = *pk;
  }
  if (b.has("roles")) {
    if (!item.body["roles"].is_array()) return make_error(Errc::bad_format, "certificate: roles is not an array");
    for (const auto& r : item.body["roles"]) {
      if (!r.is_string()) return make_error(Errc::bad_format, "certificate: roles holds a non-string");
      c.roles.push_back(r.get<std::string>());
    }
  }
  if (b.has("slot")) {
    auto s = b.integer("slot");
    if (!s) return s.error();
    c.slot = *s;
  }
  // Shape per kind: a well-signed but ill-shaped certificate is still refused.
  if (c.kind != CertKind::unit && !c.pub) return make_error(Errc::bad_format, "certificate: missing pub");
  if (c.kind == CertKind::officer && c.roles.empty()) return make_error(Errc::bad_format, "certificate: officer without roles");
  if (c.kind == CertKind::device && !c.slot) return make_error(Errc::bad_format, "certificate: device without slot");
  // The writer's rules (issue_certificate) hold for what is read, too.
  auto ill = [](const std::string& m) { return make_error(Errc::bad_format, "certificate: " + m); };
  if (c.name.empty()) return ill("empty name");
  if (!valid_unit_code(c.unit)) return ill("unit \"" + c.unit + "\" is not a unit code");
  if (c.parent && c.kind != CertKind::unit) return ill("parent on a " + std::string(cert_kind_name(c.kind)));
  if (c.parent && (!valid_unit_code(*c.parent) || *c.parent == c.unit))
    return ill("parent \"" + *c.parent + "\" is not another unit's code");
  if (b.has("roles") && c.kind != CertKind::officer) return ill("roles on a " + std::string(cert_kind_name(c.kind)));
  for (size_t i = 0; i < c.roles.size(); ++i)
    if (!valid_name_token(c.roles[i]) || (i > 0 && c.roles[i - 1] >= c.roles[i]))
      return ill("roles must be distinct role names in byte order");
  if (c.slot && c.kind != CertKind::device) return ill("slot on a " + std::string(cert_kind_name(c.kind)));
  if (c.slot && (*c.slot < 0 || *c.slot > 9)) return ill("slot must be between 0 and 9");
  auto serial = b.str("serial");
  if (!serial) return serial.error();
  if (!crypto::fixed_from_hex<16>(*serial)) return ill("serial is not 32 lower-case hex digits");
  return c;
}

Result<SignedItem> issue_revocation(const crypto::SigningKey& root, const Certificate& cert, const std::string& reason,
                                    int64_t effective_at, int64_t issued_at) {
  if (reason.empty()) return make_error(Errc::invalid_argument, "--reason must not be empty");
  // Never retroactive (SPEC §2): acts accepted before the revocation was
  // issued must not turn invalid afterwards.
  if (effective_at < issued_at)
    return make_error(Errc::invalid_argument, "--effective " + utc_iso(effective_at) + " is before now (" +
                                                  utc_iso(issued_at) + "): a revocation is never retroactive");
  json body{{"issuer", crypto::to_hex(root.public_key())},
            {"cert", cert.id},
            {"reason", reason},
            {"effective_at", effective_at},
            {"issued_at", issued_at}};
  return crypto::sign_item(kTypeRevocation, body, root);
}

Result<Revocation> read_revocation(const SignedItem& item, const crypto::PublicKey& root) {
  if (item.type != kTypeRevocation) return make_error(Errc::bad_format, "not a revocation (type " + item.type + ")");
  if (item.cosig) return make_error(Errc::bad_format, "revocation: carries a countersignature it must not have");
  Body b(item.body, "revocation");
  Status st = b.expect_keys({"issuer", "cert", "reason", "effective_at", "issued_at"}, {});
  if (!st) return st.error();
  st = check_issuer(b, root, "revocation");
  if (!st) return st.error();
  if (!crypto::verify_sig(item, root)) return make_error(Errc::bad_signature, "revocation: bad root signature");
  Revocation r;
  r.item = item;
  r.id = item.id_hex();
  auto cert = b.str("cert"), reason = b.str("reason");
  auto eff = b.integer("effective_at"), iss = b.integer("issued_at");
  if (!cert) return cert.error();
  if (!reason) return reason.error();
  if (!eff) return eff.error();
  if (!iss) return iss.error();
  auto cid = crypto::fixed_from_hex<32>(*cert);
  if (!cid) return make_error(Errc::bad_format, "revocation: cert: " + cid.error().message);
  r.cert = *cert;
  r.reason = *reason;
  r.effective_at = *eff;
  r.issued_at = *iss;
  return r;
}

Result<SignedItem> sign_document(const crypto::SigningKey& root, const char* type, const json& doc, int64_t signed_at) {
  json body{{"issuer", crypto::to_hex(root.public_key())}, {"document", doc}, {"signed_at", signed_at}};
  return crypto::sign_item(type, body, root);
}

Result<SignedDocument> read_document(const SignedItem& item, const crypto::PublicKey& root) {
  if (item.type != kTypeProcedure && item.type != kTypeCalendar)
    return make_error(Errc::bad_format, "not a procedure or calendar (type " + item.type + ")");
  if (item.cosig) return make_error(Errc::bad_format, item.type + ": carries a countersignature it must not have");
  Body b(item.body, item.type);
  Status st = b.expect_keys({"issuer", "document", "signed_at"}, {});
  if (!st) return st.error();
  st = check_issuer(b, root, item.type);
  if (!st) return st.error();
  if (!crypto::verify_sig(item, root)) return make_error(Errc::bad_signature, item.type + ": bad root signature");
  auto at = b.integer("signed_at");
  if (!at) return at.error();
  if (!item.body["document"].is_object()) return make_error(Errc::bad_format, item.type + ": document is not an object");
  if (item.body["document"].value("kind", json()) != json(item.type))
    return make_error(Errc::bad_format, item.type + ": document kind does not match the item type");
  return SignedDocument{item, item.body["document"], *at};
}

Result<std::vector<SignedItem>> read_items(std::string_view text) {
  std::vector<SignedItem> out;
  size_t line = 0, pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view l = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.find_first_not_of(" \t") == std::string_view::npos) continue;
    auto it = crypto::parse_item(l);
    if (!it) return make_error(it.error().code, "line " + std::to_string(line) + ": " + it.error().message);
    out.push_back(std::move(*it));
  }
  if (out.empty()) return make_error(Errc::bad_format, "no signed items in the file");
  return out;
}

Status Trust::add(const SignedItem& item) {
  if (item.type == kTypeCert) {
    auto c = read_certificate(item, root_);
    if (!c) return c.error();
    if (certs_.count(c->id)) return {};
    if (c->kind == CertKind::unit) {
      auto cur = unit_by_code_.find(c->unit);
      // The newest; among equally new ones the smallest id, so that every
      // store agrees whatever order the certificates arrived in.
      if (cur == unit_by_code_.end() || certs_.at(cur->second).issued_at < c->issued_at ||
          (certs_.at(cur->second).issued_at == c->issued_at && c->id < cur->second))
        unit_by_code_[c->unit] = c->id;
    }
    std::string id = c->id;
    certs_.emplace(id, std::move(*c));
    return {};
  }
  if (item.type == kTypeRevocation) {
    auto r = read_revocation(item, root_);
    if (!r) return r.error();
    if (revs_.count(r->id)) return {};
    auto e = earliest_rev_.find(r->cert);
    if (e == earliest_rev_.end() || revs_.at(e->second).effective_at > r->effective_at) earliest_rev_[r->cert] = r->id;
    std::string id = r->id;
    revs_.emplace(id, std::move(*r));
    return {};
  }
  return make_error(Errc::bad_format, "not a certificate or revocation (type " + item.type + ")");
}

const Certificate* Trust::certificate(const std::string& id) const {
  auto it = certs_.find(id);
  return it == certs_.end() ? nullptr : &it->second;
}

const Certificate* Trust::unit(const std::string& code) const {
  auto it = unit_by_code_.find(code);
  return it == unit_by_code_.end() ? nullptr : certificate(it->second);
}

std::vector<std::string> Trust::units_under(const std::string& code) const {
  std::vector<std::string> out;
  for (const auto& [u, id] : unit_by_code_) {
    std::string cur = u;
    for (int depth = 0; depth < 16; ++depth) {  // bounded: a cycle of parents ends here
      if (cur == code) {
        out.push_back(u);
        break;
      }
      const Certificate* c = unit(cur);
      if (!c || !c->parent) break;
      cur = *c->parent;
    }
  }
  if (std::find(out.begin(), out.end(), code) == out.end()) out.push_back(code);
  return out;
}

const Revocation* Trust::revocation(const std::string& cert_id) const {
  auto it = earliest_rev_.find(cert_id);
  return it == earliest_rev_.end() ? nullptr : &revs_.at(it->second);
}

const Certificate* Trust::find_by_key(const crypto::PublicKey& pk, CertKind kind, int64_t at) const {
  const Certificate* best = nullptr;
  for (const auto& [id, c] : certs_) {
    if (c.kind != kind || !c.pub || *c.pub != pk) continue;
    bool valid = at >= c.issued_at && at < c.not_after;
    bool best_valid = best && at >= best->issued_at && at < best->not_after;
    if (!best || (valid && !best_valid) || (valid == best_valid && c.issued_at > best->issued_at)) best = &c;
  }
  return best;
}

Status Trust::authorize(const Act& act) const {
  const Certificate* c = certificate(act.cert_id);
  std::string who = act.cert_id.substr(0, 16);
  if (!c) return make_error(Errc::not_found, "certificate " + who + " is unknown");
  who = std::string(cert_kind_name(c->kind)) + " \"" + c->name + "\" (" + who + ")";
  if (c->kind != act.kind)
    return make_error(Errc::unauthorized, who + (act.kind == CertKind::officer ? " is not an " : " is not a ") +
                                              cert_kind_name(act.kind) + " certificate");
  if (act.at < c->issued_at)
    return make_error(Errc::expired, who + " is not yet valid at " + utc_iso(act.at) + " (valid from " + utc_iso(c->issued_at) + ")");
  if (act.at >= c->not_after)
    return make_error(Errc::expired, who + " expired at " + utc_iso(c->not_after));
  if (const Revocation* r = revocation(c->id)) {
    if (act.at >= r->effective_at)
      return make_error(Errc::revoked, who + " was revoked from " + utc_iso(r->effective_at) + ": " + r->reason);
    if (act.arrived_at && *act.arrived_at > r->effective_at + kRevocationGraceSeconds)
      return make_error(Errc::revoked, who + " was revoked from " + utc_iso(r->effective_at) +
                                           " and this act arrived more than 7 days later");
  }
  if (act.unit && c->unit != *act.unit)
    return make_error(Errc::unauthorized, who + " belongs to unit " + c->unit + ", not " + *act.unit);
  if (act.role && !c->has_role(*act.role))
    return make_error(Errc::unauthorized, who + " lacks the role \"" + *act.role + "\"");
  return {};
}

}  // namespace hoso::engine
