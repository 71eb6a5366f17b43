// bench_load [--devices N] [--seconds S] [--store URL] [--interval-ms MS] [--hoso PATH]
// Load on one real `hoso serve` process (issue 6, part 4): N simulated
// laptops sign steps and sync, all at once at the start and then each every
// MS ms or so (uniform in [0.5, 1.5] x MS), for S seconds. Prints plain
// "name: value unit" lines:
//  - errors: every failed sign or sync round (the first few are printed); the
//    run exits 1 on any error;
//  - ack latency p50/p90/p99/max: per pushed batch, from the client's last
//    message before the batch (the end of its pull, or the previous ACK) to
//    the batch's ACK with its receipt stored: the batch read from the laptop's
//    store, compressed, sent, verified and committed by the server, and
//    acknowledged, seen from the laptop;
//  - round time p50/p99: one whole sync_once (connect, both proofs, pull,
//    push, attachments lane);
//  - events/s acknowledged, rounds/s;
//  - the server's peak RSS (VmHWM of its /proc/PID/status), its RSS at the
//    end, and the CPU seconds it used;
//  - afterwards `hoso verify` of the server's store: every event the laptops
//    signed is there exactly once and verifies.
// --store is passed to `hoso serve`, `hoso publish` and `hoso verify` as is
// (default: SQLite in the data folder), so the same run works on any store
// the binary supports. The server keeps this shell's open-file limit (the
// benchmark raises its own), so it runs as a default deployment would.
//
// The client API is blocking (sync_once runs its own io_context), so each
// laptop is a thread, with a 512 KiB stack: N threads cost N x that much
// address space, little of it resident.
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../cli/defaults.hpp"
#include "common.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/file.hpp"
#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/engine/store.hpp"
#include "hoso/engine/trust.hpp"
#include "hoso/sync/sync.hpp"
#include "../sync/src/wire.hpp"

#ifndef HOSO_BINARY
#define HOSO_BINARY ""
#endif

namespace fs = std::filesystem;
using namespace hoso;
using namespace hoso::bench;

namespace {

const char* kPass = "bench passphrase";

// What die() must undo too (std::exit skips main's destructors).
std::string g_dir;
pid_t g_server_pid = -1;
void cleanup() {
  if (g_server_pid > 0) {
    ::kill(g_server_pid, SIGKILL);
    ::waitpid(g_server_pid, nullptr, 0);
    g_server_pid = -1;
  }
  if (!g_dir.empty() && !std::getenv("BENCH_KEEP")) {
    std::error_code ec;
    fs::remove_all(g_dir, ec);
  }
  if (!g_dir.empty() && std::getenv("BENCH_KEEP")) std::cerr << "bench_load: kept " << g_dir << "\n";
  g_dir.clear();
}

void iline(const std::string& name, long long v, const char* unit) {
  std::printf("%s: %lld %s\n", name.c_str(), v, unit);
  std::fflush(stdout);
}

// A field of /proc/PID/status in kB ("VmRSS", "VmHWM"); -1 if unreadable.
long proc_kb(pid_t pid, const char* key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string l, k = std::string(key) + ":";
  while (std::getline(f, l))
    if (l.rfind(k, 0) == 0) return std::strtol(l.c_str() + k.size(), nullptr, 10);
  return -1;
}

// User + system CPU seconds of a process (fields 14 and 15 of /proc/PID/stat).
double proc_cpu(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::vector<std::string> fields;
  std::string cur;
  for (size_t i = close + 2; i < s.size(); ++i) {
    if (s[i] == ' ') {
      fields.push_back(cur);
      cur.clear();
    } else {
      cur += s[i];
    }
  }
  // fields[0] is field 3 (state): utime is field 14, stime 15.
  if (fields.size() < 13) return -1;
  return (std::strtod(fields[11].c_str(), nullptr) + std::strtod(fields[12].c_str(), nullptr)) / sysconf(_SC_CLK_TCK);
}

// Runs `argv` with HOSO_PASSPHRASE set, stdout and stderr to `log` (appended),
// under the open-file limit `nofile`. Returns the child's pid.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log, rlim_t nofile) {
  pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
      rl.rlim_cur = std::min(nofile, rl.rlim_max);
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    ::setenv("HOSO_PASSPHRASE", kPass, 1);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    std::perror("exec");
    ::_exit(127);
  }
  return pid;
}

