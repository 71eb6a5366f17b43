#include "hoso/engine/report.hpp"

#include <algorithm>
#include <climits>
#include <sstream>

namespace hoso::engine {
namespace {

using json = nlohmann::json;

// The figures' keys in the order every table shows them.
constexpr const char* kFigureKeys[] = {"dossiers", "events",     "finished", "early",     "on_time",   "late",
                                       "overdue",  "supplements", "refusals", "extensions", "forwarded", "withdrawn"};

void add_to(ReportFigures& f, const ReportFigures& d) {
  f.dossiers += d.dossiers, f.events += d.events, f.finished += d.finished, f.early += d.early, f.on_time += d.on_time;
  f.late += d.late, f.overdue += d.overdue, f.supplements += d.supplements, f.extensions += d.extensions;
  f.refusals += d.refusals, f.forwarded += d.forwarded, f.withdrawn += d.withdrawn;
}

json figures_json(const ReportFigures& f) {
  json j{{"dossiers", f.dossiers},       {"events", f.events},         {"finished", f.finished},   {"early", f.early},
         {"on_time", f.on_time},         {"late", f.late},             {"overdue", f.overdue},     {"supplements", f.supplements},
         {"refusals", f.refusals},       {"extensions", f.extensions}, {"forwarded", f.forwarded}, {"withdrawn", f.withdrawn}};
  // Rounded to 4 decimals so two runs over the same store print the same bytes.
  j["on_time_rate"] = f.finished ? json(double(std::llround(10000.0 * double(f.early + f.on_time) / double(f.finished))) / 10000.0)
                                 : json();
  return j;
}

std::optional<int64_t> opt_int(const json& s, const char* key) {
  auto it = s.find(key);
  if (it == s.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

int64_t int_or0(const json& s, const char* key) { return opt_int(s, key).value_or(0); }

}  // namespace

namespace {

// What the figures need of a dossier's state.
struct StateFacts {
  int64_t events = 0, supplements = 0, extensions = 0, refusals = 0, forwards = 0;
  std::optional<int64_t> finished_at, due_at, due_base;
  std::string status, timeliness;
};

// A report reads every dossier's state: building a whole JSON tree for each
// (fields, attachments, visits) was most of its time on a province's store.
// This reads only the top-level members it needs and skips the rest without
// building anything. It understands exactly what state_json writes; anything
// else (an escape in a wanted string, malformed text) returns false and the
// caller falls back to the full parser, so the figures never depend on it.
class StateScanner {
 public:
  explicit StateScanner(std::string_view s) : s_(s) {}

  bool scan(StateFacts& f) {
    ws();
    if (!eat('{')) return false;
    ws();
    if (eat('}')) return end();
    for (;;) {
      std::string_view key;
      if (!raw_string(key)) return false;
      ws();
      if (!eat(':')) return false;
      ws();
      if (!member(key, f)) return false;
      ws();
      if (eat(',')) {
        ws();
        continue;
      }
      if (eat('}')) return end();
      return false;
    }
  }

 private:
  std::string_view s_;
  size_t i_ = 0;

  bool end() {
    ws();
    return i_ == s_.size();
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  // A string without escapes (keys and the statuses state_json writes).
  bool raw_string(std::string_view& out) {
    if (!eat('"')) return false;
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') return false;
      ++i_;
    }
    if (i_ == s_.size()) return false;
    out = s_.substr(start, i_ - start);
    ++i_;
    return true;
  }
  // Skips any value: strings (with escapes), nested containers, literals.
  bool skip() {
    int depth = 0;
    do {
      if (i_ >= s_.size()) return false;
      char c = s_[i_];
      if (c == '"') {
        for (++i_; i_ < s_.size() && s_[i_] != '"'; ++i_)
          if (s_[i_] == '\\') ++i_;
        if (i_ >= s_.size()) return false;
        ++i_;
      } else if (c == '{' || c == '[') {
        ++depth, ++i_;
      } else if (c == '}' || c == ']') {
        if (--depth < 0) return false;
        ++i_;
      } else if (depth == 0) {
        // A literal or number at the top: up to the next delimiter.
        size_t start = i_;
        while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ' ' && s_[i_] != '\n') ++i_;
        return i_ > start;
      } else {
        ++i_;
      }
    } while (depth > 0);
    return true;
  }
  // An integer or null.
  bool int_or_null(std::optional<int64_t>& out) {
    if (s_.substr(i_, 4) == "null") return i_ += 4, out.reset(), true;
    bool neg = eat('-');
    size_t start = i_;
    int64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (v > (INT64_MAX - 9) / 10) return false;
      v = v * 10 + (s_[i_++] - '0');
    }
    if (i_ == start || (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E'))) return false;
    out = neg ? -v : v;
    return true;
  }
  bool count(int64_t& out) {
    std::optional<int64_t> v;
    if (!int_or_null(v) || !v) return false;
    out = *v;
    return true;
  }
  bool text_or_null(std::string& out) {
    if (s_.substr(i_, 4) == "null") return i_ += 4, out.clear(), true;
    std::string_view v;
    if (!raw_string(v)) return false;
    out.assign(v);
    return true;
  }
  bool member(std::string_view k, StateFacts& f) {
    if (k == "events") return count(f.events);
    if (k == "supplements") return count(f.supplements);
    if (k == "extensions") return count(f.extensions);
    if (k == "refusals") return count(f.refusals);
    if (k == "forwards") return count(f.forwards);
    if (k == "finished_at") return int_or_null(f.finished_at);
    if (k == "due_at") return int_or_null(f.due_at);
    if (k == "due_base") return int_or_null(f.due_base);
    if (k == "status") return text_or_null(f.status);
    if (k == "timeliness") return text_or_null(f.timeliness);
    return skip();
  }
};

// The same facts through the full parser (the fallback).
bool parse_facts(const std::string& state, StateFacts& f) {
  auto s = json::parse(state, nullptr, false);
  if (s.is_discarded() || !s.is_object()) return false;
  f = StateFacts{};
  f.events = int_or0(s, "events");
  f.supplements = int_or0(s, "supplements");
  f.extensions = int_or0(s, "extensions");
  f.refusals = int_or0(s, "refusals");
  f.forwards = int_or0(s, "forwards");
  f.finished_at = opt_int(s, "finished_at");
  f.due_at = opt_int(s, "due_at");
  f.due_base = opt_int(s, "due_base");
  auto str = [&](const char* k) {
    auto it = s.find(k);
    return it != s.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  f.status = str("status");
  f.timeliness = str("timeliness");
  return true;
}

}  // namespace

Status ReportBuilder::add(const Store::DossierRow& row) {
  StateFacts s;
  if (!StateScanner(row.state).scan(s) && !parse_facts(row.state, s))
    return make_error(Errc::bad_format, "dossiers " + row.code + ": unreadable state (run hoso verify)");
  ReportFigures d;
  d.dossiers = 1;
  d.events = s.events;
  d.supplements = s.supplements;
  d.extensions = s.extensions;
  d.refusals = s.refusals;
  d.forwarded = s.forwards;
  bool finished_by = s.finished_at && *s.finished_at <= as_of_;
  const std::string& tl = s.timeliness;
  if (finished_by && s.status == "withdrawn") d.withdrawn = 1;
  if (finished_by && !tl.empty()) {
    d.finished = 1;
    if (tl == "early") d.early = 1;
    else if (tl == "on_time") d.on_time = 1;
    else d.late = 1;
  }
  if (!finished_by) {
    // A finished dossier's projection drops due_at; when it finished after
    // `to` it was still open then, judged against the due time it was judged by.
    auto due = s.finished_at ? s.due_base : s.due_at;
    if (due && *due < as_of_ && !(s.finished_at && s.status == "withdrawn")) d.overdue = 1;
  }
  // The local month of the receipt, cached per day (a province's rows share a
  // few hundred days).
  int64_t day = cal_.local_day(row.opened_at);
  if (day != last_day_) last_day_ = day, last_month_ = cal_.local_date(row.opened_at).substr(0, 7);
  add_to(cells_[{row.unit, row.procedure, last_month_}], d);
  return {};
}

json ReportBuilder::finish(const Registry& reg) const {
  std::map<std::string, ReportFigures> units, procs, months;
  for (const auto& [k, f] : cells_) {
    add_to(units[std::get<0>(k)], f);
    add_to(procs[std::get<1>(k)], f);
    add_to(months[std::get<2>(k)], f);
  }
  auto unit_name = [&](const std::string& code) {
    const Certificate* c = reg.trust().unit(code);
    return c ? c->name : std::string();
  };
  auto proc_name = [&](const std::string& code) {
    auto p = reg.latest(code);
    return p ? (*p)->name : std::string();
  };
  json ju = json::array(), jp = json::array(), jm = json::array(), jr = json::array();
  for (const auto& [k, f] : units) {
    json j{{"unit", k}, {"name", unit_name(k)}};
    j.update(figures_json(f));
    ju.push_back(std::move(j));
  }
  for (const auto& [k, f] : procs) {
    json j{{"procedure", k}, {"name", proc_name(k)}};
    j.update(figures_json(f));
    jp.push_back(std::move(j));
  }
  for (const auto& [k, f] : months) {
    json j{{"month", k}};
    j.update(figures_json(f));
    jm.push_back(std::move(j));
  }
  for (const auto& [k, f] : cells_) {
    json j{{"unit", std::get<0>(k)}, {"unit_name", unit_name(std::get<0>(k))}, {"procedure", std::get<1>(k)},
           {"month", std::get<2>(k)}};
    j.update(figures_json(f));
    jr.push_back(std::move(j));
  }
  return json{{"units", ju}, {"procedures", jp}, {"months", jm}, {"rows", jr}};
}

Result<json> build_report(const Store& store, std::optional<int64_t> from, std::optional<int64_t> to, int64_t now,
                          bool devices, const std::function<bool()>& cancelled) {
  const auto& reg = store.registry();
  const auto& cal = reg.calendar();
  int64_t as_of = to.value_or(now);
  ReportBuilder b(cal, as_of);
  Status st = store.dossier_rows(from.value_or(INT64_MIN), to.value_or(INT64_MAX),
                                 [&, n = 0](const Store::DossierRow& r) mutable -> Status {
                                   if (cancelled && ++n % 4096 == 0 && cancelled())
                                     return make_error(Errc::io, "report: cancelled");
                                   return b.add(r);
                                 });
  if (!st) return st.error();
  json out = b.finish(reg);
  out["from"] = from ? json(cal.iso(*from)) : json();
  out["to"] = cal.iso(as_of);
  if (devices) {
    auto d = store.devices_report();
    if (!d) return d.error();
    out["devices"] = std::move(*d);
  }
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

namespace {

// The columns of a table: its key columns, then the figures (devices have their own).
std::vector<std::string> columns(const std::string& table) {
  std::vector<std::string> c;
  if (table == "devices") return {"device", "name", "unit", "acked", "pending", "last_sync"};
  if (table == "units") c = {"unit", "name"};
  else if (table == "procedures") c = {"procedure", "name"};
  else if (table == "months") c = {"month"};
  else if (table == "rows") c = {"unit", "unit_name", "procedure", "month"};
  for (const char* k : kFigureKeys) c.push_back(k);
  c.push_back("on_time_rate");
  return c;
}

std::string cell(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    std::ostringstream o;
    o << v.get<double>();
    return o.str();
  }
  return v.dump();
}

}  // namespace

Result<std::string> report_csv(const json& report, const std::string& table) {
  if (std::find_if(std::begin(kReportTables), std::end(kReportTables), [&](const char* t) { return table == t; }) ==
      std::end(kReportTables))
    return make_error(Errc::invalid_argument, "unknown table \"" + table + "\" (units, procedures, months, rows, devices)");
  if (!report.contains(table)) return make_error(Errc::not_found, "the report has no " + table + " (devices need --data)");
  auto cols = columns(table);
  std::string out;
  auto line = [&](const std::vector<std::string>& fields) {
    for (size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + csv_field(fields[i]);
    out += "\r\n";
  };
  line(cols);
  for (const auto& r : report[table]) {
    std::vector<std::string> f;
    for (const auto& c : cols) f.push_back(r.contains(c) ? cell(r[c]) : "");
    line(f);
  }
  return out;
}

namespace {

// Columns on a terminal: code points, not bytes (Vietnamese letters are 2-3
// bytes; combining marks take no column).
size_t display_width(const std::string& s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    uint32_t cp = n == 2 && i + 1 < s.size() ? ((c & 0x1F) << 6) | (s[i + 1] & 0x3F) : 0;
    if (!(cp >= 0x300 && cp <= 0x36F)) ++w;
    i += n;
  }
  return w;
}

std::string title_of(const std::string& key, bool vi) {
  static const std::map<std::string, std::pair<const char*, const char*>> t = {
      {"unit", {"unit", "đơn vị"}},
      {"name", {"name", "tên"}},
      {"unit_name", {"unit name", "tên đơn vị"}},
      {"procedure", {"procedure", "thủ tục"}},
      {"month", {"month", "tháng"}},
      {"dossiers", {"received", "tiếp nhận"}},
      {"events", {"events", "bước"}},
      {"finished", {"finished", "đã giải quyết"}},
      {"early", {"early", "trước hạn"}},
      {"on_time", {"on time", "đúng hạn"}},
      {"late", {"late", "trễ hạn"}},
      {"overdue", {"overdue now", "đang quá hạn"}},
      {"supplements", {"suppl.", "bổ sung"}},
      {"refusals", {"refused", "từ chối"}},
      {"extensions", {"extended", "gia hạn"}},
      {"forwarded", {"forwarded", "chuyển"}},
      {"withdrawn", {"withdrawn", "rút"}},
      {"on_time_rate", {"on-time %", "% đúng hạn"}},
      {"device", {"device", "thiết bị"}},
      {"acked", {"acked", "đã nhận"}},
      {"pending", {"pending", "chờ gửi"}},
      {"last_sync", {"last sync", "đồng bộ lần cuối"}},
  };
  auto it = t.find(key);
  if (it == t.end()) return key;
  return vi ? it->second.second : it->second.first;
}

std::string text_cell(const std::string& key, const json& v) {
  if (key == "on_time_rate" && v.is_number()) {
    char b[16];
    std::snprintf(b, sizeof b, "%.1f", 100.0 * v.get<double>());
    return b;
  }
  if (key == "device" && v.is_string()) return v.get<std::string>().substr(0, 12);  // an id prefix is enough to tell them apart
  if (v.is_null()) return "-";
  return cell(v);
}

}  // namespace

std::string report_text(const json& report, bool vi) {
  static const std::map<std::string, std::pair<const char*, const char*>> heads = {
      {"units", {"By unit", "Theo đơn vị"}},
      {"procedures", {"By procedure", "Theo thủ tục"}},
      {"months", {"By month", "Theo tháng"}},
      {"rows", {"By unit, procedure and month", "Theo đơn vị, thủ tục và tháng"}},
      {"devices", {"Devices", "Thiết bị"}}};
  std::string out;
  out += vi ? "Từ " : "From ";
  out += report.value("from", json()).is_string() ? report["from"].get<std::string>() : (vi ? "đầu" : "the start");
  out += vi ? " đến " : " to ";
  out += report.value("to", json()).is_string() ? report["to"].get<std::string>() : "";
  out += "\n";
  for (const char* table : kReportTables) {
    if (!report.contains(table)) continue;
    auto cols = columns(table);
    if (std::string(table) == "rows") cols.erase(std::find(cols.begin(), cols.end(), "unit_name"));
    std::vector<std::vector<std::string>> grid{{}};
    for (const auto& c : cols) grid[0].push_back(title_of(c, vi));
    for (const auto& r : report[table]) {
      std::vector<std::string> f;
      for (const auto& c : cols) f.push_back(r.contains(c) ? text_cell(c, r[c]) : "");
      grid.push_back(std::move(f));
    }
    std::vector<size_t> w(cols.size(), 0);
    for (const auto& row : grid)
      for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], display_width(row[i]));
    out += "\n";
    out += vi ? heads.at(table).second : heads.at(table).first;
    out += "\n";
    for (const auto& row : grid) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        // Text columns (keys, names) to the left, figures to the right.
        bool text = i < cols.size() && (cols[i] == "unit" || cols[i] == "name" || cols[i] == "procedure" || cols[i] == "month" ||
                                        cols[i] == "device" || cols[i] == "last_sync");
        std::string pad(w[i] - display_width(row[i]), ' ');
        line += (i ? "  " : "") + (text ? row[i] + pad : pad + row[i]);
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    if (grid.size() == 1) out += vi ? "(không có)\n" : "(none)\n";
  }
  return out;
}

}  // namespace hoso::engine
