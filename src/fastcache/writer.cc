#include "fastcache/writer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace fastid::fastcache {

using core::Status;

struct FastCacheWriter::Key {
  uint32_t table;
  std::string_view name;  // table 0
  uint32_t id;            // table 1
};

namespace {

uint64_t realtime_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t random_seed() {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof s)) {
    s = realtime_ns() ^ (static_cast<uint64_t>(getpid()) << 32) ^ monotonic_ns() * 0x9e3779b97f4a7c15ull;
  }
  return s;
}

uint64_t ns(std::chrono::milliseconds d) {
  return d.count() <= 0 ? 0 : static_cast<uint64_t>(d.count()) * 1000000ull;
}

uint32_t pow2_ceil(uint64_t n) {
  uint64_t p = 8;
  while (p < n && p < kMaxIndexEntries) p <<= 1;
  return static_cast<uint32_t>(p);
}

// Bytes a typical record of each map takes (our dataset: passwd ~100 B, a
// group of ~30 members ~400 B, a user's few gids ~64 B): sizes the index.
uint64_t typical_record(MapKind k) {
  switch (k) {
    case MapKind::kPasswd:
      return 112;
    case MapKind::kGroup:
      return 448;
    case MapKind::kInitgroups:
      return 80;
  }
  return 128;
}

// The header a file of these options gets (generation and seed aside).
bool geometry(MapKind kind, const FastCacheOptions& o, uint64_t size, MapParams* p, std::string* why) {
  p->kind = kind;
  p->file_size = size;
  p->index_tables = map_tables(kind);
  p->index_offset = kHeaderSize;
  if (size < kHeaderSize + 2 * kMinDataSize || size > kMaxFileSize) {
    *why = "size must be between 12 KiB and 2 GiB";
    return false;
  }
  uint32_t n = o.index_entries;
  if (n == 0) {
    n = pow2_ceil(2 * (size / typical_record(kind)));
    while (n > 8 && uint64_t{p->index_tables} * n * 8 > size / 4) n >>= 1;
  } else if (n < 8 || n > kMaxIndexEntries || (n & (n - 1)) != 0) {
    *why = "index_entries must be a power of two between 8 and 2^26";
    return false;
  }
  p->index_entries = n;
  uint64_t index_end = p->index_offset + uint64_t{p->index_tables} * n * 8;
  p->data_offset = (index_end + 63) & ~uint64_t{63};
  if (p->data_offset + kMinDataSize > size) {
    *why = "the index leaves no room for records";
    return false;
  }
  p->data_size = std::min<uint64_t>((size - p->data_offset) & ~uint64_t{7}, kOffsetMask & ~uint64_t{7});
  if (o.probe_limit < 1 || o.probe_limit > kMaxProbeLimit) {
    *why = "probe_limit must be between 1 and 64";
    return false;
  }
  p->probe_limit = std::min(o.probe_limit, n);
  uint64_t mr = std::min<uint64_t>({uint64_t{o.max_record} & ~uint64_t{7}, kMaxRecordHard, (p->data_size / 2) & ~uint64_t{7}});
  if (mr < kRecordHeaderSize + 8) {
    *why = "max_record too small";
    return false;
  }
  p->max_record = static_cast<uint32_t>(mr);
  p->max_ttl_ns = std::min(ns(o.max_ttl), kMaxTtlNsHard);
  p->stale_after_ns = std::min(ns(o.stale_after), kMaxStaleAfterNs);
  if (p->max_ttl_ns == 0 || p->stale_after_ns == 0) {
    *why = "max_ttl and stale_after must be positive";
    return false;
  }
  return true;
}

bool same_geometry(const MapParams& a, const MapParams& b) {
  return a.file_size == b.file_size && a.index_entries == b.index_entries && a.index_tables == b.index_tables &&
         a.index_offset == b.index_offset && a.data_offset == b.data_offset && a.data_size == b.data_size &&
         a.probe_limit == b.probe_limit && a.max_record == b.max_record && a.max_ttl_ns == b.max_ttl_ns &&
         a.stale_after_ns == b.stale_after_ns;
}

// What the client would refuse (src/client/unpack.cc) is refused here, so a
// record in the map is always one the socket path would also have returned.
bool clean(std::string_view s, size_t min, size_t max, std::string_view forbidden) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s) {
    if (c == '\0' || forbidden.find(c) != std::string_view::npos) return false;
  }
  return true;
}
// The name rules (as the files provider's): 1..256 bytes, no blank, control
// character, ':' or ','. A name that breaks them is never published, not even
// as a negative answer: what is typed at a login prompt (a password, often)
// has no business in a file every local user can read.
bool clean_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f || c == ':' || c == ',') return false;
  }
  return true;
}
bool clean_field(std::string_view s) { return clean(s, 0, kMaxFieldLength, ":\n"); }
bool clean_member(std::string_view s) { return clean_name(s); }

// Public data only: a password field is "x" or "*", whatever the source said.
std::string_view public_passwd(std::string_view p) { return p == "*" ? "*" : "x"; }