int run_wait(const std::vector<std::string>& argv, const std::string& log, rlim_t nofile) {
  pid_t pid = spawn(argv, log, nofile);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string tail_of(const std::string& path, size_t n = 2000) {
  std::ifstream f(path);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return s.size() > n ? s.substr(s.size() - n) : s;
}

// A thread with a small stack (a laptop spends its time in sync_once, whose
// coroutine frames live on the heap).
class SmallThread {
 public:
  explicit SmallThread(std::function<void()> f) : f_(std::move(f)) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 512 * 1024);
    if (pthread_create(&t_, &a, &SmallThread::run, this) != 0) die("cannot start a thread");
    pthread_attr_destroy(&a);
  }
  SmallThread(const SmallThread&) = delete;
  SmallThread& operator=(const SmallThread&) = delete;
  void join() { pthread_join(t_, nullptr); }

 private:
  static void* run(void* self) {
    static_cast<SmallThread*>(self)->f_();
    return nullptr;
  }
  std::function<void()> f_;
  pthread_t t_{};
};

// --- The light laptop: the protocol of sync/src/client.cpp spoken directly,
// a coroutine per laptop on one thread, pushing events signed before the run.
// A round is what a laptop's sync_once sends when nothing is to be moved as
// attachments: an events connection (both proofs, HELLO with the backlog,
// PULL until done, one PUSH of the round's events, BYE) and, at the same time,
// an attachments connection (its proof, HELLO, BYE). It does not check the
// server's proof nor store what it pulls: the laptop's own work is not what
// is measured, and 300 real clients would need 300 cores.
namespace w = sync::wire;
using asio_ctx_ref = std::reference_wrapper<boost::asio::ssl::context>;

struct Light {
  std::string id;  // the device certificate's id
  std::shared_ptr<crypto::SigningKey> key;
  std::vector<std::string> events;  // its log, signed before the run
  size_t acked = 0;
  int64_t items = 0, evpos = 0;
  std::string anchor, store;
};

struct Stats {
  std::vector<double> ack_ms, round_ms;
  long long rounds = 0, events = 0, signed_ = 0, errors = 0, idle_rounds = 0;
  std::vector<std::string> error_lines;
};

int64_t jint(const nlohmann::json& j, const char* k, int64_t dflt) {
  auto it = j.find(k);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : dflt;
}

// A reply of the expected type (the server's ERROR, or another type, fails).
w::awaitable<crypto::Result<std::pair<nlohmann::json, std::string>>> reply(w::Stream& s, uint8_t type) {
  auto f = co_await w::read_frame(s, std::chrono::seconds(60));
  if (!f) co_return f.error();
  auto m = w::parse_message(f->payload);
  if (!m) co_return m.error();
  if (f->type == w::kError) co_return crypto::make_error(crypto::Errc::unauthorized, "server: " + m->first.value("error", std::string()));
  if (f->type != type) co_return crypto::make_error(crypto::Errc::bad_format, "unexpected reply " + std::to_string(f->type));
  co_return std::pair<nlohmann::json, std::string>{m->first, std::string(m->second)};
}

