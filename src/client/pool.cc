#include "client/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client/last_message.h"
#include "fastcache/layout.h"

namespace fastid::client {
namespace {

// Connections tracked at once (busy or idle); past that a thread uses a
// one-shot connection. Idle ones are kept only up to kMaxIdle: a process keeps
// a few connections at rest, yet 64 threads at full speed do not reconnect for
// every request.
constexpr int kSlots = 64;
constexpr int kMaxIdle = 8;
constexpr const char* kDefaultSocketDir = "/run/fastid";
constexpr const char* kSocketName = "/nss";

enum SlotState : uint8_t { kEmpty = 0, kIdle, kBusy };

struct Slot {
  int fd;
  SlotState state;
  dev_t dev;
  ino_t ino;
};

// All pool state. Slots and g_gen are guarded by g_mu; the mutex is held for a
// few instructions only, never across a system call.
pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
Slot g_slots[kSlots];
uint32_t g_gen;

// Fork detection. g_owner: the pid that claimed the pool; g_ready: the pid for
// which the pool is ready to use. A child sees g_ready != getpid(); its first
// thread to get here resets the inherited state while the others wait.
pid_t g_owner;
pid_t g_ready;

void ensure_process() {
  pid_t me = getpid();
  if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) == me) return;
  pid_t owner = __atomic_load_n(&g_owner, __ATOMIC_ACQUIRE);
  if (owner != me &&
      __atomic_compare_exchange_n(&g_owner, &owner, me, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    if (owner != 0) {
      // Inherited from the parent: no other thread of this process has passed
      // the gate yet, and the parent's threads do not exist here. A parent
      // thread may have held g_mu at fork(), so it is re-initialised, not taken.
      for (Slot& s : g_slots) {
        if (s.state != kEmpty && same_socket(s.fd, s.dev, s.ino)) close(s.fd);
        s = Slot{-1, kEmpty, 0, 0};
      }
      pthread_mutex_init(&g_mu, nullptr);
      ++g_gen;
    }
    __atomic_store_n(&g_ready, me, __ATOMIC_RELEASE);
    return;
  }
  while (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) != me) sched_yield();
}

struct Lock {
  Lock() { pthread_mutex_lock(&g_mu); }
  ~Lock() { pthread_mutex_unlock(&g_mu); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
};

const char* socket_dir() {
  const char* dir = secure_getenv("FASTID_SOCKET_DIR");
  return dir == nullptr || dir[0] == '\0' ? kDefaultSocketDir : dir;
}

// Builds $FASTID_SOCKET_DIR/nss. False if it does not fit in sun_path.
bool socket_address(sockaddr_un* sa) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  const char* dir = socket_dir();
  size_t dl = strlen(dir);
  size_t nl = strlen(kSocketName);
  if (dl + nl + 1 > sizeof sa->sun_path) {
    set_message("socket directory too long: %.64s...", dir);
    return false;
  }
  memcpy(sa->sun_path, dir, dl);
  memcpy(sa->sun_path + dl, kSocketName, nl + 1);
  return true;
}

// Whether the daemon behind a connected socket is one we may believe. The
// process that listens on it (SO_PEERCRED: the credentials it had at
// listen()) must be root or this process's own effective uid; the socket file
// must belong to that uid; its directory to root or that uid. Anyone can make
// a socket answer "uid 0" for every name, and FASTID_SOCKET_DIR may point at
// a directory another user controls: such a socket is refused, whatever it
// would say. The caller's own uid is believed because a daemon running as the
// caller could do nothing the caller cannot (tests, a user's private daemon).
bool daemon_trusted(int fd, const sockaddr_un& sa) {
  ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
    set_message("refusing %s: the daemon's credentials cannot be read: %s", sa.sun_path, strerror(errno));
    return false;
  }
  if (cred.uid != 0 && cred.uid != geteuid()) {
    set_message("refusing %s: the daemon runs as uid %u, neither root nor this process's user", sa.sun_path,
                static_cast<unsigned>(cred.uid));
    return false;
  }
  struct stat st;
  if (lstat(sa.sun_path, &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != cred.uid) {
    set_message("refusing %s: not a socket owned by the daemon's user (uid %u)", sa.sun_path,
                static_cast<unsigned>(cred.uid));
    return false;
  }
  char dir[sizeof sa.sun_path];
  memcpy(dir, sa.sun_path, sizeof dir);
  char* slash = strrchr(dir, '/');
  if (slash == nullptr) return false;  // socket_address() always builds DIR/nss
  if (slash == dir) slash[1] = '\0';
  else *slash = '\0';
  if (stat(dir, &st) != 0 || (st.st_uid != 0 && st.st_uid != cred.uid)) {
    set_message("refusing %s: its directory belongs to neither root nor the daemon's user", sa.sun_path);
    return false;
  }
  return true;
}

