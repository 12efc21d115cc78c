// FastCacheWriter (writer.h): opening a map, the writer lock (a flock shared
// with other writers, across forks), the file's geometry from the options,
// creating, adopting and publishing files, and the whole-file operations
// (invalidate, resize, heartbeat, stats). Records and the index are in
// writer_ring.cc and writer_records.cc.
#include "fastcache/writer.h"

#include "fastcache/writer_internal.h"

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

#include "core/log.h"

namespace fastid::fastcache {

using core::Status;
using namespace internal;

namespace {

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

bool same_geometry(const MapParams& a, const MapParams& b) {
  return a.file_size == b.file_size && a.index_entries == b.index_entries && a.index_tables == b.index_tables &&
         a.index_offset == b.index_offset && a.data_offset == b.data_offset && a.data_size == b.data_size &&
         a.probe_limit == b.probe_limit && a.max_record == b.max_record && a.max_ttl_ns == b.max_ttl_ns &&
         a.stale_after_ns == b.stale_after_ns;
}

}  // namespace

namespace internal {

uint64_t realtime_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t ns(std::chrono::milliseconds d) {
  return d.count() <= 0 ? 0 : static_cast<uint64_t>(d.count()) * 1000000ull;
}

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

}  // namespace internal

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

void FastCacheWriter::abandon() {
  unmap();
  ++damaged_;
  // The same words each time: the log's burst limit counts a flood of them.
  core::log_error("fast cache " + path_ +
                  ": the map file was cut short while fastidd wrote to it (SIGBUS); it is abandoned and "
                  "a new one published (who can write " + dir_ + " besides fastidd?)");
}

core::Status FastCacheWriter::recover() {
  abandon();
  return sync_with_path(false);
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
  if (have && base_ != nullptr && st.st_dev == dev_ && st.st_ino == ino_) {
    uint64_t state = 1;
    if (static_cast<uint64_t>(st.st_size) != length_) {
      // Someone truncated or extended our file under us: touching the mapping
      // past the new end would be SIGBUS. Drop it without writing to it, and
      // publish a new file below.
      unmap();
    } else if (!touch([&] { state = load_acquire(base_, kOffState); })) {
      abandon();  // cut short since the stat
    } else if (state == 0 && !strict) {
      return Status::ok();
    }
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
  bool ok = false;
  MapParams want;
  std::string why;
  const bool want_ok = !strict || geometry(kind_, options_, options_.size_bytes, &want, &why);
  // The file may be cut short after the fstat: a SIGBUS here is a file we do not adopt.
  const bool read = touch([&] {
    ok = parse_header(base, size, kind_, &params);
    if (ok) *seen = params;
    ok = ok && load_acquire(base, kOffState) == 0;
    if (ok && strict) ok = want_ok && same_geometry(params, want);
    // Our own writer-side fields must be sane too, or the ring cannot be continued.
    if (ok) {
      uint64_t head = load_relaxed(base, kOffHead), tail = load_relaxed(base, kOffTail);
      uint64_t cursor = load_relaxed(base, kOffEvictCursor);
      ok = tail <= head && (head & kOffsetMask) <= params.data_size && (head >> kLapShift) <= kMaxLap &&
           cursor <= head && (cursor >> kLapShift) + 1 >= (head >> kLapShift);
    }
  });
  if (!read || !ok) {
    munmap(p, size);
    return false;
  }
  if (base_ != nullptr && !(st.st_dev == dev_ && st.st_ino == ino_)) {
    // A writer that replaced our file died before marking it: finish its job
    // (our old file may be cut short too: then there is nothing to mark).
    (void)touch([&] {
      uint64_t zero = 0;
      __atomic_compare_exchange_n(reinterpret_cast<uint64_t*>(base_ + kOffState), &zero, params.generation, false,
                                  __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    });
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
  p.name_salt = random_seed();
  // Nobody else can see this file yet: the header is complete before the
  // rename. (Only someone who can write the folder could cut it short now.)
  const bool written = touch([&] {
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
    store_relaxed(base, kOffNameSalt, p.name_salt);
    store_relaxed(base, kOffHeartbeatNs, now);
    expect_map_bytes_defined(base, kOffHeartbeatNs + 8);
  });
  if (!written) {
    munmap(m, size);
    return fail(EIO, "new map cut short while its header was written:");
  }
  if (rename(tmp.c_str(), path_.c_str()) != 0) {
    int err = errno;
    munmap(m, size);
    return fail(err, "rename to " + path_ + " from");
  }
  close(fd);
  hook(WriterStage::kRenamed);
  // Only now mark the old file(s): a reader that sees the mark and re-opens
  // the path finds the new file, never the old one again.
  // Either old file may have been cut short: then a reader of it gets no
  // mark from us (it checks the file's size itself).
  if (base_ != nullptr) (void)touch([&] { store_release(base_, kOffState, generation); });
  if (old_fd >= 0) {
    void* o = mmap(nullptr, kHeaderSize, PROT_READ | PROT_WRITE, MAP_SHARED, old_fd, 0);
    if (o != MAP_FAILED) {
      unsigned char* ob = static_cast<unsigned char*>(o);
      struct stat ost;
      if (fstat(old_fd, &ost) == 0 && static_cast<uint64_t>(ost.st_size) >= kHeaderSize) {
        (void)touch([&] {
          if (load_relaxed(ob, kOffMagic) == kMagic) store_release(ob, kOffState, generation);
        });
      }
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
  Status s;
  if (!touch([&] {
        set_word(kOffHeartbeatNs, now);
        remove_expired_negatives(now);
      })) {
    s = recover();  // readers get a live file again now, not at the next put
  }
  unlock();
  return s;
}

core::Result<FastCacheStats> FastCacheWriter::stats() {
  std::unique_lock<std::mutex> guard(mu_, std::defer_lock);
  if (Status s = lock(guard); !s) return core::error(std::move(s));
  FastCacheStats st;
  if (!touch([&] {
        st.entries = word(kOffRecords);
        st.inserts = word(kOffInserts);
        st.evictions = word(kOffEvictions);
      })) {
    if (Status s = recover(); !s) {
      unlock();
      return core::error(std::move(s));
    }
    st = FastCacheStats{};  // a new, empty file
  }
  st.size_bytes = length_;
  st.data_bytes = params_.data_size;
  st.index_entries = params_.index_entries;
  st.generation = params_.generation;
  st.damaged = damaged_;
  unlock();
  return st;
}

}  // namespace fastid::fastcache
