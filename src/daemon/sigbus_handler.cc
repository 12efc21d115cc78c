// fastidd's SIGBUS handler (sigbus_handler.h).
#include "daemon/sigbus_handler.h"

#include <signal.h>

#include <cerrno>

#include "core/sigbus_guard.h"

namespace fastid::daemon {

namespace {

// Async-signal-safe throughout: sigbus_escape() only reads a thread-local,
// bumps an atomic, sets the mask and jumps; sigaction and raise are on the
// POSIX list.
void on_sigbus(int signo, siginfo_t* info, void* ucontext) {
  core::sigbus_escape(info, ucontext);  // does not return inside a guarded region
  // Outside one: die of it as before. With the default action back, the
  // raised signal is delivered as this handler returns (SIGBUS is blocked
  // while it runs); a fault would also fault again on return.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(signo, &dfl, nullptr);
  ::raise(signo);
}

}  // namespace

core::Status install_sigbus_handler() {
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (::sigaction(SIGBUS, &sa, nullptr) != 0) return core::status_from_errno(errno, "sigaction SIGBUS");
  return core::Status::ok();
}

}  // namespace fastid::daemon
