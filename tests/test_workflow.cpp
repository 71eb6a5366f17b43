// The workflow of SPEC §2-§3 through the store: every action at every step,
// refusals before signing, a randomised run against a reference model, forks
// and quarantine.
#include <stdlib.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../cli/defaults.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/keys.hpp"
#include "hoso/engine/calendar.hpp"
#include "hoso/engine/store.hpp"
#include "hoso/engine/trust.hpp"

using namespace hoso;
namespace fs = std::filesystem;

namespace {

const std::string P = "000.00.00.H12", A = "000.00.31.H12", B = "000.00.32.H12";

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "hoso-wf-XXXXXX").string();
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct Province {
  TempDir dir;
  crypto::SigningKey root = crypto::SigningKey::generate();
  int64_t t0 = 0;
  std::vector<crypto::SignedItem> items;          // all but revocations
  std::vector<crypto::SignedItem> revocations;
  std::map<std::string, crypto::SigningKey> keys;
  std::map<std::string, crypto::SignedItem> certs;

  Province() {
    auto t = engine::parse_iso8601("2026-03-02T08:00:00+07:00");
    REQUIRE(t);
    t0 = *t;
    using K = engine::CertKind;
    engine::CertRequest u;
    u.kind = K::unit;
    u.issued_at = t0;
    u.name = "Tỉnh";
    u.unit = P;
    add_cert("unit-p", u);
    u.name = "Tân Lập";
    u.unit = A;
    u.parent = P;
    add_cert("unit-a", u);
    u.name = "Hòa Bình";
    u.unit = B;
    add_cert("unit-b", u);
    person("a-receiver", K::officer, A, {"receiver"});
    person("a-receiver2", K::officer, A, {"receiver"});
    person("a-specialist", K::officer, A, {"specialist"});
    person("a-leader", K::officer, A, {"leader"});
    person("b-receiver", K::officer, B, {"receiver"});
    person("b-specialist", K::officer, B, {"specialist"});
    person("b-leader", K::officer, B, {"leader"});
    person("p-specialist", K::officer, P, {"specialist"});
    person("a-laptop1", K::device, A, {}, 1);
    person("a-laptop2", K::device, A, {}, 2);
    person("p-laptop", K::device, P, {}, 0);
    doc(engine::kTypeProcedure, cli::defaults::kProcedure);
    doc(engine::kTypeCalendar, cli::defaults::kCalendar2026);
    doc(engine::kTypeCalendar, cli::defaults::kCalendar2027);
  }
  void add_cert(const std::string& label, const engine::CertRequest& req) {
    auto item = engine::issue_certificate(root, req);
    REQUIRE(item);
    certs.emplace(label, *item);
    items.push_back(*item);
  }
  void person(const std::string& label, engine::CertKind kind, const std::string& unit, std::vector<std::string> roles,
              std::optional<int64_t> slot = {}) {
    auto k = crypto::SigningKey::generate();
    engine::CertRequest req;
    req.kind = kind;
    req.name = label;
    req.unit = unit;
    req.pub = k.public_key();
    req.roles = std::move(roles);
    req.slot = slot;
    req.issued_at = t0;
    add_cert(label, req);
    keys.emplace(label, std::move(k));
  }
  void doc(const char* type, const char* text) {
    auto d = crypto::parse_json_strict(text);
    REQUIRE(d);
    auto item = engine::sign_document(root, type, *d, t0);
    REQUIRE(item);
    items.push_back(*item);
  }
  void revoke(const std::string& label, int64_t effective) {
    auto c = engine::read_certificate(certs.at(label), root.public_key());
    REQUIRE(c);
    auto r = engine::issue_revocation(root, *c, "test", effective, t0);
    REQUIRE(r);
    revocations.push_back(*r);
  }
  engine::Store device(const std::string& label, bool with_revocations = true) {
    auto sealed = crypto::seal_key_file(keys.at(label), label, "pw", crypto::Kdf::interactive);
    REQUIRE(sealed);
    std::string kf(reinterpret_cast<const char*>(sealed->data()), sealed->size());
    auto s = engine::Store::create_device(dir.path + "/" + label + ".db", root.public_key(), certs.at(label), kf, "");
    REQUIRE(s);
    auto all = items;
    if (with_revocations) all.insert(all.end(), revocations.begin(), revocations.end());
    auto r = s->ingest(all, t0);
    REQUIRE(r);
    return std::move(*s);
  }
};

