#include "hoso/engine/store.hpp"

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <variant>

#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/file.hpp"

namespace hoso::engine {

using crypto::make_error;
using nlohmann::json;
using sql::Db;
using sql::Stmt;
using sql::Tx;

namespace {

// Each migration moves the schema from version i to i+1; never edit one that
// has shipped, add the next.
const char* const kMigrations[] = {
    R"SQL(
CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE items(id TEXT PRIMARY KEY, type TEXT NOT NULL, bytes BLOB NOT NULL, added_at INTEGER NOT NULL);
CREATE TABLE events(
  hash TEXT PRIMARY KEY, dossier TEXT NOT NULL, prev TEXT NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL,
  actor TEXT NOT NULL, action TEXT NOT NULL, step TEXT NOT NULL, at INTEGER NOT NULL,
  arrived_at INTEGER NOT NULL, quarantine TEXT, bytes BLOB NOT NULL, UNIQUE(device, seq));
CREATE INDEX events_by_dossier ON events(dossier);
CREATE TABLE devices(device TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE attachments(hash TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE dossiers(
  code TEXT PRIMARY KEY, unit TEXT NOT NULL, holder TEXT NOT NULL, procedure TEXT NOT NULL, version INTEGER NOT NULL,
  step TEXT NOT NULL, status TEXT NOT NULL, applicant TEXT NOT NULL, opened_at INTEGER NOT NULL,
  received_at INTEGER NOT NULL, due_at INTEGER, finished_at INTEGER, timeliness TEXT, state TEXT NOT NULL);
CREATE INDEX dossiers_by_status ON dossiers(status, due_at);
CREATE INDEX dossiers_by_due ON dossiers(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX dossiers_by_holder ON dossiers(holder, step);
CREATE INDEX dossiers_by_opened ON dossiers(opened_at);
)SQL",
    // 2: sync. Units that ever held a dossier (for the pull feed), devices
    // whose log is known to be complete from 1, and delivery receipts.
    R"SQL(
CREATE TABLE dossier_units(code TEXT NOT NULL, unit TEXT NOT NULL, PRIMARY KEY(code, unit)) WITHOUT ROWID;
CREATE INDEX dossier_units_by_unit ON dossier_units(unit);
INSERT OR IGNORE INTO dossier_units(code, unit) SELECT code, unit FROM dossiers;
INSERT OR IGNORE INTO dossier_units(code, unit) SELECT code, holder FROM dossiers;
ALTER TABLE devices ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
CREATE TABLE receipts(id INTEGER PRIMARY KEY, server_store TEXT NOT NULL, acked INTEGER NOT NULL, bytes BLOB NOT NULL, at INTEGER NOT NULL);
CREATE TABLE attachments_partial(hash TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE device_sync(device TEXT PRIMARY KEY, last_sync INTEGER NOT NULL, pending INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE attachment_refs(hash TEXT NOT NULL, dossier TEXT NOT NULL, PRIMARY KEY(hash, dossier)) WITHOUT ROWID;
CREATE TABLE equivocations(hash TEXT PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL, bytes BLOB NOT NULL, noted_at INTEGER NOT NULL);
)SQL",
    // 3: the feed position from which a unit holds a dossier, so a pull sends
    // a device only the new events of a dossier its unit held at its cursor,
    // and the whole chain of one its unit has just been given. Rows from
    // before are given today's end: a whole chain once more, never too little.
    // And attachments arrive in parts, one row per chunk, instead of a
    // partial copy rewritten at every chunk.
    R"SQL(
ALTER TABLE dossier_units ADD COLUMN since INTEGER NOT NULL DEFAULT 0;
UPDATE dossier_units SET since = (SELECT coalesce(max(rowid), 0) FROM events);
CREATE TABLE attachment_parts(hash TEXT NOT NULL, off INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(hash, off));
INSERT INTO attachment_parts(hash, off, data) SELECT hash, 0, data FROM attachments_partial WHERE length(data) > 0;
ALTER TABLE attachments_partial ADD COLUMN have INTEGER NOT NULL DEFAULT 0;
UPDATE attachments_partial SET have = length(data), data = X'';
)SQL",
};
constexpr int kMigrationCount = sizeof(kMigrations) / sizeof(kMigrations[0]);
static_assert(kMigrationCount == kSchemaVersion, "one migration per schema version");

// The same schema on PostgreSQL, version for version. `rowid` is spelled out
// (SQLite has it implicitly): an identity that grows in commit order because
// writers take turns (sql::Tx), which the pull feed's positions rely on.
// Text compares bytewise (COLLATE "C") so orders match SQLite's; the version
// stamp lives in hoso_schema, PostgreSQL having no application_id.
const char* const kPgMigrations[] = {
    R"SQL(
CREATE TABLE hoso_schema(application_id BIGINT NOT NULL, user_version BIGINT NOT NULL);
INSERT INTO hoso_schema VALUES(0, 0);
CREATE TABLE meta(key TEXT COLLATE "C" PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE items(rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE, id TEXT COLLATE "C" PRIMARY KEY,
  type TEXT COLLATE "C" NOT NULL, bytes BYTEA NOT NULL, added_at BIGINT NOT NULL);
CREATE TABLE events(rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  hash TEXT COLLATE "C" PRIMARY KEY, dossier TEXT COLLATE "C" NOT NULL, prev TEXT COLLATE "C" NOT NULL,
  device TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, actor TEXT COLLATE "C" NOT NULL, action TEXT COLLATE "C" NOT NULL,
  step TEXT COLLATE "C" NOT NULL, at BIGINT NOT NULL, arrived_at BIGINT NOT NULL, quarantine TEXT, bytes BYTEA NOT NULL,
  UNIQUE(device, seq));
CREATE INDEX events_by_dossier ON events(dossier);
CREATE TABLE devices(device TEXT COLLATE "C" PRIMARY KEY, seq BIGINT NOT NULL);
CREATE TABLE attachments(hash TEXT COLLATE "C" PRIMARY KEY, size BIGINT NOT NULL, data BYTEA NOT NULL);
CREATE TABLE dossiers(
  code TEXT COLLATE "C" PRIMARY KEY, unit TEXT COLLATE "C" NOT NULL, holder TEXT COLLATE "C" NOT NULL,
  procedure TEXT COLLATE "C" NOT NULL, version BIGINT NOT NULL, step TEXT COLLATE "C" NOT NULL,
  status TEXT COLLATE "C" NOT NULL, applicant TEXT COLLATE "C" NOT NULL, opened_at BIGINT NOT NULL,
  received_at BIGINT NOT NULL, due_at BIGINT, finished_at BIGINT, timeliness TEXT COLLATE "C", state TEXT NOT NULL);
CREATE INDEX dossiers_by_status ON dossiers(status, due_at);
CREATE INDEX dossiers_by_due ON dossiers(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX dossiers_by_holder ON dossiers(holder, step);
CREATE INDEX dossiers_by_opened ON dossiers(opened_at);
)SQL",
    R"SQL(
CREATE TABLE dossier_units(code TEXT COLLATE "C" NOT NULL, unit TEXT COLLATE "C" NOT NULL, PRIMARY KEY(code, unit));
CREATE INDEX dossier_units_by_unit ON dossier_units(unit);
INSERT INTO dossier_units(code, unit) SELECT code, unit FROM dossiers ON CONFLICT DO NOTHING;
INSERT INTO dossier_units(code, unit) SELECT code, holder FROM dossiers ON CONFLICT DO NOTHING;
ALTER TABLE devices ADD COLUMN complete BIGINT NOT NULL DEFAULT 1;
CREATE TABLE receipts(id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, server_store TEXT NOT NULL, acked BIGINT NOT NULL,
  bytes BYTEA NOT NULL, at BIGINT NOT NULL);
CREATE TABLE attachments_partial(hash TEXT COLLATE "C" PRIMARY KEY, size BIGINT NOT NULL, data BYTEA NOT NULL);
CREATE TABLE device_sync(device TEXT COLLATE "C" PRIMARY KEY, last_sync BIGINT NOT NULL, pending BIGINT NOT NULL);
CREATE TABLE attachment_refs(hash TEXT COLLATE "C" NOT NULL, dossier TEXT COLLATE "C" NOT NULL, PRIMARY KEY(hash, dossier));
CREATE TABLE equivocations(hash TEXT COLLATE "C" PRIMARY KEY, device TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL,
  bytes BYTEA NOT NULL, noted_at BIGINT NOT NULL);
)SQL",
    R"SQL(
ALTER TABLE dossier_units ADD COLUMN since BIGINT NOT NULL DEFAULT 0;
UPDATE dossier_units SET since = (SELECT coalesce(max(rowid), 0) FROM events);
CREATE TABLE attachment_parts(hash TEXT COLLATE "C" NOT NULL, off BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY(hash, off));
INSERT INTO attachment_parts(hash, off, data) SELECT hash, 0, data FROM attachments_partial WHERE length(data) > 0;
ALTER TABLE attachments_partial ADD COLUMN have BIGINT NOT NULL DEFAULT 0;
UPDATE attachments_partial SET have = length(data), data = ''::bytea;
-- Uncompressed out of line, so substr() of an attachment reads the slice only.
ALTER TABLE attachments ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE attachment_parts ALTER COLUMN data SET STORAGE EXTERNAL;
)SQL",
};
static_assert(sizeof(kPgMigrations) / sizeof(kPgMigrations[0]) == kSchemaVersion, "one migration per schema version");

bool is_pg(const Db& db) { return db.backend() == sql::Backend::postgres; }

// "units" as a table j(value) from a JSON array bound at parameter n.
std::string units_table(const Db& db, int n) {
  std::string p = "?" + std::to_string(n);
  return is_pg(db) ? "json_array_elements_text(CAST(" + p + " AS json)) AS j(value)" : "json_each(" + p + ") j";
}

// A value for insert_rows: NULL, an integer, text, or bytes.
struct Blob {
  std::string bytes;
};
using Value = std::variant<std::monostate, int64_t, std::string, Blob>;
using Row = std::vector<Value>;

// INSERT `head` VALUES (..),(..) `tail`, up to 64 rows a statement (chunks of
// a power of two, so few statement texts are compiled and cached): on
// PostgreSQL one round trip per 64 rows instead of one per row. Rows are
// inserted in order, so identity and rowid positions follow `rows`.
Status insert_rows(const Db& db, const std::string& head, const std::string& tail, const std::vector<Row>& rows) {
  size_t done = 0;
  while (done < rows.size()) {
    size_t n = 64;
    while (n > rows.size() - done) n /= 2;
    const size_t cols = rows[done].size();
    std::string sql = head + " VALUES ";
    for (size_t r = 0; r < n; ++r) {
      sql += r ? ",(" : "(";
      for (size_t c = 0; c < cols; ++c) sql += c ? ",?" : "?";
      sql += ")";
    }
    sql += tail;
    auto st = Stmt::prepare(db, sql);
    if (!st) return st.error();
    int i = 1;
    for (size_t r = done; r < done + n; ++r) {
      for (const auto& v : rows[r]) {
        if (auto* x = std::get_if<int64_t>(&v)) st->bind(i, *x);
        else if (auto* t = std::get_if<std::string>(&v)) st->bind(i, *t);
        else if (auto* b = std::get_if<Blob>(&v)) st->bind_blob(i, b->bytes);
        else st->bind_null(i);
        ++i;
      }
    }
    if (Status r = st->run(); !r) return r;
    done += n;
  }
  return {};
}

Result<int64_t> query_int(const Db& db, const std::string& sql) {
  auto st = Stmt::prepare(db, sql);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  return *row ? st->i64(0) : 0;
}

// (application_id, user_version) of a store, or (0, 0) for an empty database;
// Errc::bad_format for a database holding something else.
Result<std::pair<int64_t, int64_t>> schema_stamp(const Db& db, const std::string& where) {
  if (is_pg(db)) {
    auto has = query_int(db, "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'hoso_schema'");
    if (!has) return has.error();
    if (*has == 0) {
      auto tables = query_int(db, "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()");
      if (!tables) return tables.error();
      if (*tables != 0) return make_error(Errc::bad_format, where + " holds other tables, so it is not a hoso store (give hoso an empty database)");
      return std::pair<int64_t, int64_t>{0, 0};
    }
    auto st = Stmt::prepare(db, "SELECT application_id, user_version FROM hoso_schema");
    if (!st) return st.error();
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return make_error(Errc::bad_format, where + ": hoso_schema is empty");
    return std::pair<int64_t, int64_t>{st->i64(0), st->i64(1)};
  }
  auto app = query_int(db, "PRAGMA application_id");
  if (!app) return app.error();
  auto ver = query_int(db, "PRAGMA user_version");
  if (!ver) return ver.error();
  if (*app == 0) {
    auto tables = query_int(db, "SELECT count(*) FROM sqlite_master");
    if (!tables) return tables.error();
    if (*ver != 0 || *tables != 0) return make_error(Errc::bad_format, where + " is an SQLite database but not a hoso store");
  }
  return std::pair<int64_t, int64_t>{*app, *ver};
}

Status configure(Db& db) {
  if (is_pg(db)) return {};  // durable by default (synchronous_commit); see sql::Db::connect
  auto mode = Stmt::prepare(db, "PRAGMA journal_mode=WAL");
  if (!mode) return mode.error();
  auto r = mode->step();
  if (!r) return r.error();
  return db.exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
}

// Stamps a new store or migrates an old one, inside one write transaction
// (so two processes opening a new store at once do not both create it).
// `known`: the stamp the caller has just read, so a current store costs no
// second look (every command opens its store).
Status migrate(Db& db, const std::string& where, std::optional<std::pair<int64_t, int64_t>> known) {
  auto stamp = known ? Result<std::pair<int64_t, int64_t>>(*known) : schema_stamp(db, where);
  if (!stamp) return stamp.error();
  if (stamp->second == kSchemaVersion && stamp->first == kApplicationId) return {};
  auto tx = Tx::begin(db);
  if (!tx) return tx.error();
  stamp = schema_stamp(db, where);  // again, now that this writer holds the store
  if (!stamp) return stamp.error();
  auto [app, ver] = *stamp;
  if (app != 0 && app != kApplicationId) return make_error(Errc::bad_format, where + " is not a hoso store");
  if (ver > kSchemaVersion)
    return make_error(Errc::bad_format, where + " was made by a newer hoso (schema " + std::to_string(ver) + ")");
  if (ver == kSchemaVersion) return {};
  const char* const* steps = is_pg(db) ? kPgMigrations : kMigrations;
  for (int64_t v = ver; v < kSchemaVersion; ++v) {
    Status st = db.exec(steps[v]);
    if (!st) return st;
  }
  std::string a = std::to_string(kApplicationId), v = std::to_string(kSchemaVersion);
  Status st = db.exec(is_pg(db) ? "UPDATE hoso_schema SET application_id = " + a + ", user_version = " + v
                                : "PRAGMA application_id=" + a + "; PRAGMA user_version=" + v);
  if (!st) return st;
  return tx->commit();
}

std::string yymmdd(const std::string& iso_date) {
  return iso_date.size() == 10 ? iso_date.substr(2, 2) + iso_date.substr(5, 2) + iso_date.substr(8, 2) : "";
}

std::string b64(std::string_view data) {
  std::string out(sodium_base64_encoded_len(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Result<std::string> unb64(const std::string& s) {
  std::string out(s.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(), s.size(), nullptr, &len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return make_error(Errc::bad_format, "bad base64");
  out.resize(len);
  return out;
}

}  // namespace

// Two ed25519 verifications per event dominate ingest; they need only a
// (read-only) registry, so a batch checks them on every core before the
// sequential, transactional part, for the events no caller checked already.
// A failure is simply left unset: the sequential pass checks that event
// again and reports it in order.
// Runs work(i) for i in [0, n) on every core (at most 16 threads), or on
// this thread alone when there is too little to share.
template <class F>
static void on_every_core(size_t n, size_t todo, F work) {
  std::atomic<size_t> next{0};
  auto loop = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) work(i);
  };
  unsigned threads = std::max(1u, std::min(std::thread::hardware_concurrency(), 16u));
  std::vector<std::thread> pool;
  if (todo >= 32)
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(loop);
  loop();
  for (auto& t : pool) t.join();
}

// The batch's events parsed (null for what is not an event or does not
// parse), those already checked by the caller kept as they are.
static std::vector<std::shared_ptr<const Event>> parsed_events(const std::vector<Store::Incoming>& items) {
  std::vector<std::shared_ptr<const Event>> out(items.size());
  size_t todo = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].checked) out[i] = items[i].checked;
    else todo += items[i].item.type == kTypeEvent;
  }
  if (todo == 0) return out;
  on_every_core(items.size(), todo, [&](size_t i) {
    if (out[i] || items[i].item.type != kTypeEvent) return;
    auto ev = read_event(items[i].item);
    if (ev) out[i] = std::make_shared<const Event>(std::move(*ev));
  });
  return out;
}

// Both signatures of every parsed event not checked yet and not `known`
// (stored already: a duplicate is answered without its signatures, as it
// stores nothing), on every core. An event that fails is set to null, so
// ingest_event checks it again and reports why.
template <class Known>
static void verify_events(const std::vector<Store::Incoming>& items, std::vector<std::shared_ptr<const Event>>& evs,
                          const Registry& reg, Known known) {
  std::vector<char> todo(items.size(), 0);
  size_t n = 0;
  for (size_t i = 0; i < items.size(); ++i)
    if (evs[i] && !items[i].checked) {
      if (known(*evs[i])) evs[i].reset();
      else todo[i] = 1, ++n;
    }
  if (n == 0) return;
  on_every_core(items.size(), n, [&](size_t i) {
    if (todo[i] && !check_signatures(*evs[i], reg)) evs[i].reset();
  });
}

void Store::check_incoming(std::vector<Incoming>& items, const Registry& reg) {
  for (auto& in : items) {
    if (in.checked || in.item.type != kTypeEvent) continue;
    auto ev = read_event(in.item);
    if (ev && check_signatures(*ev, reg)) in.checked = std::make_shared<const Event>(std::move(*ev));
  }
}

struct Store::Impl {
  Db db;
  std::string path;
  // Shared with registry_snapshot()'s holders: never changed while shared
  // (ingest_root_item copies it first).
  std::shared_ptr<Registry> reg;
  std::map<std::string, std::string> meta;
  int64_t loaded_top = 0;  // highest items rowid the registry holds
  bool reg_touched = false;  // the registry learned an item in this call (undo: load())
  std::optional<std::pair<Event, int64_t>> flagged;  // an equivocation to record after the rollback

