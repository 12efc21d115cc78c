// Tests for the configuration: the settings table, the value syntaxes, every
// class of error (each must name file, line and key) and the generated docs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "daemon/config.h"
#include "daemon/settings.h"
#include "support/temp_dir.h"

namespace fastid::daemon {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kFile = "/etc/fastid.toml";

const char* kMinimal =
    "[[provider]]\n"
    "name = \"local\"\n"
    "type = \"files\"\n";

// The error message of parsing `text`, which must fail with kInvalidArgument.
std::string error_of(const std::string& text) {
  auto config = parse_config(text, kFile);
  EXPECT_FALSE(config.has_value()) << "parsed but should not:\n" << text;
  if (config) return {};
  EXPECT_EQ(config.error().code(), core::Code::kInvalidArgument) << config.error().to_string();
  return config.error().message();
}

// ---- The table --------------------------------------------------------------------

TEST(SettingsTable, EveryEntryIsComplete) {
  std::set<std::pair<int, std::string_view>> keys;
  for (const Setting& s : settings()) {
    SCOPED_TRACE(std::string(s.key));
    EXPECT_TRUE(keys.insert({static_cast<int>(s.section), s.key}).second) << "duplicate key";
    EXPECT_FALSE(s.description.empty());
    if (s.section == Section::kDaemon) {
      EXPECT_NE(s.apply_daemon, nullptr);
      EXPECT_NE(s.read_daemon, nullptr);
      EXPECT_EQ(s.apply_provider, nullptr);
    } else if (s.section == Section::kFastcache) {
      EXPECT_NE(s.apply_fastcache, nullptr);
      EXPECT_NE(s.read_fastcache, nullptr);
      EXPECT_EQ(s.apply_provider, nullptr);
    } else if (s.section == Section::kFastcacheMap) {
      EXPECT_NE(s.apply_fastcache_map, nullptr);
      EXPECT_NE(s.read_fastcache_map, nullptr);
      EXPECT_EQ(s.apply_provider, nullptr);
    } else if (s.section == Section::kListen) {
      EXPECT_NE(s.apply_listen, nullptr);
      EXPECT_NE(s.read_listen, nullptr);
    } else if (s.section == Section::kPam) {
      EXPECT_NE(s.apply_pam, nullptr);
      EXPECT_NE(s.read_pam, nullptr);
    } else if (s.section == Section::kStore) {
      EXPECT_NE(s.apply_store, nullptr);
      EXPECT_NE(s.read_store, nullptr);
      EXPECT_EQ(s.apply_provider, nullptr);
    } else if (s.section == Section::kVarlink) {
      EXPECT_NE(s.apply_varlink, nullptr);
      EXPECT_NE(s.read_varlink, nullptr);
    } else if (s.section == Section::kNscd) {
      EXPECT_NE(s.apply_nscd, nullptr);
      EXPECT_NE(s.read_nscd, nullptr);
      EXPECT_EQ(s.apply_provider, nullptr);
    } else if (s.section == Section::kMetrics) {
      EXPECT_NE(s.apply_metrics, nullptr);
      EXPECT_NE(s.read_metrics, nullptr);
      EXPECT_EQ(s.apply_provider, nullptr);
    } else {
      EXPECT_NE(s.apply_provider, nullptr);
      EXPECT_NE(s.read_provider, nullptr);
      EXPECT_EQ(s.apply_daemon, nullptr);
    }
    if (!s.required) {
      auto value = parse_setting_text(s, s.default_text);
      EXPECT_TRUE(value.has_value()) << "default does not parse: " << value.error().to_string();
    }
    if (s.type == SettingType::kInt || s.type == SettingType::kDuration) {
      EXPECT_LE(s.min, s.max);
    }
  }
}

// The struct initializers in config.h and the table must agree: parsing starts
// from the table, code that builds a Config by hand starts from the structs.
TEST(SettingsTable, DefaultsMatchTheStructs) {
  DaemonConfig scribbled;
  scribbled.socket_dir = "/x";
  scribbled.state_dir = "/y";
  scribbled.workers = 77;
  scribbled.log_level = core::LogLevel::kError;
  scribbled.pid_file = "/z";
  scribbled.idle_timeout = 1ms;
  scribbled.shutdown_grace = 2ms;
  scribbled.max_connections = 3;
  apply_defaults(scribbled);
  EXPECT_EQ(scribbled, DaemonConfig{});

  ProviderConfig p;
  p.passwd = "/a";
  p.group = "/b";
  p.shadow = "/c";
  p.refresh_interval = 5ms;
  p.users = 1;
  p.groups = 2;
  p.delay = 3ms;
  p.slow_names = {"x"};
  p.slow_delay = 4ms;
  p.hang_names = {"y"};
  p.crash_names = {"z"};
  p.password = "pw";
  p.pool.max_workers = 99;
  apply_defaults(p);
  EXPECT_EQ(p, ProviderConfig{});

  StoreConfig store;
  store.enabled = false;
  store.size_bytes = 1;
  store.ttl = 1ms;
  store.negative_ttl = 2ms;
  store.refresh_ahead = 3ms;
  store.offline_max_age = 4ms;
  store.probe_interval = 5ms;
  apply_defaults(store);
  EXPECT_EQ(store, StoreConfig{});

  VarlinkConfig varlink;
  varlink.enabled = true;
  varlink.socket = "/x";
  varlink.include_files = true;
  varlink.enumerate = false;
  varlink.max_connections = 1;
  apply_defaults(varlink);
  EXPECT_EQ(varlink, VarlinkConfig{});

  PoolConfig pool;
  pool.min_workers = 5;
  pool.max_workers = 6;
  pool.min_spare_workers = 7;
  pool.spare_idle_timeout = 8ms;
  pool.request_timeout = 9ms;
  pool.max_requests_per_worker = 10;
  pool.max_queue = 11;
  apply_defaults(pool);
  EXPECT_EQ(pool, PoolConfig{});

  FastCacheConfig fc;
  fc.negative_ttl = 1ms;
  fc.passwd = {.enabled = false, .size_bytes = 1, .ttl = 2ms};
  fc.group.size_bytes = 3;
  fc.initgroups.ttl = 4ms;
  apply_defaults(fc);
  EXPECT_EQ(fc, FastCacheConfig{});

  PamConfig pam;
  pam.max_failures = 1;
  pam.failure_window = 2ms;
  pam.lockout_time = 3ms;
  pam.caller_rate = 4;
  pam.caller_burst = 5;
  pam.offline = true;
  pam.offline_file = "/o";
  pam.offline_max_age = 6ms;
  apply_defaults(pam);
  EXPECT_EQ(pam, PamConfig{});
}

TEST(PamSection, ParsesItsKeysAndRefusesUnknownOnesWithAHint) {
  auto c = parse_config(std::string(kMinimal) +
                            "\n[pam]\nmax_failures = 3\nlockout_time = \"2m\"\noffline = true\n"
                            "offline_file = \"/var/lib/fastid/off\"\n",
                        "/etc/fastid.toml");
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  EXPECT_EQ(c->pam.max_failures, 3);
  EXPECT_EQ(c->pam.lockout_time, std::chrono::minutes(2));
  EXPECT_TRUE(c->pam.offline);
  EXPECT_EQ(c->pam.offline_file, "/var/lib/fastid/off");
  EXPECT_FALSE(default_config().pam.offline) << "offline authentication is off by default";
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[pam]\nmax_failure = 3\n"),
            "/etc/fastid.toml:6: [pam] max_failure: unknown key (did you mean \"max_failures\"?)");
  EXPECT_NE(error_of(std::string(kMinimal) + "\n[pam]\noffline_file = \"relative\"\n").find("absolute path"),
            std::string::npos);
  // A rendered config parses back to the same [pam].
  auto again = parse_config(render_config(*c), "rendered");
  ASSERT_TRUE(again.has_value()) << again.error().to_string();
  EXPECT_EQ(again->pam, c->pam);
}

