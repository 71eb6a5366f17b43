#include "hoso/engine/calendar.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <limits>

#include "doc_check.hpp"

namespace hoso::engine {

namespace {

constexpr int64_t kDay = 86400;

// Floor division: C++ truncates towards zero, which would put the instants
// before 1970 (or before local midnight) on the wrong day.
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Local (day, second of day) of an instant, without ever forming
// t + offset, which could overflow at the ends of the int64_t range.
void split(int64_t t, int offset_minutes, int64_t& day, int64_t& sod) {
  day = floor_div(t, kDay);
  int64_t r = t % kDay;
  if (r < 0) r += kDay;
  r += int64_t{offset_minutes} * 60;
  day += floor_div(r, kDay);
  sod = r - floor_div(r, kDay) * kDay;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// "HH:MM" (and "HH:MM:SS" when allowed) to seconds from midnight.
// "24:00" is accepted only as the end of an office-hours interval.
std::optional<int> parse_clock(std::string_view s, bool allow_seconds, bool allow_24) {
  int h = 0, m = 0, sec = 0;
  if (s.size() != 5 && !(allow_seconds && s.size() == 8)) return std::nullopt;
  if (!digits(s, 0, 2, h) || s[2] != ':' || !digits(s, 3, 2, m)) return std::nullopt;
  if (s.size() == 8 && (s[5] != ':' || !digits(s, 6, 2, sec))) return std::nullopt;
  if (m > 59 || sec > 59) return std::nullopt;
  if (h == 24 && allow_24 && m == 0 && sec == 0) return 24 * 3600;
  if (h > 23) return std::nullopt;
  return h * 3600 + m * 60 + sec;
}

// "+HH:MM" / "-HH:MM" to minutes east of UTC, at most `max_minutes` away.
std::optional<int> parse_offset(std::string_view s, int max_minutes) {
  int h = 0, m = 0;
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  if (!digits(s, 1, 2, h) || s[3] != ':' || !digits(s, 4, 2, m)) return std::nullopt;
  if (m > 59 || h * 60 + m > max_minutes) return std::nullopt;
  return (s[0] == '-' ? -1 : 1) * (h * 60 + m);
}

std::string quote(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false,
                                             nlohmann::json::error_handler_t::replace);
}

std::string format_offset(int offset_minutes) {
  const int off = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', off / 60 % 100,
                off % 60);
  return buf;
}

std::string year_missing(int64_t year) {
  return "no calendar for year " + std::to_string(year);
}

}  // namespace

// ---- Civil dates ----------------------------------------------------------------

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = floor_div(y, 400);
  const int64_t yoe = y - era * 400;  // [0, 399]
  const int64_t mp = m > 2 ? m - 3 : m + 9;
  const int64_t doy = (153 * mp + 2) / 5 + d - 1;            // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  // [0, 146096]
  return era * 146097 + doe - 719468;
}

CivilDate civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = floor_div(z, 146097);
  const int64_t doe = z - era * 146097;                                      // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                    // [0, 11]
  const auto d = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  const auto m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  return CivilDate{yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

bool is_leap_year(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kLen[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12) return 0;
  return m == 2 && is_leap_year(y) ? 29 : kLen[m - 1];
}

int weekday_from_days(int64_t days) {
  // 1970-01-01 was a Thursday (3 when Monday is 0).
  return static_cast<int>(days - floor_div(days + 3, 7) * 7 + 3);
}

std::optional<int64_t> parse_civil_date(std::string_view s) {
  int y = 0, m = 0, d = 0;
  if (s.size() != 10 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, m) ||
      s[7] != '-' || !digits(s, 8, 2, d)) {
    return std::nullopt;
  }
  const unsigned len = days_in_month(y, static_cast<unsigned>(m));
  if (d < 1 || static_cast<unsigned>(d) > len) return std::nullopt;
  return days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

std::string format_civil_date(int64_t days) {
  const CivilDate c = civil_from_days(days);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%04lld-%02u-%02u", c.year < 0 ? "-" : "",
                static_cast<long long>(c.year < 0 ? -c.year : c.year), c.month, c.day);
  return buf;
}

// ---- ISO 8601 -------------------------------------------------------------------

