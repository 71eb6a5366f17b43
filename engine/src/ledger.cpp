#include "hoso/engine/ledger.hpp"

#include <algorithm>
#include <cstdio>
#include <tuple>

namespace hoso::engine {

using crypto::make_error;

Status Registry::add(const crypto::SignedItem& item) {
  if (item.type == kTypeCert || item.type == kTypeRevocation) return trust_.add(item);
  auto doc = read_document(item, trust_.root());
  if (!doc) return doc.error();
  std::string key;
  if (item.type == kTypeProcedure) {
    auto p = parse_procedure(doc->document);
    if (!p) return make_error(p.error().code, "procedure: " + p.error().message);
    key = "procedure:" + p->code + ":" + std::to_string(p->version);
    auto known = doc_ids_.find(key);
    if (known != doc_ids_.end()) {
      if (known->second == item.id_hex()) return {};
      return make_error(Errc::conflict, "procedure " + p->code + " version " + std::to_string(p->version) +
                                            " was already published with other content");
    }
    procs_[p->code][p->version] = std::move(*p);
  } else {
    auto c = parse_calendar(doc->document);
    if (!c) return make_error(c.error().code, "calendar: " + c.error().message);
    key = "calendar:" + std::to_string(c->year);
    auto known = doc_ids_.find(key);
    if (known != doc_ids_.end()) {
      if (known->second == item.id_hex()) return {};
      return make_error(Errc::conflict, "calendar " + std::to_string(c->year) + " was already published with other content");
    }
    Status st = calendar_.add(std::move(*c));
    if (!st) return st;
  }
  doc_ids_[key] = item.id_hex();
  docs_.push_back(item);
  return {};
}

Result<const Procedure*> Registry::procedure(const std::string& code, int64_t version) const {
  auto it = procs_.find(code);
  if (it == procs_.end() || !it->second.count(version))
    return make_error(Errc::not_found, "procedure " + code + " version " + std::to_string(version) + " is not published in this store");
  return &it->second.at(version);
}

Result<const Procedure*> Registry::latest(const std::string& code) const {
  auto it = procs_.find(code);
  if (it == procs_.end() || it->second.empty())
    return make_error(Errc::not_found, "procedure " + code + " is not published in this store (import it first)");
  return &it->second.rbegin()->second;
}

Result<Rules> Registry::rules(const std::string& code, int64_t version) const {
  auto p = procedure(code, version);
  if (!p) return p.error();
  Rules r;
  r.procedure = *p;
  r.calendar = &calendar_;
  r.parent_of = [this](const std::string& unit) -> std::optional<std::string> {
    const Certificate* c = trust_.unit(unit);
    if (!c || !c->parent) return std::nullopt;
    return *c->parent;
  };
  return r;
}

Status check_signatures(const Event& e, const Registry& reg) {
  const Certificate* actor = reg.trust().certificate(e.body.actor);
  if (!actor) return make_error(Errc::not_found, "event " + e.hash.substr(0, 16) + ": unknown officer certificate " + e.body.actor.substr(0, 16));
  const Certificate* device = reg.trust().certificate(e.body.device);
  if (!device) return make_error(Errc::not_found, "event " + e.hash.substr(0, 16) + ": unknown device certificate " + e.body.device.substr(0, 16));
  if (actor->kind != CertKind::officer || !actor->pub)
    return make_error(Errc::unauthorized, "event " + e.hash.substr(0, 16) + ": actor certificate is not an officer's");
  if (device->kind != CertKind::device || !device->pub)
    return make_error(Errc::unauthorized, "event " + e.hash.substr(0, 16) + ": device certificate is not a device's");
  if (!crypto::verify_sig(e.item, *actor->pub))
    return make_error(Errc::bad_signature, "event " + e.hash.substr(0, 16) + ": the officer's signature does not verify");
  if (!crypto::verify_cosig(e.item, *device->pub))
    return make_error(Errc::bad_signature, "event " + e.hash.substr(0, 16) + ": the device's countersignature does not verify");
  return {};
}

std::string dossier_code(const std::string& unit, const std::string& yymmdd, int64_t number) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04lld", static_cast<long long>(number));
  return unit + "-" + yymmdd + "-" + buf;
}

