// The set-up the PAM-against-a-directory system suites share (pam_ldap,
// pam_access, pam_chauthtok, pam_password): one private slapd over StartTLS
// (support/slapd_fixture.h) and one fastidd with its PAM service files
// (set_up_pam, support/daemon_fixture.h), both started once for the suite and
// kept in static members. A suite derives from PamSlapdSuite<itself> and
// hides the hooks it needs:
//
//   class PamAccessTest : public PamSlapdSuite<PamAccessTest> {
//    public:
//     static constexpr const char* kService = "fastid-access";
//     static void set_up_directory();  // LDIF of its own (ASSERT_* allowed)
//     static void set_up_daemon();     // write_config(daemon_config(...)), files
//   };
//
// Needs root (unshare -m); without it nothing starts and every test skips.
// Built on SlapdDaemonSuite (support/slapd_suite.h).
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "support/daemon_fixture.h"
#include "support/slapd_fixture.h"
#include "support/slapd_suite.h"

namespace fastid::testing {

template <typename Suite>
class PamSlapdSuite : public SlapdDaemonSuite<Suite> {
 protected:
  using Base = SlapdDaemonSuite<Suite>;
  using Base::daemon_;
  using Base::daemon_section;
  using Base::slapd_;

  // ---- Hooks (Suite hides the ones it needs) ----
  static Slapd::Options slapd_options() { return Slapd::Options{.users = 20, .groups = 5, .tls = true}; }
  // The suite's own entries, policies and overlays in slapd_.
  static void set_up_directory() {}
  // The daemon's config (daemon_config) and any files it names; the PAM
  // service Suite::kService (auth and account) is already written.
  static void set_up_daemon() { daemon_->write_config(daemon_config()); }

  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    slapd_ = new Slapd(Suite::slapd_options());
    ASSERT_TRUE(slapd_->started()) << slapd_->error();
    ASSERT_NO_FATAL_FAILURE(Suite::set_up_directory());
    daemon_ = new Daemon(1, 1);
    // The test's folder is mkdtemp's 0700: unprivileged callers must reach the socket.
    ::chmod(daemon_->dir().c_str(), 0755);
    set_up_pam(*daemon_, Suite::kService);
    ASSERT_NO_FATAL_FAILURE(Suite::set_up_daemon());
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare -m";
    ASSERT_NE(daemon_, nullptr);
  }

  // The config: info logs, `pam_keys` after [pam] (offline always on), the
  // `providers` before the slapd's ldap provider (over StartTLS) with its
  // `ldap_keys`.
  static std::string daemon_config(const std::string& pam_keys = "", const std::string& providers = "",
                                   const std::string& ldap_keys = "") {
    return daemon_section() + "\n[pam]\noffline = true\n" + pam_keys + providers +
           slapd_->provider_toml(ldap_keys, /*start_tls=*/true);
  }

  // A files provider "local" with the user localonly (uid 4000) and the group
  // localgrp; with `shadow` (a shadow file under data/ the caller writes) too.
  static std::string local_files_provider(const std::string& shadow = "") {
    const std::string d = daemon_->dir();
    write_file(d + "/data/local-passwd", "localonly:x:4000:4000::/home/localonly:/bin/sh\n");
    write_file(d + "/data/local-group", "localgrp:x:4000:\n");
    return "\n[[provider]]\nname = \"local\"\ntype = \"files\"\npasswd = \"" + d + "/data/local-passwd\"\ngroup = \"" +
           d + "/data/local-group\"\n" + (shadow.empty() ? "" : "shadow = \"" + shadow + "\"\n");
  }

  // pamtester on Suite::kService in the test's namespace (in_pam_namespace),
  // as root or `uid`; `answers` one line per prompt (pamtester's
  // conversation, libpam_misc's misc_conv, reads a line each).
  static CommandResult pamtester(const std::string& user, const std::vector<std::string>& answers,
                                 const std::string& steps, int uid = 0) {
    std::string text;
    for (const auto& a : answers) text += a + "\n";
    return in_pam_namespace(*daemon_, "pamtester " + std::string(Suite::kService) + " " + user + " " + steps, text,
                            uid);
  }

  // Whether slapd itself takes `password` for `user` (a bind of its own).
  static bool directory_accepts(const std::string& user, const std::string& password) {
    return run("ldapwhoami -x -H " + slapd_->uri() + " -D uid=" + user + ",ou=people," + slapd_->base() + " -w '" +
               password + "' >/dev/null 2>&1")
               .exit_code == 0;
  }

  // Suite::kService with pam_fastid for password changes too, then
  // pam_permit standing for pam_unix: for a user fastid leaves alone
  // (PAM_IGNORE) the next module decides.
  static void add_password_stack() {
    const std::string module = lib_dir() + "/pam_fastid.so socket=" + daemon_->socket_dir() + "/pam";
    write_file(daemon_->dir() + "/pam.d/" + Suite::kService,
               "auth required " + module + "\naccount required " + module + "\npassword required " + module +
                   "\npassword required pam_permit.so\n");
  }
};

}  // namespace fastid::testing
