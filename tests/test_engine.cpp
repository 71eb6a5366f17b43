// Regression tests for engine-level bugs found in review.
#include <catch2/catch.hpp>

#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/engine/trust.hpp"

using namespace hoso;

namespace {
crypto::SignedItem rewrap_with_cosig(const crypto::SignedItem& item) {
  auto env = crypto::parse_canonical(item.bytes);
  REQUIRE(env);
  (*env)["cosig"] = std::string(128, 'a');
  auto bytes = crypto::canonical_json(*env);
  REQUIRE(bytes);
  auto again = crypto::parse_item(*bytes);
  REQUIRE(again);
  return *again;
}
}  // namespace

TEST_CASE("a revoked certificate cannot be revived by adding a countersignature", "[engine][trust]") {
  auto root = crypto::SigningKey::generate();
  auto officer = crypto::SigningKey::generate();
  engine::CertRequest req;
  req.kind = engine::CertKind::officer;
  req.name = "Officer";
  req.unit = "U1";
  req.roles = {"receiver"};
  req.pub = officer.public_key();
  req.issued_at = 1000;
  auto cert = engine::issue_certificate(root, req);
  REQUIRE(cert);
  auto parsed = engine::read_certificate(*cert, root.public_key());
  REQUIRE(parsed);
  auto rev = engine::issue_revocation(root, *parsed, "stolen", 2000, 2000);
  REQUIRE(rev);

  auto copy = rewrap_with_cosig(*cert);
  CHECK(copy.id != cert->id);
  auto read = engine::read_certificate(copy, root.public_key());
  REQUIRE_FALSE(read);
  CHECK(read.error().code == crypto::Errc::bad_format);

  engine::Trust trust(root.public_key());
  REQUIRE(trust.add(*cert));
  REQUIRE(trust.add(*rev));
  CHECK_FALSE(trust.add(copy));
  engine::Act act{copy.id_hex(), engine::CertKind::officer, std::string("receiver"), std::string("U1"), 3000, 3000};
  CHECK_FALSE(trust.authorize(act));

  CHECK_FALSE(engine::read_revocation(rewrap_with_cosig(*rev), root.public_key()));
  auto doc = engine::sign_document(root, engine::kTypeCalendar, nlohmann::json{{"kind", "calendar"}}, 1000);
  REQUIRE(doc);
  CHECK(engine::read_document(*doc, root.public_key()));
  CHECK_FALSE(engine::read_document(rewrap_with_cosig(*doc), root.public_key()));
  // A document whose kind differs from its item type is refused.
  auto wrong = engine::sign_document(root, engine::kTypeProcedure, nlohmann::json{{"kind", "calendar"}}, 1000);
  REQUIRE(wrong);
  CHECK_FALSE(engine::read_document(*wrong, root.public_key()));
}

TEST_CASE("a public key file with a non-string format is an error, not a crash", "[engine][crypto]") {
  auto r = crypto::parse_public_key_file(R"({"format":1,"pub":"00"})");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == crypto::Errc::bad_format);
}

#include <unistd.h>

#include <filesystem>

#include "../cli/defaults.hpp"
#include "hoso/engine/store.hpp"
#include "one_commune.hpp"
#include "server_store.hpp"

namespace {
namespace fs = std::filesystem;

struct TempDir {
  std::string d = (fs::temp_directory_path() / "hoso-engine-XXXXXX").string();
  TempDir() { REQUIRE(::mkdtemp(d.data())); }
  ~TempDir() { fs::remove_all(d); }
};

// One commune U1 with a receiver and one laptop: the root-signed items a
// store needs, and the laptop's certificate.
struct Commune {
  crypto::SigningKey root = crypto::SigningKey::generate();
  crypto::SigningKey officer = crypto::SigningKey::generate();
  crypto::SigningKey device = crypto::SigningKey::generate();
  int64_t t0 = *engine::parse_iso8601("2026-03-02T09:00:00+07:00");
  std::vector<crypto::SignedItem> items;
  crypto::SignedItem dcert;
  std::string key;  // the laptop's sealed key file