Result<int64_t> parse_iso8601(const std::string& s) {
  const auto bad = [&] {
    return crypto::make_error(
        Errc::invalid_argument,
        "not an ISO 8601 time with offset: " + quote(s) +
            " (expected YYYY-MM-DDTHH:MM[:SS] followed by Z or +HH:MM/-HH:MM)");
  };
  if (s.size() < 17 || s[10] != 'T') return bad();
  const auto day = parse_civil_date(std::string_view(s).substr(0, 10));
  if (!day) return bad();
  std::size_t pos = 11;
  int h = 0, mi = 0, sec = 0;
  if (!digits(s, pos, 2, h) || s[pos + 2] != ':' || !digits(s, pos + 3, 2, mi)) return bad();
  pos += 5;
  if (pos < s.size() && s[pos] == ':') {
    if (!digits(s, pos + 1, 2, sec)) return bad();
    pos += 3;
  }
  if (h > 23 || mi > 59 || sec > 59) return bad();
  int offset = 0;
  const std::string_view zone = std::string_view(s).substr(pos);
  if (zone != "Z") {
    const auto o = parse_offset(zone, 23 * 60 + 59);
    if (!o) return bad();
    offset = *o;
  }
  return *day * kDay + h * 3600 + mi * 60 + sec - int64_t{offset} * 60;
}

std::string format_iso8601(int64_t t, int utc_offset_minutes) {
  int64_t day = 0, sod = 0;
  split(t, utc_offset_minutes, day, sod);
  char buf[64];
  std::snprintf(buf, sizeof buf, "T%02d:%02d:%02d", static_cast<int>(sod / 3600),
                static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60));
  return format_civil_date(day) + buf + format_offset(utc_offset_minutes);
}

// ---- Calendar document ------------------------------------------------------------

bool Calendar::is_working_day(int64_t local_day) const {
  if (working_days.count(local_day) != 0) return true;
  if (holidays.count(local_day) != 0) return false;
  return !weekend[static_cast<std::size_t>(weekday_from_days(local_day))];
}

namespace {

using doc::error_at;
using doc::index_path;

// Reads `key` as an array of "YYYY-MM-DD" dates inside `year`, no duplicates.
Result<std::set<int64_t>> read_dates(const doc::Object& o, std::string_view key, int64_t year) {
  auto arr = o.req_array(key);
  if (!arr) return arr.error();
  std::set<int64_t> out;
  const std::string path = o.path_of(key);
  for (std::size_t i = 0; i < (*arr)->size(); ++i) {
    const std::string p = index_path(path, i);
    auto s = doc::as_string((**arr)[i], p);
    if (!s) return s.error();
    const auto day = parse_civil_date(*s);
    if (!day) return error_at(p, "expected a real date \"YYYY-MM-DD\", got " + quote(*s));
    if (civil_from_days(*day).year != year) {
      return error_at(p, *s + " is not in year " + std::to_string(year));
    }
    if (!out.insert(*day).second) return error_at(p, "duplicate date " + *s);
  }
  return out;
}

Result<Calendar> parse_calendar_unchecked(const nlohmann::json& d) {
  auto o = doc::Object::open(d, "");
  if (!o) return o.error();
  // The kind first: a procedure passed by mistake should say so, not list
  // its keys as unknown.
  auto kind = o->req_string("kind");
  if (!kind) return kind.error();
  if (*kind != "calendar") return error_at("kind", "expected \"calendar\", got " + quote(*kind));
  if (Status st = o->only({"kind", "year", "utc_offset", "office_hours", "cutoff", "weekend",
                           "holidays", "working_days"});
      !st) {
    return st.error();
  }

  Calendar c;
  auto year = o->req_int("year", 2000, 2200);
  if (!year) return year.error();
  c.year = *year;

  auto off = o->req_string("utc_offset");
  if (!off) return off.error();
  // Real offsets span -12:00..+14:00; anything beyond is a typo.
  const auto offset = parse_offset(*off, 14 * 60);
  if (!offset) {
    return error_at("utc_offset",
                    "expected \"+HH:MM\" or \"-HH:MM\" within 14:00 of UTC, got " + quote(*off));
  }
  c.utc_offset_minutes = *offset;

  auto hours = o->req_array("office_hours");
  if (!hours) return hours.error();
  if ((*hours)->empty()) return error_at("office_hours", "must list at least one interval");
  for (std::size_t i = 0; i < (*hours)->size(); ++i) {
    const std::string p = index_path("office_hours", i);
    const auto& pair = (**hours)[i];
    if (!pair.is_array() || pair.size() != 2) {
      return error_at(p, "expected a pair [\"HH:MM\", \"HH:MM\"], got " +
                             (pair.is_array() ? "an array of " + std::to_string(pair.size())
                                              : doc::describe(pair)));
    }
    int bounds[2] = {0, 0};
    for (std::size_t j = 0; j < 2; ++j) {
      const std::string pj = index_path(p, j);
      auto s = doc::as_string(pair[j], pj);
      if (!s) return s.error();
      const auto secs = parse_clock(*s, false, j == 1);
      if (!secs) return error_at(pj, "expected a time \"HH:MM\", got " + quote(*s));
      bounds[j] = *secs / 60;
    }
    if (bounds[0] >= bounds[1]) return error_at(p, "the start must be before the end");
    if (!c.office_hours.empty() && bounds[0] < c.office_hours.back().second) {
      return error_at(p, "must start at or after the end of " + index_path("office_hours", i - 1) +
                             " (intervals are sorted and do not overlap)");
    }
    c.office_hours.emplace_back(bounds[0], bounds[1]);
  }

  auto cutoff = o->req_string("cutoff");
  if (!cutoff) return cutoff.error();
  const auto cut = parse_clock(*cutoff, true, false);
  if (!cut) return error_at("cutoff", "expected a time \"HH:MM\" or \"HH:MM:SS\", got " + quote(*cutoff));
  c.cutoff_seconds = *cut;

  auto weekend = o->req_array("weekend");
  if (!weekend) return weekend.error();
  static constexpr const char* kDays[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  for (std::size_t i = 0; i < (*weekend)->size(); ++i) {
    const std::string p = index_path("weekend", i);
    auto s = doc::as_string((**weekend)[i], p);
    if (!s) return s.error();
    std::size_t w = 0;
    while (w < 7 && *s != kDays[w]) ++w;
    if (w == 7) return error_at(p, "expected one of mon, tue, wed, thu, fri, sat, sun, got " + quote(*s));
    if (c.weekend[w]) return error_at(p, "duplicate day " + *s);
    c.weekend[w] = true;
  }

  auto holidays = read_dates(*o, "holidays", c.year);
  if (!holidays) return holidays.error();
  c.holidays = std::move(*holidays);
  auto working = read_dates(*o, "working_days", c.year);
  if (!working) return working.error();
  c.working_days = std::move(*working);
  const auto& list = (*o).raw()["working_days"];
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto day = parse_civil_date(list[i].get_ref<const std::string&>());
    if (c.holidays.count(*day) != 0) {
      return error_at(index_path("working_days", i),
                      list[i].get_ref<const std::string&>() + " is also listed in holidays");
    }
  }
  c.doc = d;
  return c;
}

}  // namespace