// Opens a non-blocking, close-on-exec socket numbered >= 3 and connects it.
fastid_status open_connection(Conn* c, int64_t deadline_ns) {
  sockaddr_un sa;
  if (!socket_address(&sa)) return FASTID_UNAVAILABLE;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    set_message("socket: %s", strerror(errno));
    return FASTID_INTERNAL;
  }
  if (fd < 3) {
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);  // O_NONBLOCK is shared by the duplicate
    int err = errno;
    close(fd);
    if (nfd < 0) {
      set_message("fcntl(F_DUPFD_CLOEXEC): %s", strerror(err));
      return FASTID_INTERNAL;
    }
    fd = nfd;
  }
  int delay_ms = 1;
  for (;;) {
    if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0) break;
    int err = errno;
    if (err == EAGAIN) {
      // Linux: the listener's backlog is full. Back off briefly, bounded by the deadline.
      int wait = poll_ms(deadline_ns);
      if (wait == 0) {
        close(fd);
        set_message("connect %s: listen queue full until the timeout", sa.sun_path);
        return FASTID_BUSY;
      }
      poll(nullptr, 0, wait < delay_ms ? wait : delay_ms);
      if (delay_ms < 64) delay_ms *= 2;
      continue;
    }
    if (err == EINPROGRESS || err == EINTR) {
      pollfd p{fd, POLLOUT, 0};
      int r;
      do {
        r = poll(&p, 1, poll_ms(deadline_ns));
      } while (r < 0 && errno == EINTR);
      if (r == 0) {
        close(fd);
        set_message("connect %s: timed out", sa.sun_path);
        return FASTID_TIMEOUT;
      }
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
      if (soerr == 0) break;
      err = soerr;
    }
    if (err == EISCONN) break;
    close(fd);
    set_message("cannot connect to %s: %s", sa.sun_path, strerror(err));
    return FASTID_UNAVAILABLE;  // ENOENT, ECONNREFUSED, EACCES, ...: no daemon for us
  }
  if (!daemon_trusted(fd, sa)) {
    close(fd);
    return FASTID_UNAVAILABLE;  // as if there were no daemon: the next NSS source answers
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    set_message("fstat: %s", strerror(err));
    return FASTID_INTERNAL;
  }
  c->fd = fd;
  c->dev = st.st_dev;
  c->ino = st.st_ino;
  return FASTID_OK;
}

}  // namespace

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int poll_ms(int64_t deadline_ns) {
  int64_t left = deadline_ns - now_ns();
  if (left <= 0) return 0;
  int64_t ms = (left + 999999) / 1000000;  // round up: never spin with 0 before the deadline
  return ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms);
}

uid_t cache_publisher() {
  const char* dir = socket_dir();
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
  // A daemon of one user's own, in that user's directory: it is that user's.
  if (st.st_uid != 0) return st.st_uid;
  // Root's directory: the marker's owner is whom root gave it to, unless
  // someone else could have put the marker there.
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) return 0;
  char path[PATH_MAX];
  const int n = snprintf(path, sizeof path, "%s/%s", dir, fastid::fastcache::kCacheOwnerMarker);
  if (n < 0 || static_cast<size_t>(n) >= sizeof path) return 0;
  struct stat marker;
  if (lstat(path, &marker) != 0 || !S_ISREG(marker.st_mode)) return 0;
  return marker.st_uid;
}

