// hoso_proxy: a fault-injecting TCP proxy for the sync tests (loopback only).
//
// Every accepted connection is relayed to --target in both directions, with
// optional faults: a cut after a random number of relayed bytes, a rate limit,
// periodic stalls, "down" windows and random byte flips. All randomness of a
// connection comes from std::mt19937_64 seeded with seed + connection index
// (0 for the first accepted connection), so a run is reproducible. See
// README.md next to this file.
#include <utility>  // before asio with g++ 12

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kBufferSize = 16 * 1024;  // per direction

struct Config {
  tcp::endpoint listen;
  tcp::endpoint target;
  std::uint64_t seed = 0;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> cut;  // [min, max]
  std::uint64_t rate = 0;                                      // bytes/s, 0 = unlimited
  std::uint64_t stall_ms = 0, stall_every = 0;
  std::uint64_t down_ms = 0, down_every_ms = 0;
  double flip_prob = 0.0;
  std::string log_file;
  std::string port_file;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* const kUsage =
    "usage: hoso_proxy --listen 127.0.0.1:PORT --target 127.0.0.1:PORT [--seed N]\n"
    "                  [--cut-min BYTES --cut-max BYTES] [--rate BYTES_PER_SEC]\n"
    "                  [--stall-ms MS --stall-every BYTES] [--down-ms MS --down-every-ms MS]\n"
    "                  [--flip-prob P] [--log FILE] [--port-file FILE]\n"
    "Only loopback addresses are accepted. PORT 0 for --listen binds an ephemeral\n"
    "port, written to --port-file. Runs until SIGINT/SIGTERM.\n";

std::uint64_t parse_uint(std::string_view opt, const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 19)
    throw UsageError(std::string(opt) + " expects a non-negative integer, got \"" + s + "\"");
  return std::stoull(s);
}

double parse_prob(std::string_view opt, const std::string& s) {
  std::size_t used = 0;
  double v = -1;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty() || !(v >= 0.0 && v <= 1.0))
    throw UsageError(std::string(opt) + " expects a probability in [0,1], got \"" + s + "\"");
  return v;
}

// "127.0.0.1:PORT", "localhost:PORT" or "[::1]:PORT"; loopback only.
tcp::endpoint parse_endpoint(std::string_view opt, const std::string& s) {
  std::string host, port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find("]:");
    if (close == std::string::npos) throw UsageError(std::string(opt) + " expects HOST:PORT, got \"" + s + "\"");
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string::npos) throw UsageError(std::string(opt) + " expects HOST:PORT, got \"" + s + "\"");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) throw UsageError(std::string(opt) + ": \"" + host + "\" is not a numeric address (only loopback is allowed)");
  if (!addr.is_loopback())
    throw UsageError(std::string(opt) + ": " + host + " is not a loopback address (only loopback is allowed)");
  auto p = parse_uint(opt, port);
  if (p > 65535) throw UsageError(std::string(opt) + ": port out of range: " + port);
  return {addr, static_cast<unsigned short>(p)};
}

