// Administrative procedures (thủ tục hành chính) as authored JSON (SPEC §3):
// the form fields a receiving officer fills in and the graph of steps a
// dossier walks through, each step held by a role and left by named actions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hoso/crypto/result.hpp"

namespace hoso::engine {

using crypto::Errc;
using crypto::Result;
using crypto::Status;

struct FieldDef {
  std::string name;   // [a-z][a-z0-9_]*, unique within the procedure
  std::string label;  // shown to officers; the name when the document has none
  std::string type;   // "text" | "number" | "date" | "choice"
  bool required = false;
  std::vector<std::string> options;  // non-empty for "choice", empty otherwise
};

struct StepDef {
  std::string name;  // [a-z][a-z0-9_]*
  std::string role;  // [a-z][a-z0-9_]*
  // "parent" (the parent of the dossier's unit) or a unit code; absent: the
  // dossier's own unit holds the step.
  std::optional<std::string> unit;
  std::optional<int64_t> hours;  // per-step budget in working hours, 0..10000
  // action -> a step name, or "@done" | "@rejected" | "@withdrawn".
  std::map<std::string, std::string> actions;
};

struct Procedure {
  std::string code;
  int64_t version = 0;
  std::string name;
  int64_t total_working_days = 0;
  std::string start;
  std::vector<FieldDef> fields;
  std::map<std::string, StepDef> steps;
  nlohmann::json doc;  // the validated document, as given
};

// Validates a procedure document. Required keys: kind ("procedure"), code
// (non-empty), version (>= 1), name (non-empty), total_working_days
// (0..3650), start (an existing step), steps (a non-empty object). Optional:
// fields (array of {name, type, label?, required?, options?}).
// Each step: role (required), unit (optional, non-empty), hours (optional,
// 0..10000), actions (required, non-empty object of action -> target).
// Step, action, field and role names match [a-z][a-z0-9_]*. A target is an
// existing step or one of @done, @rejected, @withdrawn. @done must be
// reachable from the start step. Actions whose built-in meaning does not
// move the dossier (suspend, resume, extend, amend, resolve) may not be
// listed, and a listed `withdraw` must lead to @withdrawn. Field types are
// text, number, date or choice; choice needs a non-empty `options` array of
// distinct non-empty strings, other types must not have `options`; field
// names are unique. Unknown keys are refused unless they start with "x_";
// floats are refused. Errors are Errc::bad_format and name the key path
// ("steps.review.hours: expected an integer, got a float").
Result<Procedure> parse_procedure(const nlohmann::json& doc);

// Checks form values (from `--field k=v`) against the procedure's fields.
// Errors (Errc::invalid_argument, naming the field): a name the procedure
// does not define; a number that is not an integer or a decimal
// (-?[0-9]+(.[0-9]+)?); a date that is not a real "YYYY-MM-DD"; a choice not
// among its options; a value that is not valid UTF-8. An empty value means
// "not given" and is accepted for every type, except that with require_all a
// required field that is missing or empty is an error.
Status validate_fields(const Procedure& p, const std::map<std::string, std::string>& values,
                       bool require_all);

// True for the terminal targets (those that start with '@').
bool is_terminal(const std::string& target);

}  // namespace hoso::engine