bool same_socket(int fd, dev_t dev, ino_t ino) {
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  return S_ISSOCK(st.st_mode) && st.st_dev == dev && st.st_ino == ino;
}

fastid_status pool_acquire(Conn* c, int64_t deadline_ns, bool allow_pooled) {
  ensure_process();
  *c = Conn{};
  while (allow_pooled) {
    int slot = -1;
    Slot s{};
    uint32_t gen;
    {
      Lock lock;
      gen = g_gen;
      for (int i = 0; i < kSlots; ++i) {
        if (g_slots[i].state == kIdle) {
          slot = i;
          g_slots[i].state = kBusy;
          s = g_slots[i];
          break;
        }
      }
    }
    if (slot < 0) break;
    if (same_socket(s.fd, s.dev, s.ino)) {
      c->fd = s.fd;
      c->slot = slot;
      c->gen = gen;
      c->dev = s.dev;
      c->ino = s.ino;
      c->reused = true;
      return FASTID_OK;
    }
    // The application closed our fd (and maybe reused the number): forget it
    // without touching the descriptor, and look for another.
    Lock lock;
    if (g_gen == gen) g_slots[slot] = Slot{-1, kEmpty, 0, 0};
  }

  // A new connection, in a reserved slot when one is free, else untracked.
  int slot = -1;
  uint32_t gen;
  {
    Lock lock;
    gen = g_gen;
    for (int i = 0; i < kSlots; ++i) {
      if (g_slots[i].state == kEmpty) {
        slot = i;
        g_slots[i] = Slot{-1, kBusy, 0, 0};
        break;
      }
    }
  }
  fastid_status st = open_connection(c, deadline_ns);
  Lock lock;
  if (st != FASTID_OK) {
    if (slot >= 0 && g_gen == gen) g_slots[slot] = Slot{-1, kEmpty, 0, 0};
    return st;
  }
  if (slot >= 0 && g_gen == gen) {
    g_slots[slot] = Slot{c->fd, kBusy, c->dev, c->ino};
    c->slot = slot;
    c->gen = gen;
  }
  return FASTID_OK;
}

void pool_release(Conn* c, bool healthy) {
  if (c->fd < 0) return;
  bool keep = false;
  {
    Lock lock;
    bool tracked = c->slot >= 0 && c->gen == g_gen;
    if (tracked && healthy) {
      int idle = 0;
      for (const Slot& s : g_slots) idle += s.state == kIdle;
      keep = idle < kMaxIdle;
    }
    if (keep) {
      g_slots[c->slot].state = kIdle;
    } else if (tracked) {
      g_slots[c->slot] = Slot{-1, kEmpty, 0, 0};
    }
  }
  if (!keep && same_socket(c->fd, c->dev, c->ino)) close(c->fd);
  c->fd = -1;
  c->slot = -1;
}

void pool_flush() {
  ensure_process();
  Slot idle[kSlots];
  int n = 0;
  {
    Lock lock;
    ++g_gen;
    for (Slot& s : g_slots) {
      if (s.state == kIdle) idle[n++] = s;
      s = Slot{-1, kEmpty, 0, 0};  // busy ones are closed by their owner on release
    }
  }
  for (int i = 0; i < n; ++i) {
    if (same_socket(idle[i].fd, idle[i].dev, idle[i].ino)) close(idle[i].fd);
  }
}

int pool_debug_fds(int* out, int max) {
  ensure_process();
  Lock lock;
  int n = 0;
  for (const Slot& s : g_slots) {
    if (s.state != kEmpty && s.fd >= 0 && n < max) out[n++] = s.fd;
  }
  return n;
}

}  // namespace fastid::client
