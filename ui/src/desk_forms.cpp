// The printable forms of the one-stop desk (the numbering follows the forms
// of Circular 01/2018/TT-VPCP): 01 receipt and appointment slip, 02
// supplement request, 03 refusal, 04 apology and new appointment, 06 process
// control slip, 07 dossier register. Rendered on the server as plain HTML with
// an A4 print stylesheet, so printing needs nothing but the browser.
#include <algorithm>
#include <optional>
#include <sstream>

#include "desk_internal.hpp"
#include "hoso/engine/calendar.hpp"

namespace hoso::ui {

std::string vi_label(const std::string& n) {
  static const std::map<std::string, std::string> m = {
      {"receive", "Tiếp nhận"},           {"review", "Thẩm định"},          {"sign", "Ký duyệt"},
      {"deliver", "Trả kết quả"},         {"province_review", "Tỉnh thẩm định"}, {"accept", "Chấp nhận"},
      {"approve", "Phê duyệt"},           {"send_back", "Trả lại"},         {"forward", "Chuyển cấp trên"},
      {"request_supplement", "Yêu cầu bổ sung"}, {"reject", "Từ chối"},     {"withdraw", "Rút hồ sơ"},
      {"suspend", "Tạm dừng"},            {"resume", "Tiếp tục"},           {"extend", "Gia hạn"},
      {"amend", "Sửa thông tin"},         {"resolve", "Xử lý nhánh"},       {"received", "Mới tiếp nhận"},
      {"in_progress", "Đang xử lý"},      {"forwarded", "Đã chuyển"},       {"awaiting_supplement", "Chờ bổ sung"},
      {"suspended", "Tạm dừng"},          {"approved", "Đã duyệt"},         {"returned", "Đã trả kết quả"},
      {"rejected", "Từ chối"},            {"withdrawn", "Đã rút"},          {"early", "Trước hạn"},
      {"on_time", "Đúng hạn"},            {"late", "Quá hạn"}};
  auto it = m.find(n);
  return it == m.end() ? n : it->second;
}

namespace {

HttpResponse page(int status, const std::string& html) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = html;
  return r;
}

HttpResponse problem(int status, const std::string& msg) {
  return page(status, "<!doctype html><meta charset=\"utf-8\"><title>hoso</title><p>" + html_escape(msg) + "</p>");
}

// The heading every administrative document carries: the unit on the left,
// the national motto on the right, the place and date below it.
std::string heading(const Desk::Impl& d, const std::string& unit, const std::string& number, int64_t at) {
  std::string parent;
  if (const auto* u = d.store.registry().trust().unit(unit); u && u->parent) parent = d.unit_name(*u->parent);
  std::string iso = d.iso(at);
  std::ostringstream o;
  o << "<table class=\"heading\"><tr><td class=\"unit\">";
  if (!parent.empty()) o << "<div>" << html_escape(parent) << "</div>";
  o << "<div class=\"b\">" << html_escape(d.unit_name(unit)) << "</div><div class=\"rule\"></div>";
  if (!number.empty()) o << "<div>Số: " << html_escape(number) << "</div>";
  o << "</td><td class=\"nation\"><div class=\"b\">CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</div>"
    << "<div class=\"b motto\">Độc lập - Tự do - Hạnh phúc</div><div class=\"rule\"></div>"
    << "<div class=\"i\">ngày " << iso.substr(8, 2) << " tháng " << iso.substr(5, 2) << " năm " << iso.substr(0, 4)
    << "</div></td></tr></table>";
  return o.str();
}

std::string doc(const std::string& title, const std::string& body, bool landscape = false) {
  return "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
         "</title><link rel=\"stylesheet\" href=\"/assets/print.css\"><script src=\"/assets/print.js\" defer></script></head><body" +
         (landscape ? " class=\"landscape\"" : "") +
         "><nav class=\"noprint\"><button id=\"print\" accesskey=\"p\">In (Ctrl+P)</button> <a href=\"/\">Quay lại</a></nav>"
         "<main class=\"sheet\">" + body + "</main></body></html>";
}

std::string signatures(const std::string& left, const std::string& right, const std::string& right_name) {
  return "<table class=\"signs\"><tr><td><div class=\"b\">" + left + "</div><div class=\"i\">(Ký và ghi rõ họ tên)</div></td><td><div class=\"b\">" +
         right + "</div><div class=\"i\">(Ký và ghi rõ họ tên)</div><div class=\"signed\">" + html_escape(right_name) +
         "</div></td></tr></table>";
}

struct Loaded {
  engine::DossierState st;
  engine::DossierEvents events;
  std::vector<const engine::Event*> chain;
  const engine::Procedure* proc = nullptr;
};

std::optional<Loaded> load(const Desk::Impl& d, const std::string& code, HttpResponse& err) {
  auto events = d.store.events_of(code);
  auto st = events ? d.store.dossier(code) : Result<engine::DossierState>(events.error());
  if (!st) {
    err = problem(st.error().code == Errc::not_found ? 404 : 500, st.error().message);
    return std::nullopt;
  }
  Loaded l{std::move(*st), std::move(*events), {}, nullptr};
  l.chain = engine::current_chain(l.events);
  if (auto p = d.store.registry().procedure(l.st.procedure, l.st.version)) l.proc = *p;
  return l;
}

const engine::Event* last_of(const Loaded& l, const std::string& action) {
  for (auto it = l.chain.rbegin(); it != l.chain.rend(); ++it)
    if ((*it)->body.action == action) return *it;
  return nullptr;
}

std::string applicant_block(const Desk::Impl& d, const Loaded& l) {
  std::ostringstream o;
  o << "<p>Mã hồ sơ: <b class=\"code\">" << html_escape(l.st.code) << "</b></p>"
    << "<p>Ông/Bà: <b>" << html_escape(l.st.applicant) << "</b></p>";
  for (const auto& [k, v] : l.st.fields) {
    std::string label = k;
    if (l.proc)
      for (const auto& f : l.proc->fields)
        if (f.name == k) label = f.label;
    o << "<p>" << html_escape(label) << ": " << html_escape(v) << "</p>";
  }
  o << "<p>Nội dung yêu cầu giải quyết: <b>" << html_escape(l.proc ? l.proc->name : l.st.procedure) << "</b> (mã thủ tục "
    << html_escape(l.st.procedure) << ")</p>";
  (void)d;
  return o.str();
}

HttpResponse form01(const Desk::Impl& d, const Loaded& l) {
  const auto* rcv = l.chain.empty() ? nullptr : l.chain.front();
  auto qr = qr_svg("HOSO1|" + l.st.code + "|" + l.st.head);
  // The appointment given at receipt: a finished dossier no longer has a due time, but keeps its base.
  std::optional<int64_t> appointment = l.st.due_at ? l.st.due_at : l.st.due_base;
  std::ostringstream o;
  o << heading(d, l.st.unit, l.st.code, l.st.received_at)
    << "<h1>GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ</h1>"
    << "<div class=\"qr\">" << (qr ? *qr : "") << "</div>"
    << "<p>Bộ phận tiếp nhận và trả kết quả " << html_escape(d.unit_name(l.st.unit)) << " tiếp nhận hồ sơ của:</p>"
    << applicant_block(d, l)
    << "<p>1. Thành phần hồ sơ nộp gồm:</p><table class=\"grid\"><tr><th>STT</th><th>Tên giấy tờ</th><th>Dung lượng</th></tr>";
  int i = 0;
  for (const auto& a : l.st.attachments)
    o << "<tr><td>" << ++i << "</td><td>" << html_escape(a.name) << "</td><td>" << (a.size + 1023) / 1024 << " KB</td></tr>";
  if (!i) o << "<tr><td colspan=\"3\">(không có)</td></tr>";
  o << "</table>"
    << "<p>2. Thời gian giải quyết hồ sơ theo quy định là: " << (l.proc ? std::to_string(l.proc->total_working_days) : "?")
    << " ngày làm việc</p>"
    << "<p>3. Thời gian nhận hồ sơ: <b>" << d.when(l.st.received_at) << "</b></p>"
    << "<p>4. Thời gian trả kết quả giải quyết hồ sơ: <b class=\"due\">"
    << (appointment ? d.when(*appointment) : std::string("(đang dừng tính thời gian)")) << "</b></p>"
    << "<p class=\"small\">Mã QR: mã hồ sơ và dấu vết (hash) của bước ký gần nhất, để tra cứu và kiểm tra hồ sơ.</p>"
    << signatures("NGƯỜI NỘP HỒ SƠ", "NGƯỜI TIẾP NHẬN HỒ SƠ", rcv ? d.officer_name(rcv->body.actor) : "");
  return page(200, doc("Giấy tiếp nhận " + l.st.code, o.str()));
}

HttpResponse form_note(const Desk::Impl& d, const Loaded& l, const std::string& action, const std::string& title,
                       const std::string& lead, const std::string& tail) {
  const auto* e = last_of(l, action);
  if (!e) return problem(404, "hồ sơ " + l.st.code + " chưa có bước \"" + vi_label(action) + "\"");
  std::ostringstream o;
  o << heading(d, l.st.unit, l.st.code, e->body.at) << "<h1>" << title << "</h1>"
    << "<p>Bộ phận tiếp nhận và trả kết quả " << html_escape(d.unit_name(l.st.unit)) << " tiếp nhận hồ sơ của:</p>"
    << applicant_block(d, l) << "<p>Ngày tiếp nhận: " << d.when(l.st.received_at) << "</p>"
    << "<p>" << lead << "</p><div class=\"note\">" << html_escape(e->body.note()) << "</div>" << tail
    << "<p>Xin trân trọng cảm ơn./.</p>"
    << signatures("NGƯỜI NỘP HỒ SƠ", "NGƯỜI LẬP PHIẾU", d.officer_name(e->body.actor));
  return page(200, doc(title + " " + l.st.code, o.str()));
}

HttpResponse form06(const Desk::Impl& d, const Loaded& l) {
  std::ostringstream o;
  o << heading(d, l.st.unit, l.st.code, l.st.received_at) << "<h1>PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ</h1>"
    << applicant_block(d, l) << "<p>Thời gian nhận hồ sơ: " << d.when(l.st.received_at) << "; hẹn trả kết quả: "
    << (l.st.due_at ? d.when(*l.st.due_at) : std::string("(đang dừng tính thời gian)")) << "</p>"
    << "<table class=\"grid\"><tr><th>STT</th><th>Bước</th><th>Thao tác</th><th>Cán bộ</th><th>Thời gian</th>"
       "<th>Kết quả (đúng hạn/quá hạn)</th><th>Ghi chú</th></tr>";
  int i = 0;
  for (const auto* e : l.chain) {
    std::optional<int64_t> due;
    for (const auto& v : l.st.visits)
      if (v.step == e->body.step && v.entered_at <= e->body.at && (!v.left_at || e->body.at <= *v.left_at)) due = v.due_at;
    bool on_time = !due || e->body.at <= *due;
    o << "<tr><td>" << ++i << "</td><td>" << html_escape(vi_label(e->body.step)) << "</td><td>"
      << html_escape(vi_label(e->body.action)) << "</td><td>" << html_escape(d.officer_name(e->body.actor)) << "</td><td>"
      << d.when(e->body.at) << "</td><td class=\"" << (on_time ? "ok" : "late") << "\">" << (on_time ? "Đúng hạn" : "Quá hạn")
      << "</td><td>" << html_escape(e->body.note()) << "</td></tr>";
  }
  o << "</table>";
  if (l.st.timeliness) o << "<p>Kết quả giải quyết: <b>" << html_escape(vi_label(*l.st.timeliness)) << "</b></p>";
  return page(200, doc("Phiếu kiểm soát " + l.st.code, o.str()));
}

HttpResponse form07(const Desk::Impl& d, const std::map<std::string, std::string>& q) {
  auto get = [&](const char* k) {
    auto it = q.find(k);
    return it == q.end() ? std::string() : it->second;
  };
  const auto& cal = d.store.registry().calendar();
  int off = cal.utc_offset_minutes() != 0 ? cal.utc_offset_minutes() : 7 * 60;
  auto from = engine::parse_civil_date(get("from")), to = engine::parse_civil_date(get("to"));
  if (!from || !to || *to < *from) return problem(400, "chọn khoảng ngày: from=YYYY-MM-DD&to=YYYY-MM-DD (from ≤ to)");
  int64_t lo = *from * 86400 - off * 60, hi = (*to + 1) * 86400 - off * 60 - 1;
  int64_t now = d.now();
  auto rows = d.store.list({}, now);
  if (!rows) return problem(500, rows.error().message);
  std::vector<engine::DossierState> in;
  for (auto& s : *rows)
    if (s.received_at >= lo && s.received_at <= hi) in.push_back(std::move(s));
  std::sort(in.begin(), in.end(), [](const auto& a, const auto& b) { return a.received_at != b.received_at ? a.received_at < b.received_at : a.code < b.code; });
  std::string unit = in.empty() ? std::string() : in.front().unit;
  if (const auto* dev = d.store.registry().trust().certificate(d.store.device_cert_id()); in.empty() && dev) unit = dev->unit;
  std::ostringstream o;
  o << heading(d, unit, "", now) << "<h1>SỔ THEO DÕI HỒ SƠ</h1><p class=\"center\">Từ ngày " << get("from").substr(8, 2) << "/"
    << get("from").substr(5, 2) << "/" << get("from").substr(0, 4) << " đến ngày " << get("to").substr(8, 2) << "/"
    << get("to").substr(5, 2) << "/" << get("to").substr(0, 4) << "</p>"
    << "<table class=\"grid\"><tr><th>STT</th><th>Mã hồ sơ</th><th>Thủ tục</th><th>Người nộp</th><th>Ngày nhận</th>"
       "<th>Hẹn trả</th><th>Trạng thái</th><th>Kết quả</th></tr>";
  int i = 0;
  for (const auto& s : in) {
    auto p = d.store.registry().procedure(s.procedure, s.version);
    o << "<tr><td>" << ++i << "</td><td>" << html_escape(s.code) << "</td><td>" << html_escape(p ? (*p)->name : s.procedure)
      << "</td><td>" << html_escape(s.applicant) << "</td><td>" << d.when(s.received_at) << "</td><td>"
      << (s.due_at ? d.when(*s.due_at) : "") << "</td><td>" << html_escape(vi_label(s.status)) << (s.overdue(now) ? " (quá hạn)" : "")
      << "</td><td>" << (s.timeliness ? html_escape(vi_label(*s.timeliness)) : "") << "</td></tr>";
  }
  if (!i) o << "<tr><td colspan=\"8\">(không có hồ sơ)</td></tr>";
  o << "</table><p>Tổng số: " << i << " hồ sơ</p>";
  return page(200, doc("Sổ theo dõi hồ sơ", o.str(), true));
}

}  // namespace

