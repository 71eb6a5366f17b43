// bench_sync [--devices N] [--events-per-device M] [--cut-events P]
//            [--connections C] [--backlog B] [--push-rounds R]
// Figures of the sync server (SPEC §5-§6) measured in one run, printed as
// plain "name: value unit" lines. No timing assertions: this measures, it
// does not judge. The defaults (50 devices x 40 events) finish well under a
// minute on 2 cores.
//
// What it measures:
//  1. Ingest: N device stores (one officer per commune, devices of 5 or more
//     communes, in-memory keys), each with M events made by Store::receive and
//     Store::act, then all N devices run sync::sync_once at once (a thread
//     each) against one in-process server: events/s ingested with full
//     verification (total events / wall time of that concurrent phase, which
//     also includes each session's pull), beside libsodium's
//     crypto_sign_verify_detached rate on ONE core on a message of event size,
//     and the ratio ingest_rate / (sodium_rate / 2) (two signatures per event;
//     the server verifies a batch's signatures on every core).
//     Also the push-only phase (the same logs pushed by hand to a fresh
//     server, no pull: the server's share), in --push-rounds rounds with
//     libsodium measured on every core after each (cores x the one-core rate
//     assumes a perfect scaling that a shared VM may not give), the best of
//     each kept; and the CPU time of the server's own threads per event
//     beside two verifications' (the clients run in this process too).
//  2. Bytes on the wire per event (SyncReport.bytes_sent / pushed) beside the
//     mean canonical event size (envelope bytes) and their ratio.
//  3. Bytes re-sent after cuts: one more device with P events syncs through
//     sync::FlakyLink cutting every connection at 20-60 KB, retried until it
//     succeeds; the bytes it sends towards the server (TCP payload, TLS
//     included, counted by a forwarder in front of the link) summed over all
//     attempts, minus the bytes of a clean sync of the same data (a copy of
//     the store, to a second fresh server).
//  4. The server's memory: the process's VmRSS before and while C idle TLS
//     connections (handshake done, then silence) are open to it, and VmHWM;
//     with the number of events in the server store (--backlog B tops the
//     store up to B events before this step: one more device a core, built
//     and synced side by side; their build and sync times are printed).
#include <utility>  // before Asio with Boost 1.74 and g++ 12

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../cli/defaults.hpp"
#include "common.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/engine/calendar.hpp"
#include "hoso/engine/store.hpp"
#include "hoso/sync/flaky_link.hpp"
#include "hoso/sync/sync.hpp"
#include "wire.hpp"

namespace fs = std::filesystem;
using namespace hoso;
using namespace hoso::bench;

namespace {

void iline(const std::string& name, long long v, const char* unit) {
  std::printf("%s: %lld %s\n", name.c_str(), v, unit);
  std::fflush(stdout);
}

// kB from /proc/self/status ("VmRSS", "VmHWM").
long proc_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string l;
  std::string k = std::string(key) + ":";
  while (std::getline(f, l))
    if (l.rfind(k, 0) == 0) return std::strtol(l.c_str() + k.size(), nullptr, 10);
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0); false if refused.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

// Nanoseconds on a CPU of this process's threads named `name` (the server
// names its threads "hoso-serve"), from /proc/self/task/*/schedstat; -1 if
// the kernel does not keep schedstat.
long long threads_cpu_ns(const std::string& name) {
  long long total = 0;
  bool any = false;
  std::error_code ec;
  for (const auto& t : fs::directory_iterator("/proc/self/task", ec)) {
    std::ifstream c(t.path() / "comm");
    std::string comm;
    if (!std::getline(c, comm) || comm != name) continue;
    std::ifstream st(t.path() / "schedstat");
    long long ns = 0;
    if (st >> ns) total += ns, any = true;
  }
  return any ? total : -1;
}

