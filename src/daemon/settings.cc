#include "daemon/settings.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <string>

// This file holds everything about settings that does not need the TOML
// parser: the table, the value syntaxes, defaults, rendering and the docs
// generator. Only config.cc includes toml++ (it costs seconds per translation
// unit), so editing the table or the docs never recompiles the parser.

namespace fastid::daemon {
namespace {

using std::chrono::milliseconds;
using Ms = std::int64_t;  // limits of durations are kept in milliseconds

constexpr Ms kSecond = 1000;
constexpr Ms kMinute = 60 * kSecond;
constexpr Ms kHour = 60 * kMinute;
constexpr Ms kDay = 24 * kHour;

Status invalid(std::string message) { return Status::invalid_argument(std::move(message)); }

// ---- From a typed value to a Config field and back --------------------------
// One template per field instead of a hand-written lambda per setting: the
// table names the member and the field's C++ type picks the conversion.

void assign(std::string& field, const SettingValue& v) { field = std::get<std::string>(v); }
void assign(int& field, const SettingValue& v) {
  field = static_cast<int>(std::get<std::int64_t>(v));  // limits are checked before
}
void assign(std::uint32_t& field, const SettingValue& v) {
  field = static_cast<std::uint32_t>(std::get<std::int64_t>(v));  // limits are checked before
}
void assign(bool& field, const SettingValue& v) { field = std::get<bool>(v); }
void assign(milliseconds& field, const SettingValue& v) { field = std::get<milliseconds>(v); }
void assign(core::LogLevel& field, const SettingValue& v) { field = std::get<core::LogLevel>(v); }
void assign(std::uint64_t& field, const SettingValue& v) { field = std::get<ByteSize>(v).bytes; }
void assign(std::vector<std::string>& field, const SettingValue& v) {
  field = std::get<std::vector<std::string>>(v);
}

SettingValue to_value(const std::string& f) { return f; }
SettingValue to_value(int f) { return static_cast<std::int64_t>(f); }
SettingValue to_value(std::uint32_t f) { return static_cast<std::int64_t>(f); }
SettingValue to_value(bool f) { return f; }
SettingValue to_value(milliseconds f) { return f; }
SettingValue to_value(core::LogLevel f) { return f; }
SettingValue to_value(std::uint64_t f) { return ByteSize{f}; }
SettingValue to_value(const std::vector<std::string>& f) { return f; }

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

constexpr std::int64_t kKiB = 1 << 10;
constexpr std::int64_t kMiB = 1 << 20;
constexpr std::int64_t kGiB = 1 << 30;

// ---- The table ---------------------------------------------------------------
// Every key the daemon understands. Adding a key here is all it takes for it to
// be parsed, checked, rendered by --check-config and documented.

const Setting kSettings[] = {
    daemon_key<&DaemonConfig::socket_dir>({
        .key = "socket_dir",
        .type = SettingType::kString,
        .default_text = FASTID_SOCKET_DIR_DEFAULT,  // default_paths.h
        .rule = StringRule::kAbsolutePath,
        .description = "Directory of the sockets: `nss` (lookups, mode 0666), `pam` "
                       "(authentication) and `admin` (root only). It must belong to root (or the "
                       "daemon's user) and be writable by nobody else, or the daemon does not start.",
    }),
    daemon_key<&DaemonConfig::state_dir>({
        .key = "state_dir",
        .type = SettingType::kString,
        .default_text = FASTID_STATE_DIR_DEFAULT,
        .rule = StringRule::kAbsolutePath,
        .description = "Directory of persistent state: `store/` (LMDB) and `mc/` (fast cache maps).",
    }),
    daemon_key<&DaemonConfig::workers>({
        .key = "workers",
        .type = SettingType::kInt,
        .default_text = "1",
        .min = 1,
        .max = 256,
        .description = "Front worker processes sharing the listeners; `fastidd -w N` overrides it.",
    }),
    daemon_key<&DaemonConfig::log_level>({
        .key = "log_level",
        .type = SettingType::kLogLevel,
        .default_text = "info",
        .description = "Lowest level of the messages written to the log (stderr).",
    }),
    daemon_key<&DaemonConfig::pid_file>({
        .key = "pid_file",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kAbsolutePathOrEmpty,
        .description = "Where `--daemonize` writes the daemon's pid; empty: no pid file.",
    }),
    daemon_key<&DaemonConfig::idle_timeout>({
        .key = "idle_timeout",
        .type = SettingType::kDuration,
        .default_text = "60s",
        .min = 1 * kSecond,
        .max = 1 * kDay,
        .description = "A local client connection idle this long is closed; re-armed after each "
                       "request.",
    }),
    daemon_key<&DaemonConfig::network_idle_timeout>({
        .key = "network_idle_timeout",
        .type = SettingType::kDuration,
        .default_text = "10s",
        .min = 1 * kSecond,
        .max = 1 * kDay,
        .description = "A TCP connection idle this long is closed: network peers are anonymous, "
                       "so an idle one holds its place for less time than a local caller's.",
    }),
    daemon_key<&DaemonConfig::shutdown_grace>({
        .key = "shutdown_grace",
        .type = SettingType::kDuration,
        .default_text = "5s",
        .min = 0,
        .max = 10 * kMinute,
        .description = "On SIGTERM, how long requests in flight may take to finish before "
                       "the daemon exits anyway.",
    }),
    daemon_key<&DaemonConfig::max_connections>({
        .key = "max_connections",
        .type = SettingType::kInt,
        .default_text = "4096",
        .min = 1,
        .max = 1048576,
        .description = "Open connections on the `nss` socket per worker; past it, new ones are "
                       "closed at once and the daemon keeps serving the others. Non-root callers "
                       "together may hold three quarters of it; the rest is root's.",
    }),
    daemon_key<&DaemonConfig::max_pam_connections>({
        .key = "max_pam_connections",
        .type = SettingType::kInt,
        .default_text = "1024",
        .min = 4,
        .max = 1048576,
        .description = "Open connections on the `pam` socket per worker, a budget of its own: "
                       "lookups and network peers never use it up. Non-root callers together "
                       "may hold three quarters of it; the rest is root's (login, sshd, su).",
    }),
    daemon_key<&DaemonConfig::max_network_connections>({
        .key = "max_network_connections",
        .type = SettingType::kInt,
        .default_text = "1024",
        .min = 1,
        .max = 1048576,
        .description = "Open connections of all `[listen]` TCP listeners together per worker, a "
                       "budget of their own: network peers never use up the local sockets'.",
    }),
    daemon_key<&DaemonConfig::max_connections_per_uid>({
        .key = "max_connections_per_uid",
        .type = SettingType::kInt,
        .default_text = "256",
        .min = 1,
        .max = 1048576,
        .description = "Open connections one non-root uid may hold on one local socket per "
                       "worker. A uid at its cap that connects again has its own oldest idle "
                       "connection closed (refused if none is idle). Root is not capped.",
    }),
    daemon_key<&DaemonConfig::max_connections_per_address>({
        .key = "max_connections_per_address",
        .type = SettingType::kInt,
        .default_text = "64",
        .min = 1,
        .max = 1048576,
        .description = "Open TCP connections one network peer (an IPv4 address, an IPv6 /64) "
                       "may hold per worker; at the cap, its own oldest idle connection is "
                       "closed for the new one (refused if none is idle).",
    }),
    daemon_key<&DaemonConfig::stall_timeout>({
        .key = "stall_timeout",
        .type = SettingType::kDuration,
        .default_text = "5s",
        .min = 100,
        .max = 10 * kMinute,
        .description = "A client that has sent part of a request, or does not read its reply, "
                       "for this long is disconnected.",
    }),
    daemon_key<&DaemonConfig::on_worker_exit>({
        .key = "on_worker_exit",
        .type = SettingType::kString,
        .default_text = "restart",
        .rule = StringRule::kOnWorkerExit,
        .description = "When a front worker dies: `restart` replaces it (paced; a crash loop "
                       "stops the daemon with a non-zero exit), `exit` stops the daemon at once.",
    }),
    daemon_key<&DaemonConfig::user>({
        .key = "user",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kAccountOrEmpty,
        .description = "Front workers drop to this user (name or uid) once the supervisor has "
                       "opened the listeners, pid file and log; the state directory is made "
                       "theirs. Empty: they keep the daemon's identity.",
    }),
    daemon_key<&DaemonConfig::group>({
        .key = "group",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kAccountOrEmpty,
        .description = "The group of the front workers (name or gid); empty: the primary group "
                       "of `user`.",
    }),

    provider_key<&ProviderConfig::name>({
        .key = "name",
        .type = SettingType::kString,
        .required = true,
        .rule = StringRule::kName,
        .description = "Names the provider in logs and status; unique among providers.",
    }),
    provider_key<&ProviderConfig::type>({
        .key = "type",
        .type = SettingType::kString,
        .required = true,
        .rule = StringRule::kProviderType,
        .description = "The backend that answers; the keys below depend on it.",
    }),
    provider_key<&ProviderConfig::isolation>({
        .key = "isolation",
        .type = SettingType::kString,
        .default_text = "auto",
        .rule = StringRule::kIsolation,
        .description = "Where the provider runs: `process` in a pool of fastid-provider-worker "
                       "processes (a slow or crashing backend never stalls the daemon), `none` "
                       "inside the daemon's worker on its loop (only for backends that never "
                       "block), `auto` = `none` for files, `process` for every other type.",
    }),
    provider_key<&ProviderConfig::passwd>({
        .key = "passwd",
        .type = SettingType::kString,
        .default_text = "/etc/passwd",
        .rule = StringRule::kAbsolutePath,
        .provider_type = "files",
        .description = "File of users in passwd(5) format.",
    }),
    provider_key<&ProviderConfig::group>({
        .key = "group",
        .type = SettingType::kString,
        .default_text = "/etc/group",
        .rule = StringRule::kAbsolutePath,
        .provider_type = "files",
        .description = "File of groups and their members in group(5) format.",
    }),
    provider_key<&ProviderConfig::shadow>({
        .key = "shadow",
        .type = SettingType::kString,
        .default_text = "/etc/shadow",
        .rule = StringRule::kAbsolutePath,
        .provider_type = "files",
        .description = "File of password hashes in shadow(5) format, for authentication and "
                       "account checks, read at each check; never published nor cached.",
    }),
    provider_key<&ProviderConfig::refresh_interval>({
        .key = "refresh_interval",
        .type = SettingType::kDuration,
        .default_text = "1s",
        .min = 10,
        .max = 1 * kHour,
        .provider_type = "files",
        .description = "How often the files are checked for changes (modification time, size, "
                       "inode); a changed file is read again whole.",
    }),
    provider_key<&ProviderConfig::users>({
        .key = "users",
        .type = SettingType::kInt,
        .default_text = "10000",
        .min = 0,
        .max = 1000000,
        .provider_type = "slow",
        .description = "Users in the generated dataset: `user00001`.. with uid 100001.., as "
                       "`scripts/gen-dataset` writes them.",
    }),
    provider_key<&ProviderConfig::groups>({
        .key = "groups",
        .type = SettingType::kInt,
        .default_text = "1000",
        .min = 1,
        .max = 100000,
        .provider_type = "slow",
        .description = "Groups in the generated dataset: `group0001`.. with gid 200001..; each "
                       "user is a member of 3 of them.",
    }),
    provider_key<&ProviderConfig::delay>({
        .key = "delay",
        .type = SettingType::kDuration,
        .default_text = "0",
        .min = 0,
        .max = 1 * kHour,
        .provider_type = "slow",
        .description = "Added to every lookup (the call blocks, as a synchronous directory "
                       "library does).",
    }),
    provider_key<&ProviderConfig::slow_names>({
        .key = "slow_names",
        .type = SettingType::kStringList,
        .default_text = "",
        .provider_type = "slow",
        .description = "Names whose lookups take `slow_delay` instead of `delay`.",
    }),
    provider_key<&ProviderConfig::slow_delay>({
        .key = "slow_delay",
        .type = SettingType::kDuration,
        .default_text = "1s",
        .min = 0,
        .max = 1 * kDay,
        .provider_type = "slow",
        .description = "How long lookups of `slow_names` take.",
    }),
    provider_key<&ProviderConfig::hang_names>({
        .key = "hang_names",
        .type = SettingType::kStringList,
        .default_text = "",
        .provider_type = "slow",
        .description = "Names whose lookups never answer: the call sleeps until its process "
                       "is killed.",
    }),
    provider_key<&ProviderConfig::crash_names>({
        .key = "crash_names",
        .type = SettingType::kStringList,
        .default_text = "",
        .provider_type = "slow",
        .description = "Names whose lookups make the process die (abort): for the worker "
                       "pool's failure tests, never in the daemon itself.",
    }),
    provider_key<&ProviderConfig::servers>({
        .key = "servers",
        .type = SettingType::kStringList,
        .default_text = "",
        .rule = StringRule::kHostPort,
        .provider_type = "fastid",
        .description = "Upstream fastidd TCP listeners (`\"HOST:PORT\"`), asked in order; the "
                       "next one when a server cannot be reached. At least one.",
    }),
    provider_key<&ProviderConfig::timeout>({
        .key = "timeout",
        .type = SettingType::kDuration,
        .default_text = "2s",
        .min = 10,
        .max = 10 * kMinute,
        .provider_type = "fastid",
        .description = "Longest wait for an upstream's connection (with its TLS handshake) or "
                       "reply before the next server is tried.",
    }),
    provider_key<&ProviderConfig::tls_server_name>({
        .key = "tls_server_name",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "fastid",
        .description = "With `tls_ca_file`: the DNS name every upstream's certificate must carry "
                       "(also sent as SNI). Empty: each certificate must carry the numeric address "
                       "of its server as listed in `servers` (an IP address entry).",
    }),
    provider_key<&ProviderConfig::password>({
        .key = "password",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "slow",
        .description = "Every user's password, for authentication tests; empty: no password "
                       "matches. Test data, never a real secret.",
    }),
    provider_key<&ProviderConfig::down_file>({
        .key = "down_file",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kAbsolutePathOrEmpty,
        .provider_type = "slow",
        .description = "While this file exists, every call fails at once as \"unavailable\", "
                       "as a directory that is down does: for offline-mode tests. Empty: never.",
    }),
    provider_key<&ProviderConfig::expired_names>({
        .key = "expired_names",
        .type = SettingType::kStringList,
        .default_text = "",
        .provider_type = "slow",
        .description = "Users whose account check answers \"account expired\" (their password "
                       "still authenticates): for PAM tests.",
    }),
    provider_key<&ProviderConfig::call_log>({
        .key = "call_log",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kAbsolutePathOrEmpty,
        .provider_type = "slow",
        .description = "Each authentication call appends a line `authenticate NAME` to this "
                       "file (every worker process, appended whole): tests count the calls "
                       "that reached the provider. Empty: none.",
    }),

    // ---- type "ldap" (docs/ldap.md) ----
    provider_key<&ProviderConfig::uri>({
        .key = "uri",
        .type = SettingType::kStringList,
        .default_text = "",
        .provider_type = "ldap",
        .description = "Directory servers, `ldap://host[:port]` or `ldaps://host[:port]`, tried in "
                       "order: the first that answers serves until it fails. At least one.",
    }),
    provider_key<&ProviderConfig::base>({
        .key = "base",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "ldap",
        .description = "Search base DN of users and groups unless `user_base`/`group_base` say "
                       "otherwise; must exist on the server.",
    }),
    provider_key<&ProviderConfig::bind_dn>({
        .key = "bind_dn",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "ldap",
        .description = "DN of the service account for a simple bind; empty: anonymous.",
    }),
    provider_key<&ProviderConfig::bind_password>({
        .key = "bind_password",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "ldap",
        .description = "Password of `bind_dn`. Prefer `bind_password_file`, which keeps the "
                       "secret out of the configuration; never logged, and left out of "
                       "`--check-config` output.",
        .secret = true,
    }),
    provider_key<&ProviderConfig::bind_password_file>({
        .key = "bind_password_file",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kAbsolutePathOrEmpty,
        .provider_type = "ldap",
        .description = "File whose first line is the password of `bind_dn` (read at start; "
                       "should be mode 0600); empty: use `bind_password`.",
    }),
    provider_key<&ProviderConfig::tls_ca_file>({
        .key = "tls_ca_file",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kAbsolutePathOrEmpty,
        .provider_type = "ldap fastid",
        .description = "PEM file of the CA certificates that may sign the server's certificate; "
                       "the certificate is always verified. ldap: for `ldaps://` and `start_tls`; "
                       "empty: the system's trust store. fastid: every connection to `servers` "
                       "is TLS (1.2 or later), verified against these CAs only and never retried "
                       "in plaintext; empty: plaintext, logged as a warning at start.",
    }),
    provider_key<&ProviderConfig::start_tls>({
        .key = "start_tls",
        .type = SettingType::kBool,
        .default_text = "false",
        .provider_type = "ldap",
        .description = "Upgrade `ldap://` connections with StartTLS before binding; a server that "
                       "refuses it is not used.",
    }),
    provider_key<&ProviderConfig::schema>({
        .key = "schema",
        .type = SettingType::kString,
        .default_text = "rfc2307",
        .provider_type = "ldap",
        .description = "Group layout: `rfc2307` (members as names in memberUid) or `rfc2307bis` "
                       "(members as DNs in member, groups may nest; memberUid is read too).",
    }),
    provider_key<&ProviderConfig::user_base>({
        .key = "user_base",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "ldap",
        .description = "Search base of users; empty: `base`.",
    }),
    provider_key<&ProviderConfig::user_scope>({
        .key = "user_scope",
        .type = SettingType::kString,
        .default_text = "sub",
        .provider_type = "ldap",
        .description = "Scope of user searches: `sub`, `one` or `base`.",
    }),
    provider_key<&ProviderConfig::user_filter>({
        .key = "user_filter",
        .type = SettingType::kString,
        .default_text = "(objectClass=posixAccount)",
        .provider_type = "ldap",
        .description = "Filter every user entry matches; lookups AND it with their own term.",
    }),
    provider_key<&ProviderConfig::group_base>({
        .key = "group_base",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "ldap",
        .description = "Search base of groups; empty: `base`.",
    }),
    provider_key<&ProviderConfig::group_scope>({
        .key = "group_scope",
        .type = SettingType::kString,
        .default_text = "sub",
        .provider_type = "ldap",
        .description = "Scope of group searches: `sub`, `one` or `base`.",
    }),
    provider_key<&ProviderConfig::group_filter>({
        .key = "group_filter",
        .type = SettingType::kString,
        .default_text = "(objectClass=posixGroup)",
        .provider_type = "ldap",
        .description = "Filter every group entry matches; lookups AND it with their own term.",
    }),
    provider_key<&ProviderConfig::user_attributes>({
        .key = "user_attributes",
        .type = SettingType::kStringList,
        .default_text = "",
        .provider_type = "ldap",
        .description = "Attribute map of users as `field=attribute` pairs over the defaults "
                       "name=uid, uid=uidNumber, gid=gidNumber, gecos=gecos, "
                       "home=homeDirectory, shell=loginShell.",
    }),
    provider_key<&ProviderConfig::group_attributes>({
        .key = "group_attributes",
        .type = SettingType::kStringList,
        .default_text = "",
        .provider_type = "ldap",
        .description = "Attribute map of groups as `field=attribute` pairs over the defaults "
                       "name=cn, gid=gidNumber, member_uid=memberUid, member=member.",
    }),
    provider_key<&ProviderConfig::page_size>({
        .key = "page_size",
        .type = SettingType::kInt,
        .default_text = "500",
        .min = 1,
        .max = 100000,
        .provider_type = "ldap",
        .description = "Entries per page of an enumeration (paged results control, RFC 2696); "
                       "keep it at or below the server's size limit.",
    }),
    provider_key<&ProviderConfig::nesting_depth>({
        .key = "nesting_depth",
        .type = SettingType::kInt,
        .default_text = "4",
        .min = 0,
        .max = 32,
        .provider_type = "ldap",
        .description = "rfc2307bis: how many levels of nested groups count (0: direct members "
                       "only); each level costs initgroups one search.",
    }),
    provider_key<&ProviderConfig::network_timeout>({
        .key = "network_timeout",
        .type = SettingType::kDuration,
        .default_text = "5s",
        .min = 10,
        .max = 10 * kMinute,
        .provider_type = "ldap",
        .description = "How long connecting to one URI may take before the next is tried.",
    }),
    provider_key<&ProviderConfig::search_timeout>({
        .key = "search_timeout",
        .type = SettingType::kDuration,
        .default_text = "10s",
        .min = 10,
        .max = 10 * kMinute,
        .provider_type = "ldap",
        .description = "How long one search or bind may take; then the connection is dropped "
                       "and the next URI is tried.",
    }),
    provider_key<&ProviderConfig::allow_cleartext_passwords>({
        .key = "allow_cleartext_passwords",
        .type = SettingType::kBool,
        .default_text = "false",
        .provider_type = "ldap",
        .description = "Let authentication bind with the user's password over an `ldap://` URI "
                       "without `start_tls`, where anyone on the path reads it. Off: such binds "
                       "are refused (PAM_AUTHINFO_UNAVAIL) and logged; use `ldaps://` or "
                       "`start_tls`. A provider that may send a password in clear (this, or a "
                       "`bind_dn` over such a URI) is logged as a warning at start.",
    }),

    // ---- directory-backed types: "ldap" and "fastid" ----
    provider_key<&ProviderConfig::min_id>({
        .key = "min_id",
        .type = SettingType::kInt,
        .default_text = "1",
        .min = 1,
        .max = 4294967294,
        .provider_type = "ldap fastid",
        .description = "Smallest uid or gid taken from this provider: a user or group with a "
                       "smaller id (or a user whose primary gid is smaller) is refused as not "
                       "found and logged, and such gids are left out of initgroups. Set it above "
                       "the system's own ids (`SYS_UID_MAX` in /etc/login.defs, usually 999) so "
                       "that a directory cannot hand out a system account's id. 0 (root) is "
                       "always refused.",
    }),
    provider_key<&ProviderConfig::max_id>({
        .key = "max_id",
        .type = SettingType::kInt,
        .default_text = "4294967294",
        .min = 1,
        .max = 4294967294,
        .provider_type = "ldap fastid",
        .description = "Largest uid or gid taken from this provider (4294967295 is `(uid_t)-1`); "
                       "larger ids are refused as `min_id` says. At least `min_id`.",
    }),

    pool_key<&PoolConfig::min_workers>({
        .key = "min_workers",
        .type = SettingType::kInt,
        .default_text = "1",
        .min = 0,
        .max = 1024,
        .description = "Worker processes started with the pool and always kept; 0 starts them "
                       "on demand.",
    }),
    pool_key<&PoolConfig::max_workers>({
        .key = "max_workers",
        .type = SettingType::kInt,
        .default_text = "16",
        .min = 1,
        .max = 1024,
        .description = "Most worker processes at once; past them, requests queue on the least "
                       "busy worker.",
    }),
    pool_key<&PoolConfig::min_spare_workers>({
        .key = "min_spare_workers",
        .type = SettingType::kInt,
        .default_text = "1",
        .min = 0,
        .max = 1024,
        .description = "Idle workers kept ready: after each dispatch, workers are started ahead "
                       "of need until this many are idle (within `max_workers`).",
    }),
    pool_key<&PoolConfig::spare_idle_timeout>({
        .key = "spare_idle_timeout",
        .type = SettingType::kDuration,
        .default_text = "60s",
        .min = 100,
        .max = 1 * kDay,
        .description = "Idle workers beyond `min_workers` and `min_spare_workers` that stay "
                       "idle this long are stopped.",
    }),
    pool_key<&PoolConfig::request_timeout>({
        .key = "request_timeout",
        .type = SettingType::kDuration,
        .default_text = "10s",
        .min = 100,
        .max = 1 * kHour,
        .description = "Longest a request waits in a queue, and longest a worker may take to "
                       "answer it: a worker past it is killed and replaced, and the request "
                       "retried once on another worker, then answered with an error.",
    }),
    pool_key<&PoolConfig::max_requests_per_worker>({
        .key = "max_requests_per_worker",
        .type = SettingType::kInt,
        .default_text = "100000",
        .min = 0,
        .max = 2147483647,
        .description = "A worker is replaced after answering this many requests, which bounds "
                       "what a leaking backend library can hold; 0: never.",
    }),
    pool_key<&PoolConfig::max_queue>({
        .key = "max_queue",
        .type = SettingType::kInt,
        .default_text = "1024",
        .min = 0,
        .max = 1048576,
        .description = "Requests waiting for a busy worker, over the whole pool; past it a "
                       "request is answered \"busy\" at once. Authentication and account "
                       "checks have a queue of this length of their own.",
    }),
    pool_key<&PoolConfig::auth_workers>({
        .key = "auth_workers",
        .type = SettingType::kInt,
        .default_text = "1",
        .min = 0,
        .max = 1024,
        .description = "Workers kept for authentication: lookups never hold more than "
                       "`max_workers` minus this many (at least one), so a flood of lookups "
                       "cannot keep logins from reaching the directory. Authentication is "
                       "also served before any waiting lookup.",
    }),

    fastcache_key<&FastCacheConfig::negative_ttl>({
        .key = "negative_ttl",
        .type = SettingType::kDuration,
        .default_text = "15s",
        .min = 0,
        .max = 1 * kHour,
        .description = "Negative answers (no such user or group) are published with this ttl; "
                       "`\"0\"`: they are not published.",
    }),

    fastcache_map_key<&FastCacheMapConfig::enabled>({
        .key = "enabled",
        .type = SettingType::kBool,
        .default_text = "true",
        .description = "Whether the daemon publishes this map; when not, clients ask the socket.",
    }),
    fastcache_map_key<&FastCacheMapConfig::size_bytes>({
        .key = "size",
        .type = SettingType::kSize,
        .default_text = "8MiB",
        .min = 64 * kKiB,
        .max = 1 * kGiB,
        .description = "Size of the map's file; when full, the oldest entries are overwritten.",
    }),
    fastcache_map_key<&FastCacheMapConfig::ttl>({
        .key = "ttl",
        .type = SettingType::kDuration,
        .default_text = "300s",
        .min = 1 * kSecond,
        .max = 1 * kDay,
        .description = "How long clients may use a published answer before asking the daemon.",
    }),

    listen_key<&ListenConfig::tcp>({
        .key = "tcp",
        .type = SettingType::kStringList,
        .default_text = "",
        .rule = StringRule::kHostPort,
        .description = "TCP listeners, `\"HOST:PORT\"` or `\"[V6]:PORT\"` with a numeric "
                       "address; port 0 takes a free port (the log names it).",
    }),
    listen_key<&ListenConfig::udp>({
        .key = "udp",
        .type = SettingType::kStringList,
        .default_text = "",
        .rule = StringRule::kHostPort,
        .description = "UDP listeners, same syntax: one request per datagram, replies at most "
                       "three times the datagram's size (else marked truncated). Always "
                       "plaintext, even with `tls_cert`: leave it empty (the default) for no "
                       "UDP listener.",
    }),
    listen_key<&ListenConfig::tls_cert>({
        .key = "tls_cert",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kAbsolutePathOrEmpty,
        .description = "PEM file of the server certificate (then any intermediates). With "
                       "`tls_key`, every `tcp` listener speaks TLS only (1.2 or later, no "
                       "renegotiation); empty: plaintext, logged as a warning at start. Read at "
                       "start, before the privilege drop; a new certificate needs a restart.",
    }),
    listen_key<&ListenConfig::tls_key>({
        .key = "tls_key",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kAbsolutePathOrEmpty,
        .description = "PEM file of the certificate's private key, read as root at start. "
                       "fastidd refuses to start when every user may read or write it (mode "
                       "0600 or 0640, owned by root).",
    }),
    listen_key<&ListenConfig::tls_handshake_timeout>({
        .key = "tls_handshake_timeout",
        .type = SettingType::kDuration,
        .default_text = "5s",
        .min = 100,
        .max = 1 * kMinute,
        .description = "Longest time from a TCP connection to a finished TLS handshake; a peer "
                       "that stalls is closed.",
    }),
    pam_key<&PamConfig::max_failures>({
        .key = "max_failures",
        .type = SettingType::kInt,
        .default_text = "5",
        .min = 0,
        .max = 32,  // auth::LockoutTable::kMaxFailures: failure times kept per user
        .description = "Wrong passwords for one user within `failure_window` that lock the user "
                       "out for `lockout_time`, counted over every front worker; attempts in "
                       "flight count too. 0: no lockout.",
    }),
    pam_key<&PamConfig::failure_window>({
        .key = "failure_window",
        .type = SettingType::kDuration,
        .default_text = "15m",
        .min = 1 * kSecond,
        .max = 30 * kDay,
        .description = "How far back failures count towards `max_failures`.",
    }),
    pam_key<&PamConfig::lockout_time>({
        .key = "lockout_time",
        .type = SettingType::kDuration,
        .default_text = "15m",
        .min = 1 * kSecond,
        .max = 30 * kDay,
        .description = "How long a locked-out user is refused (PAM_MAXTRIES) without the source "
                       "being asked.",
    }),
    pam_key<&PamConfig::caller_rate>({
        .key = "caller_rate",
        .type = SettingType::kInt,
        .default_text = "5",
        .min = 1,
        .max = 1000000,
        .description = "Authentication requests per second that one non-root caller uid may make "
                       "(a token bucket); past it, requests are refused at once.",
    }),
    pam_key<&PamConfig::caller_burst>({
        .key = "caller_burst",
        .type = SettingType::kInt,
        .default_text = "10",
        .min = 1,
        .max = 1000000,
        .description = "Requests a non-root caller uid may make at once before `caller_rate` applies.",
    }),
    pam_key<&PamConfig::offline>({
        .key = "offline",
        .type = SettingType::kBool,
        .default_text = "false",
        .description = "Offline authentication: after each successful online login a salted "
                       "libcrypt hash is kept in `offline_file`, and used only while every "
                       "source that could answer is unreachable (never after a rejection).",
    }),
    pam_key<&PamConfig::offline_file>({
        .key = "offline_file",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kAbsolutePathOrEmpty,
        .description = "The offline credentials file (mode 0600, root); empty: "
                       "`state_dir/pam-offline`.",
    }),
    pam_key<&PamConfig::offline_max_age>({
        .key = "offline_max_age",
        .type = SettingType::kDuration,
        .default_text = "7d",
        .min = 1 * kMinute,
        .max = 365 * kDay,
        .description = "An offline credential older than this (since its last online login) "
                       "is not used.",
    }),
    store_key<&StoreConfig::enabled>({
        .key = "enabled",
        .type = SettingType::kBool,
        .default_text = "true",
        .description = "Whether answers of pooled providers are kept in the LMDB store "
                       "`state_dir/store/` (warm restarts, offline mode). Providers that run "
                       "in the daemon (files) are never stored.",
    }),
    store_key<&StoreConfig::size_bytes>({
        .key = "size",
        .type = SettingType::kSize,
        .default_text = "256MiB",
        .min = 1 * kMiB,
        .max = 64 * kGiB,
        .description = "Upper bound of the store file (the LMDB map); from 3/4 full on, the "
                       "records fetched longest ago are evicted.",
    }),
    store_key<&StoreConfig::ttl>({
        .key = "ttl",
        .type = SettingType::kDuration,
        .default_text = "90m",
        .min = 1 * kSecond,
        .max = 30 * kDay,
        .description = "A stored record is answered without asking the provider for this "
                       "long after it was fetched.",
    }),
    store_key<&StoreConfig::negative_ttl>({
        .key = "negative_ttl",
        .type = SettingType::kDuration,
        .default_text = "15s",
        .min = 0,
        .max = 1 * kDay,
        .description = "How long \"no such user or group\" is stored; `\"0\"`: it is not.",
    }),
    store_key<&StoreConfig::refresh_ahead>({
        .key = "refresh_ahead",
        .type = SettingType::kDuration,
        .default_text = "5m",
        .min = 0,
        .max = 30 * kDay,
        .description = "A record asked for when it has less than this left to live is "
                       "answered at once and refreshed in the background; `\"0\"`: never. "
                       "Must be shorter than `ttl`.",
    }),
    store_key<&StoreConfig::offline_max_age>({
        .key = "offline_max_age",
        .type = SettingType::kDuration,
        .default_text = "7d",
        .min = 0,
        .max = 365 * kDay,
        .description = "While a provider is offline, expired records fetched at most this "
                       "long ago are still answered; `\"0\"`: none are.",
    }),
    store_key<&StoreConfig::probe_interval>({
        .key = "probe_interval",
        .type = SettingType::kDuration,
        .default_text = "5s",
        .min = 100,
        .max = 1 * kHour,
        .description = "While a provider is offline, how often it is tried again; the first "
                       "answer puts it back online.",
    }),
};

constexpr FastCacheMap kFastcacheMaps[] = {
    {"passwd", &FastCacheConfig::passwd},
    {"group", &FastCacheConfig::group},
    {"initgroups", &FastCacheConfig::initgroups},
};

// Every section DESIGN.md describes is supported now; the list stays for later ones.
constexpr std::array<std::string_view, 0> kUnsupportedSections{};
constexpr std::string_view kAvailableTypes[] = {"files", "ldap", "slow", "fastid"};
constexpr std::string_view kPlannedTypes[] = {"winbind"};

// ---- Small helpers -------------------------------------------------------------

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string_view log_level_text(core::LogLevel level) {
  switch (level) {
    case core::LogLevel::kDebug: return "debug";
    case core::LogLevel::kInfo: return "info";
    case core::LogLevel::kWarning: return "warning";
    case core::LogLevel::kError: return "error";
  }
  return "info";
}

std::string join(std::span<const std::string_view> words, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += sep;
    out += words[i];
  }
  return out;
}

// Multiplies or adds with a check: values come from files people type.
std::string limit_text(const Setting& s, std::int64_t v) {
  switch (s.type) {
    case SettingType::kDuration: return format_duration(milliseconds(v));
    case SettingType::kSize: return format_size(static_cast<std::uint64_t>(v));
    default: return std::to_string(v);
  }
}

std::string out_of_range(const Setting& s, std::int64_t v) {
  return "must be between " + limit_text(s, s.min) + " and " + limit_text(s, s.max) + ", got " +
         limit_text(s, v);
}

}  // namespace

