// Logging: one write(2) per line, the shared level, the log file's reopening,
// the journal's format and the limit on repeated lines (log.h).
#include "core/log.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace fastid::core {
namespace {

std::atomic<int> g_local_level{static_cast<int>(LogLevel::kInfo)};
// The level every log() reads: this process's, or the shared page's.
std::atomic<std::atomic<int>*> g_level{&g_local_level};
std::atomic<int> g_fd{2};
std::atomic<bool> g_journal{false};
char g_role[32] = "fastidd";

std::mutex g_file_mu;
std::string g_file;  // --log-file, "" = none

// The repeat limit: a small direct-mapped table of recent lines by hash. A
// line whose slot another line holds takes it over (the old one's summary is
// written first), so the table never grows.
struct RepeatSlot {
  std::uint64_t hash = 0;
  std::int64_t window_start_ms = 0;
  std::uint32_t count = 0;       // lines seen in this window
  std::uint64_t suppressed = 0;  // of which not written
  LogLevel level = LogLevel::kInfo;
  std::string sample;  // the line's text, for its summary (bounded)
};
constexpr std::size_t kRepeatSlots = 64;
constexpr std::size_t kSampleChars = 200;
std::mutex g_repeat_mu;
RepeatSlot g_repeat[kRepeatSlots];
std::atomic<std::uint32_t> g_burst{0};
std::atomic<std::int64_t> g_window_ms{60000};
std::atomic<std::uint64_t> g_suppressed{0};

std::int64_t monotonic_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::uint64_t line_hash(LogLevel level, std::string_view s) {
  std::uint64_t h = 1469598103934665603ull ^ static_cast<std::uint64_t>(level);
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// syslog priorities: journald reads "<N>" at the start of a line.
int priority(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return 7;
    case LogLevel::kInfo: return 6;
    case LogLevel::kWarning: return 4;
    case LogLevel::kError: return 3;
  }
  return 6;
}

void write_line(LogLevel level, std::string_view message) {
  char prefix[128];
  int n;
  if (g_journal.load(std::memory_order_relaxed)) {
    n = std::snprintf(prefix, sizeof prefix, "<%d>%s[%d] %s: ", priority(level), g_role,
                      static_cast<int>(getpid()), log_level_name(level));
  } else {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    n = std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, g_role,
                      static_cast<int>(getpid()), log_level_name(level));
  }
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

struct Summary {
  LogLevel level;
  std::string text;
};

// Under g_repeat_mu: the summary of a slot whose window had suppressed lines.
void take_summary(RepeatSlot& s, std::int64_t now, std::vector<Summary>* out) {
  if (s.suppressed == 0) return;
  out->push_back({s.level, "last message repeated " + std::to_string(s.suppressed) + " more time(s) in " +
                               std::to_string((now - s.window_start_ms + 999) / 1000) + " s (not written): " +
                               s.sample});
  s.suppressed = 0;
}

// Whether this line may be written; fills `summaries` with lines to write first.
bool admit(LogLevel level, std::string_view message, std::vector<Summary>* summaries) {
  const std::uint32_t burst = g_burst.load(std::memory_order_relaxed);
  if (burst == 0) return true;
  const std::int64_t window = g_window_ms.load(std::memory_order_relaxed);
  const std::int64_t now = monotonic_ms();
  const std::uint64_t h = line_hash(level, message);
  std::lock_guard<std::mutex> lock(g_repeat_mu);
  RepeatSlot& s = g_repeat[h % kRepeatSlots];
  if (s.hash != h || now - s.window_start_ms >= window) {
    take_summary(s, now, summaries);
    if (s.hash != h) {
      s.hash = h;
      s.level = level;
      s.sample.assign(message.substr(0, kSampleChars));
    }
    s.window_start_ms = now;
    s.count = 0;
  }
  if (++s.count <= burst) return true;
  ++s.suppressed;
  g_suppressed.fetch_add(1, std::memory_order_relaxed);
  return false;
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

const char* log_level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "?";
}

void set_log_role(std::string_view role) {
  size_t n = role.size() < sizeof g_role - 1 ? role.size() : sizeof g_role - 1;
  std::memcpy(g_role, role.data(), n);
  g_role[n] = '\0';
}

// Set by follow_log_level: the page is another process's, mapped read-only.
std::atomic<bool> g_level_followed{false};
// The shared page's memfd (share_log_level), for shared_log_level_fd.
std::atomic<int> g_level_fd{-1};

void set_log_level(LogLevel level) {
  if (g_level_followed.load()) return;  // the front worker's level rules here
  g_level.load()->store(static_cast<int>(level));
}
void set_log_fd(int fd) { g_fd.store(fd); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()->load()); }
int log_fd() { return g_fd.load(std::memory_order_relaxed); }
const char* log_role() { return g_role; }

