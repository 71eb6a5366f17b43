// RAII over SQLite: a connection, prepared statements, and a transaction that
// rolls back unless committed. Every failure keeps SQLite's extended result
// code and message (Errc::storage, or Errc::busy when another writer holds
// the database past the busy timeout).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hoso/crypto/result.hpp"

namespace hoso::engine::sql {

using crypto::Errc;
using crypto::Error;
using crypto::Result;
using crypto::Status;

// The error for rc on db, e.g. "SQLITE_CONSTRAINT_UNIQUE (2067): UNIQUE constraint failed: events.hash".
Error error(sqlite3* db, int rc, std::string_view context);

class Db {
 public:
  Db() = default;
  ~Db();
  Db(Db&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens (creating when `create`) with extended result codes on.
  static Result<Db> open(const std::string& path, bool create, bool readonly = false);
  Status exec(const std::string& sql);
  sqlite3* get() const { return db_; }
  int64_t changes() const { return sqlite3_changes64(db_); }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

class Stmt {
 public:
  Stmt() = default;
  ~Stmt();
  Stmt(Stmt&& o) noexcept : db_(o.db_), st_(o.st_) { o.st_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  static Result<Stmt> prepare(const Db& db, std::string_view sql);

  // Binding (1-based); chainable.
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, std::string_view text);
  Stmt& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
  Stmt& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind_blob(int i, std::string_view bytes);
  Stmt& bind_null(int i);
  Stmt& bind(int i, const std::optional<int64_t>& v) { return v ? bind(i, *v) : bind_null(i); }
  Stmt& bind(int i, const std::optional<std::string>& v) { return v ? bind(i, std::string_view(*v)) : bind_null(i); }

  // One step: true with a row, false when done.
  Result<bool> step();
  // Runs to completion (for statements without rows).
  Status run();
  void reset();

  int64_t i64(int col) const { return sqlite3_column_int64(st_, col); }
  std::string text(int col) const;
  std::optional<int64_t> opt_i64(int col) const;
  std::optional<std::string> opt_text(int col) const;
  bool is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* st_ = nullptr;
  Error pending_{Errc::internal, {}};
  bool bind_failed_ = false;
};

// BEGIN IMMEDIATE on construction (so a second writer waits for the busy
// timeout right here, not halfway through); ROLLBACK unless commit() ran.
class Tx {
 public:
  static Result<Tx> begin(Db& db);
  ~Tx();
  Tx(Tx&& o) noexcept : db_(o.db_), done_(o.done_) { o.done_ = true; }
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;
  Tx& operator=(Tx&&) = delete;
  Status commit();

 private:
  explicit Tx(Db* db) : db_(db) {}
  Db* db_;
  bool done_ = false;
};

}  // namespace hoso::engine::sql
