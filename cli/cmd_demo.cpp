// `hoso demo`: the main job on embedded defaults, in a temporary folder, with
// no input from the user. It grows with the product; today it builds a
// province (root, units, officers, devices, a server, a procedure and the
// calendars), writes it as files a real province would have, and verifies
// every item and a set of authorisation questions against the chain of trust.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "app.hpp"
#include "defaults.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/file.hpp"
#include "hoso/engine/calendar.hpp"
#include "hoso/engine/procedure.hpp"

namespace hoso::cli {
namespace {

namespace fs = std::filesystem;

struct Say {
  bool quiet;
  int step = 0;
  void operator()(const std::string& s) {
    if (!quiet) std::cout << "[" << ++step << "] " << s << "\n";
  }
};

struct Demo {
  std::string dir;
  std::string passphrase;  // random, internal: the demo never asks the user
  crypto::SigningKey root = crypto::SigningKey::generate();
  std::vector<crypto::SignedItem> items;
  std::map<std::string, std::string> cert_ids;  // label -> certificate id
  int64_t t0 = 0;

  Status write_key(const std::string& name, const crypto::SigningKey& k) {
    auto sealed = crypto::seal_key_file(k, name, passphrase, crypto::Kdf::interactive);
    if (!sealed) return sealed.error();
    Status st = crypto::write_file_atomic(dir + "/" + name + ".key",
                                          std::string_view(reinterpret_cast<const char*>(sealed->data()), sealed->size()), 0600);
    if (!st) return st;
    return crypto::write_file_atomic(dir + "/" + name + ".key.pub", crypto::public_key_file(k.public_key(), name));
  }

  Status certify(const std::string& label, engine::CertRequest req) {
    req.issued_at = t0;
    auto item = engine::issue_certificate(root, req);
    if (!item) return item.error();
    Status st = crypto::write_file_atomic(dir + "/" + label + ".cert", item->bytes + "\n");
    if (!st) return st;
    cert_ids[label] = item->id_hex();
    items.push_back(std::move(*item));
    return {};
  }

  Status person(const std::string& label, engine::CertKind kind, const std::string& name, const std::string& unit,
                std::vector<std::string> roles = {}, std::optional<int64_t> slot = {}) {
    auto k = crypto::SigningKey::generate();
    Status st = write_key(label, k);
    if (!st) return st;
    engine::CertRequest req;
    req.kind = kind;
    req.name = name;
    req.unit = unit;
    req.pub = k.public_key();
    req.roles = std::move(roles);
    req.slot = slot;
    return certify(label, req);
  }

  Status sign_doc(const std::string& file, const char* type, const char* text) {
    auto doc = crypto::parse_json_strict(text);
    if (!doc) return doc.error();
    if (std::string(type) == engine::kTypeProcedure) {
      auto p = engine::parse_procedure(*doc);
      if (!p) return p.error();
    } else {
      auto c = engine::parse_calendar(*doc);
      if (!c) return c.error();
    }
    auto item = engine::sign_document(root, type, *doc, t0);
    if (!item) return item.error();
    Status st = crypto::write_file_atomic(dir + "/" + file, item->bytes + "\n");
    if (!st) return st;
    items.push_back(std::move(*item));
    return {};
  }
};

Status run_demo(bool quiet, const std::string& keep) {
  Say say{quiet};
  Demo d;
  uint8_t pw[16];
  crypto::random_bytes(pw, sizeof pw);
  d.passphrase = crypto::to_hex(crypto::ByteView(pw, sizeof pw));
  auto t = now();
  if (!t) return t.error();
  d.t0 = *t;

  if (!keep.empty()) {
    if (fs::exists(keep)) return make_error(Errc::conflict, keep + " already exists; --keep wants a new folder");
    std::error_code ec;
    fs::create_directories(keep, ec);
    if (ec) return make_error(Errc::io, "cannot create " + keep + ": " + ec.message());
    d.dir = keep;
  } else {
    std::string tmpl = (fs::temp_directory_path() / "hoso-demo-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) return make_error(Errc::io, "cannot create a temporary folder");
    d.dir = tmpl;
  }
  struct Cleanup {
    std::string dir;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) fs::remove_all(dir, ec);
    }
  } cleanup{d.dir, !keep.empty()};

  say("Working in " + d.dir + (keep.empty() ? " (removed at the end)" : ""));
  Status st = d.write_key("root", d.root);
  if (!st) return st;
  say("Province root key made: fingerprint " + crypto::fingerprint(d.root.public_key()) +
      " (encrypted at rest with argon2id + XChaCha20-Poly1305)");

  using K = engine::CertKind;
  const std::string P = "000.00.00.H12", A = "000.00.31.H12", B = "000.00.32.H12";
  engine::CertRequest u;
  u.kind = K::unit;
  u.name = "UBND tỉnh Thái Bình";
  u.unit = P;
  if (!(st = d.certify("unit-province", u))) return st;
  u.name = "UBND xã Tân Lập";
  u.unit = A;
  u.parent = P;
  if (!(st = d.certify("unit-tanlap", u))) return st;
  u.name = "UBND xã Hòa Bình";
  u.unit = B;
  if (!(st = d.certify("unit-hoabinh", u))) return st;
  say("Units certified: the province " + P + " and two communes under it, " + A + " and " + B);

