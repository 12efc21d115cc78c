// FastCacheReader's slow path (reader.h), libc only: the map files found,
// opened and trusted (owner, mode, header), mapped, and replaced when
// superseded or stale, at a rate limit; retired mappings unmapped once no
// lookup holds them. Lookups (reader.cc) call refresh() when they find no
// usable mapping.
#include "fastcache/reader.h"

#include "fastcache/record_format.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace fastid::fastcache {

using Mapping = FastCacheReader::Mapping;
using MapState = FastCacheReader::MapState;

namespace {

// How soon the slow path may look at the file again after it found nothing new.
constexpr uint64_t kRecheckAbsentNs = 1000000000ull;    // no file, stale heartbeat
constexpr uint64_t kRecheckSupersededNs = 50000000ull;  // replaced, new one not there yet

// The slow path's rate limit is a duration kept in this process's memory, so
// it is read on the monotonic clock (vDSO, no system call): on the wall clock,
// a process that found no map just before the clock was set back a day would
// not look for one again for a day (clock_jump_system_test). The times in the
// map itself (heartbeat, expiry) stay on the realtime clock: see layout.h.
uint64_t monotonic_coarse_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

bool FastCacheReader::slow_lock() {
  int me = static_cast<int>(getpid());
  int cur = 0;
  if (slow_owner_.compare_exchange_strong(cur, me, std::memory_order_acquire)) return true;
  // Held by the process we were forked from: its thread does not exist here.
  if (cur != me && slow_owner_.compare_exchange_strong(cur, me, std::memory_order_acquire)) return true;
  return false;  // another thread of ours is at it: do not wait, miss
}

void FastCacheReader::slow_unlock() { slow_owner_.store(0, std::memory_order_release); }

void FastCacheReader::retire_locked(MapState& ms) {
  Mapping* old = ms.current.exchange(nullptr, std::memory_order_seq_cst);
  if (old != nullptr) old->state = Mapping::kRetired;
}

void FastCacheReader::reclaim_locked(MapState& ms) {
  for (Mapping& m : ms.slots) {
    if (m.state != Mapping::kRetired) continue;
    int64_t sum = 0;
    for (const Stripe& s : m.active) sum += s.readers.load(std::memory_order_seq_cst);
    if (sum != 0) continue;  // a lookup may still be reading it
    if (m.base != nullptr) munmap(const_cast<unsigned char*>(m.base), m.length);
    m.base = nullptr;
    m.length = 0;
    m.state = Mapping::kFree;
  }
}

bool FastCacheReader::refresh(MapKind kind, const Mapping* seen, bool superseded) {
  MapState& ms = maps_[map_index(kind)];
  uint64_t now = monotonic_coarse_ns();
  if (now < ms.next_check_ns.load(std::memory_order_relaxed) &&
      ms.current.load(std::memory_order_acquire) == seen)
    return false;
  if (!slow_lock()) return false;
  Mapping* cur = ms.current.load(std::memory_order_relaxed);
  if (cur != seen) {  // another thread got here first: use what it mapped
    slow_unlock();
    return cur != nullptr;
  }
  if (now < ms.next_check_ns.load(std::memory_order_relaxed)) {
    slow_unlock();
    return false;
  }
  reclaim_locked(ms);
  bool changed = false;
  char path[sizeof dir_ + 32];
  size_t dl = strnlen(dir_, sizeof dir_);
  const char* name = map_file_name(kind);
  size_t nl = strlen(name);
  int fd = -1;
  if (dl > 0 && dl + 1 + nl + 1 <= sizeof path) {
    memcpy(path, dir_, dl);
    path[dl] = '/';
    memcpy(path + dl + 1, name, nl + 1);
    // O_NONBLOCK: a FIFO planted at the path must not hang the caller.
    // O_NOFOLLOW: a link is not a map (its target could be anybody's file).
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
  }
  if (fd >= 0 && fd < 3) {  // never hold 0-2, even briefly
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    fd = nfd;
  }
  struct stat st;
  // The file we opened (fstat, not the path) must be owned by someone whose
  // answers we would take anyway, and writable by nobody else.
  if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 022) == 0 &&
      (st.st_uid == 0 || st.st_uid == trusted_owner_ || st.st_uid == geteuid()) &&
      static_cast<uint64_t>(st.st_size) >= kHeaderSize && static_cast<uint64_t>(st.st_size) <= kMaxFileSize) {
    uint64_t dev = st.st_dev, ino = st.st_ino;
    bool same = cur != nullptr && cur->dev == dev && cur->ino == ino;
    Mapping* slot = nullptr;
    for (Mapping& m : ms.slots) {
      if (m.state == Mapping::kFree) {
        slot = &m;
        break;
      }
    }
    if (!same && slot != nullptr) {
      uint64_t size = static_cast<uint64_t>(st.st_size);
      void* p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) {
        const unsigned char* base = static_cast<const unsigned char*>(p);
        MapParams params;
        if (parse_header(base, size, kind, &params) && load_acquire(base, kOffState) == 0) {
          slot->base = base;
          slot->length = size;
          slot->dev = dev;
          slot->ino = ino;
          slot->params = params;
          slot->state = Mapping::kCurrent;
          Mapping* old = ms.current.exchange(slot, std::memory_order_seq_cst);
          if (old != nullptr) old->state = Mapping::kRetired;
          changed = true;
          remaps_.fetch_add(1, std::memory_order_relaxed);
        } else {
          munmap(p, size);
        }
      }
    }
  }
  if (fd >= 0) close(fd);
  if (!changed && superseded) retire_locked(ms);  // stop answering from it at all
  reclaim_locked(ms);
  ms.next_check_ns.store(changed ? 0 : now + (superseded ? kRecheckSupersededNs : kRecheckAbsentNs),
                         std::memory_order_relaxed);
  slow_unlock();
  return changed;
}

void FastCacheReader::set_directory(const char* dir, uid_t trusted_owner) {
  while (!slow_lock()) sched_yield();
  trusted_owner_ = trusted_owner;
  size_t n = dir == nullptr ? 0 : strnlen(dir, sizeof dir_);
  if (n >= sizeof dir_ - 32) n = 0;  // too long: no maps
  if (n) memcpy(dir_, dir, n);
  dir_[n] = '\0';
  for (MapState& ms : maps_) {
    retire_locked(ms);
    reclaim_locked(ms);
    ms.next_check_ns.store(0, std::memory_order_relaxed);
  }
  slow_unlock();
}

void FastCacheReader::reset() {
  while (!slow_lock()) sched_yield();
  for (MapState& ms : maps_) {
    ms.current.store(nullptr, std::memory_order_seq_cst);
    for (Mapping& m : ms.slots) {
      if (m.base != nullptr) munmap(const_cast<unsigned char*>(m.base), m.length);
      m.base = nullptr;
      m.length = 0;
      m.state = Mapping::kFree;
    }
    ms.next_check_ns.store(0, std::memory_order_relaxed);
  }
  slow_unlock();
}

}  // namespace fastid::fastcache