int listen_loopback(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 1024) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A loopback forwarder that counts the bytes going towards the target
// (client to server), over every connection it carries.
class CountingForwarder {
 public:
  explicit CountingForwarder(uint16_t target) : target_(target) {
    lfd_ = listen_loopback(port_);
    if (lfd_ < 0) die("counting forwarder: cannot listen");
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~CountingForwarder() {
    stop_ = true;
    ::shutdown(lfd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(lfd_);
    std::lock_guard<std::mutex> g(m_);
    for (auto& t : conns_)
      if (t.joinable()) t.join();
  }
  uint16_t port() const { return port_; }
  long long up() const { return up_.load(); }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{lfd_, POLLIN, 0};
      int r = ::poll(&p, 1, 200);
      if (r <= 0) continue;
      int c = ::accept(lfd_, nullptr, nullptr);
      if (c < 0) continue;
      std::lock_guard<std::mutex> g(m_);
      conns_.emplace_back([this, c] { pump(c); });
    }
  }
  void pump(int c) {
    int s = connect_loopback(target_);
    if (s < 0) {
      ::close(c);
      return;
    }
    char buf[65536];
    bool open_c = true, open_s = true;
    while (!stop_ && (open_c || open_s)) {
      pollfd p[2] = {{c, static_cast<short>(open_c ? POLLIN : 0), 0}, {s, static_cast<short>(open_s ? POLLIN : 0), 0}};
      int r = ::poll(p, 2, 200);
      if (r <= 0) continue;
      if (open_c && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0 || !send_all(s, buf, n)) {
          open_c = false;
          ::shutdown(s, SHUT_WR);
          if (n < 0) break;
        } else {
          up_ += n;
        }
      }
      if (open_s && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = ::recv(s, buf, sizeof buf, 0);
        if (n <= 0 || !send_all(c, buf, n)) {
          open_s = false;
          ::shutdown(c, SHUT_WR);
          if (n < 0) break;
        }
      }
    }
    ::close(c);
    ::close(s);
  }
  static bool send_all(int fd, const char* b, ssize_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd, b, static_cast<size_t>(n), MSG_NOSIGNAL);
      if (w <= 0) return false;
      b += w;
      n -= w;
    }
    return true;
  }
  uint16_t target_, port_ = 0;
  int lfd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<long long> up_{0};
  std::thread thread_;
  std::mutex m_;
  std::vector<std::thread> conns_;
};

// A server running in a thread until destroyed.
struct Server {
  sync::ServerOptions opt;
  std::atomic<bool> stop{false};
  crypto::Status st;
  std::thread th;
  uint16_t port = 0;
  explicit Server(sync::ServerOptions o) : opt(std::move(o)) {
    std::promise<uint16_t> pp;
    auto f = pp.get_future();
    opt.on_listening = [&pp](uint16_t p) { pp.set_value(p); };
    th = std::thread([this] {
      // serve() names its pool's threads; this one, which serves too, is named here.
      pthread_setname_np(pthread_self(), "hoso-serve");
      st = sync::serve(opt, stop);
    });
    if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      stop = true;
      th.join();
      die("the server did not start" + (st ? std::string() : ": " + st.error().message));
    }
    port = f.get();
  }
  ~Server() {
    stop = true;
    if (th.joinable()) th.join();
  }
};

long long store_events(const std::string& path) {
  auto s = must(engine::Store::open(path, false), "open server store");
  auto w = must(s.watermarks(), "watermarks");
  long long n = 0;
  for (const auto& [d, seq] : w) n += seq;
  return n;
}

// One device's log pushed by hand over the wire (TLS, HELLO, then PUSH
// batches of pre-compressed records, each waiting for its ACK): the client
// side of a session reduced to what it must do, so that the server's share of
// the machine is what the figure measures. Returns "" or what went wrong.
std::string push_by_hand(uint16_t port, const crypto::SigningKey& key, const std::string& device,
                         const std::vector<std::string>& batches) {
  namespace asio = boost::asio;
  using namespace sync::wire;
  try {
    asio::io_context io;
    auto ctx = client_context();
    Stream s{io, *ctx};
    s.lowest_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    s.handshake(asio::ssl::stream_base::client);
    auto e = exporter(s);
    if (!e) return e.error().message;
    std::string err;
    auto session = [&]() -> awaitable<void> {
      const auto t = std::chrono::seconds(60);
      nlohmann::json h = nlohmann::json::object();
      h["v"] = kProtocolVersion;
      h["device"] = device;
      h["proof"] = crypto::to_hex(key.sign(kSessionDomain, *e));
      auto st = co_await write_frame(s, kHello, message(h), t);
      if (!st) { err = st.error().message; co_return; }
      auto f = co_await read_frame(s, t);
      if (!f || f->type != kWelcome) { err = f ? "no WELCOME" : f.error().message; co_return; }
      for (const auto& b : batches) {
        st = co_await write_frame(s, kPush, message(nlohmann::json::object(), b), t);
        if (!st) { err = st.error().message; co_return; }
        f = co_await read_frame(s, t);
        if (!f) { err = f.error().message; co_return; }
        if (f->type != kAck) {
          auto m = parse_message(f->payload);
          err = "no ACK: " + (m ? m->first.dump() : std::string("?"));
          co_return;
        }
      }
      co_await write_frame(s, kBye, message(nlohmann::json::object()), t);
    };
    asio::co_spawn(io, session(), asio::detached);
    io.run();
    return err;
  } catch (const std::exception& x) {
    return x.what();
  }
}

}  // namespace

