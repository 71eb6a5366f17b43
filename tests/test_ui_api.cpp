// The desk's JSON API, called in-process (hoso::ui::Desk::handle): sign-in,
// inbox, intake, a dossier's actions, search, forms — and every refusal the
// page relies on (no session, CSRF, Origin, Host, passphrase, actions the
// step does not allow, missing notes, idle lock).
#ifdef HOSO_HAVE_UI
#include <sodium.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "../cli/defaults.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/engine/calendar.hpp"
#include "hoso/engine/store.hpp"
#include "hoso/ui/desk.hpp"

using namespace hoso;
using nlohmann::json;

namespace {

std::string b64(const std::string& s) {
  std::string out(sodium_base64_encoded_len(s.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return out;
}

struct Fixture {
  std::string dir;
  int64_t t0 = 0;
  std::map<std::string, std::string> keys;  // role -> sealed key file
  std::unique_ptr<ui::Desk> desk;
  int64_t clock = 0;

  Fixture() {
    namespace fs = std::filesystem;
    dir = (fs::temp_directory_path() / "hoso-ui-XXXXXX").string();
    REQUIRE(::mkdtemp(dir.data()));
    t0 = *engine::parse_iso8601("2026-03-02T09:00:00+07:00");
    clock = t0;
    auto root = crypto::SigningKey::generate();
    std::vector<crypto::SignedItem> items;
    engine::CertRequest u;
    u.kind = engine::CertKind::unit;
    u.name = "UBND xã Tân Lập";
    u.unit = "U1";
    u.issued_at = t0 - 86400;
    items.push_back(*engine::issue_certificate(root, u));
    for (const char* role : {"receiver", "specialist", "leader"}) {
      auto k = crypto::SigningKey::generate();
      engine::CertRequest o = u;
      o.kind = engine::CertKind::officer;
      o.name = std::string("Cán bộ ") + role;
      o.roles = {role};
      o.pub = k.public_key();
      items.push_back(*engine::issue_certificate(root, o));
      auto sealed = crypto::seal_key_file(k, role, std::string("pw-") + role, crypto::Kdf::interactive);
      REQUIRE(sealed);
      keys[role] = std::string(sealed->begin(), sealed->end());
    }
    auto device = crypto::SigningKey::generate();
    engine::CertRequest dv = u;
    dv.kind = engine::CertKind::device;
    dv.name = "Desk 1";
    dv.slot = 1;
    dv.pub = device.public_key();
    auto dcert = engine::issue_certificate(root, dv);
    REQUIRE(dcert);
    items.push_back(*engine::sign_document(root, engine::kTypeProcedure, *crypto::parse_json_strict(cli::defaults::kProcedure), t0));
    items.push_back(*engine::sign_document(root, engine::kTypeCalendar, *crypto::parse_json_strict(cli::defaults::kCalendar2026), t0));
    auto sealed = crypto::seal_key_file(device, "d", "laptop-pw", crypto::Kdf::interactive);
    REQUIRE(sealed);
    auto store = engine::Store::create_device(dir + "/a.db", root.public_key(), *dcert, std::string(sealed->begin(), sealed->end()), "");
    REQUIRE(store);
    REQUIRE(store->ingest(items, t0));
    ui::DeskOptions opt;
    opt.db = dir + "/a.db";
    opt.listen = "127.0.0.1:8080";
    opt.device_passphrase = "laptop-pw";
    opt.now = [this] { return clock; };
    auto d = ui::Desk::open(opt);
    REQUIRE(d);
    desk = std::move(*d);
  }
  ~Fixture() {
    desk.reset();
    std::filesystem::remove_all(dir);
  }

  ui::HttpRequest req(const std::string& method, const std::string& target, const std::string& body = "") const {
    ui::HttpRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers["host"] = "127.0.0.1:8080";
    if (method == "POST") {
      r.headers["origin"] = "http://127.0.0.1:8080";
      r.headers["content-type"] = "application/json";
    }
    return r;
  }

  struct Session {
    std::string cookie, csrf;
  };
  ui::HttpResponse sign_in_raw(const std::string& role, const std::string& pass) {
    return desk->handle(req("POST", "/api/signin", json{{"key", b64(keys[role])}, {"passphrase", pass}}.dump()));
  }
  Session sign_in(const std::string& role) {
    auto r = sign_in_raw(role, "pw-" + role);
    REQUIRE(r.status == 200);
    Session s;
    s.csrf = json::parse(r.body)["csrf"];
    for (const auto& [k, v] : r.headers)
      if (k == "Set-Cookie") s.cookie = v.substr(0, v.find(';'));
    REQUIRE(!s.cookie.empty());
    return s;
  }
  ui::HttpResponse get(const Session& s, const std::string& target) {
    auto r = req("GET", target);
    r.headers["cookie"] = s.cookie;
    return desk->handle(r);
  }
  ui::HttpResponse post(const Session& s, const std::string& target, const json& body) {
    auto r = req("POST", target, body.dump());
    r.headers["cookie"] = s.cookie;
    r.headers["x-csrf-token"] = s.csrf;
    return desk->handle(r);
  }
};

json body(const ui::HttpResponse& r) { return json::parse(r.body); }

const json kForm = {{"procedure", "1.001193"},
                    {"applicant", "Nguyễn Văn An"},
                    {"fields", {{"cccd", "001201000001"}, {"child_name", "Nguyễn Thị Bé"}, {"birth_date", "2026-02-01"}}},
                    {"attachments", json::array({{{"name", "to-khai.pdf"}, {"data", "JVBERi0xLjQgc2Nhbg=="}}})}};

}  // namespace

TEST_CASE("desk: sign-in refusals and cross-site protections", "[ui]") {
  Fixture f;
  // Wrong passphrase: 401, no cookie.
  auto bad = f.sign_in_raw("receiver", "nope");
  CHECK(bad.status == 401);
  for (const auto& [k, v] : bad.headers) CHECK(k != "Set-Cookie");
  // Not a key file.
  auto junk = f.desk->handle(f.req("POST", "/api/signin", json{{"key", b64("hello")}, {"passphrase", "x"}}.dump()));
  CHECK(junk.status == 400);
  // No session: the API refuses, the page itself loads.
  CHECK(f.desk->handle(f.req("GET", "/api/inbox")).status == 401);
  CHECK(f.desk->handle(f.req("GET", "/")).status == 200);
  CHECK(f.desk->handle(f.req("GET", "/forms/01/U1-260302-1000")).status == 401);

  auto s = f.sign_in("receiver");
  auto cookie_header = [&] {
    auto r = f.sign_in_raw("receiver", "pw-receiver");
    for (const auto& [k, v] : r.headers)
      if (k == "Set-Cookie") return v;
    return std::string();
  }();
  CHECK(cookie_header.find("HttpOnly") != std::string::npos);
  CHECK(cookie_header.find("SameSite=Strict") != std::string::npos);
  CHECK(f.get(s, "/api/inbox").status == 200);

  // A POST without the CSRF token, or with another one, signs nothing.
  auto r = f.req("POST", "/api/receive", kForm.dump());
  r.headers["cookie"] = s.cookie;
  CHECK(f.desk->handle(r).status == 403);
  r.headers["x-csrf-token"] = std::string(64, 'a');
  CHECK(f.desk->handle(r).status == 403);
  // A foreign Origin, even with the right token (a page that stole it could not, but still).
  r.headers["x-csrf-token"] = s.csrf;
  r.headers["origin"] = "http://evil.example";
  CHECK(f.desk->handle(r).status == 403);
  r.headers.erase("origin");
  CHECK(f.desk->handle(r).status == 403);
  // A Host that is not this server (DNS rebinding).
  auto g = f.req("GET", "/api/inbox");
  g.headers["cookie"] = s.cookie;
  g.headers["host"] = "evil.example:8080";
  CHECK(f.desk->handle(g).status == 421);
  // None of those stored anything.
  CHECK(body(f.get(s, "/api/search?q=an"))["dossiers"].empty());

  // Idle for 15 minutes: locked.
  f.desk->age_sessions(std::chrono::minutes(16));
  CHECK(f.get(s, "/api/inbox").status == 401);
  CHECK(!body(f.get(s, "/api/session"))["signed_in"].get<bool>());
}

TEST_CASE("desk: receive, act through every step, search, forms", "[ui]") {
  Fixture f;
  auto rcv = f.sign_in("receiver");
  auto procs = body(f.get(rcv, "/api/procedures?q=khai%20sinh"));
  REQUIRE(procs["procedures"].size() == 1);
  CHECK(procs["procedures"][0]["fields"].size() == 4);
  CHECK(body(f.get(rcv, "/api/procedures?q=ket%20hon"))["procedures"].empty());

  // A missing required field: refused, nothing stored.
  json missing = kForm;
  missing["fields"].erase("cccd");
  auto m = f.post(rcv, "/api/receive", missing);
  CHECK(m.status == 400);
  CHECK(body(m)["error"].get<std::string>().find("cccd") != std::string::npos);
  json bad64 = kForm;
  bad64["attachments"][0]["data"] = "!!!";
  CHECK(f.post(rcv, "/api/receive", bad64).status == 400);

  auto r = f.post(rcv, "/api/receive", kForm);
  REQUIRE(r.status == 200);
  std::string code = body(r)["code"];
  CHECK(code == "U1-260302-1000");
  CHECK(body(r)["due"] == "17:00 05/03/2026");

  // The receiver's inbox holds it at step receive with exactly its actions.
  auto inbox = body(f.get(rcv, "/api/inbox"))["dossiers"];
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0]["step"] == "receive");
  auto d = body(f.get(rcv, "/api/dossiers/" + code));
  std::set<std::string> acts;
  for (const auto& a : d["actions"]) acts.insert(a["action"].get<std::string>());
  CHECK(acts == std::set<std::string>{"accept", "reject", "request_supplement", "withdraw", "suspend", "extend"});
  CHECK(d["attachments"][0]["name"] == "to-khai.pdf");
  CHECK(d["timeline"][0]["verified"] == true);

