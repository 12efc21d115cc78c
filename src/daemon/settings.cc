// Settings (settings.h): finding keys in the table, checking and parsing
// values, applying defaults. The table is in settings_table.cc, rendering in
// settings_render.cc, the docs generator in settings_docs.cc; none of them
// needs the TOML parser (only config.cc includes toml++, which costs seconds
// per translation unit).
#include "daemon/settings.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <string>

#include "daemon/settings_table.h"

namespace fastid::daemon {
namespace {

using namespace table_detail;


constexpr FastCacheMap kFastcacheMaps[] = {
    {"passwd", &FastCacheConfig::passwd},
    {"group", &FastCacheConfig::group},
    {"initgroups", &FastCacheConfig::initgroups},
};

// Every section DESIGN.md describes is supported now; the list stays for later ones.
constexpr std::array<std::string_view, 0> kUnsupportedSections{};
constexpr std::string_view kAvailableTypes[] = {"files", "ldap", "slow", "fastid", "winbind"};
constexpr std::array<std::string_view, 0> kPlannedTypes{};
}  // namespace

// ---- Table access ----------------------------------------------------------------


bool setting_applies_to(const Setting& setting, std::string_view type) {
  std::string_view types = setting.provider_type;
  if (types.empty()) return true;
  while (!types.empty()) {
    const std::size_t space = types.find(' ');
    if (types.substr(0, space) == type) return true;
    if (space == std::string_view::npos) break;
    types.remove_prefix(space + 1);
  }
  return false;
}

const Setting* find_setting(Section section, std::string_view key) {
  for (const Setting& s : settings()) {
    if (s.section == section && s.key == key) return &s;
  }
  return nullptr;
}

std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates) {
  // Optimal string alignment distance: insertions, deletions, substitutions
  // and adjacent transpositions ("wokrers") each cost 1. Words are short.
  auto distance = [](std::string_view a, std::string_view b) {
    const std::size_t n = a.size(), m = b.size();
    std::vector<std::size_t> d((n + 1) * (m + 1));
    auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
    for (std::size_t i = 0; i <= n; ++i) at(i, 0) = i;
    for (std::size_t j = 0; j <= m; ++j) at(0, j) = j;
    for (std::size_t i = 1; i <= n; ++i) {
      for (std::size_t j = 1; j <= m; ++j) {
        auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
        std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
        if (a[i - 1] == '-' && b[j - 1] == '_') cost = 0;  // "log-level" means log_level
        at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
          at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
        }
      }
    }
    return at(n, m);
  };
  if (word.size() > 64) return {};
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view c : candidates) {
    std::size_t dist = distance(word, c);
    if (dist < best_distance) {
      best_distance = dist;
      best = c;
    }
  }
  // A short word with two edits could be anything; only plausible typos count.
  const std::size_t allowed = word.size() <= 4 ? 1 : 2;
  if (best.empty() || best_distance > allowed || best == word) return {};
  return best;
}

std::string_view closest_key(Section section, std::string_view key) {
  std::vector<std::string_view> keys;
  for (const Setting& s : settings()) {
    if (s.section == section) keys.push_back(s.key);
  }
  return closest_match(key, keys);
}

std::span<const std::string_view> unsupported_sections() { return kUnsupportedSections; }

std::span<const FastCacheMap> fastcache_maps() { return kFastcacheMaps; }

const FastCacheMap* find_fastcache_map(std::string_view name) {
  for (const FastCacheMap& m : kFastcacheMaps) {
    if (m.name == name) return &m;
  }
  return nullptr;
}
std::span<const std::string_view> available_provider_types() { return kAvailableTypes; }

std::span<const std::string_view> planned_provider_types() { return kPlannedTypes; }

std::string_view section_header(Section section) {
  switch (section) {
    case Section::kDaemon: return "[daemon]";
    case Section::kProvider: return "[[provider]]";
    case Section::kPool: return "[pool]";
    case Section::kFastcache: return "[fastcache]";
    case Section::kFastcacheMap: return "[fastcache] map";
    case Section::kListen: return "[listen]";
    case Section::kPam: return "[pam]";
    case Section::kStore: return "[store]";
    case Section::kVarlink: return "[varlink]";
    case Section::kNscd: return "[nscd]";
    case Section::kMetrics: return "[metrics]";
  }
  return "?";
}

