// The device side of sync: one round of pull, push and attachments over one
// TLS session. Nothing is trusted before the server proved the root-certified
// key and the session is bound to the device's key.
#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <set>

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

template <class F>
awaitable<Status> send(Stream& s, uint8_t type, F make, std::chrono::seconds timeout) {
  std::string payload = make();
  co_return co_await write_frame(s, type, std::move(payload), timeout);
}

// A reply of the expected type, or the server's ERROR as an error.
awaitable<Result<std::pair<json, std::string>>> expect(Stream& s, uint8_t type, std::chrono::seconds timeout) {
  auto f = co_await read_frame(s, timeout);
  if (!f) co_return f.error();
  auto m = parse_message(f->payload);
  if (!m) co_return m.error();
  if (f->type == kError) co_return make_error(Errc::unauthorized, "server: " + jstr(m->first, "error"));
  if (f->type != type) co_return make_error(Errc::bad_format, "unexpected reply " + std::to_string(f->type) + " from the server");
  co_return std::pair<json, std::string>{m->first, std::string(m->second)};
}

struct Client {
  Client(const ClientOptions& o, engine::Store& s) : opt(o), store(s) {}
  const ClientOptions& opt;
  engine::Store& store;
  SyncReport rep;
  // Who this end is: a laptop (its device certificate and key) or a relay
  // (its server certificate and key).
  std::string me;
  const crypto::SigningKey* key = nullptr;
  bool relay = false;
  std::string server_store;
  crypto::PublicKey server_pub{};  // the proven server's key and certificate (receipts are checked against them)
  std::string server_cert_id;
  int64_t acked = 0;                          // device mode: this laptop's watermark at the server
  std::map<std::string, int64_t> upstream_wm;  // relay mode: every device's watermark upstream
  std::set<std::string> wanted;               // attachments to fetch (mirrors store meta)

  // The attachments still to fetch live in the store, shared by the events
  // lane (which learns of them) and the attachments lane (which fetches them).
  void load_wanted() {
    wanted.clear();
    auto j = json::parse(store.meta("attachments_wanted"), nullptr, false);
    if (j.is_array())
      for (const auto& h : j)
        if (h.is_string()) wanted.insert(h.get<std::string>());
  }
  Status save_wanted() {
    return store.set_meta_value("attachments_wanted", json(std::vector<std::string>(wanted.begin(), wanted.end())).dump());
  }
  int64_t pending_report = 0;
  int64_t pending_before = 0;  // the backlog as last known, told to the server at once
  std::chrono::seconds io() const { return std::chrono::seconds(opt.limits.io_timeout_seconds); }
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  void progress(const char* phase, int64_t done, int64_t total) const {
    if (!opt.progress) return;
    ClientOptions::Progress p;
    p.phase = phase;
    p.done = done;
    p.total = total;
    p.bytes = rep.bytes_sent + rep.bytes_received;
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    opt.progress(p);
  }

