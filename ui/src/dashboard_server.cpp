// The dashboard's HTTP side: Boost.Beast on its own io_context and thread.
// Each connection is a coroutine with a deadline on every read and write; a
// report is built on this thread from a read-only store opened for it (the
// sync server's thread and connection are never touched).
#include <atomic>
#include <chrono>
#include <climits>
#include <thread>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "hoso/engine/calendar.hpp"
#include "hoso/engine/report.hpp"
#include "hoso/ui/dashboard.hpp"

namespace hoso::ui {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using crypto::Errc;
using crypto::make_error;
using crypto::Result;

namespace {

constexpr size_t kHeaderLimit = 8 * 1024;
constexpr size_t kBodyLimit = 1024;  // GET and HEAD carry none; a little, so a POST still gets its 405
constexpr int kRequestsPerConnection = 100;

Result<tcp::endpoint> parse_listen(const std::string& hp) {
  auto colon = hp.rfind(':');
  if (colon == std::string::npos) return make_error(Errc::invalid_argument, "--http: expected HOST:PORT, not \"" + hp + "\"");
  std::string host = hp.substr(0, colon), port = hp.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return make_error(Errc::invalid_argument, "--http: \"" + host + "\" is not an IP address");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
    return make_error(Errc::invalid_argument, "--http: bad port in \"" + hp + "\"");
  return tcp::endpoint(addr, static_cast<uint16_t>(std::stoi(port)));
}

// A query of the page or the API: from=YYYY-MM-DD&to=YYYY-MM-DD, both optional.
struct Query {
  std::string from, to;
};
Result<Query> parse_query(std::string_view q) {
  Query out;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view kv = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (kv.empty()) continue;
    auto eq = kv.find('=');
    std::string k(kv.substr(0, eq)), v(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1));
    if (!v.empty() && !engine::parse_civil_date(v)) return make_error(Errc::invalid_argument, k + ": expected YYYY-MM-DD");
    if (k == "from") out.from = v;
    else if (k == "to") out.to = v;
    else return make_error(Errc::invalid_argument, "unknown parameter " + k);
  }
  return out;
}

bool is_loopback_host(std::string_view host) {
  // The Host header without its port.
  if (!host.empty() && host.front() == '[') host = host.substr(0, host.find(']') + 1);
  else host = host.substr(0, host.rfind(':') == std::string_view::npos ? host.size() : host.rfind(':'));
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

}  // namespace

struct Dashboard::Impl {
  DashboardOptions opt;
  asio::io_context io{1};
  // Reports are built here, off the io thread: a report of a province's
  // store takes seconds, and meanwhile the page's stylesheet, other
  // clients' timeouts and stop() must still be served. One thread, so the
  // cache below is only ever touched by it.
  asio::thread_pool worker{1};
  tcp::acceptor acc{io};
  std::thread thread;
  uint16_t port = 0;
  bool loopback = true;
  size_t connections = 0;  // touched only on the io thread
  std::atomic<bool> stopped{false};

  // The last report built, reused for cache_seconds (a room of officers
  // pressing reload must not rebuild it each time).
  std::string cache_key;
  std::chrono::steady_clock::time_point cache_at;
  json cache;

  void log(const std::string& s) const {
    if (opt.log) opt.log(s);
  }

