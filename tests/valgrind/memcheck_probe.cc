// memcheck_probe: run-valgrind's proof, before the system tests, that its
// verdict can fail (`run-valgrind` runs it under the same memcheck options as
// the tests and counts its errors the same way). Each mode is one deliberate
// write of an uninitialised byte, of the two kinds `make valgrind` exists to
// catch:
//   memcheck_probe socket      8 bytes, one of them never set, written to a
//                              socket: memcheck's "Syscall param write(buf)
//                              points to uninitialised byte(s)"
//   memcheck_probe map DIR     an initgroups record whose gid was never set,
//                              published into a fast cache map file in DIR by
//                              the daemon's own writer (fastid_fastcache_writer,
//                              the library fastidd links): its check request
//                              (src/fastcache/map_memcheck.h) must report
//                              "Uninitialised byte(s) found during client check
//                              request"; no report means the writer was built
//                              without valgrind's headers and map files are
//                              not checked
//   memcheck_probe clean DIR   both writes with every byte set: no error
// Exits 0 after its writes, 1 if a write failed (memcheck's --error-exitcode
// turns an error into 99).
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fastcache/writer.h"

namespace {

// Heap bytes the compiler cannot see into: `set` says whether they are
// written before use (clean) or left as malloc returned them (the probes).
unsigned char* bytes(std::size_t n, bool set) {
  auto* p = static_cast<unsigned char*>(std::malloc(n));
  if (p == nullptr) std::abort();
  if (set) std::memset(p, 0x5a, n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

bool socket_write(bool set) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return false;
  unsigned char* buf = bytes(8, true);
  unsigned char* unset = bytes(1, set);
  buf[3] = unset[0];  // a copy carries memcheck's "undefined" along
  bool ok = ::write(fds[0], buf, 8) == 8;
  std::free(buf);
  std::free(unset);
  ::close(fds[0]);
  ::close(fds[1]);
  return ok;
}

bool map_write(const std::string& dir, bool set) {
  auto writer = fastid::fastcache::FastCacheWriter::open(dir, fastid::fastcache::MapKind::kInitgroups);
  if (!writer) {
    std::fprintf(stderr, "memcheck_probe: %s\n", writer.error().to_string().c_str());
    return false;
  }
  unsigned char* gid_bytes = bytes(sizeof(std::uint32_t), set);
  std::uint32_t gid;
  std::memcpy(&gid, gid_bytes, sizeof gid);
  std::free(gid_bytes);
  const std::uint32_t gids[1] = {gid};
  auto s = (*writer)->put_initgroups("probe", gids, std::chrono::seconds(60));
  if (!s) std::fprintf(stderr, "memcheck_probe: %s\n", s.to_string().c_str());
  return static_cast<bool>(s);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "socket" && argc == 2) return socket_write(false) ? 0 : 1;
  if (mode == "map" && argc == 3) return map_write(argv[2], false) ? 0 : 1;
  if (mode == "clean" && argc == 3) return socket_write(true) && map_write(argv[2], true) ? 0 : 1;
  std::fprintf(stderr, "usage: memcheck_probe socket | map DIR | clean DIR\n");
  return 2;
}
