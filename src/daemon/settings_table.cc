// The settings table: every key the daemon understands, in documentation
// order, and the keys of the daemon's own sections ([daemon], [pool],
// [fastcache], [store]). Adding a key here (or in settings_provider_keys.cc for
// [[provider]], settings_front_end_keys.cc for [listen], [pam], [varlink],
// [nscd] and [metrics]) is all it takes for it to be parsed, checked, rendered
// by --check-config and documented.
#include <vector>

#include "daemon/settings_table.h"

namespace fastid::daemon {
namespace {

using namespace table_detail;

const Setting kDaemonKeys[] = {
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
        .description = "Lowest level of the messages written to the log (stderr). `fastid "
                       "debug-level LEVEL` changes it at run time in every front worker, until the "
                       "next reload or restart.",
    }),
    daemon_key<&DaemonConfig::log_repeat_burst>({
        .key = "log_repeat_burst",
        .type = SettingType::kInt,
        .default_text = "20",
        .min = 0,
        .max = 1000000,
        .description = "Identical log lines (same level and text) a process writes per "
                       "`log_repeat_window`; the rest are counted, not written, and one line says "
                       "how many were dropped once the window ends. 0: no limit.",
    }),
    daemon_key<&DaemonConfig::log_repeat_window>({
        .key = "log_repeat_window",
        .type = SettingType::kDuration,
        .default_text = "60s",
        .min = 1 * kSecond,
        .max = 1 * kDay,
        .description = "The window of `log_repeat_burst`.",
    }),
    daemon_key<&DaemonConfig::trace_requests>({
        .key = "trace_requests",
        .type = SettingType::kBool,
        .default_text = "false",
        .description = "Writes one `trace` line to the log for each stage of every lookup (received, "
                       "store read, dispatched, provider started, each directory search sent and "
                       "answered, reply written, store written, published), with a monotonic time "
                       "in ns, whatever the log level: to see where a lookup's time goes "
                       "(`bench/run-ldap-bench` prints each stage's median). Costly; off in service.",
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
    daemon_key<&DaemonConfig::max_large_reply_bytes>({
        .key = "max_large_reply_bytes",
        .type = SettingType::kSize,
        .default_text = "64MiB",
        .min = 4 * kMiB,
        .max = 64 * kGiB,
        .description = "Bytes of large replies (answers of 64 KiB or more: big groups, enumeration "
                       "pages) a worker may have in flight to clients that have not read them yet; "
                       "one payload written to many readers counts once. Past it a new large reply "
                       "is answered `busy` (the client's \"try again\") and counted in "
                       "`replies.large_refused`; non-root callers together may use three quarters "
                       "of it, the rest is root's. With `stall_timeout`, it bounds what slow readers "
                       "can make a worker hold.",
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

};

const Setting kPoolKeys[] = {
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
};

const Setting kFastcacheKeys[] = {
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
    fastcache_map_key<&FastCacheMapConfig::max_record>({
        .key = "max_record",
        .type = SettingType::kSize,
        .default_text = "1MiB",
        .min = 1 * kKiB,
        .max = 1 * kMiB,
        .description = "Largest record the map takes; a larger answer is served over the socket "
                       "only. The map keeps it within half of its record ring (a map of `size` "
                       "8MiB takes records up to 1MiB, the format's limit), so that a group of "
                       "50,000 members (~500 KB) is answered from the map.",
    }),
    fastcache_map_key<&FastCacheMapConfig::ttl>({
        .key = "ttl",
        .type = SettingType::kDuration,
        .default_text = "300s",
        .min = 1 * kSecond,
        .max = 1 * kDay,
        .description = "How long clients may use a published answer before asking the daemon.",
    }),
};

const Setting kStoreKeys[] = {
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
    store_key<&StoreConfig::max_negative_entries>({
        .key = "max_negative_entries",
        .type = SettingType::kInt,
        .default_text = "10000",
        .min = 16,
        .max = 10000000,
        .description = "Negative answers (\"no such user or group\") the store keeps, apart from "
                       "its records: past it the oldest negative answers are evicted, never a "
                       "record, so that a flood of unknown names cannot push real users out "
                       "(about 100 bytes each in the file).",
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
    store_key<&StoreConfig::stale_after>({
        .key = "stale_after",
        .type = SettingType::kDuration,
        .default_text = "2s",
        .min = 0,
        .max = 1 * kHour,
        .description = "While a provider is online, an expired record (fetched at most "
                       "`offline_max_age` ago) is answered if the provider has not answered "
                       "within this long, and the provider's answer is stored when it comes: a "
                       "hung directory, or the pool's `request_timeout` and retry, would "
                       "otherwise outlast the clients' own 5 s reply timeout. Keep it below "
                       "that; `\"0\"`: wait for the provider.",
    }),
};

}  // namespace

std::span<const Setting> settings() {
  static const std::vector<Setting> all = [] {
    // Documentation order (docs/configuration.md, --check-config).
    const std::span<const Setting> parts[] = {
        kDaemonKeys,      table_detail::provider_keys(), kPoolKeys,
        kFastcacheKeys,   table_detail::listen_keys(),   table_detail::pam_keys(),
        kStoreKeys,       table_detail::varlink_keys(),  table_detail::nscd_keys(),
        table_detail::metrics_keys(),
    };
    std::vector<Setting> v;
    for (std::span<const Setting> part : parts) v.insert(v.end(), part.begin(), part.end());
    return v;
  }();
  return all;
}

}  // namespace fastid::daemon
