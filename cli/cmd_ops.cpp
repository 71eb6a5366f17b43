// `hoso backup` and `hoso restore`: a consistent copy of a store taken while
// it is in use, and the way back (docs/OPERATIONS.md).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "app.hpp"
#include "hoso/engine/backup.hpp"

namespace hoso::cli {
namespace {

// The store a command names: a laptop's file (--db) or a server's folder
// (--data, the SQLite store DIR/hoso.db).
Result<std::string> store_file(const std::string& db, const std::string& data, const std::string& store) {
  if (db.empty() == data.empty()) return make_error(Errc::invalid_argument, "give exactly one of --db or --data");
  if (!store.empty())
    return make_error(Errc::invalid_argument,
                      "--store: backup and restore handle the SQLite store; back up PostgreSQL with pg_dump (docs/OPERATIONS.md)");
  return db.empty() ? data + "/hoso.db" : db;
}

nlohmann::json to_json(const engine::BackupInfo& i) {
  return {{"path", i.path}, {"bytes", i.bytes}, {"schema", i.schema}, {"events", i.events},
          {"kind", i.device ? "laptop" : "server"}, {"store_id", i.store_id}};
}

Error with_hint(Error e, const char* hint) {
  if (e.code == Errc::conflict && e.message.find("already exists") != std::string::npos) e.message += hint;
  return e;
}

}  // namespace

void register_ops(CLI::App& app) {
  {  // backup
    auto* cmd = app.add_subcommand("backup", "Copy a store while it is in use (checked, written atomically)");
    struct O { Common c; std::string db, data, store, out; bool force = false; };
    auto o = std::make_shared<O>();
    cmd->add_option("--db", o->db, "A laptop's store");
    cmd->add_option("--data", o->data, "A server's data folder (its store is DIR/hoso.db)");
    cmd->add_option("--store", o->store, "Server store URL (only the SQLite default can be backed up here)");
    cmd->add_option("--out", o->out, "The backup file to write")->required();
    cmd->add_flag("--force", o->force, "Replace --out if it exists");
    add_common(cmd, o->c, false);
    on_run(cmd, [o]() -> Status {
      auto src = store_file(o->db, o->data, o->store);
      if (!src) return src.error();
      auto info = engine::backup_store(*src, o->out, o->force);
      if (!info) return with_hint(info.error(), " (--force replaces it)");
      if (o->c.json) {
        auto j = to_json(*info);
        j["from"] = *src;
        print_json(j);
      } else {
        std::cout << "Backup written: " << info->path << " (" << (info->device ? "laptop" : "server") << " store, "
                  << info->events << " events, " << info->bytes << " bytes; integrity ok)\n";
      }
      return {};
    });
  }
  {  // restore
    auto* cmd = app.add_subcommand("restore", "Put a backup in place as a store (a laptop's or a server's)");
    struct O { Common c; std::string from, db, data, store; bool force = false; };
    auto o = std::make_shared<O>();
    cmd->add_option("--from", o->from, "The backup file")->required();
    cmd->add_option("--db", o->db, "The laptop's store to restore");
    cmd->add_option("--data", o->data, "The server's data folder to restore (its store is DIR/hoso.db)");
    cmd->add_option("--store", o->store, "Server store URL (only the SQLite default can be restored here)");
    cmd->add_flag("--force", o->force, "Replace an existing store (kept beside it as FILE.replaced-TIME)");
    add_common(cmd, o->c, false);
    on_run(cmd, [o]() -> Status {
      auto dest = store_file(o->db, o->data, o->store);
      if (!dest) return dest.error();
      // A new machine has no data folder yet; serve makes it the same way,
      // and a refused restore takes it away again.
      bool made = false;
      if (!o->data.empty()) {
        made = ::mkdir(o->data.c_str(), 0700) == 0;
        if (!made && errno != EEXIST) return make_error(Errc::io, "cannot create " + o->data + ": " + std::strerror(errno));
      }
      auto info = engine::restore_store(o->from, *dest, o->force);
      if (!info) {
        if (made) ::rmdir(o->data.c_str());
        return with_hint(info.error(), " (--force replaces it; stop hoso serve or the desk first)");
      }
      if (o->c.json) {
        auto j = to_json(*info);
        j["from"] = o->from;
        j["must_pull_own"] = info->device;
        print_json(j);
      } else {
        std::cout << "Restored " << info->path << " from " << o->from << " (" << info->events << " events).\n";
        if (info->device)
          std::cout << "This laptop signs nothing until `hoso sync` has brought back its own events from the server.\n";
        else
          std::cout << "Laptops re-send what this server lacks at their next sync; `hoso verify --data` checks it.\n";
      }
      return {};
    });
  }
}

}  // namespace hoso::cli