// Moves what `from` has and `to` lacks; returns the ingest outcomes.
std::vector<engine::IngestResult> carry(const engine::Store& from, engine::Store& to, int64_t at) {
  auto have = to.watermarks();
  auto offer = from.watermarks();
  REQUIRE(have);
  REQUIRE(offer);
  std::vector<crypto::SignedItem> items;
  for (const auto& [device, seq] : *offer) {
    auto log = from.device_log(device, have->count(device) ? have->at(device) : 0, 100000);
    REQUIRE(log);
    for (auto& i : *log) items.push_back(std::move(i));
  }
  auto r = to.ingest(items, at);
  REQUIRE(r);
  return *r;
}

engine::ReceiveRequest request(const std::string& name = "Nguyễn Văn An") {
  return engine::ReceiveRequest{
      "1.001193", name, {{"cccd", "001201000001"}, {"child_name", "Bé " + name}, {"birth_date", "2026-02-20"}}, {}};
}

engine::ActRequest areq(const std::string& code, const std::string& action, const std::string& note = "") {
  engine::ActRequest r;
  r.dossier = code;
  r.action = action;
  r.note = note;
  return r;
}

std::map<std::string, int64_t> marks(const engine::Store& s) {
  auto w = s.watermarks();
  REQUIRE(w);
  return *w;
}

struct Desk {
  Province& pv;
  engine::Store& store;
  std::string device;
  int64_t t;
  crypto::Result<engine::DossierState> act(const std::string& who, const std::string& code, const std::string& action,
                                   const std::string& note = "", std::optional<std::string> until = {}) {
    auto r = areq(code, action, note);
    r.until = until;
    t += 600;
    return store.act(pv.keys.at(who), pv.keys.at(device), r, t);
  }
  // Must be refused with nothing signed or stored.
  void refused(const std::string& who, const std::string& code, const std::string& action, const std::string& note = "") {
    auto before = marks(store);
    auto st = store.dossier(code);
    REQUIRE(st);
    auto r = act(who, code, action, note);
    INFO(who << " " << action << " at " << st->step << " (" << st->status << ")");
    CHECK_FALSE(r);
    CHECK(marks(store) == before);
    auto after = store.dossier(code);
    REQUIRE(after);
    CHECK(after->head == st->head);
    CHECK(after->events == st->events);
  }
  std::string receive(const std::string& who = "a-receiver") {
    t += 600;
    auto before = marks(store);
    auto d = store.receive(pv.keys.at(who), pv.keys.at(device), request(), t);
    REQUIRE(d);
    CHECK(d->status == "received");
    CHECK(d->step == "receive");
    CHECK(d->holder == A);
    CHECK(marks(store) != before);
    return d->code;
  }
};

#define EXPECT_STATE(res, st_, step_, holder_)   \
  do {                                           \
    auto&& r_ = (res);                           \
    INFO((r_ ? std::string() : r_.error().message)); \
    REQUIRE(r_);                                 \
    CHECK(r_->status == (st_));                  \
    CHECK(r_->step == (step_));                  \
    CHECK(r_->holder == (holder_));              \
  } while (0)

}  // namespace