bool share_log_level() {
  if (g_level.load() != &g_local_level) return true;
  // A memfd rather than an anonymous page: provider workers are exec'd, not
  // forked, and map it from a descriptor (read-only: they parse directory
  // data and must not be able to change the front workers' level).
  const int fd = ::memfd_create("fastid-log-level", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return false;
  const auto size = static_cast<off_t>(::sysconf(_SC_PAGESIZE));
  if (::ftruncate(fd, size) != 0 || ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    ::close(fd);
    return false;
  }
  void* page = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (page == MAP_FAILED) {
    ::close(fd);
    return false;
  }
  static_assert(std::atomic<int>::is_always_lock_free, "a shared atomic must not hide a process-local lock");
  auto* shared = new (page) std::atomic<int>(g_local_level.load());
  g_level.store(shared);  // never unmapped: the process may log until it exits
  g_level_fd.store(fd);   // kept for shared_log_level_fd
  return true;
}

int shared_log_level_fd() {
  const int fd = g_level_fd.load();
  if (fd < 0) return -1;
  // A new open file description, read-only: a process given it cannot map the
  // page writable (mmap PROT_WRITE on it fails with EACCES).
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

bool follow_log_level(int fd) {
  void* page = ::mmap(nullptr, sizeof(std::atomic<int>), PROT_READ, MAP_SHARED, fd, 0);
  if (page == MAP_FAILED) return false;
  const int level = static_cast<const std::atomic<int>*>(page)->load();
  if (level < static_cast<int>(LogLevel::kDebug) || level > static_cast<int>(LogLevel::kError)) {
    ::munmap(page, sizeof(std::atomic<int>));
    return false;
  }
  // Loads only from here on (set_log_level returns early); never unmapped.
  g_level_followed.store(true);
  g_level.store(static_cast<std::atomic<int>*>(page));
  return true;
}

void set_log_file(std::string path) {
  std::lock_guard<std::mutex> lock(g_file_mu);
  g_file = std::move(path);
}

bool has_log_file() {
  std::lock_guard<std::mutex> lock(g_file_mu);
  return !g_file.empty();
}

std::string reopen_log_file() {
  std::lock_guard<std::mutex> lock(g_file_mu);
  if (g_file.empty()) return "no log file (the log goes to stderr)";
  int fd = ::open(g_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return "reopen " + g_file + ": " + std::strerror(errno);
  const int target = g_fd.load();
  // dup2 replaces the old file atomically: a line written meanwhile lands in
  // one file or the other, whole. dup2 clears FD_CLOEXEC on the target, which
  // is what stderr needs (provider workers inherit it).
  int rc = ::dup2(fd, target);
  int saved = errno;
  ::close(fd);
  if (rc < 0) return "reopen " + g_file + ": dup2: " + std::strerror(saved);
  return "";
}

void set_log_journal(bool on) { g_journal.store(on); }

bool journal_stream_matches(int fd) {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (js == nullptr || *js == '\0') return false;
  unsigned long long dev = 0, ino = 0;
  char tail = 0;
  if (std::sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
}

void set_log_repeat_limit(std::uint32_t burst, std::chrono::milliseconds window) {
  g_window_ms.store(window.count() > 0 ? window.count() : 1);
  g_burst.store(burst);
}

void log_flush_repeats() {
  std::vector<Summary> summaries;
  {
    const std::int64_t now = monotonic_ms();
    const std::int64_t window = g_window_ms.load(std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(g_repeat_mu);
    for (RepeatSlot& s : g_repeat) {
      if (s.suppressed > 0 && now - s.window_start_ms >= window) take_summary(s, now, &summaries);
    }
  }
  for (const auto& s : summaries) write_line(s.level, s.text);
}

std::uint64_t log_suppressed() { return g_suppressed.load(); }

void log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)->load(std::memory_order_relaxed)) return;
  std::vector<Summary> summaries;
  const bool write = admit(level, message, &summaries);
  for (const auto& s : summaries) write_line(s.level, s.text);
  if (write) write_line(level, message);
}

}  // namespace fastid::core
