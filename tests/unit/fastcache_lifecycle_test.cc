// The fast cache file's life, specified by example (part of fastcache_test,
// with fastcache_test.cc): invalidation (a reader re-maps and never answers
// from the old file), a file replaced without the mark, a stale heartbeat, a
// restarted writer; truncated, garbage and corrupt files (a miss, never a
// crash); a writer SIGKILLed while holding the lock (the next writer is not
// wedged); several writers; threads; fork.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fastcache/layout.h"
#include "fastcache/reader.h"
#include "fastcache/writer.h"

#include "support/fastcache_fixture.h"

namespace {

using namespace fastcache_test;

// ---- Invalidation, heartbeat, restart ------------------------------------------------------

// Polls `done` every 5 ms until it holds (true) or 30 s passed (false): a
// state waited for, never a time slept.
template <typename F>
bool poll_until(F done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST_F(FastCacheTest, InvalidationMakesReadersRemapAndNeverAnswerFromTheOldFile) {
  auto w = open(MapKind::kPasswd, small());
  User u = dataset_user(11);
  ASSERT_TRUE(w->put_user(u, 60s));
  ASSERT_EQ(getpw(u.name, &u), LookupResult::kHit);
  uint64_t remaps = reader_->remaps();
  uint64_t gen = w->stats()->generation;
  ASSERT_TRUE(w->invalidate());
  EXPECT_EQ(w->stats()->generation, gen + 1);
  EXPECT_EQ(w->stats()->entries, 0u);
  EXPECT_EQ(getpw(u.name), LookupResult::kMiss) << "answered from an invalidated file";
  EXPECT_EQ(getpwuid(u.uid), LookupResult::kMiss);
  EXPECT_EQ(reader_->remaps(), remaps + 1);
  u.gecos = "after invalidation";
  ASSERT_TRUE(w->put_user(u, 60s));
  EXPECT_EQ(getpw(u.name, &u), LookupResult::kHit);
  // Many invalidations in a row: old mappings are reclaimed, never exhausted.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(w->invalidate());
    ASSERT_TRUE(w->put_user(u, 60s));
    ASSERT_EQ(getpw(u.name, &u), LookupResult::kHit) << i;
  }
  // A resize is an invalidation with a new size.
  ASSERT_TRUE(w->resize(128 << 10));
  EXPECT_EQ(getpw(u.name), LookupResult::kMiss);
  EXPECT_EQ(w->stats()->size_bytes, 128u << 10);
  ASSERT_TRUE(w->put_user(u, 60s));
  EXPECT_EQ(getpw(u.name, &u), LookupResult::kHit);
}

TEST_F(FastCacheTest, AFileReplacedWithoutTheMarkIsFoundThroughTheHeartbeat) {
  FastCacheOptions o = small();
  o.stale_after = 300ms;
  auto w = open(MapKind::kPasswd, o);
  User u = dataset_user(12);
  ASSERT_TRUE(w->put_user(u, 60s));
  ASSERT_EQ(getpw(u.name), LookupResult::kHit);
  // The admin wipes the directory; a new daemon starts from nothing.
  w.reset();
  std::filesystem::remove(path(MapKind::kPasswd));
  auto w2 = open(MapKind::kPasswd, o);
  u.gecos = "new daemon";
  ASSERT_TRUE(w2->put_user(u, 60s));
  // Until the old file's heartbeat is stale its readers keep it (the limit of
  // an unmarked replacement); then one look at the path finds the new file.
  // Polled (the new writer beating) until the new record is read, 30 s at most.
  auto gecos_of = [&](const std::string& name) {
    struct passwd pw;
    char buf[8192];
    return reader_->passwd_by_name(name.c_str(), &pw, buf, sizeof buf) == LookupResult::kHit ? std::string(pw.pw_gecos)
                                                                                            : std::string();
  };
  EXPECT_TRUE(poll_until([&] {
    EXPECT_TRUE(w2->heartbeat());
    return gecos_of(u.name) == "new daemon";
  })) << "the new file was never found";
  EXPECT_EQ(getpw(u.name, &u), LookupResult::kHit);
}

// The heartbeat ages on the clock: polled until the record is a miss (30 s
// at most), not slept past stale_after; the hit before it has 500 ms to be read.
TEST_F(FastCacheTest, StaleHeartbeatMeansMiss) {
  FastCacheOptions o = small();
  o.stale_after = 500ms;
  auto w = open(MapKind::kPasswd, o);
  User u = dataset_user(13);
  ASSERT_TRUE(w->put_user(u, 60s));
  EXPECT_EQ(getpw(u.name), LookupResult::kHit);
  EXPECT_TRUE(poll_until([&] { return getpw(u.name) == LookupResult::kMiss; })) << "the daemon stopped beating";
  ASSERT_TRUE(w->heartbeat());
  EXPECT_EQ(getpw(u.name, &u), LookupResult::kHit);
}

TEST_F(FastCacheTest, ARestartedWriterAdoptsTheFileOrReplacesItWhenTheSizeChanged) {
  auto w = open(MapKind::kPasswd, small());
  User u = dataset_user(14);
  ASSERT_TRUE(w->put_user(u, 60s));
  w.reset();
  auto w2 = open(MapKind::kPasswd, small());
  EXPECT_EQ(w2->stats()->generation, 1u);
  EXPECT_EQ(getpw(u.name, &u), LookupResult::kHit) << "clients keep their warm map";
  w2.reset();
  auto w3 = open(MapKind::kPasswd, small(128 << 10));
  EXPECT_EQ(w3->stats()->generation, 2u);
  EXPECT_EQ(getpw(u.name), LookupResult::kMiss);
}

// ---- Damaged files ----------------------------------------------------------------------------

void write_file(const std::string& p, const std::string& bytes, mode_t mode = 0644) {
  std::filesystem::remove(p);
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  fchmod(fd, mode);
  close(fd);
}

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

TEST_F(FastCacheTest, TruncatedGarbageAndCorruptFilesAreMissesNotCrashes) {
  std::string valid;
  {
    auto w = open(MapKind::kPasswd, small());
    for (int i = 1; i <= 50; ++i) ASSERT_TRUE(w->put_user(dataset_user(i), 60s));
    valid = read_file(path(MapKind::kPasswd));
  }
  User u = dataset_user(20);
  auto fresh_reader = [&] {
    reader_->reset();
    reader_->set_directory(dir_.c_str());
  };
  // The valid file itself answers.
  write_file(path(MapKind::kPasswd), valid);
  fresh_reader();
  ASSERT_EQ(getpw(u.name, &u), LookupResult::kHit);
  // Empty, truncated at every interesting size, garbage.
  for (size_t len : {size_t(0), size_t(8), size_t(100), size_t(4095), size_t(4096), size_t(8192), valid.size() - 8}) {
    write_file(path(MapKind::kPasswd), valid.substr(0, len));
    fresh_reader();
    EXPECT_EQ(getpw(u.name), LookupResult::kMiss) << len;
    EXPECT_EQ(getpwuid(u.uid), LookupResult::kMiss) << len;
  }
  std::string garbage(valid.size(), '\0');
  uint64_t x = 88172645463325252ull;
  for (char& c : garbage) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  write_file(path(MapKind::kPasswd), garbage);
  fresh_reader();
  EXPECT_EQ(getpw(u.name), LookupResult::kMiss);
  // A group- or world-writable file is not trusted.
  write_file(path(MapKind::kPasswd), valid, 0666);
  fresh_reader();
  EXPECT_EQ(getpw(u.name), LookupResult::kMiss);
  // Valid header, every byte after it randomised in turn by region: no crash,
  // and any hit is still a correct record.
  struct passwd pw;
  char buf[1024];
  for (int round = 0; round < 200; ++round) {
    std::string bad = valid;
    size_t start = 4096 + (x % (bad.size() - 4096));
    for (size_t i = start; i < std::min(bad.size(), start + 1 + x % 64); ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      bad[i] = static_cast<char>(x);
    }
    if (round % 4 == 0) {  // sometimes the tail or the writers' words too
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const size_t words[] = {144, 192, 200};
      std::memcpy(&bad[words[round % 3]], &x, 8);
    }
    write_file(path(MapKind::kPasswd), bad);
    fresh_reader();
    // Damage inside a string is indistinguishable from data; what is
    // guaranteed is memory safety, structure, and the key.
    for (int i = 1; i <= 50; ++i) {
      User v = dataset_user(i);
      if (reader_->passwd_by_name(v.name.c_str(), &pw, buf, sizeof buf) == LookupResult::kHit) {
        EXPECT_EQ(pw.pw_name, v.name);
      }
      if (reader_->passwd_by_uid(v.uid, &pw, buf, sizeof buf) == LookupResult::kHit) {
        EXPECT_EQ(pw.pw_uid, v.uid);
      }
    }
  }
  // Every validated header field broken one at a time.
  for (size_t off = 0; off < 256; off += 4) {
    std::string bad = valid;
    uint32_t v;
    std::memcpy(&v, &bad[off], 4);
    v ^= 0x80000001u;
    std::memcpy(&bad[off], &v, 4);
    write_file(path(MapKind::kPasswd), bad);
    fresh_reader();
    LookupResult r = getpw(u.name);
    bool checked = off < 24 || (off >= 40 && off < 80) || (off >= 128 && off < 152 && off != 136);
    if (checked) {
      EXPECT_EQ(r, LookupResult::kMiss) << "header offset " << off;
    }
  }
}

// ---- Writers: the lock, SIGKILL, several writers, fork -------------------------------------

struct KillAt {
  WriterStage stage;
  int fd;  // pipe to the parent
};

void stall_at(WriterStage s, void* ctx) {
  auto* k = static_cast<KillAt*>(ctx);
  if (s != k->stage) return;
  char c = 'x';
  if (write(k->fd, &c, 1) != 1) _exit(3);
  for (;;) pause();  // holding the lock, mid-operation, until SIGKILL
}

class FastCacheKillTest : public FastCacheTest, public ::testing::WithParamInterface<WriterStage> {};

// The next put takes the lock at once: far under a 60 s lock_timeout, which
// a lock left held by the dead writer would make it wait out (and then fail busy).
TEST_P(FastCacheKillTest, AWriterKilledHoldingTheLockDoesNotWedgeTheNext) {
  FastCacheOptions o = small();
  o.lock_timeout = 60s;
  auto w = open(MapKind::kPasswd, o);
  for (int i = 1; i <= 20; ++i) ASSERT_TRUE(w->put_user(dataset_user(i), 60s));
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(p[0]);
    KillAt k{GetParam(), p[1]};
    FastCacheOptions co = o;
    co.test_hook = stall_at;
    co.test_hook_ctx = &k;
    auto cw = FastCacheWriter::open(dir_, MapKind::kPasswd, co);
    if (!cw) _exit(2);
    User v = dataset_user(500);
    if (GetParam() == WriterStage::kRenamed) {
      (void)(*cw)->invalidate();
    } else {
      (void)(*cw)->put_user(v, 60s);
    }
    _exit(4);  // the hook never returns
  }
  close(p[1]);
  char c;
  ASSERT_EQ(read(p[0], &c, 1), 1) << "the child did not reach the stage";
  close(p[0]);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto start = std::chrono::steady_clock::now();
  User u = dataset_user(21);
  ASSERT_TRUE(w->put_user(u, 60s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s) << "the put waited for the dead writer's lock";
  EXPECT_EQ(getpw(u.name, &u), LookupResult::kHit);
  if (GetParam() != WriterStage::kRenamed) {
    for (int i = 1; i <= 20; ++i) {
      User v = dataset_user(i);
      EXPECT_EQ(getpw(v.name, &v), LookupResult::kHit) << i;
    }
  }
  // Many more writes on top of whatever the dead writer left: all consistent.
  for (int i = 100; i < 1500; ++i) ASSERT_TRUE(w->put_user(dataset_user(i), 60s));
  for (int i = 1400; i < 1500; ++i) {
    User v = dataset_user(i);
    EXPECT_EQ(getpw(v.name, &v), LookupResult::kHit) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Stages, FastCacheKillTest,
                         ::testing::Values(WriterStage::kLocked, WriterStage::kReserved, WriterStage::kWritten,
                                           WriterStage::kRenamed));

TEST_F(FastCacheTest, SeveralWritersShareOneMap) {
  auto a = open(MapKind::kPasswd, small());
  auto b = open(MapKind::kPasswd, small());
  for (int i = 1; i <= 40; ++i) ASSERT_TRUE((i % 2 ? a : b)->put_user(dataset_user(i), 60s));
  EXPECT_EQ(a->stats()->inserts, 40u);
  ASSERT_TRUE(b->resize(96 << 10));  // a notices and follows
  User u = dataset_user(41);
  ASSERT_TRUE(a->put_user(u, 60s));
  EXPECT_EQ(a->stats()->size_bytes, 96u << 10);
  EXPECT_EQ(b->stats()->inserts, 1u);
  EXPECT_EQ(getpw(u.name, &u), LookupResult::kHit);
  // Threads sharing one writer, in a map roomy enough that no probe window
  // fills: in a full window the oldest record loses its entry (a cache's
  // eviction, and which record is oldest depends on the threads' order), so
  // in the 96 KiB map 1 run in ~100 lost one of the 400.
  ASSERT_TRUE(b->resize(1 << 20));
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) EXPECT_TRUE(a->put_user(dataset_user(1000 + t * 100 + i), 60s));
    });
  for (auto& t : ts) t.join();
  for (int i = 1000; i < 1400; ++i) EXPECT_EQ(getpw(dataset_user(i).name), LookupResult::kHit) << i;
}

