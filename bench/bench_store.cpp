// bench_store [--devices D] [--dossiers N] [--report-dossiers M] [--pg URL]
// The server store on SQLite beside PostgreSQL, same run, same data (issue 5):
//  1. ingest: D laptops each sign N dossiers (receive + accept: 2N events);
//     their logs go into a fresh SQLite server store and a fresh PostgreSQL
//     one in batches of 250 events, as a sync session hands them over
//     (Store::ingest, full verification, one durable commit per batch).
//  1b. the same events through a sync server's path on one thread, phase
//     by phase (parse_item, read_event, signatures, the store's turn), in
//     batches of 250, of 50, and of 50 committed four at a time.
//  2. report: both stores grow to M dossier rows (each real row copied under
//     new codes, so states stay realistic), then `hoso report --data`'s work
//     (engine::build_report) is timed on each. Reports read the dossier
//     projection, not the log: M dossiers stand for about 10*M events at a
//     typical 10 events a dossier, so M = 1,000,000 is the 10,000,000-event
//     figure.
// PostgreSQL comes from --pg or HOSO_TEST_PG (tests/pg/pg.sh start DIR prints
// one); without either, only SQLite is measured. Figures are printed as
// "name: value unit" lines; nothing is judged here.
#include <libpq-fe.h>
#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "../cli/defaults.hpp"
#include "common.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/engine/calendar.hpp"
#include "hoso/engine/event.hpp"
#include "hoso/engine/ledger.hpp"
#include "hoso/engine/report.hpp"
#include "hoso/engine/sql.hpp"
#include "hoso/engine/store.hpp"

namespace fs = std::filesystem;
using namespace hoso;
using namespace hoso::bench;

namespace {

// A database of its own on the PostgreSQL server behind `admin`, dropped at exit.
struct PgDatabase {
  std::string admin, name, url;
  PgDatabase(std::string a, std::string n) : admin(std::move(a)), name(std::move(n)) {
    exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    exec("CREATE DATABASE " + name);
    size_t scheme = admin.find("://") + 3, q = admin.find('?', scheme), p = admin.find('/', scheme);
    std::string head = admin.substr(0, p == std::string::npos || (q != std::string::npos && p > q) ? q : p);
    url = head + "/" + name + (q == std::string::npos ? "" : admin.substr(q));
  }
  ~PgDatabase() { exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); }
  void exec(const std::string& sql) {
    PGconn* c = PQconnectdb(admin.c_str());
    if (PQstatus(c) != CONNECTION_OK) die("connect " + admin, PQerrorMessage(c));
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);  // "does not exist, skipping"
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) die(sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
  }
};

// Copies every dossier row under new codes until the store holds `target`.
void grow_dossiers(const std::string& location, int64_t have, int64_t target) {
  if (target <= have) return;
  int64_t copies = (target - have + have - 1) / have;
  bool pg = engine::sql::is_postgres_url(location);
  auto db = must(pg ? engine::sql::Db::connect(location) : engine::sql::Db::open(location, false), "open " + location);
  std::string cols = "unit, holder, procedure, version, step, status, applicant, opened_at, received_at, due_at, finished_at, timeliness, state";
  std::string sql = pg ? "INSERT INTO dossiers SELECT code || '-c' || g, " + cols + " FROM dossiers, generate_series(1, " +
                             std::to_string(copies) + ") g WHERE code NOT LIKE '%-c%'"
                       : "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < " + std::to_string(copies) +
                             ") INSERT INTO dossiers SELECT code || '-c' || x, " + cols + " FROM dossiers, g WHERE code NOT LIKE '%-c%'";
  must(db.exec("BEGIN"), "begin");
  must(db.exec(sql), "grow dossiers");
  must(db.exec("COMMIT"), "commit");
  if (pg) must(db.exec("ANALYZE dossiers"), "analyze");
}

}  // namespace

