// Supervisor: forks the front workers that share the listeners it opened, and
// keeps them alive (DESIGN idea 3). It owns no thread, loop or database handle:
// it waits for signals synchronously and only forks, forwards and reaps.
// Use from the main thread of a single-threaded process, once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <vector>

#include "supervisor/front_worker_figures.h"

namespace fastid::supervisor {

enum class OnFrontWorkerExit {
  kRestart,  // replace a dead front worker, paced; a crash loop stops everything
  kExit,     // the first death ends everything (MIT krb5's KDC policy)
};

struct SupervisorOptions {
  int front_workers = 1;
  OnFrontWorkerExit on_front_worker_exit = OnFrontWorkerExit::kRestart;
  // Time the front workers get after SIGTERM before they are killed.
  std::chrono::milliseconds shutdown_grace{5000};
  // A crash loop: this many deaths within `crash_window` stop everything.
  int crash_limit = 5;
  std::chrono::milliseconds crash_window{10000};
  // The shared figures page: a dead front worker's slot is cleared. May be null.
  FrontWorkerFigures* figures = nullptr;
  // Called with the pid of each front worker once it is reaped (e.g. to drop what it
  // held in shared tables). May be empty.
  std::function<void(pid_t)> front_worker_reaped;
};

class Supervisor {
 public:
  // `run_front_worker(index)` runs in each forked child and returns its exit code.
  Supervisor(SupervisorOptions options, std::function<int(int)> run_front_worker);

  // Forks the front workers and supervises them until SIGTERM/SIGINT (exit code 0
  // once all front workers have stopped) or a fatal policy decision (non-zero).
  int run();

  // The live front worker pids (for tests and logs).
  std::vector<pid_t> front_worker_pids() const;

 private:
  pid_t spawn(int index);
  void forward(int signo);
  int stop_all(int exit_code);

  SupervisorOptions options_;
  std::function<int(int)> run_front_worker_;
  std::vector<pid_t> pids_;  // by front worker index; 0 = not running
  std::vector<std::chrono::steady_clock::time_point> deaths_;
};

}  // namespace fastid::supervisor
