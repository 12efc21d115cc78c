// The [[provider]] keys of the settings table: every provider type's settings,
// in documentation order. settings_table.cc puts them between [daemon] and [pool].
#include "daemon/settings_table.h"

namespace fastid::daemon::table_detail {
namespace {

const Setting kProviderKeys[] = {
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
    provider_key<&ProviderConfig::netgroup>({
        .key = "netgroup",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kAbsolutePathOrEmpty,
        .provider_type = "files",
        .description = "File of netgroups in netgroup(5) format (`/etc/netgroup`), re-read when it "
                       "changes like the others; empty: this provider has no netgroups "
                       "(docs/netgroups.md).",
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
    provider_key<&ProviderConfig::async_lookups>({
        .key = "async_lookups",
        .type = SettingType::kBool,
        .default_text = "false",
        .provider_type = "ldap",
        .description = "Lookups by name or id (users, groups, initgroups) are searched by each "
                       "front worker itself, with libldap's asynchronous API on a connection of "
                       "its own watched by its event loop: no hop to a provider worker, several "
                       "searches outstanding at once. The same searches, rules and checks as in "
                       "the pool; enumeration, netgroups, SSH keys, authentication and account "
                       "checks stay in the pool, which also answers every lookup while that "
                       "connection is down (it is opened again in the background). Needs the "
                       "pool (`isolation` not `none`).",
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
    provider_key<&ProviderConfig::access_filter>({
        .key = "access_filter",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "ldap",
        .description = "Filter the user's entry must also match at the account check (PAM "
                       "acct_mgmt), e.g. `(memberOf=cn=shell,ou=groups,dc=example,dc=org)`; a user "
                       "it does not match is refused (PAM_PERM_DENIED) and logged naming it. "
                       "Empty: no filter.",
    }),
    provider_key<&ProviderConfig::password_policy_dn>({
        .key = "password_policy_dn",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "ldap",
        .description = "DN of the directory's default password policy entry (slapd's "
                       "`olcPPolicyDefault`), read for `pwdMaxAge` and `pwdExpireWarning` when a "
                       "user's entry names no `pwdPolicySubentry`: the account check then warns "
                       "before the password expires (PAM_TEXT_INFO) and answers "
                       "PAM_NEW_AUTHTOK_REQD once it has (docs/ldap.md). Empty: only users whose "
                       "entry names a policy.",
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
    provider_key<&ProviderConfig::netgroup_base>({
        .key = "netgroup_base",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "ldap",
        .description = "Search base of netgroups (subtree); empty: `base` (docs/netgroups.md).",
    }),
    provider_key<&ProviderConfig::netgroup_filter>({
        .key = "netgroup_filter",
        .type = SettingType::kString,
        .default_text = "(objectClass=nisNetgroup)",
        .provider_type = "ldap",
        .description = "Filter every netgroup entry matches (its name in `cn`, triples in "
                       "`nisNetgroupTriple`, nested netgroups in `memberNisNetgroup`).",
    }),
    provider_key<&ProviderConfig::ssh_key_attribute>({
        .key = "ssh_key_attribute",
        .type = SettingType::kString,
        .default_text = "sshPublicKey",
        .provider_type = "ldap",
        .description = "Attribute of a user entry holding its SSH public keys, one "
                       "authorized_keys line each, for `fastid ssh-keys` (docs/ssh.md); empty: "
                       "no keys from this directory.",
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
    provider_key<&ProviderConfig::sasl_mech>({
        .key = "sasl_mech",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "ldap",
        .description = "How the service account binds: empty for a simple bind as `bind_dn`, "
                       "`GSSAPI` for a Kerberos bind as `principal` with a ticket fastid gets "
                       "itself from `keytab` (kept in memory, per provider worker, renewed "
                       "before it expires; docs/kerberos.md). With GSSAPI, `bind_dn` stays "
                       "empty and each `uri` names the server as its `ldap/` principal does.",
    }),
    provider_key<&ProviderConfig::keytab>({
        .key = "keytab",
        .type = SettingType::kString,
        .default_text = "",
        .rule = StringRule::kAbsolutePathOrEmpty,
        .provider_type = "ldap",
        .description = "With `sasl_mech = \"GSSAPI\"`: the keytab holding the key of "
                       "`principal`; must be readable by the daemon (and its `user`), and by "
                       "nobody else. Required for GSSAPI.",
    }),
    provider_key<&ProviderConfig::principal>({
        .key = "principal",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "ldap",
        .description = "With `sasl_mech = \"GSSAPI\"`: the Kerberos principal fastid binds "
                       "as (`name/host` or `name/host@REALM`); empty: this host's principal "
                       "`host/<hostname>`.",
    }),

    // ---- Kerberos password checks, types "files" and "ldap" (docs/kerberos.md) ----
    provider_key<&ProviderConfig::auth_provider>({
        .key = "auth_provider",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "files ldap",
        .description = "Who checks passwords: empty for the provider itself, `krb5` for the "
                       "Kerberos KDC: the password must get the user an initial ticket, which "
                       "must verify against `krb5_keytab` (a spoofed KDC cannot let anyone in), "
                       "and the ticket is left for the user in a cache (`krb5_ccache`). "
                       "Lookups and account checks stay the provider's. Runs in the provider "
                       "pool (`isolation` must not be `none`).",
    }),
    provider_key<&ProviderConfig::krb5_realm>({
        .key = "krb5_realm",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "files ldap",
        .description = "With `auth_provider = \"krb5\"`: the realm of the users' principals "
                       "(`NAME@REALM`); empty: krb5.conf's `default_realm`. The KDCs are "
                       "krb5.conf's (or `KRB5_CONFIG`'s).",
    }),
    provider_key<&ProviderConfig::krb5_keytab>({
        .key = "krb5_keytab",
        .type = SettingType::kString,
        .default_text = "/etc/krb5.keytab",
        .rule = StringRule::kAbsolutePath,
        .provider_type = "files ldap",
        .description = "With `auth_provider = \"krb5\"`: the keytab with this host's `host/` "
                       "key that every login's ticket is verified against; a missing keytab "
                       "stops the start (never a login without the check).",
    }),
    provider_key<&ProviderConfig::krb5_ccache>({
        .key = "krb5_ccache",
        .type = SettingType::kString,
        .default_text = "FILE:/tmp/krb5cc_%U_XXXXXX",
        .provider_type = "files ldap",
        .description = "With `auth_provider = \"krb5\"`: where a login's ticket is left: a new "
                       "file per login, `%U` the uid, `XXXXXX` random, created by root with "
                       "O_EXCL|O_NOFOLLOW, mode 0600, owned by the user, in a directory nobody "
                       "else can swap; or `KEYRING:persistent:%U`, the user's persistent kernel "
                       "keyring. pam_fastid exports it as KRB5CCNAME (its `ccache_dir` option "
                       "names the directory of FILE: caches). Empty: no ticket is kept.",
    }),

    // ---- type "winbind" (docs/winbind.md) ----
    provider_key<&ProviderConfig::separator>({
        .key = "separator",
        .type = SettingType::kString,
        .default_text = "\\",
        .provider_type = "winbind",
        .description = "Between domain and user in the names fastid answers with: `\\` "
                       "(`DOMAIN\\user`), `/`, `+`, or `@` (`user@DOMAIN`). Lookups take both "
                       "`DOMAIN\\user` (with this or winbindd's separator) and `user@domain`.",
    }),
    provider_key<&ProviderConfig::default_domain>({
        .key = "default_domain",
        .type = SettingType::kString,
        .default_text = "",
        .provider_type = "winbind",
        .description = "A domain (NetBIOS or DNS name, one winbindd knows) whose users and "
                       "groups are answered and named by their short names (`bob` for "
                       "`CORP\\bob`); qualified names of it are accepted too. Empty: short "
                       "names go to winbindd as they are.",
    }),
    provider_key<&ProviderConfig::case_sensitive>({
        .key = "case_sensitive",
        .type = SettingType::kBool,
        .default_text = "false",
        .provider_type = "winbind",
        .description = "Off: names match without regard to case, as AD compares them, and "
                       "answers carry the directory's own case. On: a name must be asked in "
                       "that exact case (domains always match without case).",
    }),

    // ---- every type: who may log in (the account check) ----
    provider_key<&ProviderConfig::allow_users>({
        .key = "allow_users",
        .type = SettingType::kStringList,
        .default_text = "",
        .description = "Users of this provider who may log in (PAM acct_mgmt); with "
                       "`allow_groups`, members of those groups may too. Both empty: everyone "
                       "not denied. Refusals are PAM_PERM_DENIED, logged naming the rule.",
    }),
    provider_key<&ProviderConfig::deny_users>({
        .key = "deny_users",
        .type = SettingType::kStringList,
        .default_text = "",
        .description = "Users of this provider who may not log in; wins over every allow rule.",
    }),
    provider_key<&ProviderConfig::allow_groups>({
        .key = "allow_groups",
        .type = SettingType::kStringList,
        .default_text = "",
        .description = "Groups (by name) whose members may log in: the user's primary group or "
                       "one of its initgroups. A group nobody knows admits nobody.",
    }),
    provider_key<&ProviderConfig::deny_groups>({
        .key = "deny_groups",
        .type = SettingType::kStringList,
        .default_text = "",
        .description = "Groups whose members may not log in; wins over every allow rule. The "
                       "same decision is made offline, from the store's records.",
    }),

    // ---- every type: home and shell rules (applied to every user answered) ----
    provider_key<&ProviderConfig::override_homedir>({
        .key = "override_homedir",
        .type = SettingType::kString,
        .default_text = "",
        .description = "Template of every user's home directory, replacing the provider's: `%u` "
                       "name, `%U` uid, `%d` domain (the provider's name), `%f` name@domain, `%%` "
                       "a percent sign. An absolute path without `.` or `..` segments; a user "
                       "whose values would make one (a `/` in a name) is refused and logged. "
                       "Empty: the provider's home.",
    }),
    provider_key<&ProviderConfig::fallback_homedir>({
        .key = "fallback_homedir",
        .type = SettingType::kString,
        .default_text = "",
        .description = "Template (as `override_homedir`) for users whose home is empty.",
    }),
    provider_key<&ProviderConfig::override_shell>({
        .key = "override_shell",
        .type = SettingType::kString,
        .default_text = "",
        .description = "Shell of every user, replacing the provider's (absolute). Empty: theirs.",
    }),
    provider_key<&ProviderConfig::allowed_shells>({
        .key = "allowed_shells",
        .type = SettingType::kStringList,
        .default_text = "",
        .description = "Shells users may have; any other becomes `shell_fallback`. Empty: any.",
    }),
    provider_key<&ProviderConfig::vetoed_shells>({
        .key = "vetoed_shells",
        .type = SettingType::kStringList,
        .default_text = "",
        .description = "Shells replaced by `shell_fallback`.",
    }),
    provider_key<&ProviderConfig::shell_fallback>({
        .key = "shell_fallback",
        .type = SettingType::kString,
        .default_text = "/bin/sh",
        .description = "The shell given instead of one outside `allowed_shells` or in `vetoed_shells`.",
    }),

    // ---- directory-backed types: "ldap", "fastid" and "winbind" ----
    provider_key<&ProviderConfig::min_id>({
        .key = "min_id",
        .type = SettingType::kInt,
        .default_text = "1",
        .min = 1,
        .max = 4294967294,
        .provider_type = "ldap fastid winbind",
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
        .provider_type = "ldap fastid winbind",
        .description = "Largest uid or gid taken from this provider (4294967295 is `(uid_t)-1`); "
                       "larger ids are refused as `min_id` says. At least `min_id`.",
    }),
};

}  // namespace

std::span<const Setting> provider_keys() { return kProviderKeys; }

}  // namespace fastid::daemon::table_detail