void put_u32(std::string& r, size_t off, uint32_t v) { std::memcpy(r.data() + off, &v, 4); }
void put_u64(std::string& r, size_t off, uint64_t v) { std::memcpy(r.data() + off, &v, 8); }

// A record: header, then the strings (each followed by NUL), then gids.
std::string build_record(MapKind kind, uint8_t flags, uint64_t expires, uint32_t id, uint32_t gid,
                         std::initializer_list<std::string_view> strings,
                         std::span<const std::string> more_strings, std::span<const uint32_t> gids,
                         uint32_t count) {
  uint64_t slen = 0;
  for (auto s : strings) slen += s.size() + 1;
  for (const auto& s : more_strings) slen += s.size() + 1;
  size_t len = kRecordHeaderSize + pad8(slen) + pad8(gids.size() * 4);
  std::string r(len, '\0');
  r[0] = static_cast<char>(record_type(kind));
  r[1] = static_cast<char>(flags);
  put_u32(r, 4, static_cast<uint32_t>(len));
  put_u64(r, 8, expires);
  put_u32(r, 16, id);
  put_u32(r, 20, gid);
  put_u32(r, 24, count);
  put_u32(r, 28, static_cast<uint32_t>(slen));
  // The first four strings' lengths (name, passwd, gecos, dir): readers find
  // the fields without scanning for NULs.
  size_t k = 0;
  for (auto s : strings) {
    if (k < 4) {
      uint16_t l = static_cast<uint16_t>(s.size());
      std::memcpy(r.data() + 32 + 2 * k, &l, 2);
    }
    ++k;
  }
  size_t at = kRecordHeaderSize;
  auto add = [&](std::string_view s) {
    std::memcpy(r.data() + at, s.data(), s.size());
    at += s.size() + 1;
  };
  for (auto s : strings) add(s);
  for (const auto& s : more_strings) add(s);
  at = kRecordHeaderSize + pad8(slen);
  for (uint32_t g : gids) {
    put_u32(r, at, g);
    at += 4;
  }
  return r;
}

}  // namespace

// ---- Opening and the lock ------------------------------------------------------------

FastCacheWriter::FastCacheWriter(std::string dir, MapKind kind, FastCacheOptions options)
    : dir_(std::move(dir)), kind_(kind), options_(options) {
  path_ = dir_ + "/" + map_file_name(kind_);
  lock_path_ = dir_ + "/." + map_file_name(kind_) + ".lock";
}

FastCacheWriter::~FastCacheWriter() {
  unmap();
  if (lock_fd_ >= 0) close(lock_fd_);
}

core::Result<std::unique_ptr<FastCacheWriter>> FastCacheWriter::open(std::string dir, MapKind kind,
                                                                     FastCacheOptions options) {
  MapParams want;
  std::string why;
  if (!geometry(kind, options, options.size_bytes, &want, &why)) {
    return core::error(Status::invalid_argument("fast cache " + std::string(map_file_name(kind)) + ": " + why));
  }
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return core::error(core::status_from_errno(errno, "mkdir " + dir));
  }
  std::unique_ptr<FastCacheWriter> w(new FastCacheWriter(std::move(dir), kind, options));
  std::unique_lock<std::mutex> guard(w->mu_, std::defer_lock);
  if (Status s = w->lock(guard, /*strict=*/true); !s) return core::error(std::move(s));
  w->remove_stale_temp_files();
  w->unlock();
  return w;
}

core::Status FastCacheWriter::lock(std::unique_lock<std::mutex>& guard, bool strict) {
  guard.lock();
  pid_t me = getpid();
  if (lock_fd_ < 0 || pid_ != me) {
    // A forked child shares the parent's open file description, and with it the
    // flock: it needs its own, or parent and child would not exclude each other.
    if (lock_fd_ >= 0) close(lock_fd_);
    lock_fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock_fd_ < 0) {
      Status s = core::status_from_errno(errno, "open " + lock_path_);
      guard.unlock();
      return s;
    }
    pid_ = me;
  }
  // flock: released by the kernel when the holder dies (even by SIGKILL), held
  // per open file description so two writers in one process also exclude each
  // other, and on a side file because the map file itself is replaced.
  uint64_t deadline = monotonic_ns() + ns(options_.lock_timeout);
  for (int spins = 0;; ++spins) {
    if (flock(lock_fd_, LOCK_EX | LOCK_NB) == 0) break;
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      Status s = core::status_from_errno(errno, "flock " + lock_path_);
      guard.unlock();
      return s;
    }
    if (monotonic_ns() >= deadline) {
      guard.unlock();
      return Status::busy("fast cache " + path_ + ": writer lock busy");
    }
    if (spins < 16) {
      sched_yield();
    } else {
      struct timespec d {0, 200000};  // 0.2 ms
      nanosleep(&d, nullptr);
    }
  }
  hook(WriterStage::kLocked);
  if (Status s = sync_with_path(strict); !s) {
    unlock();
    guard.unlock();
    return s;
  }
  return Status::ok();
}

