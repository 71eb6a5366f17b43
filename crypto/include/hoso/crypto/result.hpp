// Error style of the crypto and engine layers: functions that can fail return
// Result<T> (a value or an Error) and never throw across the public API. The
// Error keeps a machine code (mapped to exit codes by the CLI) and one human
// line that names what is wrong (a field, a file, a certificate, SQLite's
// extended code and message).
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace hoso::crypto {

enum class Errc : int {
  invalid_argument = 1,  // a caller passed something malformed (a flag, a field)
  bad_format,            // bytes or JSON that do not parse or are not canonical
  bad_signature,         // a signature that does not verify
  wrong_passphrase,      // the key file is intact but the passphrase is wrong
  damaged,               // a file whose integrity check failed
  not_found,             // a file, dossier, certificate or item that is absent
  unauthorized,          // a valid signer that may not do this (role, unit, kind)
  expired,               // a certificate outside its validity window
  revoked,               // a certificate revoked at that moment
  io,                    // the operating system refused (open, read, write)
  busy,                  // another writer holds the store
  conflict,              // equivocation, a duplicate with other bytes, a full block
  storage,               // the database failed (SQLite's code in the message)
  internal,              // a broken invariant: a bug
};

const char* errc_name(Errc c);

struct Error {
  Errc code;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(std::move(e)) {}      // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result of an operation that yields nothing but may fail.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : err_(std::move(e)), failed_(true) {}  // NOLINT
  template <class T>
  Status(const Result<T>& r) : failed_(!r.ok()) {  // NOLINT: propagate a failed Result
    if (failed_) err_ = r.error();
  }
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(failed_); return err_; }

 private:
  Error err_{Errc::internal, {}};
  bool failed_ = false;
};

inline Error make_error(Errc c, std::string msg) { return Error{c, std::move(msg)}; }

}  // namespace hoso::crypto
