// `hoso serve`, `hoso publish` and `hoso sync`.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "app.hpp"
#include "hoso/crypto/file.hpp"
#include "hoso/engine/store.hpp"
#include "hoso/sync/backoff.hpp"
#include "hoso/sync/sync.hpp"
#include "hoso/ui/dashboard.hpp"

namespace hoso::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

std::function<int64_t()> clock_fn() {
  return [] {
    auto t = now();
    return t ? *t : int64_t{0};
  };
}



// A bar on a terminal (phase, count, bytes, rate, time left), plain lines
// otherwise (logs, pipes).
void draw_progress(const sync::ClientOptions::Progress& p, bool tty) {
  double rate = p.seconds > 0 ? p.bytes / p.seconds : 0;
  char line[200];
  std::string bar;
  std::string eta;
  if (p.total > 0) {
    int filled = static_cast<int>(20.0 * std::min<double>(1.0, double(p.done) / double(p.total)));
    bar = "[" + std::string(filled, '#') + std::string(20 - filled, '.') + "] ";
    if (p.done > 0 && p.done < p.total) {
      double left = p.seconds * double(p.total - p.done) / double(p.done);
      eta = "  about " + std::to_string(static_cast<int64_t>(left + 0.5)) + " s left";
    }
  }
  std::string count = std::to_string(p.done) + (p.total > 0 ? "/" + std::to_string(p.total) : "");
  std::snprintf(line, sizeof line, "%s%s %s  %.1f KB  %.1f KB/s", bar.c_str(), p.phase.c_str(), count.c_str(), p.bytes / 1024.0,
                rate / 1024.0);
  std::string out = line;
  out += eta;
  if (tty) std::cerr << "\r\033[K" << out << std::flush;
  else std::cerr << out << "\n";
}

}  // namespace