void FastCacheWriter::unlock() {
  if (lock_fd_ >= 0) flock(lock_fd_, LOCK_UN);
}

void FastCacheWriter::hook(WriterStage s) const {
  if (options_.test_hook != nullptr) options_.test_hook(s, options_.test_hook_ctx);
}

void FastCacheWriter::unmap() {
  if (base_ != nullptr) munmap(base_, length_);
  base_ = nullptr;
  length_ = 0;
}

// Temporary files are only created under the lock: any left when we hold it
// belong to a writer that died between creating and renaming one.
void FastCacheWriter::remove_stale_temp_files() {
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return;
  std::string prefix = std::string(".") + map_file_name(kind_) + ".tmp.";
  while (struct dirent* e = readdir(d)) {
    if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0) unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
}

// Makes our mapping the live file at the path: keeps it, adopts another
// writer's newer file, or creates one (the path is missing, or holds a file
// that is not a usable map, or - when strict - one of another geometry).
core::Status FastCacheWriter::sync_with_path(bool strict) {
  struct stat st;
  bool have = stat(path_.c_str(), &st) == 0;
  uint64_t next_gen = base_ != nullptr ? params_.generation + 1 : 1;
  if (have && base_ != nullptr && st.st_dev == dev_ && st.st_ino == ino_ &&
      static_cast<uint64_t>(st.st_size) != length_) {
    // Someone truncated or extended our file under us: touching the mapping
    // past the new end would be SIGBUS. Drop it without writing to it, and
    // publish a new file below.
    unmap();
  }
  if (have && base_ != nullptr && st.st_dev == dev_ && st.st_ino == ino_ &&
      load_acquire(base_, kOffState) == 0 && !strict) {
    return Status::ok();
  }
  int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd >= 0) {
    MapParams seen;
    seen.generation = 0;
    if (adopt(fd, strict, &seen)) {
      close(fd);
      return Status::ok();
    }
    next_gen = std::max(next_gen, seen.generation + 1);
  } else if (errno != ENOENT) {
    return core::status_from_errno(errno, "open " + path_);
  }
  Status s = create_and_publish(options_.size_bytes, next_gen, fd);
  if (fd >= 0) close(fd);
  return s;
}

bool FastCacheWriter::adopt(int fd, bool strict, MapParams* seen) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < kHeaderSize || size > kMaxFileSize) return false;
  // Only a file of ours (this process's user), writable by nobody else: a
  // file anybody else put there is replaced, never continued.
  if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) return false;
  if (base_ != nullptr && st.st_dev == dev_ && st.st_ino == ino_ && size == length_ &&
      load_acquire(base_, kOffState) == 0 && !strict)
    return true;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return false;
  unsigned char* base = static_cast<unsigned char*>(p);
  MapParams params;
  bool ok = parse_header(base, size, kind_, &params);
  if (ok) *seen = params;
  ok = ok && load_acquire(base, kOffState) == 0;
  if (ok && strict) {
    MapParams want;
    std::string why;
    ok = geometry(kind_, options_, options_.size_bytes, &want, &why) && same_geometry(params, want);
  }
  // Our own writer-side fields must be sane too, or the ring cannot be continued.
  if (ok) {
    uint64_t head = load_relaxed(base, kOffHead), tail = load_relaxed(base, kOffTail);
    uint64_t cursor = load_relaxed(base, kOffEvictCursor);
    ok = tail <= head && (head & kOffsetMask) <= params.data_size && (head >> kLapShift) <= kMaxLap &&
         cursor <= head && (cursor >> kLapShift) + 1 >= (head >> kLapShift);
  }
  if (!ok) {
    munmap(p, size);
    return false;
  }
  if (base_ != nullptr && !(st.st_dev == dev_ && st.st_ino == ino_)) {
    // A writer that replaced our file died before marking it: finish its job.
    uint64_t zero = 0;
    __atomic_compare_exchange_n(reinterpret_cast<uint64_t*>(base_ + kOffState), &zero, params.generation, false,
                                __ATOMIC_RELEASE, __ATOMIC_RELAXED);
  }
  unmap();
  base_ = base;
  length_ = size;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  params_ = params;
  if (!strict) options_.size_bytes = size;  // the file's geometry wins after a resize elsewhere
  return true;
}