bool slot_owns(int64_t slot, int64_t number) {
  if (slot == 0) return number >= 1 && number <= 999;
  return number >= slot * 1000 && number <= slot * 1000 + 999;
}

namespace {

Result<DossierState> fold_path(const std::vector<const Event*>& path, const Registry& reg) {
  if (path.empty()) return make_error(Errc::internal, "empty chain");
  const Event& first = *path.front();
  const Certificate* actor = reg.trust().certificate(first.body.actor);
  if (!actor) return make_error(Errc::not_found, "unknown officer certificate " + first.body.actor.substr(0, 16));
  auto rules = reg.rules(first.body.payload.value("procedure", ""), first.body.payload.value("version", int64_t{0}));
  if (!rules) return rules.error();
  auto st = start_dossier(first, *rules, actor->unit);
  if (!st) return st.error();
  for (size_t i = 1; i < path.size(); ++i) {
    auto next = apply_event(std::move(*st), *path[i], *rules);
    if (!next) return next.error();
    st = std::move(next);
  }
  return st;
}

std::tuple<int64_t, std::string, int64_t> branch_order(const Event* e) {
  return {e->body.at, e->body.device, e->body.seq};
}

}  // namespace

Result<DossierState> state_after(const DossierEvents& events, const std::string& hash, const Registry& reg) {
  std::vector<const Event*> path;
  std::string cur = hash;
  while (!cur.empty()) {
    auto it = events.find(cur);
    if (it == events.end()) return make_error(Errc::not_found, "unknown previous event " + cur.substr(0, 16));
    path.push_back(&it->second);
    if (path.size() > events.size()) return make_error(Errc::bad_format, "the chain loops");
    cur = it->second.body.prev;
  }
  std::reverse(path.begin(), path.end());
  return fold_path(path, reg);
}

std::vector<const Event*> current_chain(const DossierEvents& events) {
  std::map<std::string, std::vector<const Event*>> children;
  std::map<std::string, std::vector<const Event*>> resolves;  // kept hash -> resolve events
  const Event* root = nullptr;
  for (const auto& [h, e] : events) {
    if (e.body.prev.empty()) {
      if (!root || branch_order(&e) < branch_order(root)) root = &e;
    } else {
      children[e.body.prev].push_back(&e);
    }
    if (e.body.action == "resolve") resolves[e.body.payload.value("keep", "")].push_back(&e);
  }
  std::vector<const Event*> chain;
  for (const Event* cur = root; cur;) {
    chain.push_back(cur);
    auto it = children.find(cur->hash);
    if (it == children.end()) break;
    auto kids = it->second;
    std::sort(kids.begin(), kids.end(), [](const Event* a, const Event* b) { return branch_order(a) < branch_order(b); });
    const Event* next = kids.front();
    if (kids.size() > 1) {
      // A leader's resolve keeps one branch; the earliest resolve wins if two disagree.
      const Event* best_resolve = nullptr;
      for (const Event* k : kids) {
        auto r = resolves.find(k->hash);
        if (r == resolves.end()) continue;
        for (const Event* rv : r->second)
          if (!best_resolve || branch_order(rv) < branch_order(best_resolve)) {
            best_resolve = rv;
            next = k;
          }
      }
    }
    cur = next;
  }
  return chain;
}

Result<DossierState> fold_current(const DossierEvents& events, const Registry& reg) {
  auto chain = current_chain(events);
  auto st = fold_path(chain, reg);
  if (!st) return st.error();
  // Unresolved forks anywhere on the current chain.
  std::map<std::string, int> kids;
  std::set<std::string> kept;
  for (const auto& [h, e] : events) {
    if (!e.body.prev.empty()) kids[e.body.prev]++;
    if (e.body.action == "resolve") kept.insert(e.body.payload.value("keep", ""));
  }
  int64_t forks = 0;
  for (const Event* e : chain) {
    auto k = kids.find(e->hash);
    if (k == kids.end() || k->second < 2) continue;
    bool resolved = false;
    for (const auto& [h, c] : events)
      if (c.body.prev == e->hash && kept.count(h)) resolved = true;
    if (!resolved) ++forks;
  }
  st->forks = forks;
  return st;
}