TEST(SettingsTable, ClosestMatch) {
  EXPECT_EQ(closest_key(Section::kDaemon, "worker"), "workers");
  EXPECT_EQ(closest_key(Section::kDaemon, "wokrers"), "workers");
  EXPECT_EQ(closest_key(Section::kDaemon, "log-level"), "log_level");
  EXPECT_EQ(closest_key(Section::kDaemon, "Socket_Dir"), "socket_dir");
  EXPECT_EQ(closest_key(Section::kProvider, "passwd_file"), "");
  EXPECT_EQ(closest_key(Section::kDaemon, "completely_else"), "");
  EXPECT_EQ(closest_key(Section::kDaemon, "workers"), "");
}

// ---- Durations and sizes ----------------------------------------------------------

TEST(Duration, Parses) {
  EXPECT_EQ(parse_duration("300ms").value(), 300ms);
  EXPECT_EQ(parse_duration("15s").value(), 15s);
  EXPECT_EQ(parse_duration("90m").value(), 90min);
  EXPECT_EQ(parse_duration("7d").value(), std::chrono::hours(7 * 24));
  EXPECT_EQ(parse_duration("1h30m").value(), 90min);
  EXPECT_EQ(parse_duration("1d2h3m4s5ms").value(), 26h + 3min + 4s + 5ms);
  EXPECT_EQ(parse_duration("0").value(), 0ms);
  EXPECT_EQ(parse_duration("0s").value(), 0ms);
  EXPECT_EQ(parse_duration("007s").value(), 7s);
}

TEST(Duration, RefusesWithAReason) {
  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {"", "empty duration"},
      {"-5s", "negative duration"},
      {"15", "has no unit"},
      {"1.5s", "fractions are not supported"},
      {"5x", "unknown unit \"x\""},
      {"5sec", "unknown unit \"sec\""},
      {"30m1h", "largest first"},
      {"1s1s", "largest first"},
      {" 5s", "malformed duration"},
      {"5s ", "malformed duration"},
      {"5 s", "unexpected character \" \""},
      {"s", "malformed duration"},
      {"+5s", "malformed duration"},
      {"99999999999999999999d", "too large"},
      {"9999999999999999d", "too large"},
  };
  for (const Case& c : cases) {
    auto d = parse_duration(c.text);
    ASSERT_FALSE(d.has_value()) << c.text;
    EXPECT_EQ(d.error().code(), core::Code::kInvalidArgument);
    EXPECT_THAT(d.error().message(), HasSubstr(c.says)) << c.text;
  }
}

TEST(Duration, FormatsCanonicallyAndRoundTrips) {
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(90min), "1h30m");
  EXPECT_EQ(format_duration(1500ms), "1s500ms");
  EXPECT_EQ(format_duration(std::chrono::hours(7 * 24)), "7d");
  for (std::int64_t ms : {1LL, 999LL, 1000LL, 61001LL, 86400000LL * 3 + 7, 123456789LL}) {
    EXPECT_EQ(parse_duration(format_duration(std::chrono::milliseconds(ms))).value().count(), ms);
  }
}

TEST(Size, Parses) {
  EXPECT_EQ(parse_size("8MiB").value(), 8u << 20);
  EXPECT_EQ(parse_size("512KiB").value(), 512u << 10);
  EXPECT_EQ(parse_size("1GiB").value(), 1u << 30);
  EXPECT_EQ(parse_size("2TiB").value(), 2ull << 40);
  EXPECT_EQ(parse_size("4096").value(), 4096u);
  EXPECT_EQ(parse_size("4096B").value(), 4096u);
  EXPECT_EQ(parse_size("0").value(), 0u);
}

TEST(Size, RefusesWithAReason) {
  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {"", "empty size"},
      {"-1", "negative size"},
      {"8MB", "unknown unit \"MB\""},
      {"8M", "unknown unit \"M\""},
      {"8 MiB", "unknown unit \" MiB\""},
      {"1.5GiB", "fractions are not supported"},
      {"MiB", "malformed size"},
      {"99999999TiB", "too large"},
      {"99999999999999999999", "too large"},
  };
  for (const Case& c : cases) {
    auto n = parse_size(c.text);
    ASSERT_FALSE(n.has_value()) << c.text;
    EXPECT_THAT(n.error().message(), HasSubstr(c.says)) << c.text;
  }
  EXPECT_EQ(format_size(8u << 20), "8MiB");
  EXPECT_EQ(format_size(1000), "1000B");
  EXPECT_EQ(format_size(0), "0B");
  EXPECT_EQ(parse_size(format_size(1536u << 10)).value(), 1536u << 10);
}

TEST(SettingText, EveryTypeHasAParser) {
  // Types no key uses yet still parse, so the first key of that type works.
  Setting flag{.key = "enabled", .type = SettingType::kBool, .description = "x"};
  EXPECT_EQ(std::get<bool>(parse_setting_text(flag, "true").value()), true);
  EXPECT_FALSE(parse_setting_text(flag, "yes").has_value());
  Setting size{.key = "size", .type = SettingType::kSize, .min = 4096, .max = 1 << 30, .description = "x"};
  EXPECT_EQ(std::get<ByteSize>(parse_setting_text(size, "8MiB").value()).bytes, 8u << 20);
  EXPECT_THAT(parse_setting_text(size, "1KiB").error().message(),
              HasSubstr("must be between 4KiB and 1GiB, got 1KiB"));
  Setting list{.key = "names", .type = SettingType::kStringList, .description = "x"};
  EXPECT_EQ(std::get<std::vector<std::string>>(parse_setting_text(list, "a,b").value()),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(format_setting_value(list, std::vector<std::string>{"a", "b\""}), "[\"a\", \"b\\\"\"]");
}

// ---- Parsing a file ---------------------------------------------------------------

TEST(Parse, MinimalFileGetsEveryDefault) {
  auto config = parse_config(kMinimal, kFile);
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  EXPECT_EQ(config->source, kFile);
  EXPECT_EQ(config->daemon, DaemonConfig{});
  ASSERT_EQ(config->providers.size(), 1u);
  EXPECT_EQ(config->providers[0].name, "local");
  EXPECT_EQ(config->providers[0].type, "files");
  EXPECT_EQ(config->providers[0].passwd, "/etc/passwd");
  EXPECT_EQ(config->providers[0].group, "/etc/group");
  EXPECT_EQ(config->providers[0].shadow, "/etc/shadow");
  EXPECT_EQ(config->providers[0].refresh_interval, 1s);
}

TEST(Parse, EveryKeyIsApplied) {
  auto config = parse_config(
      "[daemon]\n"
      "socket_dir = \"/tmp/s\"\n"
      "state_dir = \"/tmp/st\"\n"
      "workers = 4\n"
      "log_level = \"debug\"\n"
      "pid_file = \"/run/fastidd.pid\"\n"
      "idle_timeout = \"2m\"\n"
      "shutdown_grace = \"1s500ms\"\n"
      "max_connections = 100\n"
      "\n"
      "[[provider]]\n"
      "name = \"a\"\n"
      "type = \"files\"\n"
      "passwd = \"/srv/passwd\"\n"
      "group = \"/srv/group\"\n"
      "shadow = \"/srv/shadow\"\n"
      "refresh_interval = \"250ms\"\n"
      "\n"
      "[[provider]]\n"
      "name = \"b\"\n"
      "type = \"files\"\n",
      kFile);
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  const DaemonConfig& d = config->daemon;
  EXPECT_EQ(d.socket_dir, "/tmp/s");
  EXPECT_EQ(d.state_dir, "/tmp/st");
  EXPECT_EQ(d.workers, 4);
  EXPECT_EQ(d.log_level, core::LogLevel::kDebug);
  EXPECT_EQ(d.pid_file, "/run/fastidd.pid");
  EXPECT_EQ(d.idle_timeout, 2min);
  EXPECT_EQ(d.shutdown_grace, 1500ms);
  EXPECT_EQ(d.max_connections, 100);
  ASSERT_EQ(config->providers.size(), 2u);
  EXPECT_EQ(config->providers[0], (ProviderConfig{.name = "a", .type = "files", .passwd = "/srv/passwd",
                                                  .group = "/srv/group", .shadow = "/srv/shadow",
                                                  .refresh_interval = 250ms}));
  EXPECT_EQ(config->providers[1].name, "b");  // order kept: providers are asked in order
  EXPECT_EQ(config->providers[1].passwd, "/etc/passwd");
}

TEST(Parse, DottedKeysAreTheSameKeys) {
  auto config = parse_config(std::string("daemon.workers = 3\n") + kMinimal, kFile);
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  EXPECT_EQ(config->daemon.workers, 3);
}

// ---- Every class of error names file, line and key ---------------------------------

TEST(Errors, UnknownKeySuggestsTheNearest) {
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[daemon]\n# comment\nworker = 2\n"),
            "/etc/fastid.toml:7: [daemon] worker: unknown key (did you mean \"workers\"?)");
  EXPECT_EQ(error_of("[daemon]\nfrobnicate = 1\n"),
            "/etc/fastid.toml:2: [daemon] frobnicate: unknown key");
  EXPECT_EQ(error_of(std::string(kMinimal) + "passwd_file = \"/x\"\n"),
            "/etc/fastid.toml:4: [[provider]] #1 passwd_file: unknown key");
  EXPECT_EQ(error_of(std::string(kMinimal) + "grup = \"/x\"\n"),
            "/etc/fastid.toml:4: [[provider]] #1 grup: unknown key (did you mean \"group\"?)");
  // A key that is not a bare word is quoted, control characters escaped.
  EXPECT_EQ(error_of("[daemon]\n\"a\\nb\" = 1\n"),
            "/etc/fastid.toml:2: [daemon] \"a\\nb\": unknown key");
}