void register_sync(CLI::App& app) {
  {  // serve
    auto* cmd = app.add_subcommand("serve", "Sync server for laptops (and relays)");
    struct O { Common c; std::string data, root, key, cert, listen, store, upstream, port_file, http, http_port_file; size_t per_address = sync::Limits{}.max_sessions_per_address; unsigned threads = 0; };
    auto o = std::make_shared<O>();
    cmd->add_option("--data", o->data, "Data folder (the SQLite store lives here unless --store)")->required();
    cmd->add_option("--root", o->root, "The province's root.pub")->required();
    cmd->add_option("--key", o->key, "The server's key file")->required();
    cmd->add_option("--cert", o->cert, "The server's certificate")->required();
    cmd->add_option("--listen", o->listen, "HOST:PORT to listen on (port 0: any free port)")->required();
    cmd->add_option("--store", o->store, "Store URL: postgresql://… (default: SQLite in --data)");
    cmd->add_option("--upstream", o->upstream, "Parent server HOST:PORT (relay mode)");
    cmd->add_option("--port-file", o->port_file, "Write the bound port here once listening");
    cmd->add_option("--max-per-address", o->per_address,
                    "Concurrent connections from one peer address (default 128; 0: no limit)");
    cmd->add_option("--threads", o->threads, "Threads serving sessions (default 0: two per core, at least four)")
        ->check(CLI::Range(0u, 256u));
    cmd->add_option("--http", o->http, "Read-only dashboard on HOST:PORT (e.g. 127.0.0.1:8080; port 0: any free port)");
    cmd->add_option("--http-port-file", o->http_port_file, "Write the dashboard's bound port here once listening");
    add_common(cmd, o->c, true);
    on_run(cmd, [o]() -> Status {
      auto where = server_store(o->data, o->store);
      if (!where) return where.error();
      if (::mkdir(o->data.c_str(), 0700) != 0 && errno != EEXIST)
        return make_error(Errc::io, "cannot create " + o->data + ": " + std::strerror(errno));
      auto root = load_public_key(o->root);
      if (!root) return root.error();
      auto certs = load_items(o->cert);
      if (!certs) return certs.error();
      auto key = load_key(o->key, o->c);
      if (!key) return key.error();
      sync::ServerOptions so;
      so.listen = o->listen;
      so.store_path = *where;
      so.root = root->pub;
      so.key = std::make_shared<crypto::SigningKey>(std::move(*key));
      so.cert = certs->front();
      so.now = clock_fn();
      so.upstream = o->upstream;
      so.limits.max_sessions_per_address = o->per_address;
      so.threads = o->threads;
      so.on_listening = [o](uint16_t port) {
        std::cerr << "hoso serve: listening on port " << port << std::endl;
        if (!o->port_file.empty()) (void)crypto::write_file_atomic(o->port_file, std::to_string(port) + "\n");
      };
      std::signal(SIGTERM, on_signal);
      std::signal(SIGINT, on_signal);
      std::signal(SIGPIPE, SIG_IGN);
      std::unique_ptr<ui::Dashboard> dash;
      if (!o->http.empty()) {
        ui::DashboardOptions dopt;
        dopt.listen = o->http;
        dopt.open_store = [path = so.store_path] { return engine::Store::open(path, false); };
        dopt.now = clock_fn();
        dopt.log = [](const std::string& s) { std::cerr << "hoso serve: " << s << std::endl; };
        dopt.on_listening = [o](uint16_t port) {
          std::cerr << "hoso serve: dashboard on http port " << port << std::endl;
          if (!o->http_port_file.empty()) (void)crypto::write_file_atomic(o->http_port_file, std::to_string(port) + "\n");
        };
        auto d = ui::Dashboard::start(std::move(dopt));
        if (!d) return d.error();
        dash = std::move(*d);
      }
      Status served = sync::serve(so, g_stop);
      if (dash) dash->stop();
      return served;
    });
  }
  {  // publish
    auto* cmd = app.add_subcommand("publish", "Load signed items into a server's store (running or not)");
    struct O { Common c; std::string data, store; std::vector<std::string> files; };
    auto o = std::make_shared<O>();
    cmd->add_option("--data", o->data, "The server's data folder (its SQLite store)");
    cmd->add_option("--store", o->store, "Store URL: postgresql://… (instead of --data)");
    cmd->add_option("files", o->files, "Signed files: certificates, revocations, procedures, calendars")->required();
    add_common(cmd, o->c, false);
    on_run(cmd, [o]() -> Status {
      auto where = server_store(o->data, o->store);
      if (!where) return where.error();
      auto t = now();
      if (!t) return t.error();
      std::vector<crypto::SignedItem> all;
      for (const auto& f : o->files) {
        auto items = load_items(f);
        if (!items) return items.error();
        for (auto& i : *items) {
          if (i.type == engine::kTypeEvent) return make_error(Errc::invalid_argument, f + ": events reach a server by sync, not publish");
          all.push_back(std::move(i));
        }
      }
      auto store = engine::Store::open(*where);
      if (!store) return store.error();
      auto res = store->ingest(all, *t);
      if (!res) return res.error();
      int applied = 0;
      for (const auto& r : *res) applied += r.outcome == engine::Outcome::applied;
      if (o->c.json) print_json({{"applied", applied}, {"duplicates", static_cast<int>(res->size()) - applied}});
      else std::cout << "Published " << applied << " item(s) (" << res->size() - applied << " already there)\n";
      return {};
    });
  }
  {  // sync
    auto* cmd = app.add_subcommand("sync", "Push and pull until caught up (or forever with --watch)");
    struct O { Common c; std::string db, server; bool watch = false, progress = false; int interval = 30; int64_t rounds = 0; };
    auto o = std::make_shared<O>();
    cmd->add_option("--db", o->db, "The laptop's store")->required();
    cmd->add_option("--server", o->server, "Server HOST:PORT (default: the one given at hoso init)");
    cmd->add_flag("--watch", o->watch, "Keep syncing; retry with backoff, never give up");
    cmd->add_flag("--progress", o->progress, "Report progress as it goes");
    cmd->add_option("--interval", o->interval, "Seconds between rounds with --watch (default 30)");
    cmd->add_option("--rounds", o->rounds, "With --watch, stop after this many successful rounds (tests)");
    add_common(cmd, o->c, true);
    on_run(cmd, [o]() -> Status {
      std::signal(SIGPIPE, SIG_IGN);
      sync::ClientOptions co;
      co.db = o->db;
      co.server = o->server;
      co.now = clock_fn();
      {
        auto store = engine::Store::open(o->db, false);
        if (!store) return store.error();
        auto key = open_device_key(*store, o->c);
        if (!key) return key.error();
        co.device_key = std::make_shared<crypto::SigningKey>(std::move(*key));
      }
      bool tty = ::isatty(2);
      if (o->progress)
        co.progress = [tty](const sync::ClientOptions::Progress& p) { draw_progress(p, tty); };
      auto report = [&](const sync::SyncReport& r) {
        if (o->progress && tty) std::cerr << "\n";
        if (o->c.json)
          std::cout << nlohmann::json{{"pushed", r.pushed}, {"acked", r.acked}, {"pending", r.pending}, {"pulled", r.pulled},
                                      {"attachments_pending", r.attachments_pending}, {"bytes_sent", r.bytes_sent},
                                      {"bytes_received", r.bytes_received}}.dump(o->watch ? -1 : 2)
                    << std::endl;
        else
          std::cout << "Synced: pushed " << r.pushed << ", acknowledged up to " << r.acked << ", pending " << r.pending
                    << ", pulled " << r.pulled << ", attachments pending " << r.attachments_pending << std::endl;
      };
      if (!o->watch) {
        auto r = sync::sync_once(co);
        if (!r) return r.error();
        report(*r);
        return {};
      }
      std::signal(SIGTERM, on_signal);
      std::signal(SIGINT, on_signal);
      sync::Backoff backoff;
      int64_t done = 0;
      while (!g_stop.load()) {
        auto r = sync::sync_once(co);
        double wait;
        if (r) {
          report(*r);
          backoff.success();
          wait = o->interval;
          if (o->rounds > 0 && ++done >= o->rounds) break;
        } else {
          wait = backoff.next_failure();
          std::cerr << "hoso sync: " << r.error().message << "; retrying in " << static_cast<int64_t>(wait + 0.5) << " s"
                    << std::endl;
        }
        for (double w = 0; w < wait && !g_stop.load(); w += 0.1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      return {};
    });
  }
}

}  // namespace hoso::cli
