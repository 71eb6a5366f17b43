// `hoso demo`: the main job on embedded defaults, in a temporary folder, with
// no input from the user. It grows with the product; today it builds a
// province (root, units, officers, devices, a server, a procedure and the
// calendars), writes it as files a real province would have, and verifies
// every item and a set of authorisation questions against the chain of trust.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <future>
#include <thread>
#include <filesystem>
#include <iostream>

#include "app.hpp"
#include "defaults.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/file.hpp"
#include "hoso/engine/calendar.hpp"
#include "hoso/engine/procedure.hpp"
#include "hoso/engine/report.hpp"
#include "hoso/engine/store.hpp"
#include "hoso/sync/flaky_link.hpp"
#include "hoso/sync/sync.hpp"

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

const crypto::SignedItem* find_item(const Demo& d, const std::string& label) {
  for (const auto& it : d.items)
    if (it.id_hex() == d.cert_ids.at(label)) return &it;
  return nullptr;
}

// Moves what one store has and the other lacks, device log by device log, as
// a USB stick (or, later, the sync) would.
Status carry(const engine::Store& from, engine::Store& to, int64_t at) {
  auto have = to.watermarks();
  auto offer = from.watermarks();
  if (!have) return have.error();
  if (!offer) return offer.error();
  std::vector<crypto::SignedItem> items;
  for (const auto& [device, seq] : *offer) {
    auto log = from.device_log(device, have->count(device) ? have->at(device) : 0, 100000);
    if (!log) return log.error();
    for (auto& i : *log) items.push_back(std::move(i));
  }
  auto r = to.ingest(items, at);
  if (!r) return r.error();
  for (const auto& e : *r)
    if (e.outcome == engine::Outcome::quarantined) return make_error(Errc::internal, "demo: event quarantined: " + e.reason);
  return {};
}

