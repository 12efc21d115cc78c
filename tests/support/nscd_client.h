// Helpers of the nscd front's system tests (nscd_system_test,
// nscd_admin_system_test): raw requests of glibc's nscd protocol on the
// front's socket, programs run in a private mount namespace where the
// daemon's nscd folder is /run/nscd (so glibc's /var/run/nscd/socket is
// fastidd's), and strace's view of glibc's hot lookups.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>

#include "support/daemon_fixture.h"

namespace fastid::testing {

// A daemon with the nscd front on DIR/nscd/socket (and `extra` config text),
// and DIR/nsswitch.conf listing `files` alone (no fastid module).
inline void configure_nscd_front(Daemon& d, const std::string& extra) {
  fs::create_directories(d.dir() + "/nscd");
  std::string text = d.default_config_text();
  // stall_timeout is a [daemon] key: put it in that table (the first one).
  text.insert(text.find("log_level"), "stall_timeout = \"1s\"\n");
  text += "\n[nscd]\nenabled = true\nsocket = \"" + d.dir() + "/nscd/socket\"\n" + extra;
  d.write_config(text);
  write_file(d.dir() + "/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files\n");
}

// `command` in a private mount namespace: a tmpfs on /run with the daemon's
// nscd folder on /run/nscd, and the test's nsswitch.conf (files only) on /etc's.
inline CommandResult in_nscd_namespace(const Daemon& d, const std::string& command) {
  std::string inner = "mount -t tmpfs fastid-test /run && mkdir /run/nscd && mount --bind " + d.dir() +
                      "/nscd /run/nscd && mount --bind " + d.dir() + "/nsswitch.conf /etc/nsswitch.conf && " +
                      command;
  return run("unshare -m sh -c '" + inner + "' 2>&1");
}

inline int connect_nscd(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the daemon closed the connection with no byte sent (within 10
// s): end of file, or a reset when it closed with our bytes still unread.
inline bool closed_without_answer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 10000) != 1) return false;
  char c;
  const ssize_t n = ::recv(fd, &c, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

// glibc's request header (version, type, key length) and the key.
inline std::string nscd_request(std::int32_t version, std::int32_t type, std::int32_t key_len,
                                const std::string& key) {
  std::string b(12, '\0');
  std::memcpy(b.data(), &version, 4);
  std::memcpy(b.data() + 4, &type, 4);
  std::memcpy(b.data() + 8, &key_len, 4);
  return b + key;
}

// The answer to a GETFD* request (the database's name and the map's size,
// `n` bytes into `data`, and the map's descriptor passed with them): how
// many bytes came (recvmsg's count) and the descriptor, -1 when none came.
struct MapAnswer {
  ssize_t bytes = -1;
  int map_fd = -1;
};
inline MapAnswer receive_map(int fd, char* data, std::size_t n) {
  iovec iov{data, n};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  MapAnswer answer;
  answer.bytes = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  if (answer.bytes > 0 && CMSG_FIRSTHDR(&msg) != nullptr) {
    std::memcpy(&answer.map_fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof answer.map_fd);
  }
  return answer;
}

// Sends `request` on a new connection as `uid` (a child process that drops
// to it) and returns what came back within 10 s, the bytes as they are, or
// "no answer" when the daemon closed without a byte.
inline std::string nscd_exchange_as(uid_t uid, const std::string& path, const std::string& request,
                                    std::size_t want) {
  int out[2];
  if (::pipe(out) != 0) return "pipe";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    if (uid != 0 && (::setgid(uid) != 0 || ::setuid(uid) != 0)) ::_exit(3);
    int fd = connect_nscd(path);
    if (fd < 0 || ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      ::_exit(4);
    }
    std::string got(want, '\0');
    pollfd p{fd, POLLIN, 0};
    std::string said = "no answer";
    if (::poll(&p, 1, 10000) == 1) {
      const ssize_t n = ::recv(fd, got.data(), want, MSG_WAITALL);
      if (n > 0) said = got.substr(0, static_cast<std::size_t>(n));
    }
    if (::write(out[1], said.data(), said.size()) < 0) ::_exit(5);
    ::_exit(0);
  }
  ::close(out[1]);
  std::string said;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) said.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return said;
}

// Put before a traced command: LeakSanitizer refuses to run under ptrace
// and fails a sanitized program at exit ("does not work under ptrace"), so
// a sanitized probe under strace keeps ASan's other checks and drops leaks.
inline const std::string kNoLeakCheckUnderStrace = "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" ";

// strace's lines (`strace -f -e trace=%network,write`) of a run of
// nscd_probe with NSCD_PROBE_WARM: the network system calls made before and
// after its "nscd_probe: hot" line. after == -1: the line is not there.
struct HotTrace {
  int before = 0;
  int after = -1;
};
inline HotTrace network_calls_around_hot(const std::string& trace) {
  HotTrace t;
  std::istringstream in(trace);
  bool hot = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find("nscd_probe: hot") != std::string::npos) {
      hot = true;
      t.after = 0;
      continue;
    }
    // Every line but the probe's own writes is a network call (socket,
    // connect, sendto, recvmsg, ...), or its "resumed" half.
    if (line.find("write(") != std::string::npos || line.find("+++") != std::string::npos ||
        line.find("---") != std::string::npos || line.find("resumed>") != std::string::npos) {
      continue;
    }
    if (line.find('(') == std::string::npos) continue;
    ++(hot ? t.after : t.before);
  }
  return t;
}

}  // namespace fastid::testing
