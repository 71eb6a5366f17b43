// A store: the signed log (the only truth) and its projections, in one SQLite
// file. A commune laptop's store has a device identity (its certificate and
// its encrypted key); a server's store has none. Every write is one
// transaction that appends to the log and updates the projections together;
// `verify` rebuilds the projections from the log and compares.
//
// Concurrency: WAL; readers never block; a second writer waits up to 10 s for
// the first, then fails with Errc::busy. Durability: synchronous=FULL, so an
// action reported done survives a power cut.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hoso/engine/ledger.hpp"
#include "hoso/engine/sql.hpp"

namespace hoso::engine {

inline constexpr int32_t kApplicationId = 0x484f534f;  // "HOSO"
inline constexpr int kSchemaVersion = 3;

struct AttachmentFile {
  std::string name;
  std::string data;
};

struct ReceiveRequest {
  std::string procedure;
  std::string applicant;
  std::map<std::string, std::string> fields;
  std::vector<AttachmentFile> attachments;
};

struct ActRequest {
  std::string dossier, action, note;
  std::map<std::string, std::string> fields;
  std::vector<AttachmentFile> attachments;
  std::optional<std::string> until, keep;
};

// What happened to one item offered to the store.
// deferred: a pulled event whose previous event this store lacks; nothing is
// stored and a later pull brings it again after its chain.
enum class Outcome { applied, duplicate, quarantined, deferred };
struct IngestResult {
  Outcome outcome = Outcome::applied;
  std::string id, reason;  // reason: why quarantined
};

struct ListFilter {
  std::optional<std::string> status;
  bool overdue = false;
  std::optional<std::string> holder;      // --mine: the officer's unit
  std::vector<std::string> roles;         // --mine: the officer's roles
};

struct VerifyReport {
  int64_t checked = 0;
  std::vector<std::string> errors, warnings;
  bool ok() const { return errors.empty(); }
};

class Store {
 public:
  // Creates a laptop store. Errc::unauthorized if the device certificate does
  // not chain to root; Errc::invalid_argument if the key is not the
  // certificate's; Errc::conflict if the file exists.
  static Result<Store> create_device(const std::string& path, const crypto::PublicKey& root,
                                     const crypto::SignedItem& device_cert, const std::string& device_key_file,
                                     const std::string& server);
  // Creates (or opens) a server store.
  static Result<Store> open_server(const std::string& path, const crypto::PublicKey& root);
  static Result<Store> open(const std::string& path, bool write = true);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  const Registry& registry() const;
  // The registry as it is now, kept alive (and unchanged) for as long as the
  // caller holds it, whatever the store learns meanwhile: what a thread that
  // does not hold the store checks signatures or certificates against.
  std::shared_ptr<const Registry> registry_snapshot() const;
  bool is_device() const;
  std::string device_cert_id() const;
  std::string meta(const std::string& key) const;

  // Root-signed items and events (the USB path and the sync server): each is
  // checked in full and applied, or quarantined with its reason if correctly
  // signed but not allowed; anything else is refused and nothing of the call
  // is applied (one transaction).
  Result<std::vector<IngestResult>> ingest(const std::vector<crypto::SignedItem>& items, int64_t arrived_at);

  // An item with the time it reached a server (the revocation grace is judged
  // against the first server's receipt, wherever the item is checked again).
  struct Incoming {
    crypto::SignedItem item;
    int64_t arrived_at = 0;
    // Set only by check_incoming(): the event parsed, both its signatures
    // verified against a registry of this store. Certificates are never
    // removed and an id names one certificate, so a later registry agrees.
    std::shared_ptr<const Event> checked;
  };
  // Parses each event and verifies its two signatures against `reg` (a
  // snapshot of this store's), setting `checked` where both hold; touches no
  // database, so sync sessions run it concurrently, outside the store's lock.
  // Failures are left unset: ingest() checks those again and says why.
  static void check_incoming(std::vector<Incoming>& items, const Registry& reg);
  // `contiguous`: a device pushing its own log — each device's sequence must
  // follow on exactly (a gap refuses the batch). Otherwise (a pull from a
  // server) other devices' logs may arrive with gaps.
  Result<std::vector<IngestResult>> ingest(const std::vector<Incoming>& items, bool contiguous);
  // Several batches, one transaction and one durable commit for them all (a
  // server's group commit: the commit, not the work, is most of a small
  // batch's cost). Each batch is applied or refused as a whole exactly as
  // ingest(batch, contiguous) would be, in this order (a batch sees what the
  // ones before it applied); a refused batch applies nothing and disturbs
  // no other. One result per batch. If the transaction itself fails (begin,
  // a savepoint, the commit: an SQL error with its code), every batch gets
  // that error and nothing is applied.
  std::vector<Result<std::vector<IngestResult>>> ingest_group(const std::vector<const std::vector<Incoming>*>& batches,
                                                              bool contiguous);

  // The pull feed (SPEC §5): root-signed items after `items_after`, then
  // applied events after `events_after` (store order) of the dossiers `unit`
  // holds or has held — each touched dossier's whole chain, so a dossier
  // newly forwarded to the unit arrives complete. Stops near max_bytes.
  struct FeedEntry {
    std::string bytes;
    int64_t arrived_at = 0;
    bool event = false;
  };
  struct Feed {
    std::vector<FeedEntry> entries;
    int64_t items_pos = 0, events_pos = 0;  // the cursor after this batch
    bool done = false;                      // nothing more after this batch
    std::vector<std::string> attachments;   // hashes the events reference
  };
  Result<Feed> feed(const std::vector<std::string>& units, int64_t items_after, int64_t events_after, size_t max_bytes) const;
  // A read transaction on this store's connection: the reads made until it
  // is destroyed (feed_end, feed_anchor, feed, device_log, ...) see one
  // snapshot, however writers on other connections commit meanwhile. Errors:
  // the database's (a transaction already open on this connection among them).
  Result<sql::Tx> read_snapshot() const;
  // What sits at a feed position: "<item id>:<event hash>" (empty parts at 0).
  // A cursor remembers it, so a store restored from an older copy that has
  // since grown past the cursor is still noticed.
  Result<std::string> feed_anchor(int64_t items_pos, int64_t events_pos) const;
  // Highest positions of the feed (a cursor beyond them comes from a restored store).
  Result<std::pair<int64_t, int64_t>> feed_end() const;

