// Shared plumbing of the hoso command line: how commands report results and
// errors, read passphrases and keys, and tell the time. Commands only parse
// arguments, call the libraries, and map errors to exit codes (README).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/result.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/engine/store.hpp"
#include "hoso/engine/trust.hpp"

namespace hoso::cli {

using crypto::Errc;
using crypto::Error;
using crypto::make_error;
using crypto::Result;
using crypto::Status;

// Exit codes (README "Exit codes"): 0 success, 2 usage, 3 verification
// failed, then one per error kind.
int exit_code(Errc c);
inline constexpr int kExitUsage = 2;
inline constexpr int kExitVerifyFailed = 3;

// Options every command shares.
struct Common {
  bool json = false;
  std::string passphrase_file;
};

// A command's body: returns ok or the one error to report.
using Action = std::function<Status()>;

// Registers `--json` (and, with `secret`, `--passphrase-file`) on `cmd` and
// arranges for `action` to run when `cmd` is chosen.
void add_common(CLI::App* cmd, Common& common, bool secret);
void on_run(CLI::App* cmd, Action action);

// Output: one JSON document on stdout with --json, otherwise plain lines.
void print_json(const nlohmann::json& j);

// Now, from HOSO_NOW (ISO 8601 with offset) or the wall clock. A malformed
// HOSO_NOW is an error, never silently ignored.
Result<int64_t> now();
// The UTC offset to show times in when no calendar says otherwise: that of
// HOSO_NOW if given, else +07:00 (Vietnam).
int display_offset_minutes();

// The passphrase: --passphrase-file, then HOSO_PASSPHRASE, then a prompt on
// the terminal (twice when `confirm`). Errc::invalid_argument when none can
// be had (no terminal) or it is empty.
Result<crypto::SecretBytes> passphrase(const Common& c, const std::string& what, bool confirm);

Result<crypto::SigningKey> load_key(const std::string& path, const Common& c, crypto::KeyFileInfo* info = nullptr);
Result<crypto::KeyFileInfo> load_public_key(const std::string& path);
// The laptop's own key, kept encrypted in its store: opened with
// HOSO_DEVICE_PASSPHRASE when set, else the same source as the officer's.
Result<crypto::SigningKey> open_device_key(const engine::Store& store, const Common& c);
// Where a server's store lives: `store` when it is a PostgreSQL URL
// ("postgresql://…"), else the SQLite file in `data` (`store` empty or
// "sqlite:"). Errc::invalid_argument for anything else, or for neither given.
Result<std::string> server_store(const std::string& data, const std::string& store);
// Reads a file of signed items (one per line).
Result<std::vector<crypto::SignedItem>> load_items(const std::string& path);
// Writes items one per line.
Status save_items(const std::string& path, const std::vector<const crypto::SignedItem*>& items, bool exclusive = false);

// Subcommand registration, one function per file.
void register_key(CLI::App& app);
void register_authority(CLI::App& app);
void register_demo(CLI::App& app);
void register_desk(CLI::App& app);
void register_sync(CLI::App& app);
void register_ops(CLI::App& app);
void register_ui(CLI::App& app);
// True once `verify` found a problem: the process exits 3 (SPEC §4).
bool verification_failed();

}  // namespace hoso::cli