  void record_flagged() {
    if (!flagged) return;
    auto [ev, at] = std::move(*flagged);
    flagged.reset();
    auto st = Stmt::prepare(db, "INSERT INTO equivocations(hash, device, seq, bytes, noted_at) VALUES(?,?,?,?,?) ON CONFLICT DO NOTHING");
    if (!st) return;
    st->bind(1, ev.hash).bind(2, ev.body.device).bind(3, ev.body.seq).bind_blob(4, ev.item.bytes).bind(5, at);
    (void)st->run();
  }

  Status load() {
    Status ms = load_meta_keys();
    if (!ms) return ms;
    auto root = crypto::fixed_from_hex<32>(meta["root"]);
    if (!root) return make_error(Errc::bad_format, path + ": meta root: " + root.error().message);
    reg = std::make_shared<Registry>(*root);
    int64_t n = 0;
    auto it = Stmt::prepare(db, "SELECT id, bytes, rowid FROM items ORDER BY rowid");
    if (!it) return it.error();
    for (;;) {
      auto row = it->step();
      if (!row) return row.error();
      if (!*row) break;
      auto item = crypto::parse_item(it->text(1));
      if (!item) return make_error(Errc::bad_format, "items " + it->text(0).substr(0, 16) + ": " + item.error().message);
      Status st = reg->add(*item);
      if (!st) return make_error(st.error().code, "items " + it->text(0).substr(0, 16) + ": " + st.error().message);
      n = it->i64(2);
    }
    loaded_top = n;
    return {};
  }

  Status load_meta_keys() {
    meta.clear();
    auto m = Stmt::prepare(db, "SELECT key, value FROM meta");
    if (!m) return m.error();
    for (;;) {
      auto row = m->step();
      if (!row) return row.error();
      if (!*row) break;
      meta[m->text(0)] = m->text(1);
    }
    return {};
  }

  Status set_meta(const std::string& k, std::string_view v) {
    auto st = Stmt::prepare(db, "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!st) return st.error();
    st->bind(1, k).bind_blob(2, v);
    Status r = st->run();
    if (r) meta[k] = std::string(v);
    return r;
  }

  // The dossier_units rows of a projection: every unit that holds or held
  // it, from feed position `since` (a row already there keeps its own).
  static void unit_rows(const DossierState& s, int64_t since, std::vector<Row>& out) {
    std::set<std::string> units = {s.unit, s.holder};
    for (const auto& v : s.visits) units.insert(v.unit);
    for (const auto& u : units) out.push_back({s.code, u, since});
  }

  Result<int64_t> watermark(const std::string& device) const {
    auto st = Stmt::prepare(db, "SELECT seq FROM devices WHERE device = ?");
    if (!st) return st.error();
    st->bind(1, device);
    auto row = st->step();
    if (!row) return row.error();
    return *row ? st->i64(0) : 0;
  }

  // An event as stored (row `hash`, envelope `bytes`), parsed again.
  static Result<Event> stored_event(const std::string& hash, const std::string& bytes) {
    auto item = crypto::parse_item(bytes);
    if (!item) return make_error(Errc::bad_format, "events " + hash.substr(0, 16) + ": " + item.error().message);
    auto ev = read_event(*item);
    if (!ev) return make_error(Errc::bad_format, "events " + hash.substr(0, 16) + ": " + ev.error().message);
    return ev;
  }

  Result<DossierEvents> events_of(const std::string& code, bool with_quarantined = false) const {
    auto st = Stmt::prepare(db, with_quarantined ? "SELECT hash, bytes FROM events WHERE dossier = ?"
                                                 : "SELECT hash, bytes FROM events WHERE dossier = ? AND quarantine IS NULL");
    if (!st) return st.error();
    st->bind(1, code);
    DossierEvents out;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      auto ev = stored_event(st->text(0), st->text(1));
      if (!ev) return ev.error();
      out.emplace(ev->hash, std::move(*ev));
    }
    return out;
  }

