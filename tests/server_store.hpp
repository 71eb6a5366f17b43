// Where a test's server store lives. The pg.* copies of the server tests run
// with HOSO_TEST_PG set (ctest starts a throwaway PostgreSQL for them, see
// tests/pg/pg.sh): each test then gets a database of its own, dropped after.
// Without it the store is an SQLite file in the test's folder.
#pragma once

#include <libpq-fe.h>
#include <sodium.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

namespace hoso::testing {

inline std::string pg_admin_url() {
  const char* u = std::getenv("HOSO_TEST_PG");
  return u && *u ? u : "";
}

// `url` with its database name replaced.
inline std::string pg_url_for(const std::string& url, const std::string& db) {
  size_t scheme = url.find("://");
  REQUIRE(scheme != std::string::npos);
  size_t path = url.find('/', scheme + 3), query = url.find('?', scheme + 3);
  std::string head = url.substr(0, path == std::string::npos || (query != std::string::npos && path > query) ? query : path);
  return head + "/" + db + (query == std::string::npos ? "" : url.substr(query));
}

inline void pg_admin(const std::string& sql) {
  PGconn* c = PQconnectdb(pg_admin_url().c_str());
  INFO(PQerrorMessage(c));
  REQUIRE(PQstatus(c) == CONNECTION_OK);
  PGresult* r = PQexec(c, sql.c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string err = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  INFO(sql << ": " << err);
  REQUIRE(ok);
}

struct ServerStore {
  std::string location, db;
  explicit ServerStore(const std::string& dir, const std::string& name = "server") {
    if (pg_admin_url().empty()) {
      location = dir + "/" + name + ".db";
      return;
    }
    unsigned char r[6];
    randombytes_buf(r, sizeof r);
    db = "t_" + name + "_";
    for (unsigned char b : r) db += "0123456789abcdef"[b >> 4], db += "0123456789abcdef"[b & 15];
    pg_admin("CREATE DATABASE " + db);
    location = pg_url_for(pg_admin_url(), db);
  }
  ~ServerStore() {
    if (db.empty()) return;
    PGconn* c = PQconnectdb(pg_admin_url().c_str());
    if (PQstatus(c) == CONNECTION_OK) PQclear(PQexec(c, ("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)").c_str()));
    PQfinish(c);
  }
  ServerStore(const ServerStore&) = delete;
  ServerStore& operator=(const ServerStore&) = delete;
  bool postgres() const { return !db.empty(); }
};

}  // namespace hoso::testing
