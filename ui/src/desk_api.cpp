// The desk's request handler: sign-in, the JSON API the page uses, the
// embedded assets and the printable forms. Every refusal is one JSON
// {"error": "..."} with a status that says what kind of refusal it is, and
// nothing is signed or stored by a refused request.
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "desk_internal.hpp"
#include "hoso/crypto/sodium.hpp"
#include "hoso/engine/calendar.hpp"
#include "hoso/engine/workflow.hpp"
#include "hoso/sync/sync.hpp"

namespace hoso::ui {

using crypto::make_error;
using nlohmann::json;

namespace {

constexpr const char* kCookie = "hoso_session";

HttpResponse json_response(int status, const json& j) {
  HttpResponse r;
  r.status = status;
  r.body = j.dump();
  return r;
}

HttpResponse error_response(int status, const std::string& msg) { return json_response(status, json{{"error", msg}}); }

int http_status(Errc c) {
  switch (c) {
    case Errc::invalid_argument:
    case Errc::bad_format: return 400;
    case Errc::wrong_passphrase: return 401;
    case Errc::unauthorized:
    case Errc::expired:
    case Errc::revoked: return 403;
    case Errc::not_found: return 404;
    case Errc::conflict: return 409;
    case Errc::busy: return 503;
    default: return 500;
  }
}

HttpResponse error_response(const crypto::Error& e) { return error_response(http_status(e.code), e.message); }

std::string random_hex(size_t n) {
  std::string raw(n, '\0');
  randombytes_buf(raw.data(), n);
  std::string out(2 * n + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), n);
  out.resize(2 * n);
  crypto::wipe(raw.data(), raw.size());
  return out;
}

std::optional<std::string> from_base64(std::string_view s, size_t max) {
  std::string out(s.size() / 4 * 3 + 3, '\0');
  size_t n = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(), s.size(), "\r\n", &n, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return std::nullopt;
  if (n > max) return std::nullopt;
  out.resize(n);
  return out;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
             std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else out += s[i];
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    auto eq = part.find('=');
    if (eq != std::string_view::npos) out[url_decode(part.substr(0, eq))] = url_decode(part.substr(eq + 1));
    else if (!part.empty()) out[url_decode(part)] = "";
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

std::string cookie_value(const std::string& header, const std::string& name) {
  size_t i = 0;
  while (i < header.size()) {
    auto semi = header.find(';', i);
    std::string part = header.substr(i, semi == std::string::npos ? std::string::npos : semi - i);
    auto b = part.find_first_not_of(' ');
    if (b != std::string::npos) part = part.substr(b);
    if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
    if (semi == std::string::npos) break;
    i = semi + 1;
  }
  return "";
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string jstr(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const char* urgency(const engine::DossierState& d, int64_t now) {
  if (d.finished()) return "done";
  if (!d.due_at) return "stopped";
  if (now > *d.due_at) return "overdue";
  if (*d.due_at - now <= 86400) return "due_soon";
  if (*d.due_at - now <= 3 * 86400) return "upcoming";
  return "ok";
}

}  // namespace

size_t desk_max_body() { return static_cast<size_t>(engine::Store::kMaxAttachment) / 3 * 4 + (1 << 20); }

int64_t Desk::Impl::now() const {
  if (opt.now) return opt.now();
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Desk::Impl::iso(int64_t t) const {
  const auto& cal = store.registry().calendar();
  return cal.utc_offset_minutes() != 0 ? cal.iso(t) : engine::format_iso8601(t, 7 * 60);
}

std::string Desk::Impl::when(int64_t t) const {
  std::string s = iso(t);  // 2026-03-05T17:00:00+07:00
  return s.substr(11, 5) + " " + s.substr(8, 2) + "/" + s.substr(5, 2) + "/" + s.substr(0, 4);
}

std::string Desk::Impl::day(int64_t t) const {
  std::string s = iso(t);
  return s.substr(8, 2) + "/" + s.substr(5, 2) + "/" + s.substr(0, 4);
}

std::string Desk::Impl::unit_name(const std::string& code) const {
  const auto* c = store.registry().trust().unit(code);
  return c ? c->name : code;
}

std::string Desk::Impl::officer_name(const std::string& cert_id) const {
  const auto* c = store.registry().trust().certificate(cert_id);
  return c ? c->name : cert_id.substr(0, 12);
}

namespace {

// Everything one API request needs: the desk, its session (if signed in), the clock.
struct Call {
  Desk::Impl& d;
  Session* s;
  int64_t now;
  const engine::Certificate* officer() const { return s ? d.store.registry().trust().certificate(s->cert_id) : nullptr; }
};

json officer_json(const Call& c) {
  const auto* o = c.officer();
  if (!o) return json();
  return json{{"name", o->name}, {"unit", o->unit}, {"unit_name", c.d.unit_name(o->unit)}, {"roles", o->roles}};
}

std::string procedure_name(const Desk::Impl& d, const std::string& code, int64_t version) {
  auto p = d.store.registry().procedure(code, version);
  return p ? (*p)->name : code;
}

json row_json(const Call& c, const engine::DossierState& s) {
  std::string role;
  if (auto p = c.d.store.registry().procedure(s.procedure, s.version); p && (*p)->steps.count(s.step)) role = (*p)->steps.at(s.step).role;
  return json{{"code", s.code},
              {"role", role},
              {"procedure", s.procedure},
              {"procedure_name", procedure_name(c.d, s.procedure, s.version)},
              {"step", s.step},
              {"status", s.status},
              {"holder", s.holder},
              {"applicant", s.applicant},
              {"received_at", c.d.iso(s.received_at)},
              {"received", c.d.when(s.received_at)},
              {"due_at", s.due_at ? json(c.d.iso(*s.due_at)) : json()},
              {"due", s.due_at ? json(c.d.when(*s.due_at)) : json()},
              {"overdue", s.overdue(c.now)},
              {"urgency", urgency(s, c.now)}};
}

// The actions the signed-in officer may take on the dossier as it stands:
// each candidate is checked with the engine's own rule (so the page never
// offers what the store would refuse), then against the officer's roles and unit.
json allowed_actions(const Call& c, const engine::DossierState& st) {
  json out = json::array();
  const auto* o = c.officer();
  if (!o || st.finished()) return out;
  auto rules = c.d.store.registry().rules(st.procedure, st.version);
  if (!rules) return out;
  const auto& def = rules->procedure->steps.at(st.step);
  std::vector<std::string> cands;
  for (const auto& [a, _] : def.actions) cands.push_back(a);
  // amend and resolve need forms of their own (fields, a branch): the CLI does them.
  for (const char* b : {"request_supplement", "reject", "send_back", "forward", "withdraw", "suspend", "resume", "extend"})
    if (!def.actions.count(b)) cands.push_back(b);
  for (const auto& a : cands) {
    engine::EventBody b;
    b.dossier = st.code;
    b.step = st.step;
    b.action = a;
    b.payload = json{{"note", "x"}, {"until", "2000-01-01"}};
    auto req = engine::requirement(st, *rules, b);
    if (!req) continue;
    if (!o->has_role(req->role) || o->unit != req->unit) continue;
    auto t = def.actions.find(a);
    out.push_back({{"action", a},
                   {"needs_note", engine::action_needs_note(a)},
                   {"needs_date", a == "extend"},
                   {"target", t != def.actions.end() ? json(t->second) : json()}});
  }
  return out;
}

json dossier_json(const Call& c, const engine::DossierState& st, const engine::DossierEvents& events) {
  json j = row_json(c, st);
  j["unit"] = st.unit;
  j["unit_name"] = c.d.unit_name(st.unit);
  j["holder_name"] = c.d.unit_name(st.holder);
  j["version"] = st.version;
  j["fields"] = st.fields;
  j["head"] = st.head;
  j["forks"] = st.forks;
  j["timeliness"] = st.timeliness ? json(*st.timeliness) : json();
  j["supplements"] = st.supplements;
  j["extensions"] = st.extensions;
  json att = json::array();
  for (const auto& a : st.attachments) att.push_back({{"name", a.name}, {"hash", a.hash}, {"size", a.size}});
  j["attachments"] = att;
  auto proc = c.d.store.registry().procedure(st.procedure, st.version);
  json labels = json::object();
  if (proc)
    for (const auto& f : (*proc)->fields) labels[f.name] = f.label;
  j["field_labels"] = labels;
  json timeline = json::array();
  for (const auto* e : engine::current_chain(events)) {
    // The visit the event closed (or happened in): on time if before that step's due time.
    std::optional<int64_t> due;
    for (const auto& v : st.visits)
      if (v.step == e->body.step && v.entered_at <= e->body.at && (!v.left_at || e->body.at <= *v.left_at)) due = v.due_at;
    bool verified = static_cast<bool>(engine::check_signatures(*e, c.d.store.registry()));
    json row{{"action", e->body.action}, {"step", e->body.step}, {"at", c.d.iso(e->body.at)}, {"when", c.d.when(e->body.at)},
             {"actor", c.d.officer_name(e->body.actor)}, {"device", c.d.officer_name(e->body.device)},
             {"hash", e->hash}, {"verified", verified},
             {"on_time", !due || e->body.at <= *due}, {"step_due", due ? json(c.d.when(*due)) : json()}};
    if (!e->body.note().empty()) row["note"] = e->body.note();
    timeline.push_back(row);
  }
  j["timeline"] = timeline;
  j["actions"] = allowed_actions(c, st);
  return j;
}

}  // namespace

Desk::Desk(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Desk::~Desk() {
  if (impl_->sync.worker.joinable()) impl_->sync.worker.join();
}

Result<std::unique_ptr<Desk>> Desk::open(const DeskOptions& opt) {
  auto store = engine::Store::open(opt.db);
  if (!store) return store.error();
  if (!store->is_device()) return make_error(Errc::invalid_argument, opt.db + " is a server store; hoso ui runs on a laptop's store");
  auto impl = std::unique_ptr<Impl>(new Impl{opt, std::move(*store), 0, {}, {}, {}});
  auto colon = opt.listen.rfind(':');
  if (colon != std::string::npos) impl->port = static_cast<uint16_t>(std::strtoul(opt.listen.c_str() + colon + 1, nullptr, 10));
  return std::unique_ptr<Desk>(new Desk(std::move(impl)));
}

void Desk::set_port(uint16_t port) { impl_->port = port; }

void Desk::sweep() {
  auto now = std::chrono::steady_clock::now();
  for (auto it = impl_->sessions.begin(); it != impl_->sessions.end();)
    it = now - it->second.last_used > impl_->opt.idle_lock ? impl_->sessions.erase(it) : std::next(it);
}

void Desk::age_sessions(std::chrono::seconds d) {
  for (auto& [_, s] : impl_->sessions) s.last_used -= d;
}

namespace {

// Host must name this server (a page on another name resolving to 127.0.0.1
// — DNS rebinding — is refused); a POST's Origin must be this server too.
bool host_ok(const Desk::Impl& d, const std::string& host) {
  std::string port = ":" + std::to_string(d.port);
  for (const char* h : {"127.0.0.1", "localhost", "[::1]"})
    if (host == std::string(h) + port) return true;
  auto colon = d.opt.listen.rfind(':');
  std::string listen_host = d.opt.listen.substr(0, colon);
  return !listen_host.empty() && listen_host != "0.0.0.0" && host == listen_host + port;
}

HttpResponse sign_in(Desk::Impl& d, const HttpRequest& req, int64_t now) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return error_response(400, "expected a JSON object");
  auto key = from_base64(jstr(body, "key"), 1 << 16);
  std::string pass = jstr(body, "passphrase");
  struct Wipe {
    std::string& s;
    ~Wipe() { crypto::wipe(s.data(), s.size()); }
  } wipe_pass{pass};
  if (!key || key->empty()) return error_response(400, "choose your key file");
  if (pass.empty()) return error_response(400, "type your passphrase");
  auto peek = crypto::peek_key_file(crypto::as_bytes(*key));
  if (!peek) return error_response(400, "this is not a hoso key file: " + peek.error().message);
  const auto* cert = d.store.registry().trust().find_by_key(peek->pub, engine::CertKind::officer, now);
  if (!cert) return error_response(403, "no valid officer certificate for this key in this store");
  auto officer = crypto::open_key_file(crypto::as_bytes(*key), pass);
  if (!officer) return error_response(officer.error());
  auto dk = d.store.device_key_file();
  if (!dk) return error_response(dk.error());
  auto device = crypto::open_key_file(crypto::as_bytes(*dk), d.opt.device_passphrase.empty() ? std::string_view(pass)
                                                                                           : std::string_view(d.opt.device_passphrase));
  if (!device) {
    if (device.error().code == Errc::wrong_passphrase)
      return error_response(401, "this laptop's key did not open with that passphrase; start hoso ui with HOSO_DEVICE_PASSPHRASE set");
    return error_response(device.error());
  }
  Session s;
  s.token = random_hex(32);
  s.csrf = random_hex(32);
  s.cert_id = cert->id;
  s.officer = std::make_shared<crypto::SigningKey>(std::move(*officer));
  s.device = std::make_shared<crypto::SigningKey>(std::move(*device));
  s.last_used = std::chrono::steady_clock::now();
  std::string token = s.token, csrf = s.csrf;
  d.sessions.emplace(token, std::move(s));
  if (d.opt.log) d.opt.log("signed in: " + cert->name);
  HttpResponse r = json_response(200, json{{"csrf", csrf}, {"officer", {{"name", cert->name}, {"unit", cert->unit},
                                                                           {"unit_name", d.unit_name(cert->unit)}, {"roles", cert->roles}}}});
  r.headers.push_back({"Set-Cookie", std::string(kCookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict"});
  return r;
}

HttpResponse inbox(const Call& c) {
  const auto* o = c.officer();
  engine::ListFilter f;
  f.holder = o->unit;
  f.roles = o->roles;
  auto rows = c.d.store.list(f, c.now);
  if (!rows) return error_response(rows.error());
  std::stable_sort(rows->begin(), rows->end(), [&](const auto& a, const auto& b) {
    bool oa = a.overdue(c.now), ob = b.overdue(c.now);
    if (oa != ob) return oa;
    int64_t da = a.due_at.value_or(INT64_MAX), db = b.due_at.value_or(INT64_MAX);
    return da < db;
  });
  json arr = json::array();
  for (const auto& s : *rows) arr.push_back(row_json(c, s));
  return json_response(200, json{{"dossiers", arr}});
}

HttpResponse procedures(const Call& c, const std::string& q) {
  std::string fq = fold_vietnamese(q);
  json arr = json::array();
  for (const auto& [code, versions] : c.d.store.registry().procedures()) {
    if (versions.empty()) continue;
    const auto& p = versions.rbegin()->second;
    if (!fq.empty() && fold_vietnamese(p.code + " " + p.name).find(fq) == std::string::npos) continue;
    json fields = json::array();
    for (const auto& f : p.fields)
      fields.push_back({{"name", f.name}, {"label", f.label}, {"type", f.type}, {"required", f.required}, {"options", f.options}});
    arr.push_back({{"code", p.code}, {"version", p.version}, {"name", p.name}, {"days", p.total_working_days}, {"fields", fields}});
  }
  return json_response(200, json{{"procedures", arr}});
}

Result<std::vector<engine::AttachmentFile>> read_files(const json& body) {
  std::vector<engine::AttachmentFile> out;
  auto it = body.find("attachments");
  if (it == body.end()) return out;
  if (!it->is_array()) return make_error(Errc::invalid_argument, "attachments: expected a list");
  for (const auto& a : *it) {
    std::string name = jstr(a, "name");
    if (name.empty() || name.find('/') != std::string::npos) return make_error(Errc::invalid_argument, "attachments: a file without a usable name");
    auto data = from_base64(jstr(a, "data"), static_cast<size_t>(engine::Store::kMaxAttachment));
    if (!data) return make_error(Errc::invalid_argument, "attachment " + name + ": not base64, or larger than 64 MiB");
    out.push_back({name, std::move(*data)});
  }
  return out;
}

Result<std::map<std::string, std::string>> read_fields(const json& body) {
  std::map<std::string, std::string> out;
  auto it = body.find("fields");
  if (it == body.end()) return out;
  if (!it->is_object()) return make_error(Errc::invalid_argument, "fields: expected an object");
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) return make_error(Errc::invalid_argument, "field " + k + ": expected text");
    out[k] = v.get<std::string>();
  }
  return out;
}

HttpResponse receive(const Call& c, const HttpRequest& req) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return error_response(400, "expected a JSON object");
  auto files = read_files(body);
  if (!files) return error_response(files.error());
  auto fields = read_fields(body);
  if (!fields) return error_response(fields.error());
  std::string applicant = jstr(body, "applicant");
  while (!applicant.empty() && applicant.back() == ' ') applicant.pop_back();
  if (applicant.empty()) return error_response(400, "the applicant's name is required");
  engine::ReceiveRequest r{jstr(body, "procedure"), applicant, std::move(*fields), std::move(*files)};
  auto st = c.d.store.receive(*c.s->officer, *c.s->device, r, c.now);
  if (!st) return error_response(st.error());
  return json_response(200, json{{"code", st->code}, {"due_at", st->due_at ? json(c.d.iso(*st->due_at)) : json()},
                                 {"due", st->due_at ? json(c.d.when(*st->due_at)) : json()}, {"status", st->status}});
}

HttpResponse show(const Call& c, const std::string& code) {
  auto events = c.d.store.events_of(code);
  if (!events) return error_response(events.error());
  auto st = c.d.store.dossier(code);
  if (!st) return error_response(st.error());
  return json_response(200, dossier_json(c, *st, *events));
}

HttpResponse act(const Call& c, const std::string& code, const HttpRequest& req) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return error_response(400, "expected a JSON object");
  engine::ActRequest r;
  r.dossier = code;
  r.action = jstr(body, "action");
  r.note = jstr(body, "note");
  if (auto u = jstr(body, "until"); !u.empty()) r.until = u;
  if (r.action.empty()) return error_response(400, "choose an action");
  if (r.action == "receive") return error_response(403, "a dossier is received once");
  auto st = c.d.store.act(*c.s->officer, *c.s->device, r, c.now);
  if (!st) return error_response(st.error());
  return show(c, code);
}

HttpResponse search(const Call& c, const std::string& q) {
  std::vector<std::string> words;
  std::string fq = fold_vietnamese(q);
  for (size_t i = 0; i < fq.size();) {
    auto j = fq.find(' ', i);
    if (j == std::string::npos) j = fq.size();
    if (j > i) words.push_back(fq.substr(i, j - i));
    i = j + 1;
  }
  if (words.empty()) return error_response(400, "type a code, a name or a field value");
  auto rows = c.d.store.list({}, c.now);
  if (!rows) return error_response(rows.error());
  json arr = json::array();
  for (const auto& s : *rows) {
    std::string key = s.status + "|" + s.step + "|" + s.holder + "|" + s.applicant + "|" + std::to_string(s.received_at) + "|" +
                      std::to_string(s.due_at.value_or(-1)) + "|" + s.timeliness.value_or("");
    auto& cached = c.d.search_cache[s.code];
    if (cached.key != key || cached.text.empty()) {
      std::string hay = s.code + " " + s.applicant + " " + s.procedure;
      if (auto full = c.d.store.dossier(s.code))
        for (const auto& [k, v] : full->fields) hay += " " + v;
      cached = {key, fold_vietnamese(hay)};
    }
    const std::string& hay = cached.text;
    bool all = std::all_of(words.begin(), words.end(), [&](const std::string& w) { return hay.find(w) != std::string::npos; });
    if (!all) continue;
    arr.push_back(row_json(c, s));
    if (arr.size() >= 200) break;
  }
  return json_response(200, json{{"dossiers", arr}});
}

HttpResponse sync_status(Desk::Impl& d) {
  json j;
  std::string me = d.store.device_cert_id();
  int64_t local = 0, acked = 0;
  if (auto w = d.store.watermarks(); w && w->count(me)) local = w->at(me);
  std::optional<int64_t> receipt_at;
  if (auto lr = d.store.last_receipt(); lr && *lr)
    if (auto it = crypto::parse_item(**lr)) {
      if (auto a = it->body.find("acked"); a != it->body.end() && a->is_number_integer()) acked = a->get<int64_t>();
      if (auto t = it->body.find("at"); t != it->body.end() && t->is_number_integer()) receipt_at = t->get<int64_t>();
    }
  int64_t up_to = std::strtoll(d.store.meta("attachments_up_to").c_str(), nullptr, 10);
  int64_t att = 0;
  if (auto r = d.store.referenced_attachments(me, up_to)) att = static_cast<int64_t>(r->size());
  j["server"] = d.store.meta("server");
  j["pending_events"] = std::max<int64_t>(0, local - acked);
  j["pending_attachments"] = att;
  std::lock_guard lock(d.sync.mu);
  std::optional<int64_t> last = d.sync.last_ok ? d.sync.last_ok : receipt_at;
  j["last_sync"] = last ? json(d.when(*last)) : json();
  j["running"] = d.sync.running;
  j["progress"] = {{"phase", d.sync.phase}, {"done", d.sync.done}, {"total", d.sync.total}, {"bytes", d.sync.bytes}};
  j["error"] = d.sync.error.empty() ? json() : json(d.sync.error);
  j["report"] = d.sync.last_report;
  return json_response(200, j);
}

HttpResponse sync_start(Call& c) {
  auto& d = c.d;
  std::lock_guard lock(d.sync.mu);
  if (d.sync.running) return error_response(409, "a sync round is already running");
  if (d.sync.worker.joinable()) d.sync.worker.join();
  if (d.store.meta("server").empty()) return error_response(400, "this laptop has no sync server (hoso init --server HOST:PORT)");
  d.sync.running = true;
  d.sync.finished = false;
  d.sync.error.clear();
  d.sync.phase = "connect";
  d.sync.done = d.sync.total = d.sync.bytes = 0;
  sync::ClientOptions o;
  o.db = d.opt.db;
  o.device_key = c.s->device;
  auto* impl = &d;
  o.now = [impl] { return impl->now(); };
  o.progress = [impl](const sync::ClientOptions::Progress& p) {
    std::lock_guard l(impl->sync.mu);
    impl->sync.phase = p.phase;
    impl->sync.done = p.done;
    impl->sync.total = p.total;
    impl->sync.bytes = p.bytes;
  };
  d.sync.worker = std::thread([impl, o] {
    auto r = sync::sync_once(o);
    std::lock_guard l(impl->sync.mu);
    impl->sync.running = false;
    impl->sync.finished = true;
    impl->sync.phase = "";
    if (r) {
      impl->sync.last_ok = impl->now();
      impl->sync.last_report = {{"pushed", r->pushed}, {"pulled", r->pulled}, {"pending", r->pending},
                                {"attachments_pending", r->attachments_pending}, {"bytes_sent", r->bytes_sent},
                                {"bytes_received", r->bytes_received}};
    } else {
      impl->sync.error = r.error().message;
    }
  });
  return json_response(202, json{{"started", true}});
}

HttpResponse asset(const std::string& path) {
  const auto* a = desk_asset(path);
  if (!a) return error_response(404, "no such page");
  HttpResponse r;
  r.content_type = std::string(a->content_type);
  r.body = std::string(a->data);
  return r;
}

}  // namespace

HttpResponse Desk::handle(const HttpRequest& req) {
  auto& d = *impl_;
  HttpResponse r = [&]() -> HttpResponse {
    try {
      if (!host_ok(d, req.header("host"))) return error_response(421, "this server answers only to its own address");
      std::string target = req.target, query;
      if (auto q = target.find('?'); q != std::string::npos) {
        query = target.substr(q + 1);
        target.resize(q);
      }
      const bool post = req.method == "POST";
      if (!post && req.method != "GET") return error_response(405, "GET or POST only");
      if (post) {
        // A cross-site page can POST here, but not with our Origin nor our header.
        std::string origin = req.header("origin");
        if (origin != "http://" + req.header("host")) return error_response(403, "cross-site request refused (Origin)");
        std::string site = req.header("sec-fetch-site");
        if (!site.empty() && site != "same-origin") return error_response(403, "cross-site request refused (Sec-Fetch-Site)");
      }
      if (!post && (target == "/" || target == "/index.html")) return asset("index.html");
      if (!post && target.rfind("/assets/", 0) == 0) return asset(target.substr(8));

      // Lock idle sessions first, so an idle session cannot be used "one last time".
      sweep();
      {
        std::lock_guard lock(d.sync.mu);
        if (d.sync.finished) {
          d.sync.finished = false;
          (void)d.store.refresh();  // a round may have brought certificates or procedures
        }
      }
      Call c{d, nullptr, d.now()};
      std::string token = cookie_value(req.header("cookie"), kCookie);
      if (auto it = d.sessions.find(token); !token.empty() && it != d.sessions.end()) c.s = &it->second;

      if (post && target == "/api/signin") {
        if (req.header("content-type").rfind("application/json", 0) != 0) return error_response(415, "expected application/json");
        return sign_in(d, req, c.now);
      }
      if (!post && target == "/api/session") {
        if (!c.s) return json_response(200, json{{"signed_in", false}});
        c.s->last_used = std::chrono::steady_clock::now();
        return json_response(200, json{{"signed_in", true}, {"csrf", c.s->csrf}, {"officer", officer_json(c)}});
      }
      if (!c.s) return error_response(401, "sign in first (or your session locked after 15 idle minutes)");
      if (post && !same_secret(req.header("x-csrf-token"), c.s->csrf)) return error_response(403, "missing or wrong CSRF token");
      if (post && target != "/api/signout" && req.header("content-type").rfind("application/json", 0) != 0)
        return error_response(415, "expected application/json");
      if (!c.officer()) return error_response(403, "your officer certificate is no longer in this store");
      c.s->last_used = std::chrono::steady_clock::now();
      (void)d.store.refresh();  // another process (hoso import, hoso act) may have written

      auto q = parse_query(query);
      if (post && target == "/api/signout") {
        std::string gone = c.s->token;
        d.sessions.erase(gone);
        HttpResponse out = json_response(200, json{{"signed_in", false}});
        out.headers.push_back({"Set-Cookie", std::string(kCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"});
        return out;
      }
      if (!post && target == "/api/inbox") return inbox(c);
      if (!post && target == "/api/procedures") return procedures(c, q["q"]);
      if (!post && target == "/api/search") return search(c, q["q"]);
      if (post && target == "/api/receive") return receive(c, req);
      if (!post && target == "/api/sync") return sync_status(d);
      if (post && target == "/api/sync") return sync_start(c);
      const std::string dp = "/api/dossiers/";
      if (target.rfind(dp, 0) == 0) {
        std::string rest = url_decode(target.substr(dp.size()));
        if (post && rest.size() > 4 && rest.compare(rest.size() - 4, 4, "/act") == 0) return act(c, rest.substr(0, rest.size() - 4), req);
        if (!post && rest.find('/') == std::string::npos) return show(c, rest);
      }
      if (!post && target.rfind("/forms/", 0) == 0) {
        std::string rest = target.substr(7);
        auto slash = rest.find('/');
        return render_form(d, rest.substr(0, slash), slash == std::string::npos ? "" : url_decode(rest.substr(slash + 1)), q);
      }
      return error_response(404, "no such page");
    } catch (const std::exception& e) {
      return error_response(500, std::string("unexpected failure: ") + e.what());
    }
  }();
  r.headers.push_back({"Cache-Control", "no-store"});
  r.headers.push_back({"X-Content-Type-Options", "nosniff"});
  r.headers.push_back({"X-Frame-Options", "DENY"});
  r.headers.push_back({"Referrer-Policy", "no-referrer"});
  r.headers.push_back({"Content-Security-Policy",
                       "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'"});
  return r;
}

}  // namespace hoso::ui
