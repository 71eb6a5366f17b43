#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "app.hpp"
#include "hoso/crypto/file.hpp"
#include "hoso/engine/calendar.hpp"

namespace hoso::cli {

int exit_code(Errc c) {
  switch (c) {
    case Errc::invalid_argument: return 2;
    case Errc::bad_signature: return 5;
    case Errc::bad_format: return 4;
    case Errc::wrong_passphrase: return 6;
    case Errc::damaged: return 7;
    case Errc::not_found: return 8;
    case Errc::unauthorized: return 9;
    case Errc::expired: return 10;
    case Errc::revoked: return 11;
    case Errc::io: return 12;
    case Errc::busy: return 13;
    case Errc::conflict: return 14;
    case Errc::storage: return 15;
    case Errc::internal: return 70;
  }
  return 1;
}

void add_common(CLI::App* cmd, Common& common, bool secret) {
  cmd->add_flag("--json", common.json, "Machine-readable output on stdout");
  if (secret)
    cmd->add_option("--passphrase-file", common.passphrase_file,
                    "Read the passphrase from this file (else HOSO_PASSPHRASE, else a prompt)");
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

Result<int64_t> now() {
  if (const char* env = std::getenv("HOSO_NOW"); env && *env) {
    auto t = engine::parse_iso8601(env);
    if (!t) return make_error(Errc::invalid_argument, "HOSO_NOW: " + t.error().message);
    return *t;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int display_offset_minutes() {
  if (const char* env = std::getenv("HOSO_NOW"); env && *env) {
    std::string s(env);
    if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) return 0;
    if (s.size() >= 6 && (s[s.size() - 6] == '+' || s[s.size() - 6] == '-') && s[s.size() - 3] == ':') {
      int h = std::atoi(s.substr(s.size() - 5, 2).c_str()), m = std::atoi(s.substr(s.size() - 2).c_str());
      return (s[s.size() - 6] == '-' ? -1 : 1) * (h * 60 + m);
    }
  }
  return 7 * 60;
}

namespace {

Result<crypto::SecretBytes> prompt(const std::string& text) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (!tty) return make_error(Errc::invalid_argument, "no passphrase: set HOSO_PASSPHRASE, use --passphrase-file, or run on a terminal");
  std::fprintf(tty, "%s: ", text.c_str());
  std::fflush(tty);
  termios old{};
  bool restore = tcgetattr(fileno(tty), &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
  }
  crypto::SecretBytes buf(1024);
  size_t n = 0;
  int ch;
  while ((ch = std::fgetc(tty)) != EOF && ch != '\n' && n < buf.size()) buf.data()[n++] = static_cast<uint8_t>(ch);
  if (restore) tcsetattr(fileno(tty), TCSAFLUSH, &old);
  std::fprintf(tty, "\n");
  std::fclose(tty);
  return crypto::SecretBytes(buf.data(), n);
}

}  // namespace

Result<crypto::SecretBytes> passphrase(const Common& c, const std::string& what, bool confirm) {
  crypto::SecretBytes p;
  if (!c.passphrase_file.empty()) {
    auto f = crypto::read_file(c.passphrase_file, 4096);
    if (!f) return make_error(f.error().code, "--passphrase-file: " + f.error().message);
    std::string& s = *f;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    p = crypto::SecretBytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    crypto::wipe(s.data(), s.size());
  } else if (const char* env = std::getenv("HOSO_PASSPHRASE"); env) {
    p = crypto::SecretBytes(reinterpret_cast<const uint8_t*>(env), std::strlen(env));
  } else {
    auto a = prompt("Passphrase for " + what);
    if (!a) return a.error();
    if (confirm) {
      auto b = prompt("Repeat the passphrase");
      if (!b) return b.error();
      if (a->view() != b->view()) return make_error(Errc::invalid_argument, "the passphrases differ");
    }
    p = std::move(*a);
  }
  if (p.empty()) return make_error(Errc::invalid_argument, "empty passphrase for " + what);
  return p;
}

Result<crypto::SigningKey> load_key(const std::string& path, const Common& c, crypto::KeyFileInfo* info) {
  auto bytes = crypto::read_file(path, 1 << 16);
  if (!bytes) return bytes.error();
  auto peek = crypto::peek_key_file(crypto::as_bytes(*bytes));
  if (!peek) return make_error(peek.error().code, path + ": " + peek.error().message);
  auto pass = passphrase(c, path, false);
  if (!pass) return pass.error();
  auto key = crypto::open_key_file(crypto::as_bytes(*bytes), pass->view(), info);
  if (!key) return make_error(key.error().code, path + ": " + key.error().message);
  return key;
}

Result<std::string> server_store(const std::string& data, const std::string& store) {
  if (engine::sql::is_postgres_url(store)) return store;
  if (!store.empty() && store != "sqlite:")
    return make_error(Errc::invalid_argument, "--store: expected postgresql://… (or sqlite: for the file in --data), not \"" + store + "\"");
  if (data.empty()) return make_error(Errc::invalid_argument, "give --data DIR (the SQLite store) or --store postgresql://…");
  return data + "/hoso.db";
}

Result<crypto::SigningKey> open_device_key(const engine::Store& store, const Common& c) {
  auto dk = store.device_key_file();
  if (!dk) return dk.error();
  Result<crypto::SecretBytes> pass = make_error(Errc::internal, "");
  if (const char* p = std::getenv("HOSO_DEVICE_PASSPHRASE"); p && *p)
    pass = crypto::SecretBytes(reinterpret_cast<const uint8_t*>(p), std::strlen(p));
  else
    pass = passphrase(c, "this laptop's key", false);
  if (!pass) return pass.error();
  auto key = crypto::open_key_file(crypto::as_bytes(*dk), pass->view());
  if (key) return key;
  if (key.error().code == Errc::wrong_passphrase)
    return make_error(Errc::wrong_passphrase,
                      "this laptop's key (kept in the store) did not open with that passphrase; "
                      "set HOSO_DEVICE_PASSPHRASE to the laptop's passphrase");
  return make_error(key.error().code, "this laptop's key: " + key.error().message);
}

Result<crypto::KeyFileInfo> load_public_key(const std::string& path) {
  auto text = crypto::read_file(path, 1 << 16);
  if (!text) return text.error();
  auto info = crypto::parse_public_key_file(*text);
  if (!info) return make_error(info.error().code, path + ": " + info.error().message);
  return info;
}

Result<std::vector<crypto::SignedItem>> load_items(const std::string& path) {
  auto text = crypto::read_file(path);
  if (!text) return text.error();
  auto items = engine::read_items(*text);
  if (!items) return make_error(items.error().code, path + ": " + items.error().message);
  return items;
}

Status save_items(const std::string& path, const std::vector<const crypto::SignedItem*>& items, bool exclusive) {
  std::string out;
  for (const auto* it : items) out += it->bytes + "\n";
  return crypto::write_file_atomic(path, out, 0644, exclusive);
}

}  // namespace hoso::cli
