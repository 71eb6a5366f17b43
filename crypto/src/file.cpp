#include "hoso/crypto/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace hoso::crypto {

Error os_error(const std::string& what, const std::string& path) {
  int e = errno;
  return make_error(e == ENOENT ? Errc::not_found : Errc::io, what + " " + path + ": " + std::strerror(e));
}

std::string parent_dir(const std::string& path) {
  auto p = path.rfind('/');
  if (p == std::string::npos) return ".";
  if (p == 0) return "/";
  return path.substr(0, p);
}

Status fsync_path(const std::string& path, bool dir) {
  int fd = ::open(path.c_str(), (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return os_error("cannot open", path);
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) {
    errno = e;
    return os_error("cannot sync", path);
  }
  return {};
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error("cannot open", path);
  struct stat st{};
  if (::fstat(fd, &st) != 0) { auto e = os_error("cannot stat", path); ::close(fd); return e; }
  if (S_ISDIR(st.st_mode)) { ::close(fd); return make_error(Errc::io, "cannot read " + path + ": is a directory"); }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto e = os_error("cannot read", path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return make_error(Errc::invalid_argument, path + ": file larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode, bool exclusive) {
  if (exclusive && ::access(path.c_str(), F_OK) == 0)
    return make_error(Errc::conflict, path + " already exists; refusing to overwrite it");
  // Unique per call, so that threads writing the same path never share (and
  // mix) a temporary file.
  static std::atomic<uint64_t> counter{0};
  std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return os_error("cannot create", tmp);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto e = os_error("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto e = os_error("cannot sync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  ::close(fd);
  if (exclusive) {
    // link() fails if the target appeared meanwhile: no race replaces a key.
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      auto e = errno == EEXIST ? make_error(Errc::conflict, path + " already exists; refusing to overwrite it")
                               : os_error("cannot create", path);
      ::unlink(tmp.c_str());
      return e;
    }
    ::unlink(tmp.c_str());
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = os_error("cannot replace", path);
    ::unlink(tmp.c_str());
    return e;
  }
  // The folder's sync makes the rename durable; a folder that cannot be
  // opened (no read permission) still holds the new file, so that is no error.
  (void)fsync_path(parent_dir(path), true);
  return {};
}

}  // namespace hoso::crypto