  // An action the step does not allow, and a refusal without its note.
  auto no = f.post(rcv, "/api/dossiers/" + code + "/act", {{"action", "approve"}});
  CHECK(no.status == 403);
  auto nonote = f.post(rcv, "/api/dossiers/" + code + "/act", {{"action", "reject"}});
  CHECK(nonote.status == 400);
  CHECK(body(nonote)["error"].get<std::string>().find("note") != std::string::npos);
  CHECK(body(f.get(rcv, "/api/dossiers/" + code))["timeline"].size() == 1);

  f.clock += 600;
  REQUIRE(f.post(rcv, "/api/dossiers/" + code + "/act", {{"action", "accept"}}).status == 200);
  // The receiver cannot take the specialist's step (only withdraw, at the applicant's request).
  auto at_review = body(f.get(rcv, "/api/dossiers/" + code))["actions"];
  REQUIRE(at_review.size() == 1);
  CHECK(at_review[0]["action"] == "withdraw");
  CHECK(f.post(rcv, "/api/dossiers/" + code + "/act", {{"action", "approve"}}).status == 403);

  auto spec = f.sign_in("specialist");
  CHECK(body(f.get(spec, "/api/inbox"))["dossiers"].size() == 1);
  f.clock += 600;
  REQUIRE(f.post(spec, "/api/dossiers/" + code + "/act", {{"action", "approve"}}).status == 200);
  auto lead = f.sign_in("leader");
  f.clock += 600;
  REQUIRE(f.post(lead, "/api/dossiers/" + code + "/act", {{"action", "send_back"}, {"note", "Thiếu chữ ký"}}).status == 200);
  f.clock += 600;
  REQUIRE(f.post(spec, "/api/dossiers/" + code + "/act", {{"action", "approve"}}).status == 200);
  f.clock += 600;
  REQUIRE(f.post(lead, "/api/dossiers/" + code + "/act", {{"action", "approve"}}).status == 200);
  f.clock += 600;
  auto done = f.post(rcv, "/api/dossiers/" + code + "/act", {{"action", "deliver"}});
  REQUIRE(done.status == 200);
  CHECK(body(done)["status"] == "returned");
  CHECK(body(done)["timeline"].size() == 7);
  CHECK(body(done)["timeline"][3]["note"] == "Thiếu chữ ký");
  CHECK(body(done)["actions"].empty());
  CHECK(f.post(rcv, "/api/dossiers/" + code + "/act", {{"action", "deliver"}}).status == 403);