// A day at the desk of Tân Lập: dossiers through every kind of step, one
// forwarded to the province and back, then verification of both stores and
// of a bundle.
Status run_desk_day(Demo& d, std::map<std::string, crypto::SigningKey>& keys, Say& say) {
  const auto& root = d.root.public_key();
  std::vector<crypto::SignedItem> shared;
  for (const auto& it : d.items)
    if (it.type != engine::kTypeRevocation) shared.push_back(it);
  auto key_file = [&](const std::string& label) { return crypto::read_file(d.dir + "/" + label + ".key"); };
  auto ka = key_file("a-laptop1"), kp = key_file("p-laptop");
  if (!ka) return ka.error();
  if (!kp) return kp.error();
  auto a = engine::Store::create_device(d.dir + "/tanlap.db", root, *find_item(d, "a-laptop1"), *ka, "");
  if (!a) return a.error();
  auto p = engine::Store::create_device(d.dir + "/province.db", root, *find_item(d, "p-laptop"), *kp, "");
  if (!p) return p.error();
  auto ia = a->ingest(shared, d.t0), ip = p->ingest(shared, d.t0);
  if (!ia) return ia.error();
  if (!ip) return ip.error();
  say("Laptop stores made for Tân Lập desk 1 and a province desk; certificates, procedure and calendars imported");

  const auto& cal = a->registry().calendar();
  auto& dev = keys.at("a-laptop1");
  int64_t t = d.t0 + 3600;  // 09:00
  auto recv = [&](const std::string& name, const std::string& cccd) {
    engine::ReceiveRequest r{"1.001193", name, {{"cccd", cccd}, {"child_name", "Bé " + name}, {"birth_date", "2026-02-20"}}, {}};
    if (name == "Nguyễn Văn An") r.attachments.push_back({"giay-chung-sinh.pdf", "%PDF-1.4 giấy chứng sinh (demo)"});
    return a->receive(keys.at("a-receiver"), dev, r, t);
  };
  auto act = [&](engine::Store& s, const char* who, crypto::SigningKey& device, const std::string& code, const char* action,
                 const char* note = "", std::optional<std::string> until = {}) {
    engine::ActRequest r;
    r.dossier = code;
    r.action = action;
    r.note = note;
    r.until = until;
    return s.act(keys.at(who), device, r, t);
  };
  auto d1 = recv("Nguyễn Văn An", "001201000001");
  if (!d1) return d1.error();
  auto d2 = recv("Trần Thị Bình", "001201000002");
  if (!d2) return d2.error();
  auto d3 = recv("Lê Văn Cường", "001201000003");
  if (!d3) return d3.error();
  auto d4 = recv("Phạm Thị Dung", "001201000004");
  if (!d4) return d4.error();
  say("Four dossiers received at 09:00 Monday: " + d1->code + " ... " + d4->code + ", results due " + cal.iso(*d1->due_at));

  // The receipt and appointment slip of the first dossier.
  if (!say.quiet) {
    std::cout << "\n    GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ\n"
              << "    Mã hồ sơ: " << d1->code << "\n    Thủ tục: Đăng ký khai sinh (1.001193)\n"
              << "    Người nộp: " << d1->applicant << "\n    Tiếp nhận: " << cal.iso(d1->received_at) << "\n"
              << "    Hẹn trả kết quả: " << cal.iso(*d1->due_at) << "\n    Giấy tờ: giay-chung-sinh.pdf\n\n";
  }
  Result<engine::DossierState> r = *d1;
  // 1: straight through: accept, review, sign, deliver.
  t += 1800;
  for (auto [who, action] : std::vector<std::pair<const char*, const char*>>{{"a-receiver", "accept"}, {"a-specialist", "approve"}, {"a-leader", "approve"}}) {
    if (!(r = act(*a, who, dev, d1->code, action))) return r.error();
    t += 3600;
  }
  if (!(r = act(*a, "a-receiver", dev, d1->code, "deliver"))) return r.error();
  say(d1->code + ": accepted, reviewed, signed by the leader, result handed over -> " + r->status + " (" + r->timeliness.value_or("") + ")");
  // 2: a supplement request, resubmission the next day, then on.
  if (!(r = act(*a, "a-receiver", dev, d2->code, "request_supplement", "Thiếu bản sao giấy đăng ký kết hôn"))) return r.error();
  say(d2->code + ": supplement requested -> " + r->status + ", clock stopped (due_at null)");
  t += 86400;
  if (!(r = act(*a, "a-receiver", dev, d2->code, "accept"))) return r.error();
  say(d2->code + ": complete resubmission the next day counts as a new receipt -> due " + cal.iso(*r->due_at));
  // 3: forwarded to the province and back.
  if (!(r = act(*a, "a-receiver", dev, d3->code, "accept"))) return r.error();
  if (!(r = act(*a, "a-specialist", dev, d3->code, "forward"))) return r.error();
  say(d3->code + ": forwarded to the province -> " + r->status + ", held by " + r->holder);
  Status st = carry(*a, *p, t);
  if (!st) return st;
  t += 3600;
  if (!(r = act(*p, "p-specialist", keys.at("p-laptop"), d3->code, "approve"))) return r.error();
  if (!(st = carry(*p, *a, t))) return st;
  auto back = a->dossier(d3->code);
  if (!back) return back.error();
  say(d3->code + ": the province's specialist approved on a province desk; carried back -> " + back->status + " at step " + back->step);
  // A commune officer cannot act while the province holds a dossier: shown by refusal.
  // 4: suspended, resumed, extended with an apology, then refused.
  if (!(r = act(*a, "a-receiver", dev, d4->code, "suspend", "Chờ xác minh tại nơi cư trú"))) return r.error();
  t += 2 * 86400;
  if (!(r = act(*a, "a-receiver", dev, d4->code, "resume"))) return r.error();
  if (!(r = act(*a, "a-receiver", dev, d4->code, "extend", "Xin lỗi ông/bà vì sự chậm trễ", std::string("2026-03-13")))) return r.error();
  say(d4->code + ": suspended, resumed two days later, extended with an apology -> new appointment " + cal.iso(*r->due_at));
  if (!(r = act(*a, "a-receiver", dev, d4->code, "reject", "Không đủ điều kiện đăng ký"))) return r.error();
  say(d4->code + ": refused in writing -> " + r->status + " (" + r->timeliness.value_or("") + ")");
  auto refused = act(*a, "a-receiver", dev, d4->code, "accept");
  if (refused) return make_error(Errc::internal, "demo: an action on a finished dossier was accepted");
  say("Refused before signing: " + refused.error().message);

  // The process record (phiếu kiểm soát quá trình) of the first dossier.
  auto rec = a->dossier(d1->code);
  if (!rec) return rec.error();
  if (!say.quiet) {
    std::cout << "\n    PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ " << rec->code << "\n";
    for (const auto& v : rec->visits)
      std::cout << "    " << v.step << ": " << cal.iso(v.entered_at) << " -> " << (v.left_at ? cal.iso(*v.left_at) : "...")
                << (v.due_at ? (v.left_at && *v.left_at <= *v.due_at ? "  đúng hạn" : "  trễ hạn") : "") << "\n";
    std::cout << "\n";
  }
  auto va = a->verify(), vp = p->verify();
  if (!va.ok()) return make_error(Errc::damaged, "demo: Tân Lập's store fails verification: " + va.errors.front());
  if (!vp.ok()) return make_error(Errc::damaged, "demo: the province desk's store fails verification: " + vp.errors.front());
  say("Both stores verified: " + std::to_string(va.checked) + " + " + std::to_string(vp.checked) +
      " events re-checked (signatures, chains, certificates, roles) and every projection rebuilt from the log");
  auto bundle = a->export_bundle(d3->code);
  if (!bundle) return bundle.error();
  auto vb = engine::verify_bundle(*bundle, root);
  if (!vb.ok()) return make_error(Errc::damaged, "demo: bundle fails verification: " + vb.errors.front());
  say("Bundle of " + d3->code + " (" + std::to_string(bundle->size()) + " bytes) verified offline with root.pub alone");
  std::string tampered = *bundle;
  tampered[tampered.find(R"("action":"forward")") + 11] ^= 1;
  if (engine::verify_bundle(tampered, root).ok()) return make_error(Errc::internal, "demo: a tampered bundle verified");
  say("The same bundle with one changed byte is rejected");
  auto rep = engine::build_report(*a, std::nullopt, std::nullopt, t, false);
  if (!rep) return rep.error();
  const auto& u = (*rep)["units"][0];
  say("Report for " + u["unit"].get<std::string>() + ": " + std::to_string(u["dossiers"].get<int64_t>()) + " dossiers, " +
      std::to_string(u["finished"].get<int64_t>()) + " finished, " + std::to_string(u["supplements"].get<int64_t>()) +
      " supplement request(s), " + std::to_string(u["extensions"].get<int64_t>()) + " extension(s)");
  return {};
}

