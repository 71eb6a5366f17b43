// Working-day calendar, deadlines and ISO 8601 (SPEC §2 "Deadlines", §3).
//
// Every expected value below was worked out by hand from a wall calendar;
// the comment next to each case shows the count. Reference facts used
// throughout (all +07:00):
//   2026-01-01 Thu (holiday), 01-02 Fri, 01-03 Sat (make-up working day),
//   01-04 Sun, 01-05 Mon.
//   Tết: 02-13 Fri, 02-14 Sat, 02-15 Sun, 02-16..02-20 Mon..Fri (holidays),
//   02-21 Sat, 02-22 Sun, 02-23 Mon.
//   03-05 Thu, 03-06 Fri, 03-07 Sat, 03-08 Sun, 03-09 Mon.
//   04-24 Fri, 04-27 Mon (Hùng Kings, holiday), 04-30 Thu, 05-01 Fri
//   (holidays), 05-02 Sat, 05-03 Sun, 05-04 Mon.
//   08-30 Sun, 08-31 Mon, 09-01 Tue, 09-02 Wed (holidays), 09-03 Thu.
//   12-30 Wed, 12-31 Thu; 2027-01-01 Fri (holiday), 01-02 Sat, 01-03 Sun,
//   01-04 Mon; 2027-12-31 Fri.
// Office hours 07:00-11:30 (16200 s) and 13:30-17:00 (12600 s): a full
// working day is 28800 s.
#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hoso/engine/calendar.hpp"

using hoso::engine::Calendar;
using hoso::engine::CivilDate;
using hoso::engine::Errc;
using hoso::engine::Status;
using hoso::engine::WorkCalendar;
using nlohmann::json;
namespace he = hoso::engine;

namespace {

const char* const kVn2026 = R"({
  "kind": "calendar", "year": 2026, "utc_offset": "+07:00",
  "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
  "weekend": ["sat", "sun"],
  "holidays": ["2026-01-01",
               "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20",
               "2026-04-27", "2026-04-30", "2026-05-01", "2026-09-01", "2026-09-02"],
  "working_days": ["2026-01-03"] })";

const char* const kVn2027 = R"({
  "kind": "calendar", "year": 2027, "utc_offset": "+07:00",
  "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
  "weekend": ["sat", "sun"],
  "holidays": ["2027-01-01", "2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10",
               "2027-02-11"],
  "working_days": [] })";

Calendar parsed(const char* text) {
  auto c = he::parse_calendar(json::parse(text));
  if (!c.ok()) FAIL(c.error().message);
  return *c;
}

WorkCalendar calendars(bool with_2027 = true) {
  WorkCalendar w;
  REQUIRE(w.add(parsed(kVn2026)).ok());
  if (with_2027) REQUIRE(w.add(parsed(kVn2027)).ok());
  return w;
}

int64_t at(const std::string& s) {
  auto r = he::parse_iso8601(s);
  if (!r.ok()) FAIL(r.error().message);
  return *r;
}

int64_t day(const char* s) {
  auto d = he::parse_civil_date(s);
  REQUIRE(d.has_value());
  return *d;
}

// The error message of a calendar document with one key changed.
std::string calendar_error(const std::function<void(json&)>& edit) {
  json doc = json::parse(kVn2026);
  edit(doc);
  auto r = he::parse_calendar(doc);
  if (r.ok()) return "(parsed)";
  CHECK(r.error().code == Errc::bad_format);
  return r.error().message;
}

}  // namespace

// ---------------------------------------------------------------------------
// Civil dates

TEST_CASE("civil dates: known anchors", "[calendar]") {
  CHECK(he::days_from_civil(1970, 1, 1) == 0);
  CHECK(he::days_from_civil(1969, 12, 31) == -1);
  CHECK(he::days_from_civil(2000, 3, 1) == 11017);  // 30 years, 7 leap days + Jan, Feb(29)
  CHECK(he::days_from_civil(2026, 1, 1) == 20454);  // 56*365 + 14 leap days (1972..2024)
  CHECK(he::days_from_civil(2026, 3, 5) == 20517);  // 20454 + 31 + 28 + 4
  CHECK(he::civil_from_days(-1) == CivilDate{1969, 12, 31});
  CHECK(he::civil_from_days(20454) == CivilDate{2026, 1, 1});
  CHECK(he::civil_from_days(11016) == CivilDate{2000, 2, 29});
  CHECK(he::weekday_from_days(0) == 3);       // 1970-01-01 Thursday
  CHECK(he::weekday_from_days(-1) == 2);      // 1969-12-31 Wednesday
  CHECK(he::weekday_from_days(20454) == 3);   // 2026-01-01 Thursday
  CHECK(he::weekday_from_days(20456) == 5);   // 2026-01-03 Saturday
  CHECK(he::weekday_from_days(-4) == 6);      // 1969-12-28 Sunday
  CHECK(he::is_leap_year(2000));
  CHECK_FALSE(he::is_leap_year(2100));
  CHECK(he::is_leap_year(2024));
  CHECK_FALSE(he::is_leap_year(2026));
  CHECK(he::days_in_month(2026, 2) == 28);
  CHECK(he::days_in_month(2028, 2) == 29);
  CHECK(he::days_in_month(2026, 13) == 0);
}

TEST_CASE("civil dates: round trip against a naive day counter", "[calendar]") {
  // Walk every day from 2000 BCE (-1999) to 3000 with the textbook month
  // lengths; days_from_civil and civil_from_days must agree with the count.
  int64_t n = he::days_from_civil(-1999, 1, 1);
  int weekday = he::weekday_from_days(n);
  int64_t checked = 0;
  for (int64_t y = -1999; y <= 3000; ++y) {
    for (unsigned m = 1; m <= 12; ++m) {
      const unsigned len = he::days_in_month(y, m);
      for (unsigned d = 1; d <= len; ++d, ++n, ++checked) {
        if (he::days_from_civil(y, m, d) != n || !(he::civil_from_days(n) == CivilDate{y, m, d}) ||
            he::weekday_from_days(n) != weekday) {
          FAIL("mismatch at " << y << "-" << m << "-" << d << " (day " << n << ")");
        }
        weekday = (weekday + 1) % 7;
      }
    }
  }
  CHECK(checked == he::days_from_civil(3001, 1, 1) - he::days_from_civil(-1999, 1, 1));
}