TEST_CASE("every action at every step gives the spec's status", "[workflow]") {
  Province pv;
  auto a = pv.device("a-laptop1");
  auto p = pv.device("p-laptop");
  Desk d{pv, a, "a-laptop1", pv.t0 + 3600};

  SECTION("straight through: accept, approve, approve, deliver -> returned") {
    auto c = d.receive();
    EXPECT_STATE(d.act("a-receiver", c, "accept"), "in_progress", "review", A);
    EXPECT_STATE(d.act("a-specialist", c, "approve"), "in_progress", "sign", A);
    EXPECT_STATE(d.act("a-leader", c, "approve"), "approved", "deliver", A);
    auto r = d.act("a-receiver", c, "deliver");
    REQUIRE(r);
    CHECK(r->status == "returned");
    CHECK(r->timeliness.has_value());
    // Any action on a finished dossier is refused before signing.
    for (auto [who, act] : std::vector<std::pair<const char*, const char*>>{
             {"a-receiver", "deliver"}, {"a-receiver", "withdraw"}, {"a-receiver", "reject"}, {"a-leader", "approve"}})
      d.refused(who, c, act, "ghi chú");
    CHECK(a.verify().ok());
  }
  SECTION("send_back at each step") {
    auto c = d.receive();
    EXPECT_STATE(d.act("a-receiver", c, "accept"), "in_progress", "review", A);
    EXPECT_STATE(d.act("a-specialist", c, "send_back", "thiếu"), "in_progress", "receive", A);
    EXPECT_STATE(d.act("a-receiver", c, "accept"), "in_progress", "review", A);
    EXPECT_STATE(d.act("a-specialist", c, "approve"), "in_progress", "sign", A);
    EXPECT_STATE(d.act("a-leader", c, "send_back", "xem lại"), "in_progress", "review", A);
    EXPECT_STATE(d.act("a-specialist", c, "approve"), "in_progress", "sign", A);
    EXPECT_STATE(d.act("a-leader", c, "approve"), "approved", "deliver", A);
    CHECK(a.verify().ok());
  }
  SECTION("request_supplement once, resubmission, second request refused") {
    auto c = d.receive();
    d.refused("a-receiver", c, "request_supplement");  // missing note
    auto r = d.act("a-receiver", c, "request_supplement", "thiếu giấy");
    EXPECT_STATE(r, "awaiting_supplement", "receive", A);
    CHECK_FALSE(r->due_at.has_value());
    d.refused("a-receiver", c, "request_supplement", "lần hai");
    d.refused("a-receiver", c, "suspend", "clock stopped");
    r = d.act("a-receiver", c, "accept");
    EXPECT_STATE(r, "in_progress", "review", A);
    CHECK(r->due_at.has_value());
    d.refused("a-specialist", c, "request_supplement", "lần hai");
    CHECK(a.verify().ok());
  }
  SECTION("reject and withdraw are terminal") {
    auto c1 = d.receive();
    d.refused("a-receiver", c1, "reject");  // missing note
    EXPECT_STATE(d.act("a-receiver", c1, "reject", "không đủ điều kiện"), "rejected", "receive", A);
    d.refused("a-receiver", c1, "accept");
    auto c2 = d.receive();
    EXPECT_STATE(d.act("a-receiver", c2, "accept"), "in_progress", "review", A);
    d.refused("a-specialist", c2, "withdraw", "rút");  // withdraw is the receiver's
    d.refused("a-receiver", c2, "withdraw");           // missing note
    EXPECT_STATE(d.act("a-receiver", c2, "withdraw", "công dân rút"), "withdrawn", "review", A);
    d.refused("a-specialist", c2, "approve");
    auto c3 = d.receive();
    EXPECT_STATE(d.act("a-receiver", c3, "accept"), "in_progress", "review", A);
    EXPECT_STATE(d.act("a-specialist", c3, "reject", "sai"), "rejected", "review", A);
    CHECK(a.verify().ok());
  }
  SECTION("suspend, resume, extend") {
    auto c = d.receive();
    d.refused("a-receiver", c, "resume");
    d.refused("a-receiver", c, "suspend");  // missing note
    auto r = d.act("a-receiver", c, "suspend", "xác minh");
    EXPECT_STATE(r, "suspended", "receive", A);
    CHECK_FALSE(r->due_at.has_value());
    d.refused("a-receiver", c, "accept");
    d.refused("a-receiver", c, "suspend", "again");
    d.refused("a-specialist", c, "resume");
    EXPECT_STATE(d.act("a-receiver", c, "resume"), "received", "receive", A);
    d.refused("a-receiver", c, "resume");
    EXPECT_STATE(d.act("a-receiver", c, "accept"), "in_progress", "review", A);
    EXPECT_STATE(d.act("a-specialist", c, "suspend", "chờ"), "suspended", "review", A);
    EXPECT_STATE(d.act("a-specialist", c, "resume"), "in_progress", "review", A);
    d.refused("a-specialist", c, "extend");  // missing note
    auto e = d.act("a-specialist", c, "extend", "xin lỗi", std::string("2026-03-20"));
    EXPECT_STATE(e, "in_progress", "review", A);
    CHECK(e->extensions == 1);
    CHECK(a.verify().ok());
  }
  SECTION("authorisation failures are refused before signing") {
    auto c = d.receive();
    d.refused("a-specialist", c, "accept");   // wrong role
    d.refused("a-leader", c, "accept");       // wrong role
    d.refused("b-receiver", c, "accept");     // other unit
    d.refused("p-specialist", c, "accept");   // other unit
    d.refused("a-receiver", c, "approve");    // not at this step
    d.refused("a-receiver", c, "deliver");    // not at this step
    d.refused("a-receiver", c, "forward");    // not at this step
    d.refused("a-receiver", c, "send_back", "no earlier step");
    d.refused("a-receiver", c, "no_such_action");
    d.refused("a-receiver", c, "amend");      // missing note
    d.refused("a-leader", c, "resolve");      // missing note / keep
    REQUIRE(d.act("a-receiver", c, "accept"));
    d.refused("a-receiver", c, "approve");
    d.refused("b-specialist", c, "approve");
    d.refused("a-specialist", c, "send_back");  // missing note
    d.refused("a-specialist", c, "deliver");
    CHECK(a.verify().ok());
  }
  SECTION("forward to the province and back") {
    auto c = d.receive();
    REQUIRE(d.act("a-receiver", c, "accept"));
    EXPECT_STATE(d.act("a-specialist", c, "forward"), "forwarded", "province_review", P);
    // The commune may no longer act.
    d.refused("a-specialist", c, "approve");
    d.refused("a-receiver", c, "withdraw", "rút");
    auto outs = carry(a, p, d.t);
    for (const auto& o : outs) CHECK(o.outcome == engine::Outcome::applied);
    Desk dp{pv, p, "p-laptop", d.t};
    auto ps = p.dossier(c);
    EXPECT_STATE(ps, "forwarded", "province_review", P);
    dp.refused("p-specialist", c, "accept");
    dp.refused("a-specialist", c, "approve");  // a commune officer on a province desk
    SECTION("approve") {
      EXPECT_STATE(dp.act("p-specialist", c, "approve"), "in_progress", "sign", A);
      dp.refused("p-specialist", c, "approve");  // the province no longer holds it
      for (const auto& o : carry(p, a, dp.t)) CHECK(o.outcome == engine::Outcome::applied);
      d.t = dp.t;
      EXPECT_STATE(a.dossier(c), "in_progress", "sign", A);
      EXPECT_STATE(d.act("a-leader", c, "approve"), "approved", "deliver", A);
      CHECK(d.act("a-receiver", c, "deliver")->status == "returned");
    }
    SECTION("send_back") {
      dp.refused("p-specialist", c, "send_back");  // missing note
      EXPECT_STATE(dp.act("p-specialist", c, "send_back", "bổ sung"), "in_progress", "review", A);
      for (const auto& o : carry(p, a, dp.t)) CHECK(o.outcome == engine::Outcome::applied);
      EXPECT_STATE(a.dossier(c), "in_progress", "review", A);
    }
    SECTION("suspend and resume at the province") {
      EXPECT_STATE(dp.act("p-specialist", c, "suspend", "chờ"), "suspended", "province_review", P);
      EXPECT_STATE(dp.act("p-specialist", c, "resume"), "forwarded", "province_review", P);
    }
    CHECK(a.verify().ok());
    CHECK(p.verify().ok());
  }
}

