// FASTID_TEST_TIME_SCALE: how many times longer every deadline a fixture or a
// test sets must be (10 under `make valgrind`, where memcheck slows every
// process 20-50 times; unset, so 1, in `make test`). Deadlines only: a test
// polls for a state up to one, never sleeps for a time and then expects.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <string>

namespace fastid::testing {

// FASTID_TEST_TIME_SCALE (1 when unset or not a positive integer below 1000).
inline int time_scale() {
  const char* v = ::getenv("FASTID_TEST_TIME_SCALE");
  const int n = v != nullptr ? std::atoi(v) : 1;
  return n >= 1 && n < 1000 ? n : 1;
}

// A duration for the daemon's configuration ("1500ms"), scaled.
inline std::string scaled_duration(std::chrono::milliseconds d) {
  return std::to_string(d.count() * time_scale()) + "ms";
}

}  // namespace fastid::testing
