// A node fastidd answering through the remote provider (type "fastid") from
// an upstream fastidd: the check that it answers as the upstream does, shared
// by the plain TCP (net_system_test) and the TLS (tls_system_test) suites.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>

#include "support/daemon_fixture.h"

namespace fastid::testing {

// Each kind of lookup gives the upstream's own answer, an unknown name is not
// found (exit 2), and the enumeration lists all `users` of the upstream.
inline void expect_answers_like_upstream(const Daemon& node, const Daemon& upstream, std::size_t users) {
  for (const char* q : {"passwd user00150", "passwd 100007", "group group0011", "group 200003",
                        "initgroups user00150"}) {
    auto want = upstream.getent(q);
    auto got = node.getent(q);
    EXPECT_EQ(got.exit_code, 0) << q << ": " << got.out;
    EXPECT_EQ(got.out, want.out) << q;
  }
  EXPECT_EQ(node.getent("passwd nosuchuser").exit_code, 2);
  auto all = node.getent("passwd");
  EXPECT_EQ(static_cast<std::size_t>(std::count(all.out.begin(), all.out.end(), '\n')), users);
}

}  // namespace fastid::testing