  struct Officer { const char* label; const char* name; std::string unit; std::vector<std::string> roles; };
  std::vector<Officer> officers = {
      {"a-receiver", "Nguyễn Thị Lan", A, {"receiver"}},
      {"a-specialist", "Trần Văn Minh", A, {"specialist"}},
      {"a-leader", "Lê Quốc Hùng", A, {"leader"}},
      {"b-receiver", "Phạm Thu Hà", B, {"receiver"}},
      {"b-specialist", "Đỗ Đức Anh", B, {"specialist"}},
      {"b-leader", "Vũ Thị Mai", B, {"leader"}},
      {"p-specialist", "Hoàng Văn Nam", P, {"specialist"}},
  };
  for (const auto& o : officers)
    if (!(st = d.person(o.label, K::officer, o.name, o.unit, o.roles))) return st;
  say("Officers certified with their roles: " + std::to_string(officers.size()) + " (receiver, specialist, leader)");
  if (!(st = d.person("a-laptop1", K::device, "Tân Lập desk 1", A, {}, 1))) return st;
  if (!(st = d.person("a-laptop2", K::device, "Tân Lập desk 2", A, {}, 2))) return st;
  if (!(st = d.person("b-laptop1", K::device, "Hòa Bình desk 1", B, {}, 1))) return st;
  if (!(st = d.person("server", K::server, "Máy chủ tỉnh", P))) return st;
  say("Devices certified with their desk slots (slot N numbers dossiers N000-N999), and the provincial server");

  if (!(st = d.sign_doc("procedure-1.001193.signed", engine::kTypeProcedure, defaults::kProcedure))) return st;
  if (!(st = d.sign_doc("calendar-2026.signed", engine::kTypeCalendar, defaults::kCalendar2026))) return st;
  if (!(st = d.sign_doc("calendar-2027.signed", engine::kTypeCalendar, defaults::kCalendar2027))) return st;
  say("Procedure 1.001193 \"Đăng ký khai sinh\" (3 working days, 5 steps) and the 2026-2027 calendars signed");

  // Revoke the second laptop of Tân Lập, as if stolen, from one hour on.
  const auto* stolen = &d.items[0];
  for (const auto& it : d.items)
    if (it.id_hex() == d.cert_ids["a-laptop2"]) stolen = &it;
  auto stolen_cert = engine::read_certificate(*stolen, d.root.public_key());
  if (!stolen_cert) return stolen_cert.error();
  auto rev = engine::issue_revocation(d.root, *stolen_cert, "laptop reported stolen", d.t0 + 3600, d.t0);
  if (!rev) return rev.error();
  if (!(st = crypto::write_file_atomic(d.dir + "/a-laptop2.revocation", rev->bytes + "\n"))) return st;
  d.items.push_back(std::move(*rev));
  say("Desk 2 of Tân Lập revoked from one hour after now (laptop reported stolen)");

  // Verify: re-read every file from disk against root.pub only.
  auto rootpub = load_public_key(d.dir + "/root.key.pub");
  if (!rootpub) return rootpub.error();
  engine::Trust trust(rootpub->pub);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(d.dir)) {
    auto ext = e.path().extension().string();
    if (ext != ".cert" && ext != ".revocation" && ext != ".signed") continue;
    auto items = load_items(e.path().string());
    if (!items) return items.error();
    for (const auto& it : *items) {
      if (it.type == engine::kTypeCert || it.type == engine::kTypeRevocation) st = trust.add(it);
      else st = engine::read_document(it, rootpub->pub);
      if (!st) return make_error(st.error().code, e.path().string() + ": " + st.error().message);
    }
    ++files;
  }
  say("Verified " + std::to_string(files) + " signed files against root.pub alone");

  struct Q { std::string label; std::optional<std::string> role, unit; int64_t dt; bool expect; std::string what; };
  std::vector<Q> qs = {
      {"a-receiver", "receiver", A, 0, true, "Tân Lập's receiver receives a dossier at Tân Lập"},
      {"a-receiver", "leader", A, 0, false, "Tân Lập's receiver signs as leader"},
      {"a-leader", "leader", B, 0, false, "Tân Lập's leader signs for Hòa Bình"},
      {"p-specialist", "specialist", P, 0, true, "the province's specialist reviews a forwarded dossier"},
      {"a-laptop2", std::nullopt, A, 60, true, "Tân Lập desk 2 countersigns a minute from now"},
      {"a-laptop2", std::nullopt, A, 7200, false, "Tân Lập desk 2 countersigns two hours from now"},
      {"a-receiver", "receiver", A, 6 * 365 * 86400LL, false, "Tân Lập's receiver acts in six years"},
  };
  int mismatches = 0;
  for (const auto& q : qs) {
    engine::Act act;
    act.cert_id = d.cert_ids[q.label];
    act.kind = q.label.find("laptop") != std::string::npos ? K::device : K::officer;
    act.role = q.role;
    act.unit = q.unit;
    act.at = d.t0 + q.dt;
    act.arrived_at = act.at;
    Status a = trust.authorize(act);
    if (a.ok() != q.expect) ++mismatches;
    say(std::string(a.ok() ? "allowed: " : "refused: ") + q.what + (a.ok() ? "" : " — " + a.error().message));
  }
  if (mismatches) return make_error(Errc::internal, "demo: " + std::to_string(mismatches) + " authorisation answers were wrong");
  say("All checks passed.");
  return {};
}

}  // namespace

void register_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Run the main job on embedded defaults, in a temporary folder");
  struct Opts {
    Common c;
    std::string keep;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--keep", o->keep, "Build the demo in this new folder and keep it");
  add_common(cmd, o->c, false);
  on_run(cmd, [o]() -> Status {
    Status st = run_demo(o->c.json, o->keep);
    if (st && o->c.json) print_json({{"ok", true}});
    return st;
  });
}

}  // namespace hoso::cli
