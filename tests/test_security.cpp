// Threats of docs/SECURITY.md that no other test showed: an officer's key or a
// device's key used alone, forged attachment bytes, a laptop clock set back.
// Each case has its positive control, so it fails if the store accepted
// everything or refused everything.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>

#include "../cli/defaults.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/engine/backup.hpp"
#include "hoso/engine/event.hpp"
#include "hoso/engine/store.hpp"
#include "hoso/engine/trust.hpp"
#include "one_commune.hpp"

using namespace hoso;

namespace {

// A unit, its officer and laptop, the procedure and calendar; a laptop store
// and a server store that both know them.
struct Desk {
  std::string dir;
  int64_t t0 = *engine::parse_iso8601("2026-03-02T09:00:00+07:00");
  crypto::SigningKey root = crypto::SigningKey::generate();
  crypto::SigningKey officer = crypto::SigningKey::generate();
  crypto::SigningKey device = crypto::SigningKey::generate();
  std::vector<crypto::SignedItem> items;
  std::optional<engine::Store> laptop, server;
  std::map<std::string, std::string> fields{{"cccd", "1"}, {"child_name", "B"}, {"birth_date", "2026-02-01"}};

  Desk() {
    namespace fs = std::filesystem;
    dir = (fs::temp_directory_path() / "hoso-sec-XXXXXX").string();
    REQUIRE(::mkdtemp(dir.data()));
    crypto::SignedItem dcert;
    items = testing::one_commune_items(root, officer, device, t0, dcert);
    auto sealed = crypto::seal_key_file(device, "d", "pw", crypto::Kdf::interactive);
    REQUIRE(sealed);
    auto l = engine::Store::create_device(dir + "/laptop.db", root.public_key(), dcert, std::string(sealed->begin(), sealed->end()), "");
    REQUIRE(l);
    laptop.emplace(std::move(*l));
    REQUIRE(laptop->ingest(items, t0));
    auto s = engine::Store::open_server(dir + "/server.db", root.public_key());
    REQUIRE(s);
    server.emplace(std::move(*s));
    REQUIRE(server->ingest(items, t0));
  }
  ~Desk() {
    laptop.reset();
    server.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::vector<crypto::SignedItem> log() {
    auto l = laptop->device_log(laptop->device_cert_id(), 0, 100);
    REQUIRE(l);
    return *l;
  }
};

engine::Event resign(const crypto::SignedItem& item, const crypto::SigningKey& officer, const crypto::SigningKey& device) {
  auto e = engine::read_event(item);
  REQUIRE(e);
  auto again = engine::sign_event(e->body, officer, device);
  REQUIRE(again);
  return *again;
}

}  // namespace

TEST_CASE("security: an officer's key alone or a device's key alone signs nothing a server accepts", "[security]") {
  Desk d;
  REQUIRE(d.laptop->receive(d.officer, d.device, {"1.001193", "An", d.fields, {}}, d.t0));
  auto log = d.log();
  REQUIRE(log.size() == 1);
  auto thief = crypto::SigningKey::generate();

  // A stolen officer key countersigned by a laptop the thief controls (its
  // own key in place of the certified device's), and a stolen laptop key
  // with a made-up officer signature: both are forgeries, refused whole.
  for (const auto& forged : {resign(log[0], d.officer, thief), resign(log[0], thief, d.device)}) {
    auto r = d.server->ingest(std::vector<crypto::SignedItem>{forged.item}, d.t0 + 60);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == crypto::Errc::bad_signature);
    auto wm = d.server->watermarks();
    REQUIRE(wm);
    CHECK(wm->empty());
  }
  // Both keys together: the real event, accepted.
  auto ok = d.server->ingest(log, d.t0 + 60);
  REQUIRE(ok);
  REQUIRE(ok->size() == 1);
  CHECK((*ok)[0].outcome == engine::Outcome::applied);
}

