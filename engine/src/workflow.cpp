#include "hoso/engine/workflow.hpp"

#include <set>

namespace hoso::engine {

using crypto::make_error;
using nlohmann::json;

namespace {

const std::set<std::string>& builtins() {
  static const std::set<std::string> s = {"request_supplement", "reject", "send_back", "forward", "withdraw",
                                          "suspend",            "resume", "extend",    "amend",   "resolve"};
  return s;
}

crypto::Error refuse(const DossierState& st, const std::string& why) {
  return make_error(Errc::unauthorized, "dossier " + st.code + ": " + why);
}

Result<std::string> holder_of(const std::string& step, const DossierState& st, const Rules& r) {
  const auto& def = r.procedure->steps.at(step);
  if (!def.unit) return st.unit;
  if (*def.unit == "parent") {
    auto p = r.parent_of(st.unit);
    if (!p) return make_error(Errc::not_found, "unit " + st.unit + " has no parent unit (certify it with --parent)");
    return *p;
  }
  return *def.unit;
}

std::optional<int64_t> step_due(const std::string& step, int64_t entered, const Rules& r) {
  const auto& def = r.procedure->steps.at(step);
  if (!def.hours) return std::nullopt;
  auto d = r.calendar->add_working_seconds(entered, *def.hours * 3600);
  if (!d) return std::nullopt;
  return *d;
}

std::string status_at(const std::string& step, const DossierState& st, const Rules& r) {
  const auto& def = r.procedure->steps.at(step);
  bool all_done = !def.actions.empty();
  for (const auto& [a, t] : def.actions) all_done &= t == "@done";
  if (all_done) return "approved";
  if (st.holder != st.unit) return "forwarded";
  if (step == r.procedure->start && st.visits.size() <= 1) return "received";
  return "in_progress";
}

// Where an action leads: a step, a terminal (@...), or "" for actions that
// keep the dossier where it is.
Result<std::string> target_of(const DossierState& st, const Rules& r, const std::string& action) {
  const auto& def = r.procedure->steps.at(st.step);
  auto it = def.actions.find(action);
  if (it != def.actions.end()) return it->second;
  if (action == "request_supplement") return r.procedure->start;
  if (action == "reject") return std::string("@rejected");
  if (action == "withdraw") return std::string("@withdrawn");
  if (action == "send_back") {
    if (st.visits.size() < 2) return refuse(st, "there is no earlier step to send it back to");
    return st.visits[st.visits.size() - 2].step;
  }
  if (action == "forward") return refuse(st, "step " + st.step + " does not say where to forward");
  if (builtins().count(action)) return std::string();
  return refuse(st, "action \"" + action + "\" does not exist at step " + st.step);
}

Result<std::string> timeliness(const DossierState& st, int64_t finished, const Rules& r) {
  if (!st.due_base) return std::string("on_time");
  const auto& cal = *r.calendar;
  if (cal.local_date(finished) < cal.local_date(*st.due_base)) return std::string("early");
  return std::string(finished <= *st.due_base ? "on_time" : "late");
}

}  // namespace

bool is_builtin_action(const std::string& a) { return builtins().count(a) > 0; }

bool action_needs_note(const std::string& a) {
  static const std::set<std::string> s = {"reject", "send_back", "request_supplement", "suspend",
                                          "extend", "amend",     "withdraw",           "resolve"};
  return s.count(a) > 0;
}

json state_json(const DossierState& s) {
  json visits = json::array();
  for (const auto& v : s.visits)
    visits.push_back({{"step", v.step}, {"unit", v.unit}, {"entered_at", v.entered_at},
                      {"due_at", v.due_at ? json(*v.due_at) : json()}, {"left_at", v.left_at ? json(*v.left_at) : json()}});
  json att = json::array();
  for (const auto& a : s.attachments) att.push_back({{"name", a.name}, {"hash", a.hash}, {"size", a.size}});
  auto opt = [](const auto& o) { return o ? json(*o) : json(); };
  return json{{"code", s.code}, {"procedure", s.procedure}, {"version", s.version}, {"unit", s.unit},
              {"holder", s.holder}, {"step", s.step}, {"status", s.status}, {"applicant", s.applicant},
              {"fields", s.fields}, {"attachments", att}, {"received_at", s.received_at}, {"due_at", opt(s.due_at)},
              {"due_base", opt(s.due_base)}, {"remaining", opt(s.remaining)}, {"remaining_base", opt(s.remaining_base)},
              {"status_before_suspend", s.status_before_suspend}, {"supplement_step", opt(s.supplement_step)},
              {"supplements", s.supplements}, {"extensions", s.extensions}, {"refusals", s.refusals},
              {"forwards", s.forwards}, {"events", s.events}, {"finished_at", opt(s.finished_at)},
              {"timeliness", opt(s.timeliness)}, {"forks", s.forks}, {"head", s.head}, {"visits", visits}};
}

Result<Requirement> requirement(const DossierState& st, const Rules& r, const EventBody& e) {
  const std::string& a = e.action;
  if (a == "receive") return refuse(st, "already received");
  if (st.finished()) return refuse(st, "already " + st.status + "; no further action");
  if (e.step != st.step) return refuse(st, "it is at step " + st.step + ", not " + e.step);
  if (action_needs_note(a) && e.note().empty())
    return make_error(Errc::invalid_argument, "action " + a + " needs a note (--note)");
  const auto& def = r.procedure->steps.at(st.step);
  bool listed = def.actions.count(a) > 0;
  if (!listed && !is_builtin_action(a)) return refuse(st, "action \"" + a + "\" does not exist at step " + st.step);
  if (st.status == "suspended" && a != "resume" && a != "withdraw" && a != "resolve")
    return refuse(st, "it is suspended; resume it first");
  if (a == "resume" && st.status != "suspended") return refuse(st, "it is not suspended");
  if (a == "request_supplement" && st.supplements > 0) return refuse(st, "a supplement was already requested once");
  if ((a == "suspend" || a == "extend") && !st.due_at) return refuse(st, "its clock is stopped");
  if (a == "extend") {
    auto it = e.payload.find("until");
    if (it == e.payload.end()) return make_error(Errc::invalid_argument, "extend needs a new date (--until YYYY-MM-DD)");
  }
  if (a == "resolve" && !e.payload.contains("keep"))
    return make_error(Errc::invalid_argument, "resolve needs the branch to keep (--keep HASH)");
  if (a == "amend" && e.fields().empty()) return make_error(Errc::invalid_argument, "amend needs at least one --field");
  auto t = target_of(st, r, a);
  if (!t) return t.error();
  std::string role = def.role;
  if (a == "withdraw" && !listed) role = "receiver";
  if (a == "resolve" && !listed) role = "leader";
  return Requirement{role, st.holder};
}

Result<DossierState> start_dossier(const Event& e, const Rules& r, const std::string& unit) {
  const auto& b = e.body;
  const Procedure& p = *r.procedure;
  DossierState st;
  st.code = b.dossier;
  st.unit = unit;
  if (b.action != "receive") return make_error(Errc::unauthorized, "dossier " + b.dossier + ": its first event must be receive");
  if (!b.prev.empty()) return make_error(Errc::bad_format, "dossier " + b.dossier + ": a receive event has no previous event");
  if (b.step != p.start) return make_error(Errc::unauthorized, "dossier " + b.dossier + ": received at step " + b.step + ", not " + p.start);
  if (b.payload.value("unit", "") != unit)
    return make_error(Errc::unauthorized, "dossier " + b.dossier + ": received for unit " + b.payload.value("unit", "") + " by an officer of " + unit);
  std::string applicant = b.payload.value("applicant", "");
  if (applicant.empty()) return make_error(Errc::invalid_argument, "the applicant's name is required (--applicant)");
  Status fs = validate_fields(p, b.fields(), true);
  if (!fs) return fs.error();
  st.procedure = p.code;
  st.version = p.version;
  st.applicant = applicant;
  st.fields = b.fields();
  st.attachments = b.attachments();
  st.received_at = b.at;
  auto due = r.calendar->due_after_working_days(b.at, p.total_working_days);
  if (!due) return due.error();
  st.due_at = st.due_base = *due;
  st.step = p.start;
  auto h = holder_of(p.start, st, r);
  if (!h) return h.error();
  st.holder = *h;
  st.visits.push_back({p.start, st.holder, b.at, step_due(p.start, b.at, r), std::nullopt});
  st.status = status_at(p.start, st, r);
  st.events = 1;
  st.head = e.hash;
  return st;
}

Result<DossierState> apply_event(DossierState st, const Event& e, const Rules& r) {
  const auto& b = e.body;
  const std::string& a = b.action;
  auto req = requirement(st, r, b);
  if (!req) return req.error();
  auto target = target_of(st, r, a);
  if (!target) return target.error();
  const Procedure& p = *r.procedure;
  const WorkCalendar& cal = *r.calendar;
  st.events++;
  st.head = e.hash;
  for (const auto& at : b.attachments()) st.attachments.push_back(at);

  if (a == "request_supplement") st.supplements++;
  if (a == "reject") st.refusals++;

  // The complete resubmission after a supplement request is a new receipt.
  if (st.status == "awaiting_supplement" && !is_builtin_action(a) && st.supplement_step && b.step == *st.supplement_step) {
    st.received_at = b.at;
    auto due = cal.due_after_working_days(b.at, p.total_working_days);
    if (!due) return due.error();
    st.due_at = st.due_base = *due;
    st.supplement_step.reset();
    st.status = "in_progress";  // the transition below sets the exact status
  }

  const std::string& t = *target;
  if (t.empty()) {
    if (a == "suspend") {
      auto rem = cal.working_seconds_between(b.at, *st.due_at);
      if (!rem) return rem.error();
      st.remaining = *rem;
      if (st.due_base) {
        auto rb = cal.working_seconds_between(b.at, *st.due_base);
        if (!rb) return rb.error();
        st.remaining_base = *rb;
      }
      st.status_before_suspend = st.status;
      st.status = "suspended";
      st.due_at.reset();
    } else if (a == "resume") {
      auto due = cal.add_working_seconds(b.at, st.remaining.value_or(0));
      if (!due) return due.error();
      st.due_at = *due;
      if (st.remaining_base) {
        auto db = cal.add_working_seconds(b.at, *st.remaining_base);
        if (!db) return db.error();
        st.due_base = *db;
      }
      st.remaining.reset();
      st.remaining_base.reset();
      st.status = st.status_before_suspend.empty() ? "in_progress" : st.status_before_suspend;
      st.status_before_suspend.clear();
    } else if (a == "extend") {
      auto until = cal.end_of_day(b.payload.value("until", ""));
      if (!until) return make_error(until.error().code, "extend --until: " + until.error().message);
      if (*until <= *st.due_at) return refuse(st, "the new appointment must be later than the current one");
      st.due_at = *until;
      st.extensions++;
    } else if (a == "amend") {
      auto merged = st.fields;
      for (const auto& [k, v] : b.fields()) merged[k] = v;
      Status fs = validate_fields(p, merged, true);
      if (!fs) return fs.error();
      st.fields = std::move(merged);
    }
    // resolve changes no state here: the fold picks the kept branch.
    return st;
  }

  if (!st.visits.empty()) st.visits.back().left_at = b.at;
  if (t[0] == '@') {
    st.status = t == "@done" ? "returned" : t == "@rejected" ? "rejected" : "withdrawn";
    st.finished_at = b.at;
    st.due_at.reset();
    if (st.status != "withdrawn") {
      auto tl = timeliness(st, b.at, r);
      if (!tl) return tl.error();
      st.timeliness = *tl;
    }
    return st;
  }
  if (!p.steps.count(t)) return make_error(Errc::internal, "procedure leads to unknown step " + t);
  st.step = t;
  auto h = holder_of(t, st, r);
  if (!h) return h.error();
  if (*h != st.holder && *h != st.unit) st.forwards++;
  st.holder = *h;
  st.visits.push_back({t, st.holder, b.at, step_due(t, b.at, r), std::nullopt});
  if (a == "request_supplement") {
    st.status = "awaiting_supplement";
    st.supplement_step = t;
    st.due_at.reset();
  } else if (st.status == "awaiting_supplement") {
    // Moved on by a built-in (send_back): still waiting, clock still stopped.
    st.supplement_step = t;
  } else {
    st.status = status_at(t, st, r);
  }
  return st;
}

}  // namespace hoso::engine
