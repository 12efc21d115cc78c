// A private slapd for gtest: tests/ldap/slapd-fixture driven from C++.
// Slapd starts Debian's slapd on 127.0.0.1 with the generated dataset
// (tests/ldap/gen-ldif: 10,000 users and 1,000 groups by default, in the
// RFC 2307 or RFC 2307bis layout) and kills it and removes its folder when
// destroyed. Datasets are generated once per test binary (a shared folder
// removed at exit) and loaded with slapadd, so a start takes a second or two.
//
//   fastid::testing::Slapd slapd({.schema = "rfc2307bis", .tls = true, .log = true});
//   ASSERT_TRUE(slapd.started()) << slapd.error();
//   slapd.uri(), slapd.base(), slapd.ca_file(), slapd.searches_logged() ...
//   With .gssapi_kdc_dir (a support/kdc_fixture.h realm): GSSAPI binds too.
//
// Needs FASTID_SOURCE_DIR (the tree with tests/ldap). Not thread-safe.
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/fixture_script.h"
#include "support/time_scale.h"

namespace fastid::testing {

// Keys added to every ldap provider section the LDAP tests write. The
// `*_async` ctest entries run the same tests with FASTID_TEST_LDAP_ASYNC=1:
// lookups are then searched by the front worker itself (async_lookups,
// server/ldap_loop_directory.h), so every behaviour is checked in both modes.
inline std::string ldap_mode_keys() {
  const char* v = ::getenv("FASTID_TEST_LDAP_ASYNC");
  return v != nullptr && std::string(v) == "1" ? "async_lookups = true\n" : "";
}

class Slapd : public ScriptedServer {
 public:
  struct Options {
    std::string extra = {};          // one more LDIF file to load (first: see below)
    // A tests/krb5/kdc-fixture folder (support/kdc_fixture.h, Kdc::dir()):
    // slapd also accepts SASL GSSAPI binds from that realm (gssapi_uri()).
    std::string gssapi_kdc_dir = {};
    std::string schema = "rfc2307";  // or "rfc2307bis"
    int users = 10000;
    int groups = 1000;
    bool tls = false;    // StartTLS and an ldaps:// listener with the fixture's own CA
    bool log = false;    // slapd's stats log in log_path(), for counting searches
    bool scale = false;  // the 50,000-member group and the user in 2,000 groups
    // (`extra` and `gssapi_kdc_dir` come first because g++ 12 warns about an omitted trailing
    // std::string in designated initializers.)
  };

  Slapd() : Slapd(Options{}) {}
  explicit Slapd(Options options)
      : ScriptedServer(std::string(FASTID_SOURCE_DIR) + "/tests/ldap/slapd-fixture", "/tmp/fastid-slapd-XXXXXX"),
        options_(std::move(options)) {
    std::string args = " --schema " + options_.schema + " --users " + std::to_string(options_.users) +
                       " --groups " + std::to_string(options_.groups) + " --data " + data_cache();
    if (options_.tls) args += " --tls";
    if (options_.log) args += " --log";
    if (options_.scale) args += " --scale";
    if (!options_.extra.empty()) args += " --extra " + options_.extra;
    if (!options_.gssapi_kdc_dir.empty()) args += " --gssapi " + options_.gssapi_kdc_dir;
    start(args);
  }

  std::string uri() const { return env("LDAP_URI"); }
  std::string ldaps_uri() const { return env("LDAPS_URI"); }
  // ldap://localhost:PORT/: the name slapd's ldap/localhost key is for (with gssapi_kdc_dir).
  std::string gssapi_uri() const { return env("LDAP_GSSAPI_URI"); }
  int port() const { return std::atoi(env("LDAP_PORT").c_str()); }
  std::string base() const { return env("LDAP_BASE"); }
  std::string ca_file() const { return env("LDAP_CA_FILE"); }
  std::string wrong_ca_file() const { return env("LDAP_WRONG_CA_FILE"); }
  std::string bind_dn() const { return env("LDAP_BIND_DN"); }
  std::string bind_password() const { return env("LDAP_BIND_PASSWORD"); }
  std::string bind_password_file() const { return env("LDAP_BIND_PASSWORD_FILE"); }
  std::string log_path() const { return env("LDAP_LOG"); }
  // The dataset: data.ldif, expected/passwd, expected/group.
  std::string data_dir() const { return env("LDAP_DATA"); }
  pid_t pid() const { return static_cast<pid_t>(std::atol(env("LDAP_SLAPD_PID").c_str())); }
  // The password every generated user has.
  static std::string password_of(const std::string& user) { return "pw-" + user; }