  Commune() {
    items = testing::one_commune_items(root, officer, device, t0, dcert);
    auto sealed = crypto::seal_key_file(device, "d", "pw", crypto::Kdf::interactive);
    REQUIRE(sealed);
    key.assign(sealed->begin(), sealed->end());
  }

  engine::Store laptop(const std::string& path) {
    auto s = engine::Store::create_device(path, root.public_key(), dcert, key, "");
    REQUIRE(s);
    REQUIRE(s->ingest(items, t0));
    return std::move(*s);
  }
  engine::Store server(const std::string& path) {
    auto s = engine::Store::open_server(path, root.public_key());
    REQUIRE(s);
    REQUIRE(s->ingest(items, t0));
    return std::move(*s);
  }
  engine::ReceiveRequest dossier(const std::string& name) const {
    return {"1.001193", name, {{"cccd", "1"}, {"child_name", name}, {"birth_date", "2026-02-01"}}, {}};
  }
};
}  // namespace

// SPEC: a dossier's code is unit-yymmdd-nnnn, numbered per day within the
// desk's slot. The day's codes are found as a range of the events' index: a
// range one character too wide or too narrow shows here.
TEST_CASE("a desk numbers the day's dossiers in its own slot, past other desks' and other days' codes", "[engine][store]") {
  TempDir tmp;
  Commune c;
  auto device2 = crypto::SigningKey::generate();
  engine::CertRequest dv;
  dv.kind = engine::CertKind::device;
  dv.name = "Xã desk 2";
  dv.unit = "U1";
  dv.slot = 2;
  dv.pub = device2.public_key();
  dv.issued_at = c.t0 - 86400;
  auto d2cert = engine::issue_certificate(c.root, dv);
  REQUIRE(d2cert);
  c.items.push_back(*d2cert);
  auto a = c.laptop(tmp.d + "/a.db");
  auto sealed = crypto::seal_key_file(device2, "d2", "pw", crypto::Kdf::interactive);
  REQUIRE(sealed);
  auto b = engine::Store::create_device(tmp.d + "/b.db", c.root.public_key(), *d2cert, std::string(sealed->begin(), sealed->end()), "");
  REQUIRE(b);
  REQUIRE(b->ingest(c.items, c.t0));
  auto code = [&](engine::Store& s, const crypto::SigningKey& dev, int64_t at) {
    auto d = s.receive(c.officer, dev, c.dossier("X"), at);
    INFO((d ? std::string() : d.error().message));
    REQUIRE(d);
    return d->code;
  };
  CHECK(code(a, c.device, c.t0) == "U1-260302-1000");
  CHECK(code(a, c.device, c.t0 + 60) == "U1-260302-1001");
  CHECK(code(*b, device2, c.t0 + 120) == "U1-260302-2000");
  CHECK(code(*b, device2, c.t0 + 180) == "U1-260302-2001");
  // Desk 1 holds desk 2's dossiers of the day (and desk 2 desk 1's): each
  // goes on in its own slot.
  auto from_b = b->device_log(b->device_cert_id(), 0, 100);
  REQUIRE(from_b);
  REQUIRE(a.ingest(*from_b, c.t0 + 240));
  auto from_a = a.device_log(a.device_cert_id(), 0, 100);
  REQUIRE(from_a);
  REQUIRE(b->ingest(*from_a, c.t0 + 240));
  CHECK(code(a, c.device, c.t0 + 300) == "U1-260302-1002");
  CHECK(code(*b, device2, c.t0 + 300) == "U1-260302-2002");
  // The next day starts again at the slot's first number; the day before
  // (yymmdd one less) does not count either.
  CHECK(code(a, c.device, c.t0 + 86400) == "U1-260303-1000");
  CHECK(code(a, c.device, c.t0 + 86400 + 60) == "U1-260303-1001");
  CHECK(code(a, c.device, c.t0 + 360) == "U1-260302-1003");
}