// ---- Table access ----------------------------------------------------------------

std::span<const Setting> settings() { return kSettings; }

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
  for (const Setting& s : kSettings) {
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
  for (const Setting& s : kSettings) {
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
  for (const Setting& s : kSettings) {
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

// ---- config.h functions that need no TOML parser ------------------------------------

Config default_config() {
  Config config;
  config.source = std::string(kEmbeddedSource);
  apply_defaults(config.daemon);
  apply_defaults(config.fastcache);
  apply_defaults(config.listen);
  apply_defaults(config.pam);
  apply_defaults(config.store);
  ProviderConfig local;
  apply_defaults(local);
  local.name = "local";
  local.type = "files";
  config.providers.push_back(std::move(local));
  return config;
}

std::string render_config(const Config& config, Secrets secrets) {
  std::string out = "# fastidd configuration from ";
  // The source is a path or a marker; quoted so that no byte of it can end the comment.
  out += toml_quote(config.source);
  out += "\n\n[daemon]\n";
  for (const Setting& s : kSettings) {
    if (s.section != Section::kDaemon) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_daemon(config.daemon)) + "\n";
  }
  out += "\n[pool]\n";
  for (const Setting& s : kSettings) {
    if (s.section != Section::kPool) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_pool(config.pool)) + "\n";
  }
  out += "\n[fastcache]\n";
  for (const Setting& s : kSettings) {
    if (s.section != Section::kFastcache) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_fastcache(config.fastcache)) + "\n";
  }
  for (const FastCacheMap& m : kFastcacheMaps) {
    std::string keys;
    for (const Setting& s : kSettings) {
      if (s.section != Section::kFastcacheMap) continue;
      keys += keys.empty() ? "" : ", ";
      keys += std::string(s.key) + " = " + format_setting_value(s, s.read_fastcache_map(config.fastcache.*m.member));
    }
    out += std::string(m.name) + " = { " + keys + " }\n";
  }
  out += "\n[listen]\n";
  for (const Setting& s : kSettings) {
    if (s.section != Section::kListen) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_listen(config.listen)) + "\n";
  }
  out += "\n[pam]\n";
  for (const Setting& s : kSettings) {
    if (s.section != Section::kPam) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_pam(config.pam)) + "\n";
  }
  out += "\n[store]\n";
  for (const Setting& s : kSettings) {
    if (s.section != Section::kStore) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_store(config.store)) + "\n";
  }
  for (const ProviderConfig& p : config.providers) {
    out += "\n[[provider]]\n";
    for (const Setting& s : kSettings) {
      if (s.section != Section::kProvider) continue;
      if (!setting_applies_to(s, p.type)) continue;
      const SettingValue value = s.read_provider(p);
      if (s.secret && secrets == Secrets::kLeaveOut && value != SettingValue(std::string())) {
        out += "# " + std::string(s.key) + " is set (a secret: not shown)\n";
        continue;
      }
      out += std::string(s.key) + " = " + format_setting_value(s, value) + "\n";
    }
    // Only what differs from [pool]: that is what the provider overrides.
    std::string overrides;
    for (const Setting& s : kSettings) {
      if (s.section != Section::kPool) continue;
      const SettingValue own = s.read_provider(p);
      if (own == s.read_pool(config.pool)) continue;
      overrides += overrides.empty() ? "" : ", ";
      overrides += std::string(s.key) + " = " + format_setting_value(s, own);
    }
    if (!overrides.empty()) out += "pool = { " + overrides + " }\n";
  }
  return out;
}

