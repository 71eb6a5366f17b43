// Procedure documents (SPEC §3) and form values, plus the strict reader
// both authored documents share.
#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "doc_check.hpp"
#include "hoso/engine/procedure.hpp"

using hoso::engine::Errc;
using hoso::engine::Procedure;
using hoso::engine::Status;
using nlohmann::json;
namespace he = hoso::engine;

namespace {

// The example of SPEC §3, verbatim.
const char* const kBirth = R"({ "kind": "procedure", "code": "1.001193", "version": 1, "name": "Đăng ký khai sinh",
  "total_working_days": 3, "start": "receive",
  "fields": [{"name": "cccd", "label": "Số CCCD", "type": "text", "required": true}],
  "steps": {
    "receive": {"role": "receiver",   "hours": 4, "actions": {"accept": "review", "request_supplement": "receive", "reject": "@rejected"}},
    "review":  {"role": "specialist", "hours": 8, "actions": {"approve": "sign", "send_back": "receive", "forward": "province_review"}},
    "province_review": {"role": "specialist", "unit": "parent", "hours": 16, "actions": {"approve": "sign", "send_back": "review"}},
    "sign":    {"role": "leader",     "hours": 4, "actions": {"approve": "deliver", "send_back": "review"}},
    "deliver": {"role": "receiver",   "actions": {"deliver": "@done"}} } })";

// The error message of the example with one change, or "(parsed)".
std::string procedure_error(const std::function<void(json&)>& edit) {
  json doc = json::parse(kBirth);
  edit(doc);
  auto r = he::parse_procedure(doc);
  if (r.ok()) return "(parsed)";
  CHECK(r.error().code == Errc::bad_format);
  return r.error().message;
}

Procedure form_procedure() {
  json doc = json::parse(kBirth);
  doc["fields"] = json::parse(R"([
    {"name": "cccd", "label": "Số CCCD", "type": "text", "required": true},
    {"name": "so_tien", "label": "Lệ phí", "type": "number"},
    {"name": "ngay_sinh", "label": "Ngày sinh", "type": "date", "required": true},
    {"name": "gioi_tinh", "label": "Giới tính", "type": "choice", "options": ["nam", "nữ"]},
    {"name": "ghi_chu", "type": "text", "required": false}])");
  auto p = he::parse_procedure(doc);
  if (!p.ok()) FAIL(p.error().message);
  return *p;
}

}  // namespace

TEST_CASE("procedure: the spec's example parses", "[procedure]") {
  auto r = he::parse_procedure(json::parse(kBirth));
  if (!r.ok()) FAIL(r.error().message);
  const Procedure& p = *r;
  CHECK(p.code == "1.001193");
  CHECK(p.version == 1);
  CHECK(p.name == "Đăng ký khai sinh");
  CHECK(p.total_working_days == 3);
  CHECK(p.start == "receive");
  REQUIRE(p.fields.size() == 1);
  CHECK(p.fields[0].name == "cccd");
  CHECK(p.fields[0].label == "Số CCCD");
  CHECK(p.fields[0].type == "text");
  CHECK(p.fields[0].required);
  CHECK(p.fields[0].options.empty());
  REQUIRE(p.steps.size() == 5);
  const auto& receive = p.steps.at("receive");
  CHECK(receive.name == "receive");
  CHECK(receive.role == "receiver");
  CHECK_FALSE(receive.unit.has_value());
  CHECK(receive.hours == std::optional<int64_t>(4));
  CHECK(receive.actions == std::map<std::string, std::string>{
                               {"accept", "review"}, {"request_supplement", "receive"}, {"reject", "@rejected"}});
  const auto& province = p.steps.at("province_review");
  CHECK(province.unit == std::optional<std::string>("parent"));
  CHECK(province.hours == std::optional<int64_t>(16));
  const auto& deliver = p.steps.at("deliver");
  CHECK_FALSE(deliver.hours.has_value());
  CHECK(deliver.actions.at("deliver") == "@done");
  CHECK(p.doc == json::parse(kBirth));
}

