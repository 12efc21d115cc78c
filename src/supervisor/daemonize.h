// Detaching into the background the way a service manager or an init script
// expects: `fastidd --daemonize` returns only once the daemon is ready to
// answer (exit 0), or has failed to start (exit 1), so scripts need no polling.
#pragma once

#include "core/status.h"

namespace fastid::supervisor {

class Daemonizer {
 public:
  // Forks twice and starts a new session. Returns in the daemon process only;
  // the original process waits for notify_ready() (exit 0) or for the daemon
  // to exit without it (exit 1). stdin/stdout/stderr become /dev/null, except
  // stderr when `keep_stderr` (it was redirected to a log file).
  core::Status detach(bool keep_stderr);

  // Tells the waiting parent that start-up succeeded. Safe to call when
  // detach() was never called (does nothing).
  void notify_ready();

 private:
  int ready_fd_ = -1;
};

}  // namespace fastid::supervisor