Result<Calendar> parse_calendar(const nlohmann::json& doc) {
  try {
    return parse_calendar_unchecked(doc);
  } catch (const std::exception& e) {
    // Only an allocation failure or a bug can get here: the reader checks
    // every type before it converts.
    return crypto::make_error(Errc::internal, std::string("calendar: ") + e.what());
  }
}

// ---- WorkCalendar -------------------------------------------------------------------

Status WorkCalendar::add(Calendar c) {
  if (years_.count(c.year) != 0) {
    return crypto::make_error(Errc::conflict,
                              "calendar for year " + std::to_string(c.year) + " already present");
  }
  if (!years_.empty() && c.utc_offset_minutes != offset_minutes_) {
    return crypto::make_error(
        Errc::conflict, "calendar for year " + std::to_string(c.year) + " has utc_offset " +
                            format_offset(c.utc_offset_minutes) + " but the others have " +
                            format_offset(offset_minutes_));
  }
  offset_minutes_ = c.utc_offset_minutes;
  const int64_t year = c.year;
  years_.emplace(year, std::move(c));
  return {};
}

bool WorkCalendar::has_year(int64_t year) const { return years_.count(year) != 0; }

Result<const Calendar*> WorkCalendar::calendar_for_day(int64_t local_day) const {
  const int64_t year = civil_from_days(local_day).year;
  const auto it = years_.find(year);
  if (it == years_.end()) return crypto::make_error(Errc::not_found, year_missing(year));
  return &it->second;
}

Result<bool> WorkCalendar::is_working_day(int64_t local_day) const {
  auto cal = calendar_for_day(local_day);
  if (!cal) return cal.error();
  return (*cal)->is_working_day(local_day);
}

Result<int64_t> WorkCalendar::next_working_day(int64_t local_day) const {
  // Terminates: every step either finds a working day or moves towards a
  // year that has no calendar, which is an error.
  for (int64_t d = local_day + 1;; ++d) {
    auto w = is_working_day(d);
    if (!w) return w.error();
    if (*w) return d;
  }
}

