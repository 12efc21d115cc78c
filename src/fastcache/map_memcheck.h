// The writers' proof that no uninitialised byte reaches a map file (the fast
// cache files and the nscd maps): memcheck checks the bytes a process passes
// to a system call, but a store into a shared mapping is no system call, so
// the writers ask it directly, with a memcheck client request on the bytes
// they have just stored into the map. An uninitialised byte there is a
// memcheck error ("Uninitialised byte(s) found during client check request")
// that `make valgrind` (tests/valgrind/run-valgrind) counts like any other.
// Writer side only (the daemon); never included by the reader the NSS module
// links; included by the writer's own files only (writer_internal.h,
// nscd_map.cc). Compiled in when FASTID_MAP_MEMCHECK is defined, which
// src/fastcache/CMakeLists.txt does for this library when it finds valgrind's
// headers (`scripts/install-deps valgrind`) at configure time: a build
// configured before they were installed gets the checks at its next configure
// (`make valgrind` configures before building), where a test of the header in
// the source left objects compiled without them up to date. Outside valgrind
// a request is a few register instructions.
#pragma once

#include <cstddef>

#ifdef FASTID_MAP_MEMCHECK
#include <valgrind/memcheck.h>
#endif

namespace fastid::fastcache {

// Asks memcheck whether the `size` bytes at `p` (just stored into a map) are
// all initialised; reports an error if not. Does nothing outside valgrind.
inline void expect_map_bytes_defined([[maybe_unused]] const void* p, [[maybe_unused]] std::size_t size) {
#ifdef FASTID_MAP_MEMCHECK
  (void)VALGRIND_CHECK_MEM_IS_DEFINED(p, size);
#endif
}

}  // namespace fastid::fastcache