core::Status FastCacheWriter::create_and_publish(uint64_t size, uint64_t generation, int old_fd) {
  MapParams p;
  std::string why;
  if (!geometry(kind_, options_, size, &p, &why)) return Status::invalid_argument("fast cache: " + why);
  std::string tmp;
  int fd = -1;
  for (int i = 0; i < 2 && fd < 0; ++i) {
    tmp = dir_ + "/." + map_file_name(kind_) + ".tmp." + std::to_string(getpid()) + "." +
          std::to_string(++tmp_counter_);
    fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno == EEXIST) unlink(tmp.c_str());  // left by a dead writer with our pid
  }
  if (fd < 0) return core::status_from_errno(errno, "create " + tmp);
  auto fail = [&](int err, const std::string& what) {
    close(fd);
    unlink(tmp.c_str());
    return core::status_from_errno(err, what + " " + tmp);
  };
  if (fchmod(fd, 0644) != 0) return fail(errno, "fchmod");  // whatever the umask
  // Every block allocated now: a sparse file on a full tmpfs would SIGBUS
  // every client that touches a page the filesystem cannot back.
  if (int err = posix_fallocate(fd, 0, static_cast<off_t>(size)); err != 0) return fail(err, "posix_fallocate");
  void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return fail(errno, "mmap");
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    munmap(m, size);
    return fail(err, "fstat");
  }
  unsigned char* base = static_cast<unsigned char*>(m);
  uint64_t now = realtime_ns();
  p.generation = generation;
  p.seed = random_seed();
  // Nobody else can see this file yet: the header is complete before the rename.
  store_relaxed(base, kOffMagic, kMagic);
  store_relaxed(base, kOffVersion, kFormatVersion | (uint64_t{static_cast<uint32_t>(kind_)} << 32));
  store_relaxed(base, kOffFileSize, size);
  store_relaxed(base, kOffGeneration, generation);
  store_relaxed(base, kOffSeed, p.seed);
  store_relaxed(base, kOffIndexOffset, p.index_offset);
  store_relaxed(base, kOffIndexEntries, p.index_entries | (uint64_t{p.index_tables} << 32));
  store_relaxed(base, kOffDataOffset, p.data_offset);
  store_relaxed(base, kOffDataSize, p.data_size);
  store_relaxed(base, kOffProbeLimit, p.probe_limit | (uint64_t{p.max_record} << 32));
  store_relaxed(base, kOffMaxTtlNs, p.max_ttl_ns);
  store_relaxed(base, kOffStaleAfterNs, p.stale_after_ns);
  store_relaxed(base, kOffCreatedNs, now);
  p.name_salt = random_seed();
  store_relaxed(base, kOffNameSalt, p.name_salt);
  store_relaxed(base, kOffHeartbeatNs, now);
  if (rename(tmp.c_str(), path_.c_str()) != 0) {
    int err = errno;
    munmap(m, size);
    return fail(err, "rename to " + path_ + " from");
  }
  close(fd);
  hook(WriterStage::kRenamed);
  // Only now mark the old file(s): a reader that sees the mark and re-opens
  // the path finds the new file, never the old one again.
  if (base_ != nullptr) store_release(base_, kOffState, generation);
  if (old_fd >= 0) {
    void* o = mmap(nullptr, kHeaderSize, PROT_READ | PROT_WRITE, MAP_SHARED, old_fd, 0);
    if (o != MAP_FAILED) {
      unsigned char* ob = static_cast<unsigned char*>(o);
      struct stat ost;
      if (fstat(old_fd, &ost) == 0 && static_cast<uint64_t>(ost.st_size) >= kHeaderSize &&
          load_relaxed(ob, kOffMagic) == kMagic)
        store_release(ob, kOffState, generation);
      munmap(o, kHeaderSize);
    }
  }
  unmap();
  base_ = base;
  length_ = size;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  params_ = p;
  return Status::ok();
}

// ---- Writing records ------------------------------------------------------------------

void FastCacheWriter::count_evictions(uint64_t need_tail) {
  const uint64_t data = params_.data_offset;
  uint64_t cur = word(kOffEvictCursor);
  uint64_t evicted = 0;
  while (cur < need_tail) {
    uint64_t lap = cur >> kLapShift, off = cur & kOffsetMask;
    if (off + 8 > params_.data_size) {
      cur = (lap + 1) << kLapShift;
      continue;
    }
    uint64_t w0 = word(data + off);
    uint8_t type = static_cast<uint8_t>(w0);
    uint64_t len = hi32(w0);
    if (type == kRecPad) {
      cur = (lap + 1) << kLapShift;
      continue;
    }
    if ((type != record_type(kind_) && type != kRecDead) || len < kRecordHeaderSize || len % 8 != 0 ||
        off + len > params_.data_size) {
      cur = need_tail;  // lost track (a foreign or damaged file): stop counting
      break;
    }
    cur += len;
    ++evicted;
  }
  set_word(kOffEvictCursor, cur);
  if (evicted) {
    uint64_t records = word(kOffRecords);
    set_word(kOffRecords, records > evicted ? records - evicted : 0);
    set_word(kOffEvictions, word(kOffEvictions) + evicted);
  }
}