HttpResponse render_form(Desk::Impl& d, const std::string& kind, const std::string& code,
                         const std::map<std::string, std::string>& query) {
  if (kind == "07") return form07(d, query);
  HttpResponse err;
  auto l = load(d, code, err);
  if (!l) return err;
  if (kind == "01") return form01(d, *l);
  if (kind == "06") return form06(d, *l);
  if (kind == "02")
    return form_note(d, *l, "request_supplement", "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ",
                     "Qua xem xét, hồ sơ chưa đầy đủ, đề nghị Ông/Bà bổ sung, hoàn thiện hồ sơ gồm những nội dung sau:",
                     "<p>Lý do: để hồ sơ đủ điều kiện giải quyết theo quy định.</p>");
  if (kind == "03")
    return form_note(d, *l, "reject", "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ",
                     "Sau khi xem xét, cơ quan, đơn vị từ chối tiếp nhận, giải quyết hồ sơ với lý do:", "");
  if (kind == "04") {
    std::string until = "(đang dừng tính thời gian)";
    if (l->st.due_at) until = d.when(*l->st.due_at);
    else if (const auto* e = last_of(*l, "extend"); e && e->body.payload.contains("until") && e->body.payload["until"].is_string())
      until = e->body.payload["until"].get<std::string>();
    std::string tail = "<p>Thời gian hẹn trả kết quả mới: <b>" + until +
                       "</b></p><p>Cơ quan, đơn vị thành thật xin lỗi Ông/Bà vì sự chậm trễ này.</p>";
    return form_note(d, *l, "extend", "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ",
                     "Hồ sơ chưa giải quyết được đúng hạn hẹn trả kết quả vì lý do:", tail);
  }
  return problem(404, "không có mẫu " + kind);
}

}  // namespace hoso::ui
