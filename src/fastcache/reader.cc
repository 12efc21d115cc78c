// FastCacheReader (reader.h): the client side of the fast cache, libc only:
// lookups that hold a mapping (acquire), copy a record out of it with atomic
// word loads and check it (record_format.h) before anything is used. Finding,
// mapping and trusting the map files is the slow path, in reader_maps.cc.
#include "fastcache/reader.h"

#include "fastcache/record_format.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

namespace fastid::fastcache {

using Mapping = FastCacheReader::Mapping;
using MapState = FastCacheReader::MapState;
using Probe = FastCacheReader::Probe;

// What a lookup asks for: a name in table 0 or an id in table 1.
struct FastCacheReader::Key {
  uint32_t table;
  const char* name;
  size_t name_len;
  uint32_t id;
};

// Where a found record goes: the caller's struct and buffer, or gid array.
struct FastCacheReader::Sink {
  enum Kind { kPasswd, kGroup, kGids } kind;
  struct passwd* pw = nullptr;
  struct group* gr = nullptr;
  char* buf = nullptr;
  size_t buflen = 0;
  gid_t* gids = nullptr;
  size_t cap = 0;
  size_t count_out = 0;

  static Sink passwd(struct passwd* pw, char* buf, size_t buflen) {
    return Sink{.kind = kPasswd, .pw = pw, .buf = buf, .buflen = buflen};
  }
  static Sink group(struct group* gr, char* buf, size_t buflen) {
    return Sink{.kind = kGroup, .gr = gr, .buf = buf, .buflen = buflen};
  }
};

namespace {

// A lookup that finds a torn copy starts again at most this many times; a
// writer that keeps overwriting the same spot makes a miss, not a livelock.
constexpr int kMaxAttempts = 4;

// The stripe of this lookup's reader counter: the CPU (rseq/vDSO in glibc, no
// system call), so that threads on different CPUs never share a cache line.
int stripe_index() {
  int cpu = sched_getcpu();
  return cpu < 0 ? 0 : cpu % FastCacheReader::kStripes;
}

// Copies n bytes from an 8-aligned shared address into private memory with
// relaxed 8-byte atomic loads. The last word may extend past n: callers only
// copy ranges whose word-rounded end lies inside the record (records are
// zero-padded to 8).
inline __attribute__((always_inline)) void copy_out(char* dst, const unsigned char* src, uint64_t n) {
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w = load_relaxed(src, i);
    memcpy(dst + i, &w, 8);
  }
  if (i < n) {
    uint64_t w = load_relaxed(src, i);
    memcpy(dst + i, &w, n - i);
  }
}

// Splits a private string area into exactly `n` NUL-terminated strings that
// end exactly at `len`: calls out(i, str) for each, false if the area is not
// that. One pass, a word at a time (the strings are short: a call to memchr
// per string costs more than the scan), never reading past len.
template <typename Out>
inline bool split_strings(char* area, uint64_t len, uint64_t n, Out out) {
  if (len == 0 || area[len - 1] != '\0') return false;
  constexpr uint64_t k7f = 0x7f7f7f7f7f7f7f7full;
  uint64_t found = 0;  // strings ended so far
  uint64_t start = 0;  // where the current string starts
  uint64_t i = 0;
  auto nul_at = [&](uint64_t pos) {
    if (found == n) return false;  // more strings than expected
    out(found++, area + start);
    start = pos + 1;
    return true;
  };
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy(&v, area + i, 8);
    // High bit set exactly in the bytes of v that are zero.
    uint64_t z = ~(((v & k7f) + k7f) | v | k7f);
    while (z != 0) {
      if (!nul_at(i + static_cast<uint64_t>(__builtin_ctzll(z)) / 8)) return false;
      z &= z - 1;
    }
  }
  for (; i < len; ++i) {
    if (area[i] == '\0' && !nul_at(i)) return false;
  }
  return found == n && start == len;
}

size_t align_pad(const char* buf) {
  constexpr size_t kAlign = alignof(char*);
  return (kAlign - reinterpret_cast<uintptr_t>(buf) % kAlign) % kAlign;
}

}  // namespace

