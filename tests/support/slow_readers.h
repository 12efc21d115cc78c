// Slow readers of one large reply, for the hostile-clients cases
// (hostile_clients_system_test, big_replies_system_test): `silent + drip`
// raw connections to fastidd's nss socket, opened first and counted in
// `connections.open`, then one request frame sent on each in a burst; for
// stall_timeout + 2 s a probe connection keeps being served lookups (timed),
// fastidd's RSS peak is sampled, and each drip reader takes one byte every
// 200 ms; then the wait until fastidd closed them all (the stall timeout).
// It asserts nothing: the cases judge its figures (and print them).
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon_fixture.h"
#include "support/process_figures.h"
#include "support/raw_client.h"

namespace fastid::testing {

struct SlowReadersOptions {
  std::string socket;                  // fastidd's nss socket
  std::vector<std::uint8_t> request;   // the frame each reader sends once
  int silent = 200;                    // readers that never read
  int drip = 5;                        // readers that take one byte every 200 ms
  int stall_seconds = 1;               // fastidd's [daemon] stall_timeout
  int probe_users = 50;                // the probe asks for user00001 … this one, in turn
};

struct SlowReadersFigures {
  // False when the readers could not all connect, be counted open, or send
  // their request; `setup_error` says which (no other figure is set).
  bool started = false;
  std::string setup_error;
  std::uint64_t rss0_kib = 0;       // fastidd's RSS before the readers connected
  std::uint64_t peak_kib = 0;       // its peak while they were held (at least rss0)
  int served = 0, failed = 0;       // the probe's lookups meanwhile
  double worst_ms = 0;              // the slowest of them
  bool all_closed = false;          // fastidd closed every reader (connections.open back to 1)
  std::string open_at_end;          // connections.open when the wait gave up ("" when all closed)
  double closed_s = 0;              // from the burst to the end of that wait
  // Per drip reader: bytes received (the drips, then what was left in its
  // socket once fastidd had closed it), and whether a drip saw the end of
  // the stream (or an error) while the probe ran.
  std::vector<std::size_t> drip_bytes;
  std::vector<bool> drip_saw_end;
};

// Runs the slow readers against `d` (already started; its status connection
// the only one open) and closes them before it returns.
inline SlowReadersFigures run_slow_readers(const Daemon& d, const SlowReadersOptions& o) {
  using Clock = std::chrono::steady_clock;
  using namespace std::chrono_literals;
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  SlowReadersFigures f;
  struct Readers {
    std::vector<int> silent, drip;
    ~Readers() {
      for (int fd : silent) ::close(fd);
      for (int fd : drip) ::close(fd);
    }
  } r;
  f.rss0_kib = fastidd_rss_kib(d.pid());
  // Connected first, then every request sent in one burst: they arrive
  // together, and the loop answers up to an epoll batch of them in one turn.
  for (int i = 0; i < o.silent + o.drip; ++i) {
    int fd = connect_unix(o.socket);
    if (fd < 0) {
      f.setup_error = "reader " + std::to_string(i) + " could not connect";
      return f;
    }
    (i < o.silent ? r.silent : r.drip).push_back(fd);
  }
  const std::string all_open = std::to_string(o.silent + o.drip + 1);  // and the status connection
  if (!wait_until([&] { return d.status_value("connections.open") == all_open; }, 10s)) {
    f.setup_error = d.status_value("connections.open") + " connections open, " + all_open + " expected";
    return f;
  }
  const auto t0 = Clock::now();
  for (const auto* fds : {&r.silent, &r.drip}) {
    for (int fd : *fds) {
      if (!send_all(fd, o.request)) {
        f.setup_error = "a reader could not send its request";
        return f;
      }
    }
  }
  f.started = true;
  // Meanwhile another client is served, and the peak of memory is sampled.
  f.peak_kib = f.rss0_kib;
  f.drip_bytes.assign(r.drip.size(), 0);
  f.drip_saw_end.assign(r.drip.size(), false);
  int probe = connect_unix(o.socket);
  auto last_drip = Clock::now();
  while (seconds_since(t0) < o.stall_seconds + 2.0) {
    const auto q0 = Clock::now();
    char name[16];
    std::snprintf(name, sizeof name, "user%05d", 1 + f.served % o.probe_users);
    (lookup(probe, static_cast<std::uint32_t>(f.served + 1), name) ? f.served : f.failed)++;
    f.worst_ms = std::max(f.worst_ms, seconds_since(q0) * 1000);
    f.peak_kib = std::max(f.peak_kib, fastidd_rss_kib(d.pid()));
    if (Clock::now() - last_drip >= 200ms) {
      last_drip = Clock::now();
      for (std::size_t i = 0; i < r.drip.size(); ++i) {
        if (f.drip_saw_end[i]) continue;
        char c;
        ssize_t n = ::recv(r.drip[i], &c, 1, MSG_DONTWAIT);
        if (n == 1) ++f.drip_bytes[i];
        else if (n == 0 || (n < 0 && errno != EAGAIN)) f.drip_saw_end[i] = true;
      }
    }
    std::this_thread::sleep_for(5ms);
  }
  if (probe >= 0) ::close(probe);
  // Every slow connection is closed by the daemon (the stall timeout).
  f.all_closed = wait_until([&] { return d.status_value("connections.open") == "1"; }, 10s);
  if (!f.all_closed) f.open_at_end = d.status_value("connections.open");
  f.closed_s = seconds_since(t0);
  for (std::size_t i = 0; i < r.drip.size(); ++i) {
    char buf[65536];
    for (ssize_t n; (n = ::recv(r.drip[i], buf, sizeof buf, MSG_DONTWAIT)) > 0;)
      f.drip_bytes[i] += static_cast<std::size_t>(n);
  }
  return f;
}

}  // namespace fastid::testing
