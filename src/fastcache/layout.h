// The fast cache file format shared by the writer (fastidd) and the reader
// (libfastid): byte offsets, index entries, hashing, and the atomic word
// accessors that are the only way either side touches a mapping; the records
// themselves are record_format.h.
// Header-only and libc-only (no allocation, no exceptions, no libstdc++ runtime);
// docs/fastcache.md is the prose version of this file: keep them in step.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define XXH_INLINE_ALL  // the hash is compiled in: the client links nothing new
#include <xxhash.h>

#include "default_paths.h"

namespace fastid::fastcache {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the map format is native little-endian; a foreign file fails the magic check");

// ---- Maps ---------------------------------------------------------------------

enum class MapKind : uint32_t { kPasswd = 1, kGroup = 2, kInitgroups = 3 };

// File name of a map inside the cache directory.
inline const char* map_file_name(MapKind k) {
  switch (k) {
    case MapKind::kPasswd:
      return "passwd";
    case MapKind::kGroup:
      return "group";
    case MapKind::kInitgroups:
      return "initgroups";
  }
  return "invalid";
}

// Index tables per map: table 0 is by name; passwd and group also have table 1, by id.
inline uint32_t map_tables(MapKind k) { return k == MapKind::kInitgroups ? 1 : 2; }
inline constexpr uint32_t kTableByName = 0;
inline constexpr uint32_t kTableById = 1;

inline constexpr const char* kDefaultCacheDir = FASTID_CACHE_DIR_DEFAULT;  // default_paths.h
// An empty file in the socket directory that root creates at every start and
// gives to the user the front workers publish as: clients trust maps owned by its
// owner (besides root and themselves) when the socket directory is root's
// and nobody else may write to it. With no [daemon] user it is root's.
inline constexpr const char* kCacheOwnerMarker = "cache-owner";

// ---- File header (4096 bytes; only the first 256 are used) ----------------------
//
// Line 0 (bytes 0..127): written once, before the file is renamed into place.
// Line 1 (128..191): what readers watch on every lookup; rarely written.
// Line 2 (192..255): the writers' shared bookkeeping, under the writer lock.
// Readers copy line 0 into private memory when they map the file and validate
// it once; they never trust it from the shared page again.
inline constexpr uint64_t kMagic = 0x434d444954534146ull;  // "FASTIDMC"
// 2: negative by-name records hold a salted digest of the name, not the name;
//    kRecDead (scrubbed records); tombstone index entries; kOffNameSalt.
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint64_t kHeaderSize = 4096;

inline constexpr uint64_t kOffMagic = 0;          // u64 kMagic
inline constexpr uint64_t kOffVersion = 8;        // u32 kFormatVersion
inline constexpr uint64_t kOffKind = 12;          // u32 MapKind
inline constexpr uint64_t kOffFileSize = 16;      // u64 bytes of the whole file
inline constexpr uint64_t kOffGeneration = 24;    // u64 1, 2, ...: +1 per replacement
inline constexpr uint64_t kOffSeed = 32;          // u64 XXH3 seed, random per file
inline constexpr uint64_t kOffIndexOffset = 40;   // u64 where the index tables start
inline constexpr uint64_t kOffIndexEntries = 48;  // u32 entries per table, power of two
inline constexpr uint64_t kOffIndexTables = 52;   // u32 1 or 2 (map_tables)
inline constexpr uint64_t kOffDataOffset = 56;    // u64 where the record ring starts
inline constexpr uint64_t kOffDataSize = 64;      // u64 ring bytes, multiple of 8, < 2^32
inline constexpr uint64_t kOffProbeLimit = 72;    // u32 index entries looked at per lookup
inline constexpr uint64_t kOffMaxRecord = 76;     // u32 largest record, bytes
inline constexpr uint64_t kOffMaxTtlNs = 80;      // u64 no record expires later than now + this
inline constexpr uint64_t kOffStaleAfterNs = 88;  // u64 heartbeat older than this: map absent
inline constexpr uint64_t kOffCreatedNs = 96;     // u64 CLOCK_REALTIME at creation
inline constexpr uint64_t kOffNameSalt = 104;     // u64 salt of negative records' name digests, random per file

inline constexpr uint64_t kOffState = 128;        // u64 0 = live; else generation that replaced it
inline constexpr uint64_t kOffHeartbeatNs = 136;  // u64 CLOCK_REALTIME of the last heartbeat
inline constexpr uint64_t kOffTail = 144;         // u64 ring position: bytes below it are untrusted

inline constexpr uint64_t kOffHead = 192;         // u64 ring position of the next record
inline constexpr uint64_t kOffEvictCursor = 200;  // u64 oldest record not yet counted as evicted
inline constexpr uint64_t kOffRecords = 208;      // u64 records in the ring
inline constexpr uint64_t kOffInserts = 216;      // u64 records ever written to this file
inline constexpr uint64_t kOffEvictions = 224;    // u64 records the ring dropped

// ---- Ring positions ---------------------------------------------------------------
// A ring position is (lap << 32) | offset: monotonic across laps without any
// division, so "below tail" is one comparison. Offsets are < data_size < 2^32.
inline constexpr uint64_t kLapShift = 32;
inline constexpr uint64_t kOffsetMask = 0xffffffffull;
// Index entries keep position >> 3 in 48 bits, i.e. 19 bits of lap: the writer
// republishes the file before the lap counter would overflow (kMaxLap).
inline constexpr uint64_t kMaxLap = (1ull << 19) - 2;

// ---- Index entries (u64) -------------------------------------------------------------
// bits 63..48: tag (the hash's top 16 bits, never 0); bits 47..0: position >> 3.
// 0 = empty: never used since the file was created. An entry whose position is
// below tail, or whose tag is 0 (kEntryTombstone: the writer removed an expired
// record's entry), is a tombstone. Readers stop probing at an empty entry.
inline constexpr uint64_t kEntryPosMask = (1ull << 48) - 1;
inline constexpr uint64_t kEntryTombstone = 1;  // tag 0 never matches a key

inline uint16_t hash_tag(uint64_t h) {
  uint16_t t = static_cast<uint16_t>(h >> 48);
  return t == 0 ? 1 : t;
}
inline uint64_t make_entry(uint16_t tag, uint64_t pos) {
  return (static_cast<uint64_t>(tag) << 48) | ((pos >> 3) & kEntryPosMask);
}
inline uint16_t entry_tag(uint64_t e) { return static_cast<uint16_t>(e >> 48); }
inline uint64_t entry_pos(uint64_t e) { return (e & kEntryPosMask) << 3; }

inline uint64_t hash_name(const void* p, size_t n, uint64_t seed) {
  return XXH3_64bits_withSeed(p, n, seed);
}
// What a negative by-name record holds instead of the name: XXH3-128 of the
// name with the file's name salt. The salt is in the (world-readable) header,
// because every reader must compute the digest of the name it looks up: it
// defeats precomputed tables, not a search of short names (docs/fastcache.md).
struct NameDigest {
  uint64_t lo, hi;
};
inline NameDigest name_digest(const void* p, size_t n, uint64_t salt) {
  XXH128_hash_t h = XXH3_128bits_withSeed(p, n, salt);
  return {h.low64, h.high64};
}
inline constexpr uint64_t kNameDigestSize = 16;

inline uint64_t hash_id(uint32_t id, uint64_t seed) {
  unsigned char b[4] = {static_cast<unsigned char>(id), static_cast<unsigned char>(id >> 8),
                        static_cast<unsigned char>(id >> 16), static_cast<unsigned char>(id >> 24)};
  return XXH3_64bits_withSeed(b, sizeof b, seed);
}

// ---- Records: record_format.h (the layout, its encoding and its bounds checks) -----
// The header every record starts with (parse_header bounds max_record by it).
inline constexpr uint64_t kRecordHeaderSize = 40;

// Limits every file must respect (the writer's options are checked against them).
inline constexpr uint32_t kMaxNameLength = 256;                 // as proto::kMaxNameLength
inline constexpr uint32_t kMaxFieldLength = 4096;               // as proto::kMaxFieldLength
inline constexpr uint32_t kMaxCount = 65536;                    // members or gids
inline constexpr uint32_t kMaxProbeLimit = 64;
inline constexpr uint32_t kMaxIndexEntries = 1u << 26;
inline constexpr uint64_t kMaxRecordHard = 1u << 20;
inline constexpr uint64_t kMinDataSize = 4096;
inline constexpr uint64_t kMaxFileSize = 1ull << 31;            // 2 GiB
inline constexpr uint64_t kMaxStaleAfterNs = 86400ull * 1000000000ull;
inline constexpr uint64_t kMaxTtlNsHard = 30ull * 86400ull * 1000000000ull;

inline constexpr uint64_t pad8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

// ---- Atomic word access to a mapping ------------------------------------------------
// Every access to shared bytes is an aligned 8-byte atomic: never a libc
// memcpy/memcmp/strlen, which may read bytes twice, read past the end of a
// field, or (being vectorised) fault in ways a torn value would not.
inline uint64_t load_relaxed(const unsigned char* base, uint64_t off) {
  return __atomic_load_n(reinterpret_cast<const uint64_t*>(base + off), __ATOMIC_RELAXED);
}
inline uint64_t load_acquire(const unsigned char* base, uint64_t off) {
  return __atomic_load_n(reinterpret_cast<const uint64_t*>(base + off), __ATOMIC_ACQUIRE);
}
inline void store_relaxed(unsigned char* base, uint64_t off, uint64_t v) {
  __atomic_store_n(reinterpret_cast<uint64_t*>(base + off), v, __ATOMIC_RELAXED);
}
inline void store_release(unsigned char* base, uint64_t off, uint64_t v) {
  __atomic_store_n(reinterpret_cast<uint64_t*>(base + off), v, __ATOMIC_RELEASE);
}
// Fences (the read protocol's ordering, docs/fastcache.md). ThreadSanitizer
// does not model fences and GCC warns about them under -fsanitize=thread; that
// is harmless here because every access to shared bytes is itself atomic, so
// TSan can report no race on them whatever it thinks of the fence.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wtsan"
#endif
inline void fence_acquire() { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
inline void fence_release() { __atomic_thread_fence(__ATOMIC_RELEASE); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

inline uint32_t lo32(uint64_t w) { return static_cast<uint32_t>(w); }
inline uint32_t hi32(uint64_t w) { return static_cast<uint32_t>(w >> 32); }

// CLOCK_REALTIME_COARSE in ns: served by the vDSO (no system call), shared by
// every process, every container and every boot (see docs/fastcache.md).
inline uint64_t realtime_coarse_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// ---- The immutable header, as validated by a reader ---------------------------------
struct MapParams {
  MapKind kind = MapKind::kPasswd;
  uint64_t file_size = 0;
  uint64_t generation = 0;
  uint64_t seed = 0;
  uint64_t index_offset = 0;
  uint32_t index_entries = 0;
  uint32_t index_tables = 0;
  uint64_t data_offset = 0;
  uint64_t data_size = 0;
  uint32_t probe_limit = 0;
  uint32_t max_record = 0;
  uint64_t max_ttl_ns = 0;
  uint64_t stale_after_ns = 0;
  uint64_t name_salt = 0;
};

// Copies line 0 of a header out of `base` (mapped_size bytes) and checks every
// field against the file's size and the format's limits, with arithmetic that
// cannot overflow whatever the file says. False: not a usable map of kind
// `kind` (then the map is treated as absent). Never reads past mapped_size.
// Readers and the writer (adopting an existing file) both rely on it: once it
// returned true, index_offset + tables x entries x 8 <= data_offset and
// data_offset + data_size <= file_size hold exactly.
inline bool parse_header(const unsigned char* base, uint64_t mapped_size, MapKind kind, MapParams* p) {
  if (base == nullptr || mapped_size < kHeaderSize || mapped_size > kMaxFileSize) return false;
  uint64_t w[14];
  for (int i = 0; i < 14; ++i) w[i] = load_relaxed(base, static_cast<uint64_t>(i) * 8);
  if (w[0] != kMagic) return false;
  if (lo32(w[1]) != kFormatVersion || hi32(w[1]) != static_cast<uint32_t>(kind)) return false;
  p->kind = kind;
  p->file_size = w[2];
  p->generation = w[3];
  p->seed = w[4];
  p->index_offset = w[5];
  p->index_entries = lo32(w[6]);
  p->index_tables = hi32(w[6]);
  p->data_offset = w[7];
  p->data_size = w[8];
  p->probe_limit = lo32(w[9]);
  p->max_record = hi32(w[9]);
  p->max_ttl_ns = w[10];
  p->stale_after_ns = w[11];
  p->name_salt = w[13];
  // Every field is bounded before it takes part in any sum or product, so no
  // check below can wrap: file_size <= 2^31 (it is the mapped size), every
  // offset <= file_size, index bytes <= 2 * 2^26 * 8 = 2^30.
  if (p->file_size != mapped_size) return false;
  if (p->index_offset != kHeaderSize) return false;
  if (p->index_tables != map_tables(kind)) return false;
  uint32_t n = p->index_entries;
  if (n < 8 || n > kMaxIndexEntries || (n & (n - 1)) != 0) return false;
  uint64_t index_bytes = uint64_t{p->index_tables} * n * 8;
  if (index_bytes > p->file_size - p->index_offset) return false;
  uint64_t index_end = p->index_offset + index_bytes;
  if (p->data_offset > p->file_size || p->data_offset < index_end || p->data_offset % 8 != 0) return false;
  if (p->data_size < kMinDataSize || p->data_size % 8 != 0 || p->data_size > kOffsetMask) return false;
  if (p->data_size > p->file_size - p->data_offset) return false;
  if (p->probe_limit < 1 || p->probe_limit > kMaxProbeLimit || p->probe_limit > n) return false;
  if (p->max_record < kRecordHeaderSize + 8 || p->max_record % 8 != 0 || p->max_record > kMaxRecordHard ||
      p->max_record > p->data_size / 2)
    return false;
  if (p->max_ttl_ns == 0 || p->max_ttl_ns > kMaxTtlNsHard) return false;
  if (p->stale_after_ns == 0 || p->stale_after_ns > kMaxStaleAfterNs) return false;
  return true;
}

}  // namespace fastid::fastcache