  // The dossiers row of a projection.
  static Result<Row> projection_row(const DossierState& s) {
    auto state = crypto::canonical_json(state_json(s));
    if (!state) return state.error();
    auto opt = [](const std::optional<int64_t>& v) { return v ? Value(*v) : Value(); };
    auto opts = [](const std::optional<std::string>& v) { return v ? Value(*v) : Value(); };
    return Row{s.code, s.unit, s.holder, s.procedure, s.version, s.step, s.status, s.applicant,
               s.visits.empty() ? Value(s.received_at) : Value(s.visits.front().entered_at), s.received_at, opt(s.due_at),
               opt(s.finished_at), opts(s.timeliness), std::move(*state)};
  }

  // What one ingest call learns as it goes, inside its one transaction: each
  // touched dossier's applied events, parsed once, and its current state, so
  // an event that extends the current chain (nearly every event) is checked
  // and folded from that state instead of re-reading and re-folding the whole
  // chain; each device's watermark and the sequences taken in the range the
  // batch covers, so duplicates and equivocations are found without a query
  // per event. Event rows, projections and watermarks are written by flush(),
  // before the commit, in multi-row statements. It dies with the call, so a
  // rolled-back batch leaves nothing.
  struct Batch {
    struct Chain {
      DossierEvents events;
      std::optional<DossierState> current;  // fold_current(events); nullopt while empty
      bool dirty = false;                   // its projection must be written
    };
    std::map<std::string, Chain> dossiers;
    struct Mark {
      int64_t seq = 0;     // the watermark as of this point of the batch
      bool gap = false;    // an event of this batch did not follow on
      bool touched = false;
      int64_t lo = 1, hi = 0;  // every taken sequence in [lo, hi] is in `taken`
      std::map<int64_t, std::string> taken;  // sequence -> hash, stored or in this batch
    };
    std::map<std::string, Mark> devices;
    std::vector<Row> events;  // rows for the events table, in arrival order
    std::optional<Stmt> ref;
  };

  Status fold_into(Batch& b, const std::string& code, DossierEvents events) {
    Batch::Chain c;
    c.events = std::move(events);
    if (!c.events.empty()) {
      auto cur = fold_current(c.events, *reg);
      if (!cur) return make_error(Errc::internal, "dossier " + code + " as stored does not fold: " + cur.error().message);
      c.current = std::move(*cur);
    }
    b.dossiers.emplace(code, std::move(c));
    return {};
  }

  Result<Batch::Chain*> chain_of(Batch& b, const std::string& code) {
    auto it = b.dossiers.find(code);
    if (it != b.dossiers.end()) return &it->second;
    auto events = events_of(code);
    if (!events) return events.error();
    if (Status st = fold_into(b, code, std::move(*events)); !st) return st.error();
    return &b.dossiers.find(code)->second;
  }

  Result<Batch::Mark*> mark_of(Batch& b, const std::string& device) {
    auto it = b.devices.find(device);
    if (it != b.devices.end()) return &it->second;
    auto seq = watermark(device);
    if (!seq) return seq.error();
    Batch::Mark m;
    m.seq = *seq;
    return &b.devices.emplace(device, m).first->second;
  }

  // The hash of the event stored (or batched) at `device`'s sequence `seq`,
  // or "" if none: from the prefetched range, else one query.
  Result<std::string> slot(Batch::Mark& m, const std::string& device, int64_t seq) {
    if (auto t = m.taken.find(seq); t != m.taken.end()) return t->second;
    if (seq >= m.lo && seq <= m.hi) return std::string();
    auto q = Stmt::prepare(db, "SELECT hash FROM events WHERE device = ? AND seq = ?");
    if (!q) return q.error();
    q->bind(1, device).bind(2, seq);
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) return std::string();
    return m.taken[seq] = q->text(0);
  }

  // Loads, in a few queries, what the batch's events will ask for: each
  // device's watermark and taken sequences over the batch's range, and every
  // touched dossier's stored chain (one query for all of them).
  Status prefetch(Batch& b, const std::vector<const Event*>& evs) {
    std::map<std::string, std::pair<int64_t, int64_t>> ranges;
    std::set<std::string> codes;
    for (const Event* e : evs) {
      auto [r, fresh] = ranges.try_emplace(e->body.device, e->body.seq, e->body.seq);
      if (!fresh) r->second = {std::min(r->second.first, e->body.seq), std::max(r->second.second, e->body.seq)};
      if (!b.dossiers.count(e->body.dossier)) codes.insert(e->body.dossier);
    }
    auto q = Stmt::prepare(db, "SELECT seq, hash FROM events WHERE device = ? AND seq BETWEEN ? AND ?");
    if (!q) return q.error();
    for (const auto& [device, r] : ranges) {
      auto m = mark_of(b, device);
      if (!m) return m.error();
      if ((*m)->lo <= (*m)->hi) continue;  // already loaded by an earlier call
      q->bind(1, device).bind(2, r.first).bind(3, r.second);
      for (;;) {
        auto row = q->step();
        if (!row) return row.error();
        if (!*row) break;
        (*m)->taken[q->i64(0)] = q->text(1);
      }
      q->reset();
      (*m)->lo = r.first;
      (*m)->hi = r.second;
    }
    if (codes.empty()) return {};
    json list = json::array();
    for (const auto& c : codes) list.push_back(c);
    auto c = Stmt::prepare(db, "SELECT e.dossier, e.hash, e.bytes FROM events e, " + units_table(db, 1) +
                                   " WHERE e.dossier = j.value AND e.quarantine IS NULL");
    if (!c) return c.error();
    c->bind(1, list.dump());
    std::map<std::string, DossierEvents> got;
    for (;;) {
      auto row = c->step();
      if (!row) return row.error();
      if (!*row) break;
      auto ev = stored_event(c->text(1), c->text(2));
      if (!ev) return ev.error();
      got[c->text(0)].emplace(ev->hash, std::move(*ev));
    }
    for (const auto& code : codes)
      if (Status st = fold_into(b, code, std::move(got[code])); !st) return st;
    return {};
  }

  // Writes what the batch changed: its event rows, one projection per
  // dossier, one watermark per device (the highest sequence; complete only if
  // no event of the batch left a gap, and none ever did before).
  Status flush(Batch& b) {
    Status st = insert_rows(db, "INSERT INTO events(hash, dossier, prev, device, seq, actor, action, step, at, arrived_at, quarantine, bytes)",
                            "", b.events);
    if (!st) return st;
    b.events.clear();
    // The feed's end with this batch's events: a unit that gains a dossier
    // here holds it from there (its devices' cursors below it get the chain).
    auto end = query_int(db, "SELECT coalesce(max(rowid), 0) FROM events");
    if (!end) return end.error();
    std::vector<Row> projections, units;
    for (auto& [code, c] : b.dossiers) {
      if (!c.dirty) continue;
      auto row = projection_row(*c.current);
      if (!row) return row.error();
      projections.push_back(std::move(*row));
      unit_rows(*c.current, *end, units);
      c.dirty = false;
    }
    st = insert_rows(db,
                     "INSERT INTO dossiers(code, unit, holder, procedure, version, step, status, applicant, "
                     "opened_at, received_at, due_at, finished_at, timeliness, state)",
                     " ON CONFLICT(code) DO UPDATE SET unit = excluded.unit, "
                     "holder = excluded.holder, procedure = excluded.procedure, version = excluded.version, "
                     "step = excluded.step, status = excluded.status, applicant = excluded.applicant, "
                     "opened_at = excluded.opened_at, received_at = excluded.received_at, due_at = excluded.due_at, "
                     "finished_at = excluded.finished_at, timeliness = excluded.timeliness, state = excluded.state",
                     projections);
    if (!st) return st;
    st = insert_rows(db, "INSERT INTO dossier_units(code, unit, since)", " ON CONFLICT DO NOTHING", units);
    if (!st) return st;
    auto wm = Stmt::prepare(db,
                            "INSERT INTO devices(device, seq, complete) VALUES(?1, CASE WHEN ?2 > 0 THEN ?2 ELSE 0 END, ?3) "
                            "ON CONFLICT(device) DO UPDATE SET "
                            "seq = CASE WHEN excluded.seq > devices.seq THEN excluded.seq ELSE devices.seq END, "
                            "complete = CASE WHEN devices.complete = 1 AND excluded.complete = 1 THEN 1 ELSE 0 END");
    if (!wm) return wm.error();
    for (auto& [device, m] : b.devices) {
      if (!m.touched) continue;
      wm->bind(1, device).bind(2, m.seq).bind(3, int64_t{m.gap ? 0 : 1});
      if (Status r = wm->run(); !r) return r;
      m.touched = false;
    }
    return {};
  }

