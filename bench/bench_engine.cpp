// bench_engine [--dossiers N]: figures measured in one run, printed as plain
// "name: value unit" lines. No timing assertions: this measures, it does not
// judge. Default N = 2000 finishes in well under a minute on 2 cores.
//
// What it measures:
//  1. Store::receive and Store::act with their durable commit
//     (synchronous=FULL): p50 and p99 latency over N calls each.
//  2. Store::list with ListFilter.overdue and Store::report on the store of N
//     dossiers built by step 1.
//  3. Store::verify() in events/second, beside libsodium's own
//     crypto_sign_verify_detached rate on a message the size of an event
//     (each event carries two signatures, so the ratio printed is
//     verify_rate / (sodium_rate / 2)).
#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "../cli/defaults.hpp"
#include "common.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/engine/calendar.hpp"
#include "hoso/engine/report.hpp"
#include "hoso/engine/store.hpp"

namespace fs = std::filesystem;
using namespace hoso;
using namespace hoso::bench;

namespace {

}  // namespace

int main(int argc, char** argv) {
  long n = 2000;
  int64_t first_day = 0;  // BENCH_FIRST_DAY: receive from this many days after 2 March 2026 (tests the far end)
  if (const char* fd = std::getenv("BENCH_FIRST_DAY")) first_day = std::strtoll(fd, nullptr, 10);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dossiers" && i + 1 < argc) {
      n = std::strtol(argv[++i], nullptr, 10);
    } else if (a.rfind("--dossiers=", 0) == 0) {
      n = std::strtol(a.c_str() + 11, nullptr, 10);
    } else {
      std::cerr << "usage: bench_engine [--dossiers N]   (default 2000)\n";
      return 2;
    }
  }
  if (n < 1) {
    std::cerr << "bench_engine: --dossiers must be at least 1\n";
    return 2;
  }
  if (sodium_init() < 0) {
    std::cerr << "bench_engine: sodium_init failed\n";
    return 1;
  }

  TempDir temp("hoso-bench");
  const std::string& dir = temp.path;

  // A province: root, two units, three officers of the commune, one device.
  auto t0r = engine::parse_iso8601("2026-03-02T08:00:00+07:00");
  if (!t0r) die("parse time", t0r.error());
  const int64_t t0 = *t0r;
  auto root = crypto::SigningKey::generate();
  std::vector<crypto::SignedItem> items;
  const std::string P = "000.00.00.H12", A = "000.00.31.H12";
  using K = engine::CertKind;
  auto certify = [&](engine::CertRequest req) {
    req.issued_at = t0;
    items.push_back(must(engine::issue_certificate(root, req), "issue certificate " + req.name));
    return items.back();
  };
  {
    engine::CertRequest u;
    u.kind = K::unit;
    u.name = "UBND tỉnh Thái Bình";
    u.unit = P;
    certify(u);
    u.name = "UBND xã Tân Lập";
    u.unit = A;
    u.parent = P;
    certify(u);
  }
  auto officer = [&](const char* name, const char* role) {
    auto k = crypto::SigningKey::generate();
    engine::CertRequest r;
    r.kind = K::officer;
    r.name = name;
    r.unit = A;
    r.pub = k.public_key();
    r.roles = {role};
    certify(r);
    return k;
  };
  auto receiver = officer("Nguyễn Thị Lan", "receiver");
  auto specialist = officer("Trần Văn Minh", "specialist");
  auto leader = officer("Lê Quốc Hùng", "leader");
  (void)specialist;
  (void)leader;
  auto device = crypto::SigningKey::generate();
  crypto::SignedItem device_cert;
  {
    engine::CertRequest r;
    r.kind = K::device;
    r.name = "Tân Lập desk 1";
    r.unit = A;
    r.pub = device.public_key();
    r.slot = 1;
    device_cert = certify(r);
  }
  auto doc = [&](const char* type, const char* text) {
    auto j = must(crypto::parse_json_strict(text), "parse default document");
    items.push_back(must(engine::sign_document(root, type, j, t0), "sign document"));
  };
  doc(engine::kTypeProcedure, cli::defaults::kProcedure);
  doc(engine::kTypeCalendar, cli::defaults::kCalendar2026);
  doc(engine::kTypeCalendar, cli::defaults::kCalendar2027);
  // A desk slot numbers at most 1000 dossiers a day, so a large N runs past
  // the embedded calendars (1,000,000 dossiers end in 2029): calendars for
  // 2028-2030, the 2027 one with the year changed and no holidays, signed
  // here for the benchmark only.
  for (int year = 2028; year <= 2030; ++year) {
    auto j = must(crypto::parse_json_strict(cli::defaults::kCalendar2027), "parse default calendar");
    j["year"] = year;
    j["holidays"] = nlohmann::json::array();
    must(engine::parse_calendar(j), "bench calendar " + std::to_string(year));
    items.push_back(must(engine::sign_document(root, engine::kTypeCalendar, j, t0), "sign bench calendar"));
  }

  auto sealed = must(crypto::seal_key_file(device, "a-laptop1", "bench passphrase", crypto::Kdf::interactive), "seal key");
  std::string key_file(reinterpret_cast<const char*>(sealed.data()), sealed.size());
  auto store = must(engine::Store::create_device(dir + "/bench.db", root.public_key(), device_cert, key_file, ""),
                    "create store");
  must(store.ingest(items, t0), "ingest province items");

  // 1. receive and act, each with its durable commit.
  // Slot 1 numbers dossiers 1000-1999 per day: move to the next day every
  // 900 dossiers (the store's calendars cover 2026-2030).
  std::vector<double> recv_ms, act_ms;
  std::vector<std::string> codes;
  recv_ms.reserve(n);
  act_ms.reserve(n);
  codes.reserve(n);
  int64_t day = first_day;
  auto t_build = Clock::now();
  for (long i = 0; i < n; ++i) {
    if (i > 0 && i % 900 == 0) ++day;
    int64_t t = t0 + day * 86400 + 3600 + (i % 900) * 20;
    engine::ReceiveRequest r{"1.001193",
                             "Người nộp " + std::to_string(i),
                             {{"cccd", "0012010" + std::to_string(100000 + i)},
                              {"child_name", "Bé " + std::to_string(i)},
                              {"birth_date", "2026-02-20"}},
                             {}};
    auto c = Clock::now();
    auto d = store.receive(receiver, device, r, t);
    recv_ms.push_back(ms_since(c));
    if (!d) die("receive #" + std::to_string(i), d.error());
    codes.push_back(d->code);
  }
  for (long i = 0; i < n; ++i) {
    int64_t t = t0 + day * 86400 + 3600 + 20000 + (i % 900);
    engine::ActRequest r;
    r.dossier = codes[i];
    r.action = "accept";
    auto c = Clock::now();
    auto d = store.act(receiver, device, r, t);
    act_ms.push_back(ms_since(c));
    if (!d) die("act #" + std::to_string(i), d.error());
  }
  double build_s = ms_since(t_build) / 1000.0;

  std::printf("cores: %u cores\n", std::thread::hardware_concurrency());
  std::printf("dossiers: %ld dossiers\n", n);
  line("receive_p50", pct(recv_ms, 0.50), "ms");
  line("receive_p99", pct(recv_ms, 0.99), "ms");
  // Whether a call grows with the store: the median of the last tenth of the
  // calls beside the first tenth's (about 1 when nothing scans the store).
  auto growth = [](const std::vector<double>& v) {
    size_t k = std::max<size_t>(1, v.size() / 10);
    std::vector<double> head(v.begin(), v.begin() + k), tail(v.end() - k, v.end());
    return pct(tail, 0.50) / std::max(1e-6, pct(head, 0.50));
  };
  line("receive_growth", growth(recv_ms), "(p50 of the last tenth / p50 of the first tenth of receives)");
  line("act_p50", pct(act_ms, 0.50), "ms");
  line("act_p99", pct(act_ms, 0.99), "ms");
  line("act_growth", growth(act_ms), "(p50 of the last tenth / p50 of the first tenth of acts)");
  line("store_build", build_s, "s");

  // 2. list --overdue and report on the store of N dossiers. All the accepted
  // dossiers are overdue 30 days after the last action.
  int64_t later = t0 + (day + 30) * 86400;
  engine::ListFilter f;
  f.overdue = true;
  auto c = Clock::now();
  auto overdue = must(store.list(f, later), "list --overdue");
  double list_ms = ms_since(c);
  c = Clock::now();
  auto rep = must(engine::build_report(store, std::nullopt, std::nullopt, later, false), "report");
  double report_ms = ms_since(c);
  (void)rep;
  line("list_overdue_time", list_ms, "ms");
  std::printf("list_overdue_rows: %zu dossiers\n", overdue.size());
  line("report_time", report_ms, "ms");
  double mean_ms = 0;
  for (size_t i = 0; i < recv_ms.size(); ++i) mean_ms += recv_ms[i] + act_ms[i];
  mean_ms /= static_cast<double>(recv_ms.size());
  std::printf("note: store of %ld dossiers built with Store::receive/act; "
              "1,000,000 is reached by passing --dossiers 1000000 (not run here; about %.1f h to build at this run's mean)\n",
              n, mean_ms * 1e6 / 3.6e6);

  // 3. verify() against libsodium's own verification rate.
  c = Clock::now();
  auto vr = store.verify();
  double verify_s = ms_since(c) / 1000.0;
  if (!vr.ok()) std::cerr << "bench_engine: verify reported: " << vr.errors.front() << "\n";
  auto evs = must(store.events_of(codes.front()), "events_of");
  size_t msg_len = 0;
  for (const auto& [h, e] : evs)
    msg_len = std::max(msg_len, crypto::signature_domain(e.item.type).size() + e.item.body_bytes.size());
  std::vector<unsigned char> msg(msg_len, 'x');
  randombytes_buf(msg.data(), msg.size());
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
  crypto_sign_keypair(pk, sk);
  crypto_sign_detached(sig, nullptr, msg.data(), msg.size(), sk);
  // As many verifications as verify() made (two per event), at least 2000.
  long sodium_n = std::max<long>(2000, 2 * static_cast<long>(vr.checked));
  int bad = 0;
  c = Clock::now();
  for (long i = 0; i < sodium_n; ++i) bad += crypto_sign_verify_detached(sig, msg.data(), msg.size(), pk) != 0;
  double sodium_s = ms_since(c) / 1000.0;
  if (bad) std::cerr << "bench_engine: libsodium rejected its own signature\n";
  double verify_rate = static_cast<double>(vr.checked) / verify_s;
  double sodium_rate = static_cast<double>(sodium_n) / sodium_s;
  std::printf("verify_events: %lld events\n", static_cast<long long>(vr.checked));
  line("verify_time", verify_s, "s");
  line("verify_rate", verify_rate, "events/s", 0);
  std::printf("event_message_size: %zu bytes\n", msg_len);
  line("sodium_verify_rate", sodium_rate, "verifications/s", 0);
  line("verify_vs_sodium_ratio", verify_rate / (sodium_rate / 2), "(verify_rate / (sodium_rate/2))");

  // 4. Reading a signed item (every event a server or laptop receives goes
  // through crypto::parse_item), beside encoding its body alone: what a
  // parse_item that encoded the body a second time for its signed bytes
  // spent on top.
  {
    auto log = must(store.device_log(store.device_cert_id(), 0, 1u << 30), "device_log");
    size_t ok = 0;
    c = Clock::now();
    for (const auto& it : log) ok += crypto::parse_item(it.bytes).ok();
    const double parse_s = ms_since(c) / 1000.0;
    if (ok != log.size()) std::cerr << "bench_engine: parse_item refused a stored event\n";
    size_t sink = 0;
    c = Clock::now();
    for (const auto& it : log) sink += must(crypto::canonical_json(it.body), "encode body").size();
    const double encode_s = ms_since(c) / 1000.0;
    std::printf("parsed_items: %zu items (%zu bytes of bodies encoded)\n", log.size(), sink);
    line("parse_item_rate", static_cast<double>(log.size()) / parse_s, "items/s", 0);
    line("body_encode_rate", static_cast<double>(log.size()) / encode_s, "bodies/s (canonical_json of the body alone)", 0);
    line("body_encode_vs_parse", encode_s / parse_s, "(time to encode the bodies / time to parse the items)");
  }
  return 0;
}