Config parse_args(int argc, char** argv) {
  Config c;
  bool have_listen = false, have_target = false;
  std::optional<std::uint64_t> cut_min, cut_max, stall_ms, stall_every, down_ms, down_every;
  for (int i = 1; i < argc; ++i) {
    std::string opt = argv[i];
    if (opt == "--help" || opt == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    std::string val;
    if (auto eq = opt.find('='); opt.rfind("--", 0) == 0 && eq != std::string::npos) {
      val = opt.substr(eq + 1);
      opt = opt.substr(0, eq);
    } else {
      if (i + 1 >= argc) throw UsageError("option " + opt + " needs a value");
      val = argv[++i];
    }
    if (opt == "--listen") c.listen = parse_endpoint(opt, val), have_listen = true;
    else if (opt == "--target") c.target = parse_endpoint(opt, val), have_target = true;
    else if (opt == "--seed") c.seed = parse_uint(opt, val);
    else if (opt == "--cut-min") cut_min = parse_uint(opt, val);
    else if (opt == "--cut-max") cut_max = parse_uint(opt, val);
    else if (opt == "--rate") c.rate = parse_uint(opt, val);
    else if (opt == "--stall-ms") stall_ms = parse_uint(opt, val);
    else if (opt == "--stall-every") stall_every = parse_uint(opt, val);
    else if (opt == "--down-ms") down_ms = parse_uint(opt, val);
    else if (opt == "--down-every-ms") down_every = parse_uint(opt, val);
    else if (opt == "--flip-prob") c.flip_prob = parse_prob(opt, val);
    else if (opt == "--log") c.log_file = val;
    else if (opt == "--port-file") c.port_file = val;
    else throw UsageError("unknown option " + opt);
  }
  if (!have_listen) throw UsageError("--listen is required");
  if (!have_target) throw UsageError("--target is required");
  if (c.target.port() == 0) throw UsageError("--target needs a non-zero port");
  if (cut_min.has_value() != cut_max.has_value()) throw UsageError("--cut-min and --cut-max go together");
  if (cut_min) {
    if (*cut_min > *cut_max) throw UsageError("--cut-min is larger than --cut-max");
    c.cut = std::pair{*cut_min, *cut_max};
  }
  if (stall_ms.has_value() != stall_every.has_value()) throw UsageError("--stall-ms and --stall-every go together");
  if (stall_ms) {
    if (*stall_every == 0) throw UsageError("--stall-every must be positive");
    c.stall_ms = *stall_ms;
    c.stall_every = *stall_every;
  }
  if (down_ms.has_value() != down_every.has_value()) throw UsageError("--down-ms and --down-every-ms go together");
  if (down_ms) {
    if (*down_every == 0 || *down_ms >= *down_every)
      throw UsageError("--down-ms must be smaller than a positive --down-every-ms");
    c.down_ms = *down_ms;
    c.down_every_ms = *down_every;
  }
  if (c.listen.port() == 0 && c.port_file.empty()) throw UsageError("--listen port 0 needs --port-file");
  return c;
}

std::string to_string(const tcp::endpoint& ep) {
  std::string a = ep.address().to_string();
  if (ep.address().is_v6()) a = "[" + a + "]";
  return a + ":" + std::to_string(ep.port());
}

class Logger {
 public:
  explicit Logger(const std::string& file) : start_(Clock::now()) {
    if (!file.empty()) {
      out_.open(file, std::ios::app);
      if (!out_) throw std::runtime_error("cannot open log file " + file);
    }
  }
  void line(const std::string& text) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
    std::ostream& o = out_.is_open() ? static_cast<std::ostream&>(out_) : std::cerr;
    o << "hoso_proxy " << ms << "ms " << text << '\n';
    o.flush();
  }

 private:
  Clock::time_point start_;
  std::ofstream out_;
};

struct Proxy;

// One relayed connection. Both directions run on the single-threaded
// io_context, so the shared counters need no locking.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Proxy& proxy, std::uint64_t index, tcp::socket client);
  void start();
  void cut(const std::string& why);  // closes both sides at once

 private:
  struct Direction {
    const char* name;
    tcp::socket* from;
    tcp::socket* to;
    std::mt19937_64 rng;
    asio::steady_timer timer;
    std::uint64_t bytes = 0;
    double tokens = 0;
    Clock::time_point refill;
  };

  asio::awaitable<void> run();
  asio::awaitable<void> relay(Direction& d);
  asio::awaitable<bool> wait_until(Direction& d, Clock::time_point t);
  void finish();

  Proxy& proxy_;
  std::uint64_t index_;
  tcp::socket client_;
  tcp::socket server_;
  std::optional<std::uint64_t> cut_limit_;
  std::uint64_t total_ = 0;
  std::uint64_t next_stall_ = 0;
  Clock::time_point stalled_until_{};
  bool closed_ = false;
  int running_ = 0;
  Direction up_, down_;
};

struct Proxy {
  asio::io_context& io;
  Config cfg;
  Logger log;
  tcp::acceptor acceptor;
  std::uint64_t next_index = 0;
  bool down = false;
  std::map<std::uint64_t, std::weak_ptr<Session>> sessions;

  Proxy(asio::io_context& io_, Config c)
      : io(io_), cfg(std::move(c)), log(cfg.log_file), acceptor(io_) {}