  // One event, inside the caller's transaction and batch (flush() writes its
  // row, projection and watermark).
  // `verified`: the item parsed, its signatures already checked against this
  // store's registry (a batch verifies them on every core first).
  Result<IngestResult> ingest_event(Batch& b, const crypto::SignedItem& item, int64_t arrived_at, bool contiguous = true,
                                    const Event* verified = nullptr) {
    auto ev = verified ? Result<Event>(*verified) : read_event(item);
    if (!ev) return ev.error();
    const bool sig_ok = verified != nullptr;
    IngestResult res{Outcome::applied, ev->hash, {}};
    auto mark = mark_of(b, ev->body.device);
    if (!mark) return mark.error();
    {
      auto taken = slot(**mark, ev->body.device, ev->body.seq);
      if (!taken) return taken.error();
      if (!taken->empty()) {
        if (*taken == ev->hash) return IngestResult{Outcome::duplicate, ev->hash, {}};
        // A correctly signed second event at a taken (device, sequence) is
        // evidence of a restored or cloned laptop: refused, but flagged.
        if (check_signatures(*ev, *reg)) flagged = std::make_pair(*ev, arrived_at);
        return make_error(Errc::conflict, "equivocation: device " + ev->body.device.substr(0, 16) + " already signed another event at sequence " +
                                              std::to_string(ev->body.seq));
      }
    }
    if (!sig_ok) {
      Status sig = check_signatures(*ev, *reg);
      if (!sig) return sig.error();
    }
    bool gap = ev->body.seq != (*mark)->seq + 1;
    if (gap && contiguous)
      return make_error(Errc::bad_format, "gap: device " + ev->body.device.substr(0, 16) + " is at sequence " + std::to_string((*mark)->seq) +
                                              ", this event has " + std::to_string(ev->body.seq));
    auto chain_r = chain_of(b, ev->body.dossier);
    if (!chain_r) return chain_r.error();
    Batch::Chain& chain = **chain_r;
    if (!contiguous && !ev->body.prev.empty() && !chain.events.count(ev->body.prev))
      return IngestResult{Outcome::deferred, ev->hash, "previous event not here yet"};
    // The common case: the event extends the current chain, judged from the
    // current state; a fork or a resolve folds again from the log.
    const bool extends = chain.current ? ev->body.prev == chain.current->head : ev->body.prev.empty();
    std::optional<DossierState> after;
    if (!ev->body.prev.empty() && !chain.events.count(ev->body.prev)) {
      // Built on an event this store does not hold (as applied): evidence,
      // but it cannot be judged; keep it quarantined.
      res.outcome = Outcome::quarantined;
      res.reason = "previous event " + ev->body.prev.substr(0, 16) + " is unknown or quarantined";
    } else {
      auto st = check_event(*ev, chain.events, *reg, arrived_at, extends && chain.current ? &*chain.current : nullptr);
      if (!st) {
        res.outcome = Outcome::quarantined;
        res.reason = st.error().message;
      } else {
        after = std::move(*st);
      }
    }
    const auto& body = ev->body;
    b.events.push_back(Row{ev->hash, body.dossier, body.prev, body.device, body.seq, body.actor, body.action, body.step, body.at,
                           arrived_at, res.outcome == Outcome::quarantined ? Value(res.reason) : Value(), Blob{item.bytes}});
    (*mark)->taken[body.seq] = ev->hash;
    Status st;
    // Which dossiers reference which attachments: a server hands an
    // attachment only to devices of units that hold or held its dossier.
    auto atts = body.attachments();
    if (!atts.empty()) {
      if (!b.ref) {
        auto ref = Stmt::prepare(db, "INSERT INTO attachment_refs(hash, dossier) VALUES(?, ?) ON CONFLICT DO NOTHING");
        if (!ref) return ref.error();
        b.ref.emplace(std::move(*ref));
      }
      for (const auto& a : atts) {
        b.ref->bind(1, a.hash).bind(2, body.dossier);
        if (!(st = b.ref->run())) return st.error();
      }
    }
    (*mark)->seq = std::max((*mark)->seq, body.seq);
    (*mark)->gap = (*mark)->gap || gap;
    (*mark)->touched = true;
    if (res.outcome == Outcome::applied) {
      const bool resolve = body.action == "resolve";  // may settle a fork: count them again
      const int64_t forks = chain.current ? chain.current->forks : 0;
      chain.events.emplace(ev->hash, std::move(*ev));
      if (extends && !resolve) {
        after->forks = forks;
        chain.current = std::move(*after);
      } else {
        auto state = fold_current(chain.events, *reg);
        if (!state) return make_error(Errc::internal, "fold after applying: " + state.error().message);
        chain.current = std::move(*state);
      }
      chain.dirty = true;
    }
    return res;
  }

  Result<IngestResult> ingest_root_item(const crypto::SignedItem& item, int64_t now) {
    auto q = Stmt::prepare(db, "SELECT 1 FROM items WHERE id = ?");
    if (!q) return q.error();
    q->bind(1, item.id_hex());
    auto row = q->step();
    if (!row) return row.error();
    if (*row) return IngestResult{Outcome::duplicate, item.id_hex(), {}};
    reg_touched = true;
    if (reg.use_count() > 1) reg = std::make_shared<Registry>(*reg);  // a snapshot holder keeps the old one
    Status st = reg->add(item);
    if (!st) return st.error();
    auto ins = Stmt::prepare(db, "INSERT INTO items(id, type, bytes, added_at) VALUES(?,?,?,?) RETURNING rowid");
    if (!ins) return ins.error();
    ins->bind(1, item.id_hex()).bind(2, item.type).bind_blob(3, item.bytes).bind(4, now);
    auto pos = ins->step();
    if (!pos) return pos.error();
    if (!*pos) return make_error(Errc::internal, "items: insert returned no position");
    loaded_top = ins->i64(0);
    ins->reset();
    return IngestResult{Outcome::applied, item.id_hex(), {}};
  }

  Status put_attachment(const std::string& data) {
    auto h = crypto::to_hex(crypto::blake2b256(crypto::as_bytes(data)));
    auto st = Stmt::prepare(db, "INSERT INTO attachments(hash, size, data) VALUES(?,?,?) ON CONFLICT DO NOTHING");
    if (!st) return st.error();
    st->bind(1, h).bind(2, static_cast<int64_t>(data.size())).bind_blob(3, data);
    return st->run();
  }

  Result<const Certificate*> device_cert() const {
    auto it = meta.find("device_cert");
    if (it == meta.end()) return make_error(Errc::invalid_argument, path + " is a server store; act on a laptop's store");
    const Certificate* c = reg->trust().certificate(it->second);
    if (!c) return make_error(Errc::internal, "the device certificate is missing from the store");
    return c;
  }