TEST_CASE("procedure: fields are optional, labels default to the name", "[procedure]") {
  CHECK(procedure_error([](json& d) { d.erase("fields"); }) == "(parsed)");
  CHECK(procedure_error([](json& d) { d["fields"] = json::array(); }) == "(parsed)");
  json d = json::parse(kBirth);
  d["fields"][0].erase("label");
  d["fields"][0].erase("required");
  auto p = he::parse_procedure(d);
  REQUIRE(p.ok());
  CHECK(p->fields[0].label == "cccd");
  CHECK_FALSE(p->fields[0].required);
}

TEST_CASE("procedure: every missing key is named", "[procedure]") {
  for (const char* key : {"kind", "code", "version", "name", "total_working_days", "start", "steps"}) {
    INFO(key);
    CHECK(procedure_error([&](json& d) { d.erase(key); }) == std::string(key) + ": missing");
  }
  CHECK(procedure_error([](json& d) { d["fields"][0].erase("name"); }) == "fields[0].name: missing");
  CHECK(procedure_error([](json& d) { d["fields"][0].erase("type"); }) == "fields[0].type: missing");
  CHECK(procedure_error([](json& d) { d["steps"]["review"].erase("role"); }) == "steps.review.role: missing");
  CHECK(procedure_error([](json& d) { d["steps"]["review"].erase("actions"); }) ==
        "steps.review.actions: missing");
  CHECK(procedure_error([](json& d) { d["fields"][0]["type"] = "choice"; }) ==
        "fields[0].options: missing (a choice field needs options)");
  // Optional keys may be left out.
  CHECK(procedure_error([](json& d) { d["steps"]["review"].erase("hours"); }) == "(parsed)");
  CHECK(procedure_error([](json& d) { d["steps"]["province_review"].erase("unit"); }) == "(parsed)");
}

TEST_CASE("procedure: every mistyped key is named", "[procedure]") {
  struct Case {
    std::string pointer;  // JSON pointer into the example
    const char* value;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"/kind", "1", "kind: expected a string, got an integer"},
      {"/code", "1001193", "code: expected a string, got an integer"},
      {"/version", R"("1")", "version: expected an integer, got a string"},
      {"/version", "1.0", "version: expected an integer, got a float"},
      {"/version", "1e0", "version: expected an integer, got a float"},
      {"/name", "null", "name: expected a string, got null"},
      {"/total_working_days", "3.5", "total_working_days: expected an integer, got a float"},
      {"/total_working_days", "true", "total_working_days: expected an integer, got a boolean"},
      {"/start", R"(["receive"])", "start: expected a string, got an array"},
      {"/fields", "{}", "fields: expected an array, got an object"},
      {"/fields/0", R"("cccd")", "fields[0]: expected an object, got a string"},
      {"/fields/0/name", "1", "fields[0].name: expected a string, got an integer"},
      {"/fields/0/label", "5", "fields[0].label: expected a string, got an integer"},
      {"/fields/0/type", "null", "fields[0].type: expected a string, got null"},
      {"/fields/0/required", R"("yes")", "fields[0].required: expected a boolean, got a string"},
      {"/fields/0/required", "1", "fields[0].required: expected a boolean, got an integer"},
      {"/steps", "[]", "steps: expected an object, got an array"},
      {"/steps/review", R"("specialist")", "steps.review: expected an object, got a string"},
      {"/steps/review/role", R"(["specialist"])", "steps.review.role: expected a string, got an array"},
      {"/steps/review/hours", R"("8")", "steps.review.hours: expected an integer, got a string"},
      {"/steps/review/hours", "8.0", "steps.review.hours: expected an integer, got a float"},
      {"/steps/province_review/unit", "3", "steps.province_review.unit: expected a string, got an integer"},
      {"/steps/review/actions", R"(["approve"])", "steps.review.actions: expected an object, got an array"},
      {"/steps/review/actions/approve", "1", "steps.review.actions.approve: expected a string, got an integer"},
      {"/steps/review/actions/approve", "null", "steps.review.actions.approve: expected a string, got null"},
  };
  for (const auto& c : cases) {
    INFO(c.pointer << " = " << c.value);
    CHECK(procedure_error([&](json& d) { d[json::json_pointer(c.pointer)] = json::parse(c.value); }) ==
          c.message);
  }
  // A field list with a type mistake in its second element.
  CHECK(procedure_error([](json& d) { d["fields"].push_back({{"name", "x"}, {"type", 1}}); }) ==
        "fields[1].type: expected a string, got an integer");
  CHECK(procedure_error([](json& d) {
          d["fields"].push_back({{"name", "x"}, {"type", "choice"}, {"options", {"a", 1}}});
        }) == "fields[1].options[1]: expected a string, got an integer");
}

