// The dashboard's page, drawn entirely on the server: tables and an inline
// SVG heat map, no script, so it renders the same in any browser and under
// the strictest CSP (styles come from /dashboard.css; SVG colours are
// presentation attributes, which CSP does not treat as inline style).
#include <algorithm>
#include <climits>
#include <iterator>
#include <cmath>
#include <map>
#include <set>

#include "hoso/engine/calendar.hpp"
#include "hoso/ui/dashboard.hpp"
#include "html.hpp"

namespace hoso::ui {
namespace {

using json = nlohmann::json;


std::string str(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
// A table of the report (an empty one when absent: a laptop's report has no devices).
const json& table(const json& j, const char* k) {
  static const json empty = json::array();
  auto it = j.find(k);
  return it != j.end() && it->is_array() ? *it : empty;
}
int64_t num(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// Vietnamese number style: 12.345 and 87,5%.
std::string fmt_int(int64_t v) {
  std::string d = std::to_string(v < 0 ? -v : v), o;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) o += '.';
    o += d[i];
  }
  return (v < 0 ? "-" : "") + o;
}
std::string fmt_rate(double r) {
  char b[16];
  std::snprintf(b, sizeof b, "%.1f", 100.0 * r);
  std::string s = b;
  std::replace(s.begin(), s.end(), '.', ',');
  return s + "%";
}
std::string rate_of(const json& row) {
  auto it = row.find("on_time_rate");
  return it != row.end() && it->is_number() ? fmt_rate(it->get<double>()) : "–";
}

// "2026-03-10T09:00:00+07:00" as "10/03/2026" and "09:00 ngày 10/03/2026".
std::string vn_date(const std::string& iso) {
  return iso.size() >= 10 ? iso.substr(8, 2) + "/" + iso.substr(5, 2) + "/" + iso.substr(0, 4) : iso;
}
std::string vn_time(const std::string& iso) { return iso.size() >= 16 ? iso.substr(11, 5) + " ngày " + vn_date(iso) : iso; }

// Truncates to n code points (a long commune name must not push the chart off the page).
std::string clip(const std::string& s, size_t n) {
  size_t cps = 0, i = 0;
  for (; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && cps++ == n) break;
  return i < s.size() ? s.substr(0, i) + "…" : s;
}

const char* kFigures[][2] = {{"dossiers", "Tiếp nhận"},     {"finished", "Đã giải quyết"}, {"early", "Trước hạn"},
                             {"on_time", "Đúng hạn"},       {"late", "Trễ hạn"},           {"overdue", "Đang quá hạn"},
                             {"supplements", "Yêu cầu bổ sung"}, {"refusals", "Từ chối"},   {"extensions", "Gia hạn (xin lỗi)"},
                             {"forwarded", "Chuyển cấp trên"}, {"withdrawn", "Rút hồ sơ"}};

// A table of figures: `keys` are the leading columns (JSON key, title).
std::string figures_table(const std::string& id, const json& rows, const std::vector<std::pair<std::string, std::string>>& keys) {
  std::string h = "<table id=\"" + id + "\"><thead><tr>";
  for (const auto& [k, t] : keys) h += "<th>" + html_escape(t) + "</th>";
  for (const auto& f : kFigures) h += std::string("<th class=\"n\">") + f[1] + "</th>";
  h += "<th class=\"n\">Tỷ lệ đúng hạn</th></tr></thead><tbody>";
  for (const auto& r : rows) {
    h += "<tr data-key=\"" + html_escape(str(r, keys.front().first.c_str())) + "\">";
    for (const auto& [k, t] : keys) h += "<td>" + html_escape(str(r, k.c_str())) + "</td>";
    for (const auto& f : kFigures) h += std::string("<td class=\"n\" data-k=\"") + f[0] + "\">" + fmt_int(num(r, f[0])) + "</td>";
    h += "<td class=\"n\" data-k=\"on_time_rate\">" + rate_of(r) + "</td></tr>";
  }
  if (rows.empty()) h += "<tr><td colspan=\"" + std::to_string(keys.size() + std::size(kFigures) + 1) + "\">Chưa có hồ sơ nào.</td></tr>";
  return h + "</tbody></table>";
}

// The heat map: a row per commune, a column per month, each cell the share of
// dossiers finished on time or early (grey when none finished).
std::string chart(const json& report) {
  struct Cell { int64_t finished = 0, good = 0; };
  std::map<std::string, std::map<std::string, Cell>> grid;  // unit -> month
  std::set<std::string> months;
  std::map<std::string, std::string> names;
  for (const auto& r : table(report, "rows")) {
    auto& c = grid[str(r, "unit")][str(r, "month")];
    c.finished += num(r, "finished");
    c.good += num(r, "early") + num(r, "on_time");
    months.insert(str(r, "month"));
    names[str(r, "unit")] = str(r, "unit_name");
  }
  if (grid.empty()) return "<p class=\"empty\">Chưa có hồ sơ nào trong khoảng thời gian này.</p>";
  const int label_w = 230, cell_w = 64, cell_h = 26, top = 34;
  int w = label_w + cell_w * static_cast<int>(months.size()) + 10;
  int h = top + cell_h * static_cast<int>(grid.size()) + 6;
  std::string s = "<svg id=\"ontime-chart\" role=\"img\" width=\"" + std::to_string(w) +
                  "\" height=\"" + std::to_string(h) + "\" viewBox=\"0 0 " + std::to_string(w) + " " + std::to_string(h) +
                  "\" font-family=\"sans-serif\" font-size=\"12\"><title>Tỷ lệ giải quyết đúng hạn theo xã và tháng</title>";
  int x = label_w;
  for (const auto& m : months) {
    // "2026-03" as "03/2026", the way a Vietnamese report writes a month.
    std::string label = m.size() == 7 ? m.substr(5, 2) + "/" + m.substr(0, 4) : m;
    s += "<text x=\"" + std::to_string(x + cell_w / 2) + "\" y=\"" + std::to_string(top - 10) +
         "\" text-anchor=\"middle\" fill=\"#333\">" + html_escape(label) + "</text>";
    x += cell_w;
  }
  int y = top;
  for (const auto& [unit, row] : grid) {
    std::string name = names[unit].empty() ? unit : names[unit];
    s += "<text x=\"" + std::to_string(label_w - 8) + "\" y=\"" + std::to_string(y + cell_h / 2 + 4) +
         "\" text-anchor=\"end\" fill=\"#222\">" + html_escape(clip(name, 32)) + "</text>";
    x = label_w;
    for (const auto& m : months) {
      auto it = row.find(m);
      std::string fill = "#e4e4e4", label = "", text_fill = "#555";
      if (it != row.end() && it->second.finished > 0) {
        double r = double(it->second.good) / double(it->second.finished);
        // Red (0%) through amber to green (100%).
        fill = "hsl(" + std::to_string(static_cast<int>(std::lround(120 * r))) + ",65%,42%)";
        label = fmt_rate(r);
        text_fill = "#fff";
      } else if (it != row.end()) {
        label = "…";  // received, nothing finished yet
      }
      s += "<g data-unit=\"" + html_escape(unit) + "\" data-month=\"" + html_escape(m) + "\"><rect x=\"" + std::to_string(x + 1) + "\" y=\"" +
           std::to_string(y + 1) + "\" width=\"" + std::to_string(cell_w - 2) + "\" height=\"" + std::to_string(cell_h - 2) +
           "\" rx=\"3\" fill=\"" + fill + "\"/>";
      if (!label.empty())
        s += "<text x=\"" + std::to_string(x + cell_w / 2) + "\" y=\"" + std::to_string(y + cell_h / 2 + 4) +
             "\" text-anchor=\"middle\" fill=\"" + text_fill + "\">" + html_escape(label) + "</text>";
      s += "</g>";
      x += cell_w;
    }
    y += cell_h;
  }
  s += "</svg><p class=\"note\">Ô xám: chưa có hồ sơ nào giải quyết xong trong tháng; “…”: đã tiếp nhận, chưa giải quyết xong.</p>";
  return s;
}

}  // namespace

std::vector<StaleUnit> stale_units(const json& devices, const std::map<std::string, std::string>& names, int64_t now,
                                   int64_t stale_after) {
  std::map<std::string, StaleUnit> by_unit;
  for (const auto& d : devices) {
    std::string unit = str(d, "unit");
    if (unit.empty()) continue;
    auto& u = by_unit[unit];
    u.unit = unit;
    u.devices++;
    std::string iso = str(d, "last_sync");
    if (iso.empty()) continue;  // never synced
    auto t = engine::parse_iso8601(iso);
    if (t && (!u.last_sync || *t > *u.last_sync)) u.last_sync = *t, u.last_sync_iso = iso;
  }
  std::vector<StaleUnit> out;
  for (auto& [code, u] : by_unit) {
    if (u.last_sync && *u.last_sync >= now - stale_after) continue;
    auto n = names.find(code);
    if (n != names.end()) u.name = n->second;
    out.push_back(std::move(u));
  }
  // Never synced first, then the longest silent.
  std::stable_sort(out.begin(), out.end(), [](const StaleUnit& a, const StaleUnit& b) {
    return a.last_sync.value_or(INT64_MIN) < b.last_sync.value_or(INT64_MIN);
  });
  return out;
}

std::string dashboard_html(const json& report, const std::vector<StaleUnit>& stale, const std::string& now_iso) {
  int64_t total_received = 0, total_finished = 0, total_good = 0, total_overdue = 0;
  for (const auto& u : table(report, "units")) {
    total_received += num(u, "dossiers");
    total_finished += num(u, "finished");
    total_good += num(u, "early") + num(u, "on_time");
    total_overdue += num(u, "overdue");
  }
  std::string from = str(report, "from"), to = str(report, "to");
  std::string h =
      "<!doctype html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>Theo dõi giải quyết hồ sơ – hoso</title><link rel=\"stylesheet\" href=\"/dashboard.css\"></head><body>"
      "<header><h1>Theo dõi giải quyết thủ tục hành chính</h1><p>Số liệu lúc <time id=\"now\" datetime=\"" + html_escape(now_iso) +
      "\">" + html_escape(vn_time(now_iso)) + "</time> · hồ sơ tiếp nhận " +
      (from.empty() ? std::string("đến hết ngày ") : "từ ngày " + html_escape(vn_date(from)) + " đến hết ngày ") + html_escape(vn_date(to)) + "</p>" +
      "<form method=\"get\" action=\"/\"><label>Từ ngày <input type=\"date\" name=\"from\" value=\"" + html_escape(from.substr(0, 10)) +
      "\"></label> <label>Đến ngày <input type=\"date\" name=\"to\" value=\"" + html_escape(to.substr(0, 10)) +
      "\"></label> <button type=\"submit\">Xem</button></form></header><main>";
  h += "<section class=\"tiles\">";
  auto tile = [&](const char* id, const std::string& v, const char* label) {
    h += std::string("<div class=\"tile\" id=\"") + id + "\"><b>" + v + "</b><span>" + label + "</span></div>";
  };
  tile("t-received", fmt_int(total_received), "Hồ sơ tiếp nhận");
  tile("t-finished", fmt_int(total_finished), "Đã giải quyết");
  tile("t-rate", total_finished ? fmt_rate(double(total_good) / double(total_finished)) : "–", "Tỷ lệ đúng hạn");
  tile("t-overdue", fmt_int(total_overdue), "Đang quá hạn");
  tile("t-stale", fmt_int(static_cast<int64_t>(stale.size())), "Xã chưa đồng bộ quá 1 ngày");
  h += "</section>";

  h += "<section><h2>Xã chưa đồng bộ quá 1 ngày</h2>";
  if (stale.empty()) {
    h += "<p id=\"stale-none\">Mọi xã đều đã đồng bộ trong vòng 24 giờ.</p>";
  } else {
    h += "<table id=\"stale\"><thead><tr><th>Mã đơn vị</th><th>Tên đơn vị</th><th>Đồng bộ lần cuối</th><th class=\"n\">Số máy</th></tr></thead><tbody>";
    for (const auto& u : stale)
      h += "<tr data-key=\"" + html_escape(u.unit) + "\"><td>" + html_escape(u.unit) + "</td><td>" + html_escape(u.name) + "</td><td>" +
           (u.last_sync ? html_escape(u.last_sync_iso) : std::string("chưa bao giờ")) + "</td><td class=\"n\">" + fmt_int(u.devices) +
           "</td></tr>";
    h += "</tbody></table>";
  }
  h += "</section>";

  h += "<section><h2>Tỷ lệ giải quyết đúng hạn theo xã và tháng</h2><div class=\"chart\">" + chart(report) + "</div></section>";
  h += "<section><h2>Theo đơn vị</h2>" +
       figures_table("units", table(report, "units"), {{"unit", "Mã đơn vị"}, {"name", "Tên đơn vị"}}) + "</section>";
  h += "<section><h2>Theo thủ tục</h2>" +
       figures_table("procedures", table(report, "procedures"), {{"procedure", "Mã thủ tục"}, {"name", "Tên thủ tục"}}) +
       "</section>";
  h += "<section><h2>Theo tháng</h2>" + figures_table("months", table(report, "months"), {{"month", "Tháng"}}) +
       "</section>";

  h += "<section><h2>Máy trạm</h2><table id=\"devices\"><thead><tr><th>Máy</th><th>Đơn vị</th><th class=\"n\">Đã nhận đến số</th>"
       "<th class=\"n\">Chờ gửi</th><th>Đồng bộ lần cuối</th></tr></thead><tbody>";
  for (const auto& d : table(report, "devices")) {
    auto pending = d.find("pending");
    h += "<tr data-key=\"" + html_escape(str(d, "device")) + "\"><td title=\"" + html_escape(str(d, "device")) + "\">" +
         html_escape(str(d, "name").empty() ? str(d, "device").substr(0, 12) : str(d, "name")) + "</td><td>" + html_escape(str(d, "unit")) +
         "</td><td class=\"n\" data-k=\"acked\">" + fmt_int(num(d, "acked")) + "</td><td class=\"n\" data-k=\"pending\">" +
         (pending != d.end() && pending->is_number_integer() ? fmt_int(pending->get<int64_t>()) : "–") + "</td><td>" +
         (str(d, "last_sync").empty() ? std::string("chưa bao giờ") : html_escape(str(d, "last_sync"))) + "</td></tr>";
  }
  h += "</tbody></table></section></main>"
       "<footer>Chỉ đọc. Số liệu dạng JSON: <a href=\"/api/report\">/api/report</a> · "
       "Tỷ lệ đúng hạn = (trước hạn + đúng hạn) / đã giải quyết.</footer></body></html>\n";
  return h;
}

const std::string& dashboard_css() {
  static const std::string css = R"CSS(body{font-family:"Noto Sans",Arial,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#8b1a1a;color:#fff;padding:12px 24px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0 0 8px}
header form{margin:0}
header input,header button{font:inherit}
main{padding:12px 24px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 16px;margin:0 0 14px}
h2{font-size:17px;margin:6px 0 10px}
.tiles{display:flex;gap:12px;flex-wrap:wrap;background:none;border:0;padding:0}
.tile{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 16px;min-width:150px}
.tile b{display:block;font-size:26px}
.tile span{color:#555}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 6px;text-align:left}
th{background:#f0f0f0}
.n{text-align:right}
.chart{overflow-x:auto}
#stale td{color:#8b1a1a}
.note{color:#555;font-size:13px;margin:4px 0}
footer{padding:8px 24px 20px;color:#555;font-size:13px}
)CSS";
  return css;
}

}  // namespace hoso::ui