// One connection: the events lane (pull, then push `k` events) or the
// attachments lane (nothing to move).
w::awaitable<crypto::Status> light_session(asio_ctx_ref ctx, w::tcp::endpoint ep, Light& d, bool events_lane, size_t k, Stats& st) {
  w::Stream s(co_await boost::asio::this_coro::executor, ctx.get());
  boost::system::error_code ec;
  co_await s.lowest_layer().async_connect(ep, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  if (!ec) co_await s.async_handshake(boost::asio::ssl::stream_base::client, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  if (ec) co_return crypto::make_error(crypto::Errc::io, "connect: " + ec.message());
  auto exp = w::exporter(s);
  if (!exp) co_return exp.error();
  nlohmann::json hello{{"v", w::kProtocolVersion}, {"device", d.id}, {"proof", crypto::to_hex(d.key->sign(w::kSessionDomain, *exp))}};
  if (events_lane) hello["pending"] = static_cast<int64_t>(d.events.size() - d.acked);
  std::string payload = w::message(hello);
  if (auto r = co_await w::write_frame(s, w::kHello, std::move(payload), std::chrono::seconds(60)); !r) co_return r;
  auto welcome = co_await reply(s, w::kWelcome);
  if (!welcome) co_return welcome.error();
  if (events_lane) {
    d.store = welcome->first.value("store", std::string());
    const int64_t acked = jint(welcome->first, "acked", -1);
    if (acked != static_cast<int64_t>(d.acked))
      co_return crypto::make_error(crypto::Errc::conflict, "the server acknowledged " + std::to_string(acked) + ", expected " + std::to_string(d.acked));
    for (bool first = true;; first = false) {
      nlohmann::json pull{{"store", d.store}, {"items", d.items}, {"events", d.evpos}, {"max", 64 * 1024}};
      if (!d.anchor.empty()) pull["anchor"] = d.anchor;
      if (first) pull["own_after"] = static_cast<int64_t>(d.acked);
      payload = w::message(pull);
      if (auto r = co_await w::write_frame(s, w::kPull, std::move(payload), std::chrono::seconds(60)); !r) co_return r;
      auto feed = co_await reply(s, w::kFeed);
      if (!feed) co_return feed.error();
      d.items = jint(feed->first, "items", d.items);
      d.evpos = jint(feed->first, "events", d.evpos);
      d.anchor = feed->first.value("anchor", std::string());
      if (feed->first.value("done", true)) break;
    }
    size_t n = std::min(k, d.events.size() - d.acked);
    if (n > 0) {
      std::string batch;
      for (size_t i = d.acked; i < d.acked + n; ++i) w::put_record(batch, 0, d.events[i]);
      auto z = sync::compress(batch);
      if (!z) co_return z.error();
      payload = w::message(nlohmann::json::object(), *z);
      auto t0 = Clock::now();
      if (auto r = co_await w::write_frame(s, w::kPush, std::move(payload), std::chrono::seconds(60)); !r) co_return r;
      auto ack = co_await reply(s, w::kAck);
      if (!ack) co_return ack.error();
      st.ack_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      if (jint(ack->first, "acked", -1) != static_cast<int64_t>(d.acked + n))
        co_return crypto::make_error(crypto::Errc::conflict, "the server acknowledged " + std::to_string(jint(ack->first, "acked", -1)) +
                                                               " after a batch ending at " + std::to_string(d.acked + n));
      d.acked += n;
      st.events += static_cast<long long>(n);
    } else {
      ++st.idle_rounds;
    }
    payload = w::message(nlohmann::json{{"pending", static_cast<int64_t>(d.events.size() - d.acked)}});
  } else {
    payload = w::message(nlohmann::json::object());
  }
  (void)co_await w::write_frame(s, w::kBye, std::move(payload), std::chrono::seconds(60));
  boost::system::error_code ignore;
  s.lowest_layer().close(ignore);
  co_return crypto::Status{};
}

// Rounds of one light laptop until the deadline (one round, pull only, with
// `warmup`: the cursor a laptop in daily use has).
w::awaitable<void> light_laptop(asio_ctx_ref ctx, w::tcp::endpoint ep, Light& d, Stats& st, size_t index, long interval_ms,
                                Clock::time_point deadline, bool warmup) {
  auto ex = co_await boost::asio::this_coro::executor;
  std::mt19937_64 rng(index * 7919 + 3);
  auto fail = [&](const std::string& what) {
    ++st.errors;
    if (st.error_lines.size() < 3) st.error_lines.push_back("laptop " + std::to_string(index) + ": " + what);
  };
  do {
    size_t k = warmup ? 0 : 1 + rng() % 3;
    auto t0 = Clock::now();
    auto lane = std::make_shared<std::optional<crypto::Status>>();
    auto wake = std::make_shared<boost::asio::steady_timer>(ex, boost::asio::steady_timer::time_point::max());
    if (!warmup)
      boost::asio::co_spawn(ex, light_session(ctx, ep, d, false, 0, st), [lane, wake](std::exception_ptr e, crypto::Status r) {
        *lane = e ? crypto::Status(crypto::make_error(crypto::Errc::internal, "attachments lane threw")) : r;
        wake->cancel();
      });
    crypto::Status r = co_await light_session(ctx, ep, d, true, k, st);
    if (!warmup && !*lane) {
      boost::system::error_code ec;
      co_await wake->async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    if (!warmup) {
      st.round_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      ++st.rounds;
    }
    if (!r) fail("events lane: " + r.error().message);
    if (!warmup && *lane && !**lane) fail("attachments lane: " + (*lane)->error().message);
    if (warmup) break;
    boost::asio::steady_timer t(ex, std::min(Clock::now() + std::chrono::milliseconds(static_cast<long>(
                                                                 interval_ms * std::uniform_real_distribution<double>(0.5, 1.5)(rng))),
                                             deadline));
    boost::system::error_code ec;
    co_await t.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  } while (Clock::now() < deadline);
}


}  // namespace

int main(int argc, char** argv) {
  on_die = cleanup;  // a failed run still stops its server and removes its folder
  long n_dev = 300, seconds = 60, interval_ms = 2000;
  std::string store_url, hoso = HOSO_BINARY, client = "light";
  auto usage = [] {
    std::cerr << "usage: bench_load [--devices N] [--seconds S] [--store URL] [--interval-ms MS] [--client light|real]\n"
                 "                  [--hoso PATH]\n"
                 "       (defaults: 300 devices, 60 s, SQLite in the data folder, a round every 2000 ms or so,\n"
                 "        light laptops, the hoso built beside this benchmark)\n";
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], v;
    auto take = [&](const char* flag) {
      std::string f = flag;
      if (a == f && i + 1 < argc) {
        v = argv[++i];
        return true;
      }
      if (a.rfind(f + "=", 0) == 0) {
        v = a.substr(f.size() + 1);
        return true;
      }
      return false;
    };
    auto num = [&](long& dst) {
      char* end = nullptr;
      dst = std::strtol(v.c_str(), &end, 10);
      return !v.empty() && !*end;
    };
    if (take("--devices")) { if (!num(n_dev)) return usage(); }
    else if (take("--seconds")) { if (!num(seconds)) return usage(); }
    else if (take("--interval-ms")) { if (!num(interval_ms)) return usage(); }
    else if (take("--store")) store_url = v;
    else if (take("--hoso")) hoso = v;
    else if (take("--client")) client = v;
    else return usage();
  }
  if (n_dev < 1 || n_dev > 5000 || seconds < 1 || interval_ms < 0 || (client != "light" && client != "real")) {
    std::cerr << "bench_load: need 1 <= devices <= 5000, seconds >= 1, interval-ms >= 0, --client light or real\n";
    return 2;
  }
  if (hoso.empty() || ::access(hoso.c_str(), X_OK) != 0) die("no hoso binary at \"" + hoso + "\" (give --hoso PATH)");
  if (sodium_init() < 0) die("sodium_init failed");
  ::signal(SIGPIPE, SIG_IGN);
  // This process holds every laptop's store and sockets: raise its own limit,
  // and give the server the limit it was started with.
  rlim_t server_nofile = 1024;
  {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
      server_nofile = rl.rlim_cur;
      rl.rlim_cur = rl.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
  }

  std::string tmpl = (fs::temp_directory_path() / "hoso-bench-load-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) die("cannot create a temporary folder");
  const std::string dir = tmpl;
  g_dir = dir;
  pid_t& server_pid = g_server_pid;

  // --- A province on the wall clock: communes of up to 10 laptops (slots
  // 0..9), one officer each with every commune role, a server.
  const int64_t wall = static_cast<int64_t>(std::time(nullptr));
  const int64_t t0 = wall - 86400;
  auto root = crypto::SigningKey::generate();
  std::vector<crypto::SignedItem> items;
  const std::string P = "000.00.00.H12";
  using K = engine::CertKind;
  auto certify = [&](engine::CertRequest req) {
    req.issued_at = t0;
    req.days = 3650;
    items.push_back(must(engine::issue_certificate(root, req), "issue certificate " + req.name));
    return items.back();
  };
  {
    engine::CertRequest u;
    u.kind = K::unit;
    u.name = "UBND tỉnh";
    u.unit = P;
    certify(u);
  }
  const long communes = (n_dev + 9) / 10;
  struct Commune {
    std::string unit;
    std::shared_ptr<crypto::SigningKey> officer;
  };
  std::vector<Commune> cs;
  for (long i = 0; i < communes; ++i) {
    Commune c;
    char code[32];
    std::snprintf(code, sizeof code, "000.%02ld.%03ld.H12", 1 + i / 900, 100 + i % 900);
    c.unit = code;
    engine::CertRequest u;
    u.kind = K::unit;
    u.name = "Xã " + std::to_string(i + 1);
    u.unit = c.unit;
    u.parent = P;
    certify(u);
    c.officer = std::make_shared<crypto::SigningKey>(crypto::SigningKey::generate());
    engine::CertRequest r;
    r.kind = K::officer;
    r.name = "Cán bộ xã " + std::to_string(i + 1);
    r.unit = c.unit;
    r.pub = c.officer->public_key();
    r.roles = {"receiver", "specialist", "leader"};
    certify(r);
    cs.push_back(c);
  }
  struct Device {
    std::shared_ptr<crypto::SigningKey> key;
    size_t commune = 0;
    std::string db;
  };
  std::vector<Device> devs;
  std::vector<crypto::SignedItem> dev_certs;
  for (long i = 0; i < n_dev; ++i) {
    Device d;
    d.key = std::make_shared<crypto::SigningKey>(crypto::SigningKey::generate());
    d.commune = static_cast<size_t>(i / 10);
    d.db = dir + "/d" + std::to_string(i) + ".db";
    engine::CertRequest r;
    r.kind = K::device;
    r.name = "Máy " + std::to_string(i);
    r.unit = cs[d.commune].unit;
    r.pub = d.key->public_key();
    r.slot = i % 10;
    dev_certs.push_back(certify(r));
    devs.push_back(d);
  }
  auto server_key = crypto::SigningKey::generate();
  crypto::SignedItem server_cert;
  {
    engine::CertRequest r;
    r.kind = K::server;
    r.name = "Máy chủ tỉnh";
    r.unit = P;
    r.pub = server_key.public_key();
    server_cert = certify(r);
  }
  items.push_back(must(engine::sign_document(root, engine::kTypeProcedure,
                                             must(crypto::parse_json_strict(cli::defaults::kProcedure), "procedure"), t0),
                       "sign procedure"));
  // Calendars around today (the 2027 one with its year changed and no holidays
  // beyond the embedded 2026 and 2027).
  {
    std::time_t now = static_cast<std::time_t>(wall);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    const int year = tm.tm_year + 1900;
    for (int y = year - 1; y <= year + 1; ++y) {
      auto j = must(crypto::parse_json_strict(y == 2026 ? cli::defaults::kCalendar2026 : cli::defaults::kCalendar2027), "calendar");
      if (y != 2026 && y != 2027) {
        j["year"] = y;
        j["holidays"] = nlohmann::json::array();
      }
      items.push_back(must(engine::sign_document(root, engine::kTypeCalendar, j, t0), "sign calendar"));
    }
  }

  // --- The server's files, the server, its store filled by `hoso publish`.
  const std::string data = dir + "/srv";
  {
    must(crypto::write_file_atomic(dir + "/root.pub", crypto::public_key_file(root.public_key(), "root"), 0644), "write root.pub");
    auto sealed = must(crypto::seal_key_file(server_key, "server", kPass, crypto::Kdf::interactive), "seal server key");
    must(crypto::write_file_atomic(dir + "/server.key", std::string_view(reinterpret_cast<const char*>(sealed.data()), sealed.size()), 0600),
         "write server.key");
    must(crypto::write_file_atomic(dir + "/server.cert", server_cert.bytes + "\n", 0644), "write server.cert");
    std::string all;
    for (const auto& it : items) all += it.bytes + "\n";
    must(crypto::write_file_atomic(dir + "/items.signed", all, 0644), "write items");
  }
  auto with_store = [&](std::vector<std::string> a) {
    if (!store_url.empty()) {
      a.push_back("--store");
      a.push_back(store_url);
    }
    return a;
  };
  const std::string log = dir + "/serve.log";
  server_pid = spawn(with_store({hoso, "serve", "--data", data, "--root", dir + "/root.pub", "--key", dir + "/server.key", "--cert",
                                 dir + "/server.cert", "--listen", "127.0.0.1:0", "--port-file", dir + "/srv.port",
                                 // every simulated laptop comes from 127.0.0.1
                                 "--max-per-address", "0"}),
                     log, server_nofile);
  std::string port;
  for (int i = 0; i < 400 && port.empty(); ++i) {
    std::ifstream f(dir + "/srv.port");
    std::getline(f, port);
    if (port.empty()) {
      int st = 0;
      if (::waitpid(server_pid, &st, WNOHANG) == server_pid) {
        server_pid = -1;
        die("hoso serve exited: " + tail_of(log));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (port.empty()) die("hoso serve wrote no port file: " + tail_of(log));
  const std::string server = "127.0.0.1:" + port;
  // The server made its store; the province's items go in as an operator puts them.
  if (int rc = run_wait(with_store({hoso, "publish", "--data", data, dir + "/items.signed"}), dir + "/publish.log", server_nofile); rc != 0)
    die("hoso publish exited " + std::to_string(rc) + ": " + tail_of(dir + "/publish.log"));
  auto now_fn = [] { return static_cast<int64_t>(std::time(nullptr)); };

  // --- The laptops' stores, on every core. Real laptops sync once (so the
  // measured rounds start from an up-to-date cursor, as a laptop in daily use
  // does); light ones sign the events they will push (about two a round).
  const bool light = client == "light";
  const size_t per_laptop = static_cast<size_t>(2 * (seconds * 1000 / std::max<long>(interval_ms, 100) + 2) + 10);
  std::vector<Light> lights(devs.size());
  auto tb = Clock::now();
  {
    std::atomic<size_t> next{0};
    std::atomic<bool> bad{false};
    std::string first_error;
    std::mutex m;
    std::vector<std::thread> ws;
    for (unsigned w = 0; w < std::max(1u, std::thread::hardware_concurrency()); ++w)
      ws.emplace_back([&] {
        for (size_t i; !bad && (i = next++) < devs.size();) {
          auto fail = [&](const std::string& what) {
            std::lock_guard<std::mutex> g(m);
            if (first_error.empty()) first_error = what;
            bad = true;
          };
          const auto& d = devs[i];
          auto sealed = crypto::seal_key_file(*d.key, "laptop", kPass, crypto::Kdf::interactive);
          if (!sealed) return fail("seal key: " + sealed.error().message);
          std::string key_file(reinterpret_cast<const char*>(sealed->data()), sealed->size());
          auto store = engine::Store::create_device(d.db, root.public_key(), dev_certs[i], key_file, server);
          if (!store) return fail("create device store: " + store.error().message);
          if (auto r = store->ingest(items, t0); !r) return fail("ingest province items: " + r.error().message);
          if (light) {
            static const char* kSteps[] = {"accept", "approve", "approve", "deliver"};
            const auto& officer = *cs[d.commune].officer;
            std::string code;
            for (size_t e = 0; e < per_laptop; ++e) {
              int64_t t = now_fn();
              if (e % 5 == 0) {
                engine::ReceiveRequest r{"1.001193",
                                         "Người nộp " + std::to_string(i) + "-" + std::to_string(e),
                                         {{"cccd", "0012010" + std::to_string(100000 + e)}, {"child_name", "Bé"}, {"birth_date", "2026-02-20"}},
                                         {}};
                auto res = store->receive(officer, *d.key, r, t);
                if (!res) return fail("receive: " + res.error().message);
                code = res->code;
              } else {
                engine::ActRequest r;
                r.dossier = code;
                r.action = kSteps[e % 5 - 1];
                if (auto res = store->act(officer, *d.key, r, t); !res) return fail("act: " + res.error().message);
              }
            }
            auto log = store->device_log(dev_certs[i].id_hex(), 0, per_laptop);
            if (!log || log->size() != per_laptop) return fail("device log of laptop " + std::to_string(i));
            lights[i].id = dev_certs[i].id_hex();
            lights[i].key = d.key;
            for (auto& it : *log) lights[i].events.push_back(std::move(it.bytes));
            continue;
          }
          sync::ClientOptions co;
          co.db = d.db;
          co.device_key = d.key;
          co.now = now_fn;
          if (auto r = sync::sync_once(co); !r) return fail("first sync of laptop " + std::to_string(i) + ": " + r.error().message);
        }
      });
    for (auto& t : ws) t.join();
    if (bad) die(first_error);
  }
  auto ctx = w::client_context();
  const auto endpoint = w::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(std::stoi(port)));
  std::vector<Stats> stats(devs.size());
  if (light) {
    // One pull each: the cursor of a laptop in daily use.
    boost::asio::io_context io;
    for (size_t i = 0; i < lights.size(); ++i)
      boost::asio::co_spawn(io, light_laptop(std::ref(*ctx), endpoint, lights[i], stats[i], i, 0, Clock::now(), true), boost::asio::detached);
    io.run();
    for (auto& st : stats)
      if (st.errors) die("warm-up pull: " + st.error_lines.front());
    stats.assign(devs.size(), Stats{});
  }
  line("laptops_ready", secs_since(tb), light ? "s (stores built, events signed, one pull each)" : "s (stores built and synced once)");
  // The peak so far is the server's key unlock (argon2 takes 64 MiB): reset
  // it (Linux >= 4.0), so the peak printed is the load's.
  const long hwm_start = proc_kb(server_pid, "VmHWM");
  bool hwm_reset = false;
  {
    std::ofstream f("/proc/" + std::to_string(server_pid) + "/clear_refs");
    f << "5";
    f.flush();
    hwm_reset = static_cast<bool>(f);
  }
  const long rss_ready = proc_kb(server_pid, "VmRSS");
  const double cpu_ready = proc_cpu(server_pid);

  // --- The load: every laptop at once, then a round every interval or so.
  std::mutex start_m;
  std::condition_variable start_cv;
  bool go = false;
  Clock::time_point start, deadline;
  std::vector<std::unique_ptr<SmallThread>> threads;
  if (light) {
    boost::asio::io_context io;
    start = Clock::now();
    deadline = start + std::chrono::seconds(seconds);
    for (size_t i = 0; i < lights.size(); ++i)
      boost::asio::co_spawn(io, light_laptop(std::ref(*ctx), endpoint, lights[i], stats[i], i, interval_ms, deadline, false),
                            boost::asio::detached);
    io.run();
  }
  for (size_t i = 0; !light && i < devs.size(); ++i)
    threads.push_back(std::make_unique<SmallThread>([&, i] {
      const auto& d = devs[i];
      Stats& st = stats[i];
      std::mt19937_64 rng(i * 7919 + 1);
      {
        std::unique_lock<std::mutex> g(start_m);
        start_cv.wait(g, [&] { return go; });
      }
      const auto& officer = *cs[d.commune].officer;
      static const char* kSteps[] = {"accept", "approve", "approve", "deliver"};
      std::string code;
      int next_step = 4;  // 4: the next step receives a new dossier
      long made = 0;
      auto fail = [&](const std::string& what) {
        ++st.errors;
        if (st.error_lines.size() < 3) st.error_lines.push_back("laptop " + std::to_string(i) + ": " + what);
      };
      while (Clock::now() < deadline) {
        // One to three steps, as an officer at the desk signs them.
        {
          auto store = engine::Store::open(d.db);
          if (!store) {
            fail("open: " + store.error().message);
          } else {
            int k = 1 + static_cast<int>(rng() % 3);
            for (int s = 0; s < k; ++s) {
              int64_t t = now_fn();
              if (next_step >= 4) {
                engine::ReceiveRequest r{"1.001193",
                                         "Người nộp " + std::to_string(i) + "-" + std::to_string(made),
                                         {{"cccd", "0012010" + std::to_string(100000 + made)},
                                          {"child_name", "Bé " + std::to_string(made)},
                                          {"birth_date", "2026-02-20"}},
                                         {}};
                auto res = store->receive(officer, *d.key, r, t);
                if (!res) { fail("receive: " + res.error().message); break; }
                code = res->code;
                next_step = 0;
              } else {
                engine::ActRequest r;
                r.dossier = code;
                r.action = kSteps[next_step];
                auto res = store->act(officer, *d.key, r, t);
                if (!res) { fail(std::string(kSteps[next_step]) + ": " + res.error().message); break; }
                ++next_step;
              }
              ++made;
              ++st.signed_;
            }
          }
        }
        sync::ClientOptions co;
        co.db = d.db;
        co.device_key = d.key;
        co.now = now_fn;
        auto last = Clock::now();
        const auto round_start = last;
        co.progress = [&](const sync::ClientOptions::Progress& p) {
          auto t = Clock::now();
          if (p.phase == "push") st.ack_ms.push_back(std::chrono::duration<double, std::milli>(t - last).count());
          last = t;
        };
        auto r = sync::sync_once(co);
        st.round_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - round_start).count());
        ++st.rounds;
        if (!r) fail("sync: " + r.error().message);
        else if (r->pending != 0) fail("sync left " + std::to_string(r->pending) + " events pending");
        else st.events += r->pushed;
        auto wait = std::chrono::milliseconds(static_cast<long>(interval_ms * std::uniform_real_distribution<double>(0.5, 1.5)(rng)));
        auto wake = std::min(Clock::now() + wait, deadline);
        std::this_thread::sleep_until(wake);
      }
    }));
  if (!light) {
    std::lock_guard<std::mutex> g(start_m);
    start = Clock::now();
    deadline = start + std::chrono::seconds(seconds);
    go = true;
  }
  start_cv.notify_all();
  for (auto& t : threads) t->join();
  const double run_s = secs_since(start);
  const long hwm = proc_kb(server_pid, "VmHWM");
  const long rss_end = proc_kb(server_pid, "VmRSS");
  const double cpu = proc_cpu(server_pid) - cpu_ready;

  Stats all;
  for (auto& s : stats) {
    all.ack_ms.insert(all.ack_ms.end(), s.ack_ms.begin(), s.ack_ms.end());
    all.round_ms.insert(all.round_ms.end(), s.round_ms.begin(), s.round_ms.end());
    all.rounds += s.rounds;
    all.events += s.events;
    all.signed_ += s.signed_;
    all.errors += s.errors;
    all.idle_rounds += s.idle_rounds;
    for (auto& e : s.error_lines)
      if (all.error_lines.size() < 10) all.error_lines.push_back(e);
  }
  for (const auto& e : all.error_lines) std::cerr << "bench_load: " << e << "\n";

  std::printf("cores: %u cores\n", std::thread::hardware_concurrency());
  iline("devices", n_dev, "laptops");
  iline("communes", communes, "communes");
  std::printf("store: %s\n", store_url.empty() ? "sqlite (default, in the data folder)" : store_url.c_str());
  iline("interval", interval_ms, "ms (a round every 0.5-1.5 x this, per laptop)");
  std::printf("client: %s\n", light ? "light (the protocol spoken by one coroutine per laptop, events signed before the run)"
                                     : "real (sync::sync_once, a thread per laptop, steps signed during the run)");
  line("run_time", run_s, "s");
  iline("rounds", all.rounds, "sync rounds");
  iline("errors", all.errors, "failed rounds or steps");
  if (light) all.signed_ = static_cast<long long>(per_laptop * lights.size());
  iline("events_signed", all.signed_, light ? "events (before the run)" : "events");
  if (light) iline("rounds_without_events", all.idle_rounds, "rounds (a laptop had pushed all it had signed)");
  iline("events_acked", all.events, "events");
  iline("batches_acked", static_cast<long long>(all.ack_ms.size()), "batches");
  line("events_per_second", static_cast<double>(all.events) / run_s, "events/s acknowledged", 1);
  line("rounds_per_second", static_cast<double>(all.rounds) / run_s, "rounds/s", 1);
  line("ack_latency_p50", pct(all.ack_ms, 0.5), "ms");
  line("ack_latency_p90", pct(all.ack_ms, 0.9), "ms");
  line("ack_latency_p99", pct(all.ack_ms, 0.99), "ms");
  line("ack_latency_max", pct(all.ack_ms, 1.0), "ms");
  line("round_time_p50", pct(all.round_ms, 0.5), "ms");
  line("round_time_p99", pct(all.round_ms, 0.99), "ms");
  iline("server_rss_ready", rss_ready, "kB (before the load)");
  iline("server_rss_end", rss_end, "kB");
  iline("server_peak_rss_startup", hwm_start, "kB (VmHWM before the load: the key unlock's argon2)");
  iline("server_peak_rss", hwm, hwm_reset ? "kB (VmHWM of the hoso serve process during the load)"
                                          : "kB (VmHWM of the hoso serve process, whole life: could not reset it)");
  line("server_cpu", cpu, "s (user + system during the load)", 1);
  line("server_cpu_share", run_s > 0 ? cpu / run_s : 0, "cores busy on average", 2);

  // --- Afterwards: the server holds every signed event once, and verifies.
  ::kill(server_pid, SIGTERM);
  int wst = 0;
  ::waitpid(server_pid, &wst, 0);
  server_pid = -1;
  bool ok = all.errors == 0;
  if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0) {
    std::cerr << "bench_load: hoso serve did not stop cleanly on SIGTERM\n";
    ok = false;
  }
  const std::string vout = dir + "/verify.json";
  ::unlink(vout.c_str());
  int vrc = run_wait(with_store({hoso, "verify", "--data", data, "--json"}), vout, server_nofile);
  long long checked = -1;
  {
    std::ifstream f(vout);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto j = nlohmann::json::parse(s, nullptr, false);
    if (vrc != 0 || !j.is_object() || !j.value("ok", false)) {
      std::cerr << "bench_load: hoso verify of the server's store exited " << vrc << ": " << s.substr(0, 2000) << "\n";
      ok = false;
    } else {
      checked = j.value("checked", -1LL);
    }
  }
  // Real laptops: every signed event was acknowledged (each round ends with a
  // sync that left nothing pending). Light ones: exactly the acknowledged ones.
  iline("server_events_verified", checked, "events");
  const long long want = light ? all.events : all.signed_;
  if (checked != want) {
    std::cerr << "bench_load: the server holds " << checked << " events, the laptops had " << want << " acknowledged\n";
    ok = false;
  }
  if (all.errors) std::cerr << "bench_load: " << all.errors << " errors (server log: " << log << ", kept with BENCH_KEEP=1)\n";
  cleanup();
  return ok ? 0 : 1;
}
