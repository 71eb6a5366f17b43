// `hoso key new` and `hoso authority init|certify|sign|revoke`: the province
// root and everything it signs.
#include <sys/stat.h>

#include <iostream>

#include "app.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/file.hpp"
#include "hoso/engine/calendar.hpp"
#include "hoso/engine/procedure.hpp"

namespace hoso::cli {
namespace {

constexpr int64_t kNoSlot = INT64_MIN;  // --slot not given (any given value is checked)

Result<crypto::Kdf> parse_kdf(const std::string& s) {
  if (s == "interactive") return crypto::Kdf::interactive;
  if (s == "moderate") return crypto::Kdf::moderate;
  return make_error(Errc::invalid_argument, "--kdf must be interactive or moderate");
}

// Writes FILE (secret, never overwritten) and FILE.pub.
Status write_key_pair(const std::string& path, const std::string& name, const crypto::SigningKey& key,
                      crypto::Kdf kdf, const Common& c, const std::string& pub_path) {
  if (::access(path.c_str(), F_OK) == 0) return make_error(Errc::conflict, path + " already exists; refusing to overwrite a key");
  auto pass = passphrase(c, "the new key " + path, true);
  if (!pass) return pass.error();
  auto sealed = crypto::seal_key_file(key, name, pass->view(), kdf);
  if (!sealed) return sealed.error();
  std::string_view bytes(reinterpret_cast<const char*>(sealed->data()), sealed->size());
  Status st = crypto::write_file_atomic(path, bytes, 0600, true);
  if (!st) return st;
  return crypto::write_file_atomic(pub_path, crypto::public_key_file(key.public_key(), name), 0644);
}

struct RootDir {
  std::string dir;
  std::string key() const { return dir + "/root.key"; }
  std::string pub() const { return dir + "/root.pub"; }
  std::string issued() const { return dir + "/issued"; }
};

// Keeps a copy of everything the root signs, so provincial IT can find a
// certificate to revoke or re-publish years later.
void record_issued(const RootDir& d, const crypto::SignedItem& item, const std::string& ext) {
  ::mkdir(d.issued().c_str(), 0755);
  (void)crypto::write_file_atomic(d.issued() + "/" + item.id_hex() + ext, item.bytes + "\n", 0644);
}

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t c = s.find(',', pos);
    std::string part = s.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    while (!part.empty() && part.back() == ' ') part.pop_back();
    if (!part.empty()) out.push_back(part);
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  return out;
}

}  // namespace

