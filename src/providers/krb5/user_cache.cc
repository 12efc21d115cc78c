// A user's credential cache file (user_cache.h): no symbolic link on the
// path, a directory nobody else can swap, O_EXCL|O_NOFOLLOW, 0600, fchown.
#include "providers/krb5/user_cache.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fastid::providers::krb5 {

using core::Status;

namespace {

constexpr std::string_view kRandomTail = "XXXXXX";

std::string errno_text(int e) { return std::strerror(e); }

// A directory another user cannot replace or empty: root's or the user's,
// and writable by group or others only with the sticky bit (/tmp).
bool safe_directory(const struct stat& st, unsigned uid) {
  if (!S_ISDIR(st.st_mode)) return false;
  if (st.st_uid != 0 && st.st_uid != uid) return false;
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) return false;
  return true;
}

}  // namespace

core::Result<CachePath> parse_cache_pattern(std::string_view pattern, unsigned uid) {
  const std::string_view kFile = "FILE:";
  if (pattern == "KEYRING:persistent:%U") {
    CachePath out;
    out.keyring = "KEYRING:persistent:" + std::to_string(uid);
    return out;
  }
  if (pattern.substr(0, kFile.size()) != kFile) {
    return core::error(Status::invalid_argument("krb5_ccache \"" + std::string(pattern) +
                                                "\": only FILE:/path/..._XXXXXX and KEYRING:persistent:%U caches "
                                                "are supported"));
  }
  std::string path;
  for (std::size_t i = kFile.size(); i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size() && pattern[i + 1] == 'U') {
      path += std::to_string(uid);
      ++i;
    } else {
      path += pattern[i];
    }
  }
  const auto slash = path.rfind('/');
  if (path.empty() || path.front() != '/' || slash == std::string::npos ||
      path.size() < kRandomTail.size() || path.substr(path.size() - kRandomTail.size()) != kRandomTail ||
      path.find("/../") != std::string::npos || path.find("/./") != std::string::npos) {
    return core::error(Status::invalid_argument("krb5_ccache \"" + std::string(pattern) +
                                                "\": an absolute FILE: path ending in XXXXXX"));
  }
  CachePath out;
  out.dir = slash == 0 ? "/" : path.substr(0, slash);
  out.name_template = path.substr(slash + 1);
  return out;
}

core::Result<std::string> create_user_cache(const CachePath& where, std::string_view contents, unsigned uid,
                                            unsigned gid) {
  // Walk from / with O_NOFOLLOW: a link anywhere on the path stops here.
  int dir = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return core::error(Status::internal("krb5_ccache: cannot open /: " + errno_text(errno)));
  std::size_t at = 1;
  while (at < where.dir.size()) {
    std::size_t next = where.dir.find('/', at);
    if (next == std::string::npos) next = where.dir.size();
    const std::string part = where.dir.substr(at, next - at);
    at = next + 1;
    if (part.empty()) continue;
    const int sub = ::openat(dir, part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const int e = errno;
    ::close(dir);
    if (sub < 0) {
      return core::error(Status::unavailable("krb5_ccache directory " + where.dir + ": " + part + ": " +
                                             (e == ENOTDIR || e == ELOOP ? "not a directory (a symbolic link?)"
                                                                         : errno_text(e))));
    }
    dir = sub;
  }
  struct stat st{};
  if (::fstat(dir, &st) != 0 || !safe_directory(st, uid)) {
    ::close(dir);
    return core::error(Status::unavailable("krb5_ccache directory " + where.dir +
                                           ": not owned by root or the user, or writable by others "
                                           "without the sticky bit: refused"));
  }
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const std::string stem = where.name_template.substr(0, where.name_template.size() - kRandomTail.size());
  int fd = -1;
  std::string name;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    unsigned char random[6];
    if (::getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) continue;
    name = stem;
    for (unsigned char r : random) name += kAlphabet[r % (sizeof kAlphabet - 1)];
    fd = ::openat(dir, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    const int e = errno;
    ::close(dir);
    return core::error(Status::unavailable("krb5_ccache: cannot create a file in " + where.dir + ": " +
                                           errno_text(e)));
  }
  bool ok = true;
  for (std::size_t done = 0; ok && done < contents.size();) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fchmod(fd, 0600) == 0 && ::fchown(fd, uid, gid) == 0;
  const int e = errno;
  if (!ok) {
    (void)::ftruncate(fd, 0);
    ::unlinkat(dir, name.c_str(), 0);
  }
  ::close(fd);
  ::close(dir);
  if (!ok) return core::error(Status::unavailable("krb5_ccache: writing " + where.dir + "/" + name + ": " +
                                                  errno_text(e)));
  return "FILE:" + (where.dir == "/" ? "" : where.dir) + "/" + name;
}

}  // namespace fastid::providers::krb5