int64_t WorkCalendar::day_start(int64_t local_day) const {
  return local_day * kDay - int64_t{offset_minutes_} * 60;
}

int64_t WorkCalendar::local_day(int64_t t) const {
  int64_t day = 0, sod = 0;
  split(t, offset_minutes_, day, sod);
  return day;
}

std::string WorkCalendar::local_date(int64_t t) const { return format_civil_date(local_day(t)); }

std::string WorkCalendar::iso(int64_t t) const { return format_iso8601(t, offset_minutes_); }

Result<int64_t> WorkCalendar::due_after_working_days(int64_t received_at, int64_t n) const {
  if (n < 0) {
    return crypto::make_error(Errc::invalid_argument,
                              "working days must not be negative, got " + std::to_string(n));
  }
  int64_t day = 0, sod = 0;
  split(received_at, offset_minutes_, day, sod);
  auto cal = calendar_for_day(day);
  if (!cal) return cal.error();
  int64_t d = day;
  if (!(*cal)->is_working_day(day) || sod > (*cal)->cutoff_seconds) {
    auto next = next_working_day(day);
    if (!next) return next.error();
    d = *next;
  }
  for (int64_t i = 0; i < n; ++i) {
    auto next = next_working_day(d);
    if (!next) return next.error();
    d = *next;
  }
  auto last = calendar_for_day(d);
  if (!last) return last.error();
  return day_start(d) + int64_t{(*last)->office_hours.back().second} * 60;
}

Result<int64_t> WorkCalendar::working_seconds_between(int64_t from, int64_t to) const {
  if (to < from) {
    auto r = working_seconds_between(to, from);
    if (!r) return r;
    return -*r;
  }
  const int64_t first = local_day(from);
  // [from, to) is half-open: an end at local midnight does not touch the
  // next day (and so needs no calendar for it).
  const int64_t last = to > from ? local_day(to - 1) : first;
  int64_t total = 0;
  for (int64_t d = first; d <= last; ++d) {
    auto cal = calendar_for_day(d);
    if (!cal) return cal.error();
    if (!(*cal)->is_working_day(d)) continue;
    const int64_t start = day_start(d);
    for (const auto& [a, b] : (*cal)->office_hours) {
      const int64_t lo = std::max(start + int64_t{a} * 60, from);
      const int64_t hi = std::min(start + int64_t{b} * 60, to);
      if (hi > lo) total += hi - lo;
    }
  }
  return total;
}

Result<int64_t> WorkCalendar::add_working_seconds(int64_t from, int64_t secs) const {
  // Unsigned so that -INT64_MIN is representable; the walk ends long before
  // such a budget runs out (at the first year without a calendar).
  const bool forward = secs >= 0;
  uint64_t remaining = forward ? static_cast<uint64_t>(secs) : 0 - static_cast<uint64_t>(secs);
  for (int64_t d = local_day(from);; d += forward ? 1 : -1) {
    auto cal = calendar_for_day(d);
    if (!cal) return cal.error();
    if (!(*cal)->is_working_day(d)) continue;
    const int64_t start = day_start(d);
    const auto& hours = (*cal)->office_hours;
    if (forward) {
      for (const auto& [a, b] : hours) {
        const int64_t end = start + int64_t{b} * 60;
        if (end <= from) continue;  // half-open: an interval ending at `from` is behind us
        const int64_t begin = std::max(start + int64_t{a} * 60, from);
        const auto avail = static_cast<uint64_t>(end - begin);
        if (remaining <= avail) return begin + static_cast<int64_t>(remaining);
        remaining -= avail;
      }
    } else {
      for (auto it = hours.rbegin(); it != hours.rend(); ++it) {
        const int64_t begin = start + int64_t{it->first} * 60;
        if (begin >= from) continue;
        const int64_t end = std::min(start + int64_t{it->second} * 60, from);
        const auto avail = static_cast<uint64_t>(end - begin);
        if (remaining <= avail) return end - static_cast<int64_t>(remaining);
        remaining -= avail;
      }
    }
  }
}

Result<int64_t> WorkCalendar::end_of_day(const std::string& date) const {
  const auto day = parse_civil_date(date);
  if (!day) {
    return crypto::make_error(Errc::invalid_argument,
                              "expected a real date \"YYYY-MM-DD\", got " + quote(date));
  }
  auto cal = calendar_for_day(*day);
  if (!cal) return cal.error();
  return day_start(*day) + int64_t{(*cal)->office_hours.back().second} * 60;
}

}  // namespace hoso::engine