FastCacheWriter::Append FastCacheWriter::append(std::string& record, const Key* keys, int nkeys) {
  const uint64_t L = record.size();
  const uint64_t data = params_.data_offset;
  uint64_t head = word(kOffHead);
  uint64_t tail = word(kOffTail);
  uint64_t lap = head >> kLapShift, off = head & kOffsetMask;
  if (off > params_.data_size || tail > head) return Append::kRepublish;  // damaged: start afresh
  bool pad = false;
  uint64_t pos = head;
  if (off + L > params_.data_size) {
    pad = off < params_.data_size;
    pos = (lap + 1) << kLapShift;
  }
  uint64_t plap = pos >> kLapShift, poff = pos & kOffsetMask;
  if (plap > kMaxLap) return Append::kRepublish;
  // Everything of the previous lap below our end is about to be overwritten.
  uint64_t need_tail = plap == 0 ? 0 : ((plap - 1) << kLapShift) | (poff + L);
  if (need_tail > tail) {
    // The cursor steps over whole records: the one our end cuts through is
    // evicted whole, so the tail goes to its end (no record starts between).
    count_evictions(need_tail);
    uint64_t cursor = word(kOffEvictCursor);
    if (cursor > need_tail && cursor <= pos) need_tail = cursor;
    set_word(kOffTail, need_tail);
    tail = need_tail;
    // Release fence: the tail store is ordered before every overwrite below, so
    // a reader whose copy saw any overwritten word also sees the new tail.
    fence_release();
  }
  uint64_t w;
  if (pad) {
    // The pad covers bytes of the lap before, all below the tail now: zeroed,
    // so that no evicted record's bytes stay readable.
    set_word(data + off, kRecPad | ((params_.data_size - off) << 32));
    for (uint64_t i = off + 8; i < params_.data_size; i += 8) set_word(data + i, 0);
  }
  // The first word (type, length) before head moves: a writer that dies after
  // this point leaves a record the next one can step over.
  std::memcpy(&w, record.data(), 8);
  set_word(data + poff, w);
  set_word(kOffHead, pos + L);
  hook(WriterStage::kReserved);
  // The index entries this record will take (the index does not change
  // before we store them: we hold the lock). A negative by name keeps its
  // by-name slot, so that remove_expired_negatives() can find the entry.
  uint64_t slots[2], replaced[2];
  for (int i = 0; i < nkeys; ++i) slots[i] = slot_for(keys[i], &replaced[i]);
  if (static_cast<uint8_t>(record[1]) & kFlagNegativeByName) {
    uint32_t slot = static_cast<uint32_t>(slots[0]);
    std::memcpy(record.data() + 16, &slot, 4);
  }
  for (uint64_t i = 8; i < L; i += 8) {
    std::memcpy(&w, record.data() + i, 8);
    set_word(data + poff + i, w);
  }
  // The rest of the record that straddled our end (below the tail) is zeroed:
  // no evicted record's bytes stay readable.
  if (plap > 0 && (tail >> kLapShift) == plap - 1) {
    uint64_t end = std::min(tail & kOffsetMask, params_.data_size);
    for (uint64_t i = poff + L; i < end; i += 8) set_word(data + i, 0);
  }
  hook(WriterStage::kWritten);
  fence_release();
  for (int i = 0; i < nkeys; ++i) {
    store_release(base_, table_offset(keys[i].table) + slots[i] * 8,
                  make_entry(hash_tag(key_hash(keys[i])), pos));
    // A negative answer that a newer record replaced: nothing points to it
    // any more; its bytes go now rather than when the ring comes round.
    if (replaced[i] != kNoRecord) scrub(replaced[i], /*negative_only=*/true);
  }
  set_word(kOffRecords, word(kOffRecords) + 1);
  set_word(kOffInserts, word(kOffInserts) + 1);
  return Append::kOk;
}

uint64_t FastCacheWriter::table_offset(uint32_t table) const {
  return params_.index_offset + uint64_t{table} * params_.index_entries * 8;
}

uint64_t FastCacheWriter::key_hash(const Key& key) const {
  return key.table == kTableByName ? hash_name(key.name.data(), key.name.size(), params_.seed)
                                   : hash_id(key.id, params_.seed);
}

// Zeroes the record at pos (under the lock), keeping its length so that the
// eviction walk can step over it: first word marked dead, release fence, the
// rest zeroed. A reader copying it meanwhile sees the mark when it re-reads
// the first word after its fence (docs/fastcache.md), and starts again.
void FastCacheWriter::scrub(uint64_t pos, bool negative_only) {
  uint64_t off = pos & kOffsetMask;
  if (pos < word(kOffTail) || off + kRecordHeaderSize > params_.data_size) return;
  const uint64_t rec = params_.data_offset + off;
  uint64_t w0 = word(rec);
  uint64_t len = hi32(w0);
  uint8_t flags = static_cast<uint8_t>(w0 >> 8);
  if (static_cast<uint8_t>(w0) != record_type(kind_) || len < kRecordHeaderSize || len % 8 != 0 ||
      len > params_.data_size - off)
    return;
  if (negative_only && (flags & (kFlagNegativeByName | kFlagNegativeById)) == 0) return;
  set_word(rec, kRecDead | (len << 32));
  fence_release();
  for (uint64_t i = 8; i < len; i += 8) set_word(rec + i, 0);
}

