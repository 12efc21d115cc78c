// Hostile fast cache map files, written in one place for everything that
// replays them: the fuzz corpus (fastcache_seed_gen), the unit tests
// (fastcache_security_test: reader and writer) and the system test
// (fastcache_system_test: the real NSS module under getent). Header-only,
// libc and layout.h only.
//
// kIndexOffsetWraps is security issue #11, item 4: every other field is
// valid, and index_offset is so large that index_offset + tables x entries x 8
// wraps around to 64, below data_offset. A parser that adds before it bounds
// accepts it, and every lookup then reads (and the writer writes) up to 1 GiB
// before the mapping.
#pragma once

#include <stdint.h>
#include <string.h>

#include <vector>

#include "fastcache/layout.h"

namespace fastid::fastcache::hostile {

enum class Header {
  kIndexOffsetWraps,   // index_offset + index bytes wraps to 64
  kIndexPastTheFile,   // index_offset beyond the file (no wrap)
  kDataOffsetWraps,    // data_offset + data_size wraps
};

inline void put64(std::vector<unsigned char>& b, uint64_t off, uint64_t v) { memcpy(b.data() + off, &v, 8); }

// A whole map file (8 KiB) of `kind` with the given hostile header, live
// (state 0) and with a heartbeat of `now_ns`, so that a reader goes past the
// staleness check to the index.
inline std::vector<unsigned char> map_file(Header which, MapKind kind, uint64_t now_ns) {
  const uint64_t size = 8192;
  std::vector<unsigned char> b(size, 0);
  const uint64_t tables = map_tables(kind);
  uint64_t entries = kMaxIndexEntries;                    // index bytes: tables x 2^26 x 8
  uint64_t index_offset = kHeaderSize;
  uint64_t data_offset = 4096, data_size = 4096;
  switch (which) {
    case Header::kIndexOffsetWraps:
      index_offset = 0 - tables * entries * 8 + 64;       // + index bytes = 2^64 + 64
      break;
    case Header::kIndexPastTheFile:
      index_offset = uint64_t{1} << 40;
      entries = 8;
      break;
    case Header::kDataOffsetWraps:
      entries = 8;
      data_offset = 0 - 4096;
      break;
  }
  put64(b, kOffMagic, kMagic);
  put64(b, kOffVersion, kFormatVersion | (uint64_t{static_cast<uint32_t>(kind)} << 32));
  put64(b, kOffFileSize, size);
  put64(b, kOffGeneration, 1);
  put64(b, kOffSeed, 0x5eed);
  put64(b, kOffIndexOffset, index_offset);
  put64(b, kOffIndexEntries, entries | (tables << 32));
  put64(b, kOffDataOffset, data_offset);
  put64(b, kOffDataSize, data_size);
  put64(b, kOffProbeLimit, 16 | (uint64_t{2048} << 32));  // probe limit, max record
  put64(b, kOffMaxTtlNs, 3600ull * 1000000000ull);
  put64(b, kOffStaleAfterNs, 30ull * 1000000000ull);
  put64(b, kOffCreatedNs, now_ns);
  put64(b, kOffHeartbeatNs, now_ns);
  return b;
}

}  // namespace fastid::fastcache::hostile