std::shared_ptr<crypto::SigningKey> demo_key(const Demo& d, const std::string& label) {
  auto k = crypto::read_file(d.dir + "/" + label + ".key");
  if (!k) return nullptr;
  auto key = crypto::open_key_file(crypto::as_bytes(*k), d.passphrase);
  if (!key) return nullptr;
  return std::make_shared<crypto::SigningKey>(std::move(*key));
}

// The network: the provincial server and a relay on loopback, Tân Lập's
// laptop syncing to the relay over a link that drops every few kilobytes,
// Hòa Bình's laptop receiving its first dossier, and every store verified.
Status run_network(Demo& d, Say& say) {
  using K = engine::CertKind;
  const std::string P = "000.00.00.H12";
  Status st = d.person("relay", K::server, "Máy chủ trung chuyển khu vực", P);
  if (!st) return st;
  const auto& root = d.root.public_key();
  int64_t t = d.t0 + 3 * 86400;  // Thursday
  auto clock = [t] { return t; };
  std::vector<crypto::SignedItem> all = d.items;
  auto cert_of = [&](const std::string& label) { return *find_item(d, label); };
  {
    auto prov = engine::Store::open_server(d.dir + "/province-server.db", root);
    if (!prov) return prov.error();
    auto r = prov->ingest(all, d.t0);
    if (!r) return r.error();
  }
  std::atomic<bool> stop{false};
  std::promise<uint16_t> pport, rport;
  sync::ServerOptions po;
  po.listen = "127.0.0.1:0";
  po.store_path = d.dir + "/province-server.db";
  po.root = root;
  po.key = demo_key(d, "server");
  po.cert = cert_of("server");
  po.now = clock;
  po.on_listening = [&](uint16_t port) { pport.set_value(port); };
  po.log = [](const std::string&) {};  // the demo tells its own story
  Status pst, rst;
  std::thread pthread, rthread;  // declared before the joiner that joins them
  pthread = std::thread([&] { pst = sync::serve(po, stop); });
  struct Joiner {
    std::atomic<bool>& stop;
    std::vector<std::thread*> threads;
    ~Joiner() {
      stop.store(true);
      for (auto* t : threads)
        if (t->joinable()) t->join();
    }
  } joiner{stop, {&pthread}};
  auto pf = pport.get_future();
  if (pf.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return make_error(Errc::internal, "demo: the provincial server did not start");
  uint16_t province_port = pf.get();
  sync::ServerOptions ro = po;
  ro.store_path = d.dir + "/relay.db";
  ro.key = demo_key(d, "relay");
  ro.cert = cert_of("relay");
  ro.upstream = "127.0.0.1:" + std::to_string(province_port);
  ro.relay_interval_seconds = 1;
  ro.on_listening = [&](uint16_t port) { rport.set_value(port); };
  {
    auto rs = engine::Store::open_server(ro.store_path, root);
    if (!rs) return rs.error();
  }
  rthread = std::thread([&] { rst = sync::serve(ro, stop); });
  joiner.threads.push_back(&rthread);
  auto rf = rport.get_future();
  if (rf.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return make_error(Errc::internal, "demo: the relay did not start");
  uint16_t relay_port = rf.get();
  say("Provincial server listening on 127.0.0.1:" + std::to_string(province_port) + ", a regional relay on 127.0.0.1:" +
      std::to_string(relay_port) + " forwarding to it (TLS 1.3, keys certified by the province root)");

  // Tân Lập's laptop, over a link that cuts every connection after 3-9 KB.
  sync::FlakyLink link(relay_port, 3000, 9000, 20260302);
  sync::ClientOptions co;
  co.now = clock;
  co.server = "127.0.0.1:" + std::to_string(link.port());
  co.db = d.dir + "/tanlap.db";
  co.device_key = demo_key(d, "a-laptop1");
  co.limits.batch_bytes = 2048;  // small batches: a cut costs at most one
  co.limits.io_timeout_seconds = 5;
  int tries = 0;
  Result<sync::SyncReport> r = make_error(Errc::internal, "");
  int64_t pushed = 0;
  while (tries < 400) {
    ++tries;
    r = sync::sync_once(co);
    if (r) {
      pushed += r->pushed;
      break;
    }
  }
  if (!r) return make_error(r.error().code, "demo: Tân Lập could not sync: " + r.error().message);
  say("Tân Lập desk 1 synced over the dropping link: " + std::to_string(tries) + " attempts, " + std::to_string(link.cuts()) +
      " connections cut mid-transfer, every event acknowledged up to " + std::to_string(r->acked) + " with a signed receipt");
  // The province desk syncs straight to the province.
  sync::ClientOptions pc = co;
  pc.server = "127.0.0.1:" + std::to_string(province_port);
  pc.db = d.dir + "/province.db";
  pc.device_key = demo_key(d, "p-laptop");
  auto pr = sync::sync_once(pc);
  if (!pr) return make_error(pr.error().code, "demo: the province desk could not sync: " + pr.error().message);

  // Hòa Bình: a new laptop pulls everything it needs, then receives its first dossier.
  auto bkey = crypto::read_file(d.dir + "/b-laptop1.key");
  if (!bkey) return bkey.error();
  {
    auto b = engine::Store::create_device(d.dir + "/hoabinh.db", root, cert_of("b-laptop1"), *bkey, "");
    if (!b) return b.error();
  }
  sync::ClientOptions bc = co;
  bc.server = "127.0.0.1:" + std::to_string(relay_port);
  bc.db = d.dir + "/hoabinh.db";
  bc.device_key = demo_key(d, "b-laptop1");
  auto br = sync::sync_once(bc);
  if (!br) return make_error(br.error().code, "demo: Hòa Bình could not sync: " + br.error().message);
  {
    auto b = engine::Store::open(bc.db);
    if (!b) return b.error();
    auto officer = demo_key(d, "b-receiver");
    engine::ReceiveRequest req{"1.001193", "Hoàng Thị Em", {{"cccd", "001201000009"}, {"child_name", "Bé Em"}, {"birth_date", "2026-02-25"}}, {}};
    auto got = b->receive(*officer, *bc.device_key, req, t);
    if (!got) return got.error();
    say("Hòa Bình's new laptop pulled certificates, procedure and calendars from the relay (" + std::to_string(br->pulled) +
        " items) and received " + got->code);
  }
  br = sync::sync_once(bc);
  if (!br) return br.error();

  // Wait for the relay to forward everything to the province.
  std::map<std::string, int64_t> want;
  for (const char* db : {"/tanlap.db", "/hoabinh.db"}) {
    auto s = engine::Store::open(d.dir + db, false);
    if (!s) return s.error();
    auto w = s->watermarks();
    if (!w) return w.error();
    want[s->device_cert_id()] = w->count(s->device_cert_id()) ? w->at(s->device_cert_id()) : 0;
  }
  bool arrived = false;
  for (int i = 0; i < 300 && !arrived; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto s = engine::Store::open(po.store_path, false);
    if (!s) continue;
    auto w = s->watermarks();
    if (!w) continue;
    arrived = true;
    for (const auto& [dev, seq] : want) arrived &= w->count(dev) && w->at(dev) >= seq;
  }
  if (!arrived) return make_error(Errc::internal, "demo: the relay did not forward everything to the province in 30 s");
  say("The relay forwarded both communes' logs to the province, byte for byte; the province verified them again");
  stop.store(true);
  for (auto* th : joiner.threads) th->join();
  if (!pst) return pst;
  if (!rst) return rst;
  int64_t checked = 0;
  for (const char* db : {"/province-server.db", "/relay.db", "/tanlap.db", "/hoabinh.db", "/province.db"}) {
    auto s = engine::Store::open(d.dir + db, false);
    if (!s) return s.error();
    auto v = s->verify();
    if (!v.ok()) return make_error(Errc::damaged, std::string("demo: ") + db + " fails verification: " + v.errors.front());
    checked += v.checked;
  }
  say("Every store verified (province server, relay, three laptops): " + std::to_string(checked) + " event copies re-checked");
  return {};
}

Status run_demo(bool quiet, const std::string& keep) {
  Say say{quiet};
  Demo d;
  uint8_t pw[16];
  crypto::random_bytes(pw, sizeof pw);
  d.passphrase = crypto::to_hex(crypto::ByteView(pw, sizeof pw));
  // The demo lives on a fixed day covered by its calendars, so it runs the
  // same in any year: Monday 2 March 2026, 08:00 in Vietnam.
  auto t = engine::parse_iso8601("2026-03-02T08:00:00+07:00");
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
  std::map<std::string, crypto::SigningKey> keys;
  for (const auto& o : officers) {
    auto k = crypto::read_file(d.dir + "/" + o.label + ".key");
    if (!k) return k.error();
    auto key = crypto::open_key_file(crypto::as_bytes(*k), d.passphrase);
    if (!key) return key.error();
    keys.emplace(o.label, std::move(*key));
  }
  for (const char* dev : {"a-laptop1", "p-laptop"}) {
    if (std::string(dev) == "p-laptop" && !(st = d.person(dev, K::device, "Province desk", P, {}, 0))) return st;
    auto k = crypto::read_file(d.dir + "/" + std::string(dev) + ".key");
    if (!k) return k.error();
    auto key = crypto::open_key_file(crypto::as_bytes(*k), d.passphrase);
    if (!key) return key.error();
    keys.emplace(dev, std::move(*key));
  }
  if (!(st = run_desk_day(d, keys, say))) return st;
  if (!(st = run_network(d, say))) return st;
  say("All checks passed.");
  if (!keep.empty()) {
    // A kept demo is for trying the desk: its keys need the passphrase the demo chose.
    if (!(st = crypto::write_file_atomic(d.dir + "/passphrase.txt", d.passphrase + "\n", 0600))) return st;
    say("Try the officers' desk on Tân Lập's store:\n  hoso ui --db " + d.dir + "/tanlap.db\n"
        "  then open http://127.0.0.1:8080/ and sign in with " + d.dir + "/a-receiver.key (or a-specialist.key, a-leader.key);\n"
        "  the passphrase is in " + d.dir + "/passphrase.txt");
  }
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
