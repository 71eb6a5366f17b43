#include "hoso/engine/sqlite.hpp"

namespace hoso::engine::sql {

using crypto::make_error;

Error error(sqlite3* db, int rc, std::string_view context) {
  int ext = db ? sqlite3_extended_errcode(db) : rc;
  if ((rc & 0xff) != (ext & 0xff)) ext = rc;
  std::string msg = std::string(context) + ": " + sqlite3_errstr(ext) + " (SQLite " + std::to_string(ext) + ")";
  if (db && sqlite3_errmsg(db) && std::string_view(sqlite3_errmsg(db)) != sqlite3_errstr(ext))
    msg += ": " + std::string(sqlite3_errmsg(db));
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
    return make_error(Errc::busy, msg + " — another hoso process is writing this store (waited 10 s)");
  return make_error(Errc::storage, msg);
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close_v2(db_);
    db_ = o.db_;
    o.db_ = nullptr;
  }
  return *this;
}

Result<Db> Db::open(const std::string& path, bool create, bool readonly) {
  sqlite3* raw = nullptr;
  int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    if ((rc & 0xff) == SQLITE_CANTOPEN && !create)
      return make_error(Errc::not_found, "cannot open store " + path + ": no such store (run hoso init first)");
    return error(raw, rc, "cannot open store " + path);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 10000);
  return db;
}

Status Db::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) return error(db_, rc, "SQL");
  return {};
}

Stmt::~Stmt() {
  if (st_) sqlite3_finalize(st_);
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (st_) sqlite3_finalize(st_);
    db_ = o.db_;
    st_ = o.st_;
    o.st_ = nullptr;
  }
  return *this;
}

Result<Stmt> Stmt::prepare(const Db& db, std::string_view sql) {
  Stmt s;
  s.db_ = db.get();
  int rc = sqlite3_prepare_v2(db.get(), sql.data(), static_cast<int>(sql.size()), &s.st_, nullptr);
  if (rc != SQLITE_OK) return error(db.get(), rc, "prepare");
  return s;
}

Stmt& Stmt::bind(int i, int64_t v) {
  int rc = sqlite3_bind_int64(st_, i, v);
  if (rc != SQLITE_OK && !bind_failed_) bind_failed_ = true, pending_ = error(db_, rc, "bind");
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view t) {
  int rc = sqlite3_bind_text(st_, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && !bind_failed_) bind_failed_ = true, pending_ = error(db_, rc, "bind");
  return *this;
}
Stmt& Stmt::bind_blob(int i, std::string_view b) {
  int rc = sqlite3_bind_blob(st_, i, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && !bind_failed_) bind_failed_ = true, pending_ = error(db_, rc, "bind");
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  int rc = sqlite3_bind_null(st_, i);
  if (rc != SQLITE_OK && !bind_failed_) bind_failed_ = true, pending_ = error(db_, rc, "bind");
  return *this;
}

Result<bool> Stmt::step() {
  if (bind_failed_) return pending_;
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error(db_, rc, "step");
}

Status Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r) return r.error();
    if (!*r) break;
  }
  reset();
  return {};
}

void Stmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
  bind_failed_ = false;
}

std::string Stmt::text(int col) const {
  const void* p = sqlite3_column_blob(st_, col);
  int n = sqlite3_column_bytes(st_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::optional<int64_t> Stmt::opt_i64(int col) const {
  if (is_null(col)) return std::nullopt;
  return i64(col);
}

std::optional<std::string> Stmt::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

Result<Tx> Tx::begin(Db& db) {
  Status st = db.exec("BEGIN IMMEDIATE");
  if (!st) return st.error();
  return Tx(&db);
}

Tx::~Tx() {
  if (!done_) (void)db_->exec("ROLLBACK");
}

Status Tx::commit() {
  Status st = db_->exec("COMMIT");
  if (st) done_ = true;
  return st;
}

}  // namespace hoso::engine::sql