namespace {

// A reference model of one dossier on a commune desk (SPEC §2-§3).
struct Model {
  std::string status = "received", step = "receive", holder = A, before_suspend;
  std::vector<std::string> visits{"receive"};
  bool supplement_used = false;
  bool finished() const { return status == "returned" || status == "rejected" || status == "withdrawn"; }

  struct Step {
    std::string role;
    std::map<std::string, std::string> actions;
    bool parent = false;
  };
  static const std::map<std::string, Step>& steps() {
    static const std::map<std::string, Step> s = {
        {"receive", {"receiver", {{"accept", "review"}, {"request_supplement", "receive"}, {"reject", "@rejected"}}}},
        {"review", {"specialist", {{"approve", "sign"}, {"send_back", "receive"}, {"forward", "province_review"}}}},
        {"province_review", {"specialist", {{"approve", "sign"}, {"send_back", "review"}}, true}},
        {"sign", {"leader", {{"approve", "deliver"}, {"send_back", "review"}}}},
        {"deliver", {"receiver", {{"deliver", "@done"}}}},
    };
    return s;
  }
  static bool builtin(const std::string& a) {
    static const std::set<std::string> b = {"request_supplement", "reject", "send_back", "forward", "withdraw",
                                            "suspend",            "resume", "extend",    "amend",   "resolve"};
    return b.count(a) > 0;
  }
  static bool needs_note(const std::string& a) {
    static const std::set<std::string> b = {"reject", "send_back", "request_supplement", "suspend",
                                            "extend", "amend",     "withdraw",           "resolve"};
    return b.count(a) > 0;
  }
  bool clock_stopped() const { return status == "awaiting_supplement" || status == "suspended"; }

  // Applies the action if allowed; returns whether it is.
  bool apply(const std::string& action, const std::string& officer_unit, const std::string& officer_role,
             bool note, const std::string& device_unit) {
    if (finished()) return false;
    const Step& def = steps().at(step);
    bool listed = def.actions.count(action) > 0;
    if (!listed && !builtin(action)) return false;
    if (needs_note(action) && !note) return false;
    if (status == "suspended" && action != "resume" && action != "withdraw") return false;
    if (action == "resume" && status != "suspended") return false;
    if (action == "request_supplement" && supplement_used) return false;
    if (action == "suspend" && clock_stopped()) return false;
    std::string target;
    if (listed) target = def.actions.at(action);
    else if (action == "request_supplement") target = "receive";
    else if (action == "reject") target = "@rejected";
    else if (action == "withdraw") target = "@withdrawn";
    else if (action == "send_back") {
      if (visits.size() < 2) return false;
      target = visits[visits.size() - 2];
    } else if (action == "forward") return false;
    std::string role = def.role;
    if (action == "withdraw" && !listed) role = "receiver";
    if (role != officer_role || officer_unit != holder || device_unit != holder) return false;
    // Allowed.
    if (action == "request_supplement") supplement_used = true;
    bool resubmission = status == "awaiting_supplement" && !builtin(action);
    if (resubmission) status = "in_progress";
    if (target.empty()) {
      if (action == "suspend") {
        before_suspend = status;
        status = "suspended";
      } else if (action == "resume") {
        status = before_suspend;
      }
      return true;
    }
    if (target[0] == '@') {
      status = target == "@done" ? "returned" : target == "@rejected" ? "rejected" : "withdrawn";
      return true;
    }
    step = target;
    holder = steps().at(target).parent ? P : A;
    visits.push_back(target);
    if (action == "request_supplement") status = "awaiting_supplement";
    else if (status == "awaiting_supplement") {
    } else if (target == "deliver") status = "approved";
    else if (holder != A) status = "forwarded";
    else if (target == "receive" && visits.size() <= 1) status = "received";
    else status = "in_progress";
    return true;
  }
};

}  // namespace