  // The report with the stale communes and the time of the figures.
  Result<json> figures(const Query& q) {
    auto key = q.from + "|" + q.to;
    auto t = std::chrono::steady_clock::now();
    if (!cache.is_null() && key == cache_key && t - cache_at < std::chrono::seconds(opt.cache_seconds)) return cache;
    auto store = opt.open_store();
    if (!store) return store.error();
    int64_t now = opt.now();
    const auto& reg = store->registry();
    const auto& cal = reg.calendar();
    std::optional<int64_t> from, to;
    if (!q.from.empty()) from = *engine::parse_civil_date(q.from) * 86400 - cal.utc_offset_minutes() * 60;
    if (!q.to.empty()) to = (*engine::parse_civil_date(q.to) + 1) * 86400 - cal.utc_offset_minutes() * 60 - 1;
    auto r = engine::build_report(*store, from, to, now, true, [this] { return stopped.load(); });
    if (!r) return r.error();
    std::map<std::string, std::string> names;
    for (const auto& d : (*r)["devices"])
      if (d.contains("unit") && d["unit"].is_string())
        if (const auto* c = reg.trust().unit(d["unit"].get<std::string>())) names[c->unit] = c->name;
    auto stale = stale_units((*r)["devices"], names, now, opt.stale_after_seconds);
    json js = json::array();
    for (const auto& u : stale)
      js.push_back({{"unit", u.unit}, {"name", u.name}, {"devices", u.devices},
                    {"last_sync", u.last_sync ? json(u.last_sync_iso) : json()}});
    (*r)["stale_units"] = js;
    (*r)["stale_after_seconds"] = opt.stale_after_seconds;
    (*r)["now"] = cal.iso(now);
    cache = *r, cache_key = key, cache_at = t;
    return *r;
  }

  // What to answer: status, content type, body.
  struct Answer {
    http::status status = http::status::ok;
    std::string type = "text/plain; charset=utf-8", body;
  };
  Answer answer(const http::request<http::string_body>& req) {
    std::string_view target(req.target().data(), req.target().size());
    auto qm = target.find('?');
    std::string_view path = target.substr(0, qm);
    std::string_view qs = qm == std::string_view::npos ? std::string_view() : target.substr(qm + 1);
    if (path == "/dashboard.css") {
      if (!qs.empty()) return {http::status::not_found, "text/plain; charset=utf-8", "Không có trang này.\n"};
      return {http::status::ok, "text/css; charset=utf-8", dashboard_css()};
    }
    if (path != "/" && path != "/api/report") return {http::status::not_found, "text/plain; charset=utf-8", "Không có trang này.\n"};
    auto q = parse_query(qs);
    if (!q) return {http::status::bad_request, "text/plain; charset=utf-8", "Tham số sai: " + q.error().message + "\n"};
    auto f = figures(*q);
    if (!f) {
      log("dashboard: " + f.error().message);
      // The store may not exist yet (the sync server creates it) or be busy.
      return {http::status::service_unavailable, "text/plain; charset=utf-8", "Chưa đọc được số liệu: " + f.error().message + "\n"};
    }
    if (path == "/api/report") return {http::status::ok, "application/json", f->dump(2) + "\n"};
    std::vector<StaleUnit> stale;
    for (const auto& u : (*f)["stale_units"]) {
      StaleUnit s;
      s.unit = u["unit"].get<std::string>();
      s.name = u["name"].get<std::string>();
      s.devices = u["devices"].get<int64_t>();
      if (u["last_sync"].is_string()) {
        s.last_sync_iso = u["last_sync"].get<std::string>();
        s.last_sync = 0;  // only its presence matters to the page
      }
      stale.push_back(std::move(s));
    }
    return {http::status::ok, "text/html; charset=utf-8", dashboard_html(*f, stale, (*f)["now"].get<std::string>())};
  }