TEST(Errors, FirstErrorInFileOrder) {
  // toml::table sorts keys; the report must follow the file.
  EXPECT_THAT(error_of("[daemon]\nzzz = 1\naaa = 2\n"), HasSubstr(":2: [daemon] zzz:"));
}

TEST(Errors, WrongType) {
  EXPECT_EQ(error_of("[daemon]\nworkers = \"two\"\n"),
            "/etc/fastid.toml:2: [daemon] workers: expected an integer, got a string");
  EXPECT_EQ(error_of("[daemon]\nworkers = 2.5\n"),
            "/etc/fastid.toml:2: [daemon] workers: expected an integer, got a float");
  EXPECT_EQ(error_of("[daemon]\nidle_timeout = 60\n"),
            "/etc/fastid.toml:2: [daemon] idle_timeout: expected a duration string such as \"15s\", "
            "got an integer");
  EXPECT_EQ(error_of("[daemon]\nsocket_dir = [\"/a\"]\n"),
            "/etc/fastid.toml:2: [daemon] socket_dir: expected a string, got an array");
  EXPECT_EQ(error_of("[daemon]\nlog_level = 1\n"),
            "/etc/fastid.toml:2: [daemon] log_level: expected a log level string (debug, info, "
            "warning or error), got an integer");
  EXPECT_EQ(error_of("daemon = 1\n"),
            "/etc/fastid.toml:1: daemon: must be a section: write [daemon], got an integer");
  EXPECT_EQ(error_of("[provider]\nname = \"x\"\n"),
            "/etc/fastid.toml:1: provider: must be an array of tables: write [[provider]] for each "
            "provider");
}

TEST(Errors, ListenAddressesAndRemoteProviders) {
  EXPECT_EQ(error_of("[listen]\ntcp = [\"localhost:7389\"]\n"),
            "/etc/fastid.toml:2: [listen] tcp: must be \"HOST:PORT\" or \"[V6]:PORT\" with a numeric "
            "address, not an IPv4 address, got \"localhost:7389\"");
  EXPECT_EQ(error_of("[listen]\nudp = [\"127.0.0.1:70000\"]\n"),
            "/etc/fastid.toml:2: [listen] udp: must be \"HOST:PORT\" or \"[V6]:PORT\" with a numeric "
            "address, the port is 0 to 65535, got \"127.0.0.1:70000\"");
  EXPECT_EQ(error_of("[listen]\ntcp = [\"::1:7389\"]\n"),
            "/etc/fastid.toml:2: [listen] tcp: must be \"HOST:PORT\" or \"[V6]:PORT\" with a numeric "
            "address, not an IPv4 address, got \"::1:7389\"");
  EXPECT_EQ(error_of("[listen]\ntcp = \"127.0.0.1:7389\"\n").substr(0, 38),
            "/etc/fastid.toml:2: [listen] tcp: expe");
  EXPECT_EQ(error_of("[listen]\ntpc = []\n"),
            "/etc/fastid.toml:2: [listen] tpc: unknown key (did you mean \"tcp\"?)");
  auto ok = parse_config(std::string("[listen]\ntcp = [\"[::1]:7389\", \"0.0.0.0:0\"]\n") + kMinimal, kFile);
  ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
  EXPECT_EQ(ok->listen.tcp, (std::vector<std::string>{"[::1]:7389", "0.0.0.0:0"}));
  EXPECT_EQ(error_of("[[provider]]\nname = \"site\"\ntype = \"fastid\"\n"),
            "/etc/fastid.toml:1: [[provider]] #1 type \"fastid\" needs at least one upstream in "
            "\"servers\"");
  EXPECT_EQ(error_of("[daemon]\non_worker_exit = \"ignore\"\n"),
            "/etc/fastid.toml:2: [daemon] on_worker_exit: must be \"restart\" or \"exit\", got \"ignore\"");
  EXPECT_EQ(error_of("[daemon]\nuser = \"-x\"\n"),
            "/etc/fastid.toml:2: [daemon] user: must be a user or group name or a numeric id, got \"-x\"");
}

TEST(Errors, TlsKeys) {
  // [listen]: certificate and key together, absolute paths.
  EXPECT_THAT(error_of("[listen]\ntcp = [\"127.0.0.1:0\"]\ntls_cert = \"/etc/fastid/server.pem\"\n"),
              HasSubstr("[listen] tls_cert and tls_key go together"));
  EXPECT_THAT(error_of("[listen]\ntls_key = \"server.key\"\n"), HasSubstr("must be an absolute path"));
  EXPECT_THAT(error_of("[listen]\ntls_handshake_timeout = \"2m\"\n"), HasSubstr("must be between 100ms and 1m"));
  auto ok = parse_config(std::string("[listen]\ntcp = [\"127.0.0.1:0\"]\ntls_cert = \"/c.pem\"\n"
                                     "tls_key = \"/c.key\"\ntls_handshake_timeout = \"2s\"\n") + kMinimal, kFile);
  ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
  EXPECT_EQ(ok->listen.tls_key, "/c.key");
  EXPECT_EQ(ok->listen.tls_handshake_timeout, std::chrono::seconds(2));
  // tls_ca_file is shared by "ldap" and "fastid"; tls_server_name is fastid's only.
  auto remote = parse_config("[[provider]]\nname = \"site\"\ntype = \"fastid\"\nservers = [\"127.0.0.1:7389\"]\n"
                             "tls_ca_file = \"/ca.pem\"\ntls_server_name = \"cache1.example.com\"\n", kFile);
  ASSERT_TRUE(remote.has_value()) << remote.error().to_string();
  EXPECT_EQ(remote->providers[0].tls_ca_file, "/ca.pem");
  EXPECT_EQ(remote->providers[0].tls_server_name, "cache1.example.com");
  EXPECT_THAT(render_config(*remote), HasSubstr("tls_server_name = \"cache1.example.com\""));
  EXPECT_THAT(error_of(std::string(kMinimal) + "tls_ca_file = \"/ca.pem\"\n"),
              HasSubstr("tls_ca_file: does not apply to providers of type \"files\""));
  EXPECT_THAT(error_of("[[provider]]\nname = \"d\"\ntype = \"ldap\"\nuri = [\"ldap://x\"]\n"
                       "tls_server_name = \"x\"\n"),
              HasSubstr("tls_server_name: does not apply to providers of type \"ldap\""));
}

