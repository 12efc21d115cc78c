// How the settings table is written: the conversions between a typed value
// and a Config field, the helpers that declare a key of each section, and small
// text helpers shared by the files of the settings (settings.cc: access and
// checks; settings_table.cc, settings_provider_keys.cc,
// settings_front_end_keys.cc: the table;
// settings_render.cc: --check-config and the embedded default;
// settings_docs.cc: docs/configuration.md). Internal to src/daemon.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "daemon/settings.h"

namespace fastid::daemon::table_detail {


using std::chrono::milliseconds;
using Ms = std::int64_t;  // limits of durations are kept in milliseconds

constexpr Ms kSecond = 1000;
constexpr Ms kMinute = 60 * kSecond;
constexpr Ms kHour = 60 * kMinute;
constexpr Ms kDay = 24 * kHour;

inline Status invalid(std::string message) { return Status::invalid_argument(std::move(message)); }

// ---- From a typed value to a Config field and back --------------------------
// One template per field instead of a hand-written lambda per setting: the
// table names the member and the field's C++ type picks the conversion.

inline void assign(std::string& field, const SettingValue& v) { field = std::get<std::string>(v); }
inline void assign(int& field, const SettingValue& v) {
  field = static_cast<int>(std::get<std::int64_t>(v));  // limits are checked before
}
inline void assign(std::uint32_t& field, const SettingValue& v) {
  field = static_cast<std::uint32_t>(std::get<std::int64_t>(v));  // limits are checked before
}
inline void assign(bool& field, const SettingValue& v) { field = std::get<bool>(v); }
inline void assign(milliseconds& field, const SettingValue& v) { field = std::get<milliseconds>(v); }
inline void assign(core::LogLevel& field, const SettingValue& v) { field = std::get<core::LogLevel>(v); }
inline void assign(std::uint64_t& field, const SettingValue& v) { field = std::get<ByteSize>(v).bytes; }
inline void assign(std::vector<std::string>& field, const SettingValue& v) {
  field = std::get<std::vector<std::string>>(v);
}

inline SettingValue to_value(const std::string& f) { return f; }
inline SettingValue to_value(int f) { return static_cast<std::int64_t>(f); }
inline SettingValue to_value(std::uint32_t f) { return static_cast<std::int64_t>(f); }
inline SettingValue to_value(bool f) { return f; }
inline SettingValue to_value(milliseconds f) { return f; }
inline SettingValue to_value(core::LogLevel f) { return f; }
inline SettingValue to_value(std::uint64_t f) { return ByteSize{f}; }
inline SettingValue to_value(const std::vector<std::string>& f) { return f; }

template <auto Member>
struct Field;
template <class C, class T, T C::*Member>
struct Field<Member> {
  static void apply(C& c, const SettingValue& v) { assign(c.*Member, v); }
  static SettingValue read(const C& c) { return to_value(c.*Member); }
};

template <auto Member>
constexpr Setting daemon_key(Setting s) {
  s.section = Section::kDaemon;
  s.apply_daemon = &Field<Member>::apply;
  s.read_daemon = &Field<Member>::read;
  return s;
}

template <auto Member>
constexpr Setting provider_key(Setting s) {
  s.section = Section::kProvider;
  s.apply_provider = &Field<Member>::apply;
  s.read_provider = &Field<Member>::read;
  return s;
}

// A pool key reaches both Config::pool ([pool]) and a provider's own effective
// pool (its `pool = { ... }`), so it gets a pair of each.
template <auto Member>
struct ProviderPoolField;
template <class T, T PoolConfig::*Member>
struct ProviderPoolField<Member> {
  static void apply(ProviderConfig& p, const SettingValue& v) { assign(p.pool.*Member, v); }
  static SettingValue read(const ProviderConfig& p) { return to_value(p.pool.*Member); }
};

template <auto Member>
constexpr Setting pool_key(Setting s) {
  s.section = Section::kPool;
  s.apply_pool = &Field<Member>::apply;
  s.read_pool = &Field<Member>::read;
  s.apply_provider = &ProviderPoolField<Member>::apply;
  s.read_provider = &ProviderPoolField<Member>::read;
  return s;
}

template <auto Member>
constexpr Setting fastcache_key(Setting s) {
  s.section = Section::kFastcache;
  s.apply_fastcache = &Field<Member>::apply;
  s.read_fastcache = &Field<Member>::read;
  return s;
}

// A key of each map of [fastcache]: the same setting for passwd, group and initgroups.
template <auto Member>
constexpr Setting fastcache_map_key(Setting s) {
  s.section = Section::kFastcacheMap;
  s.apply_fastcache_map = &Field<Member>::apply;
  s.read_fastcache_map = &Field<Member>::read;
  return s;
}

template <auto Member>
constexpr Setting listen_key(Setting s) {
  s.section = Section::kListen;
  s.apply_listen = &Field<Member>::apply;
  s.read_listen = &Field<Member>::read;
  return s;
}

template <auto Member>
constexpr Setting nscd_key(Setting s) {
  s.section = Section::kNscd;
  s.apply_nscd = &Field<Member>::apply;
  s.read_nscd = &Field<Member>::read;
  return s;
}

template <auto Member>
constexpr Setting metrics_key(Setting s) {
  s.section = Section::kMetrics;
  s.apply_metrics = &Field<Member>::apply;
  s.read_metrics = &Field<Member>::read;
  return s;
}

template <auto Member>
constexpr Setting pam_key(Setting s) {
  s.section = Section::kPam;
  s.apply_pam = &Field<Member>::apply;
  s.read_pam = &Field<Member>::read;
  return s;
}

template <auto Member>
constexpr Setting store_key(Setting s) {
  s.section = Section::kStore;
  s.apply_store = &Field<Member>::apply;
  s.read_store = &Field<Member>::read;
  return s;
}

template <auto Member>
constexpr Setting varlink_key(Setting s) {
  s.section = Section::kVarlink;
  s.apply_varlink = &Field<Member>::apply;
  s.read_varlink = &Field<Member>::read;
  return s;
}

constexpr std::int64_t kKiB = 1 << 10;
constexpr std::int64_t kMiB = 1 << 20;
constexpr std::int64_t kGiB = 1 << 30;


// ---- Small helpers -------------------------------------------------------------

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

inline std::string_view log_level_text(core::LogLevel level) {
  switch (level) {
    case core::LogLevel::kDebug: return "debug";
    case core::LogLevel::kInfo: return "info";
    case core::LogLevel::kWarning: return "warning";
    case core::LogLevel::kError: return "error";
  }
  return "info";
}

inline std::string join(std::span<const std::string_view> words, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += sep;
    out += words[i];
  }
  return out;
}

inline std::string limit_text(const Setting& s, std::int64_t v) {
  switch (s.type) {
    case SettingType::kDuration: return format_duration(milliseconds(v));
    case SettingType::kSize: return format_size(static_cast<std::uint64_t>(v));
    default: return std::to_string(v);
  }
}

inline std::string out_of_range(const Setting& s, std::int64_t v) {
  return "must be between " + limit_text(s, s.min) + " and " + limit_text(s, s.max) + ", got " +
         limit_text(s, v);
}

// The [[provider]] keys (settings_provider_keys.cc), in documentation order.
std::span<const Setting> provider_keys();
// The front ends' sections (settings_front_end_keys.cc), each in documentation order.
std::span<const Setting> listen_keys();
std::span<const Setting> pam_keys();
std::span<const Setting> varlink_keys();
std::span<const Setting> nscd_keys();
std::span<const Setting> metrics_keys();

}  // namespace fastid::daemon::table_detail