std::string_view setting_type_name(SettingType type) {
  switch (type) {
    case SettingType::kString: return "string";
    case SettingType::kInt: return "integer";
    case SettingType::kBool: return "boolean";
    case SettingType::kDuration: return "duration";
    case SettingType::kSize: return "size";
    case SettingType::kLogLevel: return "log level";
    case SettingType::kStringList: return "list of strings";
  }
  return "?";
}

// ---- Checking and applying ---------------------------------------------------------

Status check_setting(const Setting& s, const SettingValue& value) {
  switch (s.type) {
    case SettingType::kInt: {
      const std::int64_t v = std::get<std::int64_t>(value);
      if (v < s.min || v > s.max) return invalid(out_of_range(s, v));
      return Status::ok();
    }
    case SettingType::kDuration: {
      const std::int64_t v = std::get<milliseconds>(value).count();
      if (v < 0) return invalid("negative duration " + format_duration(milliseconds(v)) + " is not allowed");
      if (v < s.min || v > s.max) return invalid(out_of_range(s, v));
      return Status::ok();
    }
    case SettingType::kSize: {
      const std::uint64_t v = std::get<ByteSize>(value).bytes;
      if (v < static_cast<std::uint64_t>(s.min) || v > static_cast<std::uint64_t>(s.max)) {
        return invalid(out_of_range(s, static_cast<std::int64_t>(v)));
      }
      return Status::ok();
    }
    case SettingType::kString: {
      const std::string& v = std::get<std::string>(value);
      // Strings become paths, names in logs and argv: no byte that could
      // truncate (NUL) or forge (newline) anything downstream.
      for (char ch : v) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) {
          return invalid("control characters are not allowed, got " + toml_quote(v));
        }
      }
      switch (s.rule) {
        case StringRule::kAny: break;
        case StringRule::kAbsolutePathOrEmpty:
          if (v.empty()) break;
          [[fallthrough]];
        case StringRule::kAbsolutePath:
          if (v.empty() || v[0] != '/') {
            return invalid("must be an absolute path, got " + toml_quote(v));
          }
          break;
        case StringRule::kName: {
          if (v.empty()) return invalid("must not be empty");
          const bool ok = v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char c) {
                            return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-';
                          });
          if (!ok) {
            return invalid("must be 1 to 64 letters, digits, '_', '.' or '-', got " + toml_quote(v));
          }
          break;
        }
        case StringRule::kIsolation: {
          if (v != "auto" && v != "process" && v != "none") {
            return invalid("must be \"auto\", \"process\" or \"none\", got " + toml_quote(v));
          }
          break;
        }
        case StringRule::kOnWorkerExit:
          if (v != "restart" && v != "exit") {
            return invalid("must be \"restart\" or \"exit\", got " + toml_quote(v));
          }
          break;
        case StringRule::kHostPort:
          if (auto hp = parse_host_port(v); !hp) return hp.error();
          break;
        case StringRule::kHostPortOrEmpty:
          if (v.empty()) break;
          if (auto hp = parse_host_port(v); !hp) return hp.error();
          break;
        case StringRule::kAccountOrEmpty: {
          const bool ok = v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char c) {
                            return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-';
                          });
          if (!ok || (!v.empty() && v[0] == '-')) {
            return invalid("must be a user or group name or a numeric id, got " + toml_quote(v));
          }
          break;
        }
        case StringRule::kProviderType: {
          const auto has = [&](std::span<const std::string_view> list) {
            return std::find(list.begin(), list.end(), v) != list.end();
          };
          if (has(kAvailableTypes)) break;
          const std::string available = " (available: " + join(kAvailableTypes, ", ") + ")";
          if (has(kPlannedTypes)) {
            return invalid("provider type " + toml_quote(v) + " is not available in this build" +
                           available);
          }
          if (v.empty()) return invalid("must not be empty" + available);
          return invalid("unknown provider type " + toml_quote(v) + available);
        }
      }
      return Status::ok();
    }
    case SettingType::kStringList:
      for (const std::string& item : std::get<std::vector<std::string>>(value)) {
        for (char ch : item) {
          const auto c = static_cast<unsigned char>(ch);
          if (c < 0x20 || c == 0x7f) {
            return invalid("control characters are not allowed, got " + toml_quote(item));
          }
        }
        if (s.rule == StringRule::kHostPort) {
          if (auto hp = parse_host_port(item); !hp) return hp.error();
        }
      }
      return Status::ok();
    case SettingType::kBool:
    case SettingType::kLogLevel:
      return Status::ok();
  }
  return Status::internal("setting of unknown type");
}