TEST(Errors, ImpossibleValues) {
  EXPECT_EQ(error_of("[daemon]\nworkers = 0\n"),
            "/etc/fastid.toml:2: [daemon] workers: must be between 1 and 256, got 0");
  EXPECT_EQ(error_of("[daemon]\nmax_connections = 99999999999\n"),
            "/etc/fastid.toml:2: [daemon] max_connections: must be between 1 and 1048576, got "
            "99999999999");
  EXPECT_EQ(error_of("[daemon]\nidle_timeout = \"-5s\"\n"),
            "/etc/fastid.toml:2: [daemon] idle_timeout: negative duration \"-5s\" is not allowed");
  EXPECT_EQ(error_of("[daemon]\nidle_timeout = \"10ms\"\n"),
            "/etc/fastid.toml:2: [daemon] idle_timeout: must be between 1s and 1d, got 10ms");
  EXPECT_EQ(error_of("[daemon]\nshutdown_grace = \"1.5s\"\n"),
            "/etc/fastid.toml:2: [daemon] shutdown_grace: fractions are not supported in duration "
            "\"1.5s\": use a smaller unit, e.g. \"1500ms\"");
  EXPECT_EQ(error_of("[daemon]\nlog_level = \"verbose\"\n"),
            "/etc/fastid.toml:2: [daemon] log_level: unknown log level \"verbose\" (expected debug, "
            "info, warning or error)");
  EXPECT_EQ(error_of("[daemon]\nsocket_dir = \"run/fastid\"\n"),
            "/etc/fastid.toml:2: [daemon] socket_dir: must be an absolute path, got \"run/fastid\"");
  EXPECT_EQ(error_of("[daemon]\nstate_dir = \"/var/\\u0000x\"\n"),
            "/etc/fastid.toml:2: [daemon] state_dir: control characters are not allowed, got "
            "\"/var/\\u0000x\"");
  // pid_file may be empty (no pid file) but not relative.
  EXPECT_TRUE(parse_config(std::string("[daemon]\npid_file = \"\"\n") + kMinimal, kFile).has_value());
  EXPECT_THAT(error_of("[daemon]\npid_file = \"x.pid\"\n"), HasSubstr("must be an absolute path"));
}

TEST(Errors, ProviderTypes) {
  EXPECT_TRUE(parse_config("[[provider]]\nname = \"corp\"\ntype = \"winbind\"\n", kFile).has_value());
  EXPECT_EQ(error_of("[[provider]]\nname = \"x\"\ntype = \"nis\"\n"),
            "/etc/fastid.toml:3: [[provider]] #1 type: unknown provider type \"nis\" (available: "
            "files, ldap, slow, fastid, winbind)");
  EXPECT_EQ(error_of("[[provider]]\nname = \"x\"\ntype = \"\"\n"),
            "/etc/fastid.toml:3: [[provider]] #1 type: must not be empty (available: files, ldap, slow, fastid, winbind)");
  EXPECT_EQ(error_of("[[provider]]\nname = \"x\"\n"),
            "/etc/fastid.toml:1: [[provider]] #1 missing required key \"type\" (available: files, "
            "ldap, slow, fastid, winbind)");
  // Keys of one type are refused for another.
  EXPECT_EQ(error_of(std::string(kMinimal) + "delay = \"20ms\"\n"),
            "/etc/fastid.toml:4: [[provider]] #1 delay: does not apply to providers of type \"files\"");
}

// min_id/max_id apply to the directory-backed types (ldap, fastid) alone, and
// the range must not be empty.
TEST(Errors, IdRangeOfDirectoryProviders) {
  const std::string remote = "[[provider]]\nname = \"site\"\ntype = \"fastid\"\nservers = [\"127.0.0.1:9\"]\n";
  auto ok = parse_config(remote + "min_id = 1000\nmax_id = 4294967294\n", kFile);
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->providers[0].min_id, 1000u);
  EXPECT_EQ(ok->providers[0].max_id, 4294967294u);
  EXPECT_EQ(parse_config(remote, kFile)->providers[0].min_id, 1u);
  EXPECT_EQ(error_of(std::string(kMinimal) + "min_id = 1000\n"),
            "/etc/fastid.toml:4: [[provider]] #1 min_id: does not apply to providers of type \"files\"");
  EXPECT_THAT(error_of(remote + "min_id = 2000\nmax_id = 1000\n"), HasSubstr("min_id 2000 is above max_id 1000"));
  EXPECT_THAT(error_of(remote + "min_id = 0\n"), HasSubstr("min_id"));
  EXPECT_THAT(error_of(remote + "max_id = 4294967295\n"), HasSubstr("max_id"));
  EXPECT_EQ(error_of(remote + "allow_cleartext_passwords = true\n"),
            "/etc/fastid.toml:5: [[provider]] #1 allow_cleartext_passwords: does not apply to providers of "
            "type \"fastid\"");
}

TEST(Errors, ProviderNames) {
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n" + kMinimal),
            "/etc/fastid.toml:6: [[provider]] #2 name: duplicate provider name \"local\" (first used "
            "at line 2)");
  EXPECT_EQ(error_of("[[provider]]\nname = \"\"\ntype = \"files\"\n"),
            "/etc/fastid.toml:2: [[provider]] #1 name: must not be empty");
  EXPECT_EQ(error_of("[[provider]]\nname = \"a b\"\ntype = \"files\"\n"),
            "/etc/fastid.toml:2: [[provider]] #1 name: must be 1 to 64 letters, digits, '_', '.' or "
            "'-', got \"a b\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[[provider]]\ntype = \"files\"\n"),
            "/etc/fastid.toml:5: [[provider]] #2 missing required key \"name\"");
}

TEST(Errors, AtLeastOneProvider) {
  EXPECT_EQ(error_of(""), "/etc/fastid.toml: no [[provider]] section: at least one provider is required");
  EXPECT_EQ(error_of("[daemon]\nworkers = 2\n"),
            "/etc/fastid.toml: no [[provider]] section: at least one provider is required");
}

TEST(Errors, SectionsOfLaterVersionsAreRefused) {
  for (std::string_view section : unsupported_sections()) {
    const std::string text = std::string(kMinimal) + "\n[" + std::string(section) + "]\nx = 1\n";
    EXPECT_EQ(error_of(text), "/etc/fastid.toml:5: [" + std::string(section) +
                                  "] is not supported by this version of fastidd");
  }
  EXPECT_EQ(error_of(std::string(kMinimal) + "store = { entry_ttl = \"1m\" }\n"),
            "/etc/fastid.toml:4: [[provider]] #1 store: per-provider [store] settings are not "
            "supported by this version of fastidd: the top-level [store] applies to every pooled "
            "provider");
}

TEST(Store, KeysDefaultsAndRules) {
  auto c = parse_config(std::string(kMinimal) +
                            "\n[store]\nsize = \"64MiB\"\nttl = \"1h\"\nnegative_ttl = \"0\"\n"
                            "refresh_ahead = \"10m\"\noffline_max_age = \"2d\"\nprobe_interval = \"2s\"\n"
                            "enabled = false\n",
                        "/etc/fastid.toml");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_FALSE(c->store.enabled);
  EXPECT_EQ(c->store.size_bytes, 64u << 20);
  EXPECT_EQ(c->store.ttl, std::chrono::hours(1));
  EXPECT_EQ(c->store.negative_ttl.count(), 0);
  EXPECT_EQ(c->store.refresh_ahead, std::chrono::minutes(10));
  EXPECT_EQ(c->store.offline_max_age, std::chrono::hours(48));
  EXPECT_EQ(c->store.probe_interval, std::chrono::seconds(2));
  EXPECT_EQ(default_config().store, StoreConfig{});
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[store]\nttl = \"10m\"\nrefresh_ahead = \"10m\"\n"),
            "/etc/fastid.toml:5: [store] refresh_ahead (10m) must be shorter than ttl (10m)");
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[store]\nprobe_intervall = \"1s\"\n"),
            "/etc/fastid.toml:6: [store] probe_intervall: unknown key (did you mean \"probe_interval\"?)");
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[store]\nsize = \"512KiB\"\n"),
            "/etc/fastid.toml:6: [store] size: must be between 1MiB and 64GiB, got 512KiB");
  EXPECT_EQ(error_of("store = 5\n"), "/etc/fastid.toml:1: store: must be a section: write [store], got an integer");
}

