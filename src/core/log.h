// Logging for the daemon: whole lines, one write(2) each, tagged with the
// process role and pid, so that lines from several processes sharing stderr
// never interleave. Safe to call from any thread. Never log secrets.
#pragma once

#include <string_view>

namespace fastid::core {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug", "info", "warning", "error"; false for anything else.
bool parse_log_level(std::string_view text, LogLevel* out);

// Process-wide settings: set at start-up and after fork, before other threads.
void set_log_role(std::string_view role);  // "fastidd", "worker", "supervisor"…
void set_log_level(LogLevel level);
void set_log_fd(int fd);                   // default 2 (stderr)
LogLevel log_level();
int log_fd();                           // where lines go (core/trace.h writes there too)
const char* log_role();

void log(LogLevel level, std::string_view message);
inline void log_debug(std::string_view m) { log(LogLevel::kDebug, m); }
inline void log_info(std::string_view m) { log(LogLevel::kInfo, m); }
inline void log_warning(std::string_view m) { log(LogLevel::kWarning, m); }
inline void log_error(std::string_view m) { log(LogLevel::kError, m); }

}  // namespace fastid::core