  // Coroutine parameters are taken by value: a reference could outlive the
  // caller's temporary before the coroutine first runs.
  awaitable<Status> connect(Stream& s, tcp::endpoint ep) {
    {
      asio::steady_timer t(s.get_executor(), std::chrono::seconds(opt.limits.handshake_timeout_seconds));
      t.async_wait([&s](boost::system::error_code ec) {
        if (!ec) {
          boost::system::error_code ignore;
          s.lowest_layer().cancel(ignore);
        }
      });
      boost::system::error_code ec;
      co_await s.lowest_layer().async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) co_await s.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
      t.cancel();
      if (ec) co_return make_error(Errc::io, "cannot reach the server " + opt.server + ": " + ec.message());
    }
    auto exp = exporter(s);
    if (!exp) co_return exp.error();
    auto proof = key->sign(kSessionDomain, *exp);
    json hello{{"v", kProtocolVersion}, {"device", me}, {"proof", crypto::to_hex(proof)}};
    if (!relay && !attachments_lane) hello["pending"] = pending_before;
    Status st = co_await send(s, kHello, [&] { return message(hello); }, io());
    if (!st) co_return st;
    auto welcome = co_await expect(s, kWelcome, io());
    if (!welcome) co_return welcome.error();
    const json& w = welcome->first;
    // The server proves the key the province certified for a server.
    auto sc = crypto::parse_item(jstr(w, "server_cert"));
    if (!sc) co_return make_error(Errc::unauthorized, "server certificate: " + sc.error().message);
    auto cert = engine::read_certificate(*sc, store.registry().trust().root());
    if (!cert) co_return make_error(cert.error().code, "server certificate: " + cert.error().message);
    if (cert->kind != engine::CertKind::server) co_return make_error(Errc::unauthorized, "the server's certificate is not a server's");
    int64_t now = opt.now();
    if (now < cert->issued_at || now >= cert->not_after) co_return make_error(Errc::expired, "the server's certificate is not valid now");
    if (const auto* rv = store.registry().trust().revocation(cert->id); rv && now >= rv->effective_at)
      co_return make_error(Errc::revoked, "the server's certificate is revoked");
    auto tls_key = peer_key(s);
    if (!tls_key) co_return tls_key.error();
    if (*tls_key != *cert->pub) co_return make_error(Errc::unauthorized, "the server's TLS key is not its certified key");
    auto sproof = crypto::fixed_from_hex<64>(jstr(w, "proof"));
    if (!sproof || !crypto::verify(*cert->pub, kServerSessionDomain, *exp, *sproof))
      co_return make_error(Errc::unauthorized, "the server did not prove its key for this session");
    server_store = jstr(w, "store");
    server_pub = *cert->pub;
    server_cert_id = cert->id;
    acked = jint(w, "acked", 0);
    if (auto it = w.find("watermarks"); it != w.end() && it->is_object())
      for (auto d = it->begin(); d != it->end(); ++d)
        if (d.value().is_number_integer()) upstream_wm[d.key()] = d.value().get<int64_t>();
    co_return Status{};
  }

  // `watermarks`: a relay's receipt must also carry exactly the ACK's.
  Status check_receipt(const std::string& bytes, int64_t acked_now, const json* watermarks = nullptr) const {
    auto r = crypto::parse_item(bytes);
    if (!r) return make_error(Errc::bad_format, "the server's receipt: " + r.error().message);
    if (r->type != kReceiptType || r->cosig || !crypto::verify_sig(*r, server_pub))
      return make_error(Errc::unauthorized, "the server's receipt is not signed by the server's key: the receipt was not kept; "
                                            "tell provincial IT (the server or the link may be tampered with)");
    const json& b = r->body;
    if (jstr(b, "device") != me || jint(b, "acked", -1) != acked_now || jstr(b, "store") != server_store ||
        jstr(b, "server") != server_cert_id || (watermarks && (!b.contains("watermarks") || b["watermarks"] != *watermarks)))
      return make_error(Errc::unauthorized, "the server's receipt does not match its acknowledgement (acked " +
                                                std::to_string(acked_now) + "): the receipt was not kept; tell provincial IT");
    return {};
  }

  awaitable<Status> pull(Stream& s, int64_t own_after) {
    Status st;
    // Pull: own events a restored laptop lacks first, then the feed.
    std::string cursor_key = "cursor:" + server_store;
    int64_t ip = 0, ep_ = 0;
    std::string anchor;
    if (auto c = store.meta(cursor_key); !c.empty()) {
      // "<items pos> <events pos> <anchor>"
      char* end = nullptr;
      ip = std::strtoll(c.c_str(), &end, 10);
      ep_ = std::strtoll(end, &end, 10);
      while (*end == ' ') ++end;
      anchor = end;
    }
    bool first = true, own_more = false;
    for (;;) {
      json pull{{"store", server_store}, {"items", ip}, {"events", ep_}, {"max", static_cast<int64_t>(opt.limits.batch_bytes)}};
      if (!anchor.empty()) pull["anchor"] = anchor;
      if (own_after >= 0 && (first || own_more)) {
        auto w = store.watermarks();
        if (!w) co_return w.error();
        pull["own_after"] = w->count(me) ? w->at(me) : 0;
      }
      first = false;
      st = co_await send(s, kPull, [&] { return message(pull); }, io());
      if (!st) co_return st;
      auto feed = co_await expect(s, kFeed, io());
      if (!feed) co_return feed.error();
      auto raw = decompress(feed->second);
      if (!raw) co_return raw.error();
      rep.bytes_received += static_cast<int64_t>(feed->second.size());
      auto recs = records(*raw);
      if (!recs) co_return recs.error();
      std::vector<engine::Store::Incoming> in;
      for (auto& [at, bytes] : *recs) {
        auto item = crypto::parse_item(bytes);
        if (!item) co_return make_error(Errc::bad_format, "feed: " + item.error().message);
        in.push_back({std::move(*item), at, nullptr});
      }
      if (!in.empty()) {
        auto res = store.ingest(in, false);
        if (!res) co_return make_error(res.error().code, "pulled batch refused: " + res.error().message);
        for (const auto& r : *res) rep.pulled += r.outcome == engine::Outcome::applied;
      }
      load_wanted();
      for (const auto& h : feed->first.value("attachments", json::array()))
        if (h.is_string()) wanted.insert(h.get<std::string>());
      if (Status ws = save_wanted(); !ws) co_return ws;
      ip = jint(feed->first, "items", ip);
      ep_ = jint(feed->first, "events", ep_);
      anchor = jstr(feed->first, "anchor");
      own_more = feed->first.value("own_more", false);
      Status cs = store.set_meta_value(cursor_key, std::to_string(ip) + " " + std::to_string(ep_) + " " + anchor);
      if (!cs) co_return cs;
      progress("pull", rep.pulled, 0);
      if (feed->first.value("done", true)) break;
    }
    co_return Status{};
  }

  awaitable<Status> run(Stream& s, tcp::endpoint ep) {
    Status st = co_await connect(s, ep);
    if (!st) co_return st;
    if (relay) co_return co_await run_relay(s);
    auto wms = store.watermarks();
    if (!wms) co_return wms.error();
    int64_t local = wms->count(me) ? wms->at(me) : 0;
    st = co_await pull(s, local);
    if (!st) co_return st;
    wms = store.watermarks();
    if (!wms) co_return wms.error();
    local = wms->count(me) ? wms->at(me) : 0;
    if (acked < local) {
      // The server lacks some of this laptop's events (never sent, or a
      // restored server): their attachments must be offered again too, even
      // if an earlier round had confirmed them. Remembered at once, so a cut
      // before the attachments lane's pass loses nothing.
      int64_t up_to = std::strtoll(store.meta("attachments_up_to").c_str(), nullptr, 10);
      if (up_to > acked) {
        Status us = store.set_meta_value("attachments_up_to", std::to_string(acked));
        if (!us) co_return us;
      }
    }
    if (acked > local)
      co_return make_error(Errc::conflict, "the server holds events " + std::to_string(local + 1) + ".." + std::to_string(acked) +
                                               " of this laptop that it could not send back; sign nothing until this is resolved");
    // The server has sent back every event of this laptop it holds: a restored
    // store may sign again (SPEC §2 Restores).
    if (store.meta("must_pull_own") == "1") {
      Status ms = store.set_meta_value("must_pull_own", "0");
      if (!ms) co_return ms;
    }

    // Push from the server's acknowledgement: a watermark that went backwards
    // (a restored server) gets the missing events again.
    const int64_t push_from = acked;
    while (acked < local) {
      auto log = store.device_log(me, acked, 2000);
      if (!log) co_return log.error();
      std::string batch;
      int64_t n = 0;
      for (const auto& it : *log) {
        if (!batch.empty() && batch.size() + it.bytes.size() > opt.limits.batch_bytes) break;
        put_record(batch, 0, it.bytes);
        ++n;
      }
      auto z = compress(batch);
      if (!z) co_return z.error();
      st = co_await send(s, kPush, [&] { return message(json::object(), *z); }, io());
      if (!st) co_return st;
      rep.bytes_sent += static_cast<int64_t>(z->size());
      auto ack = co_await expect(s, kAck, io());
      if (!ack) co_return ack.error();
      int64_t now_acked = jint(ack->first, "acked", -1);
      if (now_acked < acked + n)
        co_return make_error(Errc::conflict, "the server acknowledged " + std::to_string(now_acked) + " after a batch ending at " +
                                                 std::to_string(acked + n));
      // The receipt is the laptop's proof of delivery: kept only once it is
      // the proven server's signature over exactly this acknowledgement.
      Status cr = check_receipt(jstr(ack->first, "receipt"), now_acked);
      if (!cr) co_return cr;
      Status rs = store.add_receipt(server_store, now_acked, jstr(ack->first, "receipt"), opt.now());
      if (!rs) co_return rs;
      rep.pushed += n;
      acked = now_acked;
      progress("push", acked - push_from, local - push_from);
    }
    rep.acked = acked;
    rep.pending = local - acked;
    pending_report = rep.pending;

    if (events_done) *events_done = true;
    if (!lanes) {
      // One connection: attachments after the events that reference them.
      st = co_await attachments_pass(s);
      if (!st) co_return st;
    }
    json bye{{"pending", pending_report}};
    st = co_await send(s, kBye, [&] { return message(bye); }, io());
    (void)st;
    co_return Status{};
  }

  // Attachments up (those this laptop's events reference), then down (those
  // the pulled events reference).
  awaitable<Status> attachments_pass(Stream& s, bool up = true) {
    Status st;
    if (up) {
      // Only events signed since the last confirmed upload need looking at.
      auto wms = store.watermarks();
      if (!wms) co_return wms.error();
      int64_t top = wms->count(me) ? wms->at(me) : 0;
      int64_t from = std::strtoll(store.meta("attachments_up_to").c_str(), nullptr, 10);
      if (from > top) from = 0;  // a restored laptop: look again
      // A server restored from an older copy lost the attachments of the
      // events beyond its watermark (as this connection found it): offer them again.
      from = std::min(from, acked);
      auto mine = store.referenced_attachments(me, from);
      if (!mine) co_return mine.error();
      st = co_await upload(s, *mine);
      if (!st) co_return st;
      st = store.set_meta_value("attachments_up_to", std::to_string(top));
      if (!st) co_return st;
    }
    co_return co_await download(s);
  }

  // The attachments lane: its own connection, so a long scan never delays
  // events; it runs a last pass once the events lane is done, so a round
  // ends with what that lane learned fetched too.
  awaitable<Status> run_attachments(Stream& s, tcp::endpoint ep, const bool* other_done) {
    Status st = co_await connect(s, ep);
    if (!st) co_return st;
    // Downloads at once; uploads once the events that reference them went first.
    st = co_await attachments_pass(s, false);
    if (!st) co_return st;
    asio::steady_timer t(s.get_executor());
    while (!*other_done) {
      t.expires_after(std::chrono::milliseconds(50));
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    st = co_await attachments_pass(s);
    if (!st) co_return st;
    st = co_await send(s, kBye, [&] { return message(json::object()); }, io());
    (void)st;
    co_return Status{};
  }

  bool attachments_lane = false;  // this connection only moves attachments
  bool lanes = false;          // attachments on their own connection
  bool* events_done = nullptr;  // set when the events lane has finished

  awaitable<Status> upload(Stream& s, std::vector<std::string> hashes) {
    Status st;
    for (const auto& h : hashes) {
      auto data = store.attachment(h);
      if (!data) continue;  // referenced by our events but not held (should not happen)
      json q{{"hash", h}};
      st = co_await send(s, kAttQuery, [&] { return message(q); }, io());
      if (!st) co_return st;
      auto state = co_await expect(s, kAttState, io());
      if (!state) co_return state.error();
      int64_t have = jint(state->first, "have", 0);
      int64_t size = static_cast<int64_t>(data->size());
      while (have < size) {
        std::string_view chunk = std::string_view(*data).substr(static_cast<size_t>(have), opt.limits.chunk_bytes);
        json put{{"hash", h}, {"size", size}, {"offset", have}};
        st = co_await send(s, kAttPut, [&] { return message(put, chunk); }, io());
        if (!st) co_return st;
        rep.bytes_sent += static_cast<int64_t>(chunk.size());
        auto next = co_await expect(s, kAttState, io());
        if (!next) co_return next.error();
        have = jint(next->first, "have", 0);
        progress("attachment up", have, size);
      }
    }
    co_return Status{};
  }

  awaitable<Status> download(Stream& s) {
    Status st;
    int64_t att_pending = 0;
    load_wanted();
    auto missing = store.missing_attachments(std::vector<std::string>(wanted.begin(), wanted.end()));
    if (!missing) co_return missing.error();
    for (const auto& h : *missing) {
      auto p = store.attachment_progress(h);
      if (!p) co_return p.error();
      int64_t have = p->first;
      for (;;) {
        json get{{"hash", h}, {"offset", have}};
        st = co_await send(s, kAttGet, [&] { return message(get); }, io());
        if (!st) co_return st;
        auto data = co_await expect(s, kAttData, io());
        if (!data) co_return data.error();
        int64_t size = jint(data->first, "size", -1);
        if (size < 0) {
          ++att_pending;  // the server does not hold it yet
          break;
        }
        auto r = store.put_attachment_chunk(h, size, have, data->second);
        if (!r) co_return r.error();
        rep.bytes_received += static_cast<int64_t>(data->second.size());
        have = *r;
        progress("attachment down", have, size);
        if (have >= size) {
          wanted.erase(h);
          break;
        }
        if (data->second.empty()) co_return make_error(Errc::bad_format, "server sent an empty attachment chunk");
      }
    }
    load_wanted();  // the events lane may have added some meanwhile
    for (auto it = wanted.begin(); it != wanted.end();) {
      auto p = store.attachment_progress(*it);
      if (p && p->second >= 0 && p->first == p->second) it = wanted.erase(it); else ++it;
    }
    Status ws = save_wanted();
    if (!ws) co_return ws;
    rep.attachments_pending = att_pending;
    co_return Status{};
  }

  // A relay: pull what the parent has for the units it carries, then forward
  // every device log it holds beyond the parent's watermark, byte for byte.
  awaitable<Status> run_relay(Stream& s) {
    Status st = co_await pull(s, -1);
    if (!st) co_return st;
    carried = store.registry().trust().units_under(relay_unit);
    auto wms = store.watermarks();
    if (!wms) co_return wms.error();
    // The attachments of forwarded events that the parent may still lack are
    // kept in the store until uploaded whole: a relay forwards a laptop's
    // events as soon as they arrive, often before the laptop's attachments
    // lane has brought their attachments here, and it may be killed or cut off
    // between the parent's ACK and the upload. The next round, with no events
    // left to forward, must still offer them.
    std::set<std::string> atts;
    {
      auto j = json::parse(store.meta("relay_attachments_up"), nullptr, false);
      if (j.is_array())
        for (const auto& h : j)
          if (h.is_string()) atts.insert(h.get<std::string>());
    }
    auto save_atts = [&] {
      return store.set_meta_value("relay_attachments_up", json(std::vector<std::string>(atts.begin(), atts.end())).dump());
    };
    for (const auto& [device, local] : *wms) {
      int64_t up = upstream_wm.count(device) ? upstream_wm[device] : 0;
      if (up >= local) continue;
      const engine::Certificate* c = store.registry().trust().certificate(device);
      if (!c) continue;
      // Only the devices of the units this relay carries.
      if (!carries(c->unit)) continue;
      // Logs this relay holds with gaps (pulled, not pushed to it) are not its to forward.
      while (up < local) {
        std::vector<int64_t> arrived;
        auto log = store.device_log(device, up, 2000, &arrived);
        if (!log) co_return log.error();
        if (log->empty() || engine::read_event(log->front()).value().body.seq != up + 1) break;
        std::string batch;
        int64_t n = 0, expect_seq = up + 1;
        for (size_t k = 0; k < log->size(); ++k) {
          const auto& it = (*log)[k];
          auto ev = engine::read_event(it);
          if (!ev || ev->body.seq != expect_seq) break;
          if (!batch.empty() && batch.size() + it.bytes.size() > opt.limits.batch_bytes) break;
          for (const auto& a : ev->body.attachments()) atts.insert(a.hash);
          // When it reached this server: SPEC §1's 7 days after a revocation
          // count to the first server an event reaches (PROTOCOL §13.8).
          put_record(batch, arrived[k], it.bytes);
          ++n;
          ++expect_seq;
        }
        if (n == 0) break;
        // Remembered before the parent can acknowledge the batch.
        if (Status as = save_atts(); !as) co_return as;
        auto z = compress(batch);
        if (!z) co_return z.error();
        st = co_await send(s, kPush, [&] { return message(json::object(), *z); }, io());
        if (!st) co_return st;
        rep.bytes_sent += static_cast<int64_t>(z->size());
        auto ack = co_await expect(s, kAck, io());
        if (!ack) co_return ack.error();
        const json marks = ack->first.value("watermarks", json::object());
        int64_t now_up = marks.is_object() ? marks.value(device, int64_t{-1}) : -1;
        if (now_up < up + n) co_return make_error(Errc::conflict, "the parent acknowledged less than a forwarded batch");
        // The parent's receipt for the laptops' events: the relay's proof that
        // it delivered them, checked like a laptop's and kept.
        Status cr = check_receipt(jstr(ack->first, "receipt"), jint(ack->first, "acked", -1), &marks);
        if (!cr) co_return cr;
        Status rs = store.add_receipt(server_store, now_up, jstr(ack->first, "receipt"), opt.now());
        if (!rs) co_return rs;
        rep.pushed += n;
        up = now_up;
        progress("forward", rep.pushed, 0);
      }
    }
    // Those held here whole go up now; the others stay pending until their
    // laptop has brought them (taken before the upload: one completed here
    // meanwhile was not sent).
    std::vector<std::string> whole;
    for (const auto& h : atts) {
      auto p = store.attachment_progress(h);
      if (!p) co_return p.error();
      if (p->second >= 0 && p->first == p->second) whole.push_back(h);
    }
    st = co_await upload(s, whole);
    if (!st) co_return st;
    for (const auto& h : whole) atts.erase(h);
    if (Status as = save_atts(); !as) co_return as;
    st = co_await download(s);
    if (!st) co_return st;
    st = co_await send(s, kBye, [&] { return message(json::object()); }, io());
    (void)st;
    co_return Status{};
  }

  std::string relay_unit;
  std::vector<std::string> carried;
  bool carries(const std::string& unit) const { return std::find(carried.begin(), carried.end(), unit) != carried.end(); }
};

}  // namespace

