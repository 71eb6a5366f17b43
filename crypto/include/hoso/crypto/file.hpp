// Whole-file reads and crash-safe writes. Files that hold keys or signed
// items are small; they are read whole and written atomically.
#pragma once

#include <string>

#include "hoso/crypto/result.hpp"
#include "hoso/crypto/sodium.hpp"

namespace hoso::crypto {

// Errc::not_found if absent, Errc::io otherwise; `max_bytes` bounds what a
// hostile or mistaken path can make us load.
Result<std::string> read_file(const std::string& path, size_t max_bytes = 256u << 20);

// Writes to a temporary file beside `path`, fsyncs it, renames it over `path`
// and fsyncs the folder, so a crash leaves the old file or the new one, never
// a mix. With `exclusive`, refuses (Errc::conflict) to replace an existing
// file: keys and certificates are never overwritten by accident.
Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0644, bool exclusive = false);

// The pieces the atomic write is made of, for callers that build a file by
// other means (an SQLite backup) and then put it in place the same way.
// The folder of `path` ("." for a bare name).
std::string parent_dir(const std::string& path);
// fsync of a file, or of a folder (`dir`: makes a rename in it durable).
// Errc::not_found or Errc::io with the system's reason.
Status fsync_path(const std::string& path, bool dir);
// Errc::not_found for ENOENT, else Errc::io: "<what> <path>: <strerror(errno)>".
Error os_error(const std::string& what, const std::string& path);

}  // namespace hoso::crypto
