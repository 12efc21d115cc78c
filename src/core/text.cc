// Text syntaxes shared by the configuration, the listeners and the clients:
// durations ("1h30m"), sizes ("8MiB"), "HOST:PORT" and quoting untrusted text.
// Written once here so that every layer agrees on them; they know nothing
// about the configuration file.
#include "core/text.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <string>

namespace fastid::core {
namespace {

using std::chrono::milliseconds;
using Ms = std::int64_t;

constexpr Ms kSecond = 1000;
constexpr Ms kMinute = 60 * kSecond;
constexpr Ms kHour = 60 * kMinute;
constexpr Ms kDay = 24 * kHour;

Status invalid(std::string message) { return Status::invalid_argument(std::move(message)); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}

}  // namespace

Result<milliseconds> parse_duration(std::string_view text) {
  struct Unit {
    std::string_view name;
    std::uint64_t ms;
  };
  // Largest first: the order a duration must be written in.
  static constexpr Unit kUnits[] = {
      {"d", kDay}, {"h", kHour}, {"m", kMinute}, {"s", kSecond}, {"ms", 1}};
  const std::string q = quote(text);
  if (text.empty()) return error(invalid("empty duration: write a number and a unit, e.g. \"15s\""));
  if (text[0] == '-') return error(invalid("negative duration " + q + " is not allowed"));
  if (text == "0") return milliseconds(0);

  std::uint64_t total = 0;
  int last_rank = -1;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    if (i == start) {
      return error(invalid("malformed duration " + q +
                                 ": expected a number and a unit (ms, s, m, h, d), e.g. \"1h30m\""));
    }
    const std::string_view digits = text.substr(start, i - start);
    if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
      return error(invalid("fractions are not supported in duration " + q +
                                 ": use a smaller unit, e.g. \"1500ms\""));
    }
    const std::size_t unit_start = i;
    while (i < text.size() && is_alpha(text[i])) ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    if (unit.empty()) {
      if (i == text.size()) {
        return error(invalid("duration " + q + " has no unit: add one of ms, s, m, h, d (\"" +
                                   std::string(digits) + "s\")"));
      }
      return error(invalid("malformed duration " + q + ": unexpected character " +
                                 quote(text.substr(i, 1))));
    }
    int rank = -1;
    for (int r = 0; r < static_cast<int>(std::size(kUnits)); ++r) {
      if (kUnits[r].name == unit) rank = r;
    }
    if (rank < 0) {
      return error(invalid("unknown unit " + quote(unit) + " in duration " + q +
                                 ": use ms, s, m, h or d"));
    }
    if (rank <= last_rank) {
      return error(invalid("malformed duration " + q +
                                 ": each unit once, largest first, as in \"1h30m\""));
    }
    last_rank = rank;
    std::uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    std::uint64_t part = 0;
    if (ec != std::errc() || ptr != digits.data() + digits.size() ||
        mul_overflows(n, kUnits[rank].ms, &part) || __builtin_add_overflow(total, part, &total)) {
      return error(invalid("duration " + q + " is too large"));
    }
  }
  if (total > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return error(invalid("duration " + q + " is too large"));
  }
  return milliseconds(static_cast<std::int64_t>(total));
}

std::string format_duration(milliseconds d) {
  std::int64_t left = d.count();
  if (left == 0) return "0s";
  std::string out;
  if (left < 0) {  // not produced by the parser; printed honestly anyway
    out = "-";
    left = -left;
  }
  struct Unit {
    const char* name;
    std::int64_t ms;
  };
  static constexpr Unit kUnits[] = {
      {"d", kDay}, {"h", kHour}, {"m", kMinute}, {"s", kSecond}, {"ms", 1}};
  for (const Unit& u : kUnits) {
    if (left >= u.ms) {
      out += std::to_string(left / u.ms);
      out += u.name;
      left %= u.ms;
    }
  }
  return out;
}

Result<std::uint64_t> parse_size(std::string_view text) {
  struct Unit {
    std::string_view name;
    std::uint64_t bytes;
  };
  static constexpr Unit kUnits[] = {{"", 1},          {"B", 1},           {"KiB", 1ull << 10},
                                    {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40}};
  const std::string q = quote(text);
  if (text.empty()) return error(invalid("empty size: write e.g. \"8MiB\""));
  if (text[0] == '-') return error(invalid("negative size " + q + " is not allowed"));
  std::size_t i = 0;
  while (i < text.size() && is_digit(text[i])) ++i;
  if (i == 0) {
    return error(invalid("malformed size " + q + ": expected a number and a unit, e.g. \"512KiB\""));
  }
  if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
    return error(invalid("fractions are not supported in size " + q +
                               ": use a smaller unit, e.g. \"1536KiB\""));
  }
  const std::string_view digits = text.substr(0, i);
  const std::string_view unit = text.substr(i);
  const Unit* found = nullptr;
  for (const Unit& u : kUnits) {
    if (u.name == unit) found = &u;
  }
  if (found == nullptr) {
    return error(invalid("unknown unit " + quote(unit) + " in size " + q +
                               ": use B, KiB, MiB, GiB or TiB (powers of 1024)"));
  }
  std::uint64_t n = 0, bytes = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || ptr != digits.data() + digits.size() ||
      mul_overflows(n, found->bytes, &bytes) ||
      bytes > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return error(invalid("size " + q + " is too large"));
  }
  return bytes;
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::pair<const char*, std::uint64_t> kUnits[] = {
      {"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
  if (bytes != 0) {
    for (auto [name, unit] : kUnits) {
      if (bytes % unit == 0) return std::to_string(bytes / unit) + name;
    }
  }
  return std::to_string(bytes) + "B";
}

std::string quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

Result<HostPort> parse_host_port(std::string_view text) {
  auto bad = [&](std::string why) {
    return error(invalid("must be \"HOST:PORT\" or \"[V6]:PORT\" with a numeric address, " +
                               why + ", got " + quote(text)));
  };
  HostPort out;
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("an IPv6 address goes in brackets");
    }
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
    if (out.host.empty() || out.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
      return bad("not an IPv6 address");
    }
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    out.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (out.host.empty() || out.host.find_first_not_of("0123456789.") != std::string::npos ||
        std::count(out.host.begin(), out.host.end(), '.') != 3) {
      return bad("not an IPv4 address");
    }
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return bad("the port is 0 to 65535");
  }
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

}  // namespace fastid::core
