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
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/reaper.h"

namespace fastid::testing {

class Kdc {
 public:
  struct Options {
    std::string realm = "FASTID.TEST";
    std::vector<std::pair<std::string, std::string>> users = {};  // name, password
  };

  Kdc() : Kdc(Options{}) {}
  explicit Kdc(Options options) : options_(std::move(options)) {
    char tmpl[] = "/tmp/fastid-kdc-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    if (made == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = made;
    // If the test dies (an abort, ctest's timeout), the KDC goes with it.
    reaper_ = std::make_unique<Reaper>(script() + " kill " + dir_ + " >/dev/null 2>&1; rm -rf " + dir_);
    std::string cmd = script() + " start " + dir_ + " --realm " + options_.realm;
    for (const auto& [name, password] : options_.users) cmd += " --user '" + name + ":" + password + "'";
    started_ = command(cmd) && read_env();
  }

  ~Kdc() {
    if (!dir_.empty()) {
      command(script() + " kill " + dir_);
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  Kdc(const Kdc&) = delete;
  Kdc& operator=(const Kdc&) = delete;

  bool started() const { return started_; }
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }

  bool stop() { return command(script() + " stop " + dir_); }
  bool kill() { return command(script() + " kill " + dir_); }
  // Same ports, same database.
  bool restart() { return command(script() + " restart " + dir_) && read_env(); }
  // One kadmin.local command on the realm's database; false (and error()) when refused.
  bool kadmin(const std::string& query) {
    std::string quoted;
    for (char c : query) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return command(script() + " kadmin " + dir_ + " '" + quoted + "' >/dev/null");
  }

  std::string env(const std::string& key) const {
    auto it = env_.find(key);
    return it == env_.end() ? std::string() : it->second;
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
  static std::string script() { return std::string(FASTID_SOURCE_DIR) + "/tests/krb5/kdc-fixture"; }

  bool command(const std::string& cmd) {
    const std::string full = cmd + " 2>" + dir_ + ".err";
    const int rc = std::system(full.c_str());
    std::ifstream in(dir_ + ".err");
    std::stringstream ss;
    ss << in.rdbuf();
    std::error_code ec;
    std::filesystem::remove(dir_ + ".err", ec);
    if (rc != 0) {
      error_ = cmd + ": exit " + std::to_string(rc) + ": " + ss.str();
      return false;
    }
    return true;
  }

  bool read_env() {
    std::ifstream in(dir_ + "/env");
    if (!in) {
      error_ = dir_ + "/env: missing";
      return false;
    }
    env_.clear();
    for (std::string line; std::getline(in, line);) {
      auto eq = line.find('=');
      if (eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return true;
  }

  Options options_;
  std::string dir_;
  std::unique_ptr<Reaper> reaper_;  // kills the server if the test dies first
  std::string error_;
  bool started_ = false;
  std::map<std::string, std::string> env_;
};

}  // namespace fastid::testing