// Walks the live records (under the lock) and removes every negative by-name
// record that has expired: index entry made a tombstone first (no new reader
// finds it), then the record scrubbed. Bounded by the ring's size.
void FastCacheWriter::remove_expired_negatives(uint64_t now) {
  const uint64_t data = params_.data_offset;
  uint64_t tail = word(kOffTail), head = word(kOffHead);
  uint64_t cur = word(kOffEvictCursor);
  if (cur < tail || cur > head) return;  // nothing we can walk safely
  const uint64_t by_name = table_offset(kTableByName);
  for (uint64_t steps = 0; cur < head && steps < params_.data_size / 8 + 2; ++steps) {
    uint64_t lap = cur >> kLapShift, off = cur & kOffsetMask;
    if (off + kRecordHeaderSize > params_.data_size) {
      cur = (lap + 1) << kLapShift;
      continue;
    }
    uint64_t w0 = word(data + off);
    uint8_t type = static_cast<uint8_t>(w0), flags = static_cast<uint8_t>(w0 >> 8);
    uint64_t len = hi32(w0);
    if (type == kRecPad) {
      cur = (lap + 1) << kLapShift;
      continue;
    }
    if ((type != record_type(kind_) && type != kRecDead) || len < kRecordHeaderSize || len % 8 != 0 ||
        len > params_.data_size - off)
      return;  // lost track (a writer died mid-record, or damage): try next time
    if (type != kRecDead && (flags & kFlagNegativeByName) != 0 && word(data + off + 8) <= now) {
      uint64_t slot = lo32(word(data + off + 16));
      if (slot < params_.index_entries) {
        uint64_t e = word(by_name + slot * 8);
        if (entry_tag(e) != 0 && entry_pos(e) == cur) store_release(base_, by_name + slot * 8, kEntryTombstone);
      }
      scrub(cur, /*negative_only=*/true);
    }
    cur += len;
  }
}

bool FastCacheWriter::record_has_key(uint64_t pos, const Key& key) const {
  uint64_t off = pos & kOffsetMask;
  if (off + kRecordHeaderSize > params_.data_size) return false;
  const unsigned char* rec = base_ + params_.data_offset + off;
  uint64_t w0 = load_relaxed(rec, 0), w2 = load_relaxed(rec, 16), w3 = load_relaxed(rec, 24),
           w4 = load_relaxed(rec, 32);
  uint8_t flags = static_cast<uint8_t>(w0 >> 8);
  uint64_t len = hi32(w0);
  if (static_cast<uint8_t>(w0) != record_type(kind_) || len > params_.max_record || off + len > params_.data_size)
    return false;
  if (key.table == kTableById) return lo32(w2) == key.id && (flags & kFlagNegativeByName) == 0;
  uint64_t strings = hi32(w3), name_len = w4 & 0xffff;
  if ((flags & kFlagNegativeByName) != 0) {
    if (strings != kNameDigestSize || kRecordHeaderSize + kNameDigestSize > len) return false;
    NameDigest d = name_digest(key.name.data(), key.name.size(), params_.name_salt);
    return load_relaxed(rec, kRecordHeaderSize) == d.lo && load_relaxed(rec, kRecordHeaderSize + 8) == d.hi;
  }
  if ((flags & kFlagNegativeById) != 0 || name_len != key.name.size() || strings <= name_len ||
      kRecordHeaderSize + strings > len)
    return false;
  char name[pad8(kMaxNameLength + 1)];
  for (uint64_t i = 0; i < pad8(name_len + 1); i += 8) {
    uint64_t w = load_relaxed(rec, kRecordHeaderSize + i);
    std::memcpy(name + i, &w, 8);
  }
  return std::memcmp(name, key.name.data(), name_len) == 0 && name[name_len] == '\0';
}

// Where the key's index entry goes (under the lock, once the tail has moved
// for the new record): in place of the key's current entry if it is in the
// probe window (so a key is never indexed twice; *replaced = that entry's
// record), else the first empty or removed entry, else the entry of the
// oldest record in the window (*replaced = that record).
uint64_t FastCacheWriter::slot_for(const Key& key, uint64_t* replaced) const {
  const uint64_t mask = params_.index_entries - 1;
  const uint64_t table = table_offset(key.table);
  uint64_t h = key_hash(key);
  uint16_t tag = hash_tag(h);
  uint64_t tail = word(kOffTail);
  int64_t free_slot = -1, victim = -1;
  uint64_t victim_pos = ~uint64_t{0};
  *replaced = kNoRecord;
  for (uint32_t n = 0; n < params_.probe_limit; ++n) {
    uint64_t idx = (h + n) & mask;
    uint64_t e = word(table + idx * 8);
    if (e == 0) {
      if (free_slot < 0) free_slot = static_cast<int64_t>(idx);
      break;  // nothing of ours beyond an entry never used
    }
    uint64_t epos = entry_pos(e);
    if (entry_tag(e) == 0 || epos < tail) {
      if (free_slot < 0) free_slot = static_cast<int64_t>(idx);
      continue;
    }
    if (entry_tag(e) == tag && record_has_key(epos, key)) {
      *replaced = epos;
      return idx;
    }
    if (epos < victim_pos) {
      victim_pos = epos;
      victim = static_cast<int64_t>(idx);
    }
  }
  if (free_slot >= 0) return static_cast<uint64_t>(free_slot);
  // A full window: the oldest record loses its entry. If it is a negative
  // answer (one key only) nothing points to it any more, so it is reported
  // as replaced and the caller scrubs it: its name digest does not stay in
  // the ring until the ring comes round.
  *replaced = victim_pos;
  return static_cast<uint64_t>(victim);
}

