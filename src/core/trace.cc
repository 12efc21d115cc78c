// Request tracing (trace.h): one line per stage on the log's descriptor.
#include "core/trace.h"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "core/log.h"

namespace fastid::core {

namespace trace_detail {
std::atomic<bool> g_enabled{false};
}

namespace {

// The key of the lookup a single-request process is serving (set_trace_key).
std::string& current_key() {
  static std::string key;
  return key;
}

}  // namespace

void set_trace_enabled(bool on) { trace_detail::g_enabled.store(on, std::memory_order_relaxed); }

void trace_stage(std::string_view stage, std::string_view key) {
  if (!trace_enabled()) return;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  char head[160];
  const int n = std::snprintf(head, sizeof head, "trace %s[%d] %lld ", log_role(), static_cast<int>(getpid()),
                              static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec);
  if (n <= 0) return;
  std::string line(head, static_cast<std::size_t>(n) < sizeof head ? static_cast<std::size_t>(n) : sizeof head - 1);
  line.append(stage);
  line.push_back(' ');
  for (char c : key.substr(0, 512)) {
    const auto u = static_cast<unsigned char>(c);
    line.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  line.push_back('\n');
  const char* p = line.data();
  std::size_t left = line.size();
  const int fd = log_fd();
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    left -= static_cast<std::size_t>(w);
  }
}

void set_trace_key(std::string_view key) {
  if (trace_enabled()) current_key().assign(key);
}

void trace_stage_current(std::string_view stage) {
  if (trace_enabled()) trace_stage(stage, current_key());
}

}  // namespace fastid::core