Result<SettingValue> parse_setting_text(const Setting& s, std::string_view text) {
  SettingValue value;
  switch (s.type) {
    case SettingType::kString:
      value = std::string(text);
      break;
    case SettingType::kInt: {
      std::int64_t n = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
        return core::error(invalid("expected an integer, got " + toml_quote(text)));
      }
      value = n;
      break;
    }
    case SettingType::kBool:
      if (text == "true") value = true;
      else if (text == "false") value = false;
      else return core::error(invalid("expected true or false, got " + toml_quote(text)));
      break;
    case SettingType::kDuration: {
      auto d = parse_duration(text);
      if (!d) return core::error(d.error());
      value = *d;
      break;
    }
    case SettingType::kSize: {
      auto n = parse_size(text);
      if (!n) return core::error(n.error());
      value = ByteSize{*n};
      break;
    }
    case SettingType::kLogLevel: {
      core::LogLevel level;
      if (!core::parse_log_level(text, &level)) {
        return core::error(invalid("unknown log level " + toml_quote(text) +
                                   " (expected debug, info, warning or error)"));
      }
      value = level;
      break;
    }
    case SettingType::kStringList: {
      // The text form (defaults, command-line overrides) separates items with commas.
      std::vector<std::string> items;
      std::size_t start = 0;
      while (!text.empty() && start <= text.size()) {
        std::size_t comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        items.emplace_back(text.substr(start, comma - start));
        start = comma + 1;
      }
      value = std::move(items);
      break;
    }
  }
  if (Status st = check_setting(s, value); !st) return core::error(st);
  return value;
}

std::string setting_text(const SettingValue& value) {
  struct Text {
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(std::int64_t v) const { return std::to_string(v); }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(milliseconds v) const { return format_duration(v); }
    std::string operator()(ByteSize v) const { return format_size(v.bytes); }
    std::string operator()(core::LogLevel v) const { return std::string(log_level_text(v)); }
    std::string operator()(const std::vector<std::string>& v) const {
      std::string out;
      for (std::size_t i = 0; i < v.size(); ++i) out += (i == 0 ? "" : ",") + v[i];
      return out;
    }
  };
  return std::visit(Text{}, value);
}

std::string format_setting_value(const Setting& s, const SettingValue& value) {
  (void)s;
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return toml_quote(v);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, milliseconds>) {
          return toml_quote(format_duration(v));
        } else if constexpr (std::is_same_v<T, ByteSize>) {
          return toml_quote(format_size(v.bytes));
        } else if constexpr (std::is_same_v<T, core::LogLevel>) {
          return toml_quote(log_level_text(v));
        } else {
          std::string out = "[";
          for (std::size_t i = 0; i < v.size(); ++i) {
            if (i > 0) out += ", ";
            out += toml_quote(v[i]);
          }
          return out + "]";
        }
      },
      value);
}

namespace {

// A default that does not parse is a bug in the table, caught by config_test
// (every default is parsed there); at run time it is skipped, never fatal.
template <class C>
void apply_section_defaults(Section section, C& target) {
  for (const Setting& s : settings()) {
    if (s.section != section || s.required) continue;
    auto value = parse_setting_text(s, s.default_text);
    if (!value) continue;
    if constexpr (std::is_same_v<C, DaemonConfig>) {
      s.apply_daemon(target, *value);
    } else if constexpr (std::is_same_v<C, PoolConfig>) {
      s.apply_pool(target, *value);
    } else if constexpr (std::is_same_v<C, FastCacheConfig>) {
      s.apply_fastcache(target, *value);
    } else if constexpr (std::is_same_v<C, FastCacheMapConfig>) {
      s.apply_fastcache_map(target, *value);
    } else if constexpr (std::is_same_v<C, ListenConfig>) {
      s.apply_listen(target, *value);
    } else if constexpr (std::is_same_v<C, PamConfig>) {
      s.apply_pam(target, *value);
    } else if constexpr (std::is_same_v<C, StoreConfig>) {
      s.apply_store(target, *value);
    } else if constexpr (std::is_same_v<C, VarlinkConfig>) {
      s.apply_varlink(target, *value);
    } else if constexpr (std::is_same_v<C, NscdConfig>) {
      s.apply_nscd(target, *value);
    } else if constexpr (std::is_same_v<C, MetricsConfig>) {
      s.apply_metrics(target, *value);
    } else {
      s.apply_provider(target, *value);
    }
  }
}

}  // namespace