TEST_CASE("civil dates: random round trip over a large range", "[calendar]") {
  std::mt19937_64 rng(20260305);
  std::uniform_int_distribution<int64_t> dist(-1'000'000'000'000LL, 1'000'000'000'000LL);
  for (int i = 0; i < 200000; ++i) {
    const int64_t z = dist(rng);
    const CivilDate c = he::civil_from_days(z);
    REQUIRE(c.month >= 1);
    REQUIRE(c.month <= 12);
    REQUIRE(c.day >= 1);
    REQUIRE(c.day <= he::days_in_month(c.year, c.month));
    REQUIRE(he::days_from_civil(c.year, c.month, c.day) == z);
  }
}

TEST_CASE("civil dates: strict parse and format", "[calendar]") {
  CHECK(he::parse_civil_date("2026-03-05") == std::optional<int64_t>(20517));
  CHECK(he::parse_civil_date("2024-02-29").has_value());
  CHECK(he::format_civil_date(20517) == "2026-03-05");
  CHECK(he::format_civil_date(he::days_from_civil(33, 4, 3)) == "0033-04-03");
  for (const char* bad : {"2026-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-3-5",
                          "26-03-05", "2026/03/05", "2026-03-05 ", " 2026-03-05", "", "2026-03-0a",
                          "2026-03-00"}) {
    INFO(bad);
    CHECK_FALSE(he::parse_civil_date(bad).has_value());
  }
}

// ---------------------------------------------------------------------------
// ISO 8601

TEST_CASE("iso8601: parse accepted forms", "[calendar]") {
  // 2026-03-05 is day 20517: 20517 * 86400 = 1772668800 at 00:00Z.
  const int64_t midnight = 1772668800;
  CHECK(at("2026-03-05T00:00:00Z") == midnight);
  CHECK(at("2026-03-05T09:12:00+07:00") == midnight + 9 * 3600 + 12 * 60 - 7 * 3600);  // 1772676720
  CHECK(at("2026-03-05T09:12+07:00") == 1772676720);
  CHECK(at("2026-03-05T02:12:00Z") == 1772676720);
  CHECK(at("2026-03-05T02:12:00+00:00") == 1772676720);
  CHECK(at("2026-03-05T02:12:00-00:00") == 1772676720);
  CHECK(at("2026-03-04T21:12:00-05:00") == 1772676720);
  CHECK(at("2026-03-05T07:57:00+05:45") == 1772676720);  // Nepal
  CHECK(at("2026-03-05T23:59:59+07:00") == midnight + 86399 - 7 * 3600);
  CHECK(at("1970-01-01T00:00:00Z") == 0);
  CHECK(at("1969-12-31T23:59:59Z") == -1);
}

TEST_CASE("iso8601: refused forms name the input", "[calendar]") {
  for (const char* bad :
       {"2026-03-05T09:12:00", "2026-03-05 09:12:00+07:00", "2026-02-30T09:00+07:00",
        "2026-03-05T24:00+07:00", "2026-03-05T09:60+07:00", "2026-03-05T09:12:60Z",
        "2026-03-05T09:12:00.5Z", "2026-03-05t09:12Z", "2026-03-05T09:12z",
        "2026-03-05T09:12+7:00", "2026-03-05T09:12+0700", "2026-03-05T09:12+07", "",
        "2026-3-5T09:12Z", "2026-03-05T09:12:00+07:00 ", "2026-03-05T9:12Z",
        "2026-03-05T09:12:00+24:00", "2026-03-05T09:12:00+07:60", "2026-03-05", "now"}) {
    INFO(bad);
    auto r = he::parse_iso8601(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK(r.error().message.find(json(std::string(bad)).dump()) != std::string::npos);
  }
}

TEST_CASE("iso8601: format", "[calendar]") {
  CHECK(he::format_iso8601(1772676720, 7 * 60) == "2026-03-05T09:12:00+07:00");
  CHECK(he::format_iso8601(1772676720, 0) == "2026-03-05T02:12:00+00:00");
  CHECK(he::format_iso8601(1772676720, -5 * 60) == "2026-03-04T21:12:00-05:00");
  CHECK(he::format_iso8601(1772676720, -(3 * 60 + 30)) == "2026-03-04T22:42:00-03:30");
  CHECK(he::format_iso8601(-1, 0) == "1969-12-31T23:59:59+00:00");
  CHECK(he::format_iso8601(0, 7 * 60) == "1970-01-01T07:00:00+07:00");
}

TEST_CASE("iso8601: random round trip", "[calendar]") {
  std::mt19937_64 rng(42);
  // Years 0001..9998 so that every offset keeps the local year at 4 digits.
  std::uniform_int_distribution<int64_t> t_dist(he::days_from_civil(1, 1, 2) * 86400,
                                                he::days_from_civil(9998, 12, 30) * 86400);
  std::uniform_int_distribution<int> off_dist(-(23 * 60 + 59), 23 * 60 + 59);
  for (int i = 0; i < 200000; ++i) {
    const int64_t t = t_dist(rng);
    const int off = i % 4 == 0 ? 0 : off_dist(rng);
    const std::string s = he::format_iso8601(t, off);
    auto back = he::parse_iso8601(s);
    if (!back.ok() || *back != t) FAIL(s << " does not read back as " << t);
  }
}

// ---------------------------------------------------------------------------
// Calendar documents

TEST_CASE("calendar: the realistic 2026 calendar parses", "[calendar]") {
  const Calendar c = parsed(kVn2026);
  CHECK(c.year == 2026);
  CHECK(c.utc_offset_minutes == 420);
  CHECK(c.office_hours == std::vector<std::pair<int, int>>{{420, 690}, {810, 1020}});
  CHECK(c.cutoff_seconds == 15 * 3600);
  CHECK(c.weekend == std::array<bool, 7>{false, false, false, false, false, true, true});
  CHECK(c.holidays.size() == 11);
  CHECK(c.holidays.count(day("2026-02-18")) == 1);
  CHECK(c.working_days == std::set<int64_t>{day("2026-01-03")});
  CHECK(c.doc == json::parse(kVn2026));
  CHECK_FALSE(c.is_working_day(day("2026-01-01")));
  CHECK(c.is_working_day(day("2026-01-02")));
  CHECK(c.is_working_day(day("2026-01-03")));
  CHECK_FALSE(c.is_working_day(day("2026-01-04")));
}

TEST_CASE("calendar: the spec's example parses", "[calendar]") {
  auto r = he::parse_calendar(json::parse(R"({ "kind": "calendar", "year": 2026, "utc_offset": "+07:00",
    "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
    "weekend": ["sat", "sun"], "holidays": ["2026-01-01", "2026-02-16"],
    "working_days": ["2026-01-03"] })"));
  REQUIRE(r.ok());
}

TEST_CASE("calendar: every missing key is named", "[calendar]") {
  for (const char* key : {"kind", "year", "utc_offset", "office_hours", "cutoff", "weekend",
                          "holidays", "working_days"}) {
    INFO(key);
    CHECK(calendar_error([&](json& d) { d.erase(key); }) == std::string(key) + ": missing");
  }
}

TEST_CASE("calendar: every mistyped key is named", "[calendar]") {
  struct Case {
    const char* key;
    json value;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"kind", 1, "kind: expected a string, got an integer"},
      {"year", "2026", "year: expected an integer, got a string"},
      {"year", 2026.0, "year: expected an integer, got a float"},
      {"year", nullptr, "year: expected an integer, got null"},
      {"year", true, "year: expected an integer, got a boolean"},
      {"utc_offset", 7, "utc_offset: expected a string, got an integer"},
      {"office_hours", "07:00-17:00", "office_hours: expected an array, got a string"},
      {"office_hours", json::object(), "office_hours: expected an array, got an object"},
      {"cutoff", 15, "cutoff: expected a string, got an integer"},
      {"cutoff", 15.5, "cutoff: expected a string, got a float"},
      {"weekend", "sat", "weekend: expected an array, got a string"},
      {"holidays", json::object(), "holidays: expected an array, got an object"},
      {"working_days", nullptr, "working_days: expected an array, got null"},
  };
  for (const auto& c : cases) {
    INFO(c.key << " = " << c.value.dump());
    CHECK(calendar_error([&](json& d) { d[c.key] = c.value; }) == c.message);
  }
}

