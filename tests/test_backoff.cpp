// The retry policy of `hoso sync --watch` and of a relay (SPEC §5: back off
// with jitter up to a cap of minutes, never give up), driven through its
// jitter seam so every wait can be checked against its exact bounds.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "hoso/sync/backoff.hpp"

using hoso::sync::Backoff;

namespace {

std::vector<double> waits(Backoff& b, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) out.push_back(b.next_failure());
  return out;
}

}  // namespace

TEST_CASE("backoff: every wait lies in [0.5, 1] of a ceiling that doubles from the initial wait to the cap and stays there", "[backoff]") {
  Backoff b(1.0, 300.0, Backoff::seeded(42));
  double expect = 1.0;
  for (int k = 1; k <= 2000; ++k) {
    double w = b.next_failure();
    INFO("failure " << k);
    CHECK(b.failures() == k);
    CHECK(b.ceiling() == expect);
    CHECK(w >= 0.5 * expect);
    CHECK(w <= expect);
    expect = std::min(expect * 2, 300.0);
  }
  // 1, 2, 4, ... 256, then 300: the cap is reached at the tenth failure.
  Backoff c(1.0, 300.0, Backoff::seeded(42));
  std::vector<double> ceilings;
  for (int k = 0; k < 11; ++k) {
    (void)c.next_failure();
    ceilings.push_back(c.ceiling());
  }
  CHECK(ceilings == std::vector<double>{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300});
}

TEST_CASE("backoff: the jitter's extremes are exactly half the ceiling and the ceiling, whatever the seam returns", "[backoff]") {
  double next = 0;
  Backoff b(1.0, 300.0, [&next] { return next; });
  next = 0.0;
  CHECK(b.next_failure() == 0.5);  // ceiling 1
  next = 1.0;
  CHECK(b.next_failure() == 2.0);  // ceiling 2
  next = 0.5;
  CHECK(b.next_failure() == 3.0);  // ceiling 4
  // A seam out of range cannot push a wait out of its bounds.
  next = 7.0;
  CHECK(b.next_failure() == 8.0);
  next = -3.0;
  CHECK(b.next_failure() == 8.0);  // ceiling 16
  next = std::numeric_limits<double>::quiet_NaN();
  double w = b.next_failure();  // ceiling 32
  CHECK(w == 16.0);
}

TEST_CASE("backoff: many failures in a row keep retrying at the cap and spread their waits over its range", "[backoff]") {
  Backoff b(1.0, 300.0, Backoff::seeded(7));
  auto all = waits(b, 10000);
  REQUIRE(all.size() == 10000);
  CHECK(b.failures() == 10000);  // never gives up
  std::vector<double> capped(all.begin() + 9, all.end());
  auto [lo, hi] = std::minmax_element(capped.begin(), capped.end());
  CHECK(*lo >= 150.0);
  CHECK(*hi <= 300.0);
  // Jitter, not a constant: both ends of the range are visited.
  CHECK(*lo < 160.0);
  CHECK(*hi > 290.0);
  for (double w : all) CHECK(std::isfinite(w));
}

TEST_CASE("backoff: a success starts the next failure from the initial wait again", "[backoff]") {
  Backoff b(1.0, 300.0, Backoff::seeded(3));
  (void)waits(b, 50);
  REQUIRE(b.ceiling() == 300.0);
  b.success();
  CHECK(b.failures() == 0);
  CHECK(b.ceiling() == 0.0);
  double w = b.next_failure();
  CHECK(b.failures() == 1);
  CHECK(b.ceiling() == 1.0);
  CHECK(w >= 0.5);
  CHECK(w <= 1.0);
  w = b.next_failure();
  CHECK(b.ceiling() == 2.0);
  CHECK(w >= 1.0);
  CHECK(w <= 2.0);
}

TEST_CASE("backoff: two seeds give two different jitters and one seed gives the same one", "[backoff]") {
  Backoff a(1.0, 300.0, Backoff::seeded(1)), a2(1.0, 300.0, Backoff::seeded(1)), b(1.0, 300.0, Backoff::seeded(2));
  auto wa = waits(a, 20), wa2 = waits(a2, 20), wb = waits(b, 20);
  CHECK(wa == wa2);
  CHECK(wa != wb);
  int differ = 0;
  for (size_t i = 0; i < wa.size(); ++i) differ += wa[i] != wb[i];
  CHECK(differ == 20);  // not one shared draw
  // Two default seams (seeded by std::random_device) differ too.
  Backoff d1, d2;
  auto w1 = waits(d1, 20), w2 = waits(d2, 20);
  CHECK(w1 != w2);
}

TEST_CASE("backoff: other initial waits and caps, and a cap below the initial wait", "[backoff]") {
  Backoff b(0.25, 1.0, Backoff::seeded(9));
  std::vector<double> ceilings;
  for (int k = 0; k < 5; ++k) {
    double w = b.next_failure();
    CHECK(w >= 0.5 * b.ceiling());
    CHECK(w <= b.ceiling());
    ceilings.push_back(b.ceiling());
  }
  CHECK(ceilings == std::vector<double>{0.25, 0.5, 1.0, 1.0, 1.0});
  // A cap under the initial wait is raised to it: the ceiling never shrinks
  // as failures go on.
  Backoff c(10.0, 2.0, Backoff::seeded(9));
  (void)c.next_failure();
  CHECK(c.ceiling() == 10.0);
  (void)c.next_failure();
  CHECK(c.ceiling() == 10.0);
  // A wait of zero or less would retry in a tight loop: the default instead.
  Backoff z(0.0, 300.0, Backoff::seeded(9));
  (void)z.next_failure();
  CHECK(z.ceiling() == 2.0);
}

TEST_CASE("backoff: the defaults are PROTOCOL 13.7's, a ceiling doubling from 2 s up to 300 s", "[backoff]") {
  Backoff d;  // its jitter from std::random_device: only the bounds are known
  std::vector<double> ceilings;
  for (int k = 0; k < 12; ++k) {
    double w = d.next_failure();
    CHECK(w >= 0.5 * d.ceiling());
    CHECK(w <= d.ceiling());
    ceilings.push_back(d.ceiling());
  }
  CHECK(ceilings == std::vector<double>{2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300});
}
