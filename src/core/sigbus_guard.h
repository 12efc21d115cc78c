// A guard for code that touches a file through a shared mapping (the fast
// cache maps, LMDB's data.mdb): a file cut short under its map turns the
// next touch of a page past the new end into SIGBUS, which by default kills
// the process. Inside a guarded region a SIGBUS from such a touch returns
// the region's guard false instead, so the caller can drop the map and say
// the file is damaged; anywhere else SIGBUS kills the process as before.
//
// The primitive only: nothing here installs a signal handler. The daemon
// (src/daemon/sigbus_handler.cc) installs the one handler, which calls
// sigbus_escape(); in a process without it (a client, the NSS and PAM
// modules, a unit test) a guarded region is a plain call and SIGBUS kills.
//
// What a SIGBUS inside a region skips: the frames between the guard and the
// fault are abandoned by siglongjmp, so no destructor of theirs runs and no
// C++ exception passes. The body must therefore hold nothing in those frames
// that matters beyond the leak of a little memory: no lock, no descriptor,
// no transaction the caller does not know how to release after the guard
// returns false (docs/reliability.md "Fault matrix: storage and disk" lists
// what each user leaves behind). The jump is safe only because the fault
// lands where the map is read or written: in the body's own code, LMDB's, or
// memcpy, never inside malloc or under a lock the body does not release.
//
// Regions nest (the innermost one catches) and are per thread.
#pragma once

#include <signal.h>

#include <cstdint>
#include <type_traits>

namespace fastid::core {

namespace sigbus_detail {
// Runs body(ctx) under a guard; false when a SIGBUS ended it early.
bool run(void (*body)(void*), void* ctx) noexcept;
}  // namespace sigbus_detail

// Runs `body` (a callable taking no argument, noexcept in practice) inside
// a guarded region: true when it ran to its end, false when a SIGBUS from
// touching a mapped file interrupted it (only possible in a process whose
// SIGBUS handler calls sigbus_escape(): the daemon).
template <typename Body>
bool sigbus_guarded(Body&& body) noexcept {
  return sigbus_detail::run([](void* ctx) { (*static_cast<std::remove_reference_t<Body>*>(ctx))(); },
                            const_cast<void*>(static_cast<const void*>(&body)));
}

// For the daemon's SIGBUS handler only. When the calling thread is inside a
// guarded region and the signal is the kernel's report of a touch of a
// mapped file with nothing behind it (BUS_ADRERR; BUS_OBJERR), restores the
// signal mask of the interrupted code and jumps to the region's guard: it
// does not return. Returns otherwise (a SIGBUS outside any region, one sent
// by kill(2), a hardware memory error): the handler then lets it kill.
// Async-signal-safe.
void sigbus_escape(const siginfo_t* info, void* ucontext) noexcept;

// How many SIGBUS the guards of this process caught.
std::uint64_t sigbus_caught() noexcept;

// Whether the calling thread is inside a guarded region (for tests).
bool sigbus_guard_active() noexcept;

}  // namespace fastid::core
