// The commune desk: init, import, receive, act, show, list, verify, export,
// report — thin wrappers over engine::Store.
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>

#include "app.hpp"
#include "hoso/crypto/file.hpp"
#include "hoso/engine/report.hpp"
#include "hoso/engine/store.hpp"

namespace hoso::cli {
namespace {

using engine::DossierState;
using nlohmann::json;

bool vietnamese() {
  for (const char* v : {"LC_ALL", "LC_MESSAGES", "LANG"})
    if (const char* s = std::getenv(v); s && *s) return std::string(s).rfind("vi", 0) == 0;
  return false;
}

const char* tr(const char* en, const char* vi) { return vietnamese() ? vi : en; }

std::string when(const engine::Store& s, std::optional<int64_t> t) {
  if (!t) return "";
  const auto& cal = s.registry().calendar();
  // Before any calendar is imported there is no province offset yet.
  return cal.utc_offset_minutes() != 0 ? cal.iso(*t) : engine::format_iso8601(*t, display_offset_minutes());
}

json opt_time(const engine::Store& s, std::optional<int64_t> t) { return t ? json(when(s, t)) : json(); }

Result<std::vector<engine::AttachmentFile>> read_attachments(const std::vector<std::string>& paths) {
  std::vector<engine::AttachmentFile> out;
  for (const auto& p : paths) {
    auto data = crypto::read_file(p, 64u << 20);
    if (!data) return make_error(data.error().code, "--attach: " + data.error().message);
    auto slash = p.rfind('/');
    out.push_back({slash == std::string::npos ? p : p.substr(slash + 1), std::move(*data)});
  }
  return out;
}

Result<std::map<std::string, std::string>> parse_fields(const std::vector<std::string>& kvs) {
  std::map<std::string, std::string> out;
  for (const auto& kv : kvs) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return make_error(Errc::invalid_argument, "--field \"" + kv + "\" is not k=v");
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

// What receive and act both need before they can sign: the time, the form
// fields and files, the store, the officer's key (--as) and the laptop's.
struct DeskCall {
  int64_t now;
  std::map<std::string, std::string> fields;
  std::vector<engine::AttachmentFile> files;
  engine::Store store;
  crypto::SigningKey officer, device;
};
Result<DeskCall> open_desk(const std::string& db, const std::string& as, const std::vector<std::string>& kv,
                           const std::vector<std::string>& attach, const Common& c) {
  auto t = now();
  if (!t) return t.error();
  auto fields = parse_fields(kv);
  if (!fields) return fields.error();
  auto files = read_attachments(attach);
  if (!files) return files.error();
  auto store = engine::Store::open(db);
  if (!store) return store.error();
  auto officer = load_key(as, c);
  if (!officer) return officer.error();
  auto device = open_device_key(*store, c);
  if (!device) return device.error();
  return DeskCall{*t, std::move(*fields), std::move(*files), std::move(*store), std::move(*officer), std::move(*device)};
}

json event_rows(const engine::Store& s, const engine::DossierEvents& events) {
  json arr = json::array();
  const auto& trust = s.registry().trust();
  for (const auto* e : engine::current_chain(events)) {
    const auto* a = trust.certificate(e->body.actor);
    const auto* d = trust.certificate(e->body.device);
    json row{{"seq", e->body.seq}, {"action", e->body.action}, {"step", e->body.step}, {"actor", e->body.actor},
             {"device", e->body.device}, {"at", when(s, e->body.at)}, {"hash", e->hash},
             {"actor_name", a ? a->name : ""}, {"device_name", d ? d->name : ""}};
    if (!e->body.note().empty()) row["note"] = e->body.note();
    arr.push_back(row);
  }
  return arr;
}

json dossier_json(const engine::Store& s, const DossierState& d, int64_t now) {
  return json{{"code", d.code}, {"procedure", d.procedure}, {"version", d.version}, {"status", d.status},
              {"holder", d.holder}, {"unit", d.unit}, {"step", d.step}, {"applicant", d.applicant},
              {"received_at", when(s, d.received_at)}, {"due_at", opt_time(s, d.due_at)}, {"overdue", d.overdue(now)},
              {"timeliness", d.timeliness ? json(*d.timeliness) : json()}, {"forks", d.forks},
              {"supplements", d.supplements}, {"extensions", d.extensions}, {"fields", d.fields}};
}

int g_verify_failed = 0;

}  // namespace

bool verification_failed() { return g_verify_failed != 0; }

void register_desk(CLI::App& app) {
  {  // init
    auto* cmd = app.add_subcommand("init", "Create a laptop's store bound to its device certificate");
    struct O { Common c; std::string db, root, key, cert, server; };
    auto o = std::make_shared<O>();
    cmd->add_option("--db", o->db, "Store file to create")->required();
    cmd->add_option("--root", o->root, "The province's root.pub")->required();
    cmd->add_option("--device-key", o->key, "This laptop's key file")->required();
    cmd->add_option("--device-cert", o->cert, "This laptop's certificate")->required();
    cmd->add_option("--server", o->server, "Sync server HOST:PORT");
    add_common(cmd, o->c, false);
    on_run(cmd, [o]() -> Status {
      auto root = load_public_key(o->root);
      if (!root) return root.error();
      auto certs = load_items(o->cert);
      if (!certs) return certs.error();
      auto key = crypto::read_file(o->key, 1 << 16);
      if (!key) return key.error();
      auto store = engine::Store::create_device(o->db, root->pub, certs->front(), *key, o->server);
      if (!store) return store.error();
      const auto* c = store->registry().trust().certificate(store->device_cert_id());
      if (o->c.json) print_json({{"db", o->db}, {"device", store->device_cert_id()}, {"unit", c ? c->unit : ""}});
      else std::cout << tr("Store created: ", "Đã tạo kho: ") << o->db << " (" << (c ? c->name + ", " + c->unit : "") << ")\n";
      return {};
    });
  }
  {  // import
    auto* cmd = app.add_subcommand("import", "Load signed items (certificates, revocations, procedures, calendars, events)");
    struct O { Common c; std::string db; std::vector<std::string> files; };
    auto o = std::make_shared<O>();
    cmd->add_option("--db", o->db, "Store file")->required();
    cmd->add_option("files", o->files, "Signed files")->required();
    add_common(cmd, o->c, false);
    on_run(cmd, [o]() -> Status {
      auto t = now();
      if (!t) return t.error();
      std::vector<crypto::SignedItem> all;
      for (const auto& f : o->files) {
        auto items = load_items(f);
        if (!items) return items.error();
        for (auto& i : *items) all.push_back(std::move(i));
      }
      auto store = engine::Store::open(o->db);
      if (!store) return store.error();
      auto res = store->ingest(all, *t);
      if (!res) return res.error();
      int applied = 0, dup = 0, quarantined = 0;
      json q = json::array();
      for (const auto& r : *res) {
        if (r.outcome == engine::Outcome::applied) ++applied;
        else if (r.outcome == engine::Outcome::duplicate) ++dup;
        else { ++quarantined; q.push_back({{"id", r.id}, {"reason", r.reason}}); }
      }
      if (o->c.json) print_json({{"applied", applied}, {"duplicates", dup}, {"quarantined", q}});
      else {
        std::cout << tr("Imported ", "Đã nạp ") << applied << tr(" items", " mục") << " (" << dup << tr(" already present", " đã có") << ")\n";
        for (const auto& x : q) std::cout << tr("quarantined ", "cách ly ") << x["id"].get<std::string>().substr(0, 16) << ": " << x["reason"].get<std::string>() << "\n";
      }
      return {};
    });
  }
  {  // receive
    auto* cmd = app.add_subcommand("receive", "Receive a new dossier; prints its code and appointment");
    struct O { Common c; std::string db, as, procedure, applicant; std::vector<std::string> fields, attach; };
    auto o = std::make_shared<O>();
    cmd->add_option("--db", o->db, "Store file")->required();
    cmd->add_option("--as", o->as, "The receiving officer's key file")->required();
    cmd->add_option("--procedure", o->procedure, "Procedure code")->required();
    cmd->add_option("--applicant", o->applicant, "Applicant's name")->required();
    cmd->add_option("--field", o->fields, "Form field k=v (repeatable)");
    cmd->add_option("--attach", o->attach, "A scanned document (repeatable)");
    add_common(cmd, o->c, true);
    on_run(cmd, [o]() -> Status {
      auto call = open_desk(o->db, o->as, o->fields, o->attach, o->c);
      if (!call) return call.error();
      engine::ReceiveRequest req{o->procedure, o->applicant, call->fields, std::move(call->files)};
      auto d = call->store.receive(call->officer, call->device, req, call->now);
      if (!d) return d.error();
      if (o->c.json) print_json({{"code", d->code}, {"due_at", opt_time(call->store, d->due_at)}, {"status", d->status}});
      else std::cout << tr("Received dossier ", "Đã tiếp nhận hồ sơ ") << d->code << tr("; result due ", "; hẹn trả kết quả ") << when(call->store, d->due_at) << "\n";
      return {};
    });
  }
  {  // act
    auto* cmd = app.add_subcommand("act", "Take one signed step on a dossier");
    struct O { Common c; std::string db, as, dossier, action, note, until, keep; std::vector<std::string> fields, attach; };
    auto o = std::make_shared<O>();
    cmd->add_option("--db", o->db, "Store file")->required();
    cmd->add_option("--as", o->as, "The acting officer's key file")->required();
    cmd->add_option("dossier", o->dossier, "Dossier code")->required();
    cmd->add_option("action", o->action, "Action (accept, approve, send_back, ...)")->required();
    cmd->add_option("--note", o->note, "Note (required for reject, send_back, request_supplement, suspend, extend, amend, withdraw, resolve)");
    cmd->add_option("--field", o->fields, "Form field k=v (amend)");
    cmd->add_option("--attach", o->attach, "A document (repeatable)");
    cmd->add_option("--until", o->until, "New appointment date YYYY-MM-DD (extend)");
    cmd->add_option("--keep", o->keep, "First event of the branch to keep (resolve)");
    add_common(cmd, o->c, true);
    on_run(cmd, [o]() -> Status {
      auto call = open_desk(o->db, o->as, o->fields, o->attach, o->c);
      if (!call) return call.error();
      engine::ActRequest req;
      req.dossier = o->dossier;
      req.action = o->action;
      req.note = o->note;
      req.fields = call->fields;
      req.attachments = std::move(call->files);
      if (!o->until.empty()) req.until = o->until;
      if (!o->keep.empty()) req.keep = o->keep;
      auto d = call->store.act(call->officer, call->device, req, call->now);
      if (!d) return d.error();
      if (o->c.json) print_json(dossier_json(call->store, *d, call->now));
      else std::cout << d->code << ": " << o->action << " -> " << d->status << " (" << d->step << ")\n";
      return {};
    });
  }
  {  // show
    auto* cmd = app.add_subcommand("show", "One dossier with its history");
    struct O { Common c; std::string db, dossier; };
    auto o = std::make_shared<O>();
    cmd->add_option("--db", o->db, "Store file")->required();
    cmd->add_option("dossier", o->dossier, "Dossier code")->required();
    add_common(cmd, o->c, false);
    on_run(cmd, [o]() -> Status {
      auto t = now();
      if (!t) return t.error();
      auto store = engine::Store::open(o->db, false);
      if (!store) return store.error();
      auto events = store->events_of(o->dossier);
      if (!events) return events.error();
      auto d = store->dossier(o->dossier);
      if (!d) return d.error();
      json j = dossier_json(*store, *d, *t);
      j["events"] = event_rows(*store, *events);
      json visits = json::array();
      for (const auto& v : d->visits)
        visits.push_back({{"step", v.step}, {"unit", v.unit}, {"entered_at", when(*store, v.entered_at)}, {"due_at", opt_time(*store, v.due_at)},
                          {"left_at", opt_time(*store, v.left_at)},
                          {"on_time", v.due_at ? json(v.left_at.value_or(*t) <= *v.due_at) : json()}});
      j["steps"] = visits;
      if (o->c.json) { print_json(j); return {}; }
      std::cout << tr("Dossier ", "Hồ sơ ") << d->code << "  " << d->procedure << " v" << d->version << "\n"
                << tr("Applicant: ", "Người nộp: ") << d->applicant << "\n"
                << tr("Status: ", "Trạng thái: ") << d->status << (d->overdue(*t) ? tr(" (OVERDUE)", " (QUÁ HẠN)") : "")
                << "  " << tr("step ", "bước ") << d->step << "  " << tr("held by ", "đơn vị giữ ") << d->holder << "\n"
                << tr("Received: ", "Tiếp nhận: ") << when(*store, d->received_at) << "   " << tr("Due: ", "Hẹn trả: ")
                << (d->due_at ? when(*store, d->due_at) : tr("(clock stopped)", "(dừng tính thời gian)")) << "\n";
      if (d->forks) std::cout << tr("Unresolved forks: ", "Nhánh chưa xử lý: ") << d->forks << "\n";
      std::cout << tr("History:\n", "Quá trình xử lý:\n");
      for (const auto& e : j["events"])
        std::cout << "  " << e["at"].get<std::string>() << "  " << std::left << std::setw(20) << e["action"].get<std::string>()
                  << std::setw(16) << e["step"].get<std::string>() << e["actor_name"].get<std::string>()
                  << (e.contains("note") ? "  — " + e["note"].get<std::string>() : "") << "\n";
      return {};
    });
  }
  {  // list
    auto* cmd = app.add_subcommand("list", "Dossiers in the store");
    struct O { Common c; std::string db, status, as; bool overdue = false, mine = false; };
    auto o = std::make_shared<O>();
    cmd->add_option("--db", o->db, "Store file")->required();
    cmd->add_option("--status", o->status, "Only this status");
    cmd->add_flag("--overdue", o->overdue, "Only overdue dossiers");
    cmd->add_flag("--mine", o->mine, "Only the dossiers waiting for the officer of --as");
    cmd->add_option("--as", o->as, "The officer's key file (with --mine)");
    add_common(cmd, o->c, true);
    on_run(cmd, [o]() -> Status {
      static const std::set<std::string> statuses = {"received", "in_progress", "forwarded", "awaiting_supplement", "suspended",
                                                     "approved", "returned", "rejected", "withdrawn"};
      if (!o->status.empty() && !statuses.count(o->status)) return make_error(Errc::invalid_argument, "--status: unknown status \"" + o->status + "\"");
      if (o->mine && o->as.empty()) return make_error(Errc::invalid_argument, "--mine needs --as KEY");
      auto t = now();
      if (!t) return t.error();
      auto store = engine::Store::open(o->db, false);
      if (!store) return store.error();
      engine::ListFilter f;
      if (!o->status.empty()) f.status = o->status;
      f.overdue = o->overdue;
      if (o->mine) {
        auto bytes = crypto::read_file(o->as, 1 << 16);
        if (!bytes) return bytes.error();
        auto info = crypto::peek_key_file(crypto::as_bytes(*bytes));
        if (!info) return make_error(info.error().code, o->as + ": " + info.error().message);
        const auto* c = store->registry().trust().find_by_key(info->pub, engine::CertKind::officer, *t);
        if (!c) return make_error(Errc::not_found, "no officer certificate for " + o->as + " in the store");
        f.holder = c->unit;
        f.roles = c->roles;
      }
      auto rows = store->list(f, *t);
      if (!rows) return rows.error();
      json arr = json::array();
      for (const auto& d : *rows)
        arr.push_back({{"code", d.code}, {"procedure", d.procedure}, {"status", d.status}, {"step", d.step}, {"holder", d.holder},
                       {"applicant", d.applicant}, {"due_at", opt_time(*store, d.due_at)}, {"overdue", d.overdue(*t)},
                       {"timeliness", d.timeliness ? json(*d.timeliness) : json()}});
      if (o->c.json) { print_json(arr); return {}; }
      std::cout << std::left << std::setw(28) << tr("CODE", "MÃ HỒ SƠ") << std::setw(22) << tr("STATUS", "TRẠNG THÁI") << std::setw(18)
                << tr("STEP", "BƯỚC") << std::setw(27) << tr("DUE", "HẸN TRẢ") << tr("APPLICANT", "NGƯỜI NỘP") << "\n";
      for (const auto& r : arr)
        std::cout << std::setw(28) << r["code"].get<std::string>() << std::setw(22)
                  << (r["status"].get<std::string>() + (r["overdue"].get<bool>() ? "!" : "")) << std::setw(18) << r["step"].get<std::string>()
                  << std::setw(27) << (r["due_at"].is_null() ? "-" : r["due_at"].get<std::string>()) << r["applicant"].get<std::string>() << "\n";
      std::cout << arr.size() << tr(" dossier(s)\n", " hồ sơ\n");
      return {};
    });
  }
  {  // verify
    auto* cmd = app.add_subcommand("verify", "Check every signature, chain, certificate, role and projection");
    struct O { Common c; std::string db, data, store, bundle, root; };
    auto o = std::make_shared<O>();
    cmd->add_option("--db", o->db, "A laptop's store");
    cmd->add_option("--data", o->data, "A server's data folder");
    cmd->add_option("--store", o->store, "Server store URL (default: SQLite in --data)");
    cmd->add_option("--bundle", o->bundle, "A dossier bundle");
    cmd->add_option("--root", o->root, "The province's root.pub (with --bundle)");
    add_common(cmd, o->c, false);
    on_run(cmd, [o]() -> Status {
      int given = !o->db.empty() + !(o->data.empty() && o->store.empty()) + !o->bundle.empty();
      if (given != 1) return make_error(Errc::invalid_argument, "give exactly one of --db, --data (or --store) or --bundle");
      engine::VerifyReport rep;
      if (!o->bundle.empty()) {
        if (o->root.empty()) return make_error(Errc::invalid_argument, "--bundle needs --root root.pub");
        auto root = load_public_key(o->root);
        if (!root) return root.error();
        auto text = crypto::read_file(o->bundle);
        if (!text) return text.error();
        rep = engine::verify_bundle(*text, root->pub);
      } else {
        auto path = o->db.empty() ? server_store(o->data, o->store) : Result<std::string>(o->db);
        if (!path) return path.error();
        auto store = engine::Store::open(*path, false);
        if (!store) {
          // A store that cannot even load its signed items fails verification.
          Errc c = store.error().code;
          if (c == Errc::not_found || c == Errc::io || c == Errc::busy || c == Errc::invalid_argument) return store.error();
          rep.errors.push_back(store.error().message);
        } else {
          rep = store->verify();
        }
      }
      if (o->c.json) print_json({{"ok", rep.ok()}, {"checked", rep.checked}, {"errors", rep.errors}, {"warnings", rep.warnings}});
      else {
        for (const auto& w : rep.warnings) std::cout << tr("warning: ", "cảnh báo: ") << w << "\n";
        if (rep.ok()) std::cout << tr("OK: ", "Hợp lệ: ") << rep.checked << tr(" events verified\n", " sự kiện đã kiểm tra\n");
      }
      if (!rep.ok()) {
        g_verify_failed = 1;
        return make_error(Errc::damaged, "verification failed (" + std::to_string(rep.errors.size()) + " problem(s)); first: " + rep.errors.front());
      }
      return {};
    });
  }
  {  // export
    auto* cmd = app.add_subcommand("export", "Write a self-contained bundle of one dossier");
    struct O { Common c; std::string db, dossier, out; };
    auto o = std::make_shared<O>();
    cmd->add_option("--db", o->db, "Store file")->required();
    cmd->add_option("dossier", o->dossier, "Dossier code")->required();
    cmd->add_option("--out", o->out, "Bundle file to write")->required();
    add_common(cmd, o->c, false);
    on_run(cmd, [o]() -> Status {
      auto store = engine::Store::open(o->db, false);
      if (!store) return store.error();
      auto b = store->export_bundle(o->dossier);
      if (!b) return b.error();
      Status st = crypto::write_file_atomic(o->out, *b);
      if (!st) return st;
      if (o->c.json) print_json({{"dossier", o->dossier}, {"out", o->out}, {"bytes", b->size()}});
      else std::cout << tr("Bundle written: ", "Đã xuất: ") << o->out << " (" << b->size() << " bytes)\n";
      return {};
    });
  }
  {  // report
    auto* cmd = app.add_subcommand("report", "On-time statistics by unit, procedure and month");
    struct O { Common c; std::string db, data, store, from, to, format, table = "rows", out_dir; bool no_bom = false; };
    auto o = std::make_shared<O>();
    cmd->add_option("--db", o->db, "A laptop's store");
    cmd->add_option("--data", o->data, "A server's data folder");
    cmd->add_option("--store", o->store, "Server store URL");
    cmd->add_option("--from", o->from, "First day YYYY-MM-DD (default: all time)");
    cmd->add_option("--to", o->to, "Last day YYYY-MM-DD (default: now)");
    cmd->add_option("--format", o->format, "table (default), csv or json");
    cmd->add_option("--table", o->table, "With --format csv on stdout: units, procedures, months, rows (default) or devices");
    cmd->add_option("--out-dir", o->out_dir, "With --format csv: write every table as TABLE.csv in this folder");
    cmd->add_flag("--no-bom", o->no_bom, "CSV without the UTF-8 byte order mark spreadsheets need");
    add_common(cmd, o->c, false);
    on_run(cmd, [o]() -> Status {
      bool server = !o->data.empty() || !o->store.empty();
      if (o->db.empty() == !server) return make_error(Errc::invalid_argument, "give exactly one of --db or --data (or --store)");
      std::string format = o->format.empty() ? (o->c.json ? "json" : "table") : o->format;
      if (format != "table" && format != "csv" && format != "json")
        return make_error(Errc::invalid_argument, "--format: expected table, csv or json, not \"" + format + "\"");
      if (o->c.json && format != "json") return make_error(Errc::invalid_argument, "--json and --format " + format + " contradict each other");
      if (!o->out_dir.empty() && format != "csv") return make_error(Errc::invalid_argument, "--out-dir goes with --format csv");
      auto t = now();
      if (!t) return t.error();
      auto path = server ? server_store(o->data, o->store) : Result<std::string>(o->db);
      if (!path) return path.error();
      auto store = engine::Store::open(*path, false);
      if (!store) return store.error();
      std::optional<int64_t> from, to;
      const auto& cal = store->registry().calendar();
      if (!o->from.empty()) {
        auto d = engine::parse_civil_date(o->from);
        if (!d) return make_error(Errc::invalid_argument, "--from: expected YYYY-MM-DD");
        from = *d * 86400 - cal.utc_offset_minutes() * 60;
      }
      if (!o->to.empty()) {
        auto d = engine::parse_civil_date(o->to);
        if (!d) return make_error(Errc::invalid_argument, "--to: expected YYYY-MM-DD");
        to = (*d + 1) * 86400 - cal.utc_offset_minutes() * 60 - 1;
      }
      auto r = engine::build_report(*store, from, to, *t, server);
      if (!r) return r.error();
      if (format == "json") { print_json(*r); return {}; }
      if (format == "table") { std::cout << engine::report_text(*r, vietnamese()); return {}; }
      // Excel opens a CSV as UTF-8 only when it starts with a byte order mark.
      const std::string bom = o->no_bom ? "" : "\xEF\xBB\xBF";
      if (o->out_dir.empty()) {
        auto csv = engine::report_csv(*r, o->table);
        if (!csv) return csv.error();
        std::cout << bom << *csv << std::flush;
        return {};
      }
      if (::mkdir(o->out_dir.c_str(), 0755) != 0 && errno != EEXIST)
        return make_error(Errc::io, "cannot create " + o->out_dir + ": " + std::strerror(errno));
      std::vector<std::string> written;
      for (const char* table : engine::kReportTables) {
        if (!r->contains(table)) continue;
        auto csv = engine::report_csv(*r, table);
        if (!csv) return csv.error();
        std::string path = o->out_dir + "/" + table + ".csv";
        Status st = crypto::write_file_atomic(path, bom + *csv);
        if (!st) return st;
        written.push_back(path);
      }
      for (const auto& w : written) std::cout << w << "\n";
      return {};
    });
  }
}

}  // namespace hoso::cli