  // Search ignores diacritics and case; by code and by field too.
  CHECK(body(f.get(rcv, "/api/search?q=nguyen%20van%20an"))["dossiers"].size() == 1);
  CHECK(body(f.get(rcv, "/api/search?q=NGUYEN%20THI%20BE"))["dossiers"].size() == 1);
  CHECK(body(f.get(rcv, "/api/search?q=260302-1000"))["dossiers"].size() == 1);
  CHECK(body(f.get(rcv, "/api/search?q=nguyen%20van%20binh"))["dossiers"].empty());

  // Forms: the receipt names the dossier, the applicant, the appointment and carries a QR code.
  auto f01 = f.get(rcv, "/forms/01/" + code);
  REQUIRE(f01.status == 200);
  CHECK(f01.content_type.rfind("text/html", 0) == 0);
  for (const char* s : {"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "UBND xã Tân Lập", "U1-260302-1000",
                        "Nguyễn Văn An", "17:00 05/03/2026", "<svg"})
    CHECK(f01.body.find(s) != std::string::npos);
  auto f06 = f.get(rcv, "/forms/06/" + code);
  REQUIRE(f06.status == 200);
  CHECK(f06.body.find("Thiếu chữ ký") != std::string::npos);
  CHECK(f.get(rcv, "/forms/03/" + code).status == 404);  // never refused
  auto f07 = f.get(rcv, "/forms/07?from=2026-03-01&to=2026-03-31");
  REQUIRE(f07.status == 200);
  CHECK(f07.body.find(code) != std::string::npos);
  CHECK(f.get(rcv, "/forms/07?from=2026-03-31&to=2026-03-01").status == 400);

