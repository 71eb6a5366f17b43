// The report's figures on hand-made dossier rows (engine/report.hpp): the
// state reader against states a naive one would misread, the overdue rule at
// the end of a range, and CSV quoting.
#include <catch2/catch.hpp>

#include "hoso/engine/report.hpp"

using namespace hoso;
using engine::ReportBuilder;
using engine::Store;
using nlohmann::json;

namespace {

constexpr int64_t kMar2 = 1772409600;  // 2026-03-02T00:00:00Z
constexpr int64_t kDay = 86400;

Store::DossierRow row(const std::string& code, const json& state, int64_t opened = kMar2) {
  return {code, "U1", "P1", opened, state.dump()};
}

json base() {
  return {{"applicant", "An"}, {"events", 1}, {"supplements", 0}, {"extensions", 0}, {"refusals", 0}, {"forwards", 0},
          {"status", "received"}, {"timeliness", nullptr}, {"finished_at", nullptr}, {"due_at", kMar2 + 3 * kDay},
          {"due_base", kMar2 + 3 * kDay}, {"fields", json::object()}, {"visits", json::array()}};
}

json unit_of(const json& report) { return report["units"].at(0); }

}  // namespace

TEST_CASE("report: nested members and strings never count as the dossier's own") {
  engine::WorkCalendar cal;
  engine::Registry reg(crypto::PublicKey{});
  ReportBuilder b(cal, kMar2 + 10 * kDay);
  json s = base();
  // What a reader that does not track nesting and strings would take for
  // the dossier's figures.
  s["applicant"] = R"(Nguyễn "Văn" {"events": 99, "status": "returned"} [\)";
  s["fields"] = {{"events", 50}, {"status", "rejected"}, {"x", {{"timeliness", "late"}}}};
  s["visits"] = json::array({{{"step", "receive"}, {"due_at", 1}, {"finished_at", 2}}});
  s["events"] = 4;
  REQUIRE(b.add(row("A", s)));
  auto u = unit_of(b.finish(reg));
  CHECK(u["events"] == 4);
  CHECK(u["finished"] == 0);
  CHECK(u["overdue"] == 1);  // due 5 March, as of 12 March
}

TEST_CASE("report: a state the fast reader does not know goes to the full parser and garbage is an error") {
  engine::WorkCalendar cal;
  engine::Registry reg(crypto::PublicKey{});
  ReportBuilder b(cal, kMar2 + 10 * kDay);
  json s = base();
  s["status"] = "returned", s["timeliness"] = "early", s["finished_at"] = kMar2 + kDay, s["due_at"] = nullptr;
  // Pretty-printed, with an escaped wanted string: the same figures.
  std::string pretty = s.dump(2);
  auto at = pretty.find("\"early\"");
  REQUIRE(at != std::string::npos);
  pretty.replace(at, 7, "\"\\u0065arly\"");
  REQUIRE(b.add({"B", "U1", "P1", kMar2, pretty}));
  auto u = unit_of(b.finish(reg));
  CHECK(u["finished"] == 1);
  CHECK(u["early"] == 1);
  auto bad = b.add({"C", "U1", "P1", kMar2, "{\"events\": 1,"});
  REQUIRE(!bad);
  CHECK(bad.error().code == crypto::Errc::bad_format);
  CHECK(bad.error().message.find("C") != std::string::npos);
}

TEST_CASE("report: at the end of a range, a dossier finished later is open and judged against its due time") {
  engine::WorkCalendar cal;
  engine::Registry reg(crypto::PublicKey{});
  json late = base();
  late["status"] = "returned", late["timeliness"] = "late", late["finished_at"] = kMar2 + 6 * kDay, late["due_at"] = nullptr;
  json withdrawn = base();
  withdrawn["status"] = "withdrawn", withdrawn["finished_at"] = kMar2 + 6 * kDay, withdrawn["due_at"] = nullptr;
  for (auto [as_of, finished, overdue, wd] : std::vector<std::tuple<int64_t, int, int, int>>{
           {kMar2 + 2 * kDay, 0, 0, 0},    // before the due time: open, not overdue
           {kMar2 + 4 * kDay, 0, 1, 0},    // after it, before the delivery: overdue
           {kMar2 + 7 * kDay, 1, 0, 1}}) {  // after the delivery: finished late
    ReportBuilder b(cal, as_of);
    REQUIRE(b.add(row("A", late)));
    REQUIRE(b.add(row("W", withdrawn)));
    auto u = unit_of(b.finish(reg));
    INFO("as of day " << (as_of - kMar2) / kDay);
    CHECK(u["finished"] == finished);
    CHECK(u["late"] == finished);
    CHECK(u["overdue"] == overdue);  // the withdrawn one never is
    CHECK(u["withdrawn"] == wd);
    CHECK(u["dossiers"] == 2);
  }
}

TEST_CASE("report: CSV quotes what needs it (RFC 4180)") {
  CHECK(engine::csv_field("Xã Tân Lập") == "Xã Tân Lập");
  CHECK(engine::csv_field("Xã \"Tân Lập\", Vũ Thư") == "\"Xã \"\"Tân Lập\"\", Vũ Thư\"");
  CHECK(engine::csv_field("hai\ndòng") == "\"hai\ndòng\"");
  CHECK(engine::csv_field("") == "");
  json report{{"units", json::array({{{"unit", "U,1"}, {"name", "A \"B\""}, {"dossiers", 2}, {"on_time_rate", nullptr}}})}};
  auto csv = engine::report_csv(report, "units");
  REQUIRE(csv);
  CHECK(csv->substr(0, csv->find("\r\n")) ==
        "unit,name,dossiers,events,finished,early,on_time,late,overdue,supplements,refusals,extensions,forwarded,withdrawn,"
        "on_time_rate");
  CHECK(csv->substr(csv->find("\r\n") + 2) == "\"U,1\",\"A \"\"B\"\"\",2,,,,,,,,,,,,\r\n");
  CHECK(!engine::report_csv(report, "devices"));
  CHECK(engine::report_csv(report, "nope").error().code == crypto::Errc::invalid_argument);
}