  // Proof of delivery a server signed for a device; kept by the device.
  Status add_receipt(const std::string& server_store, int64_t acked, const std::string& receipt_bytes, int64_t at);
  Result<std::optional<std::string>> last_receipt() const;
  Status set_meta_value(const std::string& key, const std::string& value);

  // Server side: when a device last synced and the backlog it reported.
  Status note_sync(const std::string& device, int64_t at, int64_t pending);
  // report --data's `devices`: device, name, unit, acked, pending, last_sync.
  Result<nlohmann::json> devices_report() const;

  // Attachments that travel in chunks and resume where a link broke:
  // (bytes held, declared size or -1 when nothing is held).
  static constexpr int64_t kMaxAttachment = 64ll << 20;
  Result<std::pair<int64_t, int64_t>> attachment_progress(const std::string& hash) const;
  // Appends a chunk at `offset` (must equal the bytes held); when complete the
  // content is checked against its hash (a mismatch discards it). Returns the
  // bytes now held.
  Result<int64_t> put_attachment_chunk(const std::string& hash, int64_t size, int64_t offset, std::string_view data);
  Result<std::vector<std::string>> missing_attachments(const std::vector<std::string>& hashes) const;
  // Hashes referenced by a device's events after a sequence.
  Result<std::vector<std::string>> referenced_attachments(const std::string& device, int64_t after) const;
  // Whether an event held here references the attachment — with `units`, an
  // applied event of a dossier one of those units holds or held.
  Result<bool> attachment_referenced(const std::string& hash, const std::vector<std::string>* units = nullptr) const;
  // What a device may learn about an attachment (ATT_QUERY): referenced by an
  // applied event of a dossier one of `units` holds or held, or by an event of
  // the device itself (in a dossier of that event), quarantined ones included.
  Result<bool> attachment_referenced_by(const std::string& hash, const std::string& device,
                                        const std::vector<std::string>& units) const;
  // Reloads the signed items if another process (hoso publish) added some.
  Status refresh();
  Status add_attachment(const std::string& data, const std::string& expected_hash);

  // Local actions: checked completely before anything is signed.
  Result<DossierState> receive(const crypto::SigningKey& officer, const crypto::SigningKey& device,
                               const ReceiveRequest& req, int64_t now);
  Result<DossierState> act(const crypto::SigningKey& officer, const crypto::SigningKey& device, const ActRequest& req,
                           int64_t now);

  Result<DossierState> dossier(const std::string& code) const;
  Result<DossierEvents> events_of(const std::string& code) const;
  // Summaries from the projection (code, procedure, unit, holder, step,
  // status, applicant, received_at, due_at, timeliness filled in).
  Result<std::vector<DossierState>> list(const ListFilter& f, int64_t now) const;
  // The device's encrypted key file, as given to create_device.
  Result<std::string> device_key_file() const;
  // Attachments by hash.
  Result<std::string> attachment(const std::string& hash) const;
  // A complete attachment's size and at most `max` of its bytes from
  // `offset`, read without loading the rest (what ATT_GET serves).
  // Errc::not_found if not complete here; Errc::invalid_argument for an
  // offset below 0 or beyond its size.
  Result<std::pair<int64_t, std::string>> attachment_slice(const std::string& hash, int64_t offset, size_t max) const;
  // A device's log: its events with sequence > after, in order, at most
  // `limit` (applied and quarantined alike: the log is gap-free). With
  // `arrived`: each event's arrival time here, in the same order.
  Result<std::vector<crypto::SignedItem>> device_log(const std::string& device, int64_t after, size_t limit,
                                                     std::vector<int64_t>* arrived = nullptr) const;
  // Every device this store has events of, with its highest sequence.
  Result<std::map<std::string, int64_t>> watermarks() const;
  // One device's highest sequence here (0 if none).
  Result<int64_t> watermark(const std::string& device) const;
  // Quarantined events with their reasons.
  Result<std::vector<std::pair<std::string, std::string>>> quarantine() const;

  VerifyReport verify() const;
  // What report.hpp aggregates: each dossier whose receipt time (opened_at,
  // unix seconds) lies in [from, to], with its projected state as stored (the
  // JSON of DossierState). Streams rows in no particular order, so memory
  // stays flat on a province's store; an error from `fn` stops the scan and
  // is returned. `r` is only valid during the call.
  struct DossierRow {
    std::string code, unit, procedure;
    int64_t opened_at = 0;
    std::string state;
  };
  Status dossier_rows(int64_t from, int64_t to, const std::function<Status(const DossierRow& r)>& fn) const;
  // A self-contained bundle (PROTOCOL §10).
  Result<std::string> export_bundle(const std::string& code) const;

  struct Impl;  // defined in store.cpp

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Verifies a bundle offline with nothing but the root key.
VerifyReport verify_bundle(const std::string& bundle, const crypto::PublicKey& root);

}  // namespace hoso::engine