TEST_CASE("randomised actions agree with a reference model", "[workflow]") {
  Province pv;
  auto a = pv.device("a-laptop1");
  std::mt19937 rng(20260302);
  Desk d{pv, a, "a-laptop1", pv.t0 + 3600};
  struct Officer { const char* label; std::string unit, role; };
  const std::vector<Officer> officers = {{"a-receiver", A, "receiver"},   {"a-specialist", A, "specialist"},
                                         {"a-leader", A, "leader"},       {"b-receiver", B, "receiver"},
                                         {"b-specialist", B, "specialist"}, {"p-specialist", P, "specialist"}};
  const std::vector<std::string> actions = {"accept", "approve", "send_back", "forward", "request_supplement",
                                            "reject", "withdraw", "suspend",  "resume",  "deliver",
                                            "bogus"};
  std::string code = d.receive();
  Model m;
  int applied = 0, refused = 0;
  for (int i = 0; i < 300; ++i) {
    if (m.finished() || m.holder != A) {
      code = d.receive();
      m = Model{};
    }
    // Bias towards plausible actions so the dossier moves.
    const Officer* op = &officers[std::uniform_int_distribution<size_t>(0, officers.size() - 1)(rng)];
    const auto& def = Model::steps().at(m.step);
    if (std::uniform_int_distribution<int>(0, 9)(rng) < 6)
      for (const auto& c : officers)
        if (c.unit == A && c.role == def.role) op = &c;
    const Officer& o = *op;
    std::string action = actions[std::uniform_int_distribution<size_t>(0, actions.size() - 1)(rng)];
    if (std::uniform_int_distribution<int>(0, 9)(rng) < 5) {
      auto it = def.actions.begin();
      std::advance(it, std::uniform_int_distribution<size_t>(0, def.actions.size() - 1)(rng));
      action = it->first;
    }
    bool note = std::uniform_int_distribution<int>(0, 9)(rng) < 8;
    // Time passes a little, staying inside 2026.
    auto before = marks(a);
    auto r = d.act(o.label, code, action, note ? "ghi chú" : "");
    Model expect = m;
    bool ok = expect.apply(action, o.unit, o.role, note, A);
    INFO("step " << i << ": " << o.label << " " << action << (note ? " +note" : "") << " at " << m.step << " ("
                 << m.status << ")" << (r ? std::string() : " -> " + r.error().message));
    REQUIRE(bool(r) == ok);
    if (ok) {
      ++applied;
      CHECK(marks(a) != before);
      m = expect;
    } else {
      ++refused;
      CHECK(marks(a) == before);
    }
    auto st = a.dossier(code);
    REQUIRE(st);
    REQUIRE(st->status == m.status);
    REQUIRE(st->step == m.step);
    REQUIRE(st->holder == m.holder);
  }
  INFO("applied " << applied << ", refused " << refused);
  CHECK(applied > 30);
  CHECK(refused > 30);
  auto v = a.verify();
  INFO((v.errors.empty() ? std::string() : v.errors.front()));
  CHECK(v.ok());
}

