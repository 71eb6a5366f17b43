// A loopback forwarder that cuts every connection after a random number of
// bytes: the rural link of `hoso demo`, in process. (The tests use the fuller
// proxy in tests/proxy, which also throttles, stalls and flips bytes.)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

namespace hoso::sync {

class FlakyLink {
 public:
  // Forwards 127.0.0.1:port() to 127.0.0.1:target_port; each connection is
  // cut after a number of bytes (both directions) drawn in [cut_min, cut_max].
  FlakyLink(uint16_t target_port, size_t cut_min, size_t cut_max, uint64_t seed);
  ~FlakyLink();
  FlakyLink(const FlakyLink&) = delete;
  FlakyLink& operator=(const FlakyLink&) = delete;

  uint16_t port() const { return port_; }
  int cuts() const { return cuts_->load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  std::shared_ptr<std::atomic<int>> cuts_ = std::make_shared<std::atomic<int>>(0);
  std::thread thread_;
};

}  // namespace hoso::sync
