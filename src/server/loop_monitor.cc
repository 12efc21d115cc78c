// LoopMonitor: the longest turn of the front worker's loop (loop_monitor.h).
#include "server/loop_monitor.h"

#include <time.h>

#include <algorithm>
#include <utility>

namespace fastid::server {

namespace {

std::uint64_t thread_cpu_us() {
  timespec ts{};
  if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

LoopMonitor::LoopMonitor(asio::any_io_executor executor, std::function<std::uint64_t()> activity,
                         LoopMonitorOptions options)
    : timer_(executor), activity_(std::move(activity)), options_(options) {}

void LoopMonitor::start() {
  stopping_ = false;
  const auto now = std::chrono::steady_clock::now();
  window_start_ = now;
  last_active_ = now;
  last_activity_ = activity_ ? activity_() : 0;
  last_cpu_us_ = thread_cpu_us();
  arm(now + options_.busy_period);
}

void LoopMonitor::stop() {
  stopping_ = true;
  timer_.cancel();
}

std::uint64_t LoopMonitor::longest_recent_us() const {
  // A window that ended more than one window ago is not recent any more.
  const auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= 2 * options_.window) return 0;
  if (now - window_start_ >= options_.window) return window_us_;
  return std::max(window_us_, last_window_us_);
}

void LoopMonitor::arm(std::chrono::steady_clock::time_point due) {
  if (stopping_) return;
  timer_.expires_at(due);
  timer_.async_wait([this, due](const asio::error_code& ec) {
    if (ec || stopping_) return;
    fired(due);
  });
}

void LoopMonitor::fired(std::chrono::steady_clock::time_point due) {
  const auto now = std::chrono::steady_clock::now();
  ++probes_;
  const auto late = std::chrono::duration_cast<std::chrono::microseconds>(now - due).count();
  const std::uint64_t us = late > 0 ? static_cast<std::uint64_t>(late) : 0;
  if (now - window_start_ >= options_.window) {
    // Windows that passed with no probe (idle) held nothing.
    last_window_us_ = now - window_start_ >= 2 * options_.window ? 0 : window_us_;
    window_us_ = 0;
    window_start_ = now;
  }
  window_us_ = std::max(window_us_, us);
  longest_us_ = std::max(longest_us_, us);
  const std::uint64_t cpu = thread_cpu_us();
  longest_cpu_us_ = std::max(longest_cpu_us_, std::min(us, cpu - std::min(cpu, last_cpu_us_)));
  last_cpu_us_ = cpu;
  const std::uint64_t activity = activity_ ? activity_() : 0;
  if (activity != last_activity_) {
    last_activity_ = activity;
    last_active_ = now;
  }
  const bool idle = now - last_active_ >= options_.idle_after;
  arm(now + (idle ? options_.idle_period : options_.busy_period));
}

}  // namespace fastid::server