  // Signs and appends one locally made event after checking it completely.
  Result<DossierState> sign_and_append(EventBody body, const crypto::SigningKey& officer, const crypto::SigningKey& device,
                                       const std::vector<AttachmentFile>& files, int64_t now) {
    auto dc = device_cert();
    if (!dc) return dc.error();
    // SPEC §2 Restores: a laptop restored from an older copy may have signed
    // events after that copy was made; signing again before it has pulled them
    // back would put a second event at the same sequence (an equivocation).
    if (auto f = meta.find("must_pull_own"); f != meta.end() && f->second == "1")
      return make_error(Errc::conflict, "this laptop's store was restored from a backup: run hoso sync first, so it gets back "
                                        "the events it signed after the backup, then sign again");
    if (!(*dc)->pub || device.public_key() != *(*dc)->pub)
      return make_error(Errc::invalid_argument, "the device key does not match this store's device certificate");
    const Certificate* oc = reg->trust().find_by_key(officer.public_key(), CertKind::officer, now);
    if (!oc) return make_error(Errc::not_found, "no officer certificate for this key in the store (import it first)");
    body.actor = oc->id;
    body.device = (*dc)->id;
    body.at = now;
    auto tx = Tx::begin(db);
    if (!tx) return tx.error();
    Batch batch;
    auto mark = mark_of(batch, body.device);
    if (!mark) return mark.error();
    body.seq = (*mark)->seq + 1;
    auto chain = chain_of(batch, body.dossier);
    if (!chain) return chain.error();
    // Check before signing: nothing is signed that the store would refuse.
    Event draft{{}, body, {}};
    const DossierState* cur = (*chain)->current && (*chain)->current->head == body.prev ? &*(*chain)->current : nullptr;
    auto checked = check_event(draft, (*chain)->events, *reg, now, cur);
    if (!checked) return checked.error();
    auto ev = sign_event(body, officer, device);
    if (!ev) return ev.error();
    for (const auto& f : files) {
      Status st = put_attachment(f.data);
      if (!st) return st.error();
    }
    auto res = ingest_event(batch, ev->item, now);
    if (!res) return res.error();
    if (res->outcome != Outcome::applied)
      return make_error(Errc::internal, "a checked event was not applied: " + res->reason);
    Status st = flush(batch);
    if (!st) return st.error();
    st = tx->commit();
    if (!st) return st.error();
    // ingest_event folded it into the batch's chain (a copy of the state
    // per event would cost every server ingest for this one caller).
    return std::move(*(*chain)->current);
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

const Registry& Store::registry() const { return *impl_->reg; }
std::shared_ptr<const Registry> Store::registry_snapshot() const { return impl_->reg; }
Result<int64_t> Store::watermark(const std::string& device) const { return impl_->watermark(device); }
bool Store::is_device() const { return impl_->meta.count("device_cert") > 0; }
std::string Store::device_cert_id() const {
  auto it = impl_->meta.find("device_cert");
  return it == impl_->meta.end() ? std::string() : it->second;
}
std::string Store::meta(const std::string& key) const {
  auto it = impl_->meta.find(key);
  return it == impl_->meta.end() ? std::string() : it->second;
}

// How a store is named in messages: a PostgreSQL URL without its password.
static std::string display_name(const std::string& location) {
  if (!sql::is_postgres_url(location)) return location;
  std::string s = location;
  size_t scheme = s.find("://") + 3, at = s.find('@', scheme), colon = s.find(':', scheme);
  if (at != std::string::npos && colon != std::string::npos && colon < at) s.erase(colon, at - colon);
  for (size_t p; (p = s.find("password=")) != std::string::npos;) {
    size_t end = s.find('&', p);
    s.erase(p, end == std::string::npos ? std::string::npos : end - p + 1);
  }
  while (!s.empty() && (s.back() == '&' || s.back() == '?')) s.pop_back();
  return "PostgreSQL database " + s;
}

static Result<std::unique_ptr<Store::Impl>> open_impl(const std::string& location, bool create, bool write) {
  auto impl = std::make_unique<Store::Impl>();
  impl->path = display_name(location);
  bool pg = sql::is_postgres_url(location);
  auto db = pg ? Db::connect(location, !write) : Db::open(location, create, !write);
  if (!db) return db.error();
  impl->db = std::move(*db);
  std::optional<std::pair<int64_t, int64_t>> stamp;
  if (!create) {
    auto s = schema_stamp(impl->db, impl->path);
    if (!s) return s.error();
    if (s->first != kApplicationId)
      return pg ? make_error(Errc::not_found, "no hoso store in the " + impl->path + " (hoso serve --store or hoso publish --store creates one)")
                : make_error(Errc::bad_format, impl->path + " is not a hoso store");
    stamp = *s;
  }
  if (write) {
    Status st = configure(impl->db);
    if (!st) return st.error();
    if (!(st = migrate(impl->db, impl->path, stamp))) return st.error();
  }
  return impl;
}

Result<Store> Store::create_device(const std::string& path, const crypto::PublicKey& root,
                                   const crypto::SignedItem& device_cert, const std::string& device_key_file,
                                   const std::string& server) {
  auto cert = read_certificate(device_cert, root);
  if (!cert) return make_error(cert.error().code, "device certificate: " + cert.error().message);
  if (cert->kind != CertKind::device) return make_error(Errc::unauthorized, "the certificate is a " + std::string(cert_kind_name(cert->kind)) + "'s, not a device's");
  auto info = crypto::peek_key_file(crypto::as_bytes(device_key_file));
  if (!info) return make_error(info.error().code, "device key: " + info.error().message);
  if (!cert->pub || info->pub != *cert->pub)
    return make_error(Errc::invalid_argument, "the device key is not the key of the device certificate");
  if (sql::is_postgres_url(path)) return make_error(Errc::invalid_argument, "a laptop's store is an SQLite file, not PostgreSQL");
  if (::access(path.c_str(), F_OK) == 0) return make_error(Errc::conflict, path + " already exists");
  auto impl = open_impl(path, true, true);
  if (!impl) return impl.error();
  auto& I = **impl;
  auto tx = Tx::begin(I.db);
  if (!tx) return tx.error();
  uint8_t id[16];
  crypto::random_bytes(id, sizeof id);
  Status st = I.set_meta("root", crypto::to_hex(root));
  if (st) st = I.set_meta("store_id", crypto::to_hex(crypto::ByteView(id, sizeof id)));
  if (st) st = I.set_meta("device_cert", cert->id);
  if (st) st = I.set_meta("device_key", device_key_file);
  if (st) st = I.set_meta("server", server);
  if (!st) return st.error();
  I.reg = std::make_shared<Registry>(root);
  auto added = I.ingest_root_item(device_cert, cert->issued_at);
  if (!added) return added.error();
  if (!(st = tx->commit())) return st.error();
  return Store(std::move(*impl));
}

Result<Store> Store::open_server(const std::string& path, const crypto::PublicKey& root) {
  auto impl = open_impl(path, true, true);
  if (!impl) return impl.error();
  auto& I = **impl;
  Status st = I.load_meta_keys();
  if (!st) return st.error();
  if (I.meta.count("root") == 0) {
    auto tx = Tx::begin(I.db);
    if (!tx) return tx.error();
    uint8_t id[16];
    crypto::random_bytes(id, sizeof id);
    st = I.set_meta("root", crypto::to_hex(root));
    if (st) st = I.set_meta("store_id", crypto::to_hex(crypto::ByteView(id, sizeof id)));
    if (!st) return st.error();
    if (!(st = tx->commit())) return st.error();
  } else if (I.meta["root"] != crypto::to_hex(root)) {
    return make_error(Errc::unauthorized, I.path + " belongs to another province root");
  }
  if (!(st = I.load())) return st.error();
  return Store(std::move(*impl));
}

Result<Store> Store::open(const std::string& path, bool write) {
  if (!sql::is_postgres_url(path) && ::access(path.c_str(), F_OK) != 0)
    return make_error(Errc::not_found, "no store at " + path + " (run hoso init first)");
  auto impl = open_impl(path, false, write);
  if (!impl) return impl.error();
  Status st = (*impl)->load();
  if (!st) return st.error();
  return Store(std::move(*impl));
}

Result<std::vector<IngestResult>> Store::ingest(const std::vector<crypto::SignedItem>& items, int64_t arrived_at) {
  std::vector<Incoming> in;
  in.reserve(items.size());
  for (const auto& it : items) in.push_back({it, arrived_at, nullptr});
  return ingest(in, true);
}

// One batch inside the caller's transaction: its rows are written (flush)
// but not committed; on an error the caller rolls back what it wrote.
static Status ingest_one(Store::Impl& I, const std::vector<Store::Incoming>& items, bool contiguous, std::vector<IngestResult>& out);

// One batch is a group of one: the same savepoint, refusal and evidence
// path as a server's group commit, so the two cannot drift apart.
Result<std::vector<IngestResult>> Store::ingest(const std::vector<Incoming>& items, bool contiguous) {
  auto res = ingest_group({&items}, contiguous);
  return std::move(res.front());
}

std::vector<Result<std::vector<IngestResult>>> Store::ingest_group(const std::vector<const std::vector<Incoming>*>& batches,
                                                                   bool contiguous) {
  auto& I = *impl_;
  std::vector<Result<std::vector<IngestResult>>> res;
  res.reserve(batches.size());
  auto fail_all = [&](const crypto::Error& e) {
    res.clear();
    for (size_t k = 0; k < batches.size(); ++k) res.emplace_back(e);
    return res;
  };
  bool touched = false;  // the registry learned an item in a batch that stays
  Status st;
  {
    auto tx = Tx::begin(I.db);
    if (!tx) return fail_all(tx.error());
    for (const auto* items : batches) {
      I.flagged.reset();
      I.reg_touched = false;
      // Each batch in its own savepoint: a refused one is undone alone, and
      // the next sees exactly what the ones before it applied.
      if (!(st = I.db.exec("SAVEPOINT hoso_batch"))) break;
      std::vector<IngestResult> out;
      Status one = ingest_one(I, *items, contiguous, out);
      // Whatever happens next, a registry that learned something is
      // reloaded if the transaction does not commit.
      touched = touched || I.reg_touched;
      if (one) {
        if (!(st = I.db.exec("RELEASE SAVEPOINT hoso_batch"))) break;
        res.emplace_back(std::move(out));
        continue;
      }
      if (Status back = I.db.exec("ROLLBACK TO SAVEPOINT hoso_batch"); !back) {
        st = back;
        break;
      }
      if (Status rel = I.db.exec("RELEASE SAVEPOINT hoso_batch"); !rel) {
        st = rel;
        break;
      }
      // Refused: the registry forgets this batch's items (it reloads what
      // the transaction holds, the earlier batches' included; only when it
      // learned something, since reloading checks every item's signature
      // again, which a peer pushing bad batches must not cost), and an
      // equivocation's evidence is kept (it commits with the group).
      if (I.reg_touched) {
        Status reload = I.load();
        (void)reload;
      }
      I.record_flagged();
      res.emplace_back(one.error());
    }
    if (st) st = tx->commit();
  }  // rolled back here unless committed
  I.flagged.reset();
  if (!st) {
    if (touched) {
      Status reload = I.load();
      (void)reload;
    }
    return fail_all(st.error());
  }
  return res;
}

static Status ingest_one(Store::Impl& I, const std::vector<Store::Incoming>& items, bool contiguous, std::vector<IngestResult>& out) {
  Status st;
  // Root-signed items first, so events in the same batch can rely on them.
  std::vector<std::shared_ptr<const Event>> verified;
  Store::Impl::Batch batch;
  auto run = [&](bool events) -> Status {
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& in = items[i];
      const auto& it = in.item;
      if ((it.type == kTypeEvent) != events) continue;
      auto r = events ? I.ingest_event(batch, it, in.arrived_at, contiguous, verified[i].get()) : I.ingest_root_item(it, in.arrived_at);
      if (!r) return make_error(r.error().code, it.type + " " + it.id_hex().substr(0, 16) + ": " + r.error().message);
      out.push_back(*r);
    }
    return {};
  };
  st = run(false);
  if (st) {
    verified = parsed_events(items);
    std::vector<const Event*> evs;
    for (const auto& v : verified)
      if (v) evs.push_back(v.get());
    st = I.prefetch(batch, evs);
    // A pull hands a laptop whole chains, most of which it holds: only
    // what is new costs signature checks.
    if (st)
      verify_events(items, verified, *I.reg, [&](const Event& e) {
        auto m = batch.devices.find(e.body.device);
        if (m == batch.devices.end()) return false;
        auto t = m->second.taken.find(e.body.seq);
        return t != m->second.taken.end() && t->second == e.hash;
      });
  }
  if (st) st = run(true);
  if (st) st = I.flush(batch);
  return st;
}

Result<Store::Feed> Store::feed(const std::vector<std::string>& units, int64_t items_after, int64_t events_after, size_t max_bytes) const {
  const auto& I = *impl_;
  Feed f;
  f.items_pos = items_after;
  f.events_pos = events_after;
  size_t bytes = 0;
  {
    auto st = Stmt::prepare(I.db, "SELECT rowid, bytes, added_at FROM items WHERE rowid > ? ORDER BY rowid");
    if (!st) return st.error();
    st->bind(1, items_after);
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      if (bytes >= max_bytes) return f;  // more items wait for the next batch
      std::string b = st->text(1);
      bytes += b.size();
      f.entries.push_back({std::move(b), st->i64(2), false});
      f.items_pos = st->i64(0);
    }
  }
  // Each new event visible to these units, with the earliest position from
  // which one of them holds its dossier.
  auto st = Stmt::prepare(I.db,
                          "SELECT rowid, dossier, since FROM (SELECT e.rowid, e.dossier, (SELECT min(u.since) FROM dossier_units u, " +
                              units_table(I.db, 2) + " WHERE u.code = e.dossier AND u.unit = j.value) AS since "
                              "FROM events e WHERE e.rowid > ?1 AND e.quarantine IS NULL) x WHERE since IS NOT NULL ORDER BY rowid");
  if (!st) return st.error();
  st->bind(1, events_after).bind(2, json(units).dump());
  // A dossier these units held at the cursor: the device has its chain up
  // to the cursor (every pull since sent what was new), so only what follows.
  // One they have been given since: the whole chain, once.
  auto chain = Stmt::prepare(I.db, "SELECT hash, bytes, arrived_at, rowid FROM events WHERE dossier = ? AND quarantine IS NULL AND rowid > ? AND rowid <= ? ORDER BY rowid");
  if (!chain) return chain.error();
  auto refs = Stmt::prepare(I.db, "SELECT hash FROM attachment_refs WHERE dossier = ?");
  if (!refs) return refs.error();
  std::set<std::string> sent, atts;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) {
      f.done = true;
      break;
    }
    if (bytes >= max_bytes) break;
    int64_t pos = st->i64(0);
    chain->bind(1, st->text(1)).bind(2, st->i64(2) <= events_after ? events_after : int64_t{0}).bind(3, pos);
    for (;;) {
      auto c = chain->step();
      if (!c) return c.error();
      if (!*c) break;
      if (!sent.insert(chain->text(0)).second) continue;
      std::string b = chain->text(1);
      bytes += b.size();
      f.entries.push_back({std::move(b), chain->i64(2), true});
    }
    chain->reset();
    // The attachments these events reference, from the index kept on ingest
    // rather than by parsing every event again.
    refs->bind(1, st->text(1));
    for (;;) {
      auto r = refs->step();
      if (!r) return r.error();
      if (!*r) break;
      atts.insert(refs->text(0));
    }
    refs->reset();
    f.events_pos = pos;
  }
  f.attachments.assign(atts.begin(), atts.end());
  return f;
}

Result<sql::Tx> Store::read_snapshot() const { return Tx::begin_read(impl_->db); }

Result<std::string> Store::feed_anchor(int64_t items_pos, int64_t events_pos) const {
  auto st = Stmt::prepare(impl_->db, "SELECT (SELECT id FROM items WHERE rowid = ?1), (SELECT hash FROM events WHERE rowid = ?2)");
  if (!st) return st.error();
  st->bind(1, items_pos).bind(2, events_pos);
  auto row = st->step();
  if (!row) return row.error();
  return st->opt_text(0).value_or("") + ":" + st->opt_text(1).value_or("");
}

Result<std::pair<int64_t, int64_t>> Store::feed_end() const {
  auto st = Stmt::prepare(impl_->db, "SELECT (SELECT coalesce(max(rowid), 0) FROM items), (SELECT coalesce(max(rowid), 0) FROM events)");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  return std::pair<int64_t, int64_t>{st->i64(0), st->i64(1)};
}

