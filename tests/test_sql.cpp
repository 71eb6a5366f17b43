// engine::sql over SQLite: statements kept compiled between uses
// (StmtCache in engine/src/sql.cpp) must behave exactly like fresh ones.
#include <catch2/catch.hpp>

#include <string>

#include "hoso/engine/sql.hpp"

using namespace hoso::engine;

namespace {
sql::Db memory_db() {
  auto db = sql::Db::open(":memory:", true);
  REQUIRE(db);
  REQUIRE(db->exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES(1,'a'),(2,'b'),(3,'c');"));
  return std::move(*db);
}
std::string values_above(const sql::Db& db, int64_t k) {
  auto st = sql::Stmt::prepare(db, "SELECT v FROM t WHERE k > ? ORDER BY k");
  REQUIRE(st);
  st->bind(1, k);
  std::string out;
  for (;;) {
    auto row = st->step();
    REQUIRE(row);
    if (!*row) break;
    out += st->text(0);
  }
  return out;
}
}  // namespace

TEST_CASE("sql: a statement reused from the cache starts afresh, with no old bindings and no half-read rows", "[engine][sql]") {
  auto db = memory_db();
  CHECK(values_above(db, 0) == "abc");
  CHECK(values_above(db, 1) == "bc");  // the same SQL again: new binding honoured
  {
    // Abandoned after one row of three: the next user must see all rows.
    auto st = sql::Stmt::prepare(db, "SELECT v FROM t WHERE k > ? ORDER BY k");
    REQUIRE(st);
    st->bind(1, int64_t{0});
    auto row = st->step();
    REQUIRE(row);
    REQUIRE(*row);
    CHECK(st->text(0) == "a");
  }
  CHECK(values_above(db, 0) == "abc");
  {
    // Bound, never stepped: the binding does not leak into the next use,
    // where an unbound parameter is NULL (so no row is above it).
    auto st = sql::Stmt::prepare(db, "SELECT v FROM t WHERE k > ? ORDER BY k");
    REQUIRE(st);
    st->bind(1, int64_t{2});
  }
  {
    auto st = sql::Stmt::prepare(db, "SELECT v FROM t WHERE k > ? ORDER BY k");
    REQUIRE(st);
    auto row = st->step();
    REQUIRE(row);
    CHECK(!*row);
  }
}

TEST_CASE("sql: two live statements of the same SQL are independent, and writes show in a reused one", "[engine][sql]") {
  auto db = memory_db();
  auto a = sql::Stmt::prepare(db, "SELECT v FROM t WHERE k = ?");
  auto b = sql::Stmt::prepare(db, "SELECT v FROM t WHERE k = ?");
  REQUIRE(a);
  REQUIRE(b);
  a->bind(1, int64_t{1});
  b->bind(1, int64_t{3});
  auto ra = a->step(), rb = b->step();
  REQUIRE(ra);
  REQUIRE(rb);
  REQUIRE(*ra);
  REQUIRE(*rb);
  CHECK(a->text(0) == "a");
  CHECK(b->text(0) == "c");
  a->reset();
  b->reset();
  for (int i = 0; i < 3; ++i) {
    auto up = sql::Stmt::prepare(db, "UPDATE t SET v = v || 'x' WHERE k = 2");
    REQUIRE(up);
    REQUIRE(up->run());
  }
  CHECK(values_above(db, 1) == "bxxxc");
  auto tx = sql::Tx::begin(db);
  REQUIRE(tx);
  auto del = sql::Stmt::prepare(db, "DELETE FROM t WHERE k = ?");
  REQUIRE(del);
  REQUIRE(del->bind(1, int64_t{3}).run());
  // Dropped, not committed: the reused SELECT sees the rollback.
  { auto gone = std::move(*tx); }
  CHECK(values_above(db, 1) == "bxxxc");
}

TEST_CASE("sql: a statement may outlive its connection, and a moved connection keeps its statements", "[engine][sql]") {
  sql::Stmt late;
  {
    auto db = memory_db();
    CHECK(values_above(db, 2) == "c");  // one idle in the cache
    sql::Db moved = std::move(db);      // the cache moves with the connection
    CHECK(values_above(moved, 2) == "c");
    auto st = sql::Stmt::prepare(moved, "SELECT count(*) FROM t");
    REQUIRE(st);
    late = std::move(*st);
  }
  // The connection is gone: destroying `late` finalizes it (ASan and
  // SQLite's misuse checks would catch a statement given back to a dead cache).
  late = sql::Stmt();
  SUCCEED();
}

TEST_CASE("sql: a bad statement is still an error with SQLite's code, cached or not", "[engine][sql]") {
  auto db = memory_db();
  for (int i = 0; i < 2; ++i) {
    auto st = sql::Stmt::prepare(db, "SELECT nope FROM t");
    REQUIRE(!st);
    CHECK(st.error().message.find("no such column") != std::string::npos);
  }
  // A cached statement whose table was dropped fails at its step, with the reason.
  CHECK(values_above(db, 0) == "abc");
  REQUIRE(db.exec("DROP TABLE t; CREATE TABLE t(k INTEGER PRIMARY KEY, w TEXT);"));
  auto st = sql::Stmt::prepare(db, "SELECT v FROM t WHERE k > ? ORDER BY k");
  if (st) {
    auto row = st->step();
    REQUIRE(!row);
    CHECK(row.error().message.find("no such column") != std::string::npos);
  } else {
    CHECK(st.error().message.find("no such column") != std::string::npos);
  }
}

TEST_CASE("sql: an empty blob is stored as an empty blob, not NULL", "[engine][sql]") {
  auto db = sql::Db::open(":memory:", true);
  REQUIRE(db);
  REQUIRE(db->exec("CREATE TABLE b(k INTEGER PRIMARY KEY, v BLOB NOT NULL)"));
  auto ins = sql::Stmt::prepare(*db, "INSERT INTO b(k, v) VALUES(?, ?)");
  REQUIRE(ins);
  ins->bind(1, int64_t{1}).bind_blob(2, std::string_view());
  REQUIRE(ins->run());  // NOT NULL holds
  auto q = sql::Stmt::prepare(*db, "SELECT typeof(v), length(v) FROM b WHERE k = 1");
  REQUIRE(q);
  REQUIRE(*q->step());
  CHECK(q->text(0) == "blob");
  CHECK(q->i64(1) == 0);
}

TEST_CASE("sql: read_blob reads a slice of a blob in place, and refuses an offset beyond it", "[engine][sql]") {
  auto db = sql::Db::open(":memory:", true);
  REQUIRE(db);
  REQUIRE(db->exec("CREATE TABLE b(k INTEGER PRIMARY KEY, v BLOB NOT NULL)"));
  std::string big(300000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 % 251);
  auto ins = sql::Stmt::prepare(*db, "INSERT INTO b(k, v) VALUES(5, ?)");
  REQUIRE(ins);
  ins->bind_blob(1, big);
  REQUIRE(ins->run());
  auto mid = db->read_blob("b", "v", 5, 123457, 16384);
  REQUIRE(mid);
  CHECK(*mid == big.substr(123457, 16384));
  auto tail = db->read_blob("b", "v", 5, 299990, 16384);  // fewer at the end
  REQUIRE(tail);
  CHECK(*tail == big.substr(299990));
  auto end = db->read_blob("b", "v", 5, 300000, 10);
  REQUIRE(end);
  CHECK(end->empty());
  CHECK_FALSE(db->read_blob("b", "v", 5, 300001, 10));
  auto none = db->read_blob("b", "v", 6, 0, 10);
  REQUIRE_FALSE(none);
  CHECK(none.error().code == hoso::crypto::Errc::storage);
}