  void open() {
    acceptor.open(cfg.listen.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(cfg.listen);
    acceptor.listen();
    auto bound = acceptor.local_endpoint();
    if (!cfg.port_file.empty()) {
      std::string tmp = cfg.port_file + ".tmp";
      {
        std::ofstream f(tmp, std::ios::trunc);
        f << bound.port() << '\n';
        if (!f) throw std::runtime_error("cannot write port file " + tmp);
      }
      if (std::rename(tmp.c_str(), cfg.port_file.c_str()) != 0)
        throw std::runtime_error("cannot write port file " + cfg.port_file);
    }
    log.line("listening on " + to_string(bound) + " target " + to_string(cfg.target) +
             " seed " + std::to_string(cfg.seed));
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) {
        log.line("accept failed: " + ec.message());
        continue;
      }
      std::uint64_t index = next_index++;
      boost::system::error_code ignored;
      auto peer = s.remote_endpoint(ignored);
      if (down) {
        log.line("conn " + std::to_string(index) + " from " + to_string(peer) + " refused (down window)");
        s.close(ignored);
        continue;
      }
      log.line("conn " + std::to_string(index) + " accepted from " + to_string(peer));
      auto session = std::make_shared<Session>(*this, index, std::move(s));
      sessions[index] = session;
      session->start();
    }
  }

  // Windows start at down_every, 2*down_every, ... after start-up and last down_ms.
  asio::awaitable<void> down_loop() {
    asio::steady_timer t(io);
    auto origin = Clock::now();
    for (std::uint64_t k = 1;; ++k) {
      t.expires_at(origin + std::chrono::milliseconds(k * cfg.down_every_ms));
      co_await t.async_wait(asio::use_awaitable);
      down = true;
      log.line("down window " + std::to_string(k) + " begins (" + std::to_string(cfg.down_ms) + " ms)");
      auto live = sessions;  // cut() may erase entries
      for (auto& [i, w] : live)
        if (auto s = w.lock()) s->cut("down window");
      t.expires_at(origin + std::chrono::milliseconds(k * cfg.down_every_ms + cfg.down_ms));
      co_await t.async_wait(asio::use_awaitable);
      down = false;
      log.line("down window " + std::to_string(k) + " ends");
    }
  }
};

Session::Session(Proxy& proxy, std::uint64_t index, tcp::socket client)
    : proxy_(proxy),
      index_(index),
      client_(std::move(client)),
      server_(proxy.io),
      up_{"client->target", &client_, &server_, {}, asio::steady_timer(proxy.io), 0, 0, {}},
      down_{"target->client", &server_, &client_, {}, asio::steady_timer(proxy.io), 0, 0, {}} {
  std::mt19937_64 rng(proxy.cfg.seed + index);
  if (proxy.cfg.cut) {
    std::uniform_int_distribution<std::uint64_t> dist(proxy.cfg.cut->first, proxy.cfg.cut->second);
    cut_limit_ = dist(rng);
  }
  // Each direction draws its flips from its own generator so the result does
  // not depend on how the two directions interleave.
  up_.rng.seed(rng());
  down_.rng.seed(rng());
  next_stall_ = proxy.cfg.stall_every;
}

void Session::start() {
  asio::co_spawn(proxy_.io, [self = shared_from_this()]() { return self->run(); }, asio::detached);
}

void Session::cut(const std::string& why) {
  if (closed_) return;
  closed_ = true;
  proxy_.log.line("conn " + std::to_string(index_) + " cut (" + why + ") after " + std::to_string(total_) +
                  " bytes (up " + std::to_string(up_.bytes) + ", down " + std::to_string(down_.bytes) + ")");
  boost::system::error_code ignored;
  client_.close(ignored);
  server_.close(ignored);
  up_.timer.cancel();
  down_.timer.cancel();
}

void Session::finish() {
  if (--running_ > 0) return;
  if (!closed_) {
    closed_ = true;
    proxy_.log.line("conn " + std::to_string(index_) + " closed after " + std::to_string(total_) + " bytes (up " +
                    std::to_string(up_.bytes) + ", down " + std::to_string(down_.bytes) + ")");
    boost::system::error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
  }
  proxy_.sessions.erase(index_);
}

asio::awaitable<void> Session::run() {
  auto self = shared_from_this();
  boost::system::error_code ec;
  co_await server_.async_connect(proxy_.cfg.target, asio::redirect_error(asio::use_awaitable, ec));
  if (closed_) {
    proxy_.sessions.erase(index_);
    co_return;
  }
  if (ec) {
    cut("target connect failed: " + ec.message());
    proxy_.sessions.erase(index_);
    co_return;
  }
  proxy_.log.line("conn " + std::to_string(index_) + " connected to target" +
                  (cut_limit_ ? " (cut at " + std::to_string(*cut_limit_) + " bytes)" : std::string()));
  if (cut_limit_ && *cut_limit_ == 0) {
    cut("cut limit reached");
    proxy_.sessions.erase(index_);
    co_return;
  }
  running_ = 2;
  asio::co_spawn(proxy_.io, [self, this]() { return relay(up_); }, asio::detached);
  asio::co_spawn(proxy_.io, [self, this]() { return relay(down_); }, asio::detached);
}

