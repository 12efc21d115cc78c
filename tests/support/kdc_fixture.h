// A private MIT Kerberos realm for gtest: tests/krb5/kdc-fixture driven from
// C++. Kdc creates a realm (FASTID.TEST by default) under a temporary folder,
// with the principals fastid/localhost (an LDAP provider's own), host/localhost
// (what password logins are verified against) and slapd's ldap/ names, each
// with a keytab, plus the users asked for; runs krb5kdc and kadmind (kpasswd)
// on free 127.0.0.1 ports; and kills both and removes the folder when
// destroyed. Nothing of the host's Kerberos files is used: whoever talks to
// the realm gets krb5_config() as KRB5_CONFIG (env_prefix() for shell commands).
//
//   fastid::testing::Kdc kdc({.users = {{"alice", "alice-pw-1"}}});
//   ASSERT_TRUE(kdc.started()) << kdc.error();
//   kdc.kadmin("modprinc -pwexpire yesterday alice");
//   fastid::testing::Slapd slapd({.gssapi_kdc_dir = kdc.dir(), ...});  // GSSAPI binds
//
// Needs FASTID_SOURCE_DIR (the tree with tests/krb5). Not thread-safe.
#pragma once

#include <stdlib.h>

#include <string>
#include <utility>
#include <vector>

#include "support/fixture_script.h"

namespace fastid::testing {

class Kdc : public ScriptedServer {
 public:
  struct Options {
    std::string realm = "FASTID.TEST";
    std::vector<std::pair<std::string, std::string>> users = {};  // name, password
  };

  Kdc() : Kdc(Options{}) {}
  explicit Kdc(Options options)
      : ScriptedServer(std::string(FASTID_SOURCE_DIR) + "/tests/krb5/kdc-fixture", "/tmp/fastid-kdc-XXXXXX"),
        options_(std::move(options)) {
    std::string args = " --realm " + options_.realm;
    for (const auto& [name, password] : options_.users) args += " --user '" + name + ":" + password + "'";
    start(args);
  }

  // One kadmin.local command on the realm's database; false (and error()) when refused.
  bool kadmin(const std::string& query) {
    std::string quoted;
    for (char c : query) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return command(script() + " kadmin " + dir() + " '" + quoted + "' >/dev/null");
  }

  std::string realm() const { return env("KRB5_REALM"); }
  int kdc_port() const { return std::atoi(env("KDC_PORT").c_str()); }
  // The clients' krb5.conf (KRB5_CONFIG for fastid, kinit, klist).
  std::string krb5_config() const { return env("KRB5_CONFIG"); }
  std::string fastid_keytab() const { return env("KRB5_FASTID_KEYTAB"); }  // fastid/localhost
  std::string host_keytab() const { return env("KRB5_HOST_KEYTAB"); }      // host/localhost
  pid_t kdc_pid() const { return static_cast<pid_t>(std::atol(env("KRB5_KDC_PID").c_str())); }
  // "KRB5_CONFIG=... " to put before a shell command (kinit, klist).
  std::string env_prefix() const { return "KRB5_CONFIG=" + krb5_config() + " "; }

 private:
  Options options_;
};

}  // namespace fastid::testing