// ---- Mapping handles ---------------------------------------------------------------

Mapping* FastCacheReader::acquire(MapState& ms, int* stripe) {
  for (int i = 0; i < 4; ++i) {
    Mapping* m = ms.current.load(std::memory_order_acquire);
    if (m == nullptr) return nullptr;
    int s = stripe_index();
    // Announce, then check the mapping is still current: with the retirer's
    // exchange-then-read of the counters (all seq_cst) one of us sees the other.
    m->active[s].readers.fetch_add(1, std::memory_order_seq_cst);
    if (ms.current.load(std::memory_order_seq_cst) == m) {
      *stripe = s;
      return m;
    }
    m->active[s].readers.fetch_sub(1, std::memory_order_release);
  }
  return nullptr;
}

// ---- Lookups ----------------------------------------------------------------------

LookupResult FastCacheReader::lookup(MapKind kind, const Key& key, Sink* sink) {
  MapState& ms = maps_[map_index(kind)];
  for (int round = 0; round < 2; ++round) {
    int stripe = 0;
    Mapping* m = acquire(ms, &stripe);
    if (m == nullptr) {
      if (round == 0 && refresh(kind, nullptr, false)) continue;
      return LookupResult::kMiss;
    }
    const unsigned char* base = m->base;
    if (load_acquire(base, kOffState) != 0) {  // replaced: map the new file
      m->active[stripe].readers.fetch_sub(1, std::memory_order_release);
      if (round == 0 && refresh(kind, m, true)) continue;
      return LookupResult::kMiss;
    }
    uint64_t now = realtime_coarse_ns();
    uint64_t hb = load_relaxed(base, kOffHeartbeatNs);
    uint64_t age = now > hb ? now - hb : hb - now;
    if (age > m->params.stale_after_ns) {
      // The daemon is gone (or replaced the file without marking it, e.g. the
      // directory was wiped): a rate-limited look at the path, then miss.
      m->active[stripe].readers.fetch_sub(1, std::memory_order_release);
      if (round == 0 && refresh(kind, m, false)) continue;
      return LookupResult::kMiss;
    }
    Probe r = Probe::kRetry;
    for (int attempt = 0; attempt < kMaxAttempts && r == Probe::kRetry; ++attempt) {
      r = probe(*m, key, sink, now);
    }
    m->active[stripe].readers.fetch_sub(1, std::memory_order_release);
    switch (r) {
      case Probe::kHit:
        return LookupResult::kHit;
      case Probe::kNegativeHit:
        return LookupResult::kNegativeHit;
      case Probe::kErange:
        return LookupResult::kErange;
      case Probe::kMiss:
      case Probe::kRetry:
        return LookupResult::kMiss;
    }
  }
  return LookupResult::kMiss;
}

