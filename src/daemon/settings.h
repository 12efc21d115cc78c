// Settings: the one table that defines every configuration key — section, type,
// default, limits, description and how it reaches Config — plus the parsers for
// the human value syntaxes (durations, sizes, log levels). Parsing, validation,
// render_config() and docs/configuration.md are all derived from it.
// Everything here is immutable or pure: safe to call from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/log.h"
#include "core/status.h"
#include "core/text.h"
#include "daemon/config.h"

namespace fastid::daemon {

enum class Section : std::uint8_t {
  kDaemon,    // [daemon]: one table, every key optional
  kProvider,  // [[provider]]: an array of tables, at least one
  kPool,      // [pool]: one table, every key optional; also `pool = { ... }` in a [[provider]]
  kFastcache,     // [fastcache]: one table, every key optional
  kFastcacheMap,  // [fastcache] passwd/group/initgroups = { ... }: the keys of each map
  kListen,        // [listen]: network listeners for public lookups
  kPam,           // [pam]: one table, every key optional
  kStore,         // [store]: one table, every key optional
  kVarlink,       // [varlink]: the systemd userdb front, every key optional
  kNscd,          // [nscd]: the nscd protocol front, every key optional
  kMetrics,       // [metrics]: the Prometheus scrape listener, every key optional
};

enum class SettingType : std::uint8_t {
  kString,
  kInt,
  kBool,
  kDuration,    // "300ms", "15s", "90m", "7d", "1h30m"
  kSize,        // "8MiB", "512KiB", "1GiB", plain bytes
  kLogLevel,    // "debug", "info", "warning", "error"
  kStringList,  // ["a", "b"]
};

// Extra rules on string values; each has one line of documentation.
enum class StringRule : std::uint8_t {
  kAny,
  kAbsolutePath,         // starts with '/'
  kAbsolutePathOrEmpty,  // "" or starts with '/'
  kName,                 // 1-64 of [A-Za-z0-9_.-]: safe in logs, paths and status
  kProviderType,         // one of the provider types built into this fastidd
  kIsolation,            // "auto", "process" or "none"
  kOnWorkerExit,         // "restart" or "exit"
  kHostPort,             // list items: "HOST:PORT", "[V6]:PORT"; numeric host, port 0-65535
  kAccountOrEmpty,       // "" or a user/group name or a numeric id
  kHostPortOrEmpty,      // "" or one "HOST:PORT" as kHostPort
};

// A size in bytes: a type of its own so that it never mixes with kInt values.
struct ByteSize {
  std::uint64_t bytes = 0;
  bool operator==(const ByteSize&) const = default;
};

// A parsed, typed value on its way from the file to a Config. The alternative
// held always matches the Setting's type.
using SettingValue = std::variant<std::string, std::int64_t, bool, std::chrono::milliseconds,
                                  ByteSize, core::LogLevel, std::vector<std::string>>;

struct Setting {
  Section section = Section::kDaemon;
  std::string_view key = {};
  SettingType type = SettingType::kString;
  // The default in the setting's own syntax ("60s", "info", "/run/fastid"),
  // parsed by parse_setting_text like any other value. Unused when `required`.
  std::string_view default_text = {};
  bool required = false;
  // Inclusive limits for kInt (the value), kDuration (milliseconds) and kSize
  // (bytes); ignored for other types.
  std::int64_t min = 0;
  std::int64_t max = 0;
  StringRule rule = StringRule::kAny;
  // [[provider]] keys: "" = every type, else the types it applies to, separated by
  // spaces ("ldap fastid"); see setting_applies_to().
  std::string_view provider_type = {};
  std::string_view description = {};
  // A secret (a bind password): render_config() leaves it out unless asked
  // to include secrets, so --check-config never prints it.
  bool secret = false;
  // How the value reaches Config and back: the pair for the setting's section is
  // set, the others are null. A [pool] setting has two pairs: apply_pool/read_pool
  // for Config::pool, and apply_provider/read_provider for a provider's own
  // effective pool (ProviderConfig::pool), where its `pool = { ... }` lands.
  void (*apply_daemon)(DaemonConfig&, const SettingValue&) = nullptr;
  SettingValue (*read_daemon)(const DaemonConfig&) = nullptr;
  void (*apply_provider)(ProviderConfig&, const SettingValue&) = nullptr;
  SettingValue (*read_provider)(const ProviderConfig&) = nullptr;
  void (*apply_pool)(PoolConfig&, const SettingValue&) = nullptr;
  SettingValue (*read_pool)(const PoolConfig&) = nullptr;
  void (*apply_fastcache)(FastCacheConfig&, const SettingValue&) = nullptr;
  SettingValue (*read_fastcache)(const FastCacheConfig&) = nullptr;
  void (*apply_fastcache_map)(FastCacheMapConfig&, const SettingValue&) = nullptr;
  SettingValue (*read_fastcache_map)(const FastCacheMapConfig&) = nullptr;
  void (*apply_nscd)(NscdConfig&, const SettingValue&) = nullptr;
  SettingValue (*read_nscd)(const NscdConfig&) = nullptr;
  void (*apply_listen)(ListenConfig&, const SettingValue&) = nullptr;
  SettingValue (*read_listen)(const ListenConfig&) = nullptr;
  void (*apply_pam)(PamConfig&, const SettingValue&) = nullptr;
  SettingValue (*read_pam)(const PamConfig&) = nullptr;
  void (*apply_store)(StoreConfig&, const SettingValue&) = nullptr;
  SettingValue (*read_store)(const StoreConfig&) = nullptr;
  void (*apply_varlink)(VarlinkConfig&, const SettingValue&) = nullptr;
  SettingValue (*read_varlink)(const VarlinkConfig&) = nullptr;
  void (*apply_metrics)(MetricsConfig&, const SettingValue&) = nullptr;
  SettingValue (*read_metrics)(const MetricsConfig&) = nullptr;
};

// The maps of [fastcache], each a table of the kFastcacheMap settings.
struct FastCacheMap {
  std::string_view name;
  FastCacheMapConfig FastCacheConfig::*member;
};
std::span<const FastCacheMap> fastcache_maps();
// nullptr when `name` is not a map of [fastcache].
const FastCacheMap* find_fastcache_map(std::string_view name);

// The table, in documentation order.
std::span<const Setting> settings();

// Whether a [[provider]] setting may be given to a provider of `type`.
bool setting_applies_to(const Setting& setting, std::string_view type);

// nullptr when `key` is not a setting of `section`.
const Setting* find_setting(Section section, std::string_view key);

// The candidate closest to a misspelt `word`, for "did you mean"; "" when none
// is close enough to be a plausible typo (edit distance, transpositions count 1).
std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates);
// closest_match over the keys of `section`.
std::string_view closest_key(Section section, std::string_view key);