Status Store::add_receipt(const std::string& server_store, int64_t acked, const std::string& receipt_bytes, int64_t at) {
  auto st = Stmt::prepare(impl_->db, "INSERT INTO receipts(server_store, acked, bytes, at) VALUES(?,?,?,?)");
  if (!st) return st.error();
  st->bind(1, server_store).bind(2, acked).bind_blob(3, receipt_bytes).bind(4, at);
  return st->run();
}

Result<std::optional<std::string>> Store::last_receipt() const {
  auto st = Stmt::prepare(impl_->db, "SELECT bytes FROM receipts ORDER BY id DESC LIMIT 1");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->text(0));
}

Result<std::pair<int64_t, int64_t>> Store::attachment_progress(const std::string& hash) const {
  auto st = Stmt::prepare(impl_->db, "SELECT size, size, 1 FROM attachments WHERE hash = ?1 UNION ALL SELECT have, size, 0 FROM attachments_partial WHERE hash = ?1");
  if (!st) return st.error();
  st->bind(1, hash);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::pair<int64_t, int64_t>{0, -1};
  return std::pair<int64_t, int64_t>{st->i64(0), st->i64(1)};
}

Result<int64_t> Store::put_attachment_chunk(const std::string& hash, int64_t size, int64_t offset, std::string_view data) {
  auto& I = *impl_;
  if (size < 0 || size > kMaxAttachment) return make_error(Errc::bad_format, "attachment size out of range");
  auto tx = Tx::begin(I.db);
  if (!tx) return tx.error();
  auto have = attachment_progress(hash);
  if (!have) return have.error();
  if (have->second >= 0 && have->first == have->second) return have->first;  // complete already
  if (offset != have->first) return make_error(Errc::bad_format, "attachment chunk at " + std::to_string(offset) + ", expected " + std::to_string(have->first));
  if (have->second >= 0 && have->second != size) return make_error(Errc::bad_format, "attachment size changed between chunks");
  if (offset + static_cast<int64_t>(data.size()) > size) return make_error(Errc::bad_format, "attachment chunk beyond its declared size");
  const int64_t have_now = offset + static_cast<int64_t>(data.size());
  auto forget = [&]() -> Status {
    for (const char* sql : {"DELETE FROM attachment_parts WHERE hash = ?", "DELETE FROM attachments_partial WHERE hash = ?"}) {
      auto del = Stmt::prepare(I.db, sql);
      if (!del) return del.error();
      del->bind(1, hash);
      if (Status st = del->run(); !st) return st;
    }
    return {};
  };
  Status st;
  if (have_now == size) {
    // The last chunk: the parts in order, once, then checked against the hash.
    std::string all;
    all.reserve(static_cast<size_t>(size));
    auto q = Stmt::prepare(I.db, "SELECT data FROM attachment_parts WHERE hash = ? ORDER BY off");
    if (!q) return q.error();
    q->bind(1, hash);
    for (;;) {
      auto row = q->step();
      if (!row) return row.error();
      if (!*row) break;
      all += q->text(0);
    }
    q->reset();
    all.append(data);
    if (static_cast<int64_t>(all.size()) != size) return make_error(Errc::internal, "attachment " + hash.substr(0, 16) + ": its parts do not add up");
    if (crypto::to_hex(crypto::blake2b256(crypto::as_bytes(all))) != hash) {
      if (forget()) (void)tx->commit();
      return make_error(Errc::bad_format, "attachment " + hash.substr(0, 16) + ": content does not match its hash (discarded)");
    }
    st = I.put_attachment(all);
    if (st) st = forget();
  } else if (!data.empty()) {
    auto part = Stmt::prepare(I.db, "INSERT INTO attachment_parts(hash, off, data) VALUES(?,?,?)");
    if (!part) return part.error();
    part->bind(1, hash).bind(2, offset).bind_blob(3, data);
    st = part->run();
    auto up = Stmt::prepare(I.db, "INSERT INTO attachments_partial(hash, size, data, have) VALUES(?,?,?,?) "
                             "ON CONFLICT(hash) DO UPDATE SET size = excluded.size, have = excluded.have");
    if (!up) return up.error();
    up->bind(1, hash).bind(2, size).bind_blob(3, std::string_view()).bind(4, have_now);
    if (st) st = up->run();
  }
  if (st) st = tx->commit();
  if (!st) return st.error();
  return have_now;
}

Result<std::pair<int64_t, std::string>> Store::attachment_slice(const std::string& hash, int64_t offset, size_t max) const {
  const auto& I = *impl_;
  if (offset < 0) return make_error(Errc::invalid_argument, "attachment offset below 0");
  if (is_pg(I.db)) {
    auto st = Stmt::prepare(I.db, "SELECT size, substr(data, CAST(? AS integer), CAST(? AS integer)) FROM attachments WHERE hash = ?");
    if (!st) return st.error();
    st->bind(1, offset + 1).bind(2, static_cast<int64_t>(max)).bind(3, hash);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return make_error(Errc::not_found, "attachment " + hash.substr(0, 16) + " is not in this store");
    int64_t size = st->i64(0);
    if (offset > size) return make_error(Errc::invalid_argument, "attachment offset beyond its size");
    return std::make_pair(size, st->text(1));
  }
  auto st = Stmt::prepare(I.db, "SELECT rowid, size FROM attachments WHERE hash = ?");
  if (!st) return st.error();
  st->bind(1, hash);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(Errc::not_found, "attachment " + hash.substr(0, 16) + " is not in this store");
  int64_t rowid = st->i64(0), size = st->i64(1);
  st->reset();
  if (offset > size) return make_error(Errc::invalid_argument, "attachment offset beyond its size");
  auto bytes = I.db.read_blob("attachments", "data", rowid, offset, max);
  if (!bytes) return bytes.error();
  return std::make_pair(size, std::move(*bytes));
}

Result<std::vector<std::string>> Store::missing_attachments(const std::vector<std::string>& hashes) const {
  std::vector<std::string> out;
  for (const auto& h : hashes) {
    auto p = attachment_progress(h);
    if (!p) return p.error();
    if (p->second < 0 || p->first != p->second) out.push_back(h);
  }
  return out;
}

Result<std::vector<std::string>> Store::referenced_attachments(const std::string& device, int64_t after) const {
  auto log = device_log(device, after, 1u << 30);
  if (!log) return log.error();
  std::set<std::string> hs;
  for (const auto& item : *log) {
    auto ev = read_event(item);
    if (ev)
      for (const auto& a : ev->body.attachments()) hs.insert(a.hash);
  }
  return std::vector<std::string>(hs.begin(), hs.end());
}

Status Store::refresh() {
  // Items are only ever appended: the highest rowid tells whether another
  // process added some, at the cost of one index lookup (this runs per message).
  auto st = Stmt::prepare(impl_->db, "SELECT coalesce(max(rowid), 0) FROM items");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (st->i64(0) == impl_->loaded_top) return {};
  return impl_->load();
}

Status Store::note_sync(const std::string& device, int64_t at, int64_t pending) {
  auto st = Stmt::prepare(impl_->db, "INSERT INTO device_sync(device, last_sync, pending) VALUES(?,?,?) "
                          "ON CONFLICT(device) DO UPDATE SET last_sync = excluded.last_sync, pending = excluded.pending");
  if (!st) return st.error();
  st->bind(1, device).bind(2, at).bind(3, pending);
  return st->run();
}

Result<json> Store::devices_report() const {
  auto st = Stmt::prepare(impl_->db,
                          "SELECT d.device, d.seq, s.last_sync, s.pending FROM devices d LEFT JOIN device_sync s ON s.device = d.device "
                          "UNION SELECT s.device, 0, s.last_sync, s.pending FROM device_sync s WHERE s.device NOT IN (SELECT device FROM devices) "
                          "ORDER BY 1");
  if (!st) return st.error();
  json out = json::array();
  const auto& trust = impl_->reg->trust();
  const auto& cal = impl_->reg->calendar();
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    const Certificate* c = trust.certificate(st->text(0));
    if (c && c->kind != CertKind::device) continue;
    auto last = st->opt_i64(2);
    out.push_back({{"device", st->text(0)}, {"name", c ? c->name : ""}, {"unit", c ? c->unit : ""}, {"acked", st->i64(1)},
                   {"pending", st->opt_i64(3) ? json(*st->opt_i64(3)) : json()},
                   {"last_sync", last ? json(cal.utc_offset_minutes() ? cal.iso(*last) : utc_iso(*last)) : json()}});
  }
  return out;
}

Result<bool> Store::attachment_referenced(const std::string& hash, const std::vector<std::string>* units) const {
  auto st = units ? Stmt::prepare(impl_->db,
                                  "SELECT 1 FROM attachment_refs r JOIN dossier_units u ON u.code = r.dossier, " +
                                      units_table(impl_->db, 2) + " WHERE r.hash = ?1 AND u.unit = j.value LIMIT 1")
                  : Stmt::prepare(impl_->db, "SELECT 1 FROM attachment_refs WHERE hash = ?1 LIMIT 1");
  if (!st) return st.error();
  st->bind(1, hash);
  if (units) st->bind(2, json(*units).dump());
  auto row = st->step();
  if (!row) return row.error();
  return *row;
}

Result<bool> Store::attachment_referenced_by(const std::string& hash, const std::string& device,
                                             const std::vector<std::string>& units) const {
  auto scoped = attachment_referenced(hash, &units);
  if (!scoped || *scoped) return scoped;
  // The device's own events, quarantined ones included: it uploads what they
  // reference, and must learn how much of it is already here.
  auto st = Stmt::prepare(impl_->db,
                          "SELECT 1 FROM attachment_refs r JOIN events e ON e.dossier = r.dossier "
                          "WHERE r.hash = ?1 AND e.device = ?2 LIMIT 1");
  if (!st) return st.error();
  st->bind(1, hash).bind(2, device);
  auto row = st->step();
  if (!row) return row.error();
  return *row;
}

Status Store::set_meta_value(const std::string& key, const std::string& value) { return impl_->set_meta(key, value); }

Status Store::add_attachment(const std::string& data, const std::string& expected_hash) {
  if (crypto::to_hex(crypto::blake2b256(crypto::as_bytes(data))) != expected_hash)
    return make_error(Errc::bad_format, "attachment content does not match its hash " + expected_hash.substr(0, 16));
  return impl_->put_attachment(data);
}

