// Backups and restores of a store (a laptop's or a SQLite server's): a
// consistent copy taken while other processes read and write the store, and
// the way back from such a copy (SPEC §2 "Restores").
//
// A backup is one self-contained SQLite file (rollback journal, no -wal or
// -shm beside it) that any hoso command reading a store accepts, e.g.
// `hoso verify --db BACKUP`.
#pragma once

#include <cstdint>
#include <string>

#include "hoso/crypto/result.hpp"

namespace hoso::engine {

// What a backup file holds, as checked (application id, schema, integrity).
struct BackupInfo {
  std::string path;
  int64_t bytes = 0;       // size of the file
  int64_t schema = 0;      // the store's schema version
  int64_t events = 0;      // rows of the signed log
  bool device = false;     // a laptop's store (else a server's)
  std::string store_id;    // the store's identity (meta store_id)
};

// Copies the store at `src` to `out` with SQLite's online backup API, in one
// read transaction: writers go on meanwhile (WAL) and the copy is the store
// as of one commit. The copy is written beside `out` under a temporary name,
// checked (check_backup), made durable and only then renamed to `out`, so a
// crash or a failed check leaves no partial `out`.
// Errors: Errc::not_found (no `src`), Errc::bad_format (`src` is not a hoso
// store), Errc::conflict (`out` exists and !overwrite, or `out` is `src`),
// Errc::io (the folder of `out` refuses), Errc::busy (the store stayed locked
// for 10 s), Errc::damaged (the copy failed its check), Errc::storage.
crypto::Result<BackupInfo> backup_store(const std::string& src, const std::string& out, bool overwrite);

// Checks that `path` is a hoso store a restore can use: an SQLite file with
// hoso's application id, a schema this build knows (same or older: opening it
// for writing migrates it), and a clean `PRAGMA integrity_check`.
// Errors: Errc::not_found, Errc::bad_format (not SQLite, not hoso, newer
// schema), Errc::damaged (integrity_check failed: its first line is given).
crypto::Result<BackupInfo> check_backup(const std::string& path);

// Puts the backup `from` in place as the store `dest` (a laptop's file, or
// DIR/hoso.db of a server). `from` is checked first and copied beside `dest`
// under a temporary name, then renamed over it; nothing changes on error.
// An existing `dest` is replaced only with `force`, only when no other process
// has it open (a running `hoso serve` or desk: Errc::busy), and is kept as
// `dest.replaced-<unix time>` (it may hold events the backup lacks). The
// restored store is then opened for writing (migrating an older schema); a
// laptop's store gets meta must_pull_own=1, so it signs nothing until a sync
// has brought back its own events from the server (SPEC §2).
// Returns what was restored (`path` is `dest`).
// Errors: those of check_backup, Errc::conflict (`dest` exists and !force),
// Errc::busy, Errc::io, Errc::storage.
crypto::Result<BackupInfo> restore_store(const std::string& from, const std::string& dest, bool force);

}  // namespace hoso::engine