int main(int argc, char** argv) {
  long devices = 4, dossiers = 500, report_rows = 100000;
  std::string pg_admin = std::getenv("HOSO_TEST_PG") ? std::getenv("HOSO_TEST_PG") : "";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die(a, "needs a value");
      return argv[++i];
    };
    if (a == "--devices") devices = std::strtol(next().c_str(), nullptr, 10);
    else if (a == "--dossiers") dossiers = std::strtol(next().c_str(), nullptr, 10);
    else if (a == "--report-dossiers") report_rows = std::strtol(next().c_str(), nullptr, 10);
    else if (a == "--pg") pg_admin = next();
    else {
      std::cerr << "usage: bench_store [--devices D] [--dossiers N] [--report-dossiers M] [--pg URL]\n";
      return 2;
    }
  }
  if (devices < 1 || devices > 9 || dossiers < 1 || dossiers > 900 * 30 || report_rows < 1) {
    std::cerr << "bench_store: --devices 1..9, --dossiers 1..27000, --report-dossiers >= 1\n";
    return 2;
  }
  if (sodium_init() < 0) die("sodium_init", "failed");
  TempDir temp("hoso-bench-store");
  const std::string& dir = temp.path;

  // The province: a commune, a receiver, D laptops (slots 1..D).
  const int64_t t0 = must(engine::parse_iso8601("2026-03-02T08:00:00+07:00"), "time");
  auto root = crypto::SigningKey::generate();
  std::vector<crypto::SignedItem> items;
  const std::string P = "000.00.00.H12", A = "000.00.31.H12";
  auto certify = [&](engine::CertRequest req) {
    req.issued_at = t0;
    items.push_back(must(engine::issue_certificate(root, req), "certify " + req.name));
    return items.back();
  };
  engine::CertRequest u;
  u.kind = engine::CertKind::unit;
  u.name = "UBND tỉnh";
  u.unit = P;
  certify(u);
  u.name = "UBND xã Tân Lập";
  u.unit = A;
  u.parent = P;
  certify(u);
  auto receiver = crypto::SigningKey::generate();
  {
    engine::CertRequest r;
    r.kind = engine::CertKind::officer;
    r.name = "Nguyễn Thị Lan";
    r.unit = A;
    r.pub = receiver.public_key();
    r.roles = {"receiver"};
    certify(r);
  }
  for (const char* text : {cli::defaults::kCalendar2026, cli::defaults::kCalendar2027})
    items.push_back(must(engine::sign_document(root, engine::kTypeCalendar, must(crypto::parse_json_strict(text), "calendar"), t0), "sign"));
  items.push_back(must(engine::sign_document(root, engine::kTypeProcedure, must(crypto::parse_json_strict(cli::defaults::kProcedure), "procedure"), t0), "sign"));
  std::vector<crypto::SigningKey> keys;
  std::vector<crypto::SignedItem> device_certs;
  for (long d = 0; d < devices; ++d) {
    keys.push_back(crypto::SigningKey::generate());
    engine::CertRequest r;
    r.kind = engine::CertKind::device;
    r.name = "desk " + std::to_string(d + 1);
    r.unit = A;
    r.pub = keys.back().public_key();
    r.slot = d + 1;
    device_certs.push_back(certify(r));
  }

  // 1. The laptops sign their logs.
  auto t_sign = Clock::now();
  std::vector<std::vector<crypto::SignedItem>> logs;
  for (long d = 0; d < devices; ++d) {
    auto sealed = must(crypto::seal_key_file(keys[d], "desk", "pw", crypto::Kdf::interactive), "seal");
    std::string kf(reinterpret_cast<const char*>(sealed.data()), sealed.size());
    auto laptop = must(engine::Store::create_device(dir + "/laptop" + std::to_string(d) + ".db", root.public_key(), device_certs[d], kf, ""), "laptop");
    must(laptop.ingest(items, t0), "laptop items");
    for (long i = 0; i < dossiers; ++i) {
      int64_t t = t0 + (i / 900) * 86400 + 3600 + (i % 900) * 20;
      engine::ReceiveRequest r{"1.001193", "Người nộp " + std::to_string(i), {{"cccd", "001201000001"}, {"child_name", "Bé"}, {"birth_date", "2026-02-20"}}, {}};
      auto s = must(laptop.receive(receiver, keys[d], r, t), "receive");
      engine::ActRequest act;
      act.dossier = s.code;
      act.action = "accept";
      must(laptop.act(receiver, keys[d], act, t + 5), "accept");
    }
    logs.push_back(must(laptop.device_log(device_certs[d].id_hex(), 0, 1u << 30), "log"));
  }
  size_t events = 0;
  for (const auto& l : logs) events += l.size();
  std::printf("devices: %ld laptops\nevents: %zu events\n", devices, events);
  std::printf("laptops_signing_time: %.1f s\n", secs_since(t_sign));

  struct Backend {
    std::string name, location;
  };
  std::vector<Backend> backends{{"sqlite", dir + "/server.db"}};
  std::unique_ptr<PgDatabase> pgdb;
  if (!pg_admin.empty()) {
    pgdb = std::make_unique<PgDatabase>(pg_admin, "bench_store_" + std::to_string(::getpid()));
    backends.push_back({"postgresql", pgdb->url});
  } else {
    std::printf("note: no --pg URL or HOSO_TEST_PG: PostgreSQL not measured\n");
  }

  std::vector<double> rates;
  for (const auto& b : backends) {
    auto server = must(engine::Store::open_server(b.location, root.public_key()), "open " + b.name);
    must(server.ingest(items, t0), "items");
    auto t = Clock::now();
    const size_t batch = 250;
    // Round-robin over the laptops, a batch each, as concurrent sessions would.
    std::vector<size_t> pos(logs.size(), 0);
    for (bool more = true; more;) {
      more = false;
      for (size_t d = 0; d < logs.size(); ++d) {
        if (pos[d] >= logs[d].size()) continue;
        size_t end = std::min(logs[d].size(), pos[d] + batch);
        std::vector<crypto::SignedItem> part(logs[d].begin() + static_cast<long>(pos[d]), logs[d].begin() + static_cast<long>(end));
        auto r = must(server.ingest(part, t0 + 86400), "ingest into " + b.name);
        for (const auto& o : r)
          if (o.outcome != engine::Outcome::applied) die("ingest into " + b.name, "an event was not applied: " + o.reason);
        pos[d] = end;
        more = true;
      }
    }
    double s = secs_since(t);
    rates.push_back(static_cast<double>(events) / s);
    std::printf("ingest_%s: %.0f events/s (%.2f s, batches of %zu, full verification, one durable commit a batch)\n", b.name.c_str(),
                rates.back(), s, batch);
  }
  if (rates.size() == 2) std::printf("ingest_postgresql_vs_sqlite: %.2f (ratio)\n", rates[1] / rates[0]);

  // 1b. A sync server's path for the same batches, phase by phase, on one
  // thread (a session's): the envelope read from the wire's bytes
  // (crypto::parse_item), the event read from it (engine::read_event), its
  // two signatures (engine::check_signatures, what Store::check_incoming does
  // outside the store's lock), then the store's turn (Store::ingest of the
  // checked events: chains, rules, rows, one durable commit a batch). Same
  // run, same machine: the shares say where a server's time goes beside the
  // signatures it cannot avoid.
  // In batches of 250; of 50 (about what a push of 64 KB, the sync
  // protocol's batch_bytes, holds), since each commit has a fixed cost; and
  // of 50 committed four at a time (Store::ingest_group, the server's group
  // commit when four sessions' batches wait for the store together).
  struct Mode {
    size_t batch, group;
    const char* name;
  };
  for (const Mode m : {Mode{250, 1, ""}, Mode{50, 1, "_batch50"}, Mode{50, 4, "_batch50_group4"}}) {
    auto server = must(engine::Store::open_server(dir + "/server-path" + m.name + ".db", root.public_key()), "open server-path store");
    must(server.ingest(items, t0), "items");
    auto reg = server.registry_snapshot();
    double parse_s = 0, event_s = 0, sig_s = 0, store_s = 0;
    std::vector<std::vector<engine::Store::Incoming>> waiting;
    auto commit = [&] {
      if (waiting.empty()) return;
      std::vector<const std::vector<engine::Store::Incoming>*> ptrs;
      for (const auto& w : waiting) ptrs.push_back(&w);
      auto t = Clock::now();
      auto rs = server.ingest_group(ptrs, true);
      store_s += secs_since(t);
      for (auto& r : rs) {
        if (!r) die("server-path ingest", r.error().message);
        for (const auto& o : *r)
          if (o.outcome != engine::Outcome::applied) die("server path", "an event was not applied: " + o.reason);
      }
      waiting.clear();
    };
    std::vector<size_t> pos(logs.size(), 0);
    for (bool more = true; more;) {
      more = false;
      for (size_t d = 0; d < logs.size(); ++d) {
        if (pos[d] >= logs[d].size()) continue;
        const size_t end = std::min(logs[d].size(), pos[d] + m.batch);
        std::vector<std::string> wire;
        for (size_t i = pos[d]; i < end; ++i) wire.push_back(logs[d][i].bytes);
        auto t = Clock::now();
        std::vector<engine::Store::Incoming> in;
        in.reserve(wire.size());
        for (const auto& w : wire) in.push_back({must(crypto::parse_item(w), "parse_item"), t0 + 86400, nullptr});
        parse_s += secs_since(t);
        t = Clock::now();
        std::vector<engine::Event> evs;
        evs.reserve(in.size());
        for (const auto& i : in) evs.push_back(must(engine::read_event(i.item), "read_event"));
        event_s += secs_since(t);
        t = Clock::now();
        for (const auto& e : evs)
          if (!engine::check_signatures(e, *reg)) die("server path", "an event's signatures do not verify");
        sig_s += secs_since(t);
        for (size_t i = 0; i < in.size(); ++i) in[i].checked = std::make_shared<const engine::Event>(std::move(evs[i]));
        waiting.push_back(std::move(in));
        if (waiting.size() >= m.group) commit();
        pos[d] = end;
        more = true;
      }
    }
    commit();
    const double n = static_cast<double>(events), all = parse_s + event_s + sig_s + store_s;
    const char* b = m.name;
    std::printf("server_path%s_parse_item: %.1f us/event\n", b, parse_s / n * 1e6);
    std::printf("server_path%s_read_event: %.1f us/event\n", b, event_s / n * 1e6);
    std::printf("server_path%s_signatures: %.1f us/event (two verifications)\n", b, sig_s / n * 1e6);
    std::printf("server_path%s_store_turn: %.1f us/event (the store's turn for checked events: batches of %zu, %zu a commit)\n", b,
                store_s / n * 1e6, m.batch, m.group);
    std::printf("server_path%s_rate: %.0f events/s (one thread, all four phases)\n", b, n / all);
    std::printf("server_path%s_signatures_share: %.2f (signatures / all four phases; 1.0 would be the verification limit)\n", b,
                sig_s / all);
  }

  // 2. report on M dossier rows in each store.
  for (const auto& b : backends) {
    auto t = Clock::now();
    grow_dossiers(b.location, static_cast<int64_t>(devices * dossiers), report_rows);
    double grow_s = secs_since(t);
    auto server = must(engine::Store::open(b.location, false), "open " + b.name);
    t = Clock::now();
    auto rep = must(engine::build_report(server, std::nullopt, std::nullopt, t0 + 60 * 86400, true), "report on " + b.name);
    double report_s = secs_since(t);
    int64_t rows = 0;
    for (const auto& unit : rep["units"]) rows += unit.value("dossiers", int64_t{0});
    std::printf("report_%s: %.2f s over %lld dossier rows (grown in %.1f s)\n", b.name.c_str(), report_s, static_cast<long long>(rows),
                grow_s);
  }
  return 0;
}