Result<DossierState> Store::receive(const crypto::SigningKey& officer, const crypto::SigningKey& device,
                                    const ReceiveRequest& req, int64_t now) {
  auto& I = *impl_;
  auto dc = I.device_cert();
  if (!dc) return dc.error();
  const Certificate* oc = I.reg->trust().find_by_key(officer.public_key(), CertKind::officer, now);
  if (!oc) return make_error(Errc::not_found, "no officer certificate for this key in the store (import it first)");
  auto proc = I.reg->latest(req.procedure);
  if (!proc) return proc.error();
  if (!I.reg->calendar().has_year(std::stoll(I.reg->calendar().local_date(now).substr(0, 4))))
    return make_error(Errc::not_found, "no calendar for year " + I.reg->calendar().local_date(now).substr(0, 4) + " (import the signed calendar)");
  std::string prefix = oc->unit + "-" + yymmdd(I.reg->calendar().local_date(now)) + "-";
  int64_t slot = (*dc)->slot.value_or(0);
  int64_t next = slot == 0 ? 1 : slot * 1000;
  {
    // The day's codes as a range of events_by_dossier (a laptop's store is
    // SQLite, whose default collation compares bytes): a substr() filter
    // scanned every event, and receiving grew with the store (5.7 ms at 30,000
    // dossiers against 0.8 ms at 2,000, bench_engine).
    std::string upper = prefix;
    upper.back() = static_cast<char>(upper.back() + 1);
    auto q = Stmt::prepare(I.db, "SELECT dossier FROM events WHERE dossier >= ?1 AND dossier < ?2 AND action = 'receive'");
    if (!q) return q.error();
    q->bind(1, prefix).bind(2, upper);
    for (;;) {
      auto row = q->step();
      if (!row) return row.error();
      if (!*row) break;
      std::string code = q->text(0);
      if (code.size() != prefix.size() + 4) continue;
      int64_t n = std::atoll(code.c_str() + prefix.size());
      if (slot_owns(slot, n)) next = std::max(next, n + 1);
    }
  }
  if (!slot_owns(slot, next))
    return make_error(Errc::conflict, "desk slot " + std::to_string(slot) + " has used all its dossier numbers for " +
                                          I.reg->calendar().local_date(now));
  EventBody body;
  body.dossier = dossier_code(oc->unit, prefix.substr(oc->unit.size() + 1, 6), next);
  body.action = "receive";
  body.step = (*proc)->start;
  json atts = json::array();
  for (const auto& f : req.attachments)
    atts.push_back({{"name", f.name}, {"hash", crypto::to_hex(crypto::blake2b256(crypto::as_bytes(f.data)))}, {"size", static_cast<int64_t>(f.data.size())}});
  body.payload = {{"procedure", (*proc)->code}, {"version", (*proc)->version}, {"unit", oc->unit},
                  {"applicant", req.applicant}, {"fields", req.fields}};
  if (!atts.empty()) body.payload["attachments"] = atts;
  return I.sign_and_append(std::move(body), officer, device, req.attachments, now);
}

Result<DossierState> Store::act(const crypto::SigningKey& officer, const crypto::SigningKey& device, const ActRequest& req,
                                int64_t now) {
  auto& I = *impl_;
  if (req.action == "receive") return make_error(Errc::invalid_argument, "use hoso receive to open a dossier");
  auto events = I.events_of(req.dossier);
  if (!events) return events.error();
  if (events->empty()) return make_error(Errc::not_found, "no dossier " + req.dossier + " in this store");
  auto cur = fold_current(*events, *I.reg);
  if (!cur) return cur.error();
  EventBody body;
  body.dossier = req.dossier;
  body.prev = cur->head;
  body.action = req.action;
  body.step = cur->step;
  if (!req.note.empty()) body.payload["note"] = req.note;
  if (!req.fields.empty()) body.payload["fields"] = req.fields;
  if (req.until) body.payload["until"] = *req.until;
  if (req.keep) body.payload["keep"] = *req.keep;
  json atts = json::array();
  for (const auto& f : req.attachments)
    atts.push_back({{"name", f.name}, {"hash", crypto::to_hex(crypto::blake2b256(crypto::as_bytes(f.data)))}, {"size", static_cast<int64_t>(f.data.size())}});
  if (!atts.empty()) body.payload["attachments"] = atts;
  return I.sign_and_append(std::move(body), officer, device, req.attachments, now);
}

Result<DossierEvents> Store::events_of(const std::string& code) const { return impl_->events_of(code); }

Result<DossierState> Store::dossier(const std::string& code) const {
  auto events = impl_->events_of(code);
  if (!events) return events.error();
  if (events->empty()) return make_error(Errc::not_found, "no dossier " + code + " in this store");
  return fold_current(*events, *impl_->reg);
}

Result<std::vector<DossierState>> Store::list(const ListFilter& f, int64_t now) const {
  // Only the filters given take parameters, numbered in order (PostgreSQL
  // cannot type a parameter that no clause uses).
  std::string q = "SELECT code, procedure, version, unit, holder, step, status, applicant, received_at, due_at, timeliness FROM dossiers WHERE 1 = 1";
  int n = 0;
  if (f.status) q += " AND status = ?" + std::to_string(++n);
  if (f.overdue) q += " AND due_at IS NOT NULL AND due_at < ?" + std::to_string(++n) + " AND status NOT IN ('returned','rejected','withdrawn')";
  if (f.holder) q += " AND holder = ?" + std::to_string(++n);
  q += " ORDER BY code";
  auto st = Stmt::prepare(impl_->db, q);
  if (!st) return st.error();
  n = 0;
  if (f.status) st->bind(++n, *f.status);
  if (f.overdue) st->bind(++n, now);
  if (f.holder) st->bind(++n, *f.holder);
  std::vector<DossierState> out;
  std::map<std::string, const Procedure*> procs;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    DossierState s;
    s.code = st->text(0);
    s.procedure = st->text(1);
    s.version = st->i64(2);
    s.unit = st->text(3);
    s.holder = st->text(4);
    s.step = st->text(5);
    s.status = st->text(6);
    s.applicant = st->text(7);
    s.received_at = st->i64(8);
    s.due_at = st->opt_i64(9);
    s.timeliness = st->opt_text(10);
    if (!f.roles.empty()) {
      // --mine: the steps whose role the officer has (withdraw aside).
      auto p = impl_->reg->procedure(s.procedure, s.version);
      if (!p || !(*p)->steps.count(s.step)) continue;
      const std::string& role = (*p)->steps.at(s.step).role;
      if (std::find(f.roles.begin(), f.roles.end(), role) == f.roles.end()) continue;
      if (s.finished()) continue;
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::string> Store::device_key_file() const {
  auto it = impl_->meta.find("device_key");
  if (it == impl_->meta.end()) return make_error(Errc::invalid_argument, "this store has no device key (a server store)");
  return it->second;
}

Result<std::string> Store::attachment(const std::string& hash) const {
  auto st = Stmt::prepare(impl_->db, "SELECT data FROM attachments WHERE hash = ?");
  if (!st) return st.error();
  st->bind(1, hash);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(Errc::not_found, "attachment " + hash.substr(0, 16) + " is not in this store");
  return st->text(0);
}

Result<std::vector<crypto::SignedItem>> Store::device_log(const std::string& device, int64_t after, size_t limit,
                                                          std::vector<int64_t>* arrived) const {
  auto st = Stmt::prepare(impl_->db, "SELECT bytes, arrived_at FROM events WHERE device = ? AND seq > ? ORDER BY seq LIMIT ?");
  if (!st) return st.error();
  st->bind(1, device).bind(2, after).bind(3, static_cast<int64_t>(limit));
  std::vector<crypto::SignedItem> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto item = crypto::parse_item(st->text(0));
    if (!item) return make_error(Errc::bad_format, "events: " + item.error().message);
    out.push_back(std::move(*item));
    if (arrived) arrived->push_back(st->i64(1));
  }
  return out;
}

Result<std::map<std::string, int64_t>> Store::watermarks() const {
  auto st = Stmt::prepare(impl_->db, "SELECT device, seq FROM devices");
  if (!st) return st.error();
  std::map<std::string, int64_t> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out[st->text(0)] = st->i64(1);
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> Store::quarantine() const {
  auto st = Stmt::prepare(impl_->db, "SELECT hash, quarantine FROM events WHERE quarantine IS NOT NULL ORDER BY rowid");
  if (!st) return st.error();
  std::vector<std::pair<std::string, std::string>> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.emplace_back(st->text(0), st->text(1));
  }
  return out;
}

VerifyReport Store::verify() const {
  const auto& I = *impl_;
  VerifyReport rep;
  auto err = [&](std::string m) { rep.errors.push_back(std::move(m)); };
  // 1. Root-signed items: bytes, ids, signatures.
  Registry reg(I.reg->trust().root());
  {
    auto st = Stmt::prepare(I.db, "SELECT id, type, bytes FROM items ORDER BY rowid");
    if (!st) { err(st.error().message); return rep; }
    for (;;) {
      auto row = st->step();
      if (!row) { err(row.error().message); return rep; }
      if (!*row) break;
      std::string id = st->text(0);
      auto item = crypto::parse_item(st->text(2));
      if (!item) { err("items " + id.substr(0, 16) + ": " + item.error().message); continue; }
      if (item->id_hex() != id) { err("items " + id.substr(0, 16) + ": stored bytes do not hash to the item's id"); continue; }
      if (item->type != st->text(1)) { err("items " + id.substr(0, 16) + ": type column differs from the signed type"); continue; }
      Status a = reg.add(*item);
      if (!a) err("items " + id.substr(0, 16) + ": " + a.error().message);
    }
  }
  // 2. Events: bytes, columns, signatures, per-device sequences; then each
  //    dossier re-judged and re-folded from its log.
  std::map<std::string, DossierEvents> by_dossier;
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> seqs;  // device -> (seq, at)
  {
    auto st = Stmt::prepare(I.db, "SELECT hash, dossier, prev, device, seq, actor, action, step, at, arrived_at, quarantine, bytes FROM events ORDER BY rowid");
    if (!st) { err(st.error().message); return rep; }
    std::vector<std::pair<Event, int64_t>> applied;
    for (;;) {
      auto row = st->step();
      if (!row) { err(row.error().message); return rep; }
      if (!*row) break;
      ++rep.checked;
      std::string h = st->text(0);
      std::string name = "events " + h.substr(0, 16);
      auto item = crypto::parse_item(st->text(11));
      if (!item) { err(name + ": " + item.error().message); continue; }
      if (item->id_hex() != h) { err(name + ": stored bytes do not hash to the event's id"); continue; }
      auto ev = read_event(*item);
      if (!ev) { err(name + ": " + ev.error().message); continue; }
      const auto& b = ev->body;
      if (b.dossier != st->text(1) || b.prev != st->text(2) || b.device != st->text(3) || b.seq != st->i64(4) ||
          b.actor != st->text(5) || b.action != st->text(6) || b.step != st->text(7) || b.at != st->i64(8)) {
        err(name + ": columns differ from the signed event");
        continue;
      }
      Status sig = check_signatures(*ev, reg);
      if (!sig) { err(name + ": " + sig.error().message); continue; }
      seqs[b.device].push_back({b.seq, b.at});
      if (st->is_null(10)) applied.push_back({std::move(*ev), st->i64(9)});
    }
    for (auto& [ev, arrived] : applied) {
      auto& events = by_dossier[ev.body.dossier];
      auto checked = check_event(ev, events, reg, arrived);
      if (!checked) err("events " + ev.hash.substr(0, 16) + ": applied but fails its checks: " + checked.error().message);
      events.emplace(ev.hash, std::move(ev));
    }
  }
  std::set<std::string> partial;  // devices whose log this store holds with gaps (pulled)
  {
    auto st = Stmt::prepare(I.db, "SELECT device FROM devices WHERE complete = 0");
    if (st)
      for (;;) {
        auto row = st->step();
        if (!row || !*row) break;
        partial.insert(st->text(0));
      }
  }
  for (auto& [device, list] : seqs) {
    std::sort(list.begin(), list.end());
    for (size_t i = 0; i < list.size(); ++i) {
      if (!partial.count(device) && list[i].first != static_cast<int64_t>(i) + 1) {
        err("events: device " + device.substr(0, 16) + " has a gap before sequence " + std::to_string(list[i].first));
        break;
      }
      if (i > 0 && list[i].second < list[i - 1].second)
        rep.warnings.push_back("device " + device.substr(0, 16) + ": clock set back at sequence " + std::to_string(list[i].first));
    }
  }
  {
    auto st = Stmt::prepare(I.db, "SELECT device, seq FROM devices");
    if (st) {
      std::set<std::string> seen;
      for (;;) {
        auto row = st->step();
        if (!row || !*row) break;
        std::string d = st->text(0);
        seen.insert(d);
        int64_t expect = !seqs.count(d) ? 0 : partial.count(d) ? seqs[d].back().first : static_cast<int64_t>(seqs[d].size());
        if (st->i64(1) != expect) err("devices " + d.substr(0, 16) + ": watermark " + std::to_string(st->i64(1)) + " but the log holds " + std::to_string(expect));
      }
      for (const auto& [d, l] : seqs)
        if (!seen.count(d)) err("devices " + d.substr(0, 16) + ": missing watermark");
    }
  }
  // 3. Projections rebuilt from the log.
  {
    auto st = Stmt::prepare(I.db, "SELECT code, unit, holder, procedure, version, step, status, applicant, opened_at, received_at, due_at, finished_at, timeliness, state FROM dossiers");
    std::set<std::string> seen;
    if (st) {
      for (;;) {
        auto row = st->step();
        if (!row || !*row) break;
        std::string code = st->text(0);
        seen.insert(code);
        auto it = by_dossier.find(code);
        if (it == by_dossier.end()) { err("dossiers " + code + ": no events in the log"); continue; }
        auto s = fold_current(it->second, reg);
        if (!s) { err("dossiers " + code + ": " + s.error().message); continue; }
        auto want = crypto::canonical_json(state_json(*s));
        int64_t opened = s->visits.empty() ? s->received_at : s->visits.front().entered_at;
        bool same = want && *want == st->text(13) && s->unit == st->text(1) && s->holder == st->text(2) &&
                    s->procedure == st->text(3) && s->version == st->i64(4) && s->step == st->text(5) &&
                    s->status == st->text(6) && s->applicant == st->text(7) && opened == st->i64(8) &&
                    s->received_at == st->i64(9) && s->due_at == st->opt_i64(10) && s->finished_at == st->opt_i64(11) &&
                    s->timeliness == st->opt_text(12);
        if (!same) err("dossiers " + code + ": projection differs from the state rebuilt from the log");
      }
    }
    for (const auto& [code, events] : by_dossier)
      if (!seen.count(code)) err("dossiers " + code + ": missing projection");
  }
  // 4. Attachments: content matches its address.
  {
    auto st = Stmt::prepare(I.db, "SELECT hash, size, data FROM attachments");
    if (st) {
      for (;;) {
        auto row = st->step();
        if (!row || !*row) break;
        std::string data = st->text(2);
        if (crypto::to_hex(crypto::blake2b256(crypto::as_bytes(data))) != st->text(0) || static_cast<int64_t>(data.size()) != st->i64(1))
          err("attachments " + st->text(0).substr(0, 16) + ": content does not match its hash");
      }
    }
  }
  // 5. Equivocations noted on the way in: evidence, reported.
  {
    auto st = Stmt::prepare(I.db, "SELECT device, seq, hash FROM equivocations ORDER BY noted_at");
    if (st)
      for (;;) {
        auto row = st->step();
        if (!row || !*row) break;
        rep.warnings.push_back("device " + st->text(0).substr(0, 16) + " signed two different events at sequence " +
                               std::to_string(st->i64(1)) + " (the second, " + st->text(2).substr(0, 16) + ", was refused)");
      }
  }
  // 6. The device identity.
  if (is_device()) {
    const Certificate* c = reg.trust().certificate(device_cert_id());
    auto info = crypto::peek_key_file(crypto::as_bytes(meta("device_key")));
    if (!c) err("meta: the device certificate is not among the items");
    else if (!info || !c->pub || info->pub != *c->pub) err("meta: the device key is damaged or not the certificate's");
  }
  return rep;
}

Status Store::dossier_rows(int64_t from, int64_t to, const std::function<Status(const DossierRow&)>& fn) const {
  auto st = Stmt::prepare(impl_->db, "SELECT code, unit, procedure, opened_at, state FROM dossiers WHERE opened_at BETWEEN ? AND ?");
  if (!st) return st.error();
  st->bind(1, from).bind(2, to);
  DossierRow r;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return {};
    r.code = st->text(0), r.unit = st->text(1), r.procedure = st->text(2), r.opened_at = st->i64(3), r.state = st->text(4);
    if (Status s = fn(r); !s) return s;
  }
}

