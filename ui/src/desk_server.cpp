// The desk's HTTP loop: Boost.Beast on one io_context thread, one coroutine
// per connection with a deadline on every read and write; requests are
// handled one at a time on that thread, so the store and the sessions need
// no locks (only the sync worker's progress does).
#include <utility>  // before Asio's awaitable.hpp with Boost 1.74 and g++ 12

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <iostream>

#include "desk_internal.hpp"
#include "hoso/crypto/sodium.hpp"

namespace hoso::ui {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using crypto::make_error;

namespace {

asio::awaitable<void> session(tcp::socket sock, Desk& desk) {
  beast::tcp_stream stream(std::move(sock));
  beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(desk_max_body());
    parser.header_limit(16 * 1024);
    // Generous for a 64 MiB upload over loopback, short enough that a stuck client lets go.
    stream.expires_after(std::chrono::seconds(60));
    boost::system::error_code ec;
    co_await http::async_read(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::body_limit) {
      http::response<http::string_body> too{http::status::payload_too_large, 11};
      too.set(http::field::content_type, "application/json; charset=utf-8");
      too.body() = R"J({"error":"request too large (attachments up to 64 MiB)"})J";
      too.keep_alive(false);
      too.prepare_payload();
      stream.expires_after(std::chrono::seconds(10));
      co_await http::async_write(stream, too, asio::redirect_error(asio::use_awaitable, ec));
      break;
    }
    if (ec) break;
    auto& in = parser.get();
    HttpRequest req;
    req.method = std::string(in.method_string());
    req.target = std::string(in.target());
    for (const auto& f : in) {
      std::string name(f.name_string());
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      req.headers[name] = std::string(f.value());
    }
    req.body = std::move(in.body());
    const bool keep = in.keep_alive();
    HttpResponse res = desk.handle(req);
    // The body may hold a passphrase or a scanned ID: do not leave it in freed memory.
    crypto::wipe(req.body.data(), req.body.size());
    http::response<http::string_body> out{static_cast<http::status>(res.status), in.version()};
    out.set(http::field::content_type, res.content_type);
    for (const auto& [k, v] : res.headers) out.insert(k, v);
    out.body() = std::move(res.body);
    out.keep_alive(keep);
    out.prepare_payload();
    stream.expires_after(std::chrono::seconds(60));
    co_await http::async_write(stream, out, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep) break;
  }
  boost::system::error_code ignore;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignore);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acc, Desk& desk) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket s = co_await acc.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(acc.get_executor(), session(std::move(s), desk), asio::detached);
  }
}

}  // namespace

Status serve_desk(const DeskOptions& opt, const std::atomic<bool>& stop) {
  auto colon = opt.listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return make_error(Errc::invalid_argument, "--listen: expected HOST:PORT");
  std::string host = opt.listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  char* end = nullptr;
  unsigned long port = std::strtoul(opt.listen.c_str() + colon + 1, &end, 10);
  if (!end || *end || port > 65535) return make_error(Errc::invalid_argument, "--listen: bad port in " + opt.listen);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return make_error(Errc::invalid_argument, "--listen: bad address " + host);

  auto desk = Desk::open(opt);
  if (!desk) return desk.error();

  asio::io_context io;
  tcp::acceptor acc(io);
  tcp::endpoint ep(addr, static_cast<uint16_t>(port));
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::io, "cannot listen on " + opt.listen + ": " + ec.message());
  uint16_t bound = acc.local_endpoint().port();
  (*desk)->set_port(bound);
  if (opt.on_listening) opt.on_listening(bound);

  asio::co_spawn(io, accept_loop(acc, **desk), asio::detached);
  // Once a second: stop when asked, lock idle sessions even when no request comes.
  asio::steady_timer tick(io);
  std::function<void()> arm = [&] {
    tick.expires_after(std::chrono::seconds(1));
    tick.async_wait([&](const boost::system::error_code& e) {
      if (e) return;
      (*desk)->sweep();
      if (stop.load()) {
        acc.close();
        io.stop();
        return;
      }
      arm();
    });
  };
  arm();
  io.run();
  return {};
}

}  // namespace hoso::ui
