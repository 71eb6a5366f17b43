// The sync server: an io_context run by a thread per core; every session a
// coroutine on a strand of its own, with a deadline on each read and write.
// Sessions verify the signatures of what they are pushed side by side; the
// store (one writer connection) is taken in turn, so each pushed batch is
// checked in full by the engine and committed atomically before it is
// acknowledged.
#include <pthread.h>
#include <sys/resource.h>

#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <random>
#include <thread>

#include "hoso/crypto/canonical.hpp"
#include "hoso/engine/event.hpp"
#include "hoso/sync/backoff.hpp"
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
  // Each server logs where its options say (two servers may share a process);
  // sessions on several threads log whole lines.
  std::mutex log_mu;
  void log_line(const std::string& s) {
    std::lock_guard<std::mutex> l(log_mu);
    if (opt.log) opt.log(s);
    else log_to_stderr(s);
  }
  // One writer connection, taken in turn by the sessions of every thread for
  // what touches the database; never held across a co_await. What needs no
  // database — TLS, zstd, parsing, both signatures of every pushed event,
  // signing receipts — runs outside it, on as many threads as there are cores.
  std::mutex store_mu;
  engine::Store store;
  asio::ssl::context& tls;
  std::string store_id;
  // Admission: sessions in all and per peer address (a flood from one
  // address must not take every slot from the communes).
  std::mutex admit_mu;
  size_t sessions = 0;
  std::map<std::string, size_t> per_address;

  template <class F>
  auto locked(F&& f) {
    std::lock_guard<std::mutex> l(store_mu);
    return f(store);
  }

  // Group commit. A pushed batch, checked outside the lock, waits here with
  // the devices whose watermarks its ACK reports; whichever session takes
  // the store next commits every batch waiting, in one transaction
  // (Store::ingest_group: each batch still applied or refused alone), and
  // hands each its outcome. A commit costs a small batch more than its
  // events do (bench_store's server_path_*_store_turn figures, in
  // docs/PROTOCOL.md 13.10); sessions that arrive while one commits share
  // the next.
  using Marks = std::map<std::string, int64_t>;
  struct Pushed {
    std::vector<engine::IngestResult> res;
    Marks marks;
  };
  struct PushJob {
    const std::vector<engine::Store::Incoming>* in;
    const std::set<std::string>* devices;
    std::optional<Result<Pushed>> out;  // set, under store_mu, by whoever committed it
  };
  std::mutex queue_mu;
  std::vector<PushJob*> queue;

  Result<Pushed> push(const std::vector<engine::Store::Incoming>& in, const std::set<std::string>& devices) {
    PushJob job{&in, &devices, std::nullopt};
    {
      std::lock_guard<std::mutex> q(queue_mu);
      queue.push_back(&job);
    }
    std::lock_guard<std::mutex> l(store_mu);
    std::vector<PushJob*> group;
    {
      std::lock_guard<std::mutex> q(queue_mu);
      if (job.out) return std::move(*job.out);  // committed by the session before
      group.swap(queue);                        // this job among them
    }
    // Every job taken gets an outcome, whatever happens here: its session
    // waits for this lock and then reads it.
    try {
      commit_group(group);
    } catch (const std::exception& x) {
      for (auto* j : group)
        if (!j->out) j->out = Result<Pushed>(crypto::make_error(crypto::Errc::internal, std::string("group commit: ") + x.what()));
    }
    if (!job.out) return crypto::make_error(crypto::Errc::internal, "group commit left a batch without an outcome");
    return std::move(*job.out);
  }

  void commit_group(const std::vector<PushJob*>& group) {
    // The writer's own registry judges roles and revocations: as of now.
    if (Status fresh = store.refresh(); !fresh) {
      for (auto* j : group) j->out = Result<Pushed>(fresh.error());
      return;
    }
    std::vector<const std::vector<engine::Store::Incoming>*> batches;
    for (auto* j : group) batches.push_back(j->in);
    auto res = store.ingest_group(batches, true);
    for (size_t k = 0; k < group.size(); ++k) {
      PushJob& j = *group[k];
      if (!res[k]) {
        j.out = Result<Pushed>(crypto::make_error(res[k].error().code, "batch refused: " + res[k].error().message));
        continue;
      }
      Pushed d{std::move(*res[k]), {}};
      Status marks;
      for (const auto& dv : *j.devices) {
        auto one = store.watermark(dv);
        if (!one) {
          marks = one.error();
          break;
        }
        d.marks[dv] = *one;
      }
      j.out = marks ? Result<Pushed>(std::move(d)) : Result<Pushed>(marks.error());
    }
  }
  // Read-only connections for what only reads (the registry's refresh before
  // each message, pulls, attachment queries and downloads), so that devices
  // pulling never wait for a batch being committed, nor it for them.
  struct Reader {
    std::mutex mu;
    engine::Store store;
  };
  std::vector<std::unique_ptr<Reader>> readers;
  std::atomic<size_t> next_reader{0};
  template <class F>
  auto reading(F&& f) -> decltype(f(store)) {
    if (readers.empty()) return locked(std::forward<F>(f));
    auto in = [&](Reader& r) { return f(r.store); };
    // A free one if there is one, else wait for one (they are as many as the threads).
    const size_t start = next_reader.fetch_add(1) % readers.size();
    for (size_t k = 0; k < readers.size(); ++k) {
      Reader& r = *readers[(start + k) % readers.size()];
      std::unique_lock<std::mutex> l(r.mu, std::try_to_lock);
      if (l.owns_lock()) return in(r);
    }
    Reader& r = *readers[start];
    std::lock_guard<std::mutex> l(r.mu);
    return in(r);
  }

  int64_t now() const { return opt.now(); }
  std::chrono::seconds io() const { return std::chrono::seconds(opt.limits.io_timeout_seconds); }

  // Parameters by value: the coroutine runs after the caller's temporaries die.
  awaitable<void> fail(Stream& s, std::string who, std::string msg) {
    log_line(who + ": " + msg);
    (void)co_await send(s, kError, [&] { return message(json{{"error", msg}}); }, std::chrono::seconds(5));
  }

  // `watermarks`: for a relay, what the batch's devices are acknowledged up
  // to (the relay's proof of delivery for the laptops it carries).
  Result<std::string> receipt(const engine::Certificate& device, int64_t acked, const json* watermarks = nullptr) {
    json body{{"device", device.id}, {"acked", acked}, {"store", store_id}, {"server", opt.cert.id_hex()}, {"at", now()}};
    if (watermarks) body["watermarks"] = *watermarks;
    auto r = crypto::sign_item(kReceiptType, body, *opt.key);
    if (!r) return r.error();
    return r->bytes;
  }

  // A session slot, released when the session ends (whichever way).
  struct Slot {
    Server* srv = nullptr;
    std::string addr;
    Slot() = default;
    Slot(Server* s, std::string a) : srv(s), addr(std::move(a)) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() {
      if (!srv) return;
      std::lock_guard<std::mutex> l(srv->admit_mu);
      --srv->sessions;
      if (--srv->per_address[addr] == 0) srv->per_address.erase(addr);
    }
  };
  // Why a session is refused at the door, or empty when it is admitted.
  std::string admit(const std::string& addr, std::optional<Slot>& slot) {
    std::lock_guard<std::mutex> l(admit_mu);
    if (sessions >= opt.limits.max_sessions) return "refused, too many sessions";
    size_t& n = per_address[addr];
    if (opt.limits.max_sessions_per_address && n >= opt.limits.max_sessions_per_address) {
      if (n == 0) per_address.erase(addr);
      return "refused, too many sessions from " + addr + " (" + std::to_string(n) + ")";
    }
    ++sessions;
    ++n;
    slot.emplace(this, addr);
    return {};
  }

  awaitable<void> session(tcp::socket sock) {
    std::string who = "peer", addr;
    {
      boost::system::error_code ec;
      auto ep = sock.remote_endpoint(ec);
      if (!ec) {
        addr = ep.address().to_string();
        who = addr + ":" + std::to_string(ep.port());
      }
    }
    std::optional<Slot> slot;
    if (std::string why = admit(addr, slot); !why.empty()) {
      log_line(who + ": " + why);
      co_return;
    }
    Stream s(std::move(sock), tls);
    {
      // The handshake has its own deadline: a peer that connects and says
      // nothing, or speaks plaintext, is dropped. (The socket's executor is
      // this session's strand, so the timer's handler never runs beside it.)
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
    // The registry as of now (items `hoso publish` added meanwhile included:
    // a new revocation applies at once), kept for this message's checks.
    std::shared_ptr<const engine::Registry> reg = reading([](engine::Store& st) {
      (void)st.refresh();
      return st.registry_snapshot();
    });
    // A copy: the session outlives any one registry.
    std::optional<engine::Certificate> dev_cert;
    if (const auto* c = reg->trust().certificate(jstr(h, "device"))) dev_cert = *c;
    const engine::Certificate* dev = dev_cert ? &*dev_cert : nullptr;
    if (!dev) { { auto op_ = fail(s, who, "unknown device certificate"); co_await std::move(op_); } co_return; }
    who = "device \"" + dev->name + "\"";
    // A laptop proves a device certificate; a relay proves a server certificate
    // and carries the units of its certificate's unit and below.
    const bool relay = dev->kind == engine::CertKind::server;
    if (relay) who = "relay \"" + dev->name + "\"";
    engine::Act act{dev->id, relay ? engine::CertKind::server : engine::CertKind::device, std::nullopt, std::nullopt, now(), now()};
    Status auth = reg->trust().authorize(act);
    std::vector<std::string> units = relay ? reg->trust().units_under(dev->unit) : std::vector<std::string>{dev->unit};
    auto carried = [&units](const std::string& u) { return std::find(units.begin(), units.end(), u) != units.end(); };
    if (!auth) { { auto op_ = fail(s, who, auth.error().message); co_await std::move(op_); } co_return; }
    auto exp = exporter(s);
    if (!exp) { { auto op_ = fail(s, who, exp.error().message); co_await std::move(op_); } co_return; }
    auto proof = crypto::fixed_from_hex<64>(jstr(h, "proof"));
    if (!proof || !crypto::verify(*dev->pub, kSessionDomain, *exp, *proof)) {
      { auto op_ = fail(s, who, "the device did not prove its key for this session"); co_await std::move(op_); }
      co_return;
    }
    // A relay learns the watermarks of every device it carries; a laptop its own.
    auto wm = locked([&](engine::Store& st) -> Result<Marks> {
      if (relay) return st.watermarks();
      auto one = st.watermark(dev->id);
      if (!one) return one.error();
      if (h.contains("pending")) (void)st.note_sync(dev->id, now(), jint(h, "pending", 0));
      return Marks{{dev->id, *one}};
    });
    if (!wm) { { auto op_ = fail(s, who, wm.error().message); co_await std::move(op_); } co_return; }
    int64_t acked = wm->count(dev->id) ? wm->at(dev->id) : 0;
    auto sp = opt.key->sign(kServerSessionDomain, *exp);
    json welcome{{"v", kProtocolVersion}, {"store", store_id}, {"acked", acked}, {"server_cert", opt.cert.bytes},
                 {"proof", crypto::to_hex(sp)}};
    if (relay) {
      json marks = json::object();
      for (const auto& [d, seq] : *wm) {
        const engine::Certificate* c = reg->trust().certificate(d);
        if (c && carried(c->unit)) marks[d] = seq;
      }
      welcome["watermarks"] = marks;
    }
    Status w = co_await send(s, kWelcome, [&] { return message(welcome); }, io());
    if (!w) co_return;

    for (;;) {
      auto f = co_await read_frame(s, std::chrono::seconds(opt.limits.io_timeout_seconds * 4));
      if (!f) { log_line(who + ": " + f.error().message); co_return; }
      if (f->type == kBye) {
        // The device reports the backlog it still holds, for the province's view.
        auto bm = parse_message(f->payload);
        if (!relay && bm && bm->first.contains("pending"))
          locked([&](engine::Store& st) { (void)st.note_sync(dev->id, now(), jint(bm->first, "pending", 0)); });
        co_return;
      }
      auto m = parse_message(f->payload);
      if (!m) { { auto op_ = fail(s, who, m.error().message); co_await std::move(op_); } co_return; }
      const json& hd = m->first;
      // A revocation published while this session is open takes effect at once.
      reg = reading([](engine::Store& st) {
        (void)st.refresh();
        return st.registry_snapshot();
      });
      act.at = now();
      act.arrived_at = act.at;
      if (Status still = reg->trust().authorize(act); !still) {
        { auto op_ = fail(s, who, still.error().message); co_await std::move(op_); }
        co_return;
      }
      if (f->type == kPush) {
        auto raw = decompress(m->second);
        if (!raw) { { auto op_ = fail(s, who, raw.error().message); co_await std::move(op_); } co_return; }
        auto recs = records(*raw);
        if (!recs) { { auto op_ = fail(s, who, recs.error().message); co_await std::move(op_); } co_return; }
        std::vector<engine::Store::Incoming> in;
        in.reserve(recs->size());
        int64_t t = now();
        for (auto& [at, bytes] : *recs) {
          auto item = crypto::parse_item(bytes);
          if (!item) { { auto op_ = fail(s, who, "batch: " + item.error().message); co_await std::move(op_); } co_return; }
          // A relay says when each event reached it, the first server (SPEC
          // §1: a revoked officer's events count if they reach *a* server
          // within 7 days); never later than now. A laptop's word is not taken.
          const int64_t arrived = relay && at > 0 && at < t ? at : t;
          in.push_back({std::move(*item), arrived, nullptr});
        }
        // Both signatures of every event, on this session's thread: sessions
        // verify side by side, and the store's turn is left the sequential part.
        engine::Store::check_incoming(in, *reg);
        std::set<std::string> devices;
        for (const auto& i : in) {
          // A device pushes its own log only: nobody else's, nothing root-signed.
          std::optional<engine::Event> parsed;
          if (!i.checked) {
            auto ev = engine::read_event(i.item);
            if (!ev) { { auto op_ = fail(s, who, "batch: " + ev.error().message); co_await std::move(op_); } co_return; }
            parsed = std::move(*ev);
          }
          const std::string& device = i.checked ? i.checked->body.device : parsed->body.device;
          if (relay) {
            // A relay forwards the logs of devices of the units it carries, nobody else's.
            const engine::Certificate* d = reg->trust().certificate(device);
            if (!d || !carried(d->unit)) { { auto op_ = fail(s, who, "batch holds an event of a device this relay does not carry"); co_await std::move(op_); } co_return; }
          } else if (device != dev->id) { { auto op_ = fail(s, who, "batch holds another device's event"); co_await std::move(op_); } co_return; }
          devices.insert(device);
        }
        auto done = push(in, devices);
        if (!done) { { auto op_ = fail(s, who, done.error().message); co_await std::move(op_); } co_return; }
        int64_t q = 0;
        for (const auto& r : done->res) q += r.outcome == engine::Outcome::quarantined;
        if (!relay) acked = done->marks.count(dev->id) ? done->marks.at(dev->id) : acked;
        json marks = json::object();
        for (const auto& [d, seq] : done->marks) marks[d] = seq;
        auto rc = receipt(*dev, acked, relay ? &marks : nullptr);
        if (!rc) { { auto op_ = fail(s, who, rc.error().message); co_await std::move(op_); } co_return; }
        log_line(who + ": " + std::to_string(in.size()) + " events, acknowledged up to " +
                 (relay ? "their watermarks for " + std::to_string(marks.size()) + " devices" : std::to_string(acked)) +
                 (q ? " (" + std::to_string(q) + " quarantined)" : ""));
        if (!co_await send(s, kAck, [&] { return message(json{{"acked", acked}, {"watermarks", marks}, {"quarantined", q}, {"receipt", *rc}}); }, io())) co_return;
      } else if (f->type == kPull) {
        int64_t ip = jint(hd, "items", 0), ep = jint(hd, "events", 0);
        // The client may ask for smaller batches (a bad link: a cut costs at most one).
        size_t max_bytes = opt.limits.batch_bytes;
        if (int64_t asked = jint(hd, "max", 0); asked > 0) max_bytes = std::min(max_bytes, static_cast<size_t>(asked));
        int64_t own_after = jint(hd, "own_after", -1);
        struct Out {
          std::string recs;
          engine::Store::Feed feed;
          std::string anchor;
          bool reset = false, own_more = false;
        };
        auto out = reading([&](engine::Store& st) -> Result<Out> {
          // One snapshot for the end, the anchors and the feed, whatever
          // batches commit meanwhile.
          auto snap = st.read_snapshot();
          if (!snap) return snap.error();
          Out o;
          auto end = st.feed_end();
          if (!end) return end.error();
          // A cursor of another store, or beyond this one's end (a store restored
          // from an older copy), starts again from the beginning.
          o.reset = jstr(hd, "store") != store_id || ip > end->first || ep > end->second;
          if (!o.reset && hd.contains("anchor")) {
            // The entries at the cursor must be the ones the client saw there:
            // a store restored from an older copy that grew again differs.
            auto anchor = st.feed_anchor(ip, ep);
            if (!anchor) return anchor.error();
            o.reset = *anchor != jstr(hd, "anchor");
          }
          if (o.reset) ip = ep = 0;
          // The device's own events beyond its local head first (a restored
          // laptop), in bounded batches; the feed follows once they are all back.
          if (!relay && own_after >= 0 && own_after < acked) {
            auto own = st.device_log(dev->id, own_after, 1000);
            if (!own) return own.error();
            int64_t sent = 0;
            for (const auto& it : *own) {
              if (!o.recs.empty() && o.recs.size() + it.bytes.size() > max_bytes) break;
              put_record(o.recs, now(), it.bytes);
              ++sent;
            }
            o.own_more = own_after + sent < acked;
          }
          if (o.own_more) {
            o.feed.items_pos = ip;
            o.feed.events_pos = ep;
          } else {
            auto feed = st.feed(units, ip, ep, max_bytes);
            if (!feed) return feed.error();
            o.feed = std::move(*feed);
          }
          auto anchor = st.feed_anchor(o.feed.items_pos, o.feed.events_pos);
          if (!anchor) return anchor.error();
          o.anchor = std::move(*anchor);
          return o;
        });
        if (!out) { { auto op_ = fail(s, who, out.error().message); co_await std::move(op_); } co_return; }
        for (const auto& e : out->feed.entries) put_record(out->recs, e.arrived_at, e.bytes);
        auto z = compress(out->recs);
        if (!z) { { auto op_ = fail(s, who, z.error().message); co_await std::move(op_); } co_return; }
        const auto& fd = out->feed;
        json fh{{"store", store_id}, {"items", fd.items_pos}, {"events", fd.events_pos}, {"done", fd.done && !out->own_more},
                {"reset", out->reset}, {"attachments", fd.attachments}, {"count", fd.entries.size()}, {"anchor", out->anchor},
                {"own_more", out->own_more}};
        if (!co_await send(s, kFeed, [&] { return message(fh, *z); }, io())) co_return;
      } else if (f->type == kAttQuery) {
        std::string hash = jstr(hd, "hash");
        // Whether the server holds an attachment is told only about the
        // attachments of this peer's own events or of dossiers its units hold
        // or held, like ATT_GET: anything else reads as not held.
        auto p = reading([&](engine::Store& st) -> Result<std::pair<int64_t, int64_t>> {
          auto mine = relay ? st.attachment_referenced(hash, &units) : st.attachment_referenced_by(hash, dev->id, units);
          if (!mine) return mine.error();
          if (!*mine) return std::pair<int64_t, int64_t>{0, -1};
          return st.attachment_progress(hash);
        });
        if (!p) { { auto op_ = fail(s, who, p.error().message); co_await std::move(op_); } co_return; }
        if (!co_await send(s, kAttState, [&] { return message(json{{"hash", hash}, {"have", p->first}, {"size", p->second}}); }, io())) co_return;
      } else if (f->type == kAttPut) {
        std::string hash = jstr(hd, "hash");
        // Attachments come after the events that reference them; nothing else is stored.
        auto r = locked([&](engine::Store& st) -> Result<int64_t> {
          auto known = st.attachment_referenced(hash);
          if (!known) return known.error();
          if (!*known) return crypto::make_error(Errc::not_found, "attachment " + hash.substr(0, 16) + " is not referenced by any event here");
          return st.put_attachment_chunk(hash, jint(hd, "size", -1), jint(hd, "offset", -1), m->second);
        });
        if (!r) { { auto op_ = fail(s, who, r.error().message); co_await std::move(op_); } co_return; }
        if (!co_await send(s, kAttState, [&] { return message(json{{"hash", hash}, {"have", *r}, {"size", jint(hd, "size", -1)}}); }, io())) co_return;
      } else if (f->type == kAttGet) {
        std::string hash = jstr(hd, "hash");
        int64_t off = jint(hd, "offset", 0);
        // Only to devices (or relays) of units that hold or held a dossier referencing it.
        // Only the chunk asked for is read: a 64 MiB scan costs its chunks, not
        // its size at every chunk.
        auto data = reading([&](engine::Store& st) -> Result<std::pair<int64_t, std::string>> {
          auto visible = st.attachment_referenced(hash, &units);
          if (!visible || !*visible) return crypto::make_error(Errc::not_found, "");
          return st.attachment_slice(hash, off, opt.limits.chunk_bytes);
        });
        if (!data) {
          if (!co_await send(s, kAttData, [&] { return message(json{{"hash", hash}, {"size", -1}, {"offset", off}}); }, io())) co_return;
          continue;
        }
        if (!co_await send(s, kAttData, [&] { return message(json{{"hash", hash}, {"size", data->first}, {"offset", off}}, data->second); }, io())) co_return;
      } else {
        { auto op_ = fail(s, who, "unexpected message " + std::to_string(f->type)); co_await std::move(op_); }
        co_return;
      }
    }
  }

  awaitable<void> accept_loop(tcp::acceptor& acc) {
    for (;;) {
      boost::system::error_code ec;
      // Each session on a strand of its own: its socket, timers and
      // coroutine never run on two threads at once; sessions run side by side.
      tcp::socket sock = co_await acc.async_accept(asio::make_strand(acc.get_executor()), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        // Out of file descriptors (or another transient failure): the
        // connection stays queued; retrying at once would spin a core.
        asio::steady_timer t(acc.get_executor(), std::chrono::milliseconds(100));
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      // One session's unexpected failure is logged and ends that session only.
      auto ex = sock.get_executor();
      asio::co_spawn(ex, session(std::move(sock)), [this](std::exception_ptr e) {
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
  // Before the io_context, so that it outlives the sessions the io_context
  // destroys when it goes (their slots and store calls point into it).
  std::unique_ptr<Server> srvp(new Server{opt, {}, {}, std::move(*store), **ctx, {}, {}, 0, {}, {}, {}, {}, {}});
  Server& srv = *srvp;
  asio::io_context io;
  tcp::acceptor acc(io);
  boost::system::error_code ec;
  acc.open(ep->protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(*ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::io, "cannot listen on " + opt.listen + ": " + ec.message());
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
      Backoff backoff;  // PROTOCOL §13.7, the same policy as `hoso sync --watch`
      while (!stop.load()) {
        auto r = relay_once(opt.store_path, opt.upstream, *opt.key, opt.cert, opt.limits, opt.now);
        double wait = opt.relay_interval_seconds;
        if (!r) {
          wait = backoff.next_failure();
          srv.log_line("upstream " + opt.upstream + ": " + r.error().message + "; retrying in " + std::to_string(static_cast<int64_t>(wait + 0.5)) + " s");
        } else {
          backoff.success();
          if (r->pushed || r->pulled) srv.log_line("upstream " + opt.upstream + ": forwarded " + std::to_string(r->pushed) + ", pulled " + std::to_string(r->pulled));
        }
        for (double w = 0; w < wait && !stop.load(); w += 0.1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  auto run = [&] {
    for (;;) {
      try {
        io.run();
        break;
      } catch (const std::exception& x) {
        srv.log_line(std::string("unexpected error, serving on: ") + x.what());
      }
    }
  };
  // Two threads per core, and at least four: a session waiting for the
  // store's lock or for a commit's fsync holds its thread, and the others'
  // TLS and verification must go on meanwhile on every core (bench_sync's
  // push-only phase: about 8% more events/s than a thread per core on 2 cores).
  const unsigned n = opt.threads ? opt.threads : std::max(4u, 2 * std::thread::hardware_concurrency());
  // A reader connection per thread: pulls on every thread at once.
  for (unsigned i = 0; i < std::min(n, 64u); ++i) {
    auto r = engine::Store::open(opt.store_path, false);
    if (!r) return make_error(r.error().code, "a read connection to the store: " + r.error().message);
    srv.readers.push_back(std::unique_ptr<Server::Reader>(new Server::Reader{{}, std::move(*r)}));
  }
  std::vector<std::thread> pool;
  // The pool's threads are named, so that `top -H` and the benchmarks can
  // tell the server's threads from the rest; the calling thread keeps its
  // name, which for `hoso serve` is the process's (pgrep, systemd, ps).
  for (unsigned i = 1; i < n; ++i)
    pool.emplace_back([&run] {
      pthread_setname_np(pthread_self(), "hoso-serve");
      run();
    });
  run();
  for (auto& t : pool) t.join();
  if (relay.joinable()) relay.join();
  return {};
}

}  // namespace hoso::sync
