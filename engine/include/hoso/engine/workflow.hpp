// The workflow rules (SPEC §2, §3) as pure functions: a dossier's state is a
// fold of its current chain of events. The same functions check an action
// before a device signs it, check an event a server receives, and rebuild
// every projection in `verify`.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hoso/engine/calendar.hpp"
#include "hoso/engine/event.hpp"
#include "hoso/engine/procedure.hpp"

namespace hoso::engine {

// Built-in actions (SPEC §3): they exist at every step without being listed.
bool is_builtin_action(const std::string& action);
// Built-ins that need a note.
bool action_needs_note(const std::string& action);

struct StepVisit {
  std::string step, unit;
  int64_t entered_at = 0;
  std::optional<int64_t> due_at;  // entered_at + the step's working hours, if it has a budget
  std::optional<int64_t> left_at;
};

struct DossierState {
  std::string code, procedure, unit, holder, step, status, applicant;
  int64_t version = 0;
  std::map<std::string, std::string> fields;
  std::vector<Attachment> attachments;
  int64_t received_at = 0;               // the (latest) receipt: resubmission restarts it
  std::optional<int64_t> due_at;         // null while the clock is stopped
  std::optional<int64_t> due_base;       // the due time before extensions, for timeliness
  std::optional<int64_t> remaining;      // working seconds left, while suspended
  std::optional<int64_t> remaining_base;
  std::string status_before_suspend;
  std::optional<std::string> supplement_step;  // awaiting a resubmission at this step
  int64_t supplements = 0, extensions = 0, refusals = 0, forwards = 0, events = 0;
  std::optional<int64_t> finished_at;
  std::optional<std::string> timeliness;  // early | on_time | late, once finished
  int64_t forks = 0;
  std::string head;  // hash of the last event of the current chain
  std::vector<StepVisit> visits;

  bool finished() const { return status == "returned" || status == "rejected" || status == "withdrawn"; }
  bool overdue(int64_t now) const { return !finished() && due_at && now > *due_at; }
};

nlohmann::json state_json(const DossierState& s);

// Resolves the unit that holds a step: the dossier's own unit, its parent
// ("parent"), or a named unit. Errc::not_found when the parent is unknown.
using ParentOf = std::function<std::optional<std::string>(const std::string& unit)>;

struct Rules {
  const Procedure* procedure = nullptr;
  const WorkCalendar* calendar = nullptr;
  ParentOf parent_of;
};

// What the action needs at this state: the role of whoever takes it and the
// unit that must hold the dossier. Errors (Errc::unauthorized for an action
// that does not exist at the step or the status, Errc::invalid_argument for a
// missing note) say exactly why.
struct Requirement {
  std::string role, unit;
};
Result<Requirement> requirement(const DossierState& st, const Rules& rules, const EventBody& e);

// The state after the dossier's first event (action "receive").
Result<DossierState> start_dossier(const Event& e, const Rules& rules, const std::string& unit);
// The state after one more event on the current chain.
Result<DossierState> apply_event(DossierState st, const Event& e, const Rules& rules);

}  // namespace hoso::engine
