// The province's read-only dashboard (`hoso serve --http HOST:PORT`): the
// report figures (engine/report.hpp) as a page in Vietnamese with an on-time
// chart by commune and month and the communes that have not synced for a day,
// plus the same figures as JSON at /api/report.
//
// It runs its own io_context on its own thread and opens the store read-only
// for each report (never the sync server's connection), so a slow report
// never delays a laptop's sync and the sync server never waits for it.
// Only GET and HEAD; requests bounded in size, count and time; every page
// self-contained (CSP default-src 'self', no external resource, no script).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hoso/crypto/result.hpp"
#include "hoso/engine/store.hpp"

namespace hoso::ui {

struct DashboardOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT; port 0 takes any free port
  // Opens the store to read (each report opens its own; it may not exist yet
  // when the sync server has not created it: the page then says so).
  std::function<crypto::Result<engine::Store>()> open_store;
  std::function<int64_t()> now;          // the server clock (HOSO_NOW in tests)
  std::function<void(uint16_t)> on_listening;  // with the bound port
  std::function<void(const std::string&)> log;  // one line per failure (default: none)
  int64_t stale_after_seconds = 86400;   // a commune is listed once its newest sync is older
  int request_timeout_seconds = 10;      // to read a request and write its answer
  size_t max_connections = 32;           // more are closed at once
  int cache_seconds = 10;                // a report is reused this long (reload storms)
};

// A commune whose newest device sync is older than the limit (or never).
struct StaleUnit {
  std::string unit, name;
  std::optional<int64_t> last_sync;  // newest last_sync of its devices, unix seconds
  std::string last_sync_iso;         // the same as the devices report wrote it ("" when never)
  int64_t devices = 0;
};

// Per unit of the report's `devices`, the newest last_sync; units whose newest
// is before now - stale_after (or that never synced) are returned, oldest
// first. Unit names from `names` (unit code -> name) when known.
std::vector<StaleUnit> stale_units(const nlohmann::json& devices, const std::map<std::string, std::string>& names,
                                   int64_t now, int64_t stale_after);

// The page for a report (build_report with devices) and its stale units;
// `now_iso` is shown as the time of the figures. Self-contained HTML5 in
// Vietnamese: every name is escaped.
std::string dashboard_html(const nlohmann::json& report, const std::vector<StaleUnit>& stale, const std::string& now_iso);

// The stylesheet the page links to (/dashboard.css).
const std::string& dashboard_css();

class Dashboard {
 public:
  // Binds and starts serving on a new thread. Errc::invalid_argument for a bad
  // HOST:PORT, Errc::io when the address cannot be bound.
  static crypto::Result<std::unique_ptr<Dashboard>> start(DashboardOptions opt);
  ~Dashboard();  // stops
  uint16_t port() const;
  // Stops accepting, closes connections and joins the thread. Idempotent.
  void stop();

  struct Impl;

 private:
  explicit Dashboard(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hoso::ui
