// The sync server: one io_context thread; every session a coroutine with a
// deadline on each read and write; the store is touched only from that
// thread, so each pushed batch is verified in full by the engine and
// committed atomically before it is acknowledged.
#include <sys/resource.h>

#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include "hoso/crypto/canonical.hpp"
#include "hoso/engine/event.hpp"
#include "hoso/sync/sync.hpp"
#include "wire.hpp"

namespace hoso::sync {

using crypto::make_error;
using nlohmann::json;
using namespace wire;

namespace {

std::string jstr(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t jint(const json& j, const char* k, int64_t dflt) {
  auto it = j.find(k);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : dflt;
}

void log_to_stderr(const std::string& s) { std::cerr << "hoso serve: " << s << std::endl; }

// GCC 12 miscompiles braced initialisers with string literals inside a
// co_await expression; building the payload in a lambda sidesteps it.
template <class F>
awaitable<Status> send(Stream& s, uint8_t type, F make, std::chrono::seconds timeout) {
  std::string payload = make();
  co_return co_await write_frame(s, type, std::move(payload), timeout);
}

struct Server {
  const ServerOptions& opt;
  // Each server logs where its options say (two servers may share a process).
  void log_line(const std::string& s) const {
    if (opt.log) opt.log(s);
    else log_to_stderr(s);
  }
  engine::Store store;
  asio::ssl::context& tls;
  size_t sessions = 0;
  std::string store_id;

  int64_t now() const { return opt.now(); }
  std::chrono::seconds io() const { return std::chrono::seconds(opt.limits.io_timeout_seconds); }

  // Parameters by value: the coroutine runs after the caller's temporaries die.
  awaitable<void> fail(Stream& s, std::string who, std::string msg) {
    log_line(who + ": " + msg);
    (void)co_await send(s, kError, [&] { return message(json{{"error", msg}}); }, std::chrono::seconds(5));
  }

  Result<std::string> receipt(const engine::Certificate& device, int64_t acked) {
    json body{{"device", device.id}, {"acked", acked}, {"store", store_id}, {"server", opt.cert.id_hex()}, {"at", now()}};
    auto r = crypto::sign_item(kReceiptType, body, *opt.key);
    if (!r) return r.error();
    return r->bytes;
  }

  awaitable<void> session(tcp::socket sock) {
    std::string who = "peer";
    {
      boost::system::error_code ec;
      auto ep = sock.remote_endpoint(ec);
      if (!ec) who = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    if (sessions >= opt.limits.max_sessions) {
      log_line(who + ": refused, too many sessions");
      co_return;
    }
    ++sessions;
    struct Count {
      size_t& n;
      ~Count() { --n; }
    } count{sessions};
    Stream s(std::move(sock), tls);
    {
      // The handshake has its own deadline: a peer that connects and says
      // nothing, or speaks plaintext, is dropped.
      asio::steady_timer t(s.get_executor(), std::chrono::seconds(opt.limits.handshake_timeout_seconds));
      t.async_wait([&s](boost::system::error_code ec) {
        if (!ec) {
          boost::system::error_code ignore;
          s.lowest_layer().cancel(ignore);
        }
      });
      boost::system::error_code ec;
      co_await s.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
      t.cancel();
      if (ec) {
        log_line(who + ": TLS handshake failed: " + ec.message());
        co_return;
      }
    }
    auto hello = co_await read_frame(s, std::chrono::seconds(opt.limits.handshake_timeout_seconds), 64 * 1024);
    if (!hello) { log_line(who + ": " + hello.error().message); co_return; }
    if (hello->type != kHello) { { auto op_ = fail(s, who, "expected HELLO"); co_await std::move(op_); } co_return; }
    auto hm = parse_message(hello->payload);
    if (!hm) { { auto op_ = fail(s, who, hm.error().message); co_await std::move(op_); } co_return; }
    const json& h = hm->first;
    if (jint(h, "v", 0) != kProtocolVersion) { { auto op_ = fail(s, who, "unsupported protocol version"); co_await std::move(op_); } co_return; }
    (void)store.refresh();  // items `hoso publish` added meanwhile (a new revocation applies now)
    // A copy: the store's registry is rebuilt when signed items change, and
    // this session outlives any pointer into it.
    std::optional<engine::Certificate> dev_cert;
    if (const auto* c = store.registry().trust().certificate(jstr(h, "device"))) dev_cert = *c;
    const engine::Certificate* dev = dev_cert ? &*dev_cert : nullptr;
    if (!dev) { { auto op_ = fail(s, who, "unknown device certificate"); co_await std::move(op_); } co_return; }
    who = "device \"" + dev->name + "\"";
    // A laptop proves a device certificate; a relay proves a server certificate
    // and carries the units of its certificate's unit and below.
    const bool relay = dev->kind == engine::CertKind::server;
    if (relay) who = "relay \"" + dev->name + "\"";
    engine::Act act{dev->id, relay ? engine::CertKind::server : engine::CertKind::device, std::nullopt, std::nullopt, now(), now()};
    Status auth = store.registry().trust().authorize(act);
    std::vector<std::string> units = relay ? store.registry().trust().units_under(dev->unit) : std::vector<std::string>{dev->unit};
    auto carried = [&units](const std::string& u) { return std::find(units.begin(), units.end(), u) != units.end(); };
    if (!auth) { { auto op_ = fail(s, who, auth.error().message); co_await std::move(op_); } co_return; }
    auto exp = exporter(s);
    if (!exp) { { auto op_ = fail(s, who, exp.error().message); co_await std::move(op_); } co_return; }
    auto proof = crypto::fixed_from_hex<64>(jstr(h, "proof"));
    if (!proof || !crypto::verify(*dev->pub, kSessionDomain, *exp, *proof)) {
      { auto op_ = fail(s, who, "the device did not prove its key for this session"); co_await std::move(op_); }
      co_return;
    }
    auto wm = store.watermarks();
    if (!wm) { { auto op_ = fail(s, who, wm.error().message); co_await std::move(op_); } co_return; }
    int64_t acked = wm->count(dev->id) ? wm->at(dev->id) : 0;
    auto sp = opt.key->sign(kServerSessionDomain, *exp);
    json welcome{{"v", kProtocolVersion}, {"store", store_id}, {"acked", acked}, {"server_cert", opt.cert.bytes},
                 {"proof", crypto::to_hex(sp)}};
    if (relay) {
      json marks = json::object();
      for (const auto& [d, seq] : *wm) {
        const engine::Certificate* c = store.registry().trust().certificate(d);
        if (c && carried(c->unit)) marks[d] = seq;
      }
      welcome["watermarks"] = marks;
    }
    if (!relay && h.contains("pending")) (void)store.note_sync(dev->id, now(), jint(h, "pending", 0));
    Status w = co_await send(s, kWelcome, [&] { return message(welcome); }, io());
    if (!w) co_return;

    for (;;) {
      auto f = co_await read_frame(s, std::chrono::seconds(opt.limits.io_timeout_seconds * 4));
      if (!f) { log_line(who + ": " + f.error().message); co_return; }
      if (f->type == kBye) {
        // The device reports the backlog it still holds, for the province's view.
        auto bm = parse_message(f->payload);
        if (!relay && bm && bm->first.contains("pending")) (void)store.note_sync(dev->id, now(), jint(bm->first, "pending", 0));
        co_return;
      }
      auto m = parse_message(f->payload);
      if (!m) { { auto op_ = fail(s, who, m.error().message); co_await std::move(op_); } co_return; }
      const json& hd = m->first;
      // A revocation published while this session is open takes effect at once.
      (void)store.refresh();
      act.at = now();
      act.arrived_at = act.at;
      if (Status still = store.registry().trust().authorize(act); !still) {
        { auto op_ = fail(s, who, still.error().message); co_await std::move(op_); }
        co_return;
      }
      if (f->type == kPush) {
        auto raw = decompress(m->second);
        if (!raw) { { auto op_ = fail(s, who, raw.error().message); co_await std::move(op_); } co_return; }
        auto recs = records(*raw);
        if (!recs) { { auto op_ = fail(s, who, recs.error().message); co_await std::move(op_); } co_return; }
        std::vector<engine::Store::Incoming> in;
        int64_t t = now();
        for (auto& [at, bytes] : *recs) {
          auto item = crypto::parse_item(bytes);
          if (!item) { { auto op_ = fail(s, who, "batch: " + item.error().message); co_await std::move(op_); } co_return; }
          // A device pushes its own log only: nobody else's, nothing root-signed.
          auto ev = engine::read_event(*item);
          if (!ev) { { auto op_ = fail(s, who, "batch: " + ev.error().message); co_await std::move(op_); } co_return; }
          if (relay) {
            // A relay forwards the logs of devices of the units it carries, nobody else's.
            const engine::Certificate* d = store.registry().trust().certificate(ev->body.device);
            if (!d || !carried(d->unit)) { { auto op_ = fail(s, who, "batch holds an event of a device this relay does not carry"); co_await std::move(op_); } co_return; }
          } else if (ev->body.device != dev->id) { { auto op_ = fail(s, who, "batch holds another device's event"); co_await std::move(op_); } co_return; }
          in.push_back({std::move(*item), t});
        }
        auto res = store.ingest(in, true);
        if (!res) { { auto op_ = fail(s, who, "batch refused: " + res.error().message); co_await std::move(op_); } co_return; }
        int64_t q = 0;
        for (const auto& r : *res) q += r.outcome == engine::Outcome::quarantined;
        auto wm2 = store.watermarks();
        if (!wm2) { { auto op_ = fail(s, who, wm2.error().message); co_await std::move(op_); } co_return; }
        acked = wm2->count(dev->id) ? wm2->at(dev->id) : 0;
        json marks = json::object();
        for (const auto& i : in) {
          auto ev = engine::read_event(i.item);
          if (ev) marks[ev->body.device] = wm2->count(ev->body.device) ? wm2->at(ev->body.device) : 0;
        }
        auto rc = receipt(*dev, acked);
        if (!rc) { { auto op_ = fail(s, who, rc.error().message); co_await std::move(op_); } co_return; }
        log_line(who + ": " + std::to_string(in.size()) + " events, acknowledged up to " + std::to_string(acked) +
                 (q ? " (" + std::to_string(q) + " quarantined)" : ""));
        if (!co_await send(s, kAck, [&] { return message(json{{"acked", acked}, {"watermarks", marks}, {"quarantined", q}, {"receipt", *rc}}); }, io())) co_return;
      } else if (f->type == kPull) {
        int64_t ip = jint(hd, "items", 0), ep = jint(hd, "events", 0);
        auto end = store.feed_end();
        if (!end) { { auto op_ = fail(s, who, end.error().message); co_await std::move(op_); } co_return; }
        // A cursor of another store, or beyond this one's end (a store restored
        // from an older copy), starts again from the beginning.
        bool reset = jstr(hd, "store") != store_id || ip > end->first || ep > end->second;
        if (!reset && hd.contains("anchor")) {
          // The entries at the cursor must be the ones the client saw there:
          // a store restored from an older copy that grew again differs.
          auto anchor = store.feed_anchor(ip, ep);
          if (!anchor) { { auto op_ = fail(s, who, anchor.error().message); co_await std::move(op_); } co_return; }
          reset = *anchor != jstr(hd, "anchor");
        }
        if (reset) ip = ep = 0;
        // The client may ask for smaller batches (a bad link: a cut costs at most one).
        size_t max_bytes = opt.limits.batch_bytes;
        if (int64_t asked = jint(hd, "max", 0); asked > 0) max_bytes = std::min(max_bytes, static_cast<size_t>(asked));
        std::string recs_out;
        // The device's own events beyond its local head first (a restored
        // laptop), in bounded batches; the feed follows once they are all back.
        int64_t own_after = jint(hd, "own_after", -1);
        bool own_more = false;
        if (!relay && own_after >= 0 && own_after < acked) {
          auto own = store.device_log(dev->id, own_after, 1000);
          if (!own) { { auto op_ = fail(s, who, own.error().message); co_await std::move(op_); } co_return; }
          int64_t sent = 0;
          for (const auto& it : *own) {
            if (!recs_out.empty() && recs_out.size() + it.bytes.size() > max_bytes) break;
            put_record(recs_out, t_now(), it.bytes);
            ++sent;
          }
          own_more = own_after + sent < acked;
        }
        engine::Store::Feed empty;
        empty.items_pos = ip;
        empty.events_pos = ep;
        auto feed = own_more ? Result<engine::Store::Feed>(empty) : store.feed(units, ip, ep, max_bytes);
        if (!feed) { { auto op_ = fail(s, who, feed.error().message); co_await std::move(op_); } co_return; }
        for (const auto& e : feed->entries) put_record(recs_out, e.arrived_at, e.bytes);
        auto anchor = store.feed_anchor(feed->items_pos, feed->events_pos);
        if (!anchor) { { auto op_ = fail(s, who, anchor.error().message); co_await std::move(op_); } co_return; }
        auto z = compress(recs_out);
        if (!z) { { auto op_ = fail(s, who, z.error().message); co_await std::move(op_); } co_return; }
        json fh{{"store", store_id}, {"items", feed->items_pos}, {"events", feed->events_pos}, {"done", feed->done && !own_more},
                {"reset", reset}, {"attachments", feed->attachments}, {"count", feed->entries.size()}, {"anchor", *anchor},
                {"own_more", own_more}};
        if (!co_await send(s, kFeed, [&] { return message(fh, *z); }, io())) co_return;
      } else if (f->type == kAttQuery) {
        auto p = store.attachment_progress(jstr(hd, "hash"));
        if (!p) { { auto op_ = fail(s, who, p.error().message); co_await std::move(op_); } co_return; }
        if (!co_await send(s, kAttState, [&] { return message(json{{"hash", jstr(hd, "hash")}, {"have", p->first}, {"size", p->second}}); }, io())) co_return;
      } else if (f->type == kAttPut) {
        std::string hash = jstr(hd, "hash");
        // Attachments come after the events that reference them; nothing else is stored.
        auto known = store.attachment_referenced(hash);
        if (!known || !*known) { { auto op_ = fail(s, who, "attachment " + hash.substr(0, 16) + " is not referenced by any event here"); co_await std::move(op_); } co_return; }
        auto r = store.put_attachment_chunk(hash, jint(hd, "size", -1), jint(hd, "offset", -1), m->second);
        if (!r) { { auto op_ = fail(s, who, r.error().message); co_await std::move(op_); } co_return; }
        if (!co_await send(s, kAttState, [&] { return message(json{{"hash", hash}, {"have", *r}, {"size", jint(hd, "size", -1)}}); }, io())) co_return;
      } else if (f->type == kAttGet) {
        std::string hash = jstr(hd, "hash");
        int64_t off = jint(hd, "offset", 0);
        // Only to devices (or relays) of units that hold or held a dossier referencing it.
        auto visible = store.attachment_referenced(hash, &units);
        auto data = visible && *visible ? store.attachment(hash) : Result<std::string>(crypto::make_error(Errc::not_found, ""));
        if (!data || off < 0 || off > static_cast<int64_t>(data->size())) {
          if (!co_await send(s, kAttData, [&] { return message(json{{"hash", hash}, {"size", -1}, {"offset", off}}); }, io())) co_return;
          continue;
        }
        std::string_view chunk = std::string_view(*data).substr(static_cast<size_t>(off), opt.limits.chunk_bytes);
        if (!co_await send(s, kAttData, [&] { return message(json{{"hash", hash}, {"size", data->size()}, {"offset", off}}, chunk); }, io())) co_return;
      } else {
        { auto op_ = fail(s, who, "unexpected message " + std::to_string(f->type)); co_await std::move(op_); }
        co_return;
      }
    }
  }
  int64_t t_now() const { return now(); }

  awaitable<void> accept_loop(tcp::acceptor& acc) {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket sock = co_await acc.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        // Out of file descriptors (or another transient failure): the
        // connection stays queued; retrying at once would spin a core.
        asio::steady_timer t(acc.get_executor(), std::chrono::milliseconds(100));
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      // One session's unexpected failure is logged and ends that session only.
      asio::co_spawn(acc.get_executor(), session(std::move(sock)), [this](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          log_line(std::string("session ended by an unexpected error: ") + x.what());
        } catch (...) {
          log_line("session ended by an unexpected error");
        }
      });
    }
  }
};

Result<tcp::endpoint> endpoint_of(const std::string& hp) {
  auto colon = hp.rfind(':');
  if (colon == std::string::npos) return make_error(Errc::invalid_argument, "expected HOST:PORT, got \"" + hp + "\"");
  boost::system::error_code ec;
  std::string host = hp.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return make_error(Errc::invalid_argument, "\"" + host + "\" is not an IP address");
  int port = std::atoi(hp.c_str() + colon + 1);
  if (port < 0 || port > 65535) return make_error(Errc::invalid_argument, "bad port in \"" + hp + "\"");
  return tcp::endpoint(addr, static_cast<uint16_t>(port));
}

}  // namespace

Status serve(const ServerOptions& opt, const std::atomic<bool>& stop) {
  {
    // Every session holds a socket: the usual soft limit of 1024 open files
    // would stop the server accepting well before max_sessions.
    rlimit rl{};
    const rlim_t want = static_cast<rlim_t>(opt.limits.max_sessions) + 256;
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
      rl.rlim_cur = std::min(want, rl.rlim_max);
      (void)::setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  auto store = engine::Store::open_server(opt.store_path, opt.root);
  if (!store) return store.error();
  auto cert = engine::read_certificate(opt.cert, opt.root);
  if (!cert) return make_error(cert.error().code, "server certificate: " + cert.error().message);
  if (cert->kind != engine::CertKind::server) return make_error(Errc::unauthorized, "the certificate is not a server's");
  if (!cert->pub || *cert->pub != opt.key->public_key()) return make_error(Errc::invalid_argument, "the server key is not the certificate's key");
  // The server's own certificate travels to devices by the same sync.
  auto have = store->ingest(std::vector<crypto::SignedItem>{opt.cert}, opt.now());
  if (!have) return have.error();
  auto ctx = server_context(*opt.key);
  if (!ctx) return ctx.error();
  auto ep = endpoint_of(opt.listen);
  if (!ep) return ep.error();
  asio::io_context io;
  tcp::acceptor acc(io);
  boost::system::error_code ec;
  acc.open(ep->protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(*ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::io, "cannot listen on " + opt.listen + ": " + ec.message());
  Server srv{opt, std::move(*store), **ctx, 0, {}};
  srv.store_id = srv.store.meta("store_id");
  if (opt.on_listening) opt.on_listening(acc.local_endpoint().port());
  asio::co_spawn(io, srv.accept_loop(acc), asio::detached);
  asio::steady_timer tick(io);
  std::function<void(boost::system::error_code)> check = [&](boost::system::error_code) {
    if (stop.load()) {
      acc.close();
      io.stop();
      return;
    }
    tick.expires_after(std::chrono::milliseconds(200));
    tick.async_wait(check);
  };
  check({});
  std::thread relay;
  if (!opt.upstream.empty()) {
    relay = std::thread([&] {
      double backoff = 1;
      std::mt19937_64 rng(std::random_device{}());
      while (!stop.load()) {
        auto r = relay_once(opt.store_path, opt.upstream, *opt.key, opt.cert, opt.limits, opt.now);
        double wait = opt.relay_interval_seconds;
        if (!r) {
          srv.log_line("upstream " + opt.upstream + ": " + r.error().message + "; retrying");
          backoff = std::min(backoff * 2, 300.0);
          wait = std::uniform_real_distribution<double>(0.5, 1.0)(rng) * backoff;
        } else {
          backoff = 1;
          if (r->pushed || r->pulled) srv.log_line("upstream " + opt.upstream + ": forwarded " + std::to_string(r->pushed) + ", pulled " + std::to_string(r->pulled));
        }
        for (double w = 0; w < wait && !stop.load(); w += 0.1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  for (;;) {
    try {
      io.run();
      break;
    } catch (const std::exception& x) {
      srv.log_line(std::string("unexpected error, serving on: ") + x.what());
    }
  }
  if (relay.joinable()) relay.join();
  return {};
}

}  // namespace hoso::sync
