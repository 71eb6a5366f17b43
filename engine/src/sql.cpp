#include "hoso/engine/sql.hpp"

#include "hoso/crypto/sodium.hpp"

#include <libpq-fe.h>

#include <cstdlib>
#include <deque>
#include <unordered_map>
#include <vector>

namespace hoso::engine::sql {

using crypto::make_error;

namespace {
// PostgreSQL type oids (server/catalog/pg_type_d.h, stable across versions).
constexpr Oid kBoolOid = 16, kByteaOid = 17, kInt8Oid = 20, kTextOid = 25;
// Writers of one store take turns under this lock ("HOSO").
constexpr const char* kWriterLock = "SELECT pg_advisory_xact_lock(1213157199)";

Error pg_error(const PGconn* c, const PGresult* r, std::string_view context) {
  std::string state = r && PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : "";
  std::string msg = r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : (c ? PQerrorMessage(c) : "no connection");
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  std::string full = std::string(context) + ": PostgreSQL" + (state.empty() ? "" : " " + state) + ": " + msg;
  if (c && PQstatus(c) == CONNECTION_BAD) return make_error(Errc::io, full + " — the connection to PostgreSQL was lost");
  // lock_not_available (lock_timeout), serialization_failure, deadlock_detected
  if (state == "55P03" || state == "40001" || state == "40P01")
    return make_error(Errc::busy, full + " — another hoso process is writing this store (waited 10 s)");
  return make_error(Errc::storage, full);
}

// `?` and `?N` (outside quoted text) to `$N`. A bare `?` takes the number
// after the highest used so far, as in SQLite.
std::string to_dollar(std::string_view sql, int& nparams) {
  std::string out;
  out.reserve(sql.size() + 8);
  int highest = 0;
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char ch = sql[i];
    if (quote) {
      out += ch;
      if (ch == quote) quote = 0;
      continue;
    }
    if (ch == '\'' || ch == '"') {
      quote = ch;
      out += ch;
      continue;
    }
    if (ch != '?') {
      out += ch;
      continue;
    }
    int n = 0;
    size_t j = i + 1;
    while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') n = n * 10 + (sql[j++] - '0');
    if (j == i + 1) n = highest + 1;
    i = j - 1;
    highest = std::max(highest, n);
    out += '$' + std::to_string(n);
  }
  nparams = highest;
  return out;
}

}  // namespace

bool is_postgres_url(std::string_view s) { return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0; }

struct PgConn {
  PGconn* conn = nullptr;
  std::unordered_map<std::string, std::string> prepared;  // sql + types -> statement name
  PgStmt* streaming = nullptr;                            // whose rows are still arriving
  int64_t changes = 0;
  ~PgConn() {
    if (conn) PQfinish(conn);
  }
};

struct PgStmt {
  PgConn* c = nullptr;
  std::string sql;  // with $N placeholders
  int nparams = 0;
  std::vector<std::string> values;
  std::vector<char> set, null;
  std::vector<Oid> types;
  std::deque<PGresult*> buffered;  // rows taken off the wire early (see drain)
  PGresult* row = nullptr;         // the current row
  std::optional<Error> failed;     // an error met while draining
  bool started = false, streaming = false;

