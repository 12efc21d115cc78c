// libFuzzer target: arbitrary bytes as a fast cache map file, handed to
// FastCacheReader, which must answer every lookup without crashing or reading
// out of bounds (ASan + UBSan). Built and run by tests/fuzz/run-fuzz with
// clang++-14; the seed corpus comes from valid files (fastcache_seed_gen.cc).
//
// The input is the whole file, except that the heartbeat word is set to "now"
// so that the reader gets past the staleness check into the index and records.
//
// A header-aware mutator (LLVMFuzzerCustomMutator) sets header fields to the
// values that byte flips almost never produce: all ones, 2^64 minus the
// index's size (so that index_offset + index bytes wraps: security issue #11),
// the file's size and its neighbours, powers of two. It keeps the file size
// field equal to the input's size most of the time, so that the parser looks
// at the other fields at all. The seed corpus has such headers too
// (hostile_maps.h).
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <vector>

#include "fastcache/layout.h"
#include "fastcache/reader.h"

namespace fc = fastid::fastcache;

namespace {

char g_dir[256];
fc::FastCacheReader g_reader;
// Inputs whose index_offset + tables x entries x 8 wraps past 2^64 (the
// header of security issue #11), counted and printed at exit: the proof that
// the mutator reaches it (docs/reliability.md).
unsigned long g_wrapped = 0;

void print_wrapped() { fprintf(stderr, "fastcache_reader_fuzz: %lu inputs with a wrapped index_offset\n", g_wrapped); }

void write_map(const char* name, const uint8_t* data, size_t size) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  unlink(path);  // a new inode: never rewrite a file that is still mapped
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) abort();
  std::vector<uint8_t> bytes(data, data + size);
  if (size >= fc::kOffHeartbeatNs + 8) {
    uint64_t now = fc::realtime_coarse_ns();
    memcpy(bytes.data() + fc::kOffHeartbeatNs, &now, 8);
  }
  if (write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) abort();
  fchmod(fd, 0644);
  close(fd);
}

void lookups() {
  struct passwd pw;
  struct group gr;
  alignas(8) char buf[2048];
  gid_t gids[64];
  char name[32];
  for (int i = 1; i <= 6; ++i) {
    snprintf(name, sizeof name, "user%05d", i);
    g_reader.passwd_by_name(name, &pw, buf, sizeof buf);
    g_reader.passwd_by_name(name, &pw, buf + 1, 24);  // ERANGE paths
    g_reader.passwd_by_uid(100000 + i, &pw, buf, sizeof buf);
    size_t n = i == 1 ? 0 : 64;
    g_reader.initgroups(name, i == 1 ? nullptr : gids, &n);
    n = 1;
    g_reader.initgroups(name, gids, &n);
    snprintf(name, sizeof name, "group%04d", i);
    g_reader.group_by_name(name, &gr, buf + (i & 7), sizeof buf - 8);
    g_reader.group_by_gid(200000 + i, &gr, buf, i == 2 ? 40 : sizeof buf);
  }
  g_reader.passwd_by_name("ghost", &pw, buf, sizeof buf);
  g_reader.passwd_by_uid(4242, &pw, buf, sizeof buf);
  g_reader.group_by_gid(777, &gr, buf, sizeof buf);
  g_reader.passwd_by_uid(0, &pw, buf, sizeof buf);
}

}  // namespace

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

uint64_t get_word(const uint8_t* data, size_t i) {
  uint64_t v;
  memcpy(&v, data + i * 8, 8);
  return v;
}
void set_word(uint8_t* data, size_t i, uint64_t v) { memcpy(data + i * 8, &v, 8); }

// A value at an edge of the field's arithmetic.
uint64_t edge_value(std::minstd_rand& rng, const uint8_t* data, size_t size) {
  uint64_t entries = get_word(data, 6) & 0xffffffffu, tables = get_word(data, 6) >> 32;
  uint64_t small = 8 * (rng() % 1024);
  switch (rng() % 12) {
    case 0: return 0;
    case 1: return 1;
    case 2: return ~uint64_t{0};
    case 3: return uint64_t{1} << (rng() % 64);
    case 4: return 0 - small;                                  // just below 2^64
    case 5: return 0 - tables * entries * 8 + small;           // index end wraps
    case 6: return 0 - (uint64_t{1} << 30) + small;            // the largest index, wrapped
    case 7: return size;
    case 8: return size - small;
    case 9: return size + small;
    case 10: return fc::kHeaderSize + small;
    default: return (uint64_t{rng()} << 32) ^ rng();
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::minstd_rand rng(seed);
  if (size < fc::kOffHeartbeatNs || rng() % 4 == 0) return LLVMFuzzerMutate(data, size, max_size);
  for (unsigned n = 1 + rng() % 3; n > 0; --n) {
    size_t field = 2 + rng() % 12;  // file size .. name salt (magic and version stay)
    uint64_t v = edge_value(rng, data, size);
    switch (rng() % 3) {
      case 0: set_word(data, field, v); break;
      case 1: set_word(data, field, (get_word(data, field) & ~uint64_t{0xffffffff}) | (v & 0xffffffff)); break;
      default: set_word(data, field, (get_word(data, field) & 0xffffffff) | (v << 32)); break;
    }
  }
  if (rng() % 4 != 0) set_word(data, 2, size);  // file size = the mapped size: go past that check
  return size;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* t = getenv("TMPDIR");
  snprintf(g_dir, sizeof g_dir, "%s/fastcache_fuzz.XXXXXX", t && *t ? t : "/tmp");
  if (mkdtemp(g_dir) == nullptr) abort();
  atexit(print_wrapped);
  g_reader.set_directory(g_dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Written under the name of the kind it claims to be (else as passwd), so
  // that the reader parses it as that map.
  uint32_t kind = 1;
  if (size >= 16) memcpy(&kind, data + fc::kOffKind, 4);
  if (size >= fc::kOffIndexEntries + 8) {
    uint64_t offset, entries;
    memcpy(&offset, data + fc::kOffIndexOffset, 8);
    memcpy(&entries, data + fc::kOffIndexEntries, 8);
    const unsigned __int128 end = static_cast<unsigned __int128>(offset) + static_cast<unsigned __int128>(entries & 0xffffffffu) * (entries >> 32) * 8;
    if (end >> 64) ++g_wrapped;
  }
  const char* name = kind == 2 ? "group" : kind == 3 ? "initgroups" : "passwd";
  write_map(name, data, size);
  g_reader.reset();  // nobody else is inside the reader: unmaps the last file
  g_reader.set_directory(g_dir);
  lookups();
  return 0;
}