  // Searches slapd logged since the start or the last clear_log() (needs .log).
  // `except`: lines containing it are not counted (e.g. " scope=0 " for base-scope reads).
  int searches_logged(const std::string& except = "") const {
    std::ifstream in(log_path());
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.find(" SRCH base=") == std::string::npos) continue;
      if (!except.empty() && line.find(except) != std::string::npos) continue;
      ++n;
    }
    return n;
  }
  void clear_log() const { std::ofstream(log_path(), std::ios::trunc); }

  // The [[provider]] table of an LDAP provider named "corp" reading this slapd
  // as the fixture's reader, over StartTLS with the fixture's CA when
  // `start_tls`, with a 1 s network timeout and a 3 s pool request timeout
  // (tests that stop slapd want an answer soon), both times
  // FASTID_TEST_TIME_SCALE (timeout_keys); `extra`: more keys of it.
  std::string provider_toml(const std::string& extra = "", bool start_tls = false) const {
    std::string t = "\n[[provider]]\nname = \"corp\"\ntype = \"ldap\"\n" + ldap_mode_keys() + "uri = [\"" + uri() +
                    "\"]\nbase = \"" + base() + "\"\n";
    if (start_tls) t += "start_tls = true\ntls_ca_file = \"" + ca_file() + "\"\n";
    return t + "bind_dn = \"" + bind_dn() + "\"\nbind_password_file = \"" + bind_password_file() +
           "\"\n" + timeout_keys(std::chrono::seconds(1), std::chrono::seconds(3)) + extra;
  }

  // An LDAP provider's network_timeout and pool request_timeout keys, each
  // times FASTID_TEST_TIME_SCALE: a memcheck'd provider worker doing StartTLS
  // and searches takes 20-50 times longer than a plain one.
  static std::string timeout_keys(std::chrono::milliseconds network, std::chrono::milliseconds request) {
    return "network_timeout = \"" + scaled_duration(network) + "\"\npool = { request_timeout = \"" +
           scaled_duration(request) + "\" }\n";
  }

  // Loads slapd's ppolicy overlay into cn=config (slapd stopped meanwhile) with
  // cn=default,ou=policies,BASE as its default policy; the policy entries
  // themselves are the test's to add (ldapmodify), as each wants its own.
  bool add_ppolicy_overlay() {
    const std::string ldif = dir() + "/ppolicy.ldif";
    {
      std::ofstream out(ldif, std::ios::trunc);
      out << "dn: olcOverlay={0}ppolicy,olcDatabase={1}mdb,cn=config\nobjectClass: olcOverlayConfig\n"
             "objectClass: olcPPolicyConfig\nolcOverlay: {0}ppolicy\nolcPPolicyDefault: cn=default,ou=policies,"
          << base() << "\n";
    }
    return stop() && command("slapadd -n 0 -F " + dir() + "/slapd.d -l " + ldif + " >/dev/null") && restart();
  }

  // `ldapsearch -LLL` over the plain URI, anonymous; args are shell words.
  std::string ldapsearch(const std::string& args) const {
    std::string out;
    FILE* p = ::popen(("ldapsearch -x -o ldif-wrap=no -LLL -H " + uri() + " -b " + base() + " " +
                       args + " 2>&1")
                          .c_str(),
                      "r");
    if (p == nullptr) return out;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
    return out;
  }

  // Changes as the directory's administrator (the fixture's rootdn) with
  // ldapmodify over the plain URI; true when every change was made. Entries
  // added this way carry the operational attributes slapd keeps (the
  // bulk-loaded ones have none, so slapd will not modify those in place).
  bool ldapmodify(const std::string& ldif) const {
    const std::string file = dir() + "/change.ldif";
    {
      std::ofstream out(file, std::ios::trunc);
      out << ldif;
    }
    const std::string cmd = "ldapmodify -x -H " + uri() + " -D cn=admin," + base() +
                            " -w admin-secret -f " + file + " >" + dir() + "/change.out 2>&1";
    return std::system(cmd.c_str()) == 0;
  }

 private:
  // One folder of generated datasets per test binary, removed when it exits.
  static const std::string& data_cache() {
    struct Cache {
      std::string path;
      Cache() {
        char tmpl[] = "/tmp/fastid-ldapdata-XXXXXX";
        const char* made = ::mkdtemp(tmpl);
        path = made ? made : "/tmp";
      }
      ~Cache() {
        if (path != "/tmp") {
          std::error_code ec;
          std::filesystem::remove_all(path, ec);
        }
      }
    };
    static Cache cache;
    return cache.path;
  }

  Options options_;
};

}  // namespace fastid::testing
