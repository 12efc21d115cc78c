// Logging for the daemon: whole lines, one write(2) each, tagged with the
// process role and pid, so that lines from several processes sharing stderr
// never interleave. Safe to call from any thread. Never log secrets.
//
// Operations (docs/operations.md, "Logs"): the level may live in a page
// shared by every process forked after share_log_level(), so `fastid
// debug-level` reaches every front worker at once; the log file is reopened
// on request (SIGUSR1, for logrotate); a message repeated more than
// `burst` times in a window is counted instead of written, and one summary
// line says how many were dropped; under systemd (stderr is the journal:
// JOURNAL_STREAM), lines carry a `<N>` syslog priority and no timestamp.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace fastid::core {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug", "info", "warning", "error"; false for anything else.
bool parse_log_level(std::string_view text, LogLevel* out);
const char* log_level_name(LogLevel level);

// Process-wide settings: set at start-up and after fork, before other threads.
void set_log_role(std::string_view role);  // "fastidd", "front-worker0", "supervisor", "provider-worker"
void set_log_level(LogLevel level);
void set_log_fd(int fd);                   // default 2 (stderr)
LogLevel log_level();
int log_fd();                           // where lines go (core/trace.h writes there too)
const char* log_role();

// Moves the level into a MAP_SHARED page (a sealed memfd): processes forked
// afterwards share it, and set_log_level() in any of them changes it for all.
// Call once, before the fork; false (level stays per process) when it fails.
bool share_log_level();

// A read-only descriptor of the shared level page (close-on-exec; the caller
// closes it), for a process that is exec'd rather than forked (a provider
// worker) to follow the level with follow_log_level; -1 when not shared.
int shared_log_level_fd();
// Follows the level in the page behind `fd` (mapped read-only; `fd` may be
// closed afterwards): every later set_log_level() elsewhere shows here at
// once, and this process's own set_log_level() no longer changes anything.
// false (the level stays this process's own) when the page cannot be mapped.
bool follow_log_level(int fd);

// The file the log fd writes to (--log-file), for reopen_log_file(): opened
// again (append, create 0640, close-on-exec) and put in place of the log fd
// with dup2, so the fd number — and stderr, which is the log fd then — stays.
// Returns "" or what went wrong. Not async-signal-safe: call it from a loop.
void set_log_file(std::string path);
std::string reopen_log_file();
bool has_log_file();

// Journald's line format: "<N>" priority first, no timestamp (the journal
// stamps each line). journal_stream_matches() is true when JOURNAL_STREAM
// names the device and inode of `fd` (systemd sets it for the service's
// stdout/stderr; a redirected stderr no longer matches).
void set_log_journal(bool on);
bool journal_stream_matches(int fd);

// Repeated messages: past `burst` identical lines (same level and text) in
// `window`, the rest are counted, not written, and a summary follows ("last
// message repeated N more times"). burst 0: no limit.
void set_log_repeat_limit(std::uint32_t burst, std::chrono::milliseconds window);
// Writes the summaries of windows that have ended (call it on a timer, so a
// burst that stopped is still summarised).
void log_flush_repeats();
// Lines dropped by the limit so far in this process.
std::uint64_t log_suppressed();

void log(LogLevel level, std::string_view message);
inline void log_debug(std::string_view m) { log(LogLevel::kDebug, m); }
inline void log_info(std::string_view m) { log(LogLevel::kInfo, m); }
inline void log_warning(std::string_view m) { log(LogLevel::kWarning, m); }
inline void log_error(std::string_view m) { log(LogLevel::kError, m); }

}  // namespace fastid::core