Result<std::string> Store::export_bundle(const std::string& code) const {
  const auto& I = *impl_;
  auto events = I.events_of(code);
  if (!events) return events.error();
  if (events->empty()) return make_error(Errc::not_found, "no dossier " + code + " in this store");
  auto state = fold_current(*events, *I.reg);
  if (!state) return state.error();
  const Trust& trust = I.reg->trust();
  std::vector<const crypto::SignedItem*> items;
  std::set<std::string> ids;
  auto add_cert = [&](const std::string& id) {
    const Certificate* c = trust.certificate(id);
    if (c && ids.insert(id).second) items.push_back(&c->item);
    if (const Revocation* r = trust.revocation(id); r && ids.insert(r->id).second) items.push_back(&r->item);
  };
  std::set<std::string> units = {state->unit};
  for (const auto& [h, e] : *events) {
    add_cert(e.body.actor);
    add_cert(e.body.device);
    if (const Certificate* c = trust.certificate(e.body.actor)) units.insert(c->unit);
  }
  for (const auto& v : state->visits) units.insert(v.unit);
  for (const auto& u : units)
    for (const Certificate* c = trust.unit(u); c; c = c->parent ? trust.unit(*c->parent) : nullptr) {
      if (ids.count(c->id)) break;
      add_cert(c->id);
    }
  for (const auto& d : I.reg->documents()) {
    auto doc = read_document(d, trust.root());
    if (!doc) continue;
    bool wanted = d.type == kTypeCalendar ||
                  (doc->document.value("code", "") == state->procedure && doc->document.value("version", int64_t{0}) == state->version);
    if (wanted && ids.insert(d.id_hex()).second) items.push_back(&d);
  }
  json header{{"format", "hoso-bundle-v1"}, {"dossier", code}, {"root", crypto::to_hex(trust.root())}};
  std::string out = *crypto::canonical_json(header) + "\n";
  for (const auto* it : items) out += it->bytes + "\n";
  // Events in an order where each comes after its previous event.
  std::vector<const Event*> order;
  std::set<std::string> placed;
  while (order.size() < events->size()) {
    size_t before = order.size();
    for (const auto& [h, e] : *events)
      if (!placed.count(h) && (e.body.prev.empty() || placed.count(e.body.prev))) {
        order.push_back(&e);
        placed.insert(h);
      }
    if (order.size() == before) break;
  }
  for (const Event* e : order) out += e->item.bytes + "\n";
  std::set<std::string> hashes;
  for (const Event* e : order)
    for (const auto& a : e->body.attachments()) hashes.insert(a.hash);
  for (const auto& h : hashes) {
    auto data = attachment(h);
    if (!data) continue;  // not yet synced here: the verifier reports it missing
    out += *crypto::canonical_json(json{{"attachment", h}, {"data", b64(*data)}}) + "\n";
  }
  return out;
}

VerifyReport verify_bundle(const std::string& bundle, const crypto::PublicKey& root) {
  VerifyReport rep;
  auto err = [&](std::string m) { rep.errors.push_back(std::move(m)); };
  Registry reg(root);
  DossierEvents events;
  std::map<std::string, std::string> attachments;
  std::string dossier;
  size_t pos = 0, line = 0;
  while (pos < bundle.size()) {
    size_t nl = bundle.find('\n', pos);
    std::string l = bundle.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? bundle.size() : nl + 1;
    ++line;
    std::string where = "line " + std::to_string(line);
    if (l.empty()) continue;
    auto j = crypto::parse_canonical(l);
    if (!j || !j->is_object()) { err(where + ": " + (j ? std::string("not an object") : j.error().message)); continue; }
    // Header members are read as strings whatever the line holds: a value of
    // another type is a malformed bundle, never an exception (fuzz_bundle).
    auto str = [&](const char* key) {
      auto it = j->find(key);
      return it != j->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (line == 1) {
      if (str("format") != "hoso-bundle-v1" || !(*j)["dossier"].is_string()) { err(where + ": not a hoso bundle"); return rep; }
      dossier = str("dossier");
      continue;
    }
    if (j->contains("attachment")) {
      if (!(*j)["attachment"].is_string() || !(*j)["data"].is_string()) { err(where + ": malformed attachment line"); continue; }
      auto data = unb64(str("data"));
      std::string h = str("attachment");
      if (!data || crypto::to_hex(crypto::blake2b256(crypto::as_bytes(*data))) != h) err(where + ": attachment " + h.substr(0, 16) + " does not match its hash");
      else attachments[h] = *data;
      continue;
    }
    auto item = crypto::parse_item(l);
    if (!item) { err(where + ": " + item.error().message); continue; }
    if (item->type != kTypeEvent) {
      Status st = reg.add(*item);
      if (!st) err(where + ": " + st.error().message);
      continue;
    }
    ++rep.checked;
    auto ev = read_event(*item);
    if (!ev) { err(where + ": " + ev.error().message); continue; }
    if (ev->body.dossier != dossier) { err(where + ": event of another dossier"); continue; }
    Status sig = check_signatures(*ev, reg);
    if (!sig) { err(where + ": " + sig.error().message); continue; }
    auto st = check_event(*ev, events, reg, std::nullopt);
    if (!st) { err(where + ": " + st.error().message); continue; }
    events.emplace(ev->hash, std::move(*ev));
  }
  if (line == 0) err("empty bundle");
  if (events.empty()) { if (rep.errors.empty()) err("the bundle holds no events"); return rep; }
  auto state = fold_current(events, reg);
  if (!state) err("dossier " + dossier + ": " + state.error().message);
  for (const auto& [h, e] : events)
    for (const auto& a : e.body.attachments())
      if (!attachments.count(a.hash)) rep.warnings.push_back("attachment " + a.name + " (" + a.hash.substr(0, 16) + ") is not in the bundle");
  return rep;
}

}  // namespace hoso::engine