TEST_CASE("calendar: nested values are named by their path", "[calendar]") {
  struct Case {
    const char* key;
    const char* value;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"office_hours", R"([["07:00", 1130]])", "office_hours[0][1]: expected a string, got an integer"},
      {"office_hours", R"([["07:00", "11:30"], ["13:30"]])",
       R"(office_hours[1]: expected a pair ["HH:MM", "HH:MM"], got an array of 1)"},
      {"office_hours", R"(["07:00-11:30"])",
       R"(office_hours[0]: expected a pair ["HH:MM", "HH:MM"], got a string)"},
      {"office_hours", R"([["7:00", "11:30"]])", R"(office_hours[0][0]: expected a time "HH:MM", got "7:00")"},
      {"office_hours", R"([["07:00", "11:60"]])", R"(office_hours[0][1]: expected a time "HH:MM", got "11:60")"},
      {"office_hours", R"([["07:00", "25:00"]])", R"(office_hours[0][1]: expected a time "HH:MM", got "25:00")"},
      {"office_hours", R"([["24:00", "24:00"]])", R"(office_hours[0][0]: expected a time "HH:MM", got "24:00")"},
      {"office_hours", R"([["07:00:00", "11:30"]])",
       R"(office_hours[0][0]: expected a time "HH:MM", got "07:00:00")"},
      {"office_hours", "[]", "office_hours: must list at least one interval"},
      {"office_hours", R"([["11:30", "07:00"]])", "office_hours[0]: the start must be before the end"},
      {"office_hours", R"([["07:00", "07:00"]])", "office_hours[0]: the start must be before the end"},
      {"office_hours", R"([["13:30", "17:00"], ["07:00", "11:30"]])",
       "office_hours[1]: must start at or after the end of office_hours[0] (intervals are sorted "
       "and do not overlap)"},
      {"office_hours", R"([["07:00", "12:00"], ["11:30", "17:00"]])",
       "office_hours[1]: must start at or after the end of office_hours[0] (intervals are sorted "
       "and do not overlap)"},
      {"weekend", R"(["sat", 6])", "weekend[1]: expected a string, got an integer"},
      {"weekend", R"(["sat", "sat"])", "weekend[1]: duplicate day sat"},
      {"weekend", R"(["saturday"])",
       R"(weekend[0]: expected one of mon, tue, wed, thu, fri, sat, sun, got "saturday")"},
      {"weekend", R"(["Sat"])", R"(weekend[0]: expected one of mon, tue, wed, thu, fri, sat, sun, got "Sat")"},
      {"holidays", "[20260101]", "holidays[0]: expected a string, got an integer"},
      {"holidays", R"(["2026-01-01", "2026-02-30"])",
       R"(holidays[1]: expected a real date "YYYY-MM-DD", got "2026-02-30")"},
      {"holidays", R"(["2026-1-1"])", R"(holidays[0]: expected a real date "YYYY-MM-DD", got "2026-1-1")"},
      {"holidays", R"(["2025-12-31"])", "holidays[0]: 2025-12-31 is not in year 2026"},
      {"holidays", R"(["2026-01-01", "2026-01-01"])", "holidays[1]: duplicate date 2026-01-01"},
      {"working_days", R"(["2027-01-02"])", "working_days[0]: 2027-01-02 is not in year 2026"},
      {"working_days", R"(["2026-01-03", "2026-01-01"])",
       "working_days[1]: 2026-01-01 is also listed in holidays"},
      {"working_days", R"([null])", "working_days[0]: expected a string, got null"},
  };
  for (const auto& c : cases) {
    INFO(c.key << " = " << c.value);
    CHECK(calendar_error([&](json& d) { d[c.key] = json::parse(c.value); }) == c.message);
  }
}

TEST_CASE("calendar: value rules", "[calendar]") {
  CHECK(calendar_error([](json& d) { d["kind"] = "procedure"; }) ==
        R"(kind: expected "calendar", got "procedure")");
  CHECK(calendar_error([](json& d) { d["year"] = 1999; }) == "year: must be between 2000 and 2200, got 1999");
  CHECK(calendar_error([](json& d) { d["year"] = 2201; }) == "year: must be between 2000 and 2200, got 2201");
  CHECK(calendar_error([](json& d) { d["year"] = json::parse("18446744073709551615"); }) ==
        "year: integer out of range");
  for (const char* bad : {"07:00", "+7:00", "+07:60", "+14:01", "-14:30", "+24:00", "UTC", "+0700", ""}) {
    INFO(bad);
    CHECK(calendar_error([&](json& d) { d["utc_offset"] = bad; }) ==
          "utc_offset: expected \"+HH:MM\" or \"-HH:MM\" within 14:00 of UTC, got " +
              json(std::string(bad)).dump());
  }
  for (const char* bad : {"15", "15:00:60", "24:00", "3pm", "15:0", "15:00:0", "-1:00"}) {
    INFO(bad);
    CHECK(calendar_error([&](json& d) { d["cutoff"] = bad; }) ==
          "cutoff: expected a time \"HH:MM\" or \"HH:MM:SS\", got " + json(std::string(bad)).dump());
  }
  // The kind is checked before anything else so that a procedure handed
  // over by mistake is called what it is.
  CHECK(calendar_error([](json& d) { d = json{{"kind", "procedure"}, {"steps", json::object()}}; }) ==
        R"(kind: expected "calendar", got "procedure")");
  auto r = he::parse_calendar(json::array());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "document: expected an object, got an array");
}