TEST_CASE("procedure: unknown keys are refused, x_ keys are accepted", "[procedure]") {
  CHECK(procedure_error([](json& d) { d["owner"] = "So Tu phap"; }) == "owner: unknown key");
  CHECK(procedure_error([](json& d) { d["fields"][0]["hint"] = "12 digits"; }) == "fields[0].hint: unknown key");
  CHECK(procedure_error([](json& d) { d["steps"]["review"]["deadline"] = 8; }) ==
        "steps.review.deadline: unknown key");
  CHECK(procedure_error([](json& d) { d["steps"]["review"]["Hours"] = 8; }) == "steps.review.Hours: unknown key");
  CHECK(procedure_error([](json& d) { d["steps"]["review"]["x y"] = 8; }) == R"(steps.review["x y"]: unknown key)");
  // Extensions at every level, of any type, floats included.
  CHECK(procedure_error([](json& d) {
          d["x_legal_basis"] = "Luật Hộ tịch 2014";
          d["fields"][0]["x_hint"] = 12.5;
          d["steps"]["review"]["x_form"] = {{"template", "mau_01"}};
        }) == "(parsed)");
}

TEST_CASE("procedure: value rules", "[procedure]") {
  struct Case {
    std::function<void(json&)> edit;
    const char* message;
  };
  const std::vector<Case> cases = {
      {[](json& d) { d["kind"] = "calendar"; }, R"(kind: expected "procedure", got "calendar")"},
      {[](json& d) { d["code"] = ""; }, "code: must not be empty"},
      {[](json& d) { d["version"] = 0; }, "version: must be at least 1, got 0"},
      {[](json& d) { d["version"] = -3; }, "version: must be at least 1, got -3"},
      {[](json& d) { d["version"] = json::parse("18446744073709551615"); }, "version: integer out of range"},
      {[](json& d) { d["name"] = ""; }, "name: must not be empty"},
      {[](json& d) { d["total_working_days"] = -1; }, "total_working_days: must be between 0 and 3650, got -1"},
      {[](json& d) { d["total_working_days"] = 3651; }, "total_working_days: must be between 0 and 3650, got 3651"},
      {[](json& d) { d["start"] = "intake"; }, R"(start: no step named "intake")"},
      {[](json& d) { d["start"] = ""; }, R"(start: no step named "")"},
      {[](json& d) { d["steps"] = json::object(); }, "steps: must list at least one step"},
      {[](json& d) { d["steps"]["Review"] = d["steps"]["review"]; },
       "steps.Review: step name must match [a-z][a-z0-9_]*"},
      {[](json& d) { d["steps"]["2nd"] = d["steps"]["review"]; },
       R"(steps["2nd"]: step name must match [a-z][a-z0-9_]*)"},
      {[](json& d) { d["steps"]["review"]["role"] = "Specialist"; },
       R"(steps.review.role: must match [a-z][a-z0-9_]*, got "Specialist")"},
      {[](json& d) { d["steps"]["review"]["role"] = ""; }, R"(steps.review.role: must match [a-z][a-z0-9_]*, got "")"},
      {[](json& d) { d["steps"]["province_review"]["unit"] = ""; },
       R"(steps.province_review.unit: must be "parent" or a unit code, got "")"},
      {[](json& d) { d["steps"]["review"]["hours"] = -1; }, "steps.review.hours: must be between 0 and 10000, got -1"},
      {[](json& d) { d["steps"]["review"]["hours"] = 10001; },
       "steps.review.hours: must be between 0 and 10000, got 10001"},
      {[](json& d) { d["steps"]["review"]["actions"] = json::object(); },
       "steps.review.actions: must list at least one action"},
      {[](json& d) { d["steps"]["review"]["actions"]["Approve"] = "sign"; },
       "steps.review.actions.Approve: action name must match [a-z][a-z0-9_]*"},
      {[](json& d) { d["steps"]["review"]["actions"]["send back"] = "receive"; },
       R"(steps.review.actions["send back"]: action name must match [a-z][a-z0-9_]*)"},
      // Targets.
      {[](json& d) { d["steps"]["review"]["actions"]["approve"] = "sgn"; },
       R"(steps.review.actions.approve: no step named "sgn")"},
      {[](json& d) { d["steps"]["review"]["actions"]["approve"] = ""; },
       R"(steps.review.actions.approve: no step named "")"},
      {[](json& d) { d["steps"]["deliver"]["actions"]["deliver"] = "@finished"; },
       R"(steps.deliver.actions.deliver: unknown terminal "@finished" (expected @done, @rejected or @withdrawn))"},
      {[](json& d) { d["steps"]["deliver"]["actions"]["deliver"] = "@"; },
       R"(steps.deliver.actions.deliver: unknown terminal "@" (expected @done, @rejected or @withdrawn))"},
      {[](json& d) { d["steps"]["deliver"]["actions"]["deliver"] = "@DONE"; },
       R"(steps.deliver.actions.deliver: unknown terminal "@DONE" (expected @done, @rejected or @withdrawn))"},
      // Built-in actions that never move the dossier.
      {[](json& d) { d["steps"]["review"]["actions"]["suspend"] = "review"; },
       "steps.review.actions.suspend: built-in action suspend cannot be listed"},
      {[](json& d) { d["steps"]["sign"]["actions"]["resolve"] = "sign"; },
       "steps.sign.actions.resolve: built-in action resolve cannot be listed"},
      {[](json& d) { d["steps"]["receive"]["actions"]["withdraw"] = "review"; },
       "steps.receive.actions.withdraw: the built-in action withdraw must lead to @withdrawn"},
      // Fields.
      {[](json& d) { d["fields"][0]["name"] = "CCCD"; }, R"(fields[0].name: must match [a-z][a-z0-9_]*, got "CCCD")"},
      {[](json& d) { d["fields"][0]["name"] = "so cccd"; },
       R"(fields[0].name: must match [a-z][a-z0-9_]*, got "so cccd")"},
      {[](json& d) { d["fields"][0]["type"] = "email"; },
       R"(fields[0].type: expected one of text, number, date, choice, got "email")"},
      {[](json& d) { d["fields"][0]["options"] = {"a"}; }, "fields[0].options: only a field of type choice has options"},
      {[](json& d) { d["fields"][0]["options"] = json::array(); },
       "fields[0].options: only a field of type choice has options"},
      {[](json& d) {
         d["fields"][0]["type"] = "choice";
         d["fields"][0]["options"] = json::array();
       },
       "fields[0].options: must list at least one option"},
      {[](json& d) {
         d["fields"][0]["type"] = "choice";
         d["fields"][0]["options"] = {"nam", "nam"};
       },
       R"(fields[0].options[1]: duplicate option "nam")"},
      {[](json& d) {
         d["fields"][0]["type"] = "choice";
         d["fields"][0]["options"] = {""};
       },
       "fields[0].options[0]: must not be empty"},
      {[](json& d) {
         d["fields"][0]["type"] = "choice";
         d["fields"][0]["options"] = "nam,nu";
       },
       "fields[0].options: expected an array, got a string"},
      {[](json& d) { d["fields"].push_back({{"name", "cccd"}, {"type", "number"}}); },
       R"(fields[1].name: duplicate field "cccd")"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i << ": " << cases[i].message);
    CHECK(procedure_error(cases[i].edit) == cases[i].message);
  }
  auto r = he::parse_procedure(json::parse(R"(["procedure"])"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_format);
  CHECK(r.error().message == "document: expected an object, got an array");
  // A calendar handed over by mistake is called what it is.
  CHECK(procedure_error([](json& d) { d = json{{"kind", "calendar"}, {"year", 2026}}; }) ==
        R"(kind: expected "procedure", got "calendar")");
}

TEST_CASE("procedure: the accepted edge values", "[procedure]") {
  CHECK(procedure_error([](json& d) { d["total_working_days"] = 0; }) == "(parsed)");
  CHECK(procedure_error([](json& d) { d["total_working_days"] = 3650; }) == "(parsed)");
  CHECK(procedure_error([](json& d) { d["steps"]["review"]["hours"] = 0; }) == "(parsed)");
  CHECK(procedure_error([](json& d) { d["steps"]["review"]["hours"] = 10000; }) == "(parsed)");
  CHECK(procedure_error([](json& d) { d["version"] = 7; }) == "(parsed)");
  CHECK(procedure_error([](json& d) { d["steps"]["province_review"]["unit"] = "000.00.31.H12"; }) == "(parsed)");
  CHECK(procedure_error([](json& d) { d["steps"]["receive"]["actions"]["withdraw"] = "@withdrawn"; }) ==
        "(parsed)");
  CHECK(procedure_error([](json& d) { d["steps"]["receive"]["actions"]["cancel"] = "@withdrawn"; }) == "(parsed)");
  // A step nothing leads to is allowed (e.g. kept for dossiers of an
  // older routing); only a missing road to @done is an error.
  CHECK(procedure_error([](json& d) {
          d["steps"]["archive"] = {{"role", "receiver"}, {"actions", {{"close", "@done"}}}};
        }) == "(parsed)");
  // Snake-case names with digits.
  CHECK(procedure_error([](json& d) {
          d["steps"]["review_2"] = {{"role", "leader_1"}, {"actions", {{"step_2", "@done"}}}};
        }) == "(parsed)");
}

TEST_CASE("procedure: @done must be reachable from the start", "[procedure]") {
  const std::string none = R"(steps: no action reachable from step "receive" leads to @done)";
  // The only @done turned into a refusal.
  CHECK(procedure_error([](json& d) { d["steps"]["deliver"]["actions"]["deliver"] = "@rejected"; }) == none);
  // @done exists, but only on a step no action reaches.
  CHECK(procedure_error([&](json& d) {
          d["steps"]["deliver"]["actions"]["deliver"] = "@withdrawn";
          d["steps"]["orphan"] = {{"role", "leader"}, {"actions", {{"finish", "@done"}}}};
        }) == none);
  // A loop between two steps with no way out but refusal.
  CHECK(procedure_error([](json& d) {
          d = json::parse(R"({"kind": "procedure", "code": "x", "version": 1, "name": "Loop",
            "total_working_days": 1, "start": "a",
            "steps": {"a": {"role": "r", "actions": {"go": "b", "reject": "@rejected"}},
                      "b": {"role": "r", "actions": {"back": "a"}},
                      "c": {"role": "r", "actions": {"done": "@done"}}}})");
        }) == R"(steps: no action reachable from step "a" leads to @done)");
  // The smallest valid procedure: one step straight to @done.
  CHECK(procedure_error([](json& d) {
          d = json::parse(R"({"kind": "procedure", "code": "x", "version": 1, "name": "One",
            "total_working_days": 0, "start": "a", "steps": {"a": {"role": "r", "actions": {"done": "@done"}}}})");
        }) == "(parsed)");
  // Reachable only through a forwarded inter-level step.
  CHECK(procedure_error([](json& d) {
          d["steps"]["review"]["actions"] = {{"forward", "province_review"}};
          d["steps"]["sign"]["actions"] = {{"approve", "deliver"}};
        }) == "(parsed)");
}

