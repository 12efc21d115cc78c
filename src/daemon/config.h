// Config: the daemon's configuration as plain values, read from fastid.toml.
// A Config returned by load_config/parse_config has passed every check in the
// settings table (settings.h); it holds no parser types and is safe to copy.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/log.h"
#include "core/status.h"
#include "default_paths.h"
#include "pool/pool_options.h"

namespace fastid::daemon {

using core::Result;
using core::Status;

// The defaults written here must equal the defaults in the settings table;
// config_test checks that they do (the table is what parsing applies).
struct DaemonConfig {
  std::string socket_dir = FASTID_SOCKET_DIR_DEFAULT;  // default_paths.h
  std::string state_dir = FASTID_STATE_DIR_DEFAULT;
  int workers = 1;
  core::LogLevel log_level = core::LogLevel::kInfo;
  bool trace_requests = false;
  int log_repeat_burst = 20;  // 0 = no limit on repeated lines
  std::chrono::milliseconds log_repeat_window{60000};
  std::string pid_file;  // "" = none
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds shutdown_grace{5000};
  int max_connections = 4096;
  int max_pam_connections = 1024;
  int max_network_connections = 1024;
  int max_connections_per_uid = 256;
  int max_connections_per_address = 64;
  std::chrono::milliseconds network_idle_timeout{10000};
  std::chrono::milliseconds stall_timeout{5000};
  std::string on_worker_exit = "restart";
  std::string user;   // "" = front workers keep the supervisor's identity
  std::string group;  // "" = the user's primary group

  bool operator==(const DaemonConfig&) const = default;
};

// A provider's pool of provider worker processes ([pool], and per provider `pool = { ... }`).
// Limits between keys (min_workers <= max_workers, ...) hold in a parsed Config.
// It is the pool's own options struct (pool/pool_options.h), held as it is: a
// pool key is one field there and one settings table entry, never a copy.
using PoolConfig = pool::PoolOptions;

struct ProviderConfig {
  std::string name;
  std::string type;  // "files", "slow", "ldap" or "fastid"
  std::string isolation = "auto";  // "auto", "process" (provider pool) or "none" (in the daemon)
  std::string passwd = "/etc/passwd";
  std::string group = "/etc/group";
  std::string shadow = "/etc/shadow";
  std::string netgroup = {};  // netgroup(5) file; "" = none
  std::chrono::milliseconds refresh_interval{1000};

  // type "slow": a generated dataset for tests and benchmarks (scripts/gen-dataset's).
  int users = 10000;
  int groups = 1000;
  std::chrono::milliseconds delay{0};
  std::vector<std::string> slow_names = {};
  std::chrono::milliseconds slow_delay{1000};
  std::vector<std::string> hang_names = {};
  std::vector<std::string> crash_names = {};
  std::string password = {};
  std::string down_file = {};  // while this file exists, every call answers "unavailable"
  std::vector<std::string> expired_names = {};  // their account check says "expired"
  std::string call_log = {};  // each authentication appends "authenticate NAME" here

  // type "fastid": upstream fastidd TCP listeners, asked in order.
  std::vector<std::string> servers = {};
  std::chrono::milliseconds timeout{2000};
  std::string tls_server_name = {};  // and tls_ca_file (shared with "ldap"): TLS to the upstreams
  // type "ldap" (docs/ldap.md): an LDAP directory through libldap.
  std::vector<std::string> uri = {};
  std::string base = {};
  std::string bind_dn = {};
  std::string bind_password = {};
  std::string bind_password_file = {};
  std::string tls_ca_file = {};
  bool start_tls = false;
  bool async_lookups = false;  // ldap: lookups searched on the front worker's loop
  std::string schema = "rfc2307";
  std::string user_base = {};
  std::string user_scope = "sub";
  std::string user_filter = "(objectClass=posixAccount)";
  std::string group_base = {};
  std::string group_scope = "sub";
  std::string group_filter = "(objectClass=posixGroup)";
  std::vector<std::string> user_attributes = {};
  std::vector<std::string> group_attributes = {};
  int page_size = 500;
  int nesting_depth = 4;
  std::string netgroup_base = {};
  std::string netgroup_filter = "(objectClass=nisNetgroup)";
  std::string ssh_key_attribute = "sshPublicKey";
  std::chrono::milliseconds network_timeout{5000};
  std::chrono::milliseconds search_timeout{10000};
  bool allow_cleartext_passwords = false;
  std::string sasl_mech = {};  // "" (simple bind) or "GSSAPI" (docs/kerberos.md)
  std::string keytab = {};
  std::string principal = {};
  // Any type run in the pool: who checks passwords ("" = the provider, "krb5" = the KDC).
  std::string auth_provider = {};
  std::string krb5_realm = {};
  std::string krb5_keytab = "/etc/krb5.keytab";
  std::string krb5_ccache = "FILE:/tmp/krb5cc_%U_XXXXXX";

