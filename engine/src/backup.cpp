#include "hoso/engine/backup.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "hoso/crypto/file.hpp"
#include "hoso/engine/sql.hpp"
#include "hoso/engine/store.hpp"

namespace hoso::engine {

using crypto::Errc;
using crypto::fsync_path;
using crypto::os_error;
using crypto::parent_dir;
using crypto::Error;
using crypto::make_error;
using crypto::Result;
using crypto::Status;
using sql::Db;
using sql::Stmt;

namespace {

bool exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa{}, sb{};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// A temporary file beside its final place, removed unless kept.
struct TempFile {
  std::string path;
  bool keep = false;
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (path.empty() || keep) return;
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
  }
  // mkstemp: a fresh name nobody else uses, created 0600 (a store holds
  // citizens' data and, on a laptop, its encrypted key).
  Status create(const std::string& beside) {
    std::string tmpl = beside + ".tmp-XXXXXX";
    int fd = ::mkstemp(tmpl.data());
    if (fd < 0) return os_error("cannot create a file in", parent_dir(beside));
    ::close(fd);
    path = tmpl;
    return {};
  }
};

Result<int64_t> pragma_int(const Db& db, const std::string& pragma) {
  auto st = Stmt::prepare(db, "PRAGMA " + pragma);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  return *row ? st->i64(0) : 0;
}

Result<std::string> pragma_text(const Db& db, const std::string& pragma) {
  auto st = Stmt::prepare(db, "PRAGMA " + pragma);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  return *row ? st->text(0) : std::string();
}

// Whether `path` starts like an SQLite database, so that any other file is
// named for what it is not rather than with SQLite's words for it.
Result<bool> sqlite_header(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error("cannot open", path);
  char head[16] = {};
  ssize_t n = ::read(fd, head, sizeof head);
  ::close(fd);
  if (n < 0) return os_error("cannot read", path);
  return n == sizeof head && std::memcmp(head, "SQLite format 3", 16) == 0;
}

// Opens `path` (which exists) read-only and checks it is a hoso store.
Result<Db> open_store_file(const std::string& path) {
  auto head = sqlite_header(path);
  if (!head) return head.error();
  if (!*head) return make_error(Errc::bad_format, path + " is not a hoso store (not an SQLite file)");
  auto db = Db::open(path, false, true);
  if (!db) return db.error();
  auto app = pragma_int(*db, "application_id");
  if (!app) return app.error();
  if (*app != kApplicationId) return make_error(Errc::bad_format, path + " is not a hoso store");
  return db;
}

// What a store file holds, after checking its schema and integrity.
Result<BackupInfo> inspect(const Db& db, const std::string& path) {
  BackupInfo info;
  info.path = path;
  auto app = pragma_int(db, "application_id");
  if (!app) return app.error();
  if (*app != kApplicationId) return make_error(Errc::bad_format, path + " is not a hoso store");
  auto ver = pragma_int(db, "user_version");
  if (!ver) return ver.error();
  if (*ver > kSchemaVersion)
    return make_error(Errc::bad_format, path + " was made by a newer hoso (schema " + std::to_string(*ver) +
                                            "); install that version to restore it");
  info.schema = *ver;
  // integrity_check, not quick_check: a backup is read rarely and trusted
  // for years, so every index is checked against its table too.
  auto ic = Stmt::prepare(db, "PRAGMA integrity_check(1)");
  if (!ic) return ic.error();
  auto row = ic->step();
  if (!row) return row.error();
  std::string verdict = *row ? ic->text(0) : std::string("no answer");
  if (verdict != "ok") return make_error(Errc::damaged, path + " is damaged: " + verdict);
  auto count = Stmt::prepare(db, "SELECT count(*) FROM events");
  if (!count) return count.error();
  if (auto r = count->step(); !r) return r.error();
  info.events = count->i64(0);
  auto meta = Stmt::prepare(db, "SELECT key, value FROM meta WHERE key IN ('store_id', 'device_cert')");
  if (!meta) return meta.error();
  for (;;) {
    auto r = meta->step();
    if (!r) return r.error();
    if (!*r) break;
    if (meta->text(0) == "store_id") info.store_id = meta->text(1);
    else info.device = true;
  }
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) info.bytes = st.st_size;
  return info;
}

