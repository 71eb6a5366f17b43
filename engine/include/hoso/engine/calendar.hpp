// Working-day calendars and deadline arithmetic (SPEC §2 "Deadlines", §3).
//
// Time is int64_t unix seconds (UTC) everywhere. A "day" is a civil date
// counted as days since 1970-01-01 (day 0) in the calendar's local offset.
// Nothing here reads the machine's time zone: all civil arithmetic is done by
// hand (Howard Hinnant's days_from_civil), so results are the same on every
// laptop and server.
//
// A calendar only answers for the years it was signed for: any query that
// touches a day of a year without a calendar fails with Errc::not_found
// ("no calendar for year 2027") instead of guessing. That includes scanning
// forward across the new year for a deadline.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "hoso/crypto/result.hpp"

namespace hoso::engine {

using crypto::Errc;
using crypto::Result;
using crypto::Status;

// ---- Civil dates --------------------------------------------------------

struct CivilDate {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
  bool operator==(const CivilDate&) const = default;
};

// Days since 1970-01-01 of a proleptic Gregorian date. Exact for any year
// whose day count fits in int64_t; the caller guarantees 1 <= month <= 12 and
// 1 <= day <= days_in_month(year, month).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
// Inverse of days_from_civil.
CivilDate civil_from_days(int64_t days);
bool is_leap_year(int64_t y);
unsigned days_in_month(int64_t y, unsigned m);  // 0 if m is not 1..12
// Day of week of a day number: 0 = Monday .. 6 = Sunday.
int weekday_from_days(int64_t days);

// Strict "YYYY-MM-DD" (four-digit year, a real date) to a day number;
// nullopt otherwise.
std::optional<int64_t> parse_civil_date(std::string_view s);
// A day number as "YYYY-MM-DD" (years outside 0..9999 print as many digits as
// needed, with a '-' sign when negative; parse_civil_date refuses those).
std::string format_civil_date(int64_t days);

// ---- ISO 8601 instants ----------------------------------------------------

// Accepts exactly "YYYY-MM-DDTHH:MM:SS" or "YYYY-MM-DDTHH:MM" followed by "Z"
// or "+HH:MM"/"-HH:MM" (offset hours 00..23): a real date, hours 00..23,
// minutes and seconds 00..59. No fractions, no lowercase, no missing offset
// (a time without an offset is ambiguous). Errors are Errc::invalid_argument
// and quote the input.
Result<int64_t> parse_iso8601(const std::string& s);
// "YYYY-MM-DDTHH:MM:SS+HH:MM" of `t` in the given offset (minutes east of
// UTC; "+00:00" for UTC, never "Z"). parse_iso8601 reads it back exactly
// when the local year is within 0..9999 and |offset| < 24h.
std::string format_iso8601(int64_t t, int utc_offset_minutes);

// ---- One signed yearly calendar ----------------------------------------------

struct Calendar {
  int64_t year = 0;
  int utc_offset_minutes = 0;
  // Minutes from local midnight, sorted, non-overlapping, start < end; an
  // end of 1440 ("24:00") is allowed.
  std::vector<std::pair<int, int>> office_hours;
  // Seconds (not minutes) from local midnight, because a cutoff may be
  // given as "HH:MM:SS". A receipt at exactly the cutoff is not after it.
  int cutoff_seconds = 0;
  std::array<bool, 7> weekend{};  // 0 = Monday .. 6 = Sunday
  std::set<int64_t> holidays;      // local day numbers, all inside `year`
  std::set<int64_t> working_days;  // make-up working days, all inside `year`
  nlohmann::json doc;              // the validated document, as given

  // (not a weekend day and not a holiday) or a listed working day. The
  // caller makes sure `local_day` falls inside `year`.
  bool is_working_day(int64_t local_day) const;
};

// Validates a calendar document (SPEC §3). Required keys: kind ("calendar"),
// year (2000..2200), utc_offset ("+HH:MM" or "-HH:MM", at most 14:00 away
// from UTC), office_hours (non-empty array of ["HH:MM","HH:MM"] pairs, each
// start < end, sorted, not overlapping; "24:00" only as an end), cutoff
// ("HH:MM" or "HH:MM:SS"), weekend (array of "mon".."sun", no duplicates,
// may be empty), holidays and working_days (arrays of "YYYY-MM-DD" real
// dates inside `year`, no duplicates, no date in both; may be empty).
// Unknown keys are refused unless they start with "x_"; floats are refused.
// Errors are Errc::bad_format naming the key path ("office_hours[1][0]: ...").
Result<Calendar> parse_calendar(const nlohmann::json& doc);

// ---- The union of several yearly calendars ---------------------------------

class WorkCalendar {
 public:
  // Adds one year. Errc::conflict if the year is already present or if its
  // utc_offset differs from the calendars already added (deadlines must not
  // jump when a year changes).
  Status add(Calendar c);
  bool has_year(int64_t year) const;
  // The shared offset; 0 while empty.
  int utc_offset_minutes() const { return offset_minutes_; }

  // Errc::not_found "no calendar for year N" if N is missing.
  Result<bool> is_working_day(int64_t local_day) const;

  // Deadline of a dossier received at `received_at` with a budget of `n`
  // working days (SPEC §2). A receipt strictly after the cutoff (15:00:00
  // itself is not after) or on a day off counts as received on the next
  // working day (the effective day); the day of receipt is not counted. The
  // result is the end of office hours (end of the last interval of that
  // year's office_hours) on the n-th working day after the effective day;
  // for n = 0, of the effective day itself. Errors: invalid_argument if
  // n < 0; not_found if any day scanned lies in a year without a calendar.
  Result<int64_t> due_after_working_days(int64_t received_at, int64_t n) const;

  // Office-hours seconds of working days in [from, to); negative (the
  // seconds of [to, from)) when to < from. not_found if any local day from
  // the first to the last one touched lacks a calendar (even a day off).
  Result<int64_t> working_seconds_between(int64_t from, int64_t to) const;

  // The instant at which `secs` office-hours seconds have elapsed after
  // `from`. secs = 0 gives the first instant inside office hours at or after
  // `from` (intervals are half-open: 11:30 is not inside 07:00-11:30). When
  // the budget runs out exactly at the end of an interval, the result is that
  // end (11:30), not the next start. Negative secs walk backwards and stop
  // at the start of an interval when the budget runs out exactly there.
  // Guarantees: working_seconds_between(from, add_working_seconds(from, s))
  // == s, and add_working_seconds(from, working_seconds_between(from, to))
  // == to whenever from < to and `to` lies inside an interval or at its end
  // (a suspended clock restarted at once gives back the same due time).
  // not_found when the walk reaches a year without a calendar.
  Result<int64_t> add_working_seconds(int64_t from, int64_t secs) const;

  // End of office hours of the local date "YYYY-MM-DD" (for `extend
  // --until`), whether or not that date is a working day. invalid_argument
  // if the date is malformed or not a real date, not_found if its year has
  // no calendar.
  Result<int64_t> end_of_day(const std::string& local_date) const;

  // Local day number / civil date / ISO 8601 of an instant in the shared
  // offset. These never fail and need no calendar for the year.
  int64_t local_day(int64_t t) const;
  std::string local_date(int64_t t) const;
  std::string iso(int64_t t) const;

 private:
  Result<const Calendar*> calendar_for_day(int64_t local_day) const;
  Result<int64_t> next_working_day(int64_t local_day) const;  // strictly after
  int64_t day_start(int64_t local_day) const;  // the UTC instant of local midnight

  std::map<int64_t, Calendar> years_;
  int offset_minutes_ = 0;
};

}  // namespace hoso::engine
