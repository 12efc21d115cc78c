// Text syntaxes every layer shares: durations, sizes, "HOST:PORT" and quoting
// untrusted text for messages. The configuration (src/daemon) validates its
// values with these; the listeners, the clients and the pool use the same
// functions, so that all agree on one syntax.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace fastid::core {

// Durations: one or more <digits><unit> in decreasing unit order, units d, h,
// m, s, ms ("1h30m"), or "0"; no sign, fraction or space.
// Sizes: <digits> followed by nothing or B (bytes), KiB, MiB, GiB or TiB.
// Errors are kInvalidArgument with a message that says what to write instead.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
Result<std::uint64_t> parse_size(std::string_view text);
// Canonical spellings that parse back to the same value: "1h30m", "8MiB", "1000B".
std::string format_duration(std::chrono::milliseconds d);
std::string format_size(std::uint64_t bytes);

// Splits "HOST:PORT" / "[V6]:PORT" (numeric host): the one parser of the
// listeners, the clients and the configuration's kHostPort rule.
struct HostPort {
  std::string host;     // without brackets
  std::uint16_t port = 0;
};
Result<HostPort> parse_host_port(std::string_view text);

// `text` in double quotes with quotes, backslashes and control characters
// escaped (a TOML basic string literal): how untrusted names appear in messages.
std::string quote(std::string_view text);

}  // namespace fastid::core