TEST_CASE("procedure: terminal targets", "[procedure]") {
  CHECK(he::is_terminal("@done"));
  CHECK(he::is_terminal("@rejected"));
  CHECK(he::is_terminal("@withdrawn"));
  CHECK(he::is_terminal("@anything"));
  CHECK_FALSE(he::is_terminal("review"));
  CHECK_FALSE(he::is_terminal(""));
}

TEST_CASE("procedure: validate_fields", "[procedure]") {
  const Procedure p = form_procedure();
  using Values = std::map<std::string, std::string>;
  const Values full{{"cccd", "001203004567"},
                    {"so_tien", "50000"},
                    {"ngay_sinh", "2026-03-01"},
                    {"gioi_tinh", "nữ"},
                    {"ghi_chu", "Nguyễn Văn A, thôn Đông"}};
  CHECK(he::validate_fields(p, full, true).ok());
  CHECK(he::validate_fields(p, {}, false).ok());
  CHECK(he::validate_fields(p, {{"cccd", "0012"}, {"ngay_sinh", "2024-02-29"}}, true).ok());

  struct Case {
    Values values;
    bool require_all;
    const char* message;  // empty: accepted
  };
  const std::vector<Case> cases = {
      // Names the procedure does not define.
      {{{"ho_ten", "A"}}, false,
       R"(field "ho_ten": procedure 1.001193 has no such field (it has: cccd, so_tien, ngay_sinh, gioi_tinh, ghi_chu))"},
      {{{"CCCD", "1"}}, false,
       R"(field "CCCD": procedure 1.001193 has no such field (it has: cccd, so_tien, ngay_sinh, gioi_tinh, ghi_chu))"},
      // Numbers: integers or decimals with a dot.
      {{{"so_tien", "12"}}, false, ""},
      {{{"so_tien", "-3.5"}}, false, ""},
      {{{"so_tien", "0.25"}}, false, ""},
      {{{"so_tien", "007"}}, false, ""},
      {{{"so_tien", "1,5"}}, false, R"(field "so_tien": expected a number such as 12 or -3.5, got "1,5")"},
      {{{"so_tien", "12a"}}, false, R"(field "so_tien": expected a number such as 12 or -3.5, got "12a")"},
      {{{"so_tien", " 12"}}, false, R"(field "so_tien": expected a number such as 12 or -3.5, got " 12")"},
      {{{"so_tien", "+1"}}, false, R"(field "so_tien": expected a number such as 12 or -3.5, got "+1")"},
      {{{"so_tien", "1."}}, false, R"(field "so_tien": expected a number such as 12 or -3.5, got "1.")"},
      {{{"so_tien", ".5"}}, false, R"(field "so_tien": expected a number such as 12 or -3.5, got ".5")"},
      {{{"so_tien", "1e3"}}, false, R"(field "so_tien": expected a number such as 12 or -3.5, got "1e3")"},
      {{{"so_tien", "-"}}, false, R"(field "so_tien": expected a number such as 12 or -3.5, got "-")"},
      {{{"so_tien", "--1"}}, false, R"(field "so_tien": expected a number such as 12 or -3.5, got "--1")"},
      // Dates: real YYYY-MM-DD.
      {{{"ngay_sinh", "2024-02-29"}}, false, ""},
      {{{"ngay_sinh", "2026-02-29"}}, false, R"(field "ngay_sinh": expected a real date YYYY-MM-DD, got "2026-02-29")"},
      {{{"ngay_sinh", "2026-2-28"}}, false, R"(field "ngay_sinh": expected a real date YYYY-MM-DD, got "2026-2-28")"},
      {{{"ngay_sinh", "28/02/2026"}}, false, R"(field "ngay_sinh": expected a real date YYYY-MM-DD, got "28/02/2026")"},
      {{{"ngay_sinh", "2026-04-31"}}, false, R"(field "ngay_sinh": expected a real date YYYY-MM-DD, got "2026-04-31")"},
      // Choices: exactly one of the options.
      {{{"gioi_tinh", "nam"}}, false, ""},
      {{{"gioi_tinh", "Nam"}}, false, R"(field "gioi_tinh": expected one of nam, nữ, got "Nam")"},
      {{{"gioi_tinh", "khác"}}, false, R"(field "gioi_tinh": expected one of nam, nữ, got "khác")"},
      // Text: anything that is valid UTF-8.
      {{{"ghi_chu", "Trần Thị B\nthôn Đông"}}, false, ""},
      {{{"ghi_chu", "\xff\xfe"}}, false, R"(field "ghi_chu": not valid UTF-8)"},
      {{{"ghi_chu", "\xc0\xaf"}}, false, R"(field "ghi_chu": not valid UTF-8)"},          // overlong '/'
      {{{"ghi_chu", "\xed\xa0\x80"}}, false, R"(field "ghi_chu": not valid UTF-8)"},      // a surrogate
      {{{"ghi_chu", "abc\xe1\xbb"}}, false, R"(field "ghi_chu": not valid UTF-8)"},       // truncated
      // Empty means not given: fine unless required with require_all.
      {{{"so_tien", ""}, {"ngay_sinh", ""}, {"gioi_tinh", ""}}, false, ""},
      {{{"cccd", ""}}, false, ""},
      {{{"ngay_sinh", "2026-03-01"}}, true, R"(field "cccd": required but missing)"},
      {{{"cccd", ""}, {"ngay_sinh", "2026-03-01"}}, true, R"(field "cccd": required but missing)"},
      {{{"cccd", "0012"}}, true, R"(field "ngay_sinh": required but missing)"},
      // A bad value is reported before a missing one.
      {{{"so_tien", "x"}}, true, R"(field "so_tien": expected a number such as 12 or -3.5, got "x")"},
  };
  for (const auto& c : cases) {
    std::string shown;
    for (const auto& [k, v] : c.values) shown += k + "=" + v + " ";
    INFO(shown << (c.require_all ? "(require_all)" : ""));
    auto st = he::validate_fields(p, c.values, c.require_all);
    if (std::string(c.message).empty()) {
      if (!st.ok()) FAIL_CHECK(st.error().message);
    } else {
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().code == Errc::invalid_argument);
      CHECK(st.error().message == c.message);
    }
  }

  // A procedure without fields accepts no field at all.
  json bare = json::parse(kBirth);
  bare.erase("fields");
  auto q = he::parse_procedure(bare);
  REQUIRE(q.ok());
  CHECK(he::validate_fields(*q, {}, true).ok());
  auto st = he::validate_fields(*q, {{"cccd", "1"}}, false);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message == R"(field "cccd": procedure 1.001193 has no such field (it has: none))");
}

