// FastCacheReader: answers passwd, group and initgroups lookups from the maps
// fastidd publishes, without a lock or a system call on a hit (client side).
// Promises: libc only (no allocation, exceptions or libstdc++ runtime); every
// byte read from a map is an atomic word load, checked for consistency (the
// ring's tail, see docs/fastcache.md) and bounds before it is trusted; a torn,
// stale, expired, invalidated, truncated or corrupt map is a kMiss, never a
// crash. Thread-safe: any number of threads may look up at once; a mapping
// another thread may still read is never unmapped. Fork-safe: the child inherits
// valid mappings. Constant-initialisable, so a global needs no constructor guard.
#pragma once

#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <atomic>

#include "fastcache/layout.h"

namespace fastid::fastcache {

enum class LookupResult : int {
  kHit = 0,          // *pw / *gr / gids filled in
  kNegativeHit = 1,  // the daemon published "no such entry": answer NOTFOUND
  kMiss = 2,         // not in the map (or not trustworthy now): ask the daemon
  kErange = 3,       // found, but the caller's buffer is too small
};

class FastCacheReader {
 public:
  constexpr FastCacheReader() = default;
  FastCacheReader(const FastCacheReader&) = delete;
  FastCacheReader& operator=(const FastCacheReader&) = delete;
  // Trivial destructor on purpose: a global reader registers no exit handler.
  // A reader that goes out of scope leaks its mappings unless reset() was called.

  // Directory of the map files (copied; at most PATH_MAX - 32 bytes, else the
  // maps stay absent). Until it is set every lookup is a kMiss. Changing it
  // retires the current mappings; safe while other threads look up.
  // Only map files owned by root, by this process's effective uid or by
  // `trusted_owner` (libfastid passes the socket directory's owner: the
  // daemon's identity) are used, and never through a symbolic link: a map
  // anybody else could have written is absent, and the socket answers.
  void set_directory(const char* dir, uid_t trusted_owner = 0);

  // Lookups. On kHit every pointer in *pw / *gr points into buf (gr_mem aligned
  // for char* inside buf), exactly as fastid_getpwnam & co fill them; the same
  // buffer sizes work. On anything else *pw / *gr / buf hold nothing meaningful.
  LookupResult passwd_by_name(const char* name, struct passwd* pw, char* buf, size_t buflen);
  LookupResult passwd_by_uid(uid_t uid, struct passwd* pw, char* buf, size_t buflen);
  LookupResult group_by_name(const char* name, struct group* gr, char* buf, size_t buflen);
  LookupResult group_by_gid(gid_t gid, struct group* gr, char* buf, size_t buflen);

  // The gids published for `user`. in: *ngids = capacity of gids (may be NULL
  // when 0); out on kHit/kErange: *ngids = the number of gids; kErange when that
  // exceeded the capacity (the first `capacity` gids were still written).
  LookupResult initgroups(const char* user, gid_t* gids, size_t* ngids);

  // Unmaps everything. Only when no other thread is inside this reader (tests,
  // or a program about to unload the library).
  void reset();

  // Copies that a reader detected as torn (the writer overwrote the record
  // during the copy) and discarded; each was retried or became a kMiss.
  uint64_t torn_copies() const { return torn_copies_.load(std::memory_order_relaxed); }
  // Times a map file was (re)mapped.
  uint64_t remaps() const { return remaps_.load(std::memory_order_relaxed); }

  // Implementation types, public only so that reader.cc's helpers can name them.
  static constexpr int kStripes = 16;        // reader counters per mapping (by CPU)
  static constexpr int kSlotsPerMap = 8;     // current + retired mappings kept at once
  struct alignas(64) Stripe {
    std::atomic<int64_t> readers{0};
  };
  struct Mapping {
    Stripe active[kStripes];       // lookups in progress, spread over cache lines
    // Written by the slow path before the mapping is published, then immutable.
    const unsigned char* base = nullptr;
    uint64_t length = 0;
    uint64_t dev = 0, ino = 0;
    MapParams params;
    enum State : uint8_t { kFree = 0, kCurrent, kRetired } state = kFree;  // slow lock
  };
  struct MapState {
    std::atomic<Mapping*> current{nullptr};
    std::atomic<uint64_t> next_check_ns{0};  // rate limit of the slow path (CLOCK_MONOTONIC_COARSE)
    Mapping slots[kSlotsPerMap];
  };
  enum class Probe : int { kHit, kNegativeHit, kMiss, kErange, kRetry };

 private:
  struct Key;
  struct Sink;
  static int map_index(MapKind k) { return static_cast<int>(k) - 1; }  // into maps_
  LookupResult lookup(MapKind kind, const Key& key, Sink* sink);
  // A lookup by name ("no such entry" for a null, empty or over-long name)
  // or by id, into `sink`: what every public lookup shares.
  LookupResult lookup_name(MapKind kind, const char* name, Sink* sink);
  LookupResult lookup_id(MapKind kind, uint32_t id, Sink* sink);
  Probe probe(const Mapping& m, const Key& key, Sink* sink, uint64_t now);
  Mapping* acquire(MapState& ms, int* stripe);
  // Slow path: (re)maps the file when allowed by the rate limit. `seen` is the
  // mapping the caller found current (nullptr: none); if another thread has
  // replaced it meanwhile, nothing is done. True when a retry may now hit.
  bool refresh(MapKind kind, const Mapping* seen, bool superseded);
  bool slow_lock();
  void slow_unlock();
  void retire_locked(MapState& ms);
  void reclaim_locked(MapState& ms);

  MapState maps_[3];
  std::atomic<int> slow_owner_{0};  // pid holding the slow-path lock, 0 = free
  std::atomic<uint64_t> torn_copies_{0};
  std::atomic<uint64_t> remaps_{0};
  char dir_[4096] = {};             // under the slow lock
  uid_t trusted_owner_ = 0;         // under the slow lock
};

}  // namespace fastid::fastcache