namespace {
Result<SyncReport> run_client(Client& c, const std::string& server) {
  auto colon = server.rfind(':');
  if (colon == std::string::npos) return make_error(Errc::invalid_argument, "expected HOST:PORT, got \"" + server + "\"");
  asio::io_context io;
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(server.substr(0, colon), server.substr(colon + 1), ec);
  if (ec || results.empty()) return make_error(Errc::io, "cannot resolve " + server + ": " + ec.message());
  auto ctx = client_context();
  tcp::endpoint endpoint = *results.begin();
  Stream s(io, *ctx);
  Status out = make_error(Errc::internal, "sync did not finish");
  auto done = [](Status& slot) {
    return [&slot](std::exception_ptr e, Status st) { slot = e ? make_error(Errc::internal, "sync failed unexpectedly") : st; };
  };
  if (c.relay) {
    asio::co_spawn(io, c.run(s, endpoint), done(out));
    io.run();
    if (!out) return out.error();
    return c.rep;
  }
  // A laptop: events on one connection, attachments on another.
  bool events_done = false;
  Client att(c.opt, c.store);
  att.me = c.me;
  att.key = c.key;
  att.attachments_lane = true;
  c.lanes = true;
  c.events_done = &events_done;
  Stream s2(io, *ctx);
  Status out2 = make_error(Errc::internal, "sync did not finish");
  asio::co_spawn(io, c.run(s, endpoint), [&](std::exception_ptr e, Status st) {
    out = e ? make_error(Errc::internal, "sync failed unexpectedly") : st;
    events_done = true;  // also on failure: the attachments lane then ends its pass
  });
  asio::co_spawn(io, att.run_attachments(s2, endpoint, &events_done), done(out2));
  io.run();
  if (!out) return out.error();
  if (!out2) return out2.error();
  c.rep.attachments_pending = att.rep.attachments_pending;
  c.rep.bytes_sent += att.rep.bytes_sent;
  c.rep.bytes_received += att.rep.bytes_received;
  return c.rep;
}
}  // namespace