int main(int argc, char** argv) {
  long n_dev = 50, m_ev = 40, p_ev = 400, conns = 200, backlog = 0, push_rounds = 3;
  auto usage = [] {
    std::cerr << "usage: bench_sync [--devices N] [--events-per-device M] [--cut-events P] [--connections C] [--backlog B]\n"
                 "                  [--push-rounds R]\n"
                 "       (defaults: 50 devices, 40 events each, 400 events over the cut link, 200 connections,\n"
                 "        backlog: no events beyond the ones synced, 3 rounds of the push-only phase)\n";
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    long* dst = nullptr;
    std::string v;
    for (auto [flag, p] : {std::pair{"--devices", &n_dev}, {"--events-per-device", &m_ev}, {"--cut-events", &p_ev},
                           {"--connections", &conns}, {"--backlog", &backlog},
                           {"--push-rounds", &push_rounds}}) {
      std::string f = flag;
      if (a == f && i + 1 < argc) {
        dst = p;
        v = argv[++i];
      } else if (a.rfind(f + "=", 0) == 0) {
        dst = p;
        v = a.substr(f.size() + 1);
      }
      if (dst) break;
    }
    if (!dst) return usage();
    char* end = nullptr;
    *dst = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end) return usage();
  }
  if (n_dev < 1 || n_dev > 900 || m_ev < 2 || p_ev < 2 || conns < 0 || backlog < 0 || push_rounds < 1) {
    std::cerr << "bench_sync: need 1 <= devices <= 900, events-per-device >= 2, cut-events >= 2, connections >= 0, backlog >= 0, push-rounds >= 1\n";
    return 2;
  }
  if (sodium_init() < 0) die("sodium_init failed");
  // The idle connections of step 4 write their ClientHello with write(2): a
  // connection the server has closed would end the run with SIGPIPE, silently.
  ::signal(SIGPIPE, SIG_IGN);
  {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
  }

  TempDir temp("hoso-bench-sync");
  const std::string& dir = temp.path;

  // A province: root, the province unit, communes of up to 10 devices (slots
  // 0..9) with one officer each, a server; the procedure and calendars.
  const int64_t t0 = must(engine::parse_iso8601("2026-03-02T08:00:00+07:00"), "parse time");
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
  const long communes = std::max<long>(5, (n_dev + 9) / 10);
  struct Commune {
    std::string unit;
    std::shared_ptr<crypto::SigningKey> officer;
  };
  std::vector<Commune> cs;
  auto add_commune = [&](const std::string& name) {
    Commune c;
    char code[32];
    std::snprintf(code, sizeof code, "000.00.%03zu.H12", 100 + cs.size());
    c.unit = code;
    engine::CertRequest u;
    u.kind = K::unit;
    u.name = name;
    u.unit = c.unit;
    u.parent = P;
    certify(u);
    c.officer = std::make_shared<crypto::SigningKey>(crypto::SigningKey::generate());
    engine::CertRequest r;
    r.kind = K::officer;
    r.name = "Cán bộ " + name;
    r.unit = c.unit;
    r.pub = c.officer->public_key();
    r.roles = {"receiver"};
    certify(r);
    cs.push_back(c);
    return cs.size() - 1;
  };
  for (long i = 0; i < communes; ++i) add_commune("Xã " + std::to_string(i + 1));
  const size_t cut_commune = add_commune("Xã đường truyền kém");
  const size_t backlog_commune = add_commune("Xã tồn đọng");

  struct Device {
    std::shared_ptr<crypto::SigningKey> key;
    crypto::SignedItem cert;
    size_t commune = 0;
    int64_t slot = 0;
    std::string db;
  };
  auto make_device = [&](size_t commune, int64_t slot, const std::string& db) {
    Device d;
    d.key = std::make_shared<crypto::SigningKey>(crypto::SigningKey::generate());
    d.commune = commune;
    d.slot = slot;
    d.db = dir + "/" + db;
    engine::CertRequest r;
    r.kind = K::device;
    r.name = "Máy " + db;
    r.unit = cs[commune].unit;
    r.pub = d.key->public_key();
    r.slot = slot;
    d.cert = certify(r);
    return d;
  };
  std::vector<Device> devs;
  for (long i = 0; i < n_dev; ++i) devs.push_back(make_device(i % communes, (i / communes) % 10, "d" + std::to_string(i) + ".db"));
  Device cut_dev = make_device(cut_commune, 0, "cut.db");
  // The backlog is made by one device a core (slots 0..9 of one commune),
  // built and synced side by side.
  std::vector<Device> backlog_devs;
  const unsigned backlog_k = std::min(10u, std::max(1u, std::thread::hardware_concurrency()));
  for (unsigned i = 0; backlog > 0 && i < backlog_k; ++i)
    backlog_devs.push_back(make_device(backlog_commune, i, "backlog" + std::to_string(i) + ".db"));
  auto server_key = std::make_shared<crypto::SigningKey>(crypto::SigningKey::generate());
  crypto::SignedItem server_cert;
  {
    engine::CertRequest r;
    r.kind = K::server;
    r.name = "Máy chủ tỉnh";
    r.unit = P;
    r.pub = server_key->public_key();
    server_cert = certify(r);
  }
  auto doc = [&](const char* type, const char* text) {
    auto j = must(crypto::parse_json_strict(text), "parse default document");
    items.push_back(must(engine::sign_document(root, type, j, t0), "sign document"));
  };
  doc(engine::kTypeProcedure, cli::defaults::kProcedure);
  doc(engine::kTypeCalendar, cli::defaults::kCalendar2026);
  doc(engine::kTypeCalendar, cli::defaults::kCalendar2027);
  // Calendars for 2028-2030 (the 2027 one, year changed, no holidays), signed
  // here for the benchmark only: a large --backlog runs past 2027.
  for (int year = 2028; year <= 2030; ++year) {
    auto j = must(crypto::parse_json_strict(cli::defaults::kCalendar2027), "parse default calendar");
    j["year"] = year;
    j["holidays"] = nlohmann::json::array();
    items.push_back(must(engine::sign_document(root, engine::kTypeCalendar, j, t0), "sign bench calendar"));
  }

  // One device store with `count` events (receive, then accept, in blocks of
  // at most 900 dossiers a day). Returns the time of the last event.
  auto build_store = [&](const Device& d, long count, int64_t first_day) -> int64_t {
    auto sealed = must(crypto::seal_key_file(*d.key, "bench", "bench passphrase", crypto::Kdf::interactive), "seal key");
    std::string key_file(reinterpret_cast<const char*>(sealed.data()), sealed.size());
    auto store = must(engine::Store::create_device(d.db, root.public_key(), d.cert, key_file, ""), "create device store");
    must(store.ingest(items, t0), "ingest province items");
    const auto& officer = *cs[d.commune].officer;
    long made = 0;
    int64_t day = first_day, last = t0;
    std::vector<std::string> codes;
    while (made < count) {
      long k = std::min<long>(900, (count - made + 1) / 2);
      codes.clear();
      for (long i = 0; i < k; ++i) {
        int64_t t = t0 + day * 86400 + 600 + i * 20;
        engine::ReceiveRequest r{"1.001193",
                                 "Người nộp " + std::to_string(made),
                                 {{"cccd", "0012010" + std::to_string(100000 + (made % 800000))},
                                  {"child_name", "Bé " + std::to_string(made)},
                                  {"birth_date", "2026-02-20"}},
                                 {}};
        codes.push_back(must(store.receive(officer, *d.key, r, t), "receive").code);
        last = t;
        ++made;
      }
      for (long i = 0; i < k && made < count; ++i) {
        engine::ActRequest r;
        r.dossier = codes[i];
        r.action = "accept";
        int64_t t = t0 + day * 86400 + 600 + 900 * 20 + i * 20;
        must(store.act(officer, *d.key, r, t), "accept");
        last = t;
        ++made;
      }
      ++day;
    }
    return last;
  };

  // Server store and devices, built on every core.
  const std::string server_db = dir + "/server.db";
  {
    auto s = must(engine::Store::open_server(server_db, root.public_key()), "open server store");
    must(s.ingest(items, t0), "ingest province items on the server");
  }
  auto tb = Clock::now();
  std::atomic<int64_t> last_event{t0};
  {
    std::atomic<size_t> next{0};
    unsigned workers = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> ws;
    for (unsigned w = 0; w < workers; ++w)
      ws.emplace_back([&] {
        for (size_t i; (i = next++) < devs.size() + 1;) {
          int64_t l = i < devs.size() ? build_store(devs[i], m_ev, 0) : build_store(cut_dev, p_ev, 0);
          int64_t cur = last_event.load();
          while (l > cur && !last_event.compare_exchange_weak(cur, l)) {
          }
        }
      });
    for (auto& t : ws) t.join();
  }
  const double build_s = secs_since(tb);
  // The device stores' key sealing (argon2) is done: the peak from here on is the sync's.
  const bool peak_reset = reset_peak_rss();
  std::atomic<int64_t> now_s{last_event.load() + 3600};
  auto clock = [&now_s] { return now_s.load(); };

  sync::ServerOptions so;
  so.listen = "127.0.0.1:0";
  so.store_path = server_db;
  so.root = root.public_key();
  so.key = server_key;
  so.cert = server_cert;
  so.now = clock;
  so.log = [](const std::string&) {};
  so.limits.max_sessions = static_cast<size_t>(std::max<long>(256, conns + n_dev + 16));
  so.limits.max_sessions_per_address = so.limits.max_sessions;  // every connection here comes from 127.0.0.1
  so.limits.handshake_timeout_seconds = 60;  // idle connections of step 4 stay while measured
  auto server = std::make_unique<Server>(so);

  auto client_opts = [&](const Device& d, uint16_t port) {
    sync::ClientOptions co;
    co.server = "127.0.0.1:" + std::to_string(port);
    co.db = d.db;
    co.device_key = d.key;
    co.now = clock;
    return co;
  };

  std::printf("cores: %u cores\n", std::thread::hardware_concurrency());
  iline("devices", n_dev, "devices");
  iline("communes", communes, "communes");
  iline("events_per_device", m_ev, "events");
  line("device_stores_build", build_s, "s");

  // 1. All devices at once.
  std::vector<crypto::Result<sync::SyncReport>> reps(devs.size(), crypto::make_error(crypto::Errc::internal, "not run"));
  std::vector<int> tries(devs.size(), 0);
  auto tp = Clock::now();
  {
    side_by_side(devs.size(), [&](size_t i) {
      auto co = client_opts(devs[i], server->port);
      for (int k = 0; k < 5; ++k) {
        ++tries[i];
        reps[i] = sync::sync_once(co);
        if (reps[i]) break;
      }
    });
  }
  const double push_s = secs_since(tp);
  const long hwm_ingest = proc_kb("VmHWM");
  long long pushed = 0, sent = 0, failed = 0, retries = 0;
  for (size_t i = 0; i < devs.size(); ++i) {
    retries += tries[i] - 1;
    if (!reps[i]) {
      if (!failed) std::cerr << "bench_sync: device " << i << " did not sync: " << reps[i].error().message << "\n";
      ++failed;
      continue;
    }
    pushed += reps[i]->pushed;
    sent += reps[i]->bytes_sent;
  }
  const long long total_events = n_dev * m_ev;
  const long long on_server = store_events(server_db);
  iline("ingest_events", total_events, "events");
  iline("ingest_events_on_server", on_server, "events");
  iline("ingest_failed_devices", failed, "devices");
  iline("ingest_retries", retries, "attempts");
  line("ingest_time", push_s, "s");
  const double ingest_rate = static_cast<double>(total_events) / push_s;
  line("ingest_rate", ingest_rate, "events/s", 0);
  iline("peak_rss_ingest", hwm_ingest, peak_reset ? "kB (VmHWM since the device stores were built)" : "kB (VmHWM of the whole run)");

  // libsodium on one core, message of an event's signed size.
  size_t msg_len = 0, env_total = 0, env_n = 0;
  {
    auto s = must(engine::Store::open(devs[0].db, false), "open device store");
    auto log = must(s.device_log(s.device_cert_id(), 0, 1000000), "device_log");
    for (const auto& e : log) {
      msg_len = std::max(msg_len, crypto::signature_domain(e.type).size() + e.body_bytes.size());
      env_total += e.bytes.size();
      ++env_n;
    }
  }
  std::vector<unsigned char> msg(std::max<size_t>(msg_len, 1));
  randombytes_buf(msg.data(), msg.size());
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
  crypto_sign_keypair(pk, sk);
  crypto_sign_detached(sig, nullptr, msg.data(), msg.size(), sk);
  long sodium_n = std::max<long>(4000, std::min<long long>(2 * total_events, 40000));
  int bad = 0;
  auto tsod = Clock::now();
  for (long i = 0; i < sodium_n; ++i) bad += crypto_sign_verify_detached(sig, msg.data(), msg.size(), pk) != 0;
  const double sodium_rate = static_cast<double>(sodium_n) / secs_since(tsod);
  if (bad) std::cerr << "bench_sync: libsodium rejected its own signature\n";
  iline("event_message_size", static_cast<long long>(msg_len), "bytes");
  line("sodium_verify_rate", sodium_rate, "verifications/s (one core)", 0);
  line("ingest_vs_sodium_ratio", ingest_rate / (sodium_rate / 2), "(ingest_rate / (sodium_rate/2))");

  // 1b. The server's share alone: the same logs pushed by hand to a fresh
  // store, every device at once, the batches compressed beforehand. A shared
  // machine's speed drifts within a run, so this is done --push-rounds times,
  // each round followed by libsodium on every core, and the best of each is
  // kept. The server's threads' CPU time is read too: the pushing clients run
  // in this process and take cores from it, so cores / (server CPU per event)
  // is the rate the server would reach with the machine to itself.
  double push_only_rate = 0;
  {
    const std::string base_db = dir + "/push-only-base.db";
    {
      auto s = must(engine::Store::open_server(base_db, root.public_key()), "open push-only server store");
      must(s.ingest(items, t0), "ingest province items on the push-only server");
    }
    struct Job {
      std::string device;
      std::vector<std::string> batches;
    };
    std::vector<Job> jobs;
    for (const auto& d : devs) {
      auto s = must(engine::Store::open(d.db, false), "open device store");
      auto log = must(s.device_log(s.device_cert_id(), 0, 1000000), "device_log");
      Job j;
      j.device = s.device_cert_id();
      std::string raw;
      auto flush = [&] {
        if (raw.empty()) return;
        j.batches.push_back(must(sync::compress(raw), "compress"));
        raw.clear();
      };
      for (const auto& e : log) {
        if (!raw.empty() && raw.size() + e.bytes.size() + 12 > sync::Limits{}.batch_bytes) flush();
        sync::wire::put_record(raw, 0, e.bytes);
      }
      flush();
      jobs.push_back(std::move(j));
    }
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    double best_rate = 0, best_all = 0;
    long long best_cpu_ns = -1;
    for (long round = 0; round < push_rounds; ++round) {
      const std::string db2 = dir + "/push-only-server-" + std::to_string(round) + ".db";
      fs::copy_file(base_db, db2);
      sync::ServerOptions o2 = so;
      o2.store_path = db2;
      std::vector<std::string> errs(jobs.size());
      double s1 = 0;
      long long cpu = -1;
      {
        Server srv2(o2);
        const long long cpu0 = threads_cpu_ns("hoso-serve");
        auto t1 = Clock::now();
        side_by_side(jobs.size(), [&](size_t i) { errs[i] = push_by_hand(srv2.port, *devs[i].key, jobs[i].device, jobs[i].batches); });
        s1 = secs_since(t1);
        const long long cpu1 = threads_cpu_ns("hoso-serve");
        if (cpu0 >= 0 && cpu1 >= 0) cpu = cpu1 - cpu0;
      }
      for (size_t i = 0; i < errs.size(); ++i)
        if (!errs[i].empty()) die("push-only device " + std::to_string(i) + ": " + errs[i]);
      const long long got = store_events(db2);
      if (got != total_events) die("push-only: the server holds " + std::to_string(got) + " events, not " + std::to_string(total_events));
      fs::remove(db2);
      const double rate = static_cast<double>(total_events) / s1;
      // libsodium on every core at once, right after: cores x the one-core
      // rate assumes a perfect scaling that a shared or throttled machine may not give.
      const long per = std::max<long>(2000, sodium_n / static_cast<long>(cores));
      std::vector<int> bads(cores, 0);
      auto tall = Clock::now();
      side_by_side(cores, [&](size_t c) {
        for (long i = 0; i < per; ++i) bads[c] += crypto_sign_verify_detached(sig, msg.data(), msg.size(), pk) != 0;
      });
      const double all_rate = static_cast<double>(per * static_cast<long>(cores)) / secs_since(tall);
      for (int b : bads)
        if (b) std::cerr << "bench_sync: libsodium rejected its own signature\n";
      std::printf("push_only_round_%ld: %.0f events/s, server CPU %.1f us/event, libsodium on every core %.0f verifications/s\n",
                  round + 1, rate, cpu >= 0 ? static_cast<double>(cpu) / 1e3 / static_cast<double>(total_events) : -1.0, all_rate);
      best_rate = std::max(best_rate, rate);
      best_all = std::max(best_all, all_rate);
      if (cpu >= 0 && (best_cpu_ns < 0 || cpu < best_cpu_ns)) best_cpu_ns = cpu;
    }
    push_only_rate = best_rate;
    line("push_only_rate", push_only_rate, "events/s (best round: logs pushed by hand, no pull: the server's share)", 0);
    line("push_only_vs_sodium_ratio", push_only_rate / (sodium_rate / 2), "(push_only_rate / (sodium_verify_rate/2): against one core)");
    const double machine_limit = cores * sodium_rate / 2;
    line("machine_verify_limit", machine_limit, "events/s (cores x sodium_rate / 2)", 0);
    line("push_only_vs_machine_ratio", push_only_rate / machine_limit, "(push_only_rate / machine_verify_limit)");
    line("sodium_verify_rate_all_cores", best_all, "verifications/s (every core at once, best round)", 0);
    line("push_only_vs_all_cores_ratio", push_only_rate / (best_all / 2), "(push_only_rate / (sodium_verify_rate_all_cores/2))");
    if (best_cpu_ns > 0) {
      const double us = static_cast<double>(best_cpu_ns) / 1e3 / static_cast<double>(total_events);
      line("server_cpu_per_event", us, "us (CPU time of the server's threads / events, best round)", 1);
      line("signatures_cpu_per_event", 2e6 / sodium_rate, "us (two verifications at sodium_verify_rate)", 1);
      line("server_cpu_rate", cores * 1e6 / us, "events/s (cores / server_cpu_per_event: the server with the machine to itself)", 0);
      line("server_cpu_rate_vs_all_cores_ratio", cores * 1e6 / us / (best_all / 2), "(server_cpu_rate / (sodium_verify_rate_all_cores/2))");
    }
  }

  // 2. Bytes on the wire per event.
  const double wire = pushed ? static_cast<double>(sent) / static_cast<double>(pushed) : 0;
  const double env_mean = env_n ? static_cast<double>(env_total) / static_cast<double>(env_n) : 0;
  iline("pushed_events", pushed, "events");
  line("wire_bytes_per_event", wire, "bytes", 1);
  line("event_envelope_mean", env_mean, "bytes", 1);
  line("wire_vs_envelope_ratio", env_mean > 0 ? wire / env_mean : 0, "(wire_bytes_per_event / event_envelope_mean)");

  // 3. Bytes re-sent after cuts. The clean reference: a copy of the store,
  // synced to a second, fresh server through the same counting forwarder.
  {
    const std::string copy_db = dir + "/cut-copy.db";
    fs::copy_file(cut_dev.db, copy_db);
    for (const char* sfx : {"-wal", "-shm"})
      if (fs::exists(cut_dev.db + sfx)) fs::copy_file(cut_dev.db + sfx, copy_db + sfx);
    const std::string clean_db = dir + "/clean-server.db";
    {
      auto s = must(engine::Store::open_server(clean_db, root.public_key()), "open clean server store");
      must(s.ingest(items, t0), "ingest province items on the clean server");
    }
    long long clean_bytes = 0, clean_report = 0;
    {
      sync::ServerOptions co2 = so;
      co2.store_path = clean_db;
      Server clean(co2);
      CountingForwarder fwd(clean.port);
      Device cd = cut_dev;
      cd.db = copy_db;
      auto r = must(sync::sync_once(client_opts(cd, fwd.port())), "clean sync");
      clean_report = r.bytes_sent;
      // The forwarder counts as bytes arrive; let the last ones through.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      clean_bytes = fwd.up();
    }
    sync::FlakyLink link(server->port, 20000, 60000, 20260302);
    CountingForwarder fwd(link.port());
    auto co = client_opts(cut_dev, fwd.port());
    co.limits.io_timeout_seconds = 5;
    int attempts = 0;
    crypto::Result<sync::SyncReport> r = crypto::make_error(crypto::Errc::internal, "not run");
    auto tc = Clock::now();
    while (attempts < 500) {
      ++attempts;
      r = sync::sync_once(co);
      if (r) break;
    }
    const double cut_s = secs_since(tc);
    if (!r) die("the device over the cut link never synced: " + r.error().message);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const long long total = fwd.up();
    iline("cut_events", p_ev, "events");
    iline("cut_attempts", attempts, "attempts");
    iline("cut_connections_cut", link.cuts(), "connections");
    line("cut_sync_time", cut_s, "s");
    iline("cut_bytes_total", total, "bytes");
    iline("cut_bytes_clean", clean_bytes, "bytes");
    iline("cut_bytes_resent", total - clean_bytes, "bytes");
    line("cut_resent_vs_clean_ratio", clean_bytes ? static_cast<double>(total - clean_bytes) / static_cast<double>(clean_bytes) : 0,
         "(cut_bytes_resent / cut_bytes_clean)");
    iline("cut_bytes_sent_clean_report", clean_report, "bytes (SyncReport.bytes_sent of the clean sync)");
    std::printf("note: cut_bytes_* count every byte towards the server (TLS records and handshakes included) over all attempts\n");
  }

  // 4. Memory, with a backlog and idle TLS connections.
  long long in_store = store_events(server_db);
  if (backlog > in_store) {
    auto tbl = Clock::now();
    const size_t k = backlog_devs.size();
    const long total = backlog - in_store;
    std::vector<int64_t> last(k, 0);
    std::vector<std::string> errors(k);
    side_by_side(k, [&](size_t i) {
      const long share = total / static_cast<long>(k) + (static_cast<long>(i) < total % static_cast<long>(k) ? 1 : 0);
      last[i] = build_store(backlog_devs[i], share, 1);
    });
    line("backlog_build", secs_since(tbl), "s");
    now_s = std::max<int64_t>(now_s.load(), *std::max_element(last.begin(), last.end()) + 3600);
    auto tsync = Clock::now();
    side_by_side(k, [&](size_t i) {
      auto co = client_opts(backlog_devs[i], server->port);
      crypto::Result<sync::SyncReport> r = crypto::make_error(crypto::Errc::internal, "not run");
      for (int t = 0; t < 5 && !r; ++t) r = sync::sync_once(co);
      if (!r) errors[i] = r.error().message;
    });
    for (const auto& e : errors)
      if (!e.empty()) die("a backlog device did not sync: " + e);
    const long long before = in_store;
    in_store = store_events(server_db);
    line("backlog_sync", secs_since(tsync), "s");
    line("backlog_sync_rate", static_cast<double>(in_store - before) / std::max(1e-9, secs_since(tsync)),
         "events/s (new server events / backlog_sync; each backlog laptop also pulls the others' events)", 0);
  }
  iline("server_store_events", in_store, "events");
  const bool peak_reset2 = reset_peak_rss();
  const long rss_before = proc_kb("VmRSS"), hwm_before = proc_kb("VmHWM");
  long opened = 0;
  long rss_with = rss_before, hwm_after = hwm_before;
  {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    std::vector<std::pair<int, SSL*>> open;
    for (long i = 0; i < conns; ++i) {
      int fd = connect_loopback(server->port);
      if (fd < 0) break;
      SSL* ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      if (SSL_connect(ssl) != 1) {
        ERR_clear_error();
        SSL_free(ssl);
        ::close(fd);
        break;
      }
      open.emplace_back(fd, ssl);
    }
    opened = static_cast<long>(open.size());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the server finishes its side
    rss_with = proc_kb("VmRSS");
    hwm_after = proc_kb("VmHWM");
    for (auto& [fd, ssl] : open) {
      SSL_free(ssl);
      ::close(fd);
    }
    SSL_CTX_free(ctx);
  }
  iline("idle_tls_connections", opened, "connections");
  iline("rss_before_connections", rss_before, "kB");
  iline("rss_with_connections", rss_with, "kB");
  line("rss_per_connection", opened ? static_cast<double>(rss_with - rss_before) / static_cast<double>(opened) : 0, "kB", 1);
  iline("peak_rss_before_connections", hwm_before, peak_reset2 ? "kB (VmHWM, reset just before)" : "kB (VmHWM of the whole run)");
  iline("peak_rss", hwm_after, peak_reset2 ? "kB (VmHWM while the connections were open)" : "kB (VmHWM of the whole run)");
  std::printf("note: the server runs in this process, so RSS includes the devices' work%s\n",
              opened >= 500 && in_store >= 1000000 ? ""
                                                   : "; 500 connections and 1,000,000 events are reached with "
                                                     "--connections 500 --backlog 1000000 (not run here)");
  server.reset();
  return failed ? 1 : 0;
}
