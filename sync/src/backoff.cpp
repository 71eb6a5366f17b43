#include "hoso/sync/backoff.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>

namespace hoso::sync {

Backoff::Backoff(double initial_seconds, double cap_seconds, Unit unit)
    // Zero (or NaN) would retry in a tight loop.
    : initial_(initial_seconds > 0 ? initial_seconds : kInitialSeconds),
      // A cap below the first wait would make the first wait the larger one.
      cap_(std::max(cap_seconds, initial_)),
      unit_(unit ? std::move(unit) : seeded(std::random_device{}())) {}

Backoff::Unit Backoff::seeded(uint64_t seed) {
  // Shared: a std::function is copied around and the copies must not replay
  // the same draws.
  auto rng = std::make_shared<std::mt19937_64>(seed);
  return [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
}

double Backoff::next_failure() {
  // Doubling stops at the cap, so a laptop offline for weeks neither
  // overflows nor waits longer than the cap.
  ceiling_ = failures_ == 0 ? initial_ : std::min(ceiling_ * 2, cap_);
  ++failures_;
  double u = unit_();
  if (!(u >= 0.0)) u = 0.0;  // NaN too
  if (u > 1.0) u = 1.0;
  return ceiling_ * (0.5 + 0.5 * u);
}

void Backoff::success() {
  ceiling_ = 0;
  failures_ = 0;
}

}  // namespace hoso::sync