TEST(Sections, Varlink) {
  auto c = parse_config(std::string(kMinimal) + "\n[varlink]\nenabled = true\nsocket = \"/run/u/io.example\"\n"
                                                "include_files = true\nenumerate = false\nmax_connections = 16\n",
                        "/etc/fastid.toml");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_TRUE(c->varlink.enabled);
  EXPECT_EQ(c->varlink.socket, "/run/u/io.example");
  EXPECT_TRUE(c->varlink.include_files);
  EXPECT_FALSE(c->varlink.enumerate);
  EXPECT_EQ(c->varlink.max_connections, 16);
  EXPECT_EQ(default_config().varlink, VarlinkConfig{});
  EXPECT_FALSE(VarlinkConfig{}.enabled);
  EXPECT_EQ(VarlinkConfig{}.socket, "/run/systemd/userdb/io.fastid");
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[varlink]\nsocket = \"/run/systemd/userdb/\"\n"),
            "/etc/fastid.toml:5: [varlink] socket must end in a file name (the service name clients send), "
            "got \"/run/systemd/userdb/\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[varlink]\nsocket = \"io.fastid\"\n"),
            "/etc/fastid.toml:6: [varlink] socket: must be an absolute path, got \"io.fastid\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[varlink]\nenable = true\n"),
            "/etc/fastid.toml:6: [varlink] enable: unknown key (did you mean \"enabled\"?)");
}

TEST(Nscd, KeysDefaultsAndRules) {
  auto c = parse_config(std::string(kMinimal) + "\n[nscd]\nenabled = true\nsocket = \"/run/test/nscd.sock\"\n",
                        "/etc/fastid.toml");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_TRUE(c->nscd.enabled);
  EXPECT_EQ(c->nscd.socket, "/run/test/nscd.sock");
  EXPECT_EQ(default_config().nscd, NscdConfig{});
  EXPECT_FALSE(default_config().nscd.enabled);
  EXPECT_EQ(default_config().nscd.socket, "/var/run/nscd/socket");
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[nscd]\nsocket = \"relative/socket\"\n"),
            "/etc/fastid.toml:6: [nscd] socket: must be an absolute path, got \"relative/socket\"");
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[nscd]\nenable = true\n"),
            "/etc/fastid.toml:6: [nscd] enable: unknown key (did you mean \"enabled\"?)");
  EXPECT_EQ(error_of("nscd = 5\n"), "/etc/fastid.toml:1: nscd: must be a section: write [nscd], got an integer");
}

TEST(Metrics, OffByDefaultOneNumericAddressAndItsCaps) {
  EXPECT_EQ(default_config().metrics, MetricsConfig{});
  EXPECT_TRUE(default_config().metrics.listen.empty()) << "no listener unless asked for";
  auto c = parse_config(std::string(kMinimal) +
                            "\n[metrics]\nlisten = \"[::1]:9464\"\nmax_connections = 8\n"
                            "max_connections_per_address = 2\n",
                        "/etc/fastid.toml");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->metrics.listen, "[::1]:9464");
  EXPECT_EQ(c->metrics.max_connections, 8);
  EXPECT_EQ(c->metrics.max_connections_per_address, 2);
  auto again = parse_config(render_config(*c), "rendered");
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->metrics, c->metrics);
  EXPECT_NE(error_of(std::string(kMinimal) + "\n[metrics]\nlisten = \"localhost:9464\"\n").find("[metrics] listen: "),
            std::string::npos)
      << "a name would need a resolver at start";
  EXPECT_NE(error_of(std::string(kMinimal) + "\n[metrics]\nlisten = \"127.0.0.1:99999\"\n").find("[metrics] listen: "),
            std::string::npos);
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[metrics]\nmax_connections = 0\n"),
            "/etc/fastid.toml:6: [metrics] max_connections: must be between 1 and 4096, got 0");
  EXPECT_EQ(error_of(std::string(kMinimal) + "\n[metrics]\nlsten = \"127.0.0.1:1\"\n"),
            "/etc/fastid.toml:6: [metrics] lsten: unknown key (did you mean \"listen\"?)");
  EXPECT_EQ(error_of("metrics = 5\n"), "/etc/fastid.toml:1: metrics: must be a section: write [metrics], got an integer");
}

TEST(Errors, UnknownSectionsAndStrayKeys) {
  EXPECT_EQ(error_of("[deamon]\nworkers = 2\n"),
            "/etc/fastid.toml:1: unknown section [deamon] (did you mean [daemon]?)");
  EXPECT_EQ(error_of("[[providers]]\nname = \"x\"\n"),
            "/etc/fastid.toml:1: unknown section [providers] (did you mean [provider]?)");
  EXPECT_EQ(error_of("workers = 2\n"),
            "/etc/fastid.toml:1: workers: unknown key outside any section (did you mean to put it "
            "under [daemon]?)");
}

TEST(Errors, SyntaxErrorsNameLineAndColumn) {
  const std::string msg = error_of("[daemon]\nworkers = = 2\n");
  EXPECT_THAT(msg, HasSubstr("/etc/fastid.toml:2:"));
  EXPECT_THAT(msg, HasSubstr("TOML syntax error"));
  const std::string dup = error_of("[daemon]\nworkers = 1\nworkers = 2\n");
  EXPECT_THAT(dup, HasSubstr("/etc/fastid.toml:3:"));
  EXPECT_THAT(error_of("[daemon\n"), HasSubstr("/etc/fastid.toml:1:"));
}

// ---- The worker pool and the slow provider -----------------------------------------

TEST(Pool, SectionSetsEveryProvidersPoolAndEachMayOverrideIt) {
  auto config = parse_config(
      "[[provider]]\n"
      "name = \"local\"\n"
      "type = \"files\"\n"
      "\n"
      "[[provider]]\n"
      "name = \"test\"\n"
      "type = \"slow\"\n"
      "pool = { max_workers = 32, request_timeout = \"2s\" }\n"
      "\n"
      "[pool]\n"  // after the providers: it still applies to them
      "min_workers = 2\n"
      "max_workers = 8\n"
      "min_spare_workers = 0\n"
      "spare_idle_timeout = \"30s\"\n"
      "request_timeout = \"5s\"\n"
      "max_requests_per_worker = 0\n"
      "max_queue = 64\n",
      kFile);
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  const PoolConfig want{.min_workers = 2,
                        .max_workers = 8,
                        .min_spare_workers = 0,
                        .spare_idle_timeout = 30s,
                        .request_timeout = 5s,
                        .max_requests_per_worker = 0,
                        .max_queue = 64};
  EXPECT_EQ(config->pool, want);
  EXPECT_EQ(config->providers[0].pool, want);
  PoolConfig overridden = want;
  overridden.max_workers = 32;
  overridden.request_timeout = 2s;
  EXPECT_EQ(config->providers[1].pool, overridden);
}

TEST(Pool, WithoutASectionEveryPoolHasTheDefaults) {
  auto config = parse_config(std::string(kMinimal) + "pool = { min_spare_workers = 0 }\n", kFile);
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  EXPECT_EQ(config->pool, PoolConfig{});
  PoolConfig want;
  want.min_spare_workers = 0;
  EXPECT_EQ(config->providers[0].pool, want);
}

