// The front worker's event loop is never held by the store (issue 20, "loop
// latency"): its writes, evictions and sync run on the store's writer thread
// (store/store_writer.h), and `fastid status` shows the longest loop turn
// (loop.longest_turn_us, server/loop_monitor.h). The same write-heavy load of
// misses (the slow provider, the fast cache off, a store small enough to
// evict again and again) runs against a daemon with the store and against one
// without it, in the same run: the longest turn with the store's writes (the
// CPU the loop spent in it, loop.longest_turn_cpu_us) must stay within a
// bound of the one without them, whatever the machine's load.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "support/daemon_fixture.h"

namespace fastid::testing {
namespace {

constexpr int kUsers = 6000;
constexpr int kGroups = 300;

struct LoadFigures {
  long longest_turn_us = -1;
  long longest_cpu_us = -1;
  long written = -1;
  long evictions = -1;
  std::string load_out;
};

// Every user once by name (and some by id, groups), through glibc, 4 threads:
// each lookup a miss that the store (when on) writes back.
LoadFigures write_heavy_load(bool with_store) {
  Daemon d(kUsers, kGroups);  // gen-dataset files equal to the slow provider's answers
  d.write_config("[daemon]\nsocket_dir = \"" + d.socket_dir() + "\"\nstate_dir = \"" + d.dir() +
                 "/state\"\n\n[store]\nenabled = " + (with_store ? "true" : "false") +
                 "\nsize = \"2MiB\"\n\n[fastcache]\npasswd = { enabled = false }\ngroup = { enabled = false }\n"
                 "initgroups = { enabled = false }\n\n[[provider]]\nname = \"dir\"\ntype = \"slow\"\n"
                 "users = " + std::to_string(kUsers) + "\ngroups = " + std::to_string(kGroups) + "\n");
  LoadFigures out;
  if (!d.start()) {
    ADD_FAILURE() << d.log();
    return out;
  }
  auto load = run(d.env() + bin_dir() + "/nss_stress " + d.dir() + "/data/passwd " + d.dir() +
                  "/data/group 4 3000 2>&1");
  EXPECT_EQ(load.exit_code, 0) << load.out << d.log();
  out.load_out = load.out;
  out.longest_turn_us = d.status_figure("loop.longest_turn_us");
  out.longest_cpu_us = d.status_figure("loop.longest_turn_cpu_us");
  if (with_store) {
    // Everything queued is written before the figures are read.
    EXPECT_TRUE(wait_until([&] { return d.status_figure("store.writer.queued") == 0; })) << d.log();
    out.written = d.status_figure("store.writer.written");
    out.evictions = d.status_figure("store.evictions");
    out.longest_turn_us = d.status_figure("loop.longest_turn_us");
    out.longest_cpu_us = d.status_figure("loop.longest_turn_cpu_us");
  }
  return out;
}

TEST(LoopLatencySystemTest, StoreWritesAndEvictionsDoNotHoldTheLoop) {
  // Alternately, twice each; the smaller CPU figure of each pair is compared.
  LoadFigures base, store;
  for (int round = 0; round < 2; ++round) {
    const LoadFigures b = write_heavy_load(false);
    const LoadFigures s = write_heavy_load(true);
    ASSERT_GE(b.longest_turn_us, 0) << "no loop.longest_turn_us in status";
    ASSERT_GE(s.longest_turn_us, 0) << "no loop.longest_turn_us in status";
    // The writes went through the writer thread, and the map was small
    // enough to make it evict (the longest writes there are).
    EXPECT_GT(s.written, 1000) << s.load_out;
    EXPECT_GT(s.evictions, 0);
    std::printf("round %d: longest loop turn %ld us (%ld us of CPU) without the store, %ld us (%ld us of CPU) "
                "with %ld writes and %ld evictions\n",
                round + 1, b.longest_turn_us, b.longest_cpu_us, s.longest_turn_us, s.longest_cpu_us, s.written,
                s.evictions);
    if (round == 0 || b.longest_cpu_us < base.longest_cpu_us) base = b;
    if (round == 0 || s.longest_cpu_us < store.longest_cpu_us) store = s;
  }
  // Judged against the runs without writes, on the same machine in the same
  // minute: twice theirs plus 10 ms (the bound for any one turn), on
  // the CPU the loop spent in its longest turn. The wall-clock figure
  // (loop.longest_turn_us) is printed, not judged: on a machine shared with
  // builds it swings by a factor of 5 between two runs of the same daemon
  // (17 ms, then 167 ms), while the CPU figure stays within 2-4 ms.
  EXPECT_GE(store.longest_cpu_us, 0) << "no loop.longest_turn_cpu_us in status";
  EXPECT_LE(store.longest_cpu_us, 2 * base.longest_cpu_us + 10000)
      << "without the store " << base.longest_cpu_us << " us of CPU";
}

}  // namespace
}  // namespace fastid::testing