// Copies every page of `src` into `dst` in one read transaction of `src`
// (WAL: writers are not held up, and the copy is one committed state). A
// source locked at that moment (a checkpoint, a writer in rollback mode) is
// tried again for up to 10 s, the wait every hoso writer grants.
Status copy_pages(const Db& src, const Db& dst, const std::string& src_path) {
  sqlite3_backup* b = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
  if (!b) return sql::error(dst.get(), sqlite3_errcode(dst.get()), "backup of " + src_path);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int rc;
  for (;;) {
    rc = sqlite3_backup_step(b, -1);
    if (rc == SQLITE_DONE) break;
    int primary = rc & 0xff;
    if ((primary == SQLITE_BUSY || primary == SQLITE_LOCKED) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    break;
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return sql::error(dst.get(), rc, "backup of " + src_path);
  return {};
}

// Makes the copy one self-contained file: the source's WAL flag travels with
// its first page, and a WAL file beside a backup could be lost or mixed up.
Status rollback_journal(const Db& db) {
  auto mode = pragma_text(db, "journal_mode=DELETE");
  if (!mode) return mode.error();
  if (*mode != "delete") return make_error(Errc::storage, "cannot take the copy out of WAL mode (" + *mode + ")");
  return {};
}

// A new file written by root (a restore into a service's folder) takes the
// owner of that folder, as SQLite does for its -wal and -shm files: else the
// service could no longer write its own store.
void own_like_folder(const std::string& file) {
  if (::geteuid() != 0) return;
  struct stat st{};
  if (::stat(parent_dir(file).c_str(), &st) == 0) (void)!::chown(file.c_str(), st.st_uid, st.st_gid);
}

}  // namespace

Result<BackupInfo> check_backup(const std::string& path) {
  if (!exists(path)) return make_error(Errc::not_found, "no backup at " + path);
  auto db = open_store_file(path);
  if (!db) return db.error();
  auto info = inspect(*db, path);
  // SQLite failing to read a file it opened (SQLITE_CORRUPT and the like)
  // means the copy is damaged, whatever integrity_check would have said.
  if (!info && info.error().code == Errc::storage)
    return make_error(Errc::damaged, path + " is damaged: " + info.error().message);
  return info;
}

Result<BackupInfo> backup_store(const std::string& src, const std::string& out, bool overwrite) {
  if (!exists(src)) return make_error(Errc::not_found, "no store at " + src);
  if (same_file(src, out)) return make_error(Errc::conflict, out + " is the store itself");
  if (!overwrite && exists(out)) return make_error(Errc::conflict, out + " already exists");
  // The folder of `out` first: a refused backup leaves no trace of having
  // opened the store (a read-only open of a WAL store creates its -shm).
  TempFile tmp;
  Status st = tmp.create(out);
  if (!st) return st.error();
  auto from = open_store_file(src);
  if (!from) return from.error();
  BackupInfo info;
  {
    auto to = Db::open(tmp.path, false);
    if (!to) return to.error();
    if (!(st = copy_pages(*from, *to, src))) return st.error();
    if (!(st = rollback_journal(*to))) return st.error();
    auto checked = inspect(*to, out);
    if (!checked) {
      if (checked.error().code == Errc::damaged)
        return make_error(Errc::damaged, "the copy of " + src + " failed its check: " + checked.error().message);
      return checked.error();
    }
    info = std::move(*checked);
  }
  if (!(st = fsync_path(tmp.path, false))) return st.error();
  // Without `overwrite`, an `out` that appeared meanwhile is still never
  // replaced: the rename itself refuses.
  int rc = ::renameat2(AT_FDCWD, tmp.path.c_str(), AT_FDCWD, out.c_str(), overwrite ? 0 : RENAME_NOREPLACE);
  if (rc != 0 && errno == EINVAL && !overwrite) {
    // A file system without RENAME_NOREPLACE (some network mounts): check,
    // then rename.
    if (exists(out)) return make_error(Errc::conflict, out + " already exists");
    rc = ::rename(tmp.path.c_str(), out.c_str());
  }
  if (rc != 0) {
    if (errno == EEXIST) return make_error(Errc::conflict, out + " already exists");
    return os_error("cannot rename the copy to", out);
  }
  tmp.keep = true;
  if (!(st = fsync_path(parent_dir(out), true))) return st.error();
  struct stat sb{};
  if (::stat(out.c_str(), &sb) == 0) info.bytes = sb.st_size;
  return info;
}

Result<BackupInfo> restore_store(const std::string& from, const std::string& dest, bool force) {
  auto info = check_backup(from);
  if (!info) return info.error();
  if (same_file(from, dest)) return make_error(Errc::conflict, from + " is the store itself");
  bool replacing = exists(dest);
  if (replacing && !force) return make_error(Errc::conflict, dest + " already exists");
  TempFile tmp;
  Status st = tmp.create(dest);
  if (!st) return st.error();
  {
    auto src = open_store_file(from);
    if (!src) return src.error();
    auto to = Db::open(tmp.path, false);
    if (!to) return to.error();
    if (!(st = copy_pages(*src, *to, from))) return st.error();
    if (!(st = rollback_journal(*to))) return st.error();
  }
  if (!(st = fsync_path(tmp.path, false))) return st.error();
  own_like_folder(tmp.path);

  // Checked last, just before the swap: nothing above touched `dest`.
  if (replacing) {
    // Leaving WAL mode needs the only connection to the file, so it fails
    // while a server or a desk has the store open: their state in memory
    // would no longer match the file.
    auto db = Db::open(dest, false);
    if (db) {
      sqlite3_busy_timeout(db->get(), 2000);
      auto mode = pragma_text(*db, "journal_mode=DELETE");
      if (!mode && mode.error().code == Errc::busy)
        return make_error(Errc::busy, dest + " is open in another process (stop hoso serve or the desk first)");
      // Anything else (not a database, damaged): the store is replaced as
      // it is, which is what a restore is for.
    }
  }

  std::string aside;
  if (replacing) {
    aside = dest + ".replaced-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count());
    // The -wal and -shm of a damaged store go with it: left in place they
    // would be read as part of the restored file.
    for (const char* suffix : {"-wal", "-shm", ""}) {
      std::string f = dest + suffix;
      if (exists(f) && ::rename(f.c_str(), (aside + suffix).c_str()) != 0) return os_error("cannot move aside", f);
    }
  }
  if (::rename(tmp.path.c_str(), dest.c_str()) != 0) {
    Error e = os_error("cannot rename the restored copy to", dest);
    if (replacing) (void)::rename(aside.c_str(), dest.c_str());
    return e;
  }
  tmp.keep = true;
  if (!(st = fsync_path(parent_dir(dest), true))) return st.error();

  auto store = Store::open(dest);
  if (!store) return store.error();
  if (store->is_device()) {
    // SPEC §2: a restored laptop may lack its own newest events, which the
    // server holds; signing before they are back would fork its log.
    if (!(st = store->set_meta_value("must_pull_own", "1"))) return st.error();
  }
  info->path = dest;
  struct stat sb{};
  if (::stat(dest.c_str(), &sb) == 0) info->bytes = sb.st_size;
  return info;
}

}  // namespace hoso::engine