  // type "winbind" (docs/winbind.md).
  std::string separator = "\\";
  std::string default_domain = {};
  bool case_sensitive = false;

  std::string access_filter = {};  // ldap: the filter a user's entry must match at the account check
  std::string password_policy_dn = {};  // ldap: the default ppolicy entry, for expiry warnings

  // Every type: who may log in (the account check), docs/pam.md.
  std::vector<std::string> allow_users = {};
  std::vector<std::string> deny_users = {};
  std::vector<std::string> allow_groups = {};
  std::vector<std::string> deny_groups = {};

  // Every type: home and shell rules applied to every user it answers.
  std::string override_homedir = {};
  std::string fallback_homedir = {};
  std::string override_shell = {};
  std::vector<std::string> allowed_shells = {};
  std::vector<std::string> vetoed_shells = {};
  std::string shell_fallback = "/bin/sh";

  // types "ldap", "fastid" and "winbind" (directory-backed): the ids they may give.
  std::uint32_t min_id = 1;
  std::uint32_t max_id = 4294967294u;

  // The effective pool settings: Config::pool with this provider's own
  // `pool = { ... }` keys applied on top (parse_config resolves them).
  PoolConfig pool = {};

  // Whether this provider runs in a pool of provider worker processes ("auto" resolved).
  // (A KDC password check blocks: auth_provider "krb5" runs in the pool too.)
  bool in_pool() const {
    return isolation == "process" || (isolation == "auto" && (type != "files" || auth_provider == "krb5"));
  }

  bool operator==(const ProviderConfig&) const = default;
};

// One map of the fast cache ([fastcache]: passwd, group, initgroups).
struct FastCacheMapConfig {
  bool enabled = true;
  std::uint64_t size_bytes = 8u << 20;
  std::chrono::milliseconds ttl{300000};
  std::uint64_t max_record = 1u << 20;

  bool operator==(const FastCacheMapConfig&) const = default;
};

struct FastCacheConfig {
  FastCacheMapConfig passwd, group, initgroups;
  std::chrono::milliseconds negative_ttl{15000};  // 0 = negative answers are not published

  bool operator==(const FastCacheConfig&) const = default;
};

// [listen]: network listeners for lookups of public data ("HOST:PORT" each).
struct ListenConfig {
  std::vector<std::string> tcp = {};
  std::vector<std::string> udp = {};
  std::string tls_cert = {};  // both set: the TCP listeners speak TLS only
  std::string tls_key = {};
  std::chrono::milliseconds tls_handshake_timeout{5000};

  bool operator==(const ListenConfig&) const = default;
};

// [nscd]: the front that speaks glibc's nscd protocol (docs/nscd.md).
struct NscdConfig {
  bool enabled = false;
  std::string socket = "/var/run/nscd/socket";

  bool operator==(const NscdConfig&) const = default;
};

// [pam]: the daemon's authentication path (docs/pam.md).
struct PamConfig {
  int max_failures = 5;
  std::chrono::milliseconds failure_window{900000};
  std::chrono::milliseconds lockout_time{900000};
  int caller_rate = 5;
  int caller_burst = 10;
  bool offline = false;
  std::string offline_file;  // "" = state_dir/pam-offline
  std::chrono::milliseconds offline_max_age{604800000};

