// A raw Varlink client for tests of the systemd userdb front (docs/varlink.md):
// sends bytes exactly as given (hostile ones too) on a Unix stream socket and
// reads NUL-terminated replies within a deadline; and userdb_namespace(), which
// runs a command where nss-systemd and userdbctl see only one test's
// /run/systemd/userdb and an nsswitch.conf of its own (a private mount
// namespace: the host's /run and /etc are never touched). Needs root.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "support/daemon_fixture.h"

namespace fastid::testing {

class VarlinkClient {
 public:
  explicit VarlinkClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~VarlinkClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  VarlinkClient(const VarlinkClient&) = delete;
  VarlinkClient& operator=(const VarlinkClient&) = delete;

  bool connected() const { return fd_ >= 0; }

  // Sends every byte; false when the peer closed (EPIPE, ECONNRESET) first.
  bool send_raw(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  bool send(const std::string& message) { return send_raw(message + std::string(1, '\0')); }

  // The next message (without its NUL); nullopt on EOF, error or after `limit`.
  std::optional<std::string> read_message(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (auto nul = in_.find('\0'); nul != std::string::npos) {
        std::string m = in_.substr(0, nul);
        in_.erase(0, nul + 1);
        return m;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return std::nullopt;
      in_.append(buf, static_cast<std::size_t>(n));
    }
  }

  // Every reply of one call: messages up to the first without "continues":true.
  std::vector<std::string> replies() {
    std::vector<std::string> out;
    while (auto m = read_message()) {
      out.push_back(*m);
      if (m->find("\"continues\":true") == std::string::npos) break;
    }
    return out;
  }

  // Whether the peer closes the connection within `limit` (EOF or reset, with
  // nothing more to read).
  bool closed_by_peer(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
  }

 private:
  int fd_ = -1;
  std::string in_;
};

// Runs `command` (through sh) in a private mount namespace where
// /run/systemd/userdb is `userdb_dir` and /etc/nsswitch.conf is
// `nsswitch_conf`: nss-systemd and userdbctl there ask the test's services
// only. A tmpfs over /run/systemd (or /run) makes the mount point, so the
// host's folders are never created or changed. stdout and stderr together.
inline CommandResult userdb_namespace(const std::string& userdb_dir, const std::string& nsswitch_conf,
                                      const std::string& command) {
  const std::string script =
      "set -e; if [ -d /run/systemd ]; then mount -t tmpfs -o mode=0755 fastid-test /run/systemd; "
      "else mount -t tmpfs -o mode=0755 fastid-test /run; fi; mkdir -p /run/systemd/userdb; "
      "mount --bind " + userdb_dir + " /run/systemd/userdb; mount --bind " + nsswitch_conf +
      " /etc/nsswitch.conf; set +e; " + command;
  std::string quoted;
  for (char c : script) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return run("unshare -m sh -c '" + quoted + "' 2>&1");
}

}  // namespace fastid::testing
