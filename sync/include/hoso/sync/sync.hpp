// Sync between commune laptops and a server (SPEC §5; PROTOCOL §13): TLS 1.3
// on Boost.Asio, the server proving its root-certified ed25519 key as the TLS
// key, the device proving its certified key by signing the session's TLS
// exporter value; then length-prefixed frames: pushes of the device's log in
// bounded zstd batches acknowledged after a durable commit with a signed
// receipt, pulls from a cursor tagged with the server store's identity, and
// attachments in resumable chunks. Errors are Status values with one line.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/result.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/engine/store.hpp"

namespace hoso::sync {

using crypto::Errc;
using crypto::Result;
using crypto::Status;

struct Limits {
  size_t batch_bytes = 64 * 1024;       // uncompressed bytes of events per push or feed batch (at most)
  size_t chunk_bytes = 16 * 1024;       // attachment chunk: small, so a cut link loses little
  int io_timeout_seconds = 30;          // every read and write
  int handshake_timeout_seconds = 15;
  // Concurrent connections the server serves. A laptop's round holds two
  // (events, attachments): 1024 serve 512 laptops syncing at the same moment;
  // serve() raises the open-file limit to fit them.
  size_t max_sessions = 1024;
  // Concurrent connections from one peer address (0: no limit), so that one
  // address flooding the server cannot take every slot. A commune's laptops
  // behind one NAT address hold two each while they sync.
  size_t max_sessions_per_address = 128;
};

struct ServerOptions {
  std::string listen;  // HOST:PORT (port 0: any free port)
  std::string store_path;
  crypto::PublicKey root{};
  std::shared_ptr<crypto::SigningKey> key;
  crypto::SignedItem cert;  // the server's certificate
  Limits limits;
  // Relay mode: the parent server HOST:PORT this server pulls from and
  // forwards to, continuously.
  std::string upstream;
  int relay_interval_seconds = 2;
  // Called once listening, with the bound port (tests use port 0).
  std::function<void(uint16_t)> on_listening;
  // Clock seam.
  std::function<int64_t()> now;
  // Where session events are logged (default: stderr); called from any of
  // the server's threads, one line at a time.
  std::function<void(const std::string&)> log;
  // Threads serving sessions (0: one per core, at least two).
  unsigned threads = 0;
};

// Serves until `stop` becomes true (checked about once a second) or a fatal
// error. Errors of one session never stop the server.
Status serve(const ServerOptions& opt, const std::atomic<bool>& stop);

struct ClientOptions {
  std::string server;  // HOST:PORT
  std::string db;
  std::shared_ptr<crypto::SigningKey> device_key;
  Limits limits;
  std::function<int64_t()> now;
  // Progress: called after each batch.
  struct Progress {
    std::string phase;  // "pull", "push", "attachment up", "attachment down"
    int64_t done = 0, total = 0;  // events (push), bytes (attachments); total 0 if unknown
    int64_t bytes = 0;            // bytes on the wire so far, both directions
    double seconds = 0;           // since the round started
  };
  std::function<void(const Progress&)> progress;
};

struct SyncReport {
  int64_t pushed = 0, acked = 0, pending = 0, pulled = 0, attachments_pending = 0;
  int64_t bytes_sent = 0, bytes_received = 0;
};

// One round: connect, prove, pull own events a restored laptop lacks, push
// until acknowledged, pull until caught up, move attachments. Safe to
// interrupt anywhere: what was acknowledged is durable on both sides.
Result<SyncReport> sync_once(const ClientOptions& opt);

// One relay round against the parent: pull what it has for the units this
// relay carries, forward every device log held here beyond the parent's
// watermark, move attachments.
Result<SyncReport> relay_once(const std::string& store_path, const std::string& upstream,
                              const crypto::SigningKey& key, const crypto::SignedItem& cert, const Limits& limits,
                              std::function<int64_t()> now);

}  // namespace hoso::sync