TEST(Pool, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(error_of(std::string(kMinimal) + "[pool]\nmax_worker = 4\n"),
            "/etc/fastid.toml:5: [pool] max_worker: unknown key (did you mean \"max_workers\"?)");
  EXPECT_EQ(error_of(std::string(kMinimal) + "[pool]\nmax_workers = 0\n"),
            "/etc/fastid.toml:5: [pool] max_workers: must be between 1 and 1024, got 0");
  EXPECT_EQ(error_of(std::string(kMinimal) + "[pool]\nrequest_timeout = 5\n"),
            "/etc/fastid.toml:5: [pool] request_timeout: expected a duration string such as \"15s\", "
            "got an integer");
  EXPECT_EQ(error_of(std::string(kMinimal) + "[pool]\nmin_workers = 20\n"),
            "/etc/fastid.toml:4: [pool] min_workers (20) is more than max_workers (16)");
  EXPECT_EQ(error_of(std::string(kMinimal) + "pool = { max_workers = 0 }\n"),
            "/etc/fastid.toml:4: [[provider]] #1 pool.max_workers: must be between 1 and 1024, got 0");
  EXPECT_EQ(error_of(std::string(kMinimal) + "pool = { max_wrokers = 3 }\n"),
            "/etc/fastid.toml:4: [[provider]] #1 pool.max_wrokers: unknown key (did you mean "
            "\"max_workers\"?)");
  EXPECT_EQ(error_of(std::string(kMinimal) + "pool = 4\n"),
            "/etc/fastid.toml:4: [[provider]] #1 pool: must be a table of [pool] keys, as in pool = "
            "{ max_workers = 32 }, got an integer");
  // The rule between keys holds for the values a provider ends up with.
  EXPECT_EQ(error_of(std::string(kMinimal) + "pool = { max_workers = 2 }\n[pool]\nmin_workers = 3\n"),
            "/etc/fastid.toml:4: [[provider]] #1 pool: min_workers (3) is more than max_workers (2) once "
            "[pool] is applied");
  EXPECT_EQ(error_of("pool = 1\n"), "/etc/fastid.toml:1: pool: must be a section: write [pool], got an integer");
}

TEST(Pool, SlowProviderKeys) {
  auto config = parse_config(
      "[[provider]]\n"
      "name = \"test\"\n"
      "type = \"slow\"\n"
      "users = 500\n"
      "groups = 20\n"
      "delay = \"20ms\"\n"
      "slow_names = [\"slowuser\"]\n"
      "slow_delay = \"60s\"\n"
      "hang_names = [\"hanguser\"]\n"
      "crash_names = [\"crashuser\", \"other\"]\n"
      "password = \"secret\"\n",
      kFile);
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  const ProviderConfig& p = config->providers[0];
  EXPECT_EQ(p.users, 500);
  EXPECT_EQ(p.groups, 20);
  EXPECT_EQ(p.delay, 20ms);
  EXPECT_EQ(p.slow_names, std::vector<std::string>{"slowuser"});
  EXPECT_EQ(p.slow_delay, 60s);
  EXPECT_EQ(p.hang_names, std::vector<std::string>{"hanguser"});
  EXPECT_EQ(p.crash_names, (std::vector<std::string>{"crashuser", "other"}));
  EXPECT_EQ(p.password, "secret");
  EXPECT_EQ(error_of("[[provider]]\nname = \"t\"\ntype = \"slow\"\ngroups = 0\n"),
            "/etc/fastid.toml:4: [[provider]] #1 groups: must be between 1 and 100000, got 0");
  EXPECT_EQ(error_of("[[provider]]\nname = \"t\"\ntype = \"slow\"\nslow_names = \"x\"\n"),
            "/etc/fastid.toml:4: [[provider]] #1 slow_names: expected a list of strings, got a string");
}

// ---- The fast cache ------------------------------------------------------------------

TEST(Fastcache, WithoutASectionEveryMapHasTheDefaults) {
  auto config = parse_config(kMinimal, kFile);
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  EXPECT_EQ(config->fastcache, FastCacheConfig{});
  EXPECT_TRUE(config->fastcache.passwd.enabled);
  EXPECT_EQ(config->fastcache.group.size_bytes, 8u << 20);
  EXPECT_EQ(config->fastcache.initgroups.ttl, 300s);
  EXPECT_EQ(config->fastcache.negative_ttl, 15s);
  EXPECT_EQ(default_config().fastcache, FastCacheConfig{});
}

TEST(Fastcache, SectionSetsEachMap) {
  auto config = parse_config(std::string(kMinimal) +
                                 "\n"
                                 "[fastcache]\n"
                                 "passwd     = { enabled = true, size = \"16MiB\", ttl = \"10m\" }\n"
                                 "group      = { enabled = false }\n"
                                 "initgroups = { size = 131072, ttl = \"1s\" }\n"
                                 "negative_ttl = \"0\"\n",
                             kFile);
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  const FastCacheConfig& fc = config->fastcache;
  EXPECT_EQ(fc.passwd, (FastCacheMapConfig{.enabled = true, .size_bytes = 16u << 20, .ttl = 10min}));
  EXPECT_EQ(fc.group, (FastCacheMapConfig{.enabled = false, .size_bytes = 8u << 20, .ttl = 300s}));
  EXPECT_EQ(fc.initgroups, (FastCacheMapConfig{.enabled = true, .size_bytes = 128u << 10, .ttl = 1s}));
  EXPECT_EQ(fc.negative_ttl, 0ms);
  // Sub-table headers are the same tables.
  auto headers = parse_config(std::string(kMinimal) + "[fastcache.passwd]\nenabled = false\n", kFile);
  ASSERT_TRUE(headers.has_value()) << headers.error().to_string();
  EXPECT_FALSE(headers->fastcache.passwd.enabled);
}

TEST(Fastcache, UnknownKeysAndMapsNameFileLineAndKey) {
  const std::string head = std::string(kMinimal) + "[fastcache]\n";
  EXPECT_EQ(error_of(head + "passwd = { enabled = true, sise = \"8MiB\" }\n"),
            "/etc/fastid.toml:5: [fastcache] passwd.sise: unknown key (did you mean \"size\"?)");
  EXPECT_EQ(error_of(head + "pwd = { enabled = true }\n"),
            "/etc/fastid.toml:5: [fastcache] pwd: unknown key: expected passwd, group, initgroups or "
            "negative_ttl");
  EXPECT_EQ(error_of(head + "groups = { enabled = true }\n"),
            "/etc/fastid.toml:5: [fastcache] groups: unknown key (did you mean \"group\"?)");
  EXPECT_EQ(error_of(head + "group = true\n"),
            "/etc/fastid.toml:5: [fastcache] group: must be a table, as in group = { enabled = true, "
            "size = \"8MiB\", ttl = \"300s\" }, got a boolean");
  EXPECT_EQ(error_of(head + "\ninitgroups = { enabled = \"yes\" }\n"),
            "/etc/fastid.toml:6: [fastcache] initgroups.enabled: expected true or false, got a string");
  EXPECT_EQ(error_of(head + "negative_ttl = 15\n"),
            "/etc/fastid.toml:5: [fastcache] negative_ttl: expected a duration string such as \"15s\", "
            "got an integer");
  EXPECT_EQ(error_of("fastcache = 1\n"),
            "/etc/fastid.toml:1: fastcache: must be a section: write [fastcache], got an integer");
}

TEST(Fastcache, OutOfRangeValues) {
  const std::string head = std::string(kMinimal) + "[fastcache]\n";
  EXPECT_EQ(error_of(head + "passwd = { size = \"32KiB\" }\n"),
            "/etc/fastid.toml:5: [fastcache] passwd.size: must be between 64KiB and 1GiB, got 32KiB");
  EXPECT_EQ(error_of(head + "group = { size = \"2GiB\" }\n"),
            "/etc/fastid.toml:5: [fastcache] group.size: must be between 64KiB and 1GiB, got 2GiB");
  EXPECT_EQ(error_of(head + "group = { ttl = \"2d\" }\n"),
            "/etc/fastid.toml:5: [fastcache] group.ttl: must be between 1s and 1d, got 2d");
  EXPECT_EQ(error_of(head + "negative_ttl = \"2h\"\n"),
            "/etc/fastid.toml:5: [fastcache] negative_ttl: must be between 0s and 1h, got 2h");
}

