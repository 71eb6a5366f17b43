// Calendar documents (engine::parse_calendar), the deadline arithmetic a
// signed calendar drives (WorkCalendar), and the ISO 8601 instants and dates
// people type (--effective, HOSO_NOW, extend --until).
#include "fuzz_common.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/engine/calendar.hpp"

using namespace hoso;

namespace {

void instants(std::string_view in) {
  std::string s(in.substr(0, 64));
  if (auto t = engine::parse_iso8601(s); t) {
    for (int off : {0, 7 * 60, -(14 * 60)}) {
      auto back = engine::parse_iso8601(engine::format_iso8601(*t, off));
      HOSO_FUZZ_CHECK(back && *back == *t);
    }
  }
  if (auto d = engine::parse_civil_date(s); d) HOSO_FUZZ_CHECK(engine::format_civil_date(*d) == s);
}

void deadlines(const engine::Calendar& c) {
  engine::WorkCalendar wc;
  if (!wc.add(c)) return;
  // A second year next to it, so scans may cross the new year.
  engine::Calendar next = c;
  next.year = c.year + 1;
  next.holidays.clear();
  next.working_days.clear();
  (void)wc.add(next);
  int64_t jan1 = (engine::days_from_civil(c.year, 1, 1) * 86400) - int64_t{c.utc_offset_minutes} * 60;
  for (int64_t day : {0, 1, 45, 180, 364}) {
    for (int64_t sec : {0, 8 * 3600, 15 * 3600 + 1, 86399}) {
      int64_t t = jan1 + day * 86400 + sec;
      (void)wc.is_working_day(wc.local_day(t));
      for (int64_t n : {0, 1, 15, 400}) (void)wc.due_after_working_days(t, n);
      auto w = wc.working_seconds_between(t, t + 10 * 86400);
      if (w && *w > 0) {
        auto back = wc.add_working_seconds(t, *w);
        if (back) {
          auto again = wc.working_seconds_between(t, *back);
          HOSO_FUZZ_CHECK(again && *again == *w);
        }
      }
      (void)wc.add_working_seconds(t, -3600);
      (void)wc.end_of_day(wc.local_date(t));
      (void)wc.iso(t);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = fuzz::input(data, size);
  instants(in);
  auto j = crypto::parse_json_strict(in);
  if (!j) return 0;
  auto c = engine::parse_calendar(*j);
  if (!c) return 0;
  HOSO_FUZZ_CHECK(c->year >= 2000 && c->year <= 2200);
  HOSO_FUZZ_CHECK(crypto::canonical_json(c->doc).ok());
  deadlines(*c);
  return 0;
}
