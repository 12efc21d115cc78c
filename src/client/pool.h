// The process-wide pool of connections to the daemon's lookup socket: persistent
// connections that threads take, use alone, and give back (at most 8 kept idle).
// Promises: every fd is O_CLOEXEC, non-blocking and >= 3; a daemon is used only
// when the process listening runs as root (or as the caller's own effective
// uid) and owns the socket file, in a directory of root's or its own (a socket
// planted by another user is refused: FASTID_UNAVAILABLE); an fd is only ever
// used or closed after fstat() shows it is still the socket we opened (the
// application may have closed and reused the number); connections inherited
// across fork() are forgotten by the child. Thread-safe; never starts a thread.
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "fastid/fastid.h"

namespace fastid::client {

// One connection while a thread owns it.
struct Conn {
  int fd = -1;
  int slot = -1;        // index in the pool, or -1 for an untracked one-shot connection
  uint32_t gen = 0;     // pool generation when taken (a flush makes it stale)
  dev_t dev = 0;        // identity of the socket we opened
  ino_t ino = 0;
  bool reused = false;  // came from the pool (may have been closed by the daemon meanwhile)
};

// Takes a connection: a verified idle one when allow_pooled, else a new one
// connected before deadline_ns (CLOCK_MONOTONIC). On failure sets the thread's
// message and returns FASTID_UNAVAILABLE, FASTID_TIMEOUT or FASTID_INTERNAL.
fastid_status pool_acquire(Conn* c, int64_t deadline_ns, bool allow_pooled);

// Gives a connection back: kept for reuse when healthy, else closed (only if
// it is still ours). Leaves c->fd == -1.
void pool_release(Conn* c, bool healthy);

// The identity whose fast cache maps libfastid trusts besides root's and the
// caller's own: the owner of socket_dir/cache-owner when the socket directory
// ($FASTID_SOCKET_DIR, default /run/fastid) is root's and writable by root
// alone (root gives the marker to the front workers' user at every start), else the
// directory's owner (a daemon a user runs for itself). 0 when unknown.
uid_t cache_publisher();

// Closes every idle connection and makes busy ones close on release. For
// tests, and for programs that change FASTID_SOCKET_DIR at run time.
void pool_flush();

// Copies the fds of the pooled (idle or busy) connections; returns how many. Tests only.
int pool_debug_fds(int* out, int max);

// True when fd is open and is the socket identified by dev/ino.
bool same_socket(int fd, dev_t dev, ino_t ino);

// CLOCK_MONOTONIC in nanoseconds.
int64_t now_ns();

// Milliseconds left until deadline_ns, rounded up, for poll(); 0 once it passed.
int poll_ms(int64_t deadline_ns);

}  // namespace fastid::client