core::Status FastCacheWriter::put(std::string& record, std::chrono::milliseconds ttl, const Key* keys, int nkeys) {
  if (record.size() > kMaxRecordHard) return Status::invalid_argument("fast cache record above 1 MiB");
  std::unique_lock<std::mutex> guard(mu_, std::defer_lock);
  if (Status s = lock(guard); !s) return s;
  // Under the lock: params_ is the geometry of the file we now hold.
  if (record.size() > params_.max_record) {
    unlock();
    return Status::invalid_argument("fast cache record of " + std::to_string(record.size()) +
                                    " bytes is above max_record");
  }
  put_u64(record, 8, realtime_ns() + std::min(ns(ttl), params_.max_ttl_ns));
  // The digest of a negative by name depends on the file's salt: stamped
  // under the lock, again if the file is republished.
  auto stamp_digest = [&] {
    if ((static_cast<uint8_t>(record[1]) & kFlagNegativeByName) == 0) return;
    NameDigest d = name_digest(keys[0].name.data(), keys[0].name.size(), params_.name_salt);
    put_u64(record, kRecordHeaderSize, d.lo);
    put_u64(record, kRecordHeaderSize + 8, d.hi);
  };
  stamp_digest();
  Status s;
  if (append(record, keys, nkeys) == Append::kRepublish) {
    s = create_and_publish(length_, params_.generation + 1, -1);
    stamp_digest();
    if (s && append(record, keys, nkeys) != Append::kOk) s = Status::internal("fast cache: append failed");
  }
  unlock();
  return s;
}

core::Status FastCacheWriter::put_user(const model::User& u, std::chrono::milliseconds ttl) {
  if (kind_ != MapKind::kPasswd) return Status::invalid_argument("put_user on a non-passwd map");
  if (!clean_name(u.name) || !clean_field(u.gecos) || !clean_field(u.dir) || !clean_field(u.shell) || ttl.count() <= 0)
    return Status::invalid_argument("user record not publishable: " + u.name.substr(0, 64));
  std::string r = build_record(kind_, 0, 0, u.uid, u.gid, {u.name, public_passwd(u.passwd), u.gecos, u.dir, u.shell},
                               {}, {}, 0);
  Key keys[2] = {{kTableByName, u.name, 0}, {kTableById, {}, u.uid}};
  return put(r, ttl, keys, 2);
}

core::Status FastCacheWriter::put_group(const model::Group& g, std::chrono::milliseconds ttl) {
  if (kind_ != MapKind::kGroup) return Status::invalid_argument("put_group on a non-group map");
  bool ok = clean_name(g.name) && g.members.size() <= kMaxCount && ttl.count() > 0;
  for (const auto& m : g.members) ok = ok && clean_member(m);
  if (!ok) return Status::invalid_argument("group record not publishable: " + g.name.substr(0, 64));
  std::string r = build_record(kind_, 0, 0, g.gid, 0, {g.name, public_passwd(g.passwd)}, g.members, {},
                               static_cast<uint32_t>(g.members.size()));
  Key keys[2] = {{kTableByName, g.name, 0}, {kTableById, {}, g.gid}};
  return put(r, ttl, keys, 2);
}

core::Status FastCacheWriter::put_initgroups(std::string_view user, std::span<const uint32_t> gids,
                                             std::chrono::milliseconds ttl) {
  if (kind_ != MapKind::kInitgroups) return Status::invalid_argument("put_initgroups on a non-initgroups map");
  if (!clean_name(user) || gids.size() > kMaxCount || ttl.count() <= 0)
    return Status::invalid_argument("initgroups record not publishable");
  std::string r = build_record(kind_, 0, 0, 0, 0, {user}, {}, gids, static_cast<uint32_t>(gids.size()));
  Key key{kTableByName, user, 0};
  return put(r, ttl, &key, 1);
}

namespace {
core::Status negative_checks(MapKind have, MapKind want, std::string_view name, bool by_name,
                             std::chrono::milliseconds ttl) {
  if (have != want) return Status::invalid_argument("negative record for another map");
  if ((by_name && !clean_name(name)) || ttl.count() <= 0) return Status::invalid_argument("negative record not publishable");
  return Status::ok();
}
}  // namespace

core::Status FastCacheWriter::put_negative_user_name(std::string_view name, std::chrono::milliseconds ttl) {
  if (Status s = negative_checks(kind_, MapKind::kPasswd, name, true, ttl); !s) return s;
  return put_negative_name(name, ttl);
}

