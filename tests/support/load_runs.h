// Loads of lookups around an event, for the tests of outages in the middle of
// loads (store_system_test, store_ldap_system_test): the load runs again and
// again, back to back, while the event happens and until a settle time has
// passed after it, so that what the test sees does not depend on how fast
// one load finishes on a loaded machine. A load is a command that prints
// nss_stress's counts ("lookups=N ok=N notfound=N error=N ...").
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <regex>
#include <string>
#include <thread>

#include "support/daemon_fixture.h"

namespace fastid::testing {

// The number after "name=" in nss_stress's output, or -1.
inline long field(const std::string& text, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(name + "=([0-9]+)"))) return -1;
  return std::stol(m[1]);
}

struct LoadRuns {
  int runs = 0;
  int failed_runs = 0;             // runs that exited non-zero
  long lookups = 0, ok = 0, notfound = 0, error = 0;  // summed over the runs
  std::string failed_outputs;      // what the failed runs printed
};

// Runs `load` back to back; `event` runs in this thread once the first load
// has been going for `lead`; loads go on until `settle` has passed since the
// event returned (the run in progress then is finished and counted).
inline LoadRuns load_around(const std::string& load, const std::function<void()>& event,
                            std::chrono::milliseconds settle,
                            std::chrono::milliseconds lead = std::chrono::milliseconds(100)) {
  using Clock = std::chrono::steady_clock;
  LoadRuns out;
  std::atomic<bool> event_done{false};
  std::atomic<Clock::rep> event_end{0};
  std::thread loader([&] {
    while (!event_done.load() || Clock::now() - Clock::time_point(Clock::duration(event_end.load())) < settle) {
      CommandResult r = run(load);
      ++out.runs;
      out.lookups += std::max(field(r.out, "lookups"), 0L);
      out.ok += std::max(field(r.out, "ok"), 0L);
      out.notfound += std::max(field(r.out, "notfound"), 0L);
      out.error += std::max(field(r.out, "error"), 0L);
      if (r.exit_code != 0) {
        ++out.failed_runs;
        out.failed_outputs += r.out;
      }
    }
  });
  std::this_thread::sleep_for(lead);
  event();
  event_end = Clock::now().time_since_epoch().count();
  event_done = true;
  loader.join();
  return out;
}

}  // namespace fastid::testing