namespace {

std::string md_cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else out += c;
  }
  return out;
}

std::string doc_default(const Setting& s) {
  if (s.required) return "required";
  auto value = parse_setting_text(s, s.default_text);
  if (!value) return "?";
  return "`" + format_setting_value(s, *value) + "`";
}

std::string doc_limits(const Setting& s) {
  auto code_list = [](std::span<const std::string_view> words) {
    std::string out;
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (i > 0) out += ", ";
      // Appended piece by piece: `"`" + std::string(...)` inserts at the front
      // of a temporary, which GCC 12's -O2/-O3 -Wrestrict misreads as an
      // overlapping memcpy (a false positive that fails the Release build).
      out += '`';
      out += words[i];
      out += '`';
    }
    return out;
  };
  switch (s.type) {
    case SettingType::kInt:
    case SettingType::kDuration:
    case SettingType::kSize:
      return limit_text(s, s.min) + " to " + limit_text(s, s.max);
    case SettingType::kBool: return "`true`, `false`";
    case SettingType::kLogLevel: {
      static constexpr std::string_view kLevels[] = {"debug", "info", "warning", "error"};
      return code_list(kLevels);
    }
    case SettingType::kStringList:
      return s.rule == StringRule::kHostPort ? "each `HOST:PORT`" : "";
    case SettingType::kString:
      switch (s.rule) {
        case StringRule::kAny: return "";
        case StringRule::kAbsolutePath: return "absolute path";
        case StringRule::kAbsolutePathOrEmpty: return "absolute path, or empty";
        case StringRule::kName: return "1 to 64 of `A-Z a-z 0-9 _ . -`";
        case StringRule::kProviderType: return code_list(kAvailableTypes);
        case StringRule::kIsolation: return "`auto`, `process`, `none`";
        case StringRule::kOnWorkerExit: return "`restart`, `exit`";
        case StringRule::kHostPort: return "";
        case StringRule::kAccountOrEmpty: return "name or number, or empty";
      }
  }
  return "";
}

