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

Status ReportBuilder::add(const Store::DossierRow& row) {
  auto s = json::parse(row.state, nullptr, false);
  if (s.is_discarded() || !s.is_object())
    return make_error(Errc::bad_format, "dossiers " + row.code + ": unreadable state (run hoso verify)");
  ReportFigures d;
  d.dossiers = 1;
  d.events = int_or0(s, "events");
  d.supplements = int_or0(s, "supplements");
  d.extensions = int_or0(s, "extensions");
  d.refusals = int_or0(s, "refusals");
  d.forwarded = int_or0(s, "forwards");
  auto finished_at = opt_int(s, "finished_at");
  bool finished_by = finished_at && *finished_at <= as_of_;
  auto tl_it = s.find("timeliness");
  std::string tl = tl_it != s.end() && tl_it->is_string() ? tl_it->get<std::string>() : "";
  std::string status = s.value("status", "");
  if (finished_by && status == "withdrawn") d.withdrawn = 1;
  if (finished_by && !tl.empty()) {
    d.finished = 1;
    if (tl == "early") d.early = 1;
    else if (tl == "on_time") d.on_time = 1;
    else d.late = 1;
  }
  if (!finished_by) {
    // A finished dossier's projection drops due_at; when it finished after
    // `to` it was still open then, judged against the due time it was judged by.
    auto due = finished_at ? opt_int(s, "due_base") : opt_int(s, "due_at");
    if (due && *due < as_of_ && !(finished_at && status == "withdrawn")) d.overdue = 1;
  }
  std::string month = cal_.local_date(row.opened_at).substr(0, 7);
  add_to(cells_[{row.unit, row.procedure, month}], d);
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
                          bool devices) {
  const auto& reg = store.registry();
  const auto& cal = reg.calendar();
  int64_t as_of = to.value_or(now);
  ReportBuilder b(cal, as_of);
  Status st = store.dossier_rows(from.value_or(INT64_MIN), to.value_or(INT64_MAX),
                                 [&](const Store::DossierRow& r) { return b.add(r); });
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
