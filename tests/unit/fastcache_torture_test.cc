// Torture: one writer churns a small passwd map (insert, overwrite, evict,
// invalidate, resize, heartbeat, negative answers) while reader threads, then
// reader processes, look up random users by name and by uid. Every record a
// reader returns is checked against the checksum that scripts/gen-dataset put
// in its gecos field ("User N;ck=<djb2 of name:uid:gid:dir:/bin/sh>") and
// against the key it was asked for. Prints reads done and inconsistent reads;
// fails on any inconsistent read. FASTCACHE_TORTURE_SECONDS sets each phase's
// length (default 10).
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fastcache/reader.h"
#include "fastcache/writer.h"

namespace {

using namespace std::chrono_literals;
using fastid::fastcache::FastCacheOptions;
using fastid::fastcache::FastCacheReader;
using fastid::fastcache::FastCacheWriter;
using fastid::fastcache::LookupResult;
using fastid::fastcache::MapKind;
using fastid::model::User;

constexpr int kUsers = 2000;
constexpr int kReaders = 4;
// Most traffic goes to a hot set a little larger than the ring holds, so
// readers keep copying records at the ring's tail just as the writer laps them.
constexpr int kHot = 120;

size_t pick(uint64_t r) { return r % 10 != 0 ? (r >> 4) % kHot : (r >> 4) % kUsers; }

// The awk ck() of scripts/gen-dataset.
uint32_t dataset_ck(const std::string& s) {
  uint64_t h = 5381;
  for (unsigned char c : s) h = (h * 33 + c) % 4294967296ull;
  return static_cast<uint32_t>(h);
}

std::string ck_body(const char* name, uint32_t uid, uint32_t gid, const char* dir, const char* shell) {
  return std::string(name) + ":" + std::to_string(uid) + ":" + std::to_string(gid) + ":" + dir + ":" + shell;
}

// Checks one returned record: the key asked for, the dataset's checksum, and
// the user number in the gecos against the name. False = an inconsistent read.
bool consistent(const struct passwd& pw, const char* want_name, long want_uid) {
  if (want_name != nullptr && std::strcmp(pw.pw_name, want_name) != 0) return false;
  if (want_uid >= 0 && pw.pw_uid != static_cast<uint32_t>(want_uid)) return false;
  if (std::strcmp(pw.pw_passwd, "x") != 0 || std::strcmp(pw.pw_shell, "/bin/sh") != 0) return false;
  unsigned n = 0, ck = 0;
  if (std::sscanf(pw.pw_gecos, "User %u;ck=%u", &n, &ck) != 2) return false;
  char name[32];
  std::snprintf(name, sizeof name, "user%05u", n);
  if (std::strcmp(name, pw.pw_name) != 0 || pw.pw_uid != 100000 + n) return false;
  return dataset_ck(ck_body(pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir, pw.pw_shell)) == ck;
}

// The writer appends ";v=<version>;<dots>;c=<ck2>" to each gecos: ck2 covers the
// whole record, version and padding included, so that a copy mixing two
// versions of the same user (which the dataset checksum cannot tell apart) fails too.
std::string whole_body(const std::string& gecos_head, const struct passwd& pw) {
  return gecos_head + ":" + pw.pw_name + ":" + std::to_string(pw.pw_uid) + ":" + std::to_string(pw.pw_gid) + ":" +
         pw.pw_dir + ":" + pw.pw_shell;
}
bool consistent_version(const struct passwd& pw, const char* want_name, long want_uid) {
  if (!consistent(pw, want_name, want_uid)) return false;
  std::string g = pw.pw_gecos;
  size_t at = g.rfind(";c=");
  if (at == std::string::npos || g.find(";v=") == std::string::npos) return false;
  return std::to_string(dataset_ck(whole_body(g.substr(0, at), pw))) == g.substr(at + 3);
}

struct Counts {
  uint64_t reads = 0, hits = 0, negative = 0, misses = 0, erange = 0, inconsistent = 0;
  void add(const Counts& o) {
    reads += o.reads;
    hits += o.hits;
    negative += o.negative;
    misses += o.misses;
    erange += o.erange;
    inconsistent += o.inconsistent;
  }
};

class FastCacheTorture : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* s = getenv("FASTCACHE_TORTURE_SECONDS");
    seconds_ = s != nullptr && atoi(s) > 0 ? atoi(s) : 10;
    const char* t = getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/fastcache_torture.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    load_dataset();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The users of scripts/gen-dataset, each line's checksum verified on load so
  // that this file's ck() is proven equal to the generator's.
  void load_dataset() {
    std::string data = dir_ + "/dataset";
    std::string cmd = std::string("sh '") + FASTID_SOURCE_DIR + "/scripts/gen-dataset' '" + data + "' " +
                      std::to_string(kUsers) + " 100 3";
    ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
    std::ifstream f(data + "/passwd");
    std::string line;
    while (std::getline(f, line)) {
      std::vector<std::string> v;
      std::stringstream ss(line);
      std::string field;
      while (std::getline(ss, field, ':')) v.push_back(field);
      ASSERT_EQ(v.size(), 7u) << line;
      User u;
      u.name = v[0];
      u.uid = static_cast<uint32_t>(std::stoul(v[2]));
      u.gid = static_cast<uint32_t>(std::stoul(v[3]));
      u.gecos = v[4];
      u.dir = v[5];
      u.shell = v[6];
      struct passwd pw {};
      pw.pw_name = u.name.data();
      pw.pw_passwd = const_cast<char*>("x");
      pw.pw_uid = u.uid;
      pw.pw_gid = u.gid;
      pw.pw_gecos = u.gecos.data();
      pw.pw_dir = u.dir.data();
      pw.pw_shell = u.shell.data();
      ASSERT_TRUE(consistent(pw, nullptr, -1)) << "checksum differs from gen-dataset's: " << line;
      users_.push_back(u);
    }
    ASSERT_EQ(users_.size(), size_t(kUsers));
  }