// Top-level sections that DESIGN.md describes but this version refuses
// ("listen").
std::span<const std::string_view> unsupported_sections();

// "[daemon]", "[[provider]]", "[pool]", "[fastcache]"; "integer", "duration", ... as the docs say it.
std::string_view section_header(Section section);
std::string_view setting_type_name(SettingType type);

// Provider types: those this build can run, and those DESIGN.md names that
// are not built yet (refused with "not available in this build").
std::span<const std::string_view> available_provider_types();
std::span<const std::string_view> planned_provider_types();

// The value syntaxes (durations, sizes, HOST:PORT) live in core/text.h, shared
// with the layers below; the settings table uses them under these names.
using core::format_duration;
using core::format_size;
using core::HostPort;
using core::parse_duration;
using core::parse_host_port;
using core::parse_size;

// Parses `text` as the value of `setting` (a string in the setting's own
// syntax: "15s", "info", "4", "true") and checks it. The path taken by
// defaults and by string values in the file.
Result<SettingValue> parse_setting_text(const Setting& setting, std::string_view text);

// The value in the setting's own text syntax, what parse_setting_text reads
// back: "15s", "8MiB", "info", "4", "true", and list items joined by commas
// (an item holding a comma does not survive: lists have their own forms).
std::string setting_text(const SettingValue& value);

// Checks a typed value against the setting's limits and rules. The message
// says what is wrong without the location; the caller adds file:line: key.
Status check_setting(const Setting& setting, const SettingValue& value);

// The value as a TOML literal: "60s" (quoted), 4, true, ["a", "b"].
std::string format_setting_value(const Setting& setting, const SettingValue& value);

// Apply the table's defaults to every setting of the section that has one
// (a provider's defaults include its pool's).
void apply_defaults(DaemonConfig& daemon);
void apply_defaults(ProviderConfig& provider);
void apply_defaults(PoolConfig& pool);
void apply_defaults(FastCacheConfig& fastcache);  // every map's too
void apply_defaults(FastCacheMapConfig& map);
void apply_defaults(ListenConfig& listen);
void apply_defaults(NscdConfig& nscd);

void apply_defaults(PamConfig& pam);
void apply_defaults(StoreConfig& store);
void apply_defaults(VarlinkConfig& varlink);
void apply_defaults(MetricsConfig& metrics);
// Every top-level section's (not the [[provider]]s, which the file or
// default_config() adds).
void apply_defaults(Config& config);

// The rule between [listen] keys: tls_cert and tls_key both or neither.
Status check_listen_config(const ListenConfig& listen);

// The rule between [store] keys: refresh_ahead shorter than ttl (else every
// hit would refresh). The message names the keys and values.
Status check_store_config(const StoreConfig& store);
Status check_varlink_config(const VarlinkConfig& varlink);

// The rules between pool keys that no single key's limits can say:
// min_workers and min_spare_workers at most max_workers. The message names the
// keys and values, without the location; the caller adds it.
Status check_pool_config(const PoolConfig& pool);

// A TOML basic string literal for any text (core::quote's escaping is TOML's).
inline std::string toml_quote(std::string_view text) { return core::quote(text); }

}  // namespace fastid::daemon