TEST_CASE("calendar: accepted variants", "[calendar]") {
  const auto with = [](const std::function<void(json&)>& edit) {
    json d = json::parse(kVn2026);
    edit(d);
    auto r = he::parse_calendar(d);
    if (!r.ok()) FAIL(r.error().message);
    return *r;
  };
  CHECK(with([](json& d) { d["utc_offset"] = "-03:30"; }).utc_offset_minutes == -210);
  CHECK(with([](json& d) { d["utc_offset"] = "+14:00"; }).utc_offset_minutes == 840);
  CHECK(with([](json& d) { d["utc_offset"] = "-12:00"; }).utc_offset_minutes == -720);
  CHECK(with([](json& d) { d["utc_offset"] = "+05:45"; }).utc_offset_minutes == 345);
  CHECK(with([](json& d) { d["cutoff"] = "15:00:00"; }).cutoff_seconds == 54000);
  CHECK(with([](json& d) { d["cutoff"] = "15:00:30"; }).cutoff_seconds == 54030);
  CHECK(with([](json& d) { d["weekend"] = json::array(); }).weekend == std::array<bool, 7>{});
  CHECK(with([](json& d) { d["holidays"] = json::array(); }).holidays.empty());
  // Touching intervals do not overlap; 24:00 may end the day.
  CHECK(with([](json& d) { d["office_hours"] = json::parse(R"([["07:00","12:00"],["12:00","24:00"]])"); })
            .office_hours == std::vector<std::pair<int, int>>{{420, 720}, {720, 1440}});
  // A working day that is not a weekend day or a holiday changes nothing
  // but is not an error.
  CHECK(with([](json& d) { d["working_days"] = json::parse(R"(["2026-01-03","2026-03-05"])"); })
            .working_days.size() == 2);
}

TEST_CASE("calendar: unknown keys are refused, x_ keys are accepted", "[calendar]") {
  CHECK(calendar_error([](json& d) { d["note"] = "Tết"; }) == "note: unknown key");
  CHECK(calendar_error([](json& d) { d["X_note"] = "Tết"; }) == "X_note: unknown key");
  CHECK(calendar_error([](json& d) { d["bad key"] = 1; }) == R"(["bad key"]: unknown key)");
  CHECK(calendar_error([](json& d) { d["x_note"] = {{"why", "Tết Bính Ngọ"}}; }) == "(parsed)");
  CHECK(calendar_error([](json& d) { d["x_"] = 1.5; }) == "(parsed)");
}

// ---------------------------------------------------------------------------
// WorkCalendar

TEST_CASE("work calendar: add, years and offsets", "[calendar]") {
  WorkCalendar w;
  CHECK(w.utc_offset_minutes() == 0);
  CHECK_FALSE(w.has_year(2026));
  REQUIRE(w.add(parsed(kVn2026)).ok());
  CHECK(w.has_year(2026));
  CHECK_FALSE(w.has_year(2027));
  CHECK(w.utc_offset_minutes() == 420);

  Status dup = w.add(parsed(kVn2026));
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == Errc::conflict);
  CHECK(dup.error().message == "calendar for year 2026 already present");

  json other = json::parse(kVn2027);
  other["utc_offset"] = "+08:00";
  Status off = w.add(*he::parse_calendar(other));
  REQUIRE_FALSE(off.ok());
  CHECK(off.error().code == Errc::conflict);
  CHECK(off.error().message == "calendar for year 2027 has utc_offset +08:00 but the others have +07:00");
  CHECK_FALSE(w.has_year(2027));

  REQUIRE(w.add(parsed(kVn2027)).ok());
  CHECK(w.has_year(2027));
}

