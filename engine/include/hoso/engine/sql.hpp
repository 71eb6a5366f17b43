// RAII over the two databases a store can live in: SQLite (a laptop, a relay,
// a small province: one file) and PostgreSQL (the provincial server, through
// libpq). One connection, prepared statements and a transaction that rolls
// back unless committed, with the same interface over both, so the store's
// logic is written once.
//
// SQL is written once too, in the dialect both accept (ON CONFLICT upserts,
// RETURNING, coalesce, CASE); placeholders are SQLite's `?` and `?N`, which
// are rewritten to `$N` for PostgreSQL. Where the dialects truly differ the
// caller asks backend() and picks.
//
// Errors keep the database's own code and message: SQLite's extended result
// code, or PostgreSQL's SQLSTATE. A writer that waited 10 s for another (the
// busy timeout, or PostgreSQL's lock_timeout) gets Errc::busy; a lost
// PostgreSQL connection Errc::io; anything else Errc::storage.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "hoso/crypto/result.hpp"

namespace hoso::engine::sql {

using crypto::Errc;
using crypto::Error;
using crypto::Result;
using crypto::Status;

enum class Backend { sqlite, postgres };

// True for a PostgreSQL connection URL ("postgresql://…" or "postgres://…").
bool is_postgres_url(std::string_view location);

// The error for rc on db, e.g. "SQLITE_CONSTRAINT_UNIQUE (2067): UNIQUE constraint failed: events.hash".
Error error(sqlite3* db, int rc, std::string_view context);

struct PgConn;  // libpq state (sql.cpp)
struct PgStmt;
struct StmtCache;  // SQLite statements kept compiled between uses (sql.cpp)

class Db {
 public:
  Db();
  ~Db();
  Db(Db&& o) noexcept;
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // SQLite: opens (creating when `create`) with extended result codes on and
  // a 10 s busy timeout. Errc::not_found when it does not exist and !create.
  static Result<Db> open(const std::string& path, bool create, bool readonly = false);
  // PostgreSQL: connects to `url` (libpq URL syntax). A read-only connection
  // refuses every write. Errc::io when the server cannot be reached.
  static Result<Db> connect(const std::string& url, bool readonly = false);

  Backend backend() const { return pg_ ? Backend::postgres : Backend::sqlite; }
  // Runs one or more statements without parameters or rows.
  Status exec(const std::string& sql);
  // The SQLite handle (nullptr for PostgreSQL), for SQLite-only facilities
  // such as the online backup API.
  sqlite3* get() const { return db_; }
  // Rows changed by the last completed statement.
  int64_t changes() const;
  // SQLite only: `n` bytes (fewer at its end) from `offset` of the BLOB in
  // `table`.`column` at `rowid`, read in place (incremental blob I/O), so a
  // slice of a large value costs the slice, not the value.
  // Errc::invalid_argument on PostgreSQL or an offset beyond the value.
  Result<std::string> read_blob(const char* table, const char* column, int64_t rowid, int64_t offset, size_t n) const;

 private:
  friend class Stmt;
  void close();
  sqlite3* db_ = nullptr;
  std::unique_ptr<PgConn> pg_;
  std::shared_ptr<StmtCache> cache_;
};

class Stmt {
 public:
  Stmt();
  ~Stmt();
  Stmt(Stmt&& o) noexcept;
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // SQLite compiles here (errors now), or takes an idle compiled copy of the
  // same SQL that an earlier Stmt of this connection gave back when it was
  // destroyed (so a statement prepared per dossier or per event is compiled
  // once per connection, not each time); PostgreSQL prepares on the first
  // step, once the parameter types are known, and keeps it per connection.
  static Result<Stmt> prepare(const Db& db, std::string_view sql);

  // Binding (1-based); chainable. Errors surface at step().
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, std::string_view text);
  Stmt& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
  Stmt& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind_blob(int i, std::string_view bytes);
  Stmt& bind_null(int i);
  Stmt& bind(int i, const std::optional<int64_t>& v) { return v ? bind(i, *v) : bind_null(i); }
  Stmt& bind(int i, const std::optional<std::string>& v) { return v ? bind(i, std::string_view(*v)) : bind_null(i); }

  // One step: true with a row, false when done. PostgreSQL rows stream one
  // at a time; running another statement on the same connection meanwhile
  // first buffers the rest of this one's rows, so statements may interleave
  // as they do in SQLite.
  Result<bool> step();
  // Runs to completion (for statements without rows), then resets.
  Status run();
  // Back to before the first step, bindings cleared.
  void reset();

  int64_t i64(int col) const;
  // Text or blob bytes, exactly.
  std::string text(int col) const;
  std::optional<int64_t> opt_i64(int col) const;
  std::optional<std::string> opt_text(int col) const;
  bool is_null(int col) const;

 private:
  void release();
  sqlite3* db_ = nullptr;
  sqlite3_stmt* st_ = nullptr;
  std::shared_ptr<StmtCache> cache_;  // where st_ goes back to, while its Db lives
  std::unique_ptr<PgStmt> pg_;
  Error pending_{Errc::internal, {}};
  bool bind_failed_ = false;
};

// A write transaction. SQLite: BEGIN IMMEDIATE, so a second writer waits
// for the busy timeout right here, not halfway through. PostgreSQL: BEGIN and
// a transaction-scoped advisory lock, so writers to one store take turns as
// in SQLite (the store's positions then grow in commit order, which the pull
// feed's cursors rely on). ROLLBACK unless commit() ran.
class Tx {
 public:
  static Result<Tx> begin(Db& db);
  // A read transaction: every statement until it ends sees one snapshot
  // (SQLite: a deferred BEGIN; PostgreSQL: REPEATABLE READ, READ ONLY, and no
  // writers' lock, so it never waits for a writer nor a writer for it).
  static Result<Tx> begin_read(Db& db);
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