TEST_CASE("a fork: two desks act offline on the same head; resolve keeps a branch", "[workflow]") {
  Province pv;
  auto s1 = pv.device("a-laptop1");
  auto s2 = pv.device("a-laptop2");
  Desk d1{pv, s1, "a-laptop1", pv.t0 + 3600};
  auto code = d1.receive();
  carry(s1, s2, d1.t);
  REQUIRE(s2.dossier(code));
  // Desk 1 acts later (by device time) than desk 2.
  auto r1 = s1.act(pv.keys.at("a-receiver"), pv.keys.at("a-laptop1"), areq(code, "accept"), d1.t + 1200);
  REQUIRE(r1);
  auto r2 = s2.act(pv.keys.at("a-receiver2"), pv.keys.at("a-laptop2"),
                   areq(code, "request_supplement", "thiếu giấy"), d1.t + 600);
  REQUIRE(r2);
  std::string h1 = r1->head, h2 = r2->head;
  REQUIRE(h1 != h2);
  for (const auto& o : carry(s1, s2, d1.t + 1800)) CHECK(o.outcome != engine::Outcome::quarantined);
  for (const auto& o : carry(s2, s1, d1.t + 1800)) CHECK(o.outcome != engine::Outcome::quarantined);
  auto x1 = s1.dossier(code), x2 = s2.dossier(code);
  REQUIRE(x1);
  REQUIRE(x2);
  CHECK(x1->forks == 1);
  CHECK(x2->forks == 1);
  // The current branch is the one whose first event is earliest: desk 2's.
  CHECK(x1->head == h2);
  CHECK(x2->head == h2);
  CHECK(x1->status == "awaiting_supplement");
  CHECK(x2->status == "awaiting_supplement");
  CHECK(s1.verify().ok());
  CHECK(s2.verify().ok());

  // A leader keeps desk 1's branch.
  auto before = marks(s1);
  auto bad = s1.act(pv.keys.at("a-leader"), pv.keys.at("a-laptop1"), [&] {
    auto q = areq(code, "resolve", "giữ nhánh 1");
    return q;
  }(), d1.t + 2400);  // no keep
  CHECK_FALSE(bad);
  CHECK(marks(s1) == before);
  auto q = areq(code, "resolve", "giữ nhánh 1");
  q.keep = h1;
  auto notleader = s1.act(pv.keys.at("a-receiver"), pv.keys.at("a-laptop1"), q, d1.t + 2400);
  CHECK_FALSE(notleader);
  CHECK(marks(s1) == before);
  auto res = s1.act(pv.keys.at("a-leader"), pv.keys.at("a-laptop1"), q, d1.t + 2400);
  INFO((res ? std::string() : res.error().message));
  REQUIRE(res);
  auto y1 = s1.dossier(code);
  REQUIRE(y1);
  CHECK(y1->forks == 0);
  CHECK(y1->step == "review");
  CHECK(y1->status == "in_progress");
  carry(s1, s2, d1.t + 3000);
  auto y2 = s2.dossier(code);
  REQUIRE(y2);
  CHECK(y2->forks == 0);
  CHECK(y2->head == y1->head);
  CHECK(y2->step == "review");
  CHECK(s1.verify().ok());
  CHECK(s2.verify().ok());
}

TEST_CASE("an event of a revoked officer is quarantined and does not block the device", "[workflow]") {
  Province pv;
  int64_t eff = pv.t0 + 3600 * 4;
  pv.revoke("a-receiver2", eff);
  // Desk 2 never heard of the revocation; desk 1 did.
  auto s2 = pv.device("a-laptop2", false);
  auto s1 = pv.device("a-laptop1", true);
  Desk d2{pv, s2, "a-laptop2", pv.t0 + 3600};
  auto c1 = d2.receive("a-receiver");
  // After the effective time, the revoked officer accepts on desk 2.
  d2.t = eff + 600;
  auto bad = d2.act("a-receiver2", c1, "accept");
  REQUIRE(bad);
  auto c2 = d2.receive("a-receiver");
  auto outs = carry(s2, s1, d2.t + 60);
  REQUIRE(outs.size() == 3);
  CHECK(outs[0].outcome == engine::Outcome::applied);
  CHECK(outs[1].outcome == engine::Outcome::quarantined);
  CHECK(outs[2].outcome == engine::Outcome::applied);
  auto q = s1.quarantine();
  REQUIRE(q);
  CHECK(q->size() == 1);
  auto w1 = marks(s1), w2 = marks(s2);
  CHECK(w1 == w2);
  auto x1 = s1.dossier(c1);
  REQUIRE(x1);
  CHECK(x1->status == "received");
  CHECK(x1->step == "receive");
  CHECK(s1.dossier(c2));
  // Carrying again changes nothing.
  for (const auto& o : carry(s2, s1, d2.t + 120)) CHECK(o.outcome != engine::Outcome::applied);
  // The device's next event is applied too.
  auto c3 = d2.receive("a-receiver");
  for (const auto& o : carry(s2, s1, d2.t + 60)) CHECK(o.outcome == engine::Outcome::applied);
  CHECK(s1.dossier(c3));
  CHECK(marks(s1) == marks(s2));
  auto v = s1.verify();
  INFO((v.errors.empty() ? std::string() : v.errors.front()));
  CHECK(v.ok());
}