TEST_CASE("work calendar: working days", "[calendar]") {
  const WorkCalendar w = calendars();
  struct Case {
    const char* date;
    bool working;
  };
  for (const Case& c : std::vector<Case>{
           {"2026-01-01", false},  // New Year holiday (Thu)
           {"2026-01-02", true},   // Fri
           {"2026-01-03", true},   // make-up Saturday
           {"2026-01-04", false},  // Sun
           {"2026-01-10", false},  // an ordinary Saturday
           {"2026-02-13", true},   // Fri before Tết
           {"2026-02-16", false},  // Tết Mon
           {"2026-02-20", false},  // Tết Fri
           {"2026-02-23", true},   // first Monday after Tết
           {"2026-04-27", false},  // Hùng Kings (observed)
           {"2026-04-28", true},
           {"2026-09-02", false},  // National Day
           {"2026-12-31", true},
           {"2027-01-01", false},  // 2027 calendar
           {"2027-01-04", true},
       }) {
    INFO(c.date);
    auto r = w.is_working_day(day(c.date));
    REQUIRE(r.ok());
    CHECK(*r == c.working);
  }
  auto missing = w.is_working_day(day("2028-01-03"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK(missing.error().message == "no calendar for year 2028");
  auto before = w.is_working_day(day("2025-12-31"));
  REQUIRE_FALSE(before.ok());
  CHECK(before.error().message == "no calendar for year 2025");
}

TEST_CASE("deadlines: table of receipts and budgets", "[calendar]") {
  const WorkCalendar w = calendars();
  struct Case {
    const char* received;
    int64_t n;
    const char* due;
    const char* why;
  };
  const std::vector<Case> cases = {
      // -- the cutoff, on an ordinary Thursday (03-05) ---------------------------
      {"2026-03-05T09:12:00+07:00", 3, "2026-03-10T17:00:00+07:00",
       "Thu before cutoff: Fri 6 (1), Mon 9 (2), Tue 10 (3)"},
      {"2026-03-05T14:59:59+07:00", 1, "2026-03-06T17:00:00+07:00", "one second before cutoff: Fri 6"},
      {"2026-03-05T15:00:00+07:00", 1, "2026-03-06T17:00:00+07:00",
       "exactly 15:00:00 is not after the cutoff: counts Thu, due Fri 6"},
      {"2026-03-05T15:00:01+07:00", 1, "2026-03-09T17:00:00+07:00",
       "15:00:01 is after the cutoff: effective Fri 6, +1 = Mon 9"},
      {"2026-03-05T10:00:00+07:00", 0, "2026-03-05T17:00:00+07:00", "n=0 before cutoff: end of Thu"},
      {"2026-03-05T15:00:00+07:00", 0, "2026-03-05T17:00:00+07:00", "n=0 at the cutoff: end of Thu"},
      {"2026-03-05T15:00:01+07:00", 0, "2026-03-06T17:00:00+07:00", "n=0 after cutoff: end of Fri 6"},
      {"2026-03-05T16:30:00+07:00", 0, "2026-03-06T17:00:00+07:00", "n=0 during office hours after cutoff"},
      {"2026-03-05T06:00:00+07:00", 0, "2026-03-05T17:00:00+07:00", "before office hours opens counts that day"},
      {"2026-03-05T12:00:00+07:00", 1, "2026-03-06T17:00:00+07:00", "in the lunch break (before cutoff): Fri 6"},
      {"2026-03-05T23:59:59+07:00", 0, "2026-03-06T17:00:00+07:00", "late evening: effective Fri 6"},
      {"2026-03-06T00:00:00+07:00", 0, "2026-03-06T17:00:00+07:00", "local midnight belongs to Fri 6"},
      // -- the offset: instants written in other zones ------------------------------
      {"2026-03-05T08:00:01Z", 0, "2026-03-06T17:00:00+07:00", "08:00:01Z = 15:00:01+07: after cutoff"},
      {"2026-03-05T17:30:00Z", 0, "2026-03-06T17:00:00+07:00", "Thu 17:30Z is already Fri 00:30 locally"},
      {"2026-03-04T23:00:00-05:00", 0, "2026-03-05T17:00:00+07:00", "Wed 23:00-05 = Thu 11:00+07"},
      // -- weekends ----------------------------------------------------------------
      {"2026-03-07T09:00:00+07:00", 1, "2026-03-10T17:00:00+07:00", "Sat: effective Mon 9, +1 = Tue 10"},
      {"2026-03-08T09:00:00+07:00", 0, "2026-03-09T17:00:00+07:00", "Sun, n=0: end of Mon 9"},
      {"2026-03-06T15:30:00+07:00", 1, "2026-03-10T17:00:00+07:00",
       "Fri after cutoff: effective Mon 9, +1 = Tue 10"},
      {"2026-03-05T09:00:00+07:00", 15, "2026-03-26T17:00:00+07:00",
       "n=15: Mar 6,9,10,11,12,13,16,17,18,19,20,23,24,25,26"},
      // -- the make-up Saturday and New Year's Day ------------------------------------
      {"2026-01-03T09:00:00+07:00", 0, "2026-01-03T17:00:00+07:00", "make-up Sat is a working day"},
      {"2026-01-03T09:00:00+07:00", 1, "2026-01-05T17:00:00+07:00", "make-up Sat, +1 skips Sun: Mon 5"},
      {"2026-01-03T15:30:00+07:00", 0, "2026-01-05T17:00:00+07:00",
       "make-up Sat after cutoff: effective Mon 5"},
      {"2026-01-02T10:00:00+07:00", 1, "2026-01-03T17:00:00+07:00", "Fri 2, +1 = the make-up Sat 3"},
      {"2026-01-02T15:30:00+07:00", 1, "2026-01-05T17:00:00+07:00",
       "Fri 2 after cutoff: effective Sat 3, +1 = Mon 5"},
      {"2026-01-01T10:00:00+07:00", 1, "2026-01-03T17:00:00+07:00",
       "holiday Thu 1: effective Fri 2, +1 = Sat 3"},
      // -- Tết ---------------------------------------------------------------------------
      {"2026-02-13T10:00:00+07:00", 1, "2026-02-23T17:00:00+07:00",
       "Fri before Tết: Feb 14..22 are off, +1 = Mon 23"},
      {"2026-02-13T15:30:00+07:00", 0, "2026-02-23T17:00:00+07:00", "Fri after cutoff: effective Mon 23"},
      {"2026-02-18T09:00:00+07:00", 2, "2026-02-25T17:00:00+07:00",
       "during Tết: effective Mon 23, Tue 24 (1), Wed 25 (2)"},
      {"2026-02-12T09:00:00+07:00", 3, "2026-02-24T17:00:00+07:00", "Thu 12: Fri 13 (1), Mon 23 (2), Tue 24 (3)"},
      {"2026-02-14T09:00:00+07:00", 5, "2026-03-02T17:00:00+07:00",
       "Sat before Tết: effective Mon 23; 24,25,26,27, Mar 2"},
      {"2026-02-02T09:00:00+07:00", 15, "2026-03-02T17:00:00+07:00",
       "n=15 across Tết: Feb 3,4,5,6,9,10,11,12,13 (9), 23,24,25,26,27 (14), Mar 2 (15)"},
      // -- Hùng Kings, Reunification Day, Labour Day --------------------------------
      {"2026-04-24T10:00:00+07:00", 3, "2026-05-04T17:00:00+07:00",
       "Fri 24: 27 off, Tue 28 (1), Wed 29 (2), Apr 30/May 1 off, Mon May 4 (3)"},
      {"2026-04-27T09:00:00+07:00", 0, "2026-04-28T17:00:00+07:00", "on the Hùng Kings holiday: end of Tue 28"},
      {"2026-04-29T15:00:01+07:00", 1, "2026-05-05T17:00:00+07:00",
       "Wed 29 after cutoff: effective Mon May 4, +1 = Tue 5"},
      // -- National Day --------------------------------------------------------------------
      {"2026-08-31T16:00:00+07:00", 1, "2026-09-04T17:00:00+07:00",
       "Mon 31 after cutoff: Sep 1-2 off, effective Thu 3, +1 = Fri 4"},
      {"2026-08-30T09:00:00+07:00", 0, "2026-08-31T17:00:00+07:00", "Sun 30, n=0: end of Mon 31"},
      {"2026-09-02T09:00:00+07:00", 0, "2026-09-03T17:00:00+07:00", "on National Day, n=0: end of Thu 3"},
      // -- across the new year -------------------------------------------------------------
      {"2026-12-31T10:00:00+07:00", 1, "2027-01-04T17:00:00+07:00",
       "Thu 31: 2027-01-01 holiday, Sat 2, Sun 3; +1 = Mon 4"},
      {"2026-12-31T15:00:01+07:00", 0, "2027-01-04T17:00:00+07:00",
       "Thu 31 after cutoff: effective Mon 2027-01-04"},
      {"2026-12-30T10:00:00+07:00", 3, "2027-01-05T17:00:00+07:00", "Wed 30: Thu 31 (1), Mon 4 (2), Tue 5 (3)"},
      {"2026-12-31T09:00:00+07:00", 0, "2026-12-31T17:00:00+07:00", "n=0 on the last day of the year"},
      {"2026-12-31T17:00:00Z", 0, "2027-01-04T17:00:00+07:00",
       "17:00Z on Dec 31 is 2027-01-01 00:00 locally, a holiday: Mon 4"},
  };
  REQUIRE(cases.size() >= 30);
  for (const auto& c : cases) {
    INFO(c.received << " + " << c.n << " working days: " << c.why);
    auto due = w.due_after_working_days(at(c.received), c.n);
    if (!due.ok()) FAIL(due.error().message);
    CHECK(w.iso(*due) == c.due);
  }
}

TEST_CASE("deadlines: a missing year is an error, never a guess", "[calendar]") {
  const WorkCalendar only_2026 = calendars(false);
  const WorkCalendar both = calendars(true);
  struct Case {
    const WorkCalendar* w;
    const char* received;
    int64_t n;
    const char* message;
  };
  const std::vector<Case> cases = {
      {&only_2026, "2026-12-31T10:00:00+07:00", 1, "no calendar for year 2027"},  // scans into 2027
      {&only_2026, "2026-12-31T16:00:00+07:00", 0, "no calendar for year 2027"},  // effective day in 2027
      {&only_2026, "2026-12-30T10:00:00+07:00", 2, "no calendar for year 2027"},  // Thu 31 (1), then 2027
      {&only_2026, "2027-03-01T10:00:00+07:00", 0, "no calendar for year 2027"},  // received in 2027
      {&both, "2025-12-31T10:00:00+07:00", 0, "no calendar for year 2025"},      // received before 2026
      {&both, "2027-12-31T10:00:00+07:00", 1, "no calendar for year 2028"},      // Fri: next is Sat 2028-01-01
      {&only_2026, "2026-12-31T17:00:00Z", 0, "no calendar for year 2027"},  // 2027-01-01 00:00 local
      {&both, "2025-12-31T16:59:59Z", 0, "no calendar for year 2025"},  // 2025-12-31 23:59:59 local
  };
  for (const auto& c : cases) {
    INFO(c.received << " + " << c.n);
    auto due = c.w->due_after_working_days(at(c.received), c.n);
    REQUIRE_FALSE(due.ok());
    CHECK(due.error().code == Errc::not_found);
    CHECK(due.error().message == c.message);
  }
  // n = 0 before the cutoff on Dec 31 needs nothing from 2027.
  CHECK(only_2026.due_after_working_days(at("2026-12-31T09:00:00+07:00"), 0).ok());
  auto negative = both.due_after_working_days(at("2026-03-05T09:00:00+07:00"), -1);
  REQUIRE_FALSE(negative.ok());
  CHECK(negative.error().code == Errc::invalid_argument);
  // A budget far beyond the signed years runs into the missing year.
  auto far = both.due_after_working_days(at("2026-03-05T09:00:00+07:00"), 1000);
  REQUIRE_FALSE(far.ok());
  CHECK(far.error().message == "no calendar for year 2028");
  auto huge = both.due_after_working_days(at("2026-03-05T09:00:00+07:00"), INT64_MAX);
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().code == Errc::not_found);
}

TEST_CASE("deadlines: a cutoff with seconds and office hours of the due year", "[calendar]") {
  json d26 = json::parse(kVn2026);
  d26["cutoff"] = "15:00:30";
  json d27 = json::parse(kVn2027);
  d27["office_hours"] = json::parse(R"([["07:30", "11:30"], ["13:00", "16:30"]])");
  WorkCalendar w;
  REQUIRE(w.add(*he::parse_calendar(d26)).ok());
  REQUIRE(w.add(*he::parse_calendar(d27)).ok());
  // 15:00:30 is not after a 15:00:30 cutoff; 15:00:31 is.
  CHECK(w.iso(*w.due_after_working_days(at("2026-03-05T15:00:30+07:00"), 0)) == "2026-03-05T17:00:00+07:00");
  CHECK(w.iso(*w.due_after_working_days(at("2026-03-05T15:00:31+07:00"), 0)) == "2026-03-06T17:00:00+07:00");
  // Due on Mon 2027-01-04: the 2027 office hours end at 16:30.
  CHECK(w.iso(*w.due_after_working_days(at("2026-12-31T10:00:00+07:00"), 1)) == "2027-01-04T16:30:00+07:00");
}

TEST_CASE("working seconds between two instants", "[calendar]") {
  const WorkCalendar w = calendars();
  struct Case {
    const char* from;
    const char* to;
    int64_t secs;
    const char* why;
  };
  const std::vector<Case> cases = {
      {"2026-03-05T07:00:00+07:00", "2026-03-05T11:30:00+07:00", 16200, "the morning: 4h30"},
      {"2026-03-05T07:00:00+07:00", "2026-03-05T17:00:00+07:00", 28800, "a full day: 4h30 + 3h30"},
      {"2026-03-05T00:00:00+07:00", "2026-03-06T00:00:00+07:00", 28800, "midnight to midnight"},
      {"2026-03-05T10:00:00+07:00", "2026-03-05T14:00:00+07:00", 7200, "10:00-11:30 + 13:30-14:00"},
      {"2026-03-05T12:00:00+07:00", "2026-03-05T13:00:00+07:00", 0, "inside the lunch break"},
      {"2026-03-05T11:30:00+07:00", "2026-03-05T13:30:00+07:00", 0, "exactly the lunch break"},
      {"2026-03-05T06:00:00+07:00", "2026-03-05T07:00:00+07:00", 0, "before opening"},
      {"2026-03-05T17:00:00+07:00", "2026-03-05T23:00:00+07:00", 0, "after closing"},
      {"2026-03-05T11:29:59+07:00", "2026-03-05T13:30:01+07:00", 2, "one second each side of lunch"},
      {"2026-03-06T16:00:00+07:00", "2026-03-09T08:00:00+07:00", 7200, "Fri 16-17 + Mon 07-08, weekend 0"},
      {"2026-03-07T00:00:00+07:00", "2026-03-09T00:00:00+07:00", 0, "a whole weekend"},
      {"2026-03-05T09:00:00+07:00", "2026-03-12T09:00:00+07:00", 144000,
       "Thu 9-17 21600 + Fri 28800 + Mon-Wed 86400 + Thu 7-9 7200 = 5 days"},
      {"2026-02-13T17:00:00+07:00", "2026-02-23T07:00:00+07:00", 0, "all of Tết"},
      {"2026-02-13T07:00:00+07:00", "2026-02-23T17:00:00+07:00", 57600, "Fri 13 + Mon 23 around Tết"},
      {"2026-01-02T07:00:00+07:00", "2026-01-05T07:00:00+07:00", 57600, "Fri 2 + the make-up Sat 3"},
      {"2026-01-01T00:00:00+07:00", "2026-01-02T00:00:00+07:00", 0, "New Year's Day"},
      {"2026-12-31T16:00:00+07:00", "2027-01-04T08:00:00+07:00", 7200, "Thu 16-17 + Mon 07-08 across the year"},
      {"2026-03-09T08:00:00+07:00", "2026-03-06T16:00:00+07:00", -7200, "reversed: negative"},
      {"2026-03-05T09:00:00+07:00", "2026-03-05T09:00:00+07:00", 0, "empty"},
      {"2026-03-05T02:00:00Z", "2026-03-05T03:00:00Z", 3600, "09:00-10:00 local, written in UTC"},
  };
  for (const auto& c : cases) {
    INFO(c.from << " -> " << c.to << ": " << c.why);
    auto r = w.working_seconds_between(at(c.from), at(c.to));
    if (!r.ok()) FAIL(r.error().message);
    CHECK(*r == c.secs);
  }
  const WorkCalendar only_2026 = calendars(false);
  auto missing = only_2026.working_seconds_between(at("2026-12-31T16:00:00+07:00"), at("2027-01-02T08:00:00+07:00"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK(missing.error().message == "no calendar for year 2027");
  // [from, to) ends at local midnight: 2027 is not touched.
  auto edge = only_2026.working_seconds_between(at("2026-12-31T16:00:00+07:00"), at("2027-01-01T00:00:00+07:00"));
  REQUIRE(edge.ok());
  CHECK(*edge == 3600);
  auto reversed = only_2026.working_seconds_between(at("2027-01-02T08:00:00+07:00"), at("2026-12-31T16:00:00+07:00"));
  REQUIRE_FALSE(reversed.ok());
  CHECK(reversed.error().message == "no calendar for year 2027");
}

TEST_CASE("adding working seconds", "[calendar]") {
  const WorkCalendar w = calendars();
  struct Case {
    const char* from;
    int64_t secs;
    const char* to;
    const char* why;
  };
  const std::vector<Case> cases = {
      {"2026-03-05T07:00:00+07:00", 16200, "2026-03-05T11:30:00+07:00", "exactly the morning ends at 11:30"},
      {"2026-03-05T07:00:00+07:00", 16201, "2026-03-05T13:30:01+07:00", "one second more crosses lunch"},
      {"2026-03-05T11:00:00+07:00", 3600, "2026-03-05T14:00:00+07:00", "11:00-11:30 + 13:30-14:00"},
      {"2026-03-05T10:00:00+07:00", 4 * 3600, "2026-03-05T16:00:00+07:00",
       "a 4-hour step: 10:00-11:30 (1h30) + 13:30-16:00 (2h30)"},
      {"2026-03-05T09:00:00+07:00", 16 * 3600, "2026-03-09T09:00:00+07:00",
       "a 16-hour step: Thu 6h + Fri 8h + Mon 07-09"},
      {"2026-03-05T10:00:00+07:00", 0, "2026-03-05T10:00:00+07:00", "0 inside office hours: unchanged"},
      {"2026-03-05T12:00:00+07:00", 0, "2026-03-05T13:30:00+07:00", "0 at lunch: the afternoon opening"},
      {"2026-03-05T11:30:00+07:00", 0, "2026-03-05T13:30:00+07:00", "0 at 11:30: intervals are half-open"},
      {"2026-03-05T17:00:00+07:00", 0, "2026-03-06T07:00:00+07:00", "0 at closing: next morning"},
      {"2026-03-06T17:30:00+07:00", 0, "2026-03-09T07:00:00+07:00", "0 on Friday evening: Monday"},
      {"2026-03-06T16:00:00+07:00", 7200, "2026-03-09T08:00:00+07:00", "Fri 16-17, weekend, Mon 07-08"},
      {"2026-03-07T10:00:00+07:00", 60, "2026-03-09T07:01:00+07:00", "from a Saturday"},
      {"2026-02-13T16:00:00+07:00", 7200, "2026-02-23T08:00:00+07:00", "across Tết"},
      {"2026-01-02T16:00:00+07:00", 7200, "2026-01-03T08:00:00+07:00", "into the make-up Saturday"},
      {"2026-12-31T16:00:00+07:00", 7200, "2027-01-04T08:00:00+07:00", "across the new year"},
      {"2026-03-09T08:00:00+07:00", -7200, "2026-03-06T16:00:00+07:00", "backwards over the weekend"},
      {"2026-03-05T15:00:00+07:00", -5400, "2026-03-05T13:30:00+07:00", "backwards to an opening"},
      {"2026-03-05T13:30:00+07:00", -1, "2026-03-05T11:29:59+07:00", "backwards over lunch"},
      {"2026-03-05T12:00:00+07:00", -1800, "2026-03-05T11:00:00+07:00", "backwards from lunch"},
      {"2026-02-23T08:00:00+07:00", -7200, "2026-02-13T16:00:00+07:00", "backwards across Tết"},
  };
  for (const auto& c : cases) {
    INFO(c.from << " + " << c.secs << ": " << c.why);
    auto r = w.add_working_seconds(at(c.from), c.secs);
    if (!r.ok()) FAIL(r.error().message);
    CHECK(w.iso(*r) == c.to);
  }
  const WorkCalendar only_2026 = calendars(false);
  auto fwd = only_2026.add_working_seconds(at("2026-12-31T16:00:00+07:00"), 7200);
  REQUIRE_FALSE(fwd.ok());
  CHECK(fwd.error().message == "no calendar for year 2027");
  // Jan 2 07-08 gives 3600, Jan 1 is a holiday, then 2025 is missing.
  auto back = w.add_working_seconds(at("2026-01-02T08:00:00+07:00"), -28800);
  REQUIRE_FALSE(back.ok());
  CHECK(back.error().code == Errc::not_found);
  CHECK(back.error().message == "no calendar for year 2025");
  CHECK_FALSE(w.add_working_seconds(at("2026-03-05T09:00:00+07:00"), INT64_MIN).ok());
  CHECK_FALSE(w.add_working_seconds(at("2026-03-05T09:00:00+07:00"), INT64_MAX).ok());
}

TEST_CASE("suspend and resume keep the working time that was left", "[calendar]") {
  const WorkCalendar w = calendars();
  // Received Thu 03-05 09:12 with 3 days: due Tue 03-10 17:00.
  const int64_t due = *w.due_after_working_days(at("2026-03-05T09:12:00+07:00"), 3);
  CHECK(w.iso(due) == "2026-03-10T17:00:00+07:00");
  // Suspended Fri 03-06 10:00: left = Fri 10:00-11:30 5400 + 12600 + Mon 28800
  // + Tue 28800 = 75600.
  const int64_t suspend = at("2026-03-06T10:00:00+07:00");
  const int64_t left = *w.working_seconds_between(suspend, due);
  CHECK(left == 75600);
  // Resumed at once: the same due time.
  CHECK(*w.add_working_seconds(suspend, left) == due);
  // Resumed Wed 03-11 14:00: Wed 14-17 10800 (64800 left), Thu 12 28800
  // (36000), Fri 13 28800 (7200), Mon 16 07:00 + 2h = 09:00.
  CHECK(w.iso(*w.add_working_seconds(at("2026-03-11T14:00:00+07:00"), left)) == "2026-03-16T09:00:00+07:00");
  // Resumed on Saturday 03-07: starts Mon 09 07:00; 28800 Mon, 28800 Tue,
  // 18000 left on Wed 11: 07:00-11:30 16200, 13:30 + 1800 = 14:00.
  CHECK(w.iso(*w.add_working_seconds(at("2026-03-07T10:00:00+07:00"), left)) == "2026-03-11T14:00:00+07:00");

  // Across Tết: received Thu 02-12 09:00 with 3 days, due Tue 02-24 17:00.
  const int64_t due2 = *w.due_after_working_days(at("2026-02-12T09:00:00+07:00"), 3);
  CHECK(w.iso(due2) == "2026-02-24T17:00:00+07:00");
  // Suspended Thu 02-12 16:00: Thu 3600 + Fri 13 + Mon 23 + Tue 24 = 90000.
  const int64_t left2 = *w.working_seconds_between(at("2026-02-12T16:00:00+07:00"), due2);
  CHECK(left2 == 90000);
  // Resumed Mon 02-23 07:00: Mon (61200 left), Tue (32400), Wed 25 (3600),
  // Thu 26 07:00 + 1h.
  CHECK(w.iso(*w.add_working_seconds(at("2026-02-23T07:00:00+07:00"), left2)) == "2026-02-26T08:00:00+07:00");

  // Suspended after the due time: the remainder is negative, and resuming
  // keeps the dossier that much overdue. Due Tue 10 17:00, suspended Wed 11
  // 09:00 (-7200 left), resumed Thu 12 09:00: due Thu 12 07:00.
  const int64_t late = *w.working_seconds_between(at("2026-03-11T09:00:00+07:00"), due);
  CHECK(late == -7200);
  CHECK(w.iso(*w.add_working_seconds(at("2026-03-12T09:00:00+07:00"), late)) == "2026-03-12T07:00:00+07:00");
}

TEST_CASE("working seconds: random round trips", "[calendar]") {
  const WorkCalendar w = calendars();
  std::mt19937_64 rng(7);
  const int64_t y2026 = at("2026-03-01T00:00:00+07:00");
  const int64_t y2027 = at("2027-11-01T00:00:00+07:00");
  std::uniform_int_distribution<int64_t> t_dist(y2026, y2027);
  std::uniform_int_distribution<int64_t> s_dist(0, 25 * 28800);
  const std::vector<std::pair<int, int>> hours{{7 * 3600, 11 * 3600 + 1800}, {13 * 3600 + 1800, 17 * 3600}};
  for (int i = 0; i < 3000; ++i) {
    const int64_t from = t_dist(rng);
    const int64_t s = s_dist(rng);
    // Forward and backward budgets: the time between is exactly the budget.
    auto fwd = w.add_working_seconds(from, s);
    REQUIRE(fwd.ok());
    REQUIRE(*w.working_seconds_between(from, *fwd) == s);
    auto bwd = w.add_working_seconds(from, -s);
    REQUIRE(bwd.ok());
    REQUIRE(*w.working_seconds_between(from, *bwd) == -s);

    // A `to` strictly inside an interval or at its end comes back exactly;
    // a `from` inside an interval or at its start comes back going backwards.
    const int64_t d = w.local_day(t_dist(rng));
    if (!*w.is_working_day(d)) continue;
    const auto& [a, b] = hours[static_cast<std::size_t>(i) % 2];
    const int64_t midnight = d * 86400 - 7 * 3600;
    const int64_t to = midnight + a + 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(b - a));
    const int64_t start = std::min(from, to);
    if (start == to) continue;  // no time between: 0 s lands on the next opening
    const int64_t between = *w.working_seconds_between(start, to);
    REQUIRE(*w.add_working_seconds(start, between) == to);
    const int64_t inside = midnight + a + static_cast<int64_t>(rng() % static_cast<uint64_t>(b - a));
    const int64_t end = std::max(inside, from);
    if (end == inside) continue;
    REQUIRE(*w.add_working_seconds(end, -*w.working_seconds_between(inside, end)) == inside);
  }
}

TEST_CASE("end of day and local dates", "[calendar]") {
  const WorkCalendar w = calendars();
  CHECK(w.iso(*w.end_of_day("2026-03-05")) == "2026-03-05T17:00:00+07:00");
  CHECK(w.iso(*w.end_of_day("2026-03-07")) == "2026-03-07T17:00:00+07:00");  // Sat: still its office hours
  CHECK(w.iso(*w.end_of_day("2027-01-04")) == "2027-01-04T17:00:00+07:00");
  CHECK(*w.end_of_day("2026-03-05") == 1772668800 + 10 * 3600);  // 17:00+07 = 10:00Z
  for (const char* bad : {"2026-02-30", "2026-3-5", "05/03/2026", "", "2026-03-05T17:00+07:00"}) {
    INFO(bad);
    auto r = w.end_of_day(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK(r.error().message.find(json(std::string(bad)).dump()) != std::string::npos);
  }
  auto missing = w.end_of_day("2028-01-03");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK(missing.error().message == "no calendar for year 2028");

  // 16:59:59Z on Dec 31 is 23:59:59 local; one second later is the new year.
  CHECK(w.local_date(at("2026-12-31T16:59:59Z")) == "2026-12-31");
  CHECK(w.local_date(at("2026-12-31T17:00:00Z")) == "2027-01-01");
  CHECK(w.local_day(at("2026-03-05T00:00:00+07:00")) == 20517);
  CHECK(w.iso(at("2026-03-05T02:12:00Z")) == "2026-03-05T09:12:00+07:00");
  // No calendar is needed to print a date.
  CHECK(w.local_date(at("1999-06-01T12:00:00+07:00")) == "1999-06-01");
}
