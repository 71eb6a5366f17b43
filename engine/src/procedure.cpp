#include "hoso/engine/procedure.hpp"

#include <deque>
#include <exception>
#include <limits>
#include <set>

#include "doc_check.hpp"
#include "hoso/engine/calendar.hpp"

namespace hoso::engine {

namespace {

using doc::error_at;
using doc::index_path;
using doc::key_path;

constexpr const char* kNameRule = "must match [a-z][a-z0-9_]*";

std::string quote(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<FieldDef> parse_field(const nlohmann::json& v, const std::string& path) {
  auto o = doc::Object::open(v, path);
  if (!o) return o.error();
  if (Status st = o->only({"name", "label", "type", "required", "options"}); !st) return st.error();
  FieldDef f;
  auto name = o->req_string("name");
  if (!name) return name.error();
  if (!doc::is_name(*name)) return error_at(o->path_of("name"), kNameRule + (", got " + quote(*name)));
  f.name = *name;
  auto label = o->opt_string("label");
  if (!label) return label.error();
  f.label = label->value_or(f.name);
  auto type = o->req_string("type");
  if (!type) return type.error();
  if (*type != "text" && *type != "number" && *type != "date" && *type != "choice") {
    return error_at(o->path_of("type"),
                    "expected one of text, number, date, choice, got " + quote(*type));
  }
  f.type = *type;
  auto required = o->opt_bool("required", false);
  if (!required) return required.error();
  f.required = *required;
  auto options = o->opt_array("options");
  if (!options) return options.error();
  const std::string opath = o->path_of("options");
  if (f.type != "choice") {
    if (*options != nullptr) return error_at(opath, "only a field of type choice has options");
    return f;
  }
  if (*options == nullptr) return error_at(opath, "missing (a choice field needs options)");
  if ((*options)->empty()) return error_at(opath, "must list at least one option");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < (*options)->size(); ++i) {
    const std::string p = index_path(opath, i);
    auto s = doc::as_string((**options)[i], p);
    if (!s) return s.error();
    if (s->empty()) return error_at(p, "must not be empty");
    if (!seen.insert(*s).second) return error_at(p, "duplicate option " + quote(*s));
    f.options.push_back(*s);
  }
  return f;
}

Result<StepDef> parse_step(const std::string& name, const nlohmann::json& v,
                           const std::string& path) {
  auto o = doc::Object::open(v, path);
  if (!o) return o.error();
  if (Status st = o->only({"role", "unit", "hours", "actions"}); !st) return st.error();
  StepDef s;
  s.name = name;
  auto role = o->req_string("role");
  if (!role) return role.error();
  if (!doc::is_name(*role)) return error_at(o->path_of("role"), kNameRule + (", got " + quote(*role)));
  s.role = *role;
  auto unit = o->opt_string("unit");
  if (!unit) return unit.error();
  if (*unit && (*unit)->empty()) {
    return error_at(o->path_of("unit"), "must be \"parent\" or a unit code, got \"\"");
  }
  s.unit = *unit;
  auto hours = o->opt_int("hours", 0, 10000);
  if (!hours) return hours.error();
  s.hours = *hours;
  auto actions = o->req_object("actions");
  if (!actions) return actions.error();
  const std::string apath = o->path_of("actions");
  if ((*actions)->empty()) return error_at(apath, "must list at least one action");
  for (const auto& item : (*actions)->items()) {
    const std::string& action = item.key();
    const std::string p = key_path(apath, action);
    if (!doc::is_name(action)) return error_at(p, std::string("action name ") + kNameRule);
    auto target = doc::as_string(item.value(), p);
    if (!target) return target.error();
    // These built-ins act on the clock, the form or a fork, never on the
    // step, so a procedure that routes them somewhere is a mistake.
    if (action == "suspend" || action == "resume" || action == "extend" || action == "amend" ||
        action == "resolve") {
      return error_at(p, "built-in action " + action + " cannot be listed");
    }
    if (action == "withdraw" && *target != "@withdrawn") {
      return error_at(p, "the built-in action withdraw must lead to @withdrawn");
    }
    s.actions.emplace(action, *target);
  }
  return s;
}

Result<Procedure> parse_procedure_unchecked(const nlohmann::json& d) {
  auto o = doc::Object::open(d, "");
  if (!o) return o.error();
  // The kind first: a calendar passed by mistake should say so, not list
  // its keys as unknown.
  auto kind = o->req_string("kind");
  if (!kind) return kind.error();
  if (*kind != "procedure") return error_at("kind", "expected \"procedure\", got " + quote(*kind));
  if (Status st = o->only({"kind", "code", "version", "name", "total_working_days", "start",
                           "fields", "steps"});
      !st) {
    return st.error();
  }

  Procedure p;
  auto code = o->req_string("code");
  if (!code) return code.error();
  if (code->empty()) return error_at("code", "must not be empty");
  p.code = *code;
  auto version = o->req_int("version", 1, std::numeric_limits<int64_t>::max());
  if (!version) return version.error();
  p.version = *version;
  auto name = o->req_string("name");
  if (!name) return name.error();
  if (name->empty()) return error_at("name", "must not be empty");
  p.name = *name;
  auto days = o->req_int("total_working_days", 0, 3650);
  if (!days) return days.error();
  p.total_working_days = *days;

  auto fields = o->opt_array("fields");
  if (!fields) return fields.error();
  if (*fields != nullptr) {
    std::set<std::string> seen;
    for (std::size_t i = 0; i < (*fields)->size(); ++i) {
      const std::string path = index_path("fields", i);
      auto f = parse_field((**fields)[i], path);
      if (!f) return f.error();
      if (!seen.insert(f->name).second) {
        return error_at(key_path(path, "name"), "duplicate field " + quote(f->name));
      }
      p.fields.push_back(std::move(*f));
    }
  }

  auto steps = o->req_object("steps");
  if (!steps) return steps.error();
  if ((*steps)->empty()) return error_at("steps", "must list at least one step");
  for (const auto& item : (*steps)->items()) {
    const std::string path = key_path("steps", item.key());
    if (!doc::is_name(item.key())) return error_at(path, std::string("step name ") + kNameRule);
    auto s = parse_step(item.key(), item.value(), path);
    if (!s) return s.error();
    p.steps.emplace(item.key(), std::move(*s));
  }
  for (const auto& [sname, step] : p.steps) {
    for (const auto& [action, target] : step.actions) {
      const std::string path = key_path(key_path(key_path("steps", sname), "actions"), action);
      if (is_terminal(target)) {
        if (target != "@done" && target != "@rejected" && target != "@withdrawn") {
          return error_at(path, "unknown terminal " + quote(target) +
                                    " (expected @done, @rejected or @withdrawn)");
        }
      } else if (p.steps.count(target) == 0) {
        return error_at(path, "no step named " + quote(target));
      }
    }
  }

  auto start = o->req_string("start");
  if (!start) return start.error();
  if (p.steps.count(*start) == 0) return error_at("start", "no step named " + quote(*start));
  p.start = *start;

  // A dossier must be able to finish with a result; a graph whose only exits
  // are refusals would strand every applicant.
  std::set<std::string> seen{p.start};
  std::deque<std::string> queue{p.start};
  bool done = false;
  while (!queue.empty() && !done) {
    const StepDef& step = p.steps.at(queue.front());
    queue.pop_front();
    for (const auto& [action, target] : step.actions) {
      if (target == "@done") done = true;
      if (!is_terminal(target) && seen.insert(target).second) queue.push_back(target);
    }
  }
  if (!done) return error_at("steps", "no action reachable from step " + quote(p.start) + " leads to @done");

  p.doc = d;
  return p;
}

bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are invalid.
    static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

bool is_decimal(const std::string& s) {
  std::size_t i = s.size() > 0 && s[0] == '-' ? 1 : 0;
  const auto run = [&] {
    const std::size_t b = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > b;
  };
  if (!run()) return false;
  if (i == s.size()) return true;
  if (s[i] != '.') return false;
  ++i;
  return run() && i == s.size();
}

crypto::Error field_error(const std::string& name, const std::string& what) {
  return crypto::make_error(Errc::invalid_argument, "field " + quote(name) + ": " + what);
}

}  // namespace

bool is_terminal(const std::string& target) { return !target.empty() && target[0] == '@'; }

Result<Procedure> parse_procedure(const nlohmann::json& doc) {
  try {
    return parse_procedure_unchecked(doc);
  } catch (const std::exception& e) {
    // Only an allocation failure or a bug can get here: the reader checks
    // every type before it converts.
    return crypto::make_error(Errc::internal, std::string("procedure: ") + e.what());
  }
}

Status validate_fields(const Procedure& p, const std::map<std::string, std::string>& values,
                       bool require_all) {
  for (const auto& [name, value] : values) {
    const FieldDef* def = nullptr;
    for (const auto& f : p.fields) {
      if (f.name == name) def = &f;
    }
    if (def == nullptr) {
      std::string known;
      for (const auto& f : p.fields) known += (known.empty() ? "" : ", ") + f.name;
      return field_error(name, "procedure " + p.code + " has no such field (it has: " +
                                   (known.empty() ? "none" : known) + ")");
    }
    if (!valid_utf8(value)) return field_error(name, "not valid UTF-8");
    if (value.empty()) continue;
    if (def->type == "number" && !is_decimal(value)) {
      return field_error(name, "expected a number such as 12 or -3.5, got " + quote(value));
    }
    if (def->type == "date" && !parse_civil_date(value)) {
      return field_error(name, "expected a real date YYYY-MM-DD, got " + quote(value));
    }
    if (def->type == "choice") {
      bool found = false;
      std::string opts;
      for (const auto& o : def->options) {
        found = found || o == value;
        opts += (opts.empty() ? "" : ", ") + o;
      }
      if (!found) return field_error(name, "expected one of " + opts + ", got " + quote(value));
    }
  }
  if (require_all) {
    for (const auto& f : p.fields) {
      if (!f.required) continue;
      const auto it = values.find(f.name);
      if (it == values.end() || it->second.empty()) return field_error(f.name, "required but missing");
    }
  }
  return {};
}

}  // namespace hoso::engine