// ---- Defaults, files, rendering -----------------------------------------------------

TEST(Default, EmbeddedDefault) {
  const Config config = default_config();
  EXPECT_EQ(config.source, "<embedded default>");
  EXPECT_EQ(config.daemon, DaemonConfig{});
  ASSERT_EQ(config.providers.size(), 1u);
  EXPECT_EQ(config.providers[0].name, "local");
  EXPECT_EQ(config.providers[0].type, "files");
  EXPECT_EQ(config.providers[0].passwd, "/etc/passwd");
  EXPECT_EQ(config.providers[0].group, "/etc/group");
}

TEST(Default, RenderedConfigParsesBackTheSame) {
  Config config = default_config();
  config.daemon.workers = 3;
  config.daemon.idle_timeout = 90min;
  config.daemon.pid_file = "/run/x \"quoted\".pid";
  config.pool.max_workers = 8;
  config.pool.spare_idle_timeout = 2min;
  config.fastcache.negative_ttl = 0ms;
  config.fastcache.group = {.enabled = false, .size_bytes = 64 << 10, .ttl = 90min};
  config.fastcache.initgroups.size_bytes = 1000 * 1024 + 7;
  ProviderConfig second = config.providers[0];
  second.name = "second";
  second.refresh_interval = 1500ms;
  config.providers.push_back(second);
  for (ProviderConfig& p : config.providers) p.pool = config.pool;
  ProviderConfig slow;
  apply_defaults(slow);
  slow.name = "test";
  slow.type = "slow";
  slow.users = 500;
  slow.delay = 20ms;
  slow.slow_names = {"slowuser", "with \"quote\""};
  slow.hang_names = {"hanguser"};
  slow.password = "secret";
  slow.pool = config.pool;
  slow.pool.max_workers = 32;  // its own override
  slow.pool.request_timeout = 3s;
  config.providers.push_back(slow);
  ProviderConfig remote;
  apply_defaults(remote);
  remote.name = "site";
  remote.type = "fastid";
  remote.servers = {"127.0.0.1:7389", "[::1]:7389"};
  remote.timeout = 500ms;
  remote.pool = config.pool;
  config.providers.push_back(remote);
  config.listen.tcp = {"127.0.0.1:7389"};
  config.listen.udp = {"0.0.0.0:7389", "[::]:0"};
  config.daemon.on_worker_exit = "exit";
  config.daemon.stall_timeout = 2s;
  ProviderConfig ldap;
  apply_defaults(ldap);
  ldap.name = "corp";
  ldap.type = "ldap";
  ldap.uri = {"ldaps://a.example:636/", "ldap://b.example/"};
  ldap.base = "dc=example,dc=org";
  ldap.bind_dn = "cn=reader,dc=example,dc=org";
  ldap.bind_password_file = "/etc/fastid/ldap.secret";
  ldap.start_tls = true;
  ldap.schema = "rfc2307bis";
  ldap.user_attributes = {"gecos=displayName"};
  ldap.page_size = 250;
  ldap.search_timeout = 3s;
  ldap.pool = config.pool;
  config.providers.push_back(ldap);
  ProviderConfig ad;
  apply_defaults(ad);
  ad.name = "ad";
  ad.type = "winbind";
  ad.separator = "+";
  ad.default_domain = "CORP";
  ad.case_sensitive = true;
  ad.pool = config.pool;
  config.providers.push_back(ad);
  const std::string text = render_config(config);
  auto back = parse_config(text, "rendered");
  ASSERT_TRUE(back.has_value()) << back.error().to_string() << "\n" << text;
  config.source = "rendered";
  EXPECT_EQ(*back, config);
  // Every key of the table is spelled out (a map's keys inside its inline table).
  for (const Setting& s : settings()) {
    const std::string before = s.section == Section::kFastcacheMap ? " " : "\n";
    EXPECT_THAT(text, HasSubstr(before + std::string(s.key) + " = "));
  }
  for (const FastCacheMap& m : fastcache_maps()) {
    EXPECT_THAT(text, HasSubstr("\n" + std::string(m.name) + " = { "));
  }
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(tmp_.path(), "");
    dir_ = tmp_.path();
  }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  fastid::testing::TempDir tmp_{"/tmp/fastid-config-test."};
  std::string dir_;
};

using LoadConfig = TempDir;

TEST_F(LoadConfig, ReadsAFile) {
  const std::string path = write("fastid.toml", std::string("[daemon]\nworkers = 2\n") + kMinimal);
  auto config = load_config(path);
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  EXPECT_EQ(config->source, path);
  EXPECT_EQ(config->daemon.workers, 2);
  auto found = find_config(path);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, *config);
}

TEST_F(LoadConfig, ErrorsNameThePath) {
  const std::string missing = dir_ + "/missing.toml";
  auto config = load_config(missing);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code(), core::Code::kNotFound);
  EXPECT_THAT(config.error().message(), HasSubstr(missing));
  EXPECT_FALSE(find_config(missing).has_value()) << "an explicit path must exist";

  auto dir = load_config(dir_);
  ASSERT_FALSE(dir.has_value());
  EXPECT_THAT(dir.error().message(), HasSubstr("not a regular file"));

  const std::string bad = write("bad.toml", std::string(kMinimal) + "\n[daemon]\nworker = 2\n");
  auto parsed = load_config(bad);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().message(),
            bad + ":6: [daemon] worker: unknown key (did you mean \"workers\"?)");
}

TEST_F(LoadConfig, RefusesHugeFiles) {
  const std::string path = write("huge.toml", std::string(2 << 20, '#'));
  auto config = load_config(path);
  ASSERT_FALSE(config.has_value());
  EXPECT_THAT(config.error().message(), HasSubstr("larger than 1MiB"));
}

// ---- docs/configuration.md is the generator's output --------------------------------

TEST(Docs, ReferenceIsInSync) {
  const std::string generated = config_reference_markdown();
  const std::filesystem::path path = std::filesystem::path(FASTID_SOURCE_DIR) / "docs" / "configuration.md";
  if (const char* update = std::getenv("FASTID_UPDATE_DOCS"); update != nullptr && *update == '1') {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << generated;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path << " is missing; run FASTID_UPDATE_DOCS=1 config_test";
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(text.str() == generated)
      << path << " differs from config_reference_markdown(); regenerate it with "
      << "FASTID_UPDATE_DOCS=1 build/bin/config_test";
}

TEST(Docs, ReferenceDescribesEveryKeyAndSection) {
  const std::string doc = config_reference_markdown();
  for (const Setting& s : settings()) {
    EXPECT_THAT(doc, HasSubstr("| `" + std::string(s.key) + "` |"));
  }
  for (std::string_view s : unsupported_sections()) {
    EXPECT_THAT(doc, HasSubstr("`[" + std::string(s) + "]`"));
  }
  EXPECT_THAT(doc, HasSubstr("\"1h30m\""));
  EXPECT_THAT(doc, HasSubstr("\"8MiB\""));
}

// --check-config prints render_config(): a bind password must never appear in
// it, while the provider worker's own copy (kInclude) must carry it.
TEST(Default, RenderedConfigLeavesSecretsOutUnlessAskedToInclude) {
  Config config = default_config();
  ProviderConfig ldap;
  apply_defaults(ldap);
  ldap.name = "corp";
  ldap.type = "ldap";
  ldap.uri = {"ldap://127.0.0.1:389/"};
  ldap.base = "dc=example,dc=org";
  ldap.bind_dn = "cn=reader,dc=example,dc=org";
  ldap.bind_password = "s3cret-Pa55";
  ldap.pool = config.pool;
  config.providers.push_back(ldap);

  const std::string shown = render_config(config);
  EXPECT_THAT(shown, Not(HasSubstr("s3cret-Pa55")));
  EXPECT_THAT(shown, HasSubstr("# bind_password is set (a secret: not shown)"));
  auto parsed = parse_config(shown, "shown");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  EXPECT_EQ(parsed->providers.back().bind_password, "");

  const std::string full = render_config(config, Secrets::kInclude);
  auto back = parse_config(full, "full");
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_EQ(back->providers.back().bind_password, "s3cret-Pa55");
}

}  // namespace
}  // namespace fastid::daemon