void register_key(CLI::App& app) {
  auto* key = app.add_subcommand("key", "Key pairs for officers, devices and servers");
  key->require_subcommand(1);
  auto* cmd = key->add_subcommand("new", "Make a key pair: FILE (encrypted) and FILE.pub");
  struct Opts {
    Common c;
    std::string out, name, kdf = "moderate";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--out", o->out, "Key file to create (never overwritten)")->required();
  cmd->add_option("--name", o->name, "Name stored beside the public key");
  cmd->add_option("--kdf", o->kdf, "Passphrase hardening: interactive or moderate (default)");
  add_common(cmd, o->c, true);
  on_run(cmd, [o]() -> Status {
    auto kdf = parse_kdf(o->kdf);
    if (!kdf) return kdf.error();
    auto key = crypto::SigningKey::generate();
    std::string pub = o->out + ".pub";
    Status st = write_key_pair(o->out, o->name, key, *kdf, o->c, pub);
    if (!st) return st;
    if (o->c.json)
      print_json({{"key", o->out}, {"pub", pub}, {"public_key", crypto::to_hex(key.public_key())},
                  {"fingerprint", crypto::fingerprint(key.public_key())}});
    else
      std::cout << "Created " << o->out << " and " << pub << " (fingerprint " << crypto::fingerprint(key.public_key()) << ")\n";
    return {};
  });
}

void register_authority(CLI::App& app) {
  auto* auth = app.add_subcommand("authority", "The province root: certify, sign and revoke");
  auth->require_subcommand(1);

  {  // init
    auto* cmd = auth->add_subcommand("init", "Create the province root key in DIR");
    struct Opts {
      Common c;
      std::string dir, name, kdf = "moderate";
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--dir", o->dir, "Folder for root.key and root.pub")->required();
    cmd->add_option("--name", o->name, "Name of the province")->required();
    cmd->add_option("--kdf", o->kdf, "Passphrase hardening: interactive or moderate (default)");
    add_common(cmd, o->c, true);
    on_run(cmd, [o]() -> Status {
      auto kdf = parse_kdf(o->kdf);
      if (!kdf) return kdf.error();
      if (o->name.empty()) return make_error(Errc::invalid_argument, "--name must not be empty");
      if (::mkdir(o->dir.c_str(), 0700) != 0 && errno != EEXIST)
        return make_error(Errc::io, "cannot create " + o->dir + ": " + std::strerror(errno));
      RootDir d{o->dir};
      auto key = crypto::SigningKey::generate();
      Status st = write_key_pair(d.key(), o->name, key, *kdf, o->c, d.pub());
      if (!st) return st;
      ::mkdir(d.issued().c_str(), 0755);
      if (o->c.json)
        print_json({{"dir", o->dir}, {"key", d.key()}, {"pub", d.pub()}, {"public_key", crypto::to_hex(key.public_key())},
                    {"fingerprint", crypto::fingerprint(key.public_key())}});
      else
        std::cout << "Province root \"" << o->name << "\" created in " << o->dir << " (fingerprint "
                  << crypto::fingerprint(key.public_key()) << "). Keep root.key offline; give root.pub to everyone.\n";
      return {};
    });
  }

  {  // certify
    auto* cmd = auth->add_subcommand("certify", "Certify a unit, officer, device or server");
    struct Opts {
      Common c;
      std::string dir, pub, kind, name, unit, parent, roles, out;
      int64_t slot = kNoSlot, days = engine::kDefaultCertDays;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--dir", o->dir, "Authority folder (root.key)")->required();
    cmd->add_option("--pub", o->pub, "Public key file of the subject (FILE.pub); not needed for units");
    cmd->add_option("--kind", o->kind, "unit, officer, device or server")->required();
    cmd->add_option("--name", o->name, "Name of the unit, officer, device or server")->required();
    cmd->add_option("--unit", o->unit, "Unit code (a unit's own code for --kind unit)")->required();
    auto* parent = cmd->add_option("--parent", o->parent, "Parent unit code (units only)");
    cmd->add_option("--roles", o->roles, "Comma-separated roles (officers only)");
    cmd->add_option("--slot", o->slot, "Desk slot 0-9 (devices only)");
    cmd->add_option("--days", o->days, "Validity in days from now (default 1825)");
    cmd->add_option("--out", o->out, "Certificate file to write")->required();
    add_common(cmd, o->c, true);
    on_run(cmd, [o, parent]() -> Status {
      engine::CertRequest req;
      auto kind = engine::parse_cert_kind(o->kind);
      if (!kind) return kind.error();
      req.kind = *kind;
      req.name = o->name;
      req.unit = o->unit;
      if (parent->count()) req.parent = o->parent;  // an empty --parent "" is refused, not ignored
      req.roles = split_csv(o->roles);
      if (o->slot != kNoSlot) req.slot = o->slot;
      req.days = o->days;
      auto t = now();
      if (!t) return t.error();
      req.issued_at = *t;
      if (!o->pub.empty()) {
        auto pk = load_public_key(o->pub);
        if (!pk) return pk.error();
        req.pub = pk->pub;
      }
      RootDir d{o->dir};
      auto root = load_key(d.key(), o->c);
      if (!root) return root.error();
      auto item = engine::issue_certificate(*root, req);
      if (!item) return item.error();
      Status st = save_items(o->out, {&*item});
      if (!st) return st;
      record_issued(d, *item, ".cert");
      if (o->c.json)
        print_json({{"id", item->id_hex()}, {"kind", o->kind}, {"name", o->name}, {"unit", o->unit},
                    {"not_after", engine::format_iso8601(item->body["not_after"].get<int64_t>(), display_offset_minutes())},
                    {"out", o->out}});
      else
        std::cout << "Certified " << o->kind << " \"" << o->name << "\" of unit " << o->unit << " until "
                  << engine::format_iso8601(item->body["not_after"].get<int64_t>(), display_offset_minutes()) << " -> "
                  << o->out << "\n";
      return {};
    });
  }

  {  // sign
    auto* cmd = auth->add_subcommand("sign", "Check and sign a procedure or calendar");
    struct Opts {
      Common c;
      std::string dir, in, out;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--dir", o->dir, "Authority folder (root.key)")->required();
    cmd->add_option("--in", o->in, "Procedure or calendar JSON")->required();
    cmd->add_option("--out", o->out, "Signed file to write")->required();
    add_common(cmd, o->c, true);
    on_run(cmd, [o]() -> Status {
      auto text = crypto::read_file(o->in, 4u << 20);
      if (!text) return text.error();
      auto doc = crypto::parse_json_strict(*text);
      if (!doc) return make_error(Errc::bad_format, o->in + ": " + doc.error().message);
      if (!doc->is_object() || !doc->contains("kind") || !(*doc)["kind"].is_string())
        return make_error(Errc::bad_format, o->in + ": kind: missing (procedure or calendar)");
      std::string kind = (*doc)["kind"].get<std::string>();
      const char* type = nullptr;
      std::string what;
      if (kind == "procedure") {
        auto p = engine::parse_procedure(*doc);
        if (!p) return make_error(p.error().code, o->in + ": " + p.error().message);
        type = engine::kTypeProcedure;
        what = "procedure " + p->code + " version " + std::to_string(p->version);
      } else if (kind == "calendar") {
        auto cal = engine::parse_calendar(*doc);
        if (!cal) return make_error(cal.error().code, o->in + ": " + cal.error().message);
        type = engine::kTypeCalendar;
        what = "calendar " + std::to_string(cal->year);
      } else {
        return make_error(Errc::bad_format, o->in + ": kind: \"" + kind + "\" is neither procedure nor calendar");
      }
      auto t = now();
      if (!t) return t.error();
      RootDir d{o->dir};
      auto root = load_key(d.key(), o->c);
      if (!root) return root.error();
      auto item = engine::sign_document(*root, type, *doc, *t);
      if (!item) return make_error(item.error().code, o->in + ": " + item.error().message);
      Status st = save_items(o->out, {&*item});
      if (!st) return st;
      record_issued(d, *item, "." + kind);
      if (o->c.json)
        print_json({{"id", item->id_hex()}, {"kind", kind}, {"out", o->out}});
      else
        std::cout << "Signed " << what << " -> " << o->out << "\n";
      return {};
    });
  }

  {  // revoke
    auto* cmd = auth->add_subcommand("revoke", "Revoke a certificate from a moment on");
    struct Opts {
      Common c;
      std::string dir, cert, reason, effective, out;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--dir", o->dir, "Authority folder (root.key)")->required();
    cmd->add_option("--cert", o->cert, "Certificate file to revoke")->required();
    cmd->add_option("--reason", o->reason, "Why (kept with the revocation)")->required();
    cmd->add_option("--effective", o->effective, "From when (ISO 8601 with offset; default now)");
    cmd->add_option("--out", o->out, "Revocation file to write")->required();
    add_common(cmd, o->c, true);
    on_run(cmd, [o]() -> Status {
      RootDir d{o->dir};
      auto rootpub = load_public_key(d.pub());
      if (!rootpub) return rootpub.error();
      auto items = load_items(o->cert);
      if (!items) return items.error();
      auto cert = engine::read_certificate(items->front(), rootpub->pub);
      if (!cert) return make_error(cert.error().code, o->cert + ": " + cert.error().message);
      auto t = now();
      if (!t) return t.error();
      int64_t eff = *t;
      if (!o->effective.empty()) {
        auto e = engine::parse_iso8601(o->effective);
        if (!e) return make_error(Errc::invalid_argument, "--effective: " + e.error().message);
        eff = *e;
        if (eff < *t)  // checked before asking for the passphrase
          return make_error(Errc::invalid_argument,
                            "--effective " + engine::format_iso8601(eff, display_offset_minutes()) + " is before now (" +
                                engine::format_iso8601(*t, display_offset_minutes()) +
                                "): a revocation is never retroactive");
      }
      auto root = load_key(d.key(), o->c);
      if (!root) return root.error();
      auto item = engine::issue_revocation(*root, *cert, o->reason, eff, *t);
      if (!item) return item.error();
      Status st = save_items(o->out, {&*item});
      if (!st) return st;
      record_issued(d, *item, ".revocation");
      std::string when = engine::format_iso8601(eff, display_offset_minutes());
      if (o->c.json)
        print_json({{"id", item->id_hex()}, {"cert", cert->id}, {"effective", when}, {"out", o->out}});
      else
        std::cout << "Revoked " << engine::cert_kind_name(cert->kind) << " \"" << cert->name << "\" from " << when
                  << " -> " << o->out << "\n";
      return {};
    });
  }
}

}  // namespace hoso::cli