TEST_CASE("an equivocation is refused and kept as evidence", "[engine][store]") {
  TempDir tmp;
  Commune c;
  const std::string& dir = tmp.d;
  const auto& officer = c.officer;
  const auto& device = c.device;
  const int64_t t0 = c.t0;
  std::map<std::string, std::string> fields = c.dossier("B").fields;
  // The same laptop twice: a restored copy that signed on without pulling.
  auto a = c.laptop(dir + "/a.db"), b = c.laptop(dir + "/b.db");
  REQUIRE(a.receive(officer, device, {"1.001193", "An", fields, {}}, t0));
  REQUIRE(b.receive(officer, device, {"1.001193", "Bình", fields, {}}, t0 + 60));
  auto other = b.device_log(b.device_cert_id(), 0, 10);
  REQUIRE(other);
  REQUIRE(other->size() == 1);
  auto r = a.ingest(*other, t0 + 120);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == crypto::Errc::conflict);
  CHECK(r.error().message.find("equivocation") != std::string::npos);
  auto wm = a.watermarks();
  REQUIRE(wm);
  CHECK(wm->at(a.device_cert_id()) == 1);

  // Attachments are visible to the units of the dossiers that reference them only.
  engine::ReceiveRequest with{"1.001193", "Chi", fields, {{"scan.pdf", "%PDF scan"}}};
  REQUIRE(a.receive(officer, device, with, t0 + 180));
  std::string h = crypto::to_hex(crypto::blake2b256(crypto::as_bytes(std::string("%PDF scan"))));
  std::vector<std::string> mine{"U1"}, others{"U2"};
  CHECK(*a.attachment_referenced(h));
  CHECK(*a.attachment_referenced(h, &mine));
  CHECK_FALSE(*a.attachment_referenced(h, &others));
  CHECK_FALSE(*a.attachment_referenced(std::string(64, '0')));
  auto v = a.verify();
  CHECK(v.ok());
  REQUIRE(v.warnings.size() == 1);  // the equivocation; the store is otherwise sound
  CHECK(v.warnings[0].find("two different events at sequence 1") != std::string::npos);
}

namespace {
// The events of unit U1's pull feed, in feed order.
std::vector<std::string> events_in_feed(const engine::Store& s) {
  auto f = s.feed({"U1"}, 0, 0, size_t{1} << 30);
  REQUIRE(f);
  std::vector<std::string> out;
  for (const auto& e : f->entries)
    if (e.event) out.push_back(e.bytes);
  return out;
}
}  // namespace

TEST_CASE("a server judges a batch as a whole: its own repeats, two events at one sequence, and its order", "[engine][store]") {
  TempDir tmp;
  Commune c;
  // 130 events: more than two of the 64-row statements a batch writes with.
  auto a = c.laptop(tmp.d + "/a.db"), b = c.laptop(tmp.d + "/b.db");
  for (int i = 0; i < 130; ++i) REQUIRE(a.receive(c.officer, c.device, c.dossier("A" + std::to_string(i)), c.t0 + i));
  REQUIRE(b.receive(c.officer, c.device, c.dossier("B"), c.t0));  // the same laptop restored: another event at sequence 1
  auto log = a.device_log(a.device_cert_id(), 0, 1000);
  auto other = b.device_log(b.device_cert_id(), 0, 10);
  REQUIRE(log);
  REQUIRE(log->size() == 130);
  REQUIRE(other);
  REQUIRE(other->size() == 1);

  SECTION("an event repeated inside a batch is stored once, in arrival order") {
    auto s = c.server(tmp.d + "/s.db");
    auto batch = *log;
    batch.insert(batch.begin() + 3, (*log)[2]);
    batch.push_back((*log)[70]);
    auto r = s.ingest(batch, c.t0 + 1000);
    REQUIRE(r);
    size_t applied = 0, dup = 0;
    for (const auto& o : *r) (o.outcome == engine::Outcome::applied ? applied : dup) += 1;
    CHECK(applied == 130);
    CHECK(dup == 2);
    CHECK((*r)[3].outcome == engine::Outcome::duplicate);
    auto feed = events_in_feed(s);
    REQUIRE(feed.size() == 130);
    for (size_t i = 0; i < feed.size(); ++i) CHECK(feed[i] == (*log)[i].bytes);
    CHECK(s.watermarks()->at(a.device_cert_id()) == 130);
    auto again = s.ingest(*log, c.t0 + 2000);
    REQUIRE(again);
    for (const auto& o : *again) CHECK(o.outcome == engine::Outcome::duplicate);
    auto v = s.verify();
    CHECK(v.ok());
    CHECK(v.warnings.empty());
  }
  SECTION("two events at one sequence inside a batch refuse the whole batch") {
    auto s = c.server(tmp.d + "/s.db");
    std::vector<crypto::SignedItem> batch{(*log)[0], (*log)[1], (*other)[0]};
    auto r = s.ingest(batch, c.t0 + 1000);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == crypto::Errc::conflict);
    CHECK(r.error().message.find("equivocation") != std::string::npos);
    CHECK(events_in_feed(s).empty());
    CHECK(s.watermarks()->count(a.device_cert_id()) == 0);
    // Nothing of it stayed behind: the laptop's own log goes in whole.
    auto ok = s.ingest(*log, c.t0 + 2000);
    REQUIRE(ok);
    CHECK(events_in_feed(s).size() == 130);
    CHECK(s.verify().ok());
  }
}