  bool operator==(const PamConfig&) const = default;
};

// [store]: the persistent LMDB store behind the socket, and offline mode, for
// every provider that runs in a pool (docs/store.md).
struct StoreConfig {
  bool enabled = true;
  std::uint64_t size_bytes = 256u << 20;
  int max_negative_entries = 10000;                  // negative answers kept, apart from the records' room
  std::chrono::milliseconds ttl{5400000};            // a record is fresh this long after its fetch
  std::chrono::milliseconds negative_ttl{15000};     // 0 = "no such entry" is not stored
  std::chrono::milliseconds refresh_ahead{300000};   // asked-for records this close to expiry are refreshed
  std::chrono::milliseconds offline_max_age{604800000};  // offline: records fetched at most this long ago
  std::chrono::milliseconds probe_interval{5000};    // offline: how often the backend is tried
  std::chrono::milliseconds stale_after{2000};       // online: an expired record answers a slower backend

  bool operator==(const StoreConfig&) const = default;
};

// [varlink]: the systemd userdb front (io.systemd.UserDatabase over Varlink,
// docs/varlink.md): nss-systemd, userdbctl, homed and logind ask fastid.
struct VarlinkConfig {
  bool enabled = false;
  std::string socket = "/run/systemd/userdb/io.fastid";  // its file name is the service name
  bool include_files = false;  // also answer records of `files` providers
  bool enumerate = true;       // false: enumerations are EnumerationNotSupported
  int max_connections = 1024;  // per front worker

  bool operator==(const VarlinkConfig&) const = default;
};

// [metrics]: the Prometheus scrape listener (docs/operations.md, "Metrics").
// Off while `listen` is empty.
struct MetricsConfig {
  std::string listen;                   // "HOST:PORT", numeric; "" = no listener
  int max_connections = 64;             // per front worker
  int max_connections_per_address = 4;  // per IPv4 address or IPv6 /64

  bool operator==(const MetricsConfig&) const = default;
};

struct Config {
  std::string source;  // file path or "<embedded default>"
  DaemonConfig daemon;
  PoolConfig pool;  // [pool]: the defaults of every provider's pool
  FastCacheConfig fastcache;
  ListenConfig listen;
  PamConfig pam;
  StoreConfig store;
  VarlinkConfig varlink;
  NscdConfig nscd;
  MetricsConfig metrics;
  std::vector<ProviderConfig> providers;  // in the order they are asked; never empty

  bool operator==(const Config&) const = default;
};

// Where fastidd looks when --config is not given, and the name the embedded
// default reports as its source.
inline constexpr std::string_view kDefaultConfigPath = FASTID_CONFIG_PATH_DEFAULT;
// Read when kDefaultConfigPath is absent: where earlier versions looked.
inline constexpr std::string_view kLegacyConfigPath = FASTID_CONFIG_PATH_LEGACY;
inline constexpr std::string_view kEmbeddedSource = "<embedded default>";

// Reads, parses and validates one file. I/O errors keep their errno code and
// name the path; content errors are kInvalidArgument with "file:line: ...".
Result<Config> load_config(const std::string& path);

// Parses and validates TOML text; `source_name` prefixes every error message.
Result<Config> parse_config(std::string_view text, std::string source_name);

// The configuration the daemon runs with: `explicit_path` if given (it must
// exist), else kDefaultConfigPath if that file exists, else kLegacyConfigPath
// if that one exists, else default_config().
Result<Config> find_config(std::string_view explicit_path);

// The embedded default: the table's defaults and one files provider "local"
// over /etc/passwd and /etc/group.
Config default_config();

// The effective configuration as TOML with every setting spelled out.
// kLeaveOut (for --check-config and anything a person reads) writes a comment
// in place of each secret that is set; kInclude writes them too, never for a
// person to read (provider workers get provider_settings.h's text instead).
// parse_config() of a kInclude rendering gives `config` back.
enum class Secrets : bool { kLeaveOut, kInclude };
std::string render_config(const Config& config, Secrets secrets = Secrets::kLeaveOut);

// The whole text of docs/configuration.md, generated from the settings table.
std::string config_reference_markdown();

}  // namespace fastid::daemon
