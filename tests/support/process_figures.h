// Figures of fastidd and every process under it (front workers, provider
// workers), read from /proc: open descriptors, resident memory, CPU time.
// What the hostile-clients cases (hostile_clients_system_test,
// big_replies_system_test) assert memory and CPU bounds on.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>

#include "support/daemon_fixture.h"

namespace fastid::testing {

// Open descriptors of fastidd and every process under it.
inline int fastidd_fds(pid_t root) {
  std::set<pid_t> all = descendants(root);
  all.insert(root);
  int n = 0;
  for (pid_t p : all) {
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(p) + "/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
      ++n;
  }
  return n;
}

// VmRSS of fastidd and every process under it, KiB.
inline std::uint64_t fastidd_rss_kib(pid_t root) {
  std::set<pid_t> all = descendants(root);
  all.insert(root);
  std::uint64_t kib = 0;
  for (pid_t p : all) {
    std::istringstream in(read_file("/proc/" + std::to_string(p) + "/status"));
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("VmRSS:", 0) == 0) kib += std::stoull(line.substr(6));
    }
  }
  return kib;
}

// CPU time (user + system) of fastidd and every process under it, ms.
inline double fastidd_cpu_ms(pid_t root) {
  std::set<pid_t> all = descendants(root);
  all.insert(root);
  double ticks = 0;
  for (pid_t p : all) {
    const std::string stat = read_file("/proc/" + std::to_string(p) + "/stat");
    if (stat.empty()) continue;
    std::istringstream in(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 15 && in >> field; ++i) {
      if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
    }
  }
  return ticks * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace fastid::testing