  ~PgStmt() { clear(); }
  void clear() {
    if (streaming) discard();
    if (row) PQclear(row);
    row = nullptr;
    for (PGresult* r : buffered) PQclear(r);
    buffered.clear();
    failed.reset();
    started = false;
  }
  // Ends this statement's turn on the connection.
  void finish() {
    streaming = false;
    if (c->streaming == this) c->streaming = nullptr;
  }
  // Reads the rest of the results off the connection and drops them.
  void discard() {
    while (PGresult* r = PQgetResult(c->conn)) PQclear(r);
    finish();
  }
  // Another statement needs the connection: keep the remaining rows here.
  void drain() {
    while (PGresult* r = PQgetResult(c->conn)) {
      ExecStatusType s = PQresultStatus(r);
      if (s == PGRES_SINGLE_TUPLE) {
        buffered.push_back(r);
        continue;
      }
      if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
        c->changes = std::atoll(PQcmdTuples(r));
      } else if (!failed) {
        failed = pg_error(c->conn, r, "step");
      }
      PQclear(r);
    }
    finish();
  }
  void set_param(int i, std::string v, Oid type, bool is_null) {
    if (started) clear();  // binding again after a run starts over, keeping the other bindings
    if (i < 1 || i > nparams) {
      if (!failed) failed = make_error(Errc::internal, "bind: parameter " + std::to_string(i) + " out of range");
      return;
    }
    values[i - 1] = std::move(v);
    types[i - 1] = type;
    null[i - 1] = is_null;
    set[i - 1] = 1;
  }

  Status start() {
    for (int i = 0; i < nparams; ++i)
      if (!set[i]) return make_error(Errc::internal, "step: parameter " + std::to_string(i + 1) + " not bound");
    if (c->streaming && c->streaming != this) c->streaming->drain();
    std::string key = sql;
    key += '\0';
    for (Oid t : types) key += std::to_string(t) + ",";
    auto it = c->prepared.find(key);
    if (it == c->prepared.end()) {
      std::string name = "h" + std::to_string(c->prepared.size() + 1);
      PGresult* r = PQprepare(c->conn, name.c_str(), sql.c_str(), nparams, types.data());
      bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      Error e = ok ? Error{Errc::internal, {}} : pg_error(c->conn, r, "prepare");
      PQclear(r);
      if (!ok) return e;
      it = c->prepared.emplace(std::move(key), std::move(name)).first;
    }
    std::vector<const char*> vals(nparams);
    std::vector<int> lens(nparams), fmts(nparams);
    for (int i = 0; i < nparams; ++i) {
      vals[i] = null[i] ? nullptr : values[i].data();
      lens[i] = static_cast<int>(values[i].size());
      fmts[i] = types[i] == kByteaOid ? 1 : 0;  // bytes go binary, the rest as text
    }
    if (!PQsendQueryPrepared(c->conn, it->second.c_str(), nparams, vals.data(), lens.data(), fmts.data(), 0))
      return pg_error(c->conn, nullptr, "step");
    PQsetSingleRowMode(c->conn);
    started = streaming = true;
    c->streaming = this;
    return {};
  }

  Result<bool> next() {
    if (row) PQclear(row);
    row = nullptr;
    if (!buffered.empty()) {
      row = buffered.front();
      buffered.pop_front();
      return true;
    }
    if (failed) return *failed;
    if (!streaming) return false;
    for (;;) {
      PGresult* r = PQgetResult(c->conn);
      if (!r) {
        finish();
        return false;
      }
      ExecStatusType s = PQresultStatus(r);
      if (s == PGRES_SINGLE_TUPLE) {
        row = r;
        return true;
      }
      if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
        c->changes = std::atoll(PQcmdTuples(r));
        PQclear(r);
        continue;  // the terminating null follows
      }
      Error e = pg_error(c->conn, r, "step");
      PQclear(r);
      discard();
      failed = e;
      return e;
    }
  }
};

// ---- errors (SQLite) ----

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

// ---- Db ----

// Idle compiled statements of one SQLite connection, by SQL text. A Stmt
// gives its statement back here when destroyed (reset, bindings cleared);
// the Db finalizes them all before it closes, and from then on a Stmt that
// outlives it finalizes its own.
struct StmtCache {
  static constexpr size_t kMaxIdle = 128;  // a store uses a few dozen distinct statements
  bool open = true;
  std::unordered_multimap<std::string, sqlite3_stmt*> idle;
  void finalize_all() {
    for (auto& [sql, st] : idle) sqlite3_finalize(st);
    idle.clear();
  }
};

Db::Db() = default;
void Db::close() {
  if (cache_) {
    cache_->finalize_all();
    cache_->open = false;
    cache_.reset();
  }
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}
Db::~Db() { close(); }
Db::Db(Db&& o) noexcept : db_(o.db_), pg_(std::move(o.pg_)), cache_(std::move(o.cache_)) { o.db_ = nullptr; }
Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    close();
    db_ = o.db_;
    o.db_ = nullptr;
    pg_ = std::move(o.pg_);
    cache_ = std::move(o.cache_);
  }
  return *this;
}

Result<Db> Db::open(const std::string& path, bool create, bool readonly) {
  sqlite3* raw = nullptr;
  int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db;
  db.db_ = raw;
  if (rc != SQLITE_OK) {
    if ((rc & 0xff) == SQLITE_CANTOPEN && !create)
      return make_error(Errc::not_found, "cannot open store " + path + ": no such store (run hoso init first)");
    return error(raw, rc, "cannot open store " + path);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 10000);
  db.cache_ = std::make_shared<StmtCache>();
  return db;
}

