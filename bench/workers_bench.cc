// workers_bench: lookups against fastidd from N client threads, each on its
// own kept connection, for D seconds; prints one line of figures.
//
//   workers_bench unix PATH THREADS SECONDS     getpwnam over the Unix socket (raw frames:
//                                              no fast cache, the socket path itself)
//   workers_bench tcp HOST:PORT THREADS SECONDS getpwnam over TCP (NetClient)
//   workers_bench udp HOST:PORT THREADS SECONDS getpwnam over UDP (NetClient, 512-byte datagrams)
//   workers_bench floor THREADS SECONDS         the floor: a raw request/reply of the same
//                                              sizes between this process and a forked echo
//                                              process over a Unix stream socket
//
// Names rotate over user00001..user10000 (scripts/gen-dataset's), each thread
// from its own offset. Output: "ops N ops_per_s X p50_us Y p99_us Z errors E".
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "netclient/net_client.h"
#include "proto/messages.h"
#include "proto/wire.h"

using Clock = std::chrono::steady_clock;
using namespace fastid;

namespace {

struct ThreadResult {
  std::vector<double> us;
  long errors = 0;
};

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool exchange(int fd, const proto::Bytes& frame, std::vector<std::uint8_t>& buf) {
  if (::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size())) return false;
  if (::recv(fd, buf.data(), proto::kHeaderSize, MSG_WAITALL) != static_cast<ssize_t>(proto::kHeaderSize)) {
    return false;
  }
  proto::FrameHeader h{};
  if (proto::decode_header(buf.data(), &h) != proto::HeaderCheck::kOk || h.status != 0) return false;
  if (h.length > buf.size() - proto::kHeaderSize) return false;
  return h.length == 0 ||
         ::recv(fd, buf.data() + proto::kHeaderSize, h.length, MSG_WAITALL) == static_cast<ssize_t>(h.length);
}

// getpwnam frames over `fd`, one at a time until `end`, each one timed.
void frames_until(int fd, int index, Clock::time_point end, ThreadResult* out) {
  std::vector<std::uint8_t> buf(65536);
  char name[16];
  for (std::uint32_t i = 0; Clock::now() < end; ++i) {
    std::snprintf(name, sizeof name, "user%05u", 1 + (static_cast<unsigned>(index) * 997 + i) % 10000);
    auto frame = proto::encode_request({proto::Opcode::kGetpwnam, i + 1, name, 0, 0, 0});
    auto t0 = Clock::now();
    bool ok = exchange(fd, frame, buf);
    out->us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!ok) ++out->errors;
  }
}

void unix_thread(std::string path, int index, Clock::time_point end, ThreadResult* out) {
  int fd = connect_unix(path);
  if (fd < 0) {
    out->errors = 1;
    return;
  }
  frames_until(fd, index, end, out);
  ::close(fd);
}

void net_thread(std::string server, netclient::Transport t, int index, Clock::time_point end, ThreadResult* out) {
  netclient::NetClient client({.servers = {server}, .timeout = std::chrono::milliseconds(5000)});
  char name[16];
  for (std::uint32_t i = 0; Clock::now() < end; ++i) {
    std::snprintf(name, sizeof name, "user%05u", 1 + (static_cast<unsigned>(index) * 997 + i) % 10000);
    auto t0 = Clock::now();
    auto u = model::answer_as<model::User>(client.lookup(model::Query::user_by_name(name), t));
    out->us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!u || u->name != name) ++out->errors;
  }
}

// The floor: one process answers every frame with a reply of a passwd
// record's size, as fast as it can read; no decoding, no lookup.
void floor_thread(int fd, int index, Clock::time_point end, ThreadResult* out) { frames_until(fd, index, end, out); }

[[noreturn]] void echo_server(int fd) {
  model::User u{"user00001", "x", 100001, 200001, "User 1;ck=1692470443", "/home/user00001", "/bin/sh"};
  auto reply = proto::encode_answer(0, model::Query::user_by_name(u.name), u);
  std::vector<std::uint8_t> buf(65536);
  for (;;) {
    if (::recv(fd, buf.data(), proto::kHeaderSize, MSG_WAITALL) != static_cast<ssize_t>(proto::kHeaderSize)) _exit(0);
    std::uint32_t len = proto::load_u32(buf.data() + 12);
    if (len && ::recv(fd, buf.data() + proto::kHeaderSize, len, MSG_WAITALL) != static_cast<ssize_t>(len)) _exit(0);
    if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reply.size())) _exit(0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: workers_bench unix PATH|tcp ADDR|udp ADDR THREADS SECONDS | floor THREADS SECONDS\n");
    return 2;
  }
  std::string mode = argv[1];
  const bool floor = mode == "floor";
  std::string target = floor ? "" : argv[2];
  int threads = std::atoi(argv[floor ? 2 : 3]);
  double seconds = std::atof(argv[floor ? 3 : 4]);
  if (threads < 1 || threads > 1024 || seconds <= 0) return 2;
  std::vector<ThreadResult> results(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  std::vector<pid_t> echoes;
  std::vector<int> floor_fds;
  if (floor) {
    for (int t = 0; t < threads; ++t) {
      int sv[2];
      ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
      pid_t pid = ::fork();
      if (pid == 0) {
        ::close(sv[0]);
        echo_server(sv[1]);
      }
      ::close(sv[1]);
      echoes.push_back(pid);
      floor_fds.push_back(sv[0]);
    }
  }
  auto start = Clock::now();
  auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (int t = 0; t < threads; ++t) {
    ThreadResult* r = &results[static_cast<size_t>(t)];
    if (mode == "unix") {
      pool.emplace_back(unix_thread, target, t, end, r);
    } else if (mode == "tcp") {
      pool.emplace_back(net_thread, target, netclient::Transport::kTcp, t, end, r);
    } else if (mode == "udp") {
      pool.emplace_back(net_thread, target, netclient::Transport::kUdp, t, end, r);
    } else if (floor) {
      pool.emplace_back(floor_thread, floor_fds[static_cast<size_t>(t)], t, end, r);
    } else {
      return 2;
    }
  }
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  for (int fd : floor_fds) ::close(fd);
  for (pid_t p : echoes) ::waitpid(p, nullptr, 0);
  std::vector<double> all;
  long errors = 0;
  for (auto& r : results) {
    all.insert(all.end(), r.us.begin(), r.us.end());
    errors += r.errors;
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * static_cast<double>(all.size())))];
  };
  std::printf("ops %zu ops_per_s %.0f p50_us %.1f p99_us %.1f errors %ld\n", all.size(),
              static_cast<double>(all.size()) / elapsed, pct(0.5), pct(0.99), errors);
  return errors == 0 ? 0 : 1;
}
