// Privilege drop (privileges.h): the identity, the hand-over of the state
// directory to it, and the drop itself in each front worker.
#include "supervisor/privileges.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "core/log.h"
#include "fastcache/layout.h"
#include "supervisor/trusted_directory.h"

namespace fastid::supervisor {
namespace {

bool parse_id(const std::string& text, unsigned* out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

core::Result<Identity> resolve_identity(const std::string& user, const std::string& group) {
  Identity who;
  unsigned id = 0;
  bool have_gid = false;
  if (parse_id(user, &id)) {
    who.uid = id;
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (::getpwuid_r(who.uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
      who.gid = pw.pw_gid;
      have_gid = true;
    }
  } else {
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    int rc = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0 || found == nullptr) {
      return core::error(core::Status::invalid_argument("[daemon] user: no user \"" + user + "\"" +
                                                        (rc ? std::string(": ") + std::strerror(rc) : "")));
    }
    who.uid = pw.pw_uid;
    who.gid = pw.pw_gid;
    have_gid = true;
  }
  if (!group.empty()) {
    if (parse_id(group, &id)) {
      who.gid = id;
    } else {
      struct group gr{};
      struct group* found = nullptr;
      std::vector<char> buf(65536);
      int rc = ::getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &found);
      if (rc != 0 || found == nullptr) {
        return core::error(core::Status::invalid_argument("[daemon] group: no group \"" + group + "\""));
      }
      who.gid = gr.gr_gid;
    }
    have_gid = true;
  }
  if (!have_gid) {
    return core::error(core::Status::invalid_argument(
        "[daemon] user " + user + " has no passwd entry: set [daemon] group as well"));
  }
  if (who.uid == 0) {
    return core::error(core::Status::invalid_argument("[daemon] user: dropping to root drops nothing"));
  }
  who.name = user + " (uid " + std::to_string(who.uid) + ", gid " + std::to_string(who.gid) + ")";
  return who;
}

namespace {

// Gives the entries directly inside the open directory `dir` to `who`. The
// directory is the target user's: any name in it may be swapped at any time
// (for a symbolic link, or a hard link to a file of root's). So each entry is
// opened without following links (O_PATH|O_NOFOLLOW), checked on that
// descriptor, and changed through it: only directories and regular files
// with a single link are given; anything else is left alone and logged.
core::Status give_entries(int dir, const Identity& who, const std::string& path) {
  const int list_fd = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (list_fd < 0) return core::status_from_errno(errno, "open " + path);
  DIR* list = ::fdopendir(list_fd);
  if (list == nullptr) {
    const int err = errno;
    ::close(list_fd);
    return core::status_from_errno(err, "opendir " + path);
  }
  core::Status result = core::Status::ok();
  while (dirent* e = ::readdir(list)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    const std::string child = path + "/" + e->d_name;
    const int fd = ::openat(dir, e->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) continue;  // gone since readdir
      result = core::status_from_errno(errno, "open " + child);
      break;
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      result = core::status_from_errno(errno, "stat " + child);
      ::close(fd);
      break;
    }
    const bool own_file = S_ISREG(st.st_mode) && st.st_nlink == 1;
    if (!own_file && !S_ISDIR(st.st_mode)) {
      core::log_warning("not handing " + child + " to " + who.name +
                        ": neither a directory nor a file with a single link");
    } else if ((st.st_uid != who.uid || st.st_gid != who.gid) &&
               ::fchownat(fd, "", who.uid, who.gid, AT_EMPTY_PATH) != 0) {
      result = core::status_from_errno(errno, "chown " + child);
      ::close(fd);
      break;
    }
    ::close(fd);
  }
  ::closedir(list);
  return result;
}

}  // namespace

core::Status mark_cache_owner(const std::string& socket_dir, uid_t uid) {
  const int dir = ::open(socket_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) {
    return core::Status::unavailable("cannot open " + socket_dir + ": " + std::strerror(errno));
  }
  // A fresh file every start: never one whose owner someone else chose.
  if (::unlinkat(dir, fastcache::kCacheOwnerMarker, 0) != 0 && errno != ENOENT) {
    const int e = errno;
    ::close(dir);
    return core::Status::unavailable("cannot replace " + socket_dir + "/" + fastcache::kCacheOwnerMarker +
                                     ": " + std::strerror(e));
  }
  const int fd = ::openat(dir, fastcache::kCacheOwnerMarker,
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
  const int e = errno;
  ::close(dir);
  if (fd < 0) {
    return core::Status::unavailable("cannot create " + socket_dir + "/" + fastcache::kCacheOwnerMarker +
                                     ": " + std::strerror(e));
  }
  const bool given = ::fchown(fd, uid, static_cast<gid_t>(-1)) == 0;
  const int ce = errno;
  ::close(fd);
  if (!given) {
    return core::Status::unavailable("cannot give " + socket_dir + "/" + fastcache::kCacheOwnerMarker +
                                     " to uid " + std::to_string(uid) + ": " + std::strerror(ce));
  }
  return core::Status::ok();
}

core::Status hand_over(const Identity& who, const std::string& dir, const std::vector<Subdirectory>& subdirs) {
  // `dir` itself sits in directories only root can change (the daemon checked
  // that with check_trusted_directory); the open descriptor is checked again.
  const int top = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (top < 0) return core::status_from_errno(errno, "open " + dir);
  auto close_top = [top] { ::close(top); };
  if (auto st = check_trusted_fd("[daemon] state_dir", dir, top, {who.uid}); !st) {
    close_top();
    return st;
  }
  if (::fchown(top, who.uid, who.gid) != 0) {
    const int err = errno;
    close_top();
    return core::status_from_errno(err, "chown " + dir);
  }
  for (const auto& sub : subdirs) {
    const std::string path = dir + "/" + sub.name;
    if (sub.create && ::mkdirat(top, sub.name.c_str(), 0755) != 0 && errno != EEXIST) {
      const int err = errno;
      close_top();
      return core::status_from_errno(err, "mkdir " + path);
    }
    // Never through a link: the name is the target user's to change.
    const int fd = ::openat(top, sub.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == ENOENT && !sub.create) continue;
      close_top();
      if (err == ELOOP || err == ENOTDIR) {
        return core::Status::permission_denied(path + " is not a directory (a symbolic link?): "
                                               "not handing it to " + who.name + "; remove it");
      }
      return core::status_from_errno(err, "open " + path);
    }
    core::Status st = core::Status::ok();
    if (::fchown(fd, who.uid, who.gid) != 0) {
      st = core::status_from_errno(errno, "chown " + path);
    } else {
      st = give_entries(fd, who, path);
    }
    ::close(fd);
    if (!st) {
      close_top();
      return st;
    }
  }
  close_top();
  return core::Status::ok();
}

core::Status drop_to(const Identity& who) {
  if (::setgroups(1, &who.gid) != 0) return core::status_from_errno(errno, "setgroups");
  if (::setgid(who.gid) != 0) return core::status_from_errno(errno, "setgid");
  if (::setuid(who.uid) != 0) return core::status_from_errno(errno, "setuid");
  if (::setuid(0) == 0 || ::geteuid() == 0) {
    return core::Status::internal("privileges could be regained after dropping to " + who.name);
  }
  // A credential change resets the dumpable flag to fs.suid_dumpable, which
  // may be 1: then every process of the target user could ptrace this front worker
  // and read the passwords it handles. Clear it again, and check.
  if (::prctl(PR_SET_DUMPABLE, 0) != 0 || ::prctl(PR_GET_DUMPABLE) != 0) {
    return core::status_from_errno(errno, "prctl(PR_SET_DUMPABLE, 0) after the drop");
  }
  // A credential change clears the parent-death signal: set it again.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() == 1) return core::Status::unavailable("the supervisor is gone");
  return core::Status::ok();
}

}  // namespace fastid::supervisor
