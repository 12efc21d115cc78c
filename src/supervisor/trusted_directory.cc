// Trusted directories (trusted_directory.h): a walk from / that checks the
// owner and mode of every directory a path goes through, the way the kernel
// resolves it, symbolic links included.
#include "supervisor/trusted_directory.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <deque>

namespace fastid::supervisor {
namespace {

constexpr int kMaxLinks = 40;  // as the kernel's own limit (ELOOP)

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

void push_components(const std::string& path, std::deque<std::string>* todo) {
  std::deque<std::string> parts;
  std::size_t at = 0;
  while (at <= path.size()) {
    std::size_t slash = path.find('/', at);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(at, slash - at);
    if (!part.empty() && part != ".") parts.push_back(std::move(part));
    at = slash + 1;
  }
  todo->insert(todo->begin(), parts.begin(), parts.end());
}

std::string parent_of(const std::string& dir) {
  const std::size_t slash = dir.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
}

bool owner_allowed(uid_t uid, const std::vector<uid_t>& owners) {
  if (uid == 0 || uid == ::geteuid()) return true;
  for (uid_t o : owners) {
    if (o == uid) return true;
  }
  return false;
}

// A directory on the way: root's (or ours), and nobody else may rename
// entries in it (no group/other write, unless sticky).
core::Status check_on_the_way(const std::string& what, const std::string& path, const std::string& dir,
                              const struct stat& st) {
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return core::Status::permission_denied(what + " " + path + ": " + dir + " on the way is owned by uid " +
                                           std::to_string(st.st_uid) +
                                           ", not root: that user could put something else in its place");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    return core::Status::permission_denied(what + " " + path + ": " + dir + " on the way is writable by " +
                                           ((st.st_mode & S_IWOTH) ? "everyone" : "its group") + " (mode " +
                                           octal_mode(st.st_mode) +
                                           ") without the sticky bit: they could put something else in its place");
  }
  return core::Status::ok();
}

core::Status check_self(const std::string& what, const std::string& path, const struct stat& st,
                        const std::vector<uid_t>& owners) {
  if (!S_ISDIR(st.st_mode)) return core::Status::invalid_argument(what + " " + path + " is not a directory");
  if (!owner_allowed(st.st_uid, owners)) {
    return core::Status::permission_denied(what + " " + path + " is owned by uid " + std::to_string(st.st_uid) +
                                           ", neither root nor the daemon's user: chown it to root");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return core::Status::permission_denied(what + " " + path + " is writable by " +
                                           ((st.st_mode & S_IWOTH) ? "everyone" : "its group") + " (mode " +
                                           octal_mode(st.st_mode) + "): it must be writable by its owner only (0755)");
  }
  return core::Status::ok();
}

}  // namespace

core::Status check_trusted_directory(const std::string& what, const std::string& path,
                                     const std::vector<uid_t>& owners, bool may_be_missing) {
  if (path.empty() || path[0] != '/') {
    return core::Status::invalid_argument(what + " must be an absolute path, got \"" + path + "\"");
  }
  std::deque<std::string> todo;
  push_components(path, &todo);
  std::string at = "/";
  struct stat st;
  if (::lstat("/", &st) != 0) return core::status_from_errno(errno, what + ": stat /");
  if (todo.empty()) return check_self(what, path, st, owners);
  if (auto s = check_on_the_way(what, path, "/", st); !s) return s;
  int links = 0;
  bool self_checked = false;
  while (!todo.empty()) {
    std::string part = std::move(todo.front());
    todo.pop_front();
    self_checked = false;
    if (part == "..") {
      at = parent_of(at);  // already checked on the way here
      continue;
    }
    std::string next = at == "/" ? "/" + part : at + "/" + part;
    if (::lstat(next.c_str(), &st) != 0) {
      if (errno == ENOENT && may_be_missing) return core::Status::ok();  // made by the daemon, as root
      return core::status_from_errno(errno, what + " " + path + ": " + next);
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxLinks) {
        return core::Status::invalid_argument(what + " " + path + ": too many symbolic links");
      }
      std::string target(PATH_MAX, '\0');
      const ssize_t n = ::readlink(next.c_str(), target.data(), target.size());
      if (n < 0) return core::status_from_errno(errno, what + " " + path + ": readlink " + next);
      target.resize(static_cast<std::size_t>(n));
      if (!target.empty() && target[0] == '/') at = "/";  // "/" was checked first
      push_components(target, &todo);
      continue;
    }
    if (todo.empty()) {
      if (auto s = check_self(what, path, st, owners); !s) return s;
      self_checked = true;
    } else {
      if (!S_ISDIR(st.st_mode)) return core::Status::invalid_argument(what + " " + path + ": " + next + " is not a directory");
      if (auto s = check_on_the_way(what, path, next, st); !s) return s;
    }
    at = std::move(next);
  }
  if (!self_checked) {  // the path ended in ".." or in a link to "/"
    if (::lstat(at.c_str(), &st) != 0) return core::status_from_errno(errno, what + " " + path);
    return check_self(what, path, st, owners);
  }
  return core::Status::ok();
}

core::Status check_trusted_fd(const std::string& what, const std::string& path, int fd,
                              const std::vector<uid_t>& owners) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return core::status_from_errno(errno, what + " " + path);
  return check_self(what, path, st, owners);
}

}  // namespace fastid::supervisor
