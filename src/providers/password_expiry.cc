// Password expiry and its warning (password_expiry.h).
#include "providers/password_expiry.h"

#include <chrono>

namespace fastid::providers {

std::optional<std::int64_t> shadow_days_to_expiry(std::int64_t today, std::int64_t last_change,
                                                  std::int64_t max_days, std::int64_t warn_days) {
  if (last_change <= 0 || max_days < 0 || warn_days <= 0) return std::nullopt;
  const std::int64_t left = last_change + max_days - today;
  if (left < 0 || left > warn_days) return std::nullopt;
  return left;
}

PolicyExpiry ppolicy_expiry(std::int64_t now, std::int64_t changed, std::int64_t max_age,
                            std::int64_t expire_warning) {
  PolicyExpiry out;
  if (max_age <= 0) return out;
  out.expires_at = changed + max_age;
  const std::int64_t left = out.expires_at - now;
  if (left < 0) {  // past pwdMaxAge, as slapd counts it (whole seconds)
    out.state = PolicyExpiry::State::kExpired;
  } else if (expire_warning > 0 && left <= expire_warning) {
    out.state = PolicyExpiry::State::kWarning;
    out.seconds_left = left;
  }
  return out;
}

std::optional<std::int64_t> parse_generalized_time(std::string_view text) {
  // YYYYMMDDHHMMSS, then an optional fraction, then Z.
  if (text.size() < 15 || text.back() != 'Z') return std::nullopt;
  auto number = [&](std::size_t at, std::size_t len) -> std::optional<int> {
    int v = 0;
    for (std::size_t i = at; i < at + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  const auto y = number(0, 4), mo = number(4, 2), d = number(6, 2), h = number(8, 2), mi = number(10, 2),
             s = number(12, 2);
  if (!y || !mo || !d || !h || !mi || !s) return std::nullopt;
  const std::string_view rest = text.substr(14, text.size() - 15);
  if (!rest.empty()) {
    if (rest.size() < 2 || (rest[0] != '.' && rest[0] != ',')) return std::nullopt;
    for (char c : rest.substr(1)) {
      if (c < '0' || c > '9') return std::nullopt;
    }
  }
  using namespace std::chrono;
  const year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
  if (!ymd.ok() || *h > 23 || *mi > 59 || *s > 60) return std::nullopt;
  const std::int64_t days_since = sys_days{ymd}.time_since_epoch().count();
  return days_since * 86400 + *h * 3600 + *mi * 60 + *s;
}

std::string expiry_warning(std::int64_t days) {
  if (days <= 0) return "Your password will expire today.";
  if (days == 1) return "Your password will expire in 1 day.";
  return "Your password will expire in " + std::to_string(days) + " days.";
}

}  // namespace fastid::providers