  // The churning writer, until `stop`. Records vary in length (a suffix after
  // the checksum) so that overwrites never land on the same boundaries.
  void writer_loop(FastCacheWriter& w, std::atomic<bool>& stop) {
    std::mt19937_64 rng(42);
    auto last_inval = std::chrono::steady_clock::now(), last_resize = last_inval, last_beat = last_inval;
    bool big = false;
    uint64_t version = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_beat > 100ms) {
        EXPECT_TRUE(w.heartbeat());
        last_beat = now;
      }
      if (now - last_inval > 300ms) {
        EXPECT_TRUE(w.invalidate());
        ++invalidations_;
        last_inval = now;
      }
      if (now - last_resize > 1100ms) {
        big = !big;
        EXPECT_TRUE(w.resize(big ? 32 << 10 : 20 << 10));
        ++resizes_;
        last_resize = now;
      }
      for (int i = 0; i < 64; ++i) {
        uint64_t r = rng();
        if (r % 50 == 0) {
          EXPECT_TRUE(w.put_negative_user_name("nouser" + std::to_string(r % 100), 1s));
          continue;
        }
        User u = users_[pick(r >> 8)];
        u.gecos += ";v=" + std::to_string(++version) + ";" + std::string((r >> 32) % 40, '.');
        struct passwd pw {};
        pw.pw_name = u.name.data();
        pw.pw_uid = u.uid;
        pw.pw_gid = u.gid;
        pw.pw_dir = u.dir.data();
        pw.pw_shell = u.shell.data();
        u.gecos += ";c=" + std::to_string(dataset_ck(whole_body(u.gecos, pw)));
        EXPECT_TRUE(w.put_user(u, (r >> 8) % 8 == 0 ? 50ms : 30s));
        ++puts_;
      }
    }
  }

  // One reader's loop (thread or process) for `seconds`.
  Counts reader_loop(FastCacheReader& reader, uint64_t seed, std::chrono::steady_clock::time_point until) {
    Counts c;
    std::mt19937_64 rng(seed);
    std::vector<char> buf(1024);
    struct passwd pw;
    while (std::chrono::steady_clock::now() < until) {
      for (int i = 0; i < 256; ++i) {
        uint64_t r = rng();
        size_t buflen = r % 16 == 0 ? 40 + (r >> 16) % 80 : buf.size();  // sometimes too small
        LookupResult res;
        const User& u = users_[pick(r >> 24)];
        bool by_name = (r >> 8) & 1;
        if ((r >> 9) % 64 == 0) {
          std::string ghost = "nouser" + std::to_string((r >> 40) % 100);
          res = reader.passwd_by_name(ghost.c_str(), &pw, buf.data(), buflen);
          if (res == LookupResult::kHit) ++c.inconsistent;  // never published positive
        } else if (by_name) {
          res = reader.passwd_by_name(u.name.c_str(), &pw, buf.data(), buflen);
          if (res == LookupResult::kHit && !consistent_version(pw, u.name.c_str(), -1)) ++c.inconsistent;
          if (res == LookupResult::kNegativeHit) ++c.inconsistent;
        } else {
          res = reader.passwd_by_uid(u.uid, &pw, buf.data(), buflen);
          if (res == LookupResult::kHit && !consistent_version(pw, nullptr, u.uid)) ++c.inconsistent;
          if (res == LookupResult::kNegativeHit) ++c.inconsistent;
        }
        ++c.reads;
        c.hits += res == LookupResult::kHit;
        c.negative += res == LookupResult::kNegativeHit;
        c.misses += res == LookupResult::kMiss;
        c.erange += res == LookupResult::kErange;
      }
    }
    return c;
  }

  std::unique_ptr<FastCacheWriter> open_writer() {
    FastCacheOptions o;
    o.size_bytes = 20 << 10;  // a ring of ~12 KiB, ~80 records: evicting all the time
    o.max_record = 4096;
    o.stale_after = 5s;
    auto w = FastCacheWriter::open(dir_, MapKind::kPasswd, o);
    EXPECT_TRUE(w.has_value());
    return w.has_value() ? std::move(*w) : nullptr;
  }

  void report(const char* what, const Counts& c, uint64_t torn) {
    std::printf(
        "[torture %s] %d s: reads %llu (hits %llu, negative %llu, misses %llu, erange %llu), "
        "inconsistent reads %llu, torn copies detected and retried %llu; writer: puts %llu, "
        "invalidations %llu, resizes %llu\n",
        what, seconds_, (unsigned long long)c.reads, (unsigned long long)c.hits, (unsigned long long)c.negative,
        (unsigned long long)c.misses, (unsigned long long)c.erange, (unsigned long long)c.inconsistent,
        (unsigned long long)torn, (unsigned long long)puts_.load(), (unsigned long long)invalidations_.load(),
        (unsigned long long)resizes_.load());
    std::fflush(stdout);
  }

  int seconds_ = 10;
  std::string dir_;
  std::vector<User> users_;
  std::atomic<uint64_t> puts_{0}, invalidations_{0}, resizes_{0};
};