TEST_CASE("doc reader: paths and integers", "[procedure]") {
  namespace doc = hoso::engine::doc;
  CHECK(doc::key_path("", "kind") == "kind");
  CHECK(doc::key_path("steps", "review") == "steps.review");
  CHECK(doc::key_path("steps.review", "x_2") == "steps.review.x_2");
  CHECK(doc::key_path("steps", "bad key") == R"(steps["bad key"])");
  CHECK(doc::key_path("steps", "a.b") == R"(steps["a.b"])");
  CHECK(doc::key_path("", "2nd") == R"(["2nd"])");
  CHECK(doc::key_path("steps", "") == R"(steps[""])");
  CHECK(doc::key_path("x", "quote\"d") == R"(x["quote\"d"])");
  CHECK(doc::index_path("fields", 0) == "fields[0]");
  CHECK(doc::index_path("office_hours[1]", 0) == "office_hours[1][0]");
  CHECK(doc::error_at("", "expected an object").message == "document: expected an object");
  CHECK(doc::error_at("a.b", "missing").code == Errc::bad_format);

  CHECK(*doc::as_integer(json(-5), "n") == -5);
  CHECK(*doc::as_integer(json::parse("9223372036854775807"), "n") == INT64_MAX);
  CHECK(*doc::as_integer(json::parse("-9223372036854775808"), "n") == INT64_MIN);
  CHECK(doc::as_integer(json::parse("9223372036854775808"), "n").error().message == "n: integer out of range");
  CHECK(doc::as_integer(json::parse("2.0"), "n").error().message == "n: expected an integer, got a float");
  CHECK(doc::as_integer(json::parse("-0.0"), "n").error().message == "n: expected an integer, got a float");

  CHECK(doc::is_name("receive"));
  CHECK(doc::is_name("a1_b"));
  CHECK_FALSE(doc::is_name(""));
  CHECK_FALSE(doc::is_name("_a"));
  CHECK_FALSE(doc::is_name("1a"));
  CHECK_FALSE(doc::is_name("aB"));
  CHECK_FALSE(doc::is_name("a-b"));
  CHECK_FALSE(doc::is_name("đ"));

  // Invalid UTF-8 in a document built in memory still gives a message.
  json bad = json::object();
  bad["\xff"] = 1;
  auto o = doc::Object::open(bad, "");
  REQUIRE(o.ok());
  Status st = o->only({});
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("unknown key") != std::string::npos);
}
