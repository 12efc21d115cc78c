// fastidd's SIGBUS handler (the only one in fastid: the NSS and PAM modules
// and the client library install none). A SIGBUS raised while a thread is
// inside a core::sigbus_guarded region (a fast cache write, an LMDB read or
// write) unwinds to that region's guard, which reports the file as damaged
// (core/sigbus_guard.h); any other SIGBUS kills the process as the default
// action would, with the same signal (and core dump).
#pragma once

#include "core/status.h"

namespace fastid::daemon {

// Installs the handler for this process and the processes it forks (front
// workers). Call once at start, before any thread or fork.
core::Status install_sigbus_handler();

}  // namespace fastid::daemon