TEST_CASE("security: attachment bytes that do not match their hash are discarded", "[security]") {
  Desk d;
  const std::string real = "%PDF the citizen's scan", forged = "%PDF a forged scan!!!!!";
  REQUIRE(real.size() == forged.size());
  std::string h = crypto::to_hex(crypto::blake2b256(crypto::as_bytes(real)));
  auto size = static_cast<int64_t>(real.size());
  // In one chunk, and as a good first chunk completed by a forged second one.
  auto r = d.server->put_attachment_chunk(h, size, 0, forged);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == crypto::Errc::bad_format);
  REQUIRE(d.server->put_attachment_chunk(h, size, 0, real.substr(0, 8)));
  CHECK_FALSE(d.server->put_attachment_chunk(h, size, 8, forged.substr(8)));
  CHECK_FALSE(d.server->attachment(h));
  auto p = d.server->attachment_progress(h);
  REQUIRE(p);
  CHECK(p->first == 0);  // the partial copy went with it
  CHECK_FALSE(d.server->add_attachment(forged, h));
  CHECK_FALSE(d.server->attachment(h));
  // A declared size over the limit, whatever the bytes.
  auto big = d.server->put_attachment_chunk(h, engine::Store::kMaxAttachment + 1, 0, real);
  REQUIRE_FALSE(big);
  CHECK(big.error().message.find("size") != std::string::npos);
  // The real bytes, in two chunks: kept.
  REQUIRE(d.server->put_attachment_chunk(h, size, 0, real.substr(0, 8)));
  auto done = d.server->put_attachment_chunk(h, size, 8, real.substr(8));
  REQUIRE(done);
  CHECK(*done == size);
  auto got = d.server->attachment(h);
  REQUIRE(got);
  CHECK(*got == real);
}

TEST_CASE("security: a laptop clock set back is recorded as given and flagged by verify", "[security]") {
  Desk d;
  auto first = d.laptop->receive(d.officer, d.device, {"1.001193", "An", d.fields, {}}, d.t0 + 3600);
  REQUIRE(first);
  auto v = d.laptop->verify();
  CHECK(v.ok());
  CHECK(v.warnings.empty());
  // The clock goes back an hour: the next act is signed with that time, not refused.
  engine::ActRequest a;
  a.dossier = first->code;
  a.action = "accept";
  REQUIRE(d.laptop->act(d.officer, d.device, a, d.t0));
  auto log = d.log();
  REQUIRE(log.size() == 2);
  auto e = engine::read_event(log[1]);
  REQUIRE(e);
  CHECK(e->body.at == d.t0);
  // The server takes both (its own receipt time anchors them) and both
  // stores flag it.
  REQUIRE(d.server->ingest(log, d.t0 + 7200));
  for (auto* s : {&*d.laptop, &*d.server}) {
    auto w = s->verify();
    CHECK(w.ok());
    REQUIRE(w.warnings.size() == 1);
    CHECK(w.warnings[0].find("clock set back at sequence 2") != std::string::npos);
  }
}

// SPEC §2 Restores: restore_store marks a laptop must_pull_own and the store
// refuses to sign until a sync has brought its own events back; otherwise it
// would sign at a sequence the server already holds with another event (the
// equivocation of docs/SECURITY.md threat 10).
TEST_CASE("security: a restored laptop signs nothing before its own events are back", "[security]") {
  Desk d;
  REQUIRE(d.laptop->receive(d.officer, d.device, {"1.001193", "An", d.fields, {}}, d.t0));
  auto bak = engine::backup_store(d.dir + "/laptop.db", d.dir + "/laptop.bak", false);
  REQUIRE(bak);
  REQUIRE(d.laptop->receive(d.officer, d.device, {"1.001193", "Bình", d.fields, {}}, d.t0 + 60));
  REQUIRE(d.server->ingest(d.log(), d.t0 + 120));
  d.laptop.reset();
  REQUIRE(engine::restore_store(d.dir + "/laptop.bak", d.dir + "/restored.db", false));
  auto restored = engine::Store::open(d.dir + "/restored.db");
  REQUIRE(restored);
  CHECK(restored->meta("must_pull_own") == "1");
  // Sequence 2 is on the server already: signing now would equivocate.
  CHECK_FALSE(restored->receive(d.officer, d.device, {"1.001193", "Chi", d.fields, {}}, d.t0 + 180));
}
