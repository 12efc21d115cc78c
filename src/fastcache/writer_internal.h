// The fast cache writer's internals, shared by its files and included by them
// only: writer.cc (opening, the lock, the file's geometry, whole-file
// operations), writer_ring.cc (the ring and the index: appending, evicting,
// scrubbing, finding one key) and writer_records.cc (users, groups and
// initgroups encoded as records, negative answers).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/sigbus_guard.h"
#include "fastcache/map_memcheck.h"
#include "fastcache/record_format.h"
#include "fastcache/writer.h"

namespace fastid::fastcache {

// A key a record is indexed under: a name in table 0 or an id in table 1.
struct FastCacheWriter::Key {
  uint32_t table;
  std::string_view name;  // table 0
  uint32_t id;            // table 1
};

// Inline here, not in writer.h: map_memcheck.h's checks are compiled in for
// this library's files only (src/fastcache/CMakeLists.txt).
inline void FastCacheWriter::set_word(uint64_t off, uint64_t v) {
  store_relaxed(base_, off, v);
  expect_map_bytes_defined(base_ + off, 8);
}

template <typename Body>
bool FastCacheWriter::touch(Body&& body) {
  return core::sigbus_guarded(body);
}

namespace internal {

uint64_t realtime_ns();
// A duration in ns; 0 for none or a negative one.
uint64_t ns(std::chrono::milliseconds d);
// The header a file of these options gets (generation and seed aside).
bool geometry(MapKind kind, const FastCacheOptions& o, uint64_t size, MapParams* p, std::string* why);
// The name rules (as the files provider's): 1..256 bytes, no blank, control
// character, ':' or ','. A name that breaks them is never published, not even
// as a negative answer: what is typed at a login prompt (a password, often)
// has no business in a file every local user can read.
bool clean_name(std::string_view s);

// A record being built, as the bytes record_format.h encodes into.
inline unsigned char* record_bytes(std::string& record) { return reinterpret_cast<unsigned char*>(record.data()); }

}  // namespace internal

}  // namespace fastid::fastcache