Result<Db> Db::connect(const std::string& url, bool readonly) {
  Db db;
  db.pg_ = std::make_unique<PgConn>();
  db.pg_->conn = PQconnectdb(url.c_str());
  if (!db.pg_->conn) return make_error(Errc::internal, "out of memory connecting to PostgreSQL");
  if (PQstatus(db.pg_->conn) != CONNECTION_OK) {
    std::string m = PQerrorMessage(db.pg_->conn);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    for (char& ch : m)
      if (ch == '\n') ch = ' ';
    return make_error(Errc::io, "cannot connect to the PostgreSQL store: " + m);
  }
  // lock_timeout: a second writer waits 10 s, as with SQLite's busy timeout.
  // UTC and C collation keep results identical to the SQLite store's.
  std::string setup = "SET lock_timeout = '10s'; SET client_min_messages = warning; SET TIME ZONE 'UTC';";
  if (readonly) setup += " SET default_transaction_read_only = on;";
  Status st = db.exec(setup);
  if (!st) return st.error();
  return db;
}

Status Db::exec(const std::string& sql) {
  if (pg_) {
    if (pg_->streaming) pg_->streaming->drain();
    PGresult* r = PQexec(pg_->conn, sql.c_str());
    ExecStatusType s = PQresultStatus(r);
    Status out;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) pg_->changes = std::atoll(PQcmdTuples(r));
    else out = pg_error(pg_->conn, r, "SQL");
    PQclear(r);
    return out;
  }
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) return error(db_, rc, "SQL");
  return {};
}

Result<std::string> Db::read_blob(const char* table, const char* column, int64_t rowid, int64_t offset, size_t n) const {
  if (!db_) return make_error(Errc::invalid_argument, "read_blob: an SQLite store only");
  sqlite3_blob* raw = nullptr;
  int rc = sqlite3_blob_open(db_, "main", table, column, rowid, 0, &raw);
  std::unique_ptr<sqlite3_blob, int (*)(sqlite3_blob*)> blob(raw, sqlite3_blob_close);
  if (rc != SQLITE_OK) return error(db_, rc, std::string("reading ") + table + "." + column);
  const int64_t size = sqlite3_blob_bytes(blob.get());
  if (offset < 0 || offset > size) return make_error(Errc::invalid_argument, "read_blob: offset beyond the value");
  std::string out(static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(n), size - offset)), '\0');
  if (!out.empty() && (rc = sqlite3_blob_read(blob.get(), out.data(), static_cast<int>(out.size()), static_cast<int>(offset))) != SQLITE_OK)
    return error(db_, rc, std::string("reading ") + table + "." + column);
  return out;
}

int64_t Db::changes() const { return pg_ ? pg_->changes : sqlite3_changes64(db_); }

// ---- Stmt ----

Stmt::Stmt() = default;
void Stmt::release() {
  if (!st_) return;
  if (cache_ && cache_->open && cache_->idle.size() < StmtCache::kMaxIdle) {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
    cache_->idle.emplace(sqlite3_sql(st_), st_);
  } else {
    sqlite3_finalize(st_);
  }
  st_ = nullptr;
  cache_.reset();
}
Stmt::~Stmt() { release(); }
Stmt::Stmt(Stmt&& o) noexcept
    : db_(o.db_),
      st_(o.st_),
      cache_(std::move(o.cache_)),
      pg_(std::move(o.pg_)),
      pending_(std::move(o.pending_)),
      bind_failed_(o.bind_failed_) {
  o.st_ = nullptr;
}
Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    release();
    db_ = o.db_;
    st_ = o.st_;
    o.st_ = nullptr;
    cache_ = std::move(o.cache_);
    pg_ = std::move(o.pg_);
    pending_ = std::move(o.pending_);
    bind_failed_ = o.bind_failed_;
  }
  return *this;
}

Result<Stmt> Stmt::prepare(const Db& db, std::string_view sql) {
  Stmt s;
  if (db.pg_) {
    s.pg_ = std::make_unique<PgStmt>();
    s.pg_->c = db.pg_.get();
    s.pg_->sql = to_dollar(sql, s.pg_->nparams);
    size_t n = static_cast<size_t>(s.pg_->nparams);
    s.pg_->values.assign(n, {});
    s.pg_->set.assign(n, 0);
    s.pg_->null.assign(n, 0);
    s.pg_->types.assign(n, 0);
    return s;
  }
  s.db_ = db.get();
  s.cache_ = db.cache_;
  if (db.cache_) {
    auto it = db.cache_->idle.find(std::string(sql));
    if (it != db.cache_->idle.end()) {
      s.st_ = it->second;
      db.cache_->idle.erase(it);
      return s;
    }
  }
  int rc = sqlite3_prepare_v3(db.get(), sql.data(), static_cast<int>(sql.size()), db.cache_ ? SQLITE_PREPARE_PERSISTENT : 0, &s.st_, nullptr);
  if (rc != SQLITE_OK) return error(db.get(), rc, "prepare");
  return s;
}