TEST_F(FastCacheTorture, ReaderThreadsAgainstAChurningWriter) {
  auto w = open_writer();
  ASSERT_TRUE(w);
  FastCacheReader reader;  // one per process, shared by its threads, as in libfastid
  reader.set_directory(dir_.c_str());
  std::atomic<bool> stop{false};
  std::thread writer([&] { writer_loop(*w, stop); });
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds_);
  std::vector<Counts> counts(kReaders);
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) readers.emplace_back([&, t] { counts[t] = reader_loop(reader, 1000 + t, until); });
  for (auto& t : readers) t.join();
  stop = true;
  writer.join();
  Counts total;
  for (auto& c : counts) total.add(c);
  report("threads", total, reader.torn_copies());
  reader.reset();
  EXPECT_EQ(total.inconsistent, 0u);
  EXPECT_GT(total.hits, 1000u);
  EXPECT_GT(invalidations_.load(), 0u);
}

TEST_F(FastCacheTorture, ReaderProcessesAgainstAChurningWriter) {
  auto w = open_writer();
  ASSERT_TRUE(w);
  // Readers are forked before the writer thread starts (a child of a
  // multi-threaded process may only use async-signal-safe calls); they wait
  // for the start byte, run, and send their counts back.
  int start[2];
  ASSERT_EQ(pipe(start), 0);
  std::vector<pid_t> pids;
  std::vector<int> results;
  for (int p = 0; p < kReaders; ++p) {
    int res[2];
    ASSERT_EQ(pipe(res), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(start[1]);
      close(res[0]);
      char c;
      if (read(start[0], &c, 1) != 1) _exit(2);
      FastCacheReader reader;
      reader.set_directory(dir_.c_str());
      Counts cnt = reader_loop(reader, 2000 + p, std::chrono::steady_clock::now() + std::chrono::seconds(seconds_));
      uint64_t out[7] = {cnt.reads, cnt.hits, cnt.negative, cnt.misses, cnt.erange, cnt.inconsistent,
                         reader.torn_copies()};
      _exit(write(res[1], out, sizeof out) == sizeof out ? 0 : 3);
    }
    close(res[1]);
    pids.push_back(pid);
    results.push_back(res[0]);
  }
  close(start[0]);
  std::atomic<bool> stop{false};
  std::thread writer([&] { writer_loop(*w, stop); });
  char go[kReaders] = {};
  ASSERT_EQ(write(start[1], go, sizeof go), static_cast<ssize_t>(sizeof go));
  close(start[1]);
  Counts total;
  uint64_t torn = 0;
  for (int p = 0; p < kReaders; ++p) {
    uint64_t in[7] = {};
    EXPECT_EQ(read(results[p], in, sizeof in), static_cast<ssize_t>(sizeof in)) << "reader process " << p;
    close(results[p]);
    Counts c{in[0], in[1], in[2], in[3], in[4], in[5]};
    total.add(c);
    torn += in[6];
    int status = 0;
    EXPECT_EQ(waitpid(pids[p], &status, 0), pids[p]);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "reader process " << p << " status " << status;
  }
  stop = true;
  writer.join();
  report("processes", total, torn);
  EXPECT_EQ(total.inconsistent, 0u);
  EXPECT_GT(total.hits, 1000u);
}

}  // namespace
