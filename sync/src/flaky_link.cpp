#include "hoso/sync/flaky_link.hpp"

#include <utility>

#include <boost/asio.hpp>

#include <random>

namespace hoso::sync {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct FlakyLink::Impl {
  asio::io_context io;
  tcp::acceptor acc{io};
  uint16_t target;
  size_t cut_min, cut_max;
  std::mt19937_64 rng;
  std::shared_ptr<std::atomic<int>> cuts;

  struct Conn {
    tcp::socket a, b;
    size_t left;
    bool cut = false;
    Conn(tcp::socket x, asio::io_context& io, size_t n) : a(std::move(x)), b(io), left(n) {}
    void close() {
      boost::system::error_code ec;
      a.close(ec);
      b.close(ec);
    }
  };

  asio::awaitable<void> pump(std::shared_ptr<Conn> c, tcp::socket& from, tcp::socket& to, std::shared_ptr<std::atomic<int>> cuts) {
    char buf[4096];
    for (;;) {
      boost::system::error_code ec;
      size_t n = co_await from.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      size_t pass = std::min(n, c->left);
      co_await asio::async_write(to, asio::buffer(buf, pass), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      c->left -= pass;
      if (c->left == 0) {
        if (!c->cut) {
          c->cut = true;
          ++*cuts;
        }
        break;
      }
    }
    c->close();
  }

  asio::awaitable<void> serve() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket s = co_await acc.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      size_t n = std::uniform_int_distribution<size_t>(cut_min, cut_max)(rng);
      auto c = std::make_shared<Conn>(std::move(s), io, n);
      co_await c->b.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), target), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        c->close();
        continue;
      }
      asio::co_spawn(io, pump(c, c->a, c->b, cuts), asio::detached);
      asio::co_spawn(io, pump(c, c->b, c->a, cuts), asio::detached);
    }
  }
};

FlakyLink::FlakyLink(uint16_t target_port, size_t cut_min, size_t cut_max, uint64_t seed) : impl_(new Impl) {
  impl_->target = target_port;
  impl_->cut_min = cut_min;
  impl_->cut_max = std::max(cut_min, cut_max);
  impl_->rng.seed(seed);
  impl_->cuts = cuts_;
  tcp::endpoint ep(asio::ip::address_v4::loopback(), 0);
  impl_->acc.open(ep.protocol());
  impl_->acc.bind(ep);
  impl_->acc.listen();
  port_ = impl_->acc.local_endpoint().port();
  asio::co_spawn(impl_->io, impl_->serve(), asio::detached);
  thread_ = std::thread([this] { impl_->io.run(); });
}

FlakyLink::~FlakyLink() {
  impl_->io.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace hoso::sync
