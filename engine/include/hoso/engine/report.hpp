// The figures provincial IT files (SPEC §4 report --json, issue 5): per
// unit, per procedure, per month and per unit × procedure × month, built from
// the dossiers' projected states (Store::dossier_rows) whatever the store's
// backend, plus renderings as a text table and as CSV.
//
// Every figure covers the dossiers received (first receipt, opened_at) in the
// range:
//   dossiers     received in the range ("received" in tables and CSV);
//   events       their events, wherever signed;
//   finished     finished with a timeliness by `to` (returned or rejected);
//   early, on_time, late   the split of `finished` (SPEC §2);
//   overdue      not finished by `to` and past their due time at `to` (a
//                dossier finished after `to` is judged against its due time
//                before extensions, like its timeliness);
//   supplements  supplement requests; refusals: rejections;
//   extensions   extensions (each with its apology note);
//   forwarded    hand-overs to another unit (the parent, a department);
//   withdrawn    withdrawn by the applicant;
//   on_time_rate (early + on_time) / finished, 4 decimals; null when nothing finished.
#pragma once

#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "hoso/engine/store.hpp"

namespace hoso::engine {

struct ReportFigures {
  int64_t dossiers = 0, events = 0, finished = 0, early = 0, on_time = 0, late = 0, overdue = 0, supplements = 0,
          extensions = 0, refusals = 0, forwarded = 0, withdrawn = 0;
};

// Aggregates dossier rows one at a time (memory: one entry per unit ×
// procedure × month, never per dossier). `as_of` is the end of the range
// (SPEC: overdue as of --to); `cal` gives the local month of each receipt.
class ReportBuilder {
 public:
  ReportBuilder(const WorkCalendar& cal, int64_t as_of) : cal_(cal), as_of_(as_of) {}
  // Errc::bad_format when the row's state is not the projection's JSON.
  Status add(const Store::DossierRow& row);
  // The report: `units`, `procedures`, `months`, `rows` (unit × procedure ×
  // month), sorted by their keys; units named from `trust` (empty name when
  // no unit certificate is known), procedures from `reg`'s newest version.
  nlohmann::json finish(const Registry& reg) const;

 private:
  const WorkCalendar& cal_;
  int64_t as_of_;
  int64_t last_day_ = INT64_MIN;
  std::string last_month_;
  std::map<std::tuple<std::string, std::string, std::string>, ReportFigures> cells_;  // unit, procedure, month
};

// report --json for a store (SPEC §4): from/to are unix seconds, inclusive,
// absent = all time / `now`. With `devices`, adds Store::devices_report().
// Adds `from`, `to` (ISO 8601) and `units` entries carry `name`. When
// `cancelled` returns true (asked now and then), stops with Errc::io.
Result<nlohmann::json> build_report(const Store& store, std::optional<int64_t> from, std::optional<int64_t> to,
                                    int64_t now, bool devices, const std::function<bool()>& cancelled = {});

// The tables of a report, in the order tables and --out-dir write them.
inline constexpr const char* kReportTables[] = {"units", "procedures", "months", "rows", "devices"};

// One table of a report as CSV (RFC 4180: comma-separated, CRLF line ends,
// fields with a comma, quote, CR or LF quoted with quotes doubled), header
// row of the JSON keys first. Errc::invalid_argument for an unknown table;
// Errc::not_found when the report lacks it (devices without --data). UTF-8,
// no BOM (the caller adds one for spreadsheets).
Result<std::string> report_csv(const nlohmann::json& report, const std::string& table);
// RFC 4180 quoting of one field.
std::string csv_field(const std::string& s);

// Every table of a report as aligned text for a terminal; Vietnamese column
// titles when `vietnamese`.
std::string report_text(const nlohmann::json& report, bool vietnamese);

}  // namespace hoso::engine