TEST_CASE("a group commit judges each batch as ingest would, and a refused batch disturbs no other", "[engine][store]") {
  TempDir tmp;
  Commune c;
  auto a = c.laptop(tmp.d + "/a.db"), b = c.laptop(tmp.d + "/b.db");
  for (int i = 0; i < 130; ++i) REQUIRE(a.receive(c.officer, c.device, c.dossier("A" + std::to_string(i)), c.t0 + i));
  REQUIRE(b.receive(c.officer, c.device, c.dossier("B"), c.t0));  // the laptop restored: another event at sequence 1
  auto log = a.device_log(a.device_cert_id(), 0, 1000);
  auto other = b.device_log(b.device_cert_id(), 0, 10);
  REQUIRE(log);
  REQUIRE(log->size() == 130);
  REQUIRE(other);
  using In = std::vector<engine::Store::Incoming>;
  auto part = [&](size_t from, size_t to) {
    In in;
    for (size_t i = from; i < to; ++i) in.push_back({(*log)[i], c.t0 + 1000, nullptr});
    return in;
  };
  std::vector<In> batches;
  batches.push_back(part(0, 40));
  batches.push_back(part(40, 42));  // refused: its third event is a second one at sequence 1
  batches.back().push_back({(*other)[0], c.t0 + 1000, nullptr});
  batches.push_back(part(40, 90));   // sees the first batch, not the refused one
  batches.push_back(part(95, 100));  // refused: a gap after 90
  batches.push_back(part(90, 130));
  // Some checked beforehand, as a server's sessions do, some not.
  auto reg = c.server(tmp.d + "/reg.db").registry_snapshot();
  engine::Store::check_incoming(batches[2], *reg);
  REQUIRE(batches[2][0].checked);

  auto g = c.server(tmp.d + "/group.db");
  std::vector<const In*> ptrs;
  for (const auto& bt : batches) ptrs.push_back(&bt);
  auto res = g.ingest_group(ptrs, true);
  REQUIRE(res.size() == 5);
  REQUIRE(res[0]);
  CHECK(res[0]->size() == 40);
  REQUIRE_FALSE(res[1]);
  CHECK(res[1].error().code == crypto::Errc::conflict);
  CHECK(res[1].error().message.find("equivocation") != std::string::npos);
  REQUIRE(res[2]);
  CHECK(res[2]->size() == 50);
  REQUIRE_FALSE(res[3]);
  CHECK(res[3].error().message.find("gap") != std::string::npos);
  REQUIRE(res[4]);
  for (size_t k : {0, 2, 4})
    for (const auto& o : *res[k]) CHECK(o.outcome == engine::Outcome::applied);
  auto feed = events_in_feed(g);
  REQUIRE(feed.size() == 130);
  for (size_t i = 0; i < feed.size(); ++i) CHECK(feed[i] == (*log)[i].bytes);
  CHECK(g.watermarks()->at(a.device_cert_id()) == 130);
  auto v = g.verify();
  CHECK(v.ok());
  REQUIRE(v.warnings.size() == 1);  // the refused batch's equivocation, kept as evidence
  CHECK(v.warnings[0].find("two different events at sequence 1") != std::string::npos);

  // The same batches one at a time: the same verdicts, words and store.
  auto s = c.server(tmp.d + "/one.db");
  for (size_t k = 0; k < batches.size(); ++k) {
    auto r = s.ingest(batches[k], true);
    REQUIRE(r.ok() == res[k].ok());
    if (!r) CHECK(r.error().message == res[k].error().message);
    else CHECK(r->size() == res[k]->size());
  }
  CHECK(events_in_feed(s) == feed);

  // A group of duplicates stores nothing more; an empty group is no error.
  auto again = g.ingest_group(ptrs, true);
  REQUIRE(again.size() == 5);
  REQUIRE(again[0]);
  for (const auto& o : *again[0]) CHECK(o.outcome == engine::Outcome::duplicate);
  CHECK(events_in_feed(g).size() == 130);
  CHECK(g.ingest_group({}, true).empty());
}