// Waits on the direction's timer; false when the session was cut meanwhile.
asio::awaitable<bool> Session::wait_until(Direction& d, Clock::time_point t) {
  if (Clock::now() < t) {
    d.timer.expires_at(t);
    boost::system::error_code ec;
    co_await d.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return !closed_;
}

asio::awaitable<void> Session::relay(Direction& d) {
  auto self = shared_from_this();
  const Config& cfg = proxy_.cfg;
  std::vector<unsigned char> buf(kBufferSize);
  std::bernoulli_distribution flip(cfg.flip_prob);
  std::uniform_int_distribution<int> mask(1, 255);
  // Token bucket: refills at cfg.rate bytes/s, holds at most one chunk (1/50 s).
  const std::size_t chunk =
      cfg.rate ? static_cast<std::size_t>(std::clamp<std::uint64_t>(cfg.rate / 50, 1, kBufferSize)) : kBufferSize;
  d.tokens = 0;
  d.refill = Clock::now();
  boost::system::error_code ec;

  while (!closed_) {
    std::size_t n = co_await d.from->async_read_some(asio::buffer(buf.data(), chunk),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (closed_) break;
    if (ec) {
      if (ec == asio::error::eof) {
        // Half-close: pass the end of stream on, keep the other direction going.
        proxy_.log.line("conn " + std::to_string(index_) + " " + d.name + " end of stream after " +
                        std::to_string(d.bytes) + " bytes");
        boost::system::error_code ignored;
        d.to->shutdown(tcp::socket::shutdown_send, ignored);
      } else {
        cut(std::string(d.name) + " read: " + ec.message());
      }
      break;
    }
    if (cfg.flip_prob > 0) {
      for (std::size_t i = 0; i < n; ++i)
        if (flip(d.rng)) buf[i] ^= static_cast<unsigned char>(mask(d.rng));
    }
    std::size_t off = 0;
    while (off < n && !closed_) {
      std::size_t want = n - off;
      // Connection-wide stall.
      if (!co_await wait_until(d, stalled_until_)) break;
      if (cfg.stall_every) want = std::min<std::uint64_t>(want, next_stall_ - total_);
      if (cut_limit_) want = std::min<std::uint64_t>(want, *cut_limit_ - total_);
      if (cfg.rate) {
        auto now = Clock::now();
        d.tokens = std::min<double>(static_cast<double>(chunk),
                                    d.tokens + std::chrono::duration<double>(now - d.refill).count() *
                                                   static_cast<double>(cfg.rate));
        d.refill = now;
        if (d.tokens < static_cast<double>(std::min(want, chunk))) {
          auto need = static_cast<double>(std::min(want, chunk)) - d.tokens;
          auto delay = std::chrono::duration_cast<Clock::duration>(
              std::chrono::duration<double>(need / static_cast<double>(cfg.rate)));
          if (!co_await wait_until(d, now + delay)) break;
          continue;  // re-check stall and tokens
        }
        want = std::min<std::size_t>(want, static_cast<std::size_t>(d.tokens));
        d.tokens -= static_cast<double>(want);
      }
      // The other direction made the final reservation under the cut limit
      // and cuts the connection once its write is done.
      if (want == 0) {
        finish();
        co_return;
      }
      total_ += want;  // reserve before writing so the limits hold across directions
      d.bytes += want;
      if (cfg.stall_every && total_ >= next_stall_) {
        next_stall_ += cfg.stall_every;
        stalled_until_ = Clock::now() + std::chrono::milliseconds(cfg.stall_ms);
        proxy_.log.line("conn " + std::to_string(index_) + " stall " + std::to_string(cfg.stall_ms) +
                        " ms after " + std::to_string(total_) + " bytes");
      }
      co_await asio::async_write(*d.to, asio::buffer(buf.data() + off, want),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (closed_) break;
      if (ec) {
        cut(std::string(d.name) + " write: " + ec.message());
        break;
      }
      off += want;
      if (cut_limit_ && total_ >= *cut_limit_) {
        cut("cut limit " + std::to_string(*cut_limit_) + " reached");
        break;
      }
    }
  }
  finish();
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  try {
    cfg = parse_args(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "hoso_proxy: error: " << e.what() << '\n';
    return 2;
  }
  try {
    asio::io_context io(1);
    Proxy proxy(io, cfg);
    proxy.open();
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      proxy.log.line("signal " + std::to_string(sig) + ", stopping");
      io.stop();
    });
    asio::co_spawn(io, proxy.accept_loop(), asio::detached);
    if (cfg.down_every_ms) asio::co_spawn(io, proxy.down_loop(), asio::detached);
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "hoso_proxy: error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