Result<DossierState> check_event(const Event& e, const DossierEvents& events, const Registry& reg,
                                 std::optional<int64_t> arrived_at, const DossierState* at_prev) {
  const auto& b = e.body;
  const Trust& trust = reg.trust();
  const Certificate* officer = trust.certificate(b.actor);
  const Certificate* device = trust.certificate(b.device);
  if (!officer || !device) return make_error(Errc::not_found, "unknown certificate");
  Act who{b.actor, CertKind::officer, std::nullopt, std::nullopt, b.at, arrived_at};
  Act dev{b.device, CertKind::device, std::nullopt, std::nullopt, b.at, arrived_at};

  if (b.action == "receive") {
    if (!events.empty()) return make_error(Errc::conflict, "dossier code " + b.dossier + " is already used");
    auto rules = reg.rules(b.payload.value("procedure", ""), b.payload.value("version", int64_t{0}));
    if (!rules) return rules.error();
    const Procedure& p = *rules->procedure;
    who.role = p.steps.at(p.start).role;
    who.unit = dev.unit = officer->unit;
    Status st = trust.authorize(who);
    if (!st) return st.error();
    st = trust.authorize(dev);
    if (!st) return make_error(st.error().code, "device: " + st.error().message);
    // The code is the unit, the local date of receipt and a number from the device's slot.
    const std::string date = reg.calendar().local_date(b.at);  // YYYY-MM-DD
    std::string yymmdd = date.size() == 10 ? date.substr(2, 2) + date.substr(5, 2) + date.substr(8, 2) : "";
    std::string prefix = officer->unit + "-" + yymmdd + "-";
    if (b.dossier.size() != prefix.size() + 4 || b.dossier.compare(0, prefix.size(), prefix) != 0)
      return make_error(Errc::unauthorized, "dossier code " + b.dossier + " does not match " + prefix + "NNNN");
    int64_t n = std::atoll(b.dossier.substr(prefix.size()).c_str());
    if (!device->slot || !slot_owns(*device->slot, n))
      return make_error(Errc::unauthorized, "dossier number " + b.dossier.substr(prefix.size()) + " is outside the device's desk slot");
    return start_dossier(e, *rules, officer->unit);
  }

  if (b.prev.empty()) return make_error(Errc::bad_format, "only a receive event may start a dossier");
  if (at_prev && at_prev->head != b.prev) return make_error(Errc::internal, "check_event: the state given is not at the event's previous event");
  auto st = at_prev ? Result<DossierState>(*at_prev) : state_after(events, b.prev, reg);
  if (!st) return st.error();
  st->forks = 0;  // as state_after folds it: forks are counted over the whole dossier, by fold_current
  auto rules = reg.rules(st->procedure, st->version);
  if (!rules) return rules.error();
  auto req = requirement(*st, *rules, b);
  if (!req) return req.error();
  who.role = req->role;
  who.unit = dev.unit = req->unit;
  Status ok = trust.authorize(who);
  if (!ok) return ok.error();
  ok = trust.authorize(dev);
  if (!ok) return make_error(ok.error().code, "device: " + ok.error().message);
  if (b.action == "resolve") {
    auto k = events.find(b.payload.value("keep", ""));
    if (k == events.end() || k->second.body.prev.empty())
      return make_error(Errc::invalid_argument, "resolve --keep must name the first event of a branch of this dossier");
    int siblings = 0;
    for (const auto& [h, other] : events) siblings += other.body.prev == k->second.body.prev;
    if (siblings < 2) return make_error(Errc::invalid_argument, "resolve --keep names an event that is not at a fork");
  }
  return apply_event(std::move(*st), e, *rules);
}

}  // namespace hoso::engine