// A negative by-name record holds the name's salted digest, never the name;
// the salt is the file's, read under the lock (put() stamps it).
core::Status FastCacheWriter::put_negative_name(std::string_view name, std::chrono::milliseconds ttl) {
  std::string r(kRecordHeaderSize + kNameDigestSize, '\0');
  r[0] = static_cast<char>(record_type(kind_));
  r[1] = static_cast<char>(kFlagNegativeByName);
  put_u32(r, 4, static_cast<uint32_t>(r.size()));
  put_u32(r, 28, static_cast<uint32_t>(kNameDigestSize));
  Key key{kTableByName, name, 0};
  return put(r, ttl, &key, 1);
}

core::Status FastCacheWriter::put_negative_uid(uint32_t uid, std::chrono::milliseconds ttl) {
  if (Status s = negative_checks(kind_, MapKind::kPasswd, {}, false, ttl); !s) return s;
  std::string r = build_record(kind_, kFlagNegativeById, 0, uid, 0,
                               {}, {}, {}, 0);
  Key key{kTableById, {}, uid};
  return put(r, ttl, &key, 1);
}

core::Status FastCacheWriter::put_negative_group_name(std::string_view name, std::chrono::milliseconds ttl) {
  if (Status s = negative_checks(kind_, MapKind::kGroup, name, true, ttl); !s) return s;
  return put_negative_name(name, ttl);
}

core::Status FastCacheWriter::put_negative_gid(uint32_t gid, std::chrono::milliseconds ttl) {
  if (Status s = negative_checks(kind_, MapKind::kGroup, {}, false, ttl); !s) return s;
  std::string r = build_record(kind_, kFlagNegativeById, 0, gid, 0,
                               {}, {}, {}, 0);
  Key key{kTableById, {}, gid};
  return put(r, ttl, &key, 1);
}

core::Status FastCacheWriter::put_negative_initgroups(std::string_view user, std::chrono::milliseconds ttl) {
  if (Status s = negative_checks(kind_, MapKind::kInitgroups, user, true, ttl); !s) return s;
  return put_negative_name(user, ttl);
}

core::Status FastCacheWriter::put(const model::Query& q, const model::Answer& answer,
                                  std::chrono::milliseconds ttl) {
  if (const auto* u = std::get_if<model::User>(&answer)) return put_user(*u, ttl);
  if (const auto* g = std::get_if<model::Group>(&answer)) return put_group(*g, ttl);
  if (const auto* gids = std::get_if<model::Gids>(&answer)) return put_initgroups(q.name, *gids, ttl);
  return Status::invalid_argument("fast cache: " + model::describe(q) + " is never published");
}

core::Status FastCacheWriter::put_negative(const model::Query& q, std::chrono::milliseconds ttl) {
  switch (q.kind) {
    case model::Kind::kUserByName: return put_negative_user_name(q.name, ttl);
    case model::Kind::kUserByUid: return put_negative_uid(q.id, ttl);
    case model::Kind::kGroupByName: return put_negative_group_name(q.name, ttl);
    case model::Kind::kGroupByGid: return put_negative_gid(q.id, ttl);
    case model::Kind::kInitgroups: return put_negative_initgroups(q.name, ttl);
    case model::Kind::kUsersPage:
    case model::Kind::kGroupsPage:
    case model::Kind::kNetgroup:
    case model::Kind::kSshKeys: break;
  }
  return Status::invalid_argument("fast cache: " + model::describe(q) + " is never published");
}

// ---- Whole-file operations ------------------------------------------------------------

core::Status FastCacheWriter::invalidate() {
  std::unique_lock<std::mutex> guard(mu_, std::defer_lock);
  if (Status s = lock(guard); !s) return s;
  Status s = create_and_publish(length_, params_.generation + 1, -1);
  unlock();
  return s;
}

core::Status FastCacheWriter::resize(uint64_t size_bytes) {
  std::unique_lock<std::mutex> guard(mu_, std::defer_lock);
  if (Status s = lock(guard); !s) return s;
  MapParams p;
  std::string why;
  if (!geometry(kind_, options_, size_bytes, &p, &why)) {
    unlock();
    return Status::invalid_argument("fast cache resize: " + why);
  }
  Status s = create_and_publish(size_bytes, params_.generation + 1, -1);
  if (s) options_.size_bytes = size_bytes;
  unlock();
  return s;
}

core::Status FastCacheWriter::heartbeat() {
  std::unique_lock<std::mutex> guard(mu_, std::defer_lock);
  if (Status s = lock(guard); !s) return s;
  uint64_t now = realtime_ns();
  set_word(kOffHeartbeatNs, now);
  remove_expired_negatives(now);
  unlock();
  return Status::ok();
}

core::Result<FastCacheStats> FastCacheWriter::stats() {
  std::unique_lock<std::mutex> guard(mu_, std::defer_lock);
  if (Status s = lock(guard); !s) return core::error(std::move(s));
  FastCacheStats st;
  st.size_bytes = length_;
  st.data_bytes = params_.data_size;
  st.index_entries = params_.index_entries;
  st.entries = word(kOffRecords);
  st.inserts = word(kOffInserts);
  st.evictions = word(kOffEvictions);
  st.generation = params_.generation;
  unlock();
  return st;
}

}  // namespace fastid::fastcache