// Found by tests/fuzz/config_fuzz (tests/fuzz/regression/config): "[" then a
// NUL byte tripped an assertion inside toml++ (a Debug build of fastidd
// aborted on such a file). TOML allows no control character but tab and
// newlines, so every other one is refused before toml++ sees the text, named
// with its line and column.
TEST(ConfigText, AControlCharacterIsRefusedWithItsPlace) {
  using namespace std::string_literals;
  auto nul = fastid::daemon::parse_config("[daemon]\nworkers = 1\n\n[\0]\n"s, "c.toml");
  ASSERT_FALSE(nul);
  EXPECT_THAT(nul.error().message(), ::testing::HasSubstr("c.toml:4:2: TOML syntax error: control character 0x00"));
  auto esc = fastid::daemon::parse_config("[daemon]\nlog_level = \"info\x1b\"\n", "c.toml");
  ASSERT_FALSE(esc);
  EXPECT_THAT(esc.error().message(), ::testing::HasSubstr("c.toml:2:18: TOML syntax error: control character 0x1b"));
  // Tabs and CRLF line ends are TOML's own.
  auto crlf = fastid::daemon::parse_config(
      "[daemon]\r\n\tworkers = 1\r\n\r\n[[provider]]\r\nname = \"local\"\r\ntype = \"files\"\r\n", "c.toml");
  EXPECT_TRUE(crlf) << crlf.error().message();
}

// Also found by config_fuzz: a table header with no key after its "[" ("[=")
// trips the same toml++ assertion; refused first. Strings and multi-line
// arrays that hold such text are not headers and still parse.
TEST(ConfigText, ATableHeaderWithoutAKeyIsRefusedWithItsPlace) {
  auto eq = fastid::daemon::parse_config("[daemon]\nworkers = 1\n[= \"info\"\n", "c.toml");
  ASSERT_FALSE(eq);
  EXPECT_THAT(eq.error().message(), ::testing::HasSubstr("c.toml:3:2: TOML syntax error: a table header must start with a key"));
  auto nl = fastid::daemon::parse_config("[\n[[rk&\n", "c.toml");
  ASSERT_FALSE(nl);
  EXPECT_THAT(nl.error().message(), ::testing::HasSubstr("c.toml:1:2: TOML syntax error: a table header"));
  auto arr = fastid::daemon::parse_config("[[,]]\n", "c.toml");
  ASSERT_FALSE(arr);
  EXPECT_THAT(arr.error().message(), ::testing::HasSubstr("c.toml:1:3: TOML syntax error: a table header"));
  auto fine = fastid::daemon::parse_config(
      "# [= a comment\n[daemon]\nworkers = 1\n\n[ \"listen\" ]\ntcp = [\n  \"127.0.0.1:7070\",\n]\n\n[[provider]]\n"
      "name = \"local\" # [=\ntype = \"files\"\npasswd = '''\n/etc/passwd'''\n",
      "c.toml");
  if (!fine) {
    EXPECT_THAT(fine.error().message(), ::testing::Not(::testing::HasSubstr("table header must start")));
  }
}

// Found by config_fuzz: a non-ASCII character where toml++ looks for
// whitespace (U+0354 after a value) reaches __builtin_unreachable in its
// whitespace table (UBSan: "execution reached an unreachable program point").
// TOML allows non-ASCII only in strings and comments; elsewhere refused first.
TEST(ConfigText, ANonAsciiCharacterOutsideStringsIsRefusedWithItsPlace) {
  auto bad = fastid::daemon::parse_config("[daemon]\nworkers = 1 \xcd\x94\n", "c.toml");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), ::testing::HasSubstr("c.toml:2:13: TOML syntax error: a non-ASCII character"));
  auto fine = fastid::daemon::parse_config(
      "# caf\xc3\xa9\n[daemon]\nworkers = 1\n\n[[provider]]\nname = \"l\xc3\xb6" "cal\"\ntype = \"files\"\n", "c.toml");
  if (!fine) {
    EXPECT_THAT(fine.error().message(), ::testing::Not(::testing::HasSubstr("non-ASCII")));
  }
}

// A bracket that closes what is not open (config_fuzz: 'pool = { w=  [ }on]',
// on which toml++ asserts): refused where it stands.
TEST(ConfigText, ABracketThatClosesNothingOpenIsRefusedWhereItStands) {
  for (const char* text : {"[daemon]\npool = { w=  [ }on]\n", "[daemon]\nw]\n", "[daemon]\nx = [1, 2}\n"}) {
    auto bad = fastid::daemon::parse_config(text, "c.toml");
    ASSERT_FALSE(bad) << text;
    EXPECT_THAT(bad.error().message(), ::testing::HasSubstr("that closes no")) << text;
  }
}

// The same, after a bracket where no value can begin (config_fuzz:
// 'name =0["…\xc3\x84…["…': toml++ reads `0["…` as one bad value and meets
// the U+00C4 outside any string): refused at the bracket. Arrays and inline
// tables where TOML has them stay.
TEST(ConfigText, ABracketWhereNoValueCanBeginIsRefusedBeforeWhatFollows) {
  for (const char* text : {"[daemon]\nworkers =0[\"a\xc3\x84\" = 0[\"\n", "[daemon]\nworkers = 1{\"\xc3\x84\"}\n",
                           "[daemon]\nworkers = tr[\"x\"]\n"}) {
    auto bad = fastid::daemon::parse_config(text, "c.toml");
    ASSERT_FALSE(bad) << text;
    EXPECT_THAT(bad.error().message(), ::testing::HasSubstr("where no value can begin")) << text;
  }
  auto fine = fastid::daemon::parse_config(
      "[daemon]\nworkers = 1\n\n[[provider]]\nname = \"l\"\ntype = \"files\"\n"
      "pool = { request_timeout = \"3s\" }\nallow_users = [\n  [\"a\"], [\"b\"],\n  [\"c\"]]\n",
      "c.toml");
  if (!fine) {
    EXPECT_THAT(fine.error().message(), ::testing::Not(::testing::HasSubstr("TOML syntax error")));
  }
}

// The same, after a quote where no string can begin (config_fuzz:
// 'name =0"...\xcd\x94...', closed or not, and 'name =0""""...\xcd\x94...',
// which the check once read as a multi-line string where toml++ does not):
// refused at the quote, so nothing after it is hidden as a string.
TEST(ConfigText, AQuoteWhereNoStringCanBeginIsRefusedBeforeWhatFollows) {
  for (const char* text : {"[daemon]\nworkers =0\"abc\xcd\x94\n", "[daemon]\nworkers =0\"abc\xcd\x94\"\n",
                           "[daemon]\nworkers =0\"\"\"\"abc\xcd\x94levet;\n"}) {
    auto bad = fastid::daemon::parse_config(text, "c.toml");
    ASSERT_FALSE(bad) << text;
    EXPECT_THAT(bad.error().message(),
                ::testing::HasSubstr("c.toml:2:11: TOML syntax error: a quote where no key or value can begin"));
  }
  // Strings where TOML has them stay strings: keys, dotted keys, values,
  // array items and inline tables, non-ASCII inside them allowed.
  auto fine = fastid::daemon::parse_config(
      "[daemon]\nworkers = 1\n\n[[provider]]\n\"name\" = \"l\xc3\xb6" "cal\"\ntype = \"files\"\n"
      "pool = { request_timeout = \"3s\" }\nallow_users = [\"a\", 'b',\n  \"c\"]\n",
      "c.toml");
  if (!fine) {
    EXPECT_THAT(fine.error().message(), ::testing::Not(::testing::HasSubstr("TOML syntax error")));
  }
}