TEST_CASE("a store of schema 2 migrates: its units hold their dossiers from the feed's end then, so pulls send whole chains once", "[engine][store]") {
  TempDir tmp;
  Commune c;
  const std::string path = tmp.d + "/s.db";
  auto a = c.laptop(tmp.d + "/a.db");
  auto x = a.receive(c.officer, c.device, c.dossier("X"), c.t0);
  REQUIRE(x);
  REQUIRE(a.receive(c.officer, c.device, c.dossier("Y"), c.t0 + 60));
  auto log = [&] { return *a.device_log(a.device_cert_id(), 0, 100); };
  const std::string scan(5000, 's');
  const std::string scan_hash = crypto::to_hex(crypto::blake2b256(crypto::as_bytes(scan)));
  {
    auto s = c.server(path);
    REQUIRE(s.ingest(log(), c.t0 + 100));
  }
  {
    // What schema 2 left: no `since`, and a half-received attachment as one
    // partial copy.
    auto db = engine::sql::Db::open(path, false);
    REQUIRE(db);
    REQUIRE(db->exec("ALTER TABLE dossier_units DROP COLUMN since; DROP TABLE attachment_parts; "
                     "ALTER TABLE attachments_partial DROP COLUMN have; PRAGMA user_version = 2"));
    auto half = engine::sql::Stmt::prepare(*db, "INSERT INTO attachments_partial(hash, size, data) VALUES(?, ?, ?)");
    REQUIRE(half);
    half->bind(1, scan_hash).bind(2, static_cast<int64_t>(scan.size())).bind_blob(3, scan.substr(0, 1000));
    REQUIRE(half->run());
  }
  engine::ActRequest accept;
  accept.dossier = x->code;
  accept.action = "accept";
  REQUIRE(a.act(c.officer, c.device, accept, c.t0 + 120));
  auto s = engine::Store::open_server(path, c.root.public_key());
  REQUIRE(s);
  {
    auto db = engine::sql::Db::open(path, false, true);
    REQUIRE(db);
    auto q = engine::sql::Stmt::prepare(*db, "SELECT min(since), max(since), (SELECT user_version FROM pragma_user_version) FROM dossier_units");
    REQUIRE(q);
    REQUIRE(*q->step());
    CHECK(q->i64(0) == 2);
    CHECK(q->i64(1) == 2);
    CHECK(q->i64(2) == engine::kSchemaVersion);
  }
  auto l = log();
  REQUIRE(l.size() == 3);
  REQUIRE(s->ingest(l, c.t0 + 200));
  auto events = [&](int64_t after) {
    auto f = s->feed({"U1"}, 0, after, size_t{1} << 30);
    REQUIRE(f);
    std::vector<std::string> out;
    for (const auto& e : f->entries)
      if (e.event) out.push_back(e.bytes);
    return out;
  };
  // A cursor from before the migration's end: whole chains, in feed order.
  CHECK(events(1) == std::vector<std::string>{l[1].bytes, l[0].bytes, l[2].bytes});
  // From the end on: what is new only.
  CHECK(events(2) == std::vector<std::string>{l[2].bytes});
  // The partial copy became the first part: the upload resumes after it.
  CHECK(*s->attachment_progress(scan_hash) == std::pair<int64_t, int64_t>{1000, 5000});
  CHECK(*s->put_attachment_chunk(scan_hash, 5000, 1000, std::string_view(scan).substr(1000)) == 5000);
  CHECK(*s->attachment(scan_hash) == scan);
  CHECK(s->verify().ok());
}

