// The officers' desk (`hoso ui`): a local web app over one laptop store.
// The request handler is a plain function of a request (so tests call it
// in-process); serve_desk puts it behind Boost.Beast on loopback.
//
// Security model: the officer's unlocked key and the laptop's key stay in
// this process, in wiped memory, per session; the browser holds only an
// HttpOnly SameSite=Strict session cookie and a CSRF token it must echo in
// the X-CSRF-Token header of every POST. Every request's Host must name this
// server (no DNS rebinding); every POST's Origin must be this server.
// Sessions lock (keys wiped) after `idle_lock` without a request.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hoso/crypto/result.hpp"

namespace hoso::ui {

using crypto::Errc;
using crypto::Result;
using crypto::Status;

struct DeskOptions {
  std::string db;
  std::string listen = "127.0.0.1:8080";  // HOST:PORT (port 0: any free port)
  std::function<int64_t()> now;           // clock seam (HOSO_NOW); wall clock when empty
  std::chrono::seconds idle_lock{15 * 60};
  // The laptop's passphrase when known up front (HOSO_DEVICE_PASSPHRASE);
  // otherwise the laptop's key opens with the officer's passphrase.
  std::string device_passphrase;
  std::function<void(uint16_t)> on_listening;
  std::function<void(const std::string&)> log;
};

struct HttpRequest {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Largest request body: one attachment at the store's limit, base64-encoded, plus the form.
size_t desk_max_body();

class Desk {
 public:
  static Result<std::unique_ptr<Desk>> open(const DeskOptions& opt);
  ~Desk();
  Desk(const Desk&) = delete;
  Desk& operator=(const Desk&) = delete;

  // The port the server is bound to (the Host header must name it).
  void set_port(uint16_t port);
  // Not thread-safe: one thread calls handle and sweep.
  HttpResponse handle(const HttpRequest& req);
  // Locks sessions idle past the limit (also done on every request).
  void sweep();
  // Test seam: pretend `d` passed since every session's last request.
  void age_sessions(std::chrono::seconds d);

  struct Impl;

 private:
  explicit Desk(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Serves until `stop` becomes true (checked about once a second).
Status serve_desk(const DeskOptions& opt, const std::atomic<bool>& stop);

// Lower-case ASCII with Vietnamese diacritics removed (đ -> d): what search compares.
std::string fold_vietnamese(std::string_view s);

// An SVG QR code of `text` (libqrencode), or an error.
Result<std::string> qr_svg(const std::string& text);

}  // namespace hoso::ui