Result<SyncReport> relay_once(const std::string& store_path, const std::string& upstream, const crypto::SigningKey& key,
                              const crypto::SignedItem& cert, const Limits& limits, std::function<int64_t()> now) {
  auto store = engine::Store::open(store_path);
  if (!store) return store.error();
  ClientOptions o;
  o.server = upstream;
  o.db = store_path;
  o.limits = limits;
  o.now = std::move(now);
  Client c(o, *store);
  c.me = cert.id_hex();
  c.key = &key;
  c.relay = true;
  auto mine = engine::read_certificate(cert, store->registry().trust().root());
  if (!mine) return mine.error();
  c.relay_unit = mine->unit;
  return run_client(c, upstream);
}

Result<SyncReport> sync_once(const ClientOptions& opt) {
  auto store = engine::Store::open(opt.db);
  if (!store) return store.error();
  if (!store->is_device()) return make_error(Errc::invalid_argument, opt.db + " is a server store; sync runs on a laptop's store");
  std::string server = opt.server.empty() ? store->meta("server") : opt.server;
  if (server.empty()) return make_error(Errc::invalid_argument, "no server: give --server HOST:PORT (or set it at hoso init)");
  ClientOptions o = opt;
  o.server = server;
  // The batch size adapts to the link: halved after a round the link cut,
  // doubled (up to the configured size) after a clean one, and remembered in
  // the store, so a link that drops every few kilobytes still makes progress.
  size_t cap = opt.limits.batch_bytes;
  size_t batch = cap;
  if (auto b = store->meta("link_batch_bytes"); !b.empty()) batch = std::clamp<size_t>(std::strtoull(b.c_str(), nullptr, 10), 2048, cap);
  o.limits.batch_bytes = batch;
  Client c(o, *store);
  c.me = store->device_cert_id();
  c.key = opt.device_key.get();
  if (auto w = store->watermarks(); w && w->count(c.me)) {
    int64_t a = 0;
    if (auto lr = store->last_receipt(); lr && *lr)
      if (auto it = crypto::parse_item(**lr)) a = jint(it->body, "acked", 0);
    c.pending_before = std::max<int64_t>(0, w->at(c.me) - a);
  }
  auto r = run_client(c, server);
  size_t next = r ? std::min(cap, batch * 2) : (r.error().code == Errc::io ? std::max<size_t>(2048, batch / 2) : batch);
  if (next != batch) (void)store->set_meta_value("link_batch_bytes", std::to_string(next));
  return r;
}

}  // namespace hoso::sync