// One pass over the key's probe window. Every candidate is copied out, then
// checked against the ring's tail after an acquire fence: if the writer moved
// the tail past the record, some word of the copy may come from the record
// that overwrote it, and the whole lookup starts again (kRetry).
Probe FastCacheReader::probe(const Mapping& m, const Key& key, Sink* sink, uint64_t now) {
  const MapParams& p = m.params;
  const unsigned char* base = m.base;
  const unsigned char* data = base + p.data_offset;
  uint64_t hash = key.table == kTableByName ? hash_name(key.name, key.name_len, p.seed) : hash_id(key.id, p.seed);
  uint16_t tag = hash_tag(hash);
  uint64_t mask = p.index_entries - 1;
  uint64_t table = p.index_offset + uint64_t{key.table} * p.index_entries * 8;
  uint8_t want_type = record_type(p.kind);
  char keybuf[pad8(kMaxNameLength + 1)];

  for (uint32_t n = 0; n < p.probe_limit; ++n) {
    // Acquire: the record an entry points to was complete before the entry was stored.
    uint64_t e = load_acquire(base, table + ((hash + n) & mask) * 8);
    if (e == 0) return Probe::kMiss;  // never used: the key is not further on
    if (entry_tag(e) != tag) continue;
    uint64_t pos = entry_pos(e);
    if (pos < load_relaxed(base, kOffTail)) continue;  // evicted: a tombstone
    uint64_t off = pos & kOffsetMask;
    if (off > p.data_size - kRecordHeaderSize) return Probe::kMiss;  // corrupt entry
    const unsigned char* rec = data + off;

    // Copy phase: nothing below is trusted until the tail check passes.
    const RecordHeader h = read_record_header(rec);
    bool negative = record_negative(h);
    bool dead = h.type == kRecDead;  // scrubbed by the writer: skip it
    uint64_t extra = sink->kind == Sink::kGids && !negative ? pad8(h.count * 4) : 0;
    bool bad = (h.type != want_type && !dead) || !record_header_ok(h, p, off, extra);
    bool match = false;
    bool fits = false;
    char* area = nullptr;  // private copy of the string area, when copied
    if (!bad && !dead) {
      const unsigned char* str = rec + kRecordHeaderSize;
      if (key.table == kTableById) {
        match = record_has_id(h, key.id);
      } else if ((h.flags & kFlagNegativeByName) != 0) {
        match = record_has_digest(h, str, name_digest(key.name, key.name_len, p.name_salt));
      } else {
        match = record_may_have_name(h, key.name_len);
      }
      if (match && !negative && sink->kind != Sink::kGids) {
        size_t need = 0;
        char* dst = nullptr;
        if (sink->kind == Sink::kPasswd) {
          need = h.strings;
          dst = sink->buf;
        } else if (sink->buf != nullptr) {
          size_t pad = align_pad(sink->buf);
          need = pad + (h.count + 1) * sizeof(char*) + h.strings;
          dst = sink->buf + pad + (h.count + 1) * sizeof(char*);
        }
        fits = sink->buf != nullptr && need <= sink->buflen;
        if (fits) {
          copy_out(dst, str, h.strings);
          area = dst;
        }
      }
      if (match && key.table == kTableByName && !negative) {
        const char* name_copy = area;
        if (name_copy == nullptr) {
          copy_out(keybuf, str, h.name_len + 1);
          name_copy = keybuf;
        }
        match = memcmp(name_copy, key.name, h.name_len) == 0 && name_copy[h.name_len] == '\0';
      }
      if (match && !negative && sink->kind == Sink::kGids) {
        const unsigned char* g = rec + record_gids_offset(h.strings);
        uint64_t k = h.count < sink->cap ? h.count : sink->cap;
        for (uint64_t i = 0; i < k; i += 2) {
          uint64_t w = load_relaxed(g, i * 2 * 2);  // gids i and i+1
          sink->gids[i] = lo32(w);
          if (i + 1 < k) sink->gids[i + 1] = hi32(w);
        }
        fits = h.count <= sink->cap;
      }
    }

    // Check phase. Fence: every load above is ordered before the loads below.
    // A load that saw a word the writer stored after moving the tail makes the
    // tail load see the moved tail; one that saw a word zeroed by a scrub
    // makes the reload of the first word see the scrub's mark. The second
    // fence orders that reload before the tail load, so a first word rewritten
    // by a later lap is caught by the tail too (docs/fastcache.md).
    fence_acquire();
    uint64_t w0_again = load_relaxed(rec, 0);
    fence_acquire();
    uint64_t tail = load_relaxed(base, kOffTail);
    uint64_t state = load_relaxed(base, kOffState);
    if (tail > pos || w0_again != h.w0) {
      torn_copies_.fetch_add(1, std::memory_order_relaxed);
      return Probe::kRetry;
    }
    if (state != 0) return Probe::kMiss;  // invalidated while we copied
    if (bad) return Probe::kMiss;         // consistent, yet not a valid record: corrupt
    if (dead || !match) continue;

    if (now >= h.expires || h.expires - now > p.max_ttl_ns) return Probe::kMiss;
    if (negative) return Probe::kNegativeHit;
    if (sink->kind == Sink::kGids) {
      sink->count_out = h.count;
      return fits ? Probe::kHit : Probe::kErange;
    }
    if (!fits) return Probe::kErange;

    // The copy is consistent; now its structure (validated in private memory only).
    if (sink->kind == Sink::kPasswd) {
      // The lengths in the header place the five strings; each must end with
      // the NUL where they say, the last one at the end of the area. (A NUL
      // inside a field would only shorten it: still in bounds.)
      uint64_t o1 = h.name_len + 1, o2 = o1 + h.len1 + 1, o3 = o2 + h.len2 + 1, o4 = o3 + h.len3 + 1;
      if (o4 >= h.strings || area[h.name_len] != '\0' || area[o2 - 1] != '\0' || area[o3 - 1] != '\0' ||
          area[o4 - 1] != '\0' || area[h.strings - 1] != '\0')
        return Probe::kMiss;
      struct passwd* pw = sink->pw;
      pw->pw_name = area;
      pw->pw_passwd = area + o1;
      pw->pw_gecos = area + o2;
      pw->pw_dir = area + o3;
      pw->pw_shell = area + o4;
      pw->pw_uid = h.id;
      pw->pw_gid = h.gid;
      return Probe::kHit;
    }
    char** mem = reinterpret_cast<char**>(area) - (h.count + 1);
    struct group* gr = sink->gr;
    if (!split_strings(area, h.strings, h.count + 2, [&](uint64_t i, char* s) {
          if (i == 0) {
            gr->gr_name = s;
          } else if (i == 1) {
            gr->gr_passwd = s;
          } else {
            mem[i - 2] = s;
          }
        }))
      return Probe::kMiss;
    if (gr->gr_passwd != gr->gr_name + h.name_len + 1) return Probe::kMiss;
    mem[h.count] = nullptr;
    gr->gr_mem = mem;
    gr->gr_gid = h.id;
    return Probe::kHit;
  }
  return Probe::kMiss;
}