void doc_table(std::string& out, Section section, std::string_view provider_type) {
  out += "| key | type | default | limits | description |\n";
  out += "|---|---|---|---|---|\n";
  for (const Setting& s : kSettings) {
    // The table of every type, or of one type: the keys that apply to it.
    if (s.section != section || s.provider_type.empty() != provider_type.empty()) continue;
    if (!provider_type.empty() && !setting_applies_to(s, provider_type)) continue;
    out += "| `" + std::string(s.key) + "` | " + std::string(setting_type_name(s.type)) + " | " +
           md_cell(doc_default(s)) + " | " + md_cell(doc_limits(s)) + " | " +
           md_cell(s.description) + " |\n";
  }
}

}  // namespace

std::string config_reference_markdown() {
  std::string out;
  out +=
      "# Configuration\n"
      "\n"
      "<!-- Generated by config_reference_markdown() from the settings table in\n"
      "     src/daemon/settings.cc. Do not edit by hand: config_test fails when this\n"
      "     file differs. Regenerate with FASTID_UPDATE_DOCS=1 build/bin/config_test. -->\n"
      "\n"
      "`fastidd` reads one [TOML](https://toml.io) file. Every key is described below,\n"
      "with its type, default and limits.\n"
      "\n"
      "## Where the file is found\n"
      "\n"
      "1. `fastidd --config FILE` reads `FILE`; it must exist.\n"
      "2. Without `--config`, `fastidd` reads `" +
      std::string(kDefaultConfigPath) +
      "` if that file exists,\n"
      "   else `" +
      std::string(kLegacyConfigPath) + "` (where earlier versions looked) if that one exists.\n"
      "3. Otherwise it runs with the embedded default: the defaults below and one\n"
      "   `files` provider named `local` over `/etc/passwd` and `/etc/group`.\n"
      "\n"
      "`fastidd --check-config` reads the configuration the same way, checks it,\n"
      "opens and closes each provider once, and exits: 0 when all is valid.\n"
      "`fastidd --config-reference` prints this document.\n"
      "\n"
      "## Errors\n"
      "\n"
      "An unknown key, a value of the wrong type or an impossible value stops start-up\n"
      "with the file, line and key named, for example:\n"
      "\n"
      "```\n"
      "/etc/fastid.toml:12: [daemon] worker: unknown key (did you mean \"workers\"?)\n"
      "```\n"
      "\n"
      "";
  if (!kUnsupportedSections.empty()) {
    out += "Sections that the design describes but this version does not implement yet\n(";
    for (std::size_t i = 0; i < kUnsupportedSections.size(); ++i) {
      if (i > 0) out += ", ";
      out += "`[" + std::string(kUnsupportedSections[i]) + "]`";
    }
    out +=
        ")\n"
        "are refused with an error rather than ignored: a setting never silently has no\n"
        "effect.\n"
        "\n";
  }
  out +=
      ""
      "## Value syntax\n"
      "\n"
      "- **duration**: a string of one or more numbers each followed by a unit, largest\n"
      "  unit first, each unit at most once: `\"300ms\"`, `\"15s\"`, `\"90m\"`, `\"7d\"`,\n"
      "  `\"1h30m\"`. Units: `ms`, `s`, `m` (minutes), `h`, `d`. `\"0\"` is zero. No sign,\n"
      "  fraction or space: write `\"1500ms\"`, not `\"1.5s\"`.\n"
      "- **size**: a string, a number followed by `B`, `KiB`, `MiB`, `GiB` or `TiB`\n"
      "  (powers of 1024): `\"8MiB\"`, `\"512KiB\"`, `\"1GiB\"`; or a plain number of bytes\n"
      "  (`4096` or `\"4096\"`). `KB`, `MB` and friends are refused as ambiguous.\n"
      "- **log level**: `\"debug\"`, `\"info\"`, `\"warning\"` or `\"error\"`.\n"
      "- **integer**, **boolean**, **string**, **list of strings**: TOML's own.\n"
      "\n"
      "## [daemon]\n"
      "\n"
      "The daemon process and its front workers. Every key is optional.\n"
      "\n";
  doc_table(out, Section::kDaemon, "");
  out +=
      "\n"
      "## [[provider]]\n"
      "\n"
      "The backends that answer, asked in the order they appear. At least one is\n"
      "required; each has a unique `name` and a `type`.\n"
      "\n";
  doc_table(out, Section::kProvider, "");
  out +=
      "\n"
      "A provider may override any key of `[pool]` for its own pool, in a table named\n"
      "`pool`: `pool = { max_workers = 32 }`. Keys it leaves out keep the `[pool]` value.\n";
  for (std::string_view type : kAvailableTypes) {
    out += "\n### type = \"" + std::string(type) + "\"\n\n";
    doc_table(out, Section::kProvider, type);
  }
  out += "\nProvider types described in the design but not available in this build: ";
  for (std::size_t i = 0; i < std::size(kPlannedTypes); ++i) {
    if (i > 0) out += ", ";
    out += "`" + std::string(kPlannedTypes[i]) + "`";
  }
  out +=
      ".\n"
      "\n"
      "## [pool]\n"
      "\n"
      "Backends whose client libraries block run in pools of worker processes that the\n"
      "daemon feeds requests to, one pool per provider. These keys are the defaults of\n"
      "every pool; a provider's `pool = { ... }` overrides them for its own. Every key is\n"
      "optional; `min_workers` and `min_spare_workers` may not exceed `max_workers`.\n"
      "\n";
  doc_table(out, Section::kPool, "");
  out +=
      "\n"
      "## [fastcache]\n"
      "\n"
      "The daemon publishes public answers in memory-mapped files that clients read\n"
      "without a system call, one per map: ";
  for (std::size_t i = 0; i < std::size(kFastcacheMaps); ++i) {
    if (i > 0) out += ", ";
    out += "`" + std::string(kFastcacheMaps[i].name) + "`";
  }
  out +=
      ". Every key is optional.\n"
      "\n";
  doc_table(out, Section::kFastcache, "");
  out +=
      "\n"
      "Each map is a table of these keys, e.g.\n"
      "`passwd = { enabled = true, size = \"8MiB\", ttl = \"300s\" }`; keys it leaves out\n"
      "keep their default.\n"
      "\n";
  doc_table(out, Section::kFastcacheMap, "");
  out +=
      "\n"
      "## [listen]\n"
      "\n"
      "Network listeners for lookups of public data (users, groups, initgroups,\n"
      "enumeration, ping); authentication and admin requests are refused on them.\n"
      "The supervisor opens them before it forks the workers, which share them. Every\n"
      "key is optional; by default there is no network listener. With `tls_cert` and\n"
      "`tls_key` the TCP listeners speak TLS only; UDP is always plaintext, for public\n"
      "lookups. The protocol, truncation, TLS and the TCP retry are in docs/protocol.md.\n"
      "\n";
  doc_table(out, Section::kListen, "");
  out +=
      "\n"
      "## [pam]\n"
      "\n"
      "Authentication through the `pam` socket (pam_fastid.so, `fastid auth`): lockout,\n"
      "per-caller rate limits and offline authentication. Every key is optional; see\n"
      "docs/pam.md.\n"
      "\n";
  doc_table(out, Section::kPam, "");
  out +=
      "\n"
      "## [store]\n"
      "\n"
      "Answers of providers that run in a pool are kept in an LMDB file shared by every\n"
      "fastidd process (`state_dir/store/`), so that the daemon is warm after a restart\n"
      "and keeps answering, from expired records, while a provider is offline\n"
      "(docs/store.md). Every key is optional.\n"
      "\n";
  doc_table(out, Section::kStore, "");
  out +=
      "\n"
      "## Example\n"
      "\n"
      "The embedded default, with every setting spelled out:\n"
      "\n"
      "```toml\n";
  out += render_config(default_config());
  out += "```\n";
  return out;
}

}  // namespace fastid::daemon