  // Sign-out locks at once.
  auto out = f.post(rcv, "/api/signout", json::object());
  CHECK(out.status == 200);
  CHECK(f.get(rcv, "/api/inbox").status == 401);
}

TEST_CASE("desk: supplement, extension and refusal forms; sync status", "[ui]") {
  Fixture f;
  auto rcv = f.sign_in("receiver");
  // Nothing to sync yet, and no server configured: "sync now" says so and starts nothing.
  auto st = body(f.get(rcv, "/api/sync"));
  CHECK(st["pending_events"] == 0);
  CHECK(st["running"] == false);
  auto r = f.post(rcv, "/api/receive", kForm);
  REQUIRE(r.status == 200);
  std::string code = body(r)["code"];
  CHECK(body(f.get(rcv, "/api/sync"))["pending_events"] == 1);
  auto no_server = f.post(rcv, "/api/sync", json::object());
  CHECK(no_server.status == 400);
  CHECK(body(no_server)["error"].get<std::string>().find("server") != std::string::npos);
  CHECK(body(f.get(rcv, "/api/sync"))["running"] == false);

  CHECK(f.get(rcv, "/forms/02/" + code).status == 404);
  REQUIRE(f.post(rcv, "/api/dossiers/" + code + "/act", {{"action", "request_supplement"}, {"note", "Thiếu bản sao CCCD"}}).status == 200);
  auto f02 = f.get(rcv, "/forms/02/" + code);
  REQUIRE(f02.status == 200);
  CHECK(f02.body.find("PHIẾU YÊU CẦU BỔ SUNG") != std::string::npos);
  CHECK(f02.body.find("Thiếu bản sao CCCD") != std::string::npos);
  // Only once per dossier: the page no longer offers it.
  f.clock += 3600;
  REQUIRE(f.post(rcv, "/api/dossiers/" + code + "/act", {{"action", "accept"}}).status == 200);
  auto spec = f.sign_in("specialist");
  auto acts = body(f.get(spec, "/api/dossiers/" + code))["actions"];
  bool has_extend = false;
  for (const auto& a : acts) {
    CHECK(a["action"] != "request_supplement");
    if (a["action"] == "extend") has_extend = a["needs_date"] == true && a["needs_note"] == true;
  }
  CHECK(has_extend);
  CHECK(f.post(spec, "/api/dossiers/" + code + "/act", {{"action", "extend"}, {"note", "Chờ xác minh"}}).status == 400);  // no date
  REQUIRE(f.post(spec, "/api/dossiers/" + code + "/act", {{"action", "extend"}, {"note", "Chờ xác minh"}, {"until", "2026-03-13"}}).status == 200);
  auto f04 = f.get(spec, "/forms/04/" + code);
  REQUIRE(f04.status == 200);
  CHECK(f04.body.find("PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ") != std::string::npos);
  CHECK(f04.body.find("13/03/2026") != std::string::npos);
  REQUIRE(f.post(spec, "/api/dossiers/" + code + "/act", {{"action", "reject"}, {"note", "Không đủ điều kiện"}}).status == 200);
  auto f03 = f.get(spec, "/forms/03/" + code);
  REQUIRE(f03.status == 200);
  CHECK(f03.body.find("Không đủ điều kiện") != std::string::npos);
  auto done = body(f.get(spec, "/api/dossiers/" + code));
  CHECK(done["status"] == "rejected");
  CHECK(done["actions"].empty());
  CHECK(f.get(spec, "/forms/09/" + code).status == 404);
}

TEST_CASE("desk: search folds Vietnamese", "[ui]") {
  CHECK(ui::fold_vietnamese("Nguyễn Văn An") == "nguyen van an");
  CHECK(ui::fold_vietnamese("ĐẶNG Thị Đào") == "dang thi dao");
  CHECK(ui::fold_vietnamese("Nguye\xcc\x82\xcc\x83n") == "nguyen");  // NFD
  auto q = ui::qr_svg("HOSO1|U1-260302-1000|" + std::string(64, 'a'));
  REQUIRE(q);
  CHECK(q->rfind("<svg", 0) == 0);
}
#endif
