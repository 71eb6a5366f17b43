// What every benchmark needs: timing, percentiles, the figure lines they
// print, and failing loudly (a benchmark that cannot measure exits 1 with one
// line naming what failed).
#pragma once

#include <errno.h>  // program_invocation_short_name
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "hoso/crypto/result.hpp"

namespace hoso::bench {

using Clock = std::chrono::steady_clock;

inline double secs_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
inline double ms_since(Clock::time_point t0) { return secs_since(t0) * 1000.0; }

// f(0) .. f(n-1), each on a thread of its own, all at once; returns when all
// have returned. (Simulated laptops and the like, not a work pool.)
template <class F>
void side_by_side(size_t n, F&& f) {
  std::vector<std::thread> ts;
  ts.reserve(n);
  for (size_t i = 0; i < n; ++i) ts.emplace_back([&f, i] { f(i); });
  for (auto& t : ts) t.join();
}

// The p-quantile (0..1) of `v`, nearest rank; 0 for no samples.
inline double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

// One figure: "name: value unit", flushed (a killed run keeps what it printed).
inline void line(const std::string& name, double v, const char* unit, int prec = 3) {
  std::printf("%s: %.*f %s\n", name.c_str(), prec, v, unit);
  std::fflush(stdout);
}

// Runs before a benchmark dies (e.g. stopping the server it started).
inline void (*on_die)() = nullptr;

[[noreturn]] inline void die(const std::string& what) {
  std::cerr << program_invocation_short_name << ": " << what << "\n";
  if (on_die) on_die();
  std::exit(1);
}
[[noreturn]] inline void die(const std::string& what, const std::string& why) { die(what + ": " + why); }
[[noreturn]] inline void die(const std::string& what, const crypto::Error& e) { die(what, e.message); }

// The value of a Result, or the benchmark dies naming `what`.
template <class R>
auto must(R r, const std::string& what) {
  if (!r) die(what, r.error());
  if constexpr (std::is_same_v<R, crypto::Status>) return 0;
  else return std::move(*r);
}

// A fresh folder under the system's temporary one, removed with everything in
// it when the benchmark ends. A benchmark that dies leaves it behind
// (std::exit runs no destructors of locals): it is there to look at.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& prefix) {
    std::string t = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (!::mkdtemp(t.data())) die("cannot create a temporary folder", std::strerror(errno));
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace hoso::bench