  template <class Body>
  static void secure(http::response<Body>& res) {
    res.set(http::field::server, "hoso");
    res.set("Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("X-Frame-Options", "DENY");
    res.set("Referrer-Policy", "no-referrer");
    res.set("Cross-Origin-Resource-Policy", "same-origin");
    res.set(http::field::cache_control, "no-store");
  }

  asio::awaitable<void> session(tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    struct Count {
      size_t& n;
      ~Count() { --n; }
    } count{++connections};
    if (connections > opt.max_connections) co_return;  // closed at once: bounded
    beast::flat_buffer buf(kHeaderLimit + kBodyLimit);
    boost::system::error_code ec;
    for (int n = 0; n < kRequestsPerConnection && !stopped.load(); ++n) {
      http::request_parser<http::string_body> p;
      p.header_limit(kHeaderLimit);
      p.body_limit(kBodyLimit);
      stream.expires_after(std::chrono::seconds(opt.request_timeout_seconds));
      co_await http::async_read(stream, buf, p, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted) break;
      http::response<http::string_body> res;
      bool head = false, keep = false;
      if (ec) {
        res.result(ec == http::error::body_limit || ec == http::error::header_limit ? http::status::payload_too_large
                                                                                    : http::status::bad_request);
        res.version(11);
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = "Yêu cầu không hợp lệ.\n";
      } else {
        const auto& req = p.get();
        head = req.method() == http::verb::head;
        keep = req.keep_alive();
        res.version(req.version());
        auto host = req[http::field::host];
        Answer a;
        if (req.method() != http::verb::get && !head) {
          a = {http::status::method_not_allowed, "text/plain; charset=utf-8", "Chỉ đọc: chỉ nhận GET và HEAD.\n"};
          res.set(http::field::allow, "GET, HEAD");
        } else if (loopback && !is_loopback_host(std::string_view(host.data(), host.size()))) {
          // On loopback, a page of another site must not read the figures by
          // pointing its own name at 127.0.0.1 (DNS rebinding).
          a = {http::status::misdirected_request, "text/plain; charset=utf-8", "Sai địa chỉ máy chủ.\n"};
        } else if (auto path = std::string_view(req.target().data(), req.target().size()).substr(0, req.target().find('?'));
                   path == "/" || path == "/api/report") {
          a = co_await asio::co_spawn(
              worker, [this, &req]() -> asio::awaitable<Answer> { co_return answer(req); }, asio::use_awaitable);
        } else {
          a = answer(req);
        }
        res.result(a.status);
        res.set(http::field::content_type, a.type);
        res.body() = std::move(a.body);
      }
      secure(res);
      res.keep_alive(keep);
      res.prepare_payload();
      if (head) res.body().clear();  // Content-Length stays that of the GET
      stream.expires_after(std::chrono::seconds(opt.request_timeout_seconds));
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !keep || res.result() != http::status::ok) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket sock = co_await acc.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted || stopped.load()) co_return;
      if (ec) continue;  // e.g. out of descriptors for a moment: keep serving
      asio::co_spawn(io, session(std::move(sock)), [this](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          log(std::string("dashboard: a connection failed: ") + x.what());
        }
      });
    }
  }
};

Dashboard::Dashboard(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dashboard::~Dashboard() { stop(); }
uint16_t Dashboard::port() const { return impl_->port; }

void Dashboard::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  asio::post(impl_->io, [i = impl_.get()] {
    boost::system::error_code ec;
    i->acc.close(ec);
    i->io.stop();
  });
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->worker.join();  // a report under way gives up at its next row
}

Result<std::unique_ptr<Dashboard>> Dashboard::start(DashboardOptions opt) {
  if (!opt.open_store || !opt.now) return make_error(Errc::invalid_argument, "dashboard: no store or clock given");
  auto ep = parse_listen(opt.listen);
  if (!ep) return ep.error();
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(opt);
  impl->loopback = ep->address().is_loopback();
  boost::system::error_code ec;
  impl->acc.open(ep->protocol(), ec);
  if (!ec) impl->acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acc.bind(*ep, ec);
  if (!ec) impl->acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::io, "--http: cannot listen on " + impl->opt.listen + ": " + ec.message());
  impl->port = impl->acc.local_endpoint().port();
  Impl* i = impl.get();
  asio::co_spawn(i->io, i->accept_loop(), asio::detached);
  i->thread = std::thread([i] {
    for (;;) {
      try {
        i->io.run();
        return;
      } catch (const std::exception& x) {
        // A handler threw (memory, a bug): the dashboard keeps serving.
        i->log(std::string("dashboard: ") + x.what());
      }
    }
  });
  std::unique_ptr<Dashboard> d(new Dashboard(std::move(impl)));
  if (d->impl_->opt.on_listening) d->impl_->opt.on_listening(d->impl_->port);
  return d;
}

}  // namespace hoso::ui