TEST_F(FastCacheTest, ThreadsShareAWriterWhileAnotherReplacesTheFile) {
  auto a = open(MapKind::kPasswd, small());
  auto b = open(MapKind::kPasswd, small());
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) EXPECT_TRUE(a->put_user(dataset_user(2000 + t * 200 + i), 60s));
    });
  ts.emplace_back([&] {
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(i % 2 ? b->invalidate() : b->resize((64 + 16 * (i % 4)) << 10));
  });
  for (auto& t : ts) t.join();
  User u = dataset_user(1);
  ASSERT_TRUE(a->put_user(u, 60s));
  EXPECT_EQ(a->stats()->generation, b->stats()->generation);
  EXPECT_EQ(getpw(u.name, &u), LookupResult::kHit);
}

TEST_F(FastCacheTest, AForkedChildReadsTheInheritedMapping) {
  auto w = open(MapKind::kPasswd, small());
  User u = dataset_user(30);
  ASSERT_TRUE(w->put_user(u, 60s));
  ASSERT_EQ(getpw(u.name), LookupResult::kHit);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct passwd pw;
    char buf[512];
    bool ok = reader_->passwd_by_name(u.name.c_str(), &pw, buf, sizeof buf) == LookupResult::kHit &&
              pw.pw_uid == u.uid;
    // And it follows an invalidation on its own.
    ok = ok && w->invalidate().is_ok();
    ok = ok && reader_->passwd_by_name(u.name.c_str(), &pw, buf, sizeof buf) == LookupResult::kMiss;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(getpw(u.name), LookupResult::kMiss) << "the child's invalidation reached the parent";
}

TEST_F(FastCacheTest, NoDirectoryOrNoFileIsAMiss) {
  FastCacheReader r;
  struct passwd pw;
  char buf[256];
  EXPECT_EQ(r.passwd_by_name("root", &pw, buf, sizeof buf), LookupResult::kMiss);  // no directory set
  r.set_directory("/nonexistent/fastid");
  EXPECT_EQ(r.passwd_by_name("root", &pw, buf, sizeof buf), LookupResult::kMiss);
  EXPECT_EQ(r.passwd_by_name(nullptr, &pw, buf, sizeof buf), LookupResult::kMiss);
  EXPECT_EQ(r.passwd_by_name("", &pw, buf, sizeof buf), LookupResult::kMiss);
  r.reset();
}

// A global reader needs no constructor to run (the client library has one).
constinit FastCacheReader g_reader;
TEST(FastCacheReaderStatic, IsConstantInitialised) {
  struct passwd pw;
  char buf[16];
  EXPECT_EQ(g_reader.passwd_by_uid(0, &pw, buf, sizeof buf), LookupResult::kMiss);
}

}  // namespace