TEST_CASE("an event chained on a quarantined event is quarantined too, never blocking", "[workflow]") {
  Province pv;
  int64_t eff = pv.t0 + 3600 * 4;
  pv.revoke("a-receiver2", eff);
  auto s2 = pv.device("a-laptop2", false);
  auto s1 = pv.device("a-laptop1", true);
  Desk d2{pv, s2, "a-laptop2", pv.t0 + 3600};
  auto c1 = d2.receive("a-receiver");
  d2.t = eff + 600;
  REQUIRE(d2.act("a-receiver2", c1, "accept"));
  auto ap = d2.act("a-specialist", c1, "approve");
  REQUIRE(ap);
  auto c2 = d2.receive("a-receiver");
  auto have = marks(s1);
  auto offer = marks(s2);
  std::vector<crypto::SignedItem> items;
  for (const auto& [device, seq] : offer) {
    auto log = s2.device_log(device, have.count(device) ? have.at(device) : 0, 100000);
    REQUIRE(log);
    for (auto& i : *log) items.push_back(std::move(i));
  }
  auto r = s1.ingest(items, d2.t + 60);
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r);
  REQUIRE(r->size() == 4);
  CHECK((*r)[0].outcome == engine::Outcome::applied);
  CHECK((*r)[1].outcome == engine::Outcome::quarantined);
  CHECK((*r)[2].outcome == engine::Outcome::quarantined);
  CHECK((*r)[3].outcome == engine::Outcome::applied);
  auto q = s1.quarantine();
  REQUIRE(q);
  CHECK(q->size() == 2);
  auto x = s1.dossier(c1);
  REQUIRE(x);
  CHECK(x->status == "received");
  CHECK(x->step == "receive");
  CHECK(marks(s1) == marks(s2));
  CHECK(s1.dossier(c2));
  CHECK(s1.verify().ok());
}

TEST_CASE("a revoked officer's earlier event counts only if it arrives within 7 days", "[workflow]") {
  Province pv;
  int64_t eff = pv.t0 + 3600 * 4;
  pv.revoke("a-receiver2", eff);
  auto s2 = pv.device("a-laptop2", false);
  auto late = pv.device("a-laptop1", true);
  Desk d2{pv, s2, "a-laptop2", pv.t0 + 3600};
  auto c1 = d2.receive("a-receiver2");  // before the effective time
  auto c2 = d2.receive("a-receiver");
  SECTION("within 7 days: applied") {
    auto outs = carry(s2, late, eff + engine::kRevocationGraceSeconds - 60);
    REQUIRE(outs.size() == 2);
    CHECK(outs[0].outcome == engine::Outcome::applied);
    CHECK(outs[1].outcome == engine::Outcome::applied);
    CHECK(late.dossier(c1));
    auto q = late.quarantine();
    REQUIRE(q);
    CHECK(q->empty());
  }
  SECTION("more than 7 days later: quarantined, the next event still applied") {
    auto outs = carry(s2, late, eff + engine::kRevocationGraceSeconds + 3600);
    REQUIRE(outs.size() == 2);
    CHECK(outs[0].outcome == engine::Outcome::quarantined);
    CHECK(outs[1].outcome == engine::Outcome::applied);
    CHECK_FALSE(late.dossier(c1));
    CHECK(late.dossier(c2));
    CHECK(marks(late) == marks(s2));
  }
  CHECK(late.verify().ok());
}

TEST_CASE("extend and amend are checked before signing", "[workflow]") {
  Province pv;
  auto a = pv.device("a-laptop1");
  Desk d{pv, a, "a-laptop1", pv.t0 + 3600};
  auto c = d.receive();
  auto before = marks(a);
  CHECK_FALSE(d.act("a-receiver", c, "extend", "xin lỗi"));                                 // no date
  CHECK_FALSE(d.act("a-receiver", c, "extend", "xin lỗi", std::string("2026-03-02")));      // not later
  CHECK_FALSE(d.act("a-specialist", c, "extend", "xin lỗi", std::string("2026-03-20")));   // wrong role
  CHECK_FALSE(d.act("b-receiver", c, "extend", "xin lỗi", std::string("2026-03-20")));     // other unit
  CHECK(marks(a) == before);
  auto e = d.act("a-receiver", c, "extend", "xin lỗi", std::string("2026-03-20"));
  REQUIRE(e);
  CHECK(e->status == "received");
  CHECK(e->extensions == 1);
  auto r = areq(c, "amend", "sửa tên");
  before = marks(a);
  CHECK_FALSE(a.act(pv.keys.at("a-receiver"), pv.keys.at("a-laptop1"), r, d.t += 600));  // no field
  r.fields = {{"sex", "khác"}};
  CHECK_FALSE(a.act(pv.keys.at("a-receiver"), pv.keys.at("a-laptop1"), r, d.t += 600));  // not an option
  r.fields = {{"nope", "x"}};
  CHECK_FALSE(a.act(pv.keys.at("a-receiver"), pv.keys.at("a-laptop1"), r, d.t += 600));  // unknown field
  CHECK(marks(a) == before);
  r.fields = {{"child_name", "Bé Minh"}};
  auto am = a.act(pv.keys.at("a-receiver"), pv.keys.at("a-laptop1"), r, d.t += 600);
  INFO((am ? std::string() : am.error().message));
  REQUIRE(am);
  CHECK(am->fields.at("child_name") == "Bé Minh");
  CHECK(am->status == "received");
  CHECK(am->step == "receive");
  CHECK(a.verify().ok());
}

