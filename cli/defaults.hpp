// The embedded defaults `hoso demo` runs on: a procedure (the spec's birth
// registration, with an inter-level step) and the province's calendars.
#pragma once

namespace hoso::cli::defaults {

inline constexpr const char* kProcedure = R"JSON({
  "kind": "procedure", "code": "1.001193", "version": 1, "name": "Đăng ký khai sinh",
  "total_working_days": 3, "start": "receive",
  "fields": [
    {"name": "cccd", "label": "Số CCCD", "type": "text", "required": true},
    {"name": "child_name", "label": "Họ tên trẻ", "type": "text", "required": true},
    {"name": "birth_date", "label": "Ngày sinh", "type": "date", "required": true},
    {"name": "sex", "label": "Giới tính", "type": "choice", "options": ["nam", "nữ"], "required": false}
  ],
  "steps": {
    "receive": {"role": "receiver", "hours": 4, "actions": {"accept": "review", "request_supplement": "receive", "reject": "@rejected"}},
    "review": {"role": "specialist", "hours": 8, "actions": {"approve": "sign", "send_back": "receive", "forward": "province_review"}},
    "province_review": {"role": "specialist", "unit": "parent", "hours": 16, "actions": {"approve": "sign", "send_back": "review"}},
    "sign": {"role": "leader", "hours": 4, "actions": {"approve": "deliver", "send_back": "review"}},
    "deliver": {"role": "receiver", "actions": {"deliver": "@done"}}
  }
})JSON";

inline constexpr const char* kCalendar2026 = R"JSON({
  "kind": "calendar", "year": 2026, "utc_offset": "+07:00",
  "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
  "weekend": ["sat", "sun"],
  "holidays": ["2026-01-01", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20",
               "2026-04-27", "2026-04-30", "2026-05-01", "2026-09-01", "2026-09-02"],
  "working_days": []
})JSON";

inline constexpr const char* kCalendar2027 = R"JSON({
  "kind": "calendar", "year": 2027, "utc_offset": "+07:00",
  "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
  "weekend": ["sat", "sun"],
  "holidays": ["2027-01-01", "2027-02-04", "2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10",
               "2027-04-16", "2027-04-30", "2027-05-03", "2027-09-02", "2027-09-03"],
  "working_days": []
})JSON";

}  // namespace hoso::cli::defaults
