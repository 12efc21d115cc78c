#include "core/log.h"

#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace fastid::core {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_fd{2};
char g_role[32] = "fastidd";

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "?";
}

}  // namespace

bool parse_log_level(std::string_view text, LogLevel* out) {
  if (text == "debug") *out = LogLevel::kDebug;
  else if (text == "info") *out = LogLevel::kInfo;
  else if (text == "warning") *out = LogLevel::kWarning;
  else if (text == "error") *out = LogLevel::kError;
  else return false;
  return true;
}

void set_log_role(std::string_view role) {
  size_t n = role.size() < sizeof g_role - 1 ? role.size() : sizeof g_role - 1;
  std::memcpy(g_role, role.data(), n);
  g_role[n] = '\0';
}

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }
void set_log_fd(int fd) { g_fd.store(fd); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }
int log_fd() { return g_fd.load(std::memory_order_relaxed); }
const char* log_role() { return g_role; }

void log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char prefix[128];
  int n = std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, ts.tv_nsec / 1000000, g_role, static_cast<int>(getpid()),
                        level_name(level));
  std::string line;
  line.reserve(static_cast<size_t>(n) + message.size() + 1);
  line.append(prefix, static_cast<size_t>(n));
  // One record per line: a newline inside a message (directory data is
  // untrusted) must not forge a second log line.
  for (char c : message) line.push_back(c == '\n' || c == '\r' ? ' ' : c);
  line.push_back('\n');
  const char* p = line.data();
  size_t left = line.size();
  int fd = g_fd.load(std::memory_order_relaxed);
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
}

}  // namespace fastid::core
