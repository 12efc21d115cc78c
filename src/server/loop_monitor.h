// LoopMonitor: how long the front worker's event loop was held by one turn
// (issue 20, "loop latency"): a handler that runs for 20 ms delays every
// lookup, timer and accept behind it by as much, so it is measured and shown
// in `fastid status` (loop.longest_turn_us).
//
// How: a probe timer on the loop itself. When it fires, how late it is (now
// minus the time it was due) is how long the loop was busy with something
// else when it fell due — the rest of the turn that held it, at least. A turn
// of L µs is seen as at least L minus the probe's period, so the figure is
// the longest turn within one period (a lower bound; Asio offers no hook
// around each handler, and wrapping every handler of the worker would cost
// every request). That lateness also counts time the worker waited for a
// CPU; longest_cpu_us() leaves it out: the loop thread's own CPU time
// (CLOCK_THREAD_CPUTIME_ID) since the probe before, capped by the lateness —
// what a turn really spent running, whatever the machine's load.
// The period is short (5 ms) while the worker serves and
// long (250 ms) when `activity` has not moved for a second: an idle daemon
// does not wake 200 times a second. Loop-thread only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>

namespace fastid::server {

struct LoopMonitorOptions {
  std::chrono::microseconds busy_period{5000};
  std::chrono::microseconds idle_period{250000};
  std::chrono::milliseconds idle_after{1000};  // no activity this long: idle period
  std::chrono::milliseconds window{10000};     // longest_recent_us: this window and the one before
};

class LoopMonitor {
 public:
  // `activity`: a counter that moves while the worker serves (its requests).
  LoopMonitor(asio::any_io_executor executor, std::function<std::uint64_t()> activity,
              LoopMonitorOptions options = {});
  void start();
  void stop();

  // The latest a probe ran behind its due time, in µs: since start, and over
  // the last one to two windows.
  std::uint64_t longest_us() const { return longest_us_; }
  std::uint64_t longest_cpu_us() const { return longest_cpu_us_; }
  std::uint64_t longest_recent_us() const;
  std::uint64_t probes() const { return probes_; }

 private:
  void arm(std::chrono::steady_clock::time_point due);
  void fired(std::chrono::steady_clock::time_point due);

  asio::steady_timer timer_;
  std::function<std::uint64_t()> activity_;
  LoopMonitorOptions options_;
  bool stopping_ = false;
  std::uint64_t longest_us_ = 0;
  std::uint64_t longest_cpu_us_ = 0;
  std::uint64_t last_cpu_us_ = 0;  // the loop thread's CPU time at the last probe
  std::uint64_t window_us_ = 0;       // the current window's longest
  std::uint64_t last_window_us_ = 0;  // the previous window's
  std::chrono::steady_clock::time_point window_start_{};
  std::uint64_t last_activity_ = 0;
  std::chrono::steady_clock::time_point last_active_{};
  std::uint64_t probes_ = 0;
};

}  // namespace fastid::server
