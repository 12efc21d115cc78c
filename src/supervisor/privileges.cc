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

core::Status hand_over(const Identity& who, const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    if (::lchown(path.c_str(), who.uid, who.gid) != 0) {
      return core::status_from_errno(errno, "chown " + path);
    }
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return core::status_from_errno(errno, "opendir " + path);
    while (dirent* e = ::readdir(dir)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      std::string child = path + "/" + e->d_name;
      if (::lchown(child.c_str(), who.uid, who.gid) != 0) {
        int err = errno;
        ::closedir(dir);
        return core::status_from_errno(err, "chown " + child);
      }
    }
    ::closedir(dir);
  }
  return core::Status::ok();
}

core::Status drop_to(const Identity& who) {
  if (::setgroups(1, &who.gid) != 0) return core::status_from_errno(errno, "setgroups");
  if (::setgid(who.gid) != 0) return core::status_from_errno(errno, "setgid");
  if (::setuid(who.uid) != 0) return core::status_from_errno(errno, "setuid");
  if (::setuid(0) == 0 || ::geteuid() == 0) {
    return core::Status::internal("privileges could be regained after dropping to " + who.name);
  }
  // A credential change clears the parent-death signal: set it again.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() == 1) return core::Status::unavailable("the supervisor is gone");
  return core::Status::ok();
}

}  // namespace fastid::supervisor
