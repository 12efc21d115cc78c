// The static members a gtest suite on one private slapd and one fastidd
// keeps (slapd_, daemon_: each Suite its own pair), their end after the
// suite's last test, and the config's [daemon] section. A suite derives from
// SlapdDaemonSuite<itself> and starts both in its SetUpTestSuite
// (home_shell_system_test, ldap_maps_system_test); the PAM suites use
// PamSlapdSuite (support/pam_slapd_suite.h), which starts them too.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "support/daemon_fixture.h"
#include "support/slapd_fixture.h"

namespace fastid::testing {

// A suite's one slapd_ and one daemon_ (each Suite its own), stopped and
// removed after its last test.
template <typename Suite>
class SlapdDaemonSuite : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
    delete slapd_;
    slapd_ = nullptr;
  }

  // The config's [daemon] section: daemon_'s folders, info logs.
  static std::string daemon_section() {
    return "[daemon]\nsocket_dir = \"" + daemon_->socket_dir() + "\"\nstate_dir = \"" + daemon_->dir() +
           "/state\"\nlog_level = \"info\"\n";
  }

  static inline Slapd* slapd_ = nullptr;
  static inline Daemon* daemon_ = nullptr;
};

}  // namespace fastid::testing