TEST_CASE("randomised actions on a commune desk and a province desk, carried after each", "[workflow]") {
  for (unsigned seed : {1u, 2u, 3u}) {
    Province pv;
    auto a = pv.device("a-laptop1");
    auto p = pv.device("p-laptop");
    std::mt19937 rng(seed);
    Desk da{pv, a, "a-laptop1", pv.t0 + 3600};
    Desk dp{pv, p, "p-laptop", pv.t0 + 3600};
    struct Officer { const char* label; std::string unit, role; };
    const std::vector<Officer> officers = {{"a-receiver", A, "receiver"}, {"a-specialist", A, "specialist"},
                                           {"a-leader", A, "leader"},     {"b-specialist", B, "specialist"},
                                           {"p-specialist", P, "specialist"}};
    const std::vector<std::string> actions = {"accept",  "approve", "send_back", "forward", "request_supplement",
                                              "reject",  "withdraw", "suspend",  "resume",  "deliver"};
    std::string code = da.receive();
    carry(a, p, da.t);
    Model m;
    int applied = 0, forwarded = 0;
    for (int i = 0; i < 200; ++i) {
      if (m.finished()) {
        dp.t = da.t = std::max(da.t, dp.t);
        code = da.receive();
        carry(a, p, da.t);
        m = Model{};
      }
      const auto& def = Model::steps().at(m.step);
      const Officer* op = &officers[std::uniform_int_distribution<size_t>(0, officers.size() - 1)(rng)];
      if (std::uniform_int_distribution<int>(0, 9)(rng) < 6)
        for (const auto& c : officers)
          if (c.unit == m.holder && c.role == def.role) op = &c;
      std::string action = actions[std::uniform_int_distribution<size_t>(0, actions.size() - 1)(rng)];
      if (std::uniform_int_distribution<int>(0, 9)(rng) < 5) {
        auto it = def.actions.begin();
        std::advance(it, std::uniform_int_distribution<size_t>(0, def.actions.size() - 1)(rng));
        action = it->first;
      }
      bool on_province = std::uniform_int_distribution<int>(0, 9)(rng) < (m.holder == P ? 8 : 2);
      Desk& d = on_province ? dp : da;
      d.t = std::max(da.t, dp.t);
      bool note = std::uniform_int_distribution<int>(0, 9)(rng) < 8;
      auto before = marks(d.store);
      auto r = d.act(op->label, code, action, note ? "ghi chú" : "");
      Model expect = m;
      bool ok = expect.apply(action, op->unit, op->role, note, on_province ? P : A);
      INFO("seed " << seed << " step " << i << ": " << op->label << " " << action << (note ? " +note" : "") << " on "
                   << (on_province ? "province" : "commune") << " at " << m.step << " (" << m.status << ")"
                   << (r ? std::string() : " -> " + r.error().message));
      REQUIRE(bool(r) == ok);
      if (!ok) {
        CHECK(marks(d.store) == before);
        continue;
      }
      ++applied;
      if (expect.holder == P && m.holder != P) ++forwarded;
      m = expect;
      for (const auto& o : carry(a, p, d.t)) CHECK(o.outcome == engine::Outcome::applied);
      for (const auto& o : carry(p, a, d.t)) CHECK(o.outcome == engine::Outcome::applied);
      for (engine::Store* s : {&a, &p}) {
        auto st = s->dossier(code);
        REQUIRE(st);
        REQUIRE(st->status == m.status);
        REQUIRE(st->step == m.step);
        REQUIRE(st->holder == m.holder);
        CHECK(st->forks == 0);
      }
    }
    INFO("seed " << seed << " applied " << applied << " forwarded " << forwarded);
    CHECK(applied > 30);
    CHECK(forwarded > 0);
    auto va = a.verify(), vp = p.verify();
    INFO((va.errors.empty() ? std::string() : va.errors.front()));
    INFO((vp.errors.empty() ? std::string() : vp.errors.front()));
    CHECK(va.ok());
    CHECK(vp.ok());
    CHECK(marks(a) == marks(p));
  }
}