// Also run on PostgreSQL (pg.*), where slices are substr() of the column.
TEST_CASE("an attachment arrives in parts: resumed after a reopen, checked whole at its end, served in slices", "[engine][store][pg]") {
  TempDir tmp;
  Commune c;
  testing::ServerStore where{tmp.d};
  const std::string path = where.location;
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131) % 253);
  const std::string h = crypto::to_hex(crypto::blake2b256(crypto::as_bytes(data)));
  const int64_t size = static_cast<int64_t>(data.size());
  const size_t chunk = 16384;
  auto put = [&](engine::Store& s, size_t off) {
    return s.put_attachment_chunk(h, size, static_cast<int64_t>(off), std::string_view(data).substr(off, chunk));
  };
  {
    auto s = c.server(path);
    for (size_t off = 0; off < 3 * chunk; off += chunk) REQUIRE(put(s, off));
    CHECK_FALSE(s.attachment(h));  // not complete: not served
  }
  auto s = engine::Store::open_server(path, c.root.public_key());
  REQUIRE(s);
  CHECK(*s->attachment_progress(h) == std::pair<int64_t, int64_t>{3 * chunk, size});
  auto again = put(*s, chunk);  // a chunk already held, sent again after a cut
  REQUIRE_FALSE(again);
  CHECK(again.error().message.find("expected " + std::to_string(3 * chunk)) != std::string::npos);
  for (size_t off = 3 * chunk; off < data.size(); off += chunk) REQUIRE(put(*s, off));
  CHECK(*s->attachment_progress(h) == std::pair<int64_t, int64_t>{size, size});
  CHECK(*s->attachment(h) == data);
  auto mid = s->attachment_slice(h, 50000, chunk);
  REQUIRE(mid);
  CHECK(mid->first == size);
  CHECK(mid->second == data.substr(50000, chunk));
  CHECK(s->attachment_slice(h, size, chunk)->second.empty());
  CHECK_FALSE(s->attachment_slice(h, size + 1, chunk));
  CHECK_FALSE(s->attachment_slice(std::string(64, '0'), 0, chunk));
  {
    auto db = engine::sql::is_postgres_url(path) ? engine::sql::Db::connect(path, true) : engine::sql::Db::open(path, false, true);
    REQUIRE(db);
    auto parts = engine::sql::Stmt::prepare(*db, "SELECT count(*) FROM attachment_parts");
    REQUIRE(parts);
    REQUIRE(*parts->step());
    CHECK(parts->i64(0) == 0);  // folded into the attachment
  }
  // Bytes that do not hash to the name: all of it discarded at the last chunk.
  std::string other = data;
  other[70000] ^= 1;
  const std::string h2 = crypto::to_hex(crypto::blake2b256(crypto::as_bytes(data.substr(0, 40000))));
  REQUIRE(s->put_attachment_chunk(h2, 40000, 0, std::string_view(other).substr(0, 20000)));
  auto bad = s->put_attachment_chunk(h2, 40000, 20000, std::string_view(other).substr(60000, 20000));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("does not match its hash") != std::string::npos);
  CHECK(*s->attachment_progress(h2) == std::pair<int64_t, int64_t>{0, -1});
  CHECK(s->verify().ok());
}