LookupResult FastCacheReader::lookup_name(MapKind kind, const char* name, Sink* sink) {
  if (name == nullptr) return LookupResult::kMiss;
  size_t n = strnlen(name, kMaxNameLength + 1);
  if (n == 0 || n > kMaxNameLength) return LookupResult::kMiss;
  Key key{kTableByName, name, n, 0};
  return lookup(kind, key, sink);
}

LookupResult FastCacheReader::lookup_id(MapKind kind, uint32_t id, Sink* sink) {
  Key key{kTableById, nullptr, 0, id};
  return lookup(kind, key, sink);
}

LookupResult FastCacheReader::passwd_by_name(const char* name, struct passwd* pw, char* buf, size_t buflen) {
  if (pw == nullptr) return LookupResult::kMiss;
  Sink sink = Sink::passwd(pw, buf, buflen);
  return lookup_name(MapKind::kPasswd, name, &sink);
}

LookupResult FastCacheReader::passwd_by_uid(uid_t uid, struct passwd* pw, char* buf, size_t buflen) {
  if (pw == nullptr) return LookupResult::kMiss;
  Sink sink = Sink::passwd(pw, buf, buflen);
  return lookup_id(MapKind::kPasswd, static_cast<uint32_t>(uid), &sink);
}

LookupResult FastCacheReader::group_by_name(const char* name, struct group* gr, char* buf, size_t buflen) {
  if (gr == nullptr) return LookupResult::kMiss;
  Sink sink = Sink::group(gr, buf, buflen);
  return lookup_name(MapKind::kGroup, name, &sink);
}

LookupResult FastCacheReader::group_by_gid(gid_t gid, struct group* gr, char* buf, size_t buflen) {
  if (gr == nullptr) return LookupResult::kMiss;
  Sink sink = Sink::group(gr, buf, buflen);
  return lookup_id(MapKind::kGroup, static_cast<uint32_t>(gid), &sink);
}

LookupResult FastCacheReader::initgroups(const char* user, gid_t* gids, size_t* ngids) {
  if (ngids == nullptr) return LookupResult::kMiss;
  static_assert(sizeof(gid_t) == sizeof(uint32_t));
  Sink sink{Sink::kGids};
  sink.gids = gids;
  sink.cap = gids == nullptr ? 0 : *ngids;
  LookupResult r = lookup_name(MapKind::kInitgroups, user, &sink);
  if (r == LookupResult::kHit || r == LookupResult::kErange) *ngids = sink.count_out;
  return r;
}

}  // namespace fastid::fastcache
