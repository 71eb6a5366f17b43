// How long to wait before retrying a sync that failed (SPEC §5: retries back
// off with jitter up to a cap of minutes, and never give up in --watch). One
// policy for `hoso sync --watch` and the relay loop of `hoso serve --upstream`,
// so the two cannot drift apart and the policy has a test.
#pragma once

#include <cstdint>
#include <functional>

namespace hoso::sync {

class Backoff {
 public:
  // Draws the jitter: a number in [0, 1]. A seam for tests; values outside
  // are clamped, so a bad draw cannot produce a wait outside the bounds.
  using Unit = std::function<double()>;

  // PROTOCOL §13.7: a ceiling that doubles from 2 s up to 300 s.
  static constexpr double kInitialSeconds = 2.0;
  static constexpr double kCapSeconds = 300.0;

  // The first failure waits between initial/2 and initial; each consecutive
  // failure doubles the ceiling up to `cap`. An empty `unit` draws from a
  // generator seeded by std::random_device, so that laptops cut off by the
  // same outage do not all come back at the same second.
  explicit Backoff(double initial_seconds = kInitialSeconds, double cap_seconds = kCapSeconds, Unit unit = {});

  // A uniform draw in [0, 1] from a generator with this seed.
  static Unit seeded(uint64_t seed);

  // The wait, in seconds, after one more consecutive failure:
  // ceiling × [0.5, 1.0]. There is no last attempt.
  double next_failure();
  // The next failure starts again from the initial wait.
  void success();

  // The ceiling the last failure's wait was drawn under (0 before any).
  double ceiling() const { return ceiling_; }
  int64_t failures() const { return failures_; }

 private:
  double initial_, cap_;
  Unit unit_;
  double ceiling_ = 0;
  int64_t failures_ = 0;
};

}  // namespace hoso::sync
