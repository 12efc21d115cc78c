// What the Kerberos PAM system tests share (tests/krb5/krb5_pam_system_test,
// krb5_session_system_test): the config of PamDaemon's files provider with
// `auth_provider = "krb5"` against a private KDC (kdc_fixture.h), the cache
// the daemon logged for a user, and PAM service files whose session stack
// runs a script through pam_exec that prints the session's KRB5CCNAME (in
// brackets, so that an injected newline shows) and, as the user, what klist
// finds in it; and Krb5PamSuite, their gtest set-up (one KDC a suite, a
// sticky cache folder a test).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>
#include <string>

#include "support/daemon_fixture.h"
#include "support/kdc_fixture.h"
#include "support/pam_fixture.h"

namespace fastid::testing {

// A suite's set-up: Suite derives from Krb5PamSuite<Suite> and says
//   static Kdc::Options kdc_options();         // the realm's users
//   static constexpr const char* kCachePrefix;  // cache_dir_ is it + our pid
// One realm for the suite (kdc, its krb5.conf as KRB5_CONFIG before each
// test); a fresh cache folder (01777, as /tmp) for each test, removed after.
template <typename Suite>
class Krb5PamSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kdc = new Kdc(Suite::kdc_options());
    if (kdc->started()) ::setenv("KRB5_CONFIG", kdc->krb5_config().c_str(), 1);
  }
  static void TearDownTestSuite() {
    delete kdc;
    kdc = nullptr;
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(kdc->started()) << kdc->error();
    ::setenv("KRB5_CONFIG", kdc->krb5_config().c_str(), 1);
    cache_dir_ = std::string(Suite::kCachePrefix) + std::to_string(::getpid());
    fs::create_directories(cache_dir_);
    ::chmod(cache_dir_.c_str(), 01777);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(cache_dir_, ec);
  }

  static inline Kdc* kdc = nullptr;
  std::string cache_dir_;
};

// The files provider of PamDaemon with the KDC checking its passwords;
// `pam_section` follows [pam].
inline std::string krb5_config(const PamDaemon& d, const Kdc& kdc, const std::string& ccache,
                               const std::string& pam_section = "") {
  return d.default_config_text() + "shadow = \"" + d.shadow_path() + "\"\nauth_provider = \"krb5\"\n" +
         "krb5_keytab = \"" + kdc.host_keytab() + "\"\nkrb5_ccache = \"" + ccache + "\"\n\n[pam]\n" + pam_section;
}

// The last cache the daemon logged for `user` ("" when none).
inline std::string cache_logged(const Daemon& d, const std::string& user) {
  const std::string log = d.log();
  const std::regex re("ticket of \"" + user + "\" in FILE:([^ \\n]+)");
  std::string last;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator(); ++it) {
    last = (*it)[1].str();
  }
  return last;
}

// Writes `name` (an executable shell script) that prints
//   session KRB5CCNAME=[<value or none>]
// and, when set, klist's output as uid `uid` (prefixed "klist: ").
inline std::string write_session_script(const PamDaemon& d, const std::string& name, unsigned uid) {
  const std::string path = d.dir() + "/" + name;
  const std::string u = std::to_string(uid);
  write_file(path, "#!/bin/sh\n"
                   "echo \"session KRB5CCNAME=[${KRB5CCNAME-none}]\"\n"
                   "if [ -n \"${KRB5CCNAME-}\" ]; then\n"
                   "  setpriv --reuid=" + u + " --regid=" + u + " --clear-groups env KRB5_CONFIG=/dev/null "
                   "klist 2>&1 | sed 's/^/klist: /'\n"
                   "fi\n");
  ::chmod(path.c_str(), 0755);
  return path;
}

// A PAM service `name` of d's pam.d: pam_fastid (`module_args`) for auth,
// account and password; for session pam_fastid too when `fastid_session`,
// then pam_exec running `script` with its output shown.
inline void krb5_service(PamDaemon& d, const std::string& name, const std::string& module_args,
                         const std::string& script, bool fastid_session) {
  const std::string m = lib_dir() + "/pam_fastid.so " + module_args;
  write_file(d.dir() + "/pam.d/" + name,
             "auth required " + m + "\naccount required " + m + "\npassword required " + m + "\n" +
                 (fastid_session ? "session required " + m + "\n" : std::string()) +
                 "session optional pam_exec.so stdout " + script + "\n");
}

}  // namespace fastid::testing
