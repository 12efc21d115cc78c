// The keys of the front ends, the ways clients and scrapers reach the daemon:
// [listen] (the network front end), [pam], [varlink], [nscd] and [metrics].
// Part of the settings table (settings_table.cc puts them in documentation
// order).
#include "daemon/settings_table.h"

namespace fastid::daemon::table_detail {
namespace {

const Setting kListenKeys[] = {
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
};

const Setting kPamKeys[] = {
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
};

const Setting kVarlinkKeys[] = {
    varlink_key<&VarlinkConfig::enabled>({
        .key = "enabled",
        .type = SettingType::kBool,
        .default_text = "false",
        .description = "Whether fastidd serves `io.systemd.UserDatabase` on `socket`, so that "
                       "nss-systemd and `userdbctl` resolve fastid's users and groups.",
    }),
    varlink_key<&VarlinkConfig::socket>({
        .key = "socket",
        .type = SettingType::kString,
        .default_text = "/run/systemd/userdb/io.fastid",
        .rule = StringRule::kAbsolutePath,
        .description = "The Varlink socket (mode 0666). Its file name is the service name "
                       "clients must send (`service`); systemd asks every socket in "
                       "`/run/systemd/userdb/`.",
    }),
    varlink_key<&VarlinkConfig::include_files>({
        .key = "include_files",
        .type = SettingType::kBool,
        .default_text = "false",
        .description = "Whether records answered by `files` providers are served too. Off: "
                       "glibc's `files` already answers them, and enumeration would list them twice.",
    }),
    varlink_key<&VarlinkConfig::enumerate>({
        .key = "enumerate",
        .type = SettingType::kBool,
        .default_text = "true",
        .description = "Whether whole lists are served (`getent passwd`, `userdbctl`); off, every "
                       "enumeration is answered `EnumerationNotSupported` (directories too large to list).",
    }),
    varlink_key<&VarlinkConfig::max_connections>({
        .key = "max_connections",
        .type = SettingType::kInt,
        .default_text = "1024",
        .min = 1,
        .max = 65536,
        .description = "Connections of the Varlink socket per front worker; past it new ones "
                       "are closed. Non-root uids share three quarters of them, each at most "
                       "`[daemon] max_connections_per_uid`.",
    }),
};

const Setting kNscdKeys[] = {
    nscd_key<&NscdConfig::enabled>({
        .key = "enabled",
        .type = SettingType::kBool,
        .default_text = "false",
        .description = "Whether fastidd answers glibc's nscd protocol on `socket` and hands out "
                       "shared maps that glibc searches in the calling process, with no NSS "
                       "module loaded (docs/nscd.md). Stop any nscd, unscd or nsncd first.",
    }),
    nscd_key<&NscdConfig::socket>({
        .key = "socket",
        .type = SettingType::kString,
        .default_text = "/var/run/nscd/socket",
        .rule = StringRule::kAbsolutePath,
        .description = "The nscd socket (mode 0666). glibc connects to `/var/run/nscd/socket` "
                       "and nowhere else: another path is for tests and containers that bind it there.",
    }),
};

const Setting kMetricsKeys[] = {
    metrics_key<&MetricsConfig::listen>({
        .key = "listen",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kHostPortOrEmpty,
        .description = "Where Prometheus scrapes `GET /metrics` over plain HTTP: one numeric "
                       "`HOST:PORT` (`\"127.0.0.1:9464\"`, `\"[::1]:9464\"`); empty: no listener. "
                       "Figures only, no names; still, bind it to loopback or a management network "
                       "(docs/operations.md, \"Metrics\").",
    }),
    metrics_key<&MetricsConfig::max_connections>({
        .key = "max_connections",
        .type = SettingType::kInt,
        .default_text = "64",
        .min = 1,
        .max = 4096,
        .description = "Scrape connections per front worker; past it new ones are closed.",
    }),
    metrics_key<&MetricsConfig::max_connections_per_address>({
        .key = "max_connections_per_address",
        .type = SettingType::kInt,
        .default_text = "4",
        .min = 1,
        .max = 4096,
        .description = "Scrape connections one IPv4 address (or IPv6 /64) may hold per front "
                       "worker; at the cap its oldest idle one is closed, or the new one refused.",
    }),
};

}  // namespace

std::span<const Setting> listen_keys() { return kListenKeys; }
std::span<const Setting> pam_keys() { return kPamKeys; }
std::span<const Setting> varlink_keys() { return kVarlinkKeys; }
std::span<const Setting> nscd_keys() { return kNscdKeys; }
std::span<const Setting> metrics_keys() { return kMetricsKeys; }

}  // namespace fastid::daemon::table_detail