Stmt& Stmt::bind(int i, int64_t v) {
  if (pg_) return pg_->set_param(i, std::to_string(v), kInt8Oid, false), *this;
  int rc = sqlite3_bind_int64(st_, i, v);
  if (rc != SQLITE_OK && !bind_failed_) bind_failed_ = true, pending_ = error(db_, rc, "bind");
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view t) {
  if (pg_) return pg_->set_param(i, std::string(t), kTextOid, false), *this;
  int rc = sqlite3_bind_text(st_, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && !bind_failed_) bind_failed_ = true, pending_ = error(db_, rc, "bind");
  return *this;
}
Stmt& Stmt::bind_blob(int i, std::string_view b) {
  if (pg_) return pg_->set_param(i, std::string(b), kByteaOid, false), *this;
  // An empty view may have no data pointer, which SQLite would bind as NULL.
  int rc = b.empty() ? sqlite3_bind_zeroblob(st_, i, 0) : sqlite3_bind_blob(st_, i, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && !bind_failed_) bind_failed_ = true, pending_ = error(db_, rc, "bind");
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  if (pg_) return pg_->set_param(i, {}, 0, true), *this;
  int rc = sqlite3_bind_null(st_, i);
  if (rc != SQLITE_OK && !bind_failed_) bind_failed_ = true, pending_ = error(db_, rc, "bind");
  return *this;
}

Result<bool> Stmt::step() {
  if (pg_) {
    if (!pg_->started) {
      if (pg_->failed) return *pg_->failed;
      Status st = pg_->start();
      if (!st) return st.error();
    }
    return pg_->next();
  }
  if (bind_failed_) return pending_;
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error(db_, rc, "step");
}

Status Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r) {
      reset();
      return r.error();
    }
    if (!*r) break;
  }
  reset();
  return {};
}

void Stmt::reset() {
  if (pg_) {
    pg_->clear();
    std::fill(pg_->set.begin(), pg_->set.end(), 0);
    return;
  }
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
  bind_failed_ = false;
}

bool Stmt::is_null(int col) const {
  if (pg_) return !pg_->row || PQgetisnull(pg_->row, 0, col);
  return sqlite3_column_type(st_, col) == SQLITE_NULL;
}

int64_t Stmt::i64(int col) const {
  if (pg_) {
    if (is_null(col)) return 0;
    const char* v = PQgetvalue(pg_->row, 0, col);
    if (PQftype(pg_->row, col) == kBoolOid) return v[0] == 't';
    return std::strtoll(v, nullptr, 10);
  }
  return sqlite3_column_int64(st_, col);
}

std::string Stmt::text(int col) const {
  if (pg_) {
    if (is_null(col)) return {};
    const char* v = PQgetvalue(pg_->row, 0, col);
    size_t n = static_cast<size_t>(PQgetlength(pg_->row, 0, col));
    if (PQftype(pg_->row, col) != kByteaOid) return std::string(v, n);
    // bytea in text form: "\x" then two hex digits a byte (bytea_output = hex,
    // the default since PostgreSQL 9.0).
    if (n < 2 || v[0] != '\\' || v[1] != 'x') return {};
    auto bytes = crypto::from_hex(std::string_view(v + 2, n - 2));
    return bytes ? std::string(bytes->begin(), bytes->end()) : std::string();
  }
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

// ---- Tx ----

Result<Tx> Tx::begin(Db& db) {
  Status st = db.exec(db.backend() == Backend::postgres ? std::string("BEGIN; ") + kWriterLock : "BEGIN IMMEDIATE");
  if (!st) {
    if (db.backend() == Backend::postgres) (void)db.exec("ROLLBACK");
    return st.error();
  }
  return Tx(&db);
}

Result<Tx> Tx::begin_read(Db& db) {
  Status st = db.exec(db.backend() == Backend::postgres ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" : "BEGIN");
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