void apply_defaults(DaemonConfig& daemon) { apply_section_defaults(Section::kDaemon, daemon); }
void apply_defaults(ProviderConfig& provider) {
  apply_section_defaults(Section::kProvider, provider);
  apply_defaults(provider.pool);
}
void apply_defaults(PoolConfig& pool) { apply_section_defaults(Section::kPool, pool); }
void apply_defaults(FastCacheConfig& fastcache) {
  apply_section_defaults(Section::kFastcache, fastcache);
  for (const FastCacheMap& m : kFastcacheMaps) apply_defaults(fastcache.*m.member);
}
void apply_defaults(FastCacheMapConfig& map) { apply_section_defaults(Section::kFastcacheMap, map); }
void apply_defaults(ListenConfig& listen) { apply_section_defaults(Section::kListen, listen); }

void apply_defaults(PamConfig& pam) { apply_section_defaults(Section::kPam, pam); }
void apply_defaults(StoreConfig& store) { apply_section_defaults(Section::kStore, store); }
void apply_defaults(VarlinkConfig& varlink) { apply_section_defaults(Section::kVarlink, varlink); }

Status check_varlink_config(const VarlinkConfig& varlink) {
  // The socket's file name is the service name clients send ("io.fastid");
  // systemd reads every socket of its folder, so the name must be one of its own.
  const std::size_t slash = varlink.socket.rfind('/');
  const std::string_view file = std::string_view(varlink.socket).substr(slash + 1);
  if (file.empty() || file == "." || file == "..") {
    return invalid("socket must end in a file name (the service name clients send), got \"" + varlink.socket + "\"");
  }
  return Status::ok();
}
void apply_defaults(NscdConfig& nscd) { apply_section_defaults(Section::kNscd, nscd); }
void apply_defaults(MetricsConfig& metrics) { apply_section_defaults(Section::kMetrics, metrics); }
void apply_defaults(Config& config) {
  apply_defaults(config.daemon);
  apply_defaults(config.fastcache);
  apply_defaults(config.listen);
  apply_defaults(config.pam);
  apply_defaults(config.store);
  apply_defaults(config.varlink);
  apply_defaults(config.nscd);
  apply_defaults(config.metrics);
}

Status check_listen_config(const ListenConfig& listen) {
  if (listen.tls_cert.empty() != listen.tls_key.empty()) {
    return invalid("tls_cert and tls_key go together: set both (TLS on the TCP listeners) or neither");
  }
  return Status::ok();
}

Status check_store_config(const StoreConfig& store) {
  if (store.refresh_ahead.count() > 0 && store.refresh_ahead >= store.ttl) {
    return invalid("refresh_ahead (" + format_duration(store.refresh_ahead) + ") must be shorter than ttl (" +
                   format_duration(store.ttl) + ")");
  }
  return Status::ok();
}

Status check_pool_config(const PoolConfig& pool) {
  if (pool.min_workers > pool.max_workers) {
    return invalid("min_workers (" + std::to_string(pool.min_workers) + ") is more than max_workers (" +
                   std::to_string(pool.max_workers) + ")");
  }
  if (pool.min_spare_workers > pool.max_workers) {
    return invalid("min_spare_workers (" + std::to_string(pool.min_spare_workers) +
                   ") is more than max_workers (" + std::to_string(pool.max_workers) + ")");
  }
  return Status::ok();
}


}  // namespace fastid::daemon
