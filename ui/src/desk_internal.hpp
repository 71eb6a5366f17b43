// Internal to the desk: the state behind Desk (sessions, the store, the sync
// worker) shared by the API, the forms and the server loop.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "hoso/crypto/keys.hpp"
#include "hoso/engine/store.hpp"
#include "hoso/ui/desk.hpp"
#include "html.hpp"

namespace hoso::ui {

// Files of ui/assets/desk, embedded at build time (desk_assets.cpp is generated).
struct DeskAsset {
  std::string_view path, content_type, data;
};
const DeskAsset* desk_asset(std::string_view path);

struct Session {
  std::string token, csrf, cert_id;
  // Both keys live only here, in libsodium's wiped memory; shared with a
  // running sync round, and gone when the session locks or signs out.
  std::shared_ptr<crypto::SigningKey> officer, device;
  std::chrono::steady_clock::time_point last_used;
};

struct SyncState {
  std::mutex mu;
  bool running = false, finished = false;  // finished: the io thread has to join and refresh
  std::string phase, error;
  int64_t done = 0, total = 0, bytes = 0;
  std::optional<int64_t> last_ok;          // when the last round ended well
  nlohmann::json last_report;
  std::thread worker;
};

struct Desk::Impl {
  DeskOptions opt;
  engine::Store store;
  uint16_t port = 0;
  std::map<std::string, Session> sessions;  // by token
  SyncState sync;
  // Search needs the form fields, which the store's summaries do not carry:
  // each dossier's folded text, kept until its summary changes.
  struct Folded {
    std::string key, text;
  };
  std::map<std::string, Folded> search_cache;

  int64_t now() const;
  std::string iso(int64_t t) const;   // ISO 8601 in the province's offset
  std::string when(int64_t t) const;  // "17:00 05/03/2026", for people
  std::string day(int64_t t) const;   // "05/03/2026"
  std::string unit_name(const std::string& code) const;
  std::string officer_name(const std::string& cert_id) const;
};

// Vietnamese labels of steps, actions and statuses (names as the procedure has them otherwise).
std::string vi_label(const std::string& name);

// GET /forms/<kind>/<code> and /forms/07?from=&to=: a printable A4 page.
HttpResponse render_form(Desk::Impl& d, const std::string& kind, const std::string& code,
                         const std::map<std::string, std::string>& query);

}  // namespace hoso::ui
