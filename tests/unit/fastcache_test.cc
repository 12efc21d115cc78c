// The fast cache, specified by example: the file layout at its documented
// offsets; lookups by name and id for every map; ERANGE; hashing with a
// per-file seed and collisions forced through a tiny index; FIFO eviction;
// expiry; record sizes; names with unusual bytes; negative answers;
// invalidation (a reader re-maps and never answers from the old file); a stale
// heartbeat; truncated, garbage and corrupt files (a miss, never a crash); a
// writer SIGKILLed while holding the lock (the next writer is not wedged);
// several writers; fork. docs/fastcache.md is the prose version.
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

namespace {

using namespace std::chrono_literals;
using fastid::fastcache::FastCacheOptions;
using fastid::fastcache::FastCacheReader;
using fastid::fastcache::FastCacheStats;
using fastid::fastcache::FastCacheWriter;
using fastid::fastcache::LookupResult;
using fastid::fastcache::MapKind;
using fastid::fastcache::WriterStage;
using fastid::model::Group;
using fastid::model::User;
namespace fc = fastid::fastcache;

// The dataset's users (scripts/gen-dataset): gecos carries a checksum of the rest.
uint32_t dataset_ck(const std::string& s) {
  uint64_t h = 5381;
  for (unsigned char c : s) h = (h * 33 + c) % 4294967296ull;
  return static_cast<uint32_t>(h);
}
User dataset_user(int i) {
  char name[16];
  snprintf(name, sizeof name, "user%05d", i);
  User u;
  u.name = name;
  u.uid = 100000 + i;
  u.gid = 200000 + ((i - 1) % 1000) + 1;
  u.dir = "/home/" + u.name;
  u.shell = "/bin/sh";
  std::string body = u.name + ":" + std::to_string(u.uid) + ":" + std::to_string(u.gid) + ":" + u.dir + ":/bin/sh";
  u.gecos = "User " + std::to_string(i) + ";ck=" + std::to_string(dataset_ck(body));
  return u;
}
Group dataset_group(int g, int members) {
  char name[16];
  snprintf(name, sizeof name, "group%04d", g);
  Group gr;
  gr.name = name;
  gr.gid = 200000 + g;
  for (int m = 0; m < members; ++m) gr.members.push_back(dataset_user(1 + (g * 37 + m * 101) % 10000).name);
  return gr;
}

class FastCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* t = getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/fastcache_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    reader_ = std::make_unique<FastCacheReader>();
    reader_->set_directory(dir_.c_str());
  }
  void TearDown() override {
    reader_->reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<FastCacheWriter> open(MapKind kind, FastCacheOptions o = {}) {
    auto w = FastCacheWriter::open(dir_, kind, o);
    EXPECT_TRUE(w.has_value()) << (w.has_value() ? "" : w.error().to_string());
    return w.has_value() ? std::move(*w) : nullptr;
  }
  std::string path(MapKind k) const { return dir_ + "/" + fc::map_file_name(k); }

  // Looks a user up by name; on a hit checks every field against `want`.
  LookupResult getpw(const std::string& name, const User* want = nullptr) {
    struct passwd pw;
    char buf[8192];
    LookupResult r = reader_->passwd_by_name(name.c_str(), &pw, buf, sizeof buf);
    if (r == LookupResult::kHit && want != nullptr) expect_user(pw, *want);
    return r;
  }
  LookupResult getpwuid(uint32_t uid, const User* want = nullptr) {
    struct passwd pw;
    char buf[8192];
    LookupResult r = reader_->passwd_by_uid(uid, &pw, buf, sizeof buf);
    if (r == LookupResult::kHit && want != nullptr) expect_user(pw, *want);
    return r;
  }
  static void expect_user(const struct passwd& pw, const User& u) {
    EXPECT_EQ(pw.pw_name, u.name);
    EXPECT_STREQ(pw.pw_passwd, "x");
    EXPECT_EQ(pw.pw_uid, u.uid);
    EXPECT_EQ(pw.pw_gid, u.gid);
    EXPECT_EQ(pw.pw_gecos, u.gecos);
    EXPECT_EQ(pw.pw_dir, u.dir);
    EXPECT_EQ(pw.pw_shell, u.shell);
  }
  static std::vector<std::string> members(const struct group& gr) {
    std::vector<std::string> v;
    for (char** m = gr.gr_mem; *m != nullptr; ++m) v.push_back(*m);
    return v;
  }

  std::string dir_;
  std::unique_ptr<FastCacheReader> reader_;
};

FastCacheOptions small(uint64_t size = 64 << 10) {
  FastCacheOptions o;
  o.size_bytes = size;
  o.max_record = 4096;
  return o;
}

// ---- Layout ---------------------------------------------------------------------------

TEST_F(FastCacheTest, HeaderAndRecordAtDocumentedOffsets) {
  auto w = open(MapKind::kPasswd, small());
  ASSERT_TRUE(w);
  User u = dataset_user(7);
  ASSERT_TRUE(w->put_user(u, 60s));

  struct stat st;
  ASSERT_EQ(stat(path(MapKind::kPasswd).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 64u << 10);
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, 64u << 10) << "blocks must be preallocated";

  std::ifstream f(path(MapKind::kPasswd), std::ios::binary);
  std::vector<unsigned char> b((std::istreambuf_iterator<char>(f)), {});
  auto u64 = [&](size_t o) { uint64_t v; std::memcpy(&v, &b[o], 8); return v; };
  auto u32 = [&](size_t o) { uint32_t v; std::memcpy(&v, &b[o], 4); return v; };
  EXPECT_EQ(std::string(reinterpret_cast<char*>(&b[0]), 8), "FASTIDMC");
  EXPECT_EQ(u32(8), 2u);                      // format version
  EXPECT_EQ(u32(12), 1u);                     // kind: passwd
  EXPECT_EQ(u64(16), 64u << 10);              // file size
  EXPECT_EQ(u64(24), 1u);                     // first generation
  EXPECT_EQ(u64(40), 4096u);                  // index right after the header page
  EXPECT_EQ(u32(52), 2u);                     // passwd: by name and by uid
  uint32_t entries = u32(48);
  EXPECT_EQ(entries & (entries - 1), 0u);
  uint64_t data = u64(56);
  EXPECT_GE(data, 4096 + 2ull * entries * 8);
  EXPECT_EQ(u32(72), 16u);                    // probe limit
  EXPECT_EQ(u64(128), 0u);                    // state: live
  EXPECT_NE(u64(136), 0u);                    // heartbeat
  EXPECT_EQ(u64(144), 0u);                    // tail: nothing evicted
  uint64_t strings_len = u.name.size() + 1 + 2 + u.gecos.size() + 1 + u.dir.size() + 1 + u.shell.size() + 1;
  uint64_t rec_len = 40 + fc::pad8(strings_len);
  EXPECT_EQ(u64(192), rec_len);               // head: right after the one record
  // The record, at the start of the ring.
  EXPECT_EQ(b[data + 0], 1);                  // type passwd
  EXPECT_EQ(b[data + 1], 0);                  // flags: positive
  EXPECT_EQ(u32(data + 4), rec_len);          // length, padded to 8
  EXPECT_EQ(u32(data + 16), u.uid);
  EXPECT_EQ(u32(data + 20), u.gid);
  uint32_t strings = u32(data + 28);
  EXPECT_EQ(strings, strings_len);
  auto u16 = [&](size_t o) { uint16_t v; std::memcpy(&v, &b[o], 2); return v; };
  EXPECT_EQ(u16(data + 32), u.name.size());   // field lengths: name, passwd, gecos, dir
  EXPECT_EQ(u16(data + 34), 1u);
  EXPECT_EQ(u16(data + 36), u.gecos.size());
  EXPECT_EQ(u16(data + 38), u.dir.size());
  std::string area(reinterpret_cast<char*>(&b[data + 40]), strings);
  EXPECT_EQ(area, u.name + '\0' + "x" + '\0' + u.gecos + '\0' + u.dir + '\0' + u.shell + '\0');
  // Its index entry: tag in the top 16 bits, position / 8 below.
  uint64_t seed = u64(32);
  uint64_t h = fc::hash_name(u.name.data(), u.name.size(), seed);
  bool found = false;
  for (uint32_t n = 0; n < 16 && !found; ++n) {
    uint64_t e = u64(4096 + ((h + n) & (entries - 1)) * 8);
    found = e == fc::make_entry(fc::hash_tag(h), 0);
  }
  EXPECT_TRUE(found);
}

TEST_F(FastCacheTest, EveryMapRoundTrips) {
  auto pw = open(MapKind::kPasswd);
  auto gr = open(MapKind::kGroup);
  auto ig = open(MapKind::kInitgroups);
  ASSERT_TRUE(pw && gr && ig);
  User u = dataset_user(42);
  Group g = dataset_group(5, 30);
  std::vector<uint32_t> gids = {200005, 200017, 200999};
  ASSERT_TRUE(pw->put_user(u, 60s));
  ASSERT_TRUE(gr->put_group(g, 60s));
  ASSERT_TRUE(ig->put_initgroups(u.name, gids, 60s));

  EXPECT_EQ(getpw(u.name, &u), LookupResult::kHit);
  EXPECT_EQ(getpwuid(u.uid, &u), LookupResult::kHit);

  struct group grp;
  char buf[4096];
  ASSERT_EQ(reader_->group_by_name(g.name.c_str(), &grp, buf, sizeof buf), LookupResult::kHit);
  EXPECT_EQ(grp.gr_name, g.name);
  EXPECT_STREQ(grp.gr_passwd, "x");
  EXPECT_EQ(grp.gr_gid, g.gid);
  EXPECT_EQ(members(grp), g.members);
  ASSERT_EQ(reader_->group_by_gid(g.gid, &grp, buf + 3, sizeof buf - 3), LookupResult::kHit);  // unaligned buffer
  EXPECT_EQ(reinterpret_cast<uintptr_t>(grp.gr_mem) % alignof(char*), 0u);
  EXPECT_EQ(members(grp), g.members);

  gid_t out[8];
  size_t n = 8;
  ASSERT_EQ(reader_->initgroups(u.name.c_str(), out, &n), LookupResult::kHit);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(std::vector<uint32_t>(out, out + 3), gids);
  n = 2;
  EXPECT_EQ(reader_->initgroups(u.name.c_str(), out, &n), LookupResult::kErange);
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(out[0], 200005u);
  EXPECT_EQ(out[1], 200017u);

  EXPECT_EQ(getpw("user99999"), LookupResult::kMiss);
  EXPECT_EQ(getpwuid(12345), LookupResult::kMiss);
}

TEST_F(FastCacheTest, PasswordHashesAreNeverStored) {
  auto w = open(MapKind::kPasswd, small());
  User u = dataset_user(1);
  u.passwd = "$6$salt$hash";
  ASSERT_TRUE(w->put_user(u, 60s));
  struct passwd pw;
  char buf[1024];
  ASSERT_EQ(reader_->passwd_by_name(u.name.c_str(), &pw, buf, sizeof buf), LookupResult::kHit);
  EXPECT_STREQ(pw.pw_passwd, "x");
  std::ifstream f(path(MapKind::kPasswd), std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(all.find("$6$"), std::string::npos);
}

TEST_F(FastCacheTest, ErangeAtOneByteShortAndExactSizeWorks) {
  auto w = open(MapKind::kPasswd, small());
  auto g = open(MapKind::kGroup, small());
  User u = dataset_user(3);
  Group grp = dataset_group(9, 4);
  ASSERT_TRUE(w->put_user(u, 60s));
  ASSERT_TRUE(g->put_group(grp, 60s));
  size_t need = u.name.size() + 1 + 2 + u.gecos.size() + 1 + u.dir.size() + 1 + u.shell.size() + 1;
  std::vector<char> buf(need);
  struct passwd pw;
  EXPECT_EQ(reader_->passwd_by_name(u.name.c_str(), &pw, buf.data(), need - 1), LookupResult::kErange);
  EXPECT_EQ(reader_->passwd_by_uid(u.uid, &pw, buf.data(), need - 1), LookupResult::kErange);
  EXPECT_EQ(reader_->passwd_by_uid(u.uid, &pw, nullptr, 0), LookupResult::kErange);
  ASSERT_EQ(reader_->passwd_by_name(u.name.c_str(), &pw, buf.data(), need), LookupResult::kHit);
  expect_user(pw, u);

  alignas(8) char gbuf[512];
  size_t chars = grp.name.size() + 1 + 2;
  for (auto& m : grp.members) chars += m.size() + 1;
  size_t gneed = (grp.members.size() + 1) * sizeof(char*) + chars;
  struct group gr;
  EXPECT_EQ(reader_->group_by_name(grp.name.c_str(), &gr, gbuf, gneed - 1), LookupResult::kErange);
  ASSERT_EQ(reader_->group_by_name(grp.name.c_str(), &gr, gbuf, gneed), LookupResult::kHit);
  EXPECT_EQ(members(gr), grp.members);
}

// ---- Hashing and collisions ------------------------------------------------------------

TEST_F(FastCacheTest, EachFileHasItsOwnSeed) {
  auto w = open(MapKind::kPasswd, small());
  auto seed = [&] {
    std::ifstream f(path(MapKind::kPasswd), std::ios::binary);
    uint64_t s[5];
    f.read(reinterpret_cast<char*>(s), sizeof s);
    return s[4];
  };
  uint64_t a = seed();
  ASSERT_TRUE(w->invalidate());
  uint64_t b = seed();
  EXPECT_NE(a, b);
  EXPECT_NE(fc::hash_name("alice", 5, a), fc::hash_name("alice", 5, b));
}

TEST_F(FastCacheTest, TinyIndexForcesCollisionsButNeverAWrongAnswer) {
  FastCacheOptions o = small();
  o.index_entries = 8;  // every key collides with most others
  o.probe_limit = 8;
  auto w = open(MapKind::kPasswd, o);
  for (int i = 1; i <= 6; ++i) ASSERT_TRUE(w->put_user(dataset_user(i), 60s));
  for (int i = 1; i <= 6; ++i) {
    User u = dataset_user(i);
    EXPECT_EQ(getpw(u.name, &u), LookupResult::kHit) << i;
    EXPECT_EQ(getpwuid(u.uid, &u), LookupResult::kHit) << i;
  }
  // Far more keys than entries: each is found with its own data, or missed.
  int hits = 0;
  for (int i = 7; i <= 60; ++i) ASSERT_TRUE(w->put_user(dataset_user(i), 60s));
  for (int i = 1; i <= 60; ++i) {
    User u = dataset_user(i);
    LookupResult r = getpw(u.name, &u);
    EXPECT_TRUE(r == LookupResult::kHit || r == LookupResult::kMiss);
    hits += r == LookupResult::kHit;
    r = getpwuid(u.uid, &u);
    EXPECT_TRUE(r == LookupResult::kHit || r == LookupResult::kMiss);
  }
  EXPECT_EQ(hits, 8) << "a full index keeps exactly its 8 newest keys";
  for (int i = 53; i <= 60; ++i) EXPECT_EQ(getpw(dataset_user(i).name), LookupResult::kHit) << i;
}

TEST_F(FastCacheTest, OverwriteReplacesTheKeyInPlace) {
  FastCacheOptions o = small();
  o.index_entries = 8;
  o.probe_limit = 8;
  auto w = open(MapKind::kPasswd, o);
  User u = dataset_user(1);
  for (int i = 0; i < 100; ++i) {
    u.gecos = "version " + std::to_string(i);
    ASSERT_TRUE(w->put_user(u, 60s));
  }
  User other = dataset_user(2);
  ASSERT_TRUE(w->put_user(other, 60s));
  EXPECT_EQ(getpw(u.name, &u), LookupResult::kHit) << "newest copy";
  EXPECT_EQ(getpw(other.name, &other), LookupResult::kHit) << "old copies do not crowd the index";
}

// ---- Eviction, expiry, sizes ----------------------------------------------------------

TEST_F(FastCacheTest, FullRingEvictsOldestFirst) {
  FastCacheOptions o = small(64 << 10);  // ring of ~44 KiB: ~430 users
  o.index_entries = 1024;
  o.probe_limit = 64;                    // the index itself never drops a key here
  auto w = open(MapKind::kPasswd, o);
  int n = 1500;
  for (int i = 1; i <= n; ++i) ASSERT_TRUE(w->put_user(dataset_user(i), 60s));
  auto st = w->stats();
  ASSERT_TRUE(st.has_value());
  EXPECT_GT(st->evictions, 0u);
  EXPECT_EQ(st->inserts, uint64_t(n));
  EXPECT_EQ(st->entries + st->evictions, uint64_t(n));
  // Hits form one suffix of the insertion order: oldest gone, newest there.
  int first_hit = 0;
  for (int i = 1; i <= n; ++i) {
    User u = dataset_user(i);
    LookupResult r = getpw(u.name, &u);
    if (r == LookupResult::kHit && first_hit == 0) first_hit = i;
    if (first_hit != 0) {
      EXPECT_EQ(r, LookupResult::kHit) << "user " << i << " after first hit " << first_hit;
    }
  }
  EXPECT_GT(first_hit, 1);
  EXPECT_EQ(uint64_t(n - first_hit + 1), st->entries);
}

TEST_F(FastCacheTest, ExpiredRecordsAreMisses) {
  auto w = open(MapKind::kPasswd, small());
  User u = dataset_user(5), v = dataset_user(6);
  ASSERT_TRUE(w->put_user(u, 100ms));
  ASSERT_TRUE(w->put_user(v, 60s));
  EXPECT_EQ(getpw(u.name), LookupResult::kHit);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(getpw(u.name), LookupResult::kMiss);
  EXPECT_EQ(getpwuid(u.uid), LookupResult::kMiss);
  EXPECT_EQ(getpw(v.name), LookupResult::kHit);
  EXPECT_FALSE(w->put_user(u, 0ms)) << "a ttl of zero is refused";
}

TEST_F(FastCacheTest, RecordSizesUpToMaxRecordAndWrapAroundTheRing) {
  FastCacheOptions o = small(32 << 10);
  o.max_record = 8192;
  auto w = open(MapKind::kGroup, o);
  // A group bigger than half the default slot sizes of other caches, but within max_record.
  Group big = dataset_group(1, 700);  // ~7 KiB
  ASSERT_TRUE(w->put_group(big, 60s));
  std::vector<char> buf(16384);
  struct group gr;
  ASSERT_EQ(reader_->group_by_name(big.name.c_str(), &gr, buf.data(), buf.size()), LookupResult::kHit);
  EXPECT_EQ(members(gr), big.members);
  // Above max_record: refused by the writer, so a miss (the socket serves it).
  Group huge = dataset_group(2, 2000);
  auto s = w->put_group(huge, 60s);
  EXPECT_FALSE(s);
  EXPECT_EQ(s.code(), fastid::core::Code::kInvalidArgument);
  EXPECT_EQ(reader_->group_by_name(huge.name.c_str(), &gr, buf.data(), buf.size()), LookupResult::kMiss);
  // Mixed sizes many times round the ring: the newest of each is always right.
  for (int i = 0; i < 300; ++i) {
    Group g = dataset_group(3 + i % 50, (i * 37) % 400);
    ASSERT_TRUE(w->put_group(g, 60s));
    ASSERT_EQ(reader_->group_by_gid(g.gid, &gr, buf.data(), buf.size()), LookupResult::kHit) << i;
    EXPECT_EQ(members(gr), g.members);
  }
}

TEST_F(FastCacheTest, DefaultsHoldTheWholeDataset) {
  auto pw = open(MapKind::kPasswd);
  auto gr = open(MapKind::kGroup);
  auto ig = open(MapKind::kInitgroups);
  for (int i = 1; i <= 10000; ++i) {
    User u = dataset_user(i);
    ASSERT_TRUE(pw->put_user(u, 300s));
    uint32_t g[3] = {u.gid, 200000u + (i % 1000) + 1, 200000u + ((i * 7) % 1000) + 1};
    ASSERT_TRUE(ig->put_initgroups(u.name, g, 300s));
  }
  for (int g = 1; g <= 1000; ++g) ASSERT_TRUE(gr->put_group(dataset_group(g, 30), 300s));
  for (auto* w : {pw.get(), gr.get(), ig.get()}) EXPECT_EQ(w->stats()->evictions, 0u);
  int misses = 0;
  for (int i = 1; i <= 10000; ++i) {
    User u = dataset_user(i);
    misses += getpw(u.name) != LookupResult::kHit;
    misses += getpwuid(u.uid) != LookupResult::kHit;
    gid_t out[4];
    size_t n = 4;
    misses += reader_->initgroups(u.name.c_str(), out, &n) != LookupResult::kHit;
  }
  struct group grp;
  char buf[4096];
  for (int g = 1; g <= 1000; ++g) {
    misses += reader_->group_by_gid(200000 + g, &grp, buf, sizeof buf) != LookupResult::kHit;
    misses += reader_->group_by_name(dataset_group(g, 0).name.c_str(), &grp, buf, sizeof buf) != LookupResult::kHit;
  }
  EXPECT_EQ(misses, 0);
}

// ---- Unusual names ----------------------------------------------------------------------

TEST_F(FastCacheTest, NamesWithUnusualBytes) {
  auto w = open(MapKind::kPasswd, small(256 << 10));
  std::vector<std::string> names = {
      "j\xc3\xbcrgen",                         // UTF-8
      "\xe5\x90\x8d\xe5\x89\x8d",              // UTF-8, CJK
      "\xff\xfe-not-utf8",
      "dots.and-dashes_and@signs",
      std::string(255, 'a'),
      std::string(256, 'b'),                   // the longest name
      "x",
  };
  uint32_t uid = 5000;
  for (const auto& n : names) {
    User u = dataset_user(1);
    u.name = n;
    u.uid = uid++;
    u.dir = "/home/" + n.substr(0, 100);
    ASSERT_TRUE(w->put_user(u, 60s)) << n;
  }
  uid = 5000;
  for (const auto& n : names) {
    User u = dataset_user(1);
    u.name = n;
    u.uid = uid++;
    u.dir = "/home/" + n.substr(0, 100);
    EXPECT_EQ(getpw(n, &u), LookupResult::kHit) << n;
    EXPECT_EQ(getpwuid(u.uid, &u), LookupResult::kHit) << n;
  }
  // Prefixes and extensions of stored names are other names.
  EXPECT_EQ(getpw(std::string(254, 'a')), LookupResult::kMiss);
  EXPECT_EQ(getpw("dots"), LookupResult::kMiss);
  EXPECT_EQ(getpw(std::string(257, 'b')), LookupResult::kMiss);
  // What the client would refuse, and what breaks the name rules (blanks,
  // control characters, ','), is never published.
  for (std::string bad : {std::string("a:b"), std::string("a\nb"), std::string(""), std::string(257, 'c'),
                          std::string("john smith"), std::string(" lead"), std::string("tab\there"),
                          std::string("ctl\x01"), std::string("del\x7f"), std::string("a,b")}) {
    User u = dataset_user(2);
    u.name = bad;
    EXPECT_FALSE(w->put_user(u, 60s)) << bad;
  }
  User u = dataset_user(3);
  u.gecos = "evil:field";
  EXPECT_FALSE(w->put_user(u, 60s));
  auto g = open(MapKind::kGroup, small());
  Group grp = dataset_group(1, 2);
  grp.members.push_back("a,b");
  EXPECT_FALSE(g->put_group(grp, 60s));
}

// ---- Negative answers ----------------------------------------------------------------------

TEST_F(FastCacheTest, NegativeAnswersWithTheirOwnTtl) {
  auto w = open(MapKind::kPasswd, small());
  auto g = open(MapKind::kGroup, small());
  auto ig = open(MapKind::kInitgroups, small());
  ASSERT_TRUE(w->put_negative_user_name("ghost", 150ms));
  ASSERT_TRUE(w->put_negative_uid(4242, 150ms));
  ASSERT_TRUE(g->put_negative_group_name("nogroup-x", 60s));
  ASSERT_TRUE(g->put_negative_gid(777, 60s));
  ASSERT_TRUE(ig->put_negative_initgroups("ghost", 60s));
  EXPECT_EQ(getpw("ghost"), LookupResult::kNegativeHit);
  EXPECT_EQ(getpwuid(4242), LookupResult::kNegativeHit);
  EXPECT_EQ(getpwuid(0), LookupResult::kMiss) << "a negative by name is not a negative by id";
  struct group gr;
  char buf[512];
  EXPECT_EQ(reader_->group_by_name("nogroup-x", &gr, buf, sizeof buf), LookupResult::kNegativeHit);
  EXPECT_EQ(reader_->group_by_gid(777, &gr, buf, sizeof buf), LookupResult::kNegativeHit);
  gid_t out[4];
  size_t n = 4;
  EXPECT_EQ(reader_->initgroups("ghost", out, &n), LookupResult::kNegativeHit);
  EXPECT_EQ(g->put_negative_uid(1, 60s).code(), fastid::core::Code::kInvalidArgument) << "wrong map";
  // A positive record replaces a negative one, and the other way round.
  User u = dataset_user(9);
  u.name = "ghost";
  u.uid = 4242;
  ASSERT_TRUE(w->put_user(u, 60s));
  EXPECT_EQ(getpw("ghost", &u), LookupResult::kHit);
  EXPECT_EQ(getpwuid(4242, &u), LookupResult::kHit);
  ASSERT_TRUE(w->put_negative_user_name("ghost", 150ms));
  EXPECT_EQ(getpw("ghost"), LookupResult::kNegativeHit);
  std::this_thread::sleep_for(250ms);
  EXPECT_EQ(getpw("ghost"), LookupResult::kMiss) << "the negative expired";
}

// ---- One key, for administrators (fastid cache show / invalidate user) -----------------

TEST_F(FastCacheTest, RemovingOneUserDropsItUnderBothKeysAndNothingElse) {
  FastCacheOptions o = small();
  o.index_entries = 8;  // collisions: the neighbours share probe windows
  o.probe_limit = 8;
  auto w = open(MapKind::kPasswd, o);
  User a = dataset_user(1), b = dataset_user(2);
  ASSERT_TRUE(w->put_user(a, 60s));
  ASSERT_TRUE(w->put_user(b, 60s));
  ASSERT_TRUE(w->put_negative_user_name("ghost", 60s));
  auto held = w->find(fastid::model::Query::user_by_uid(a.uid));
  ASSERT_TRUE(held.has_value());
  ASSERT_TRUE(held->has_value());
  EXPECT_FALSE((*held)->negative);
  EXPECT_GT((*held)->expires_ns, 0u);
  // Removed by its uid: its name no longer answers either.
  auto gone = w->remove(fastid::model::Query::user_by_uid(a.uid));
  ASSERT_TRUE(gone.has_value());
  EXPECT_TRUE(*gone);
  EXPECT_EQ(getpw(a.name), LookupResult::kMiss);
  EXPECT_EQ(getpwuid(a.uid), LookupResult::kMiss);
  EXPECT_EQ(getpw(b.name, &b), LookupResult::kHit);
  EXPECT_EQ(getpwuid(b.uid, &b), LookupResult::kHit);
  auto again = w->find(fastid::model::Query::user_by_name(a.name));
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->has_value());
  EXPECT_FALSE(*w->remove(fastid::model::Query::user_by_name(a.name))) << "nothing left to remove";
  // A negative answer is removed by its name.
  auto neg = w->find(fastid::model::Query::user_by_name("ghost"));
  ASSERT_TRUE(neg.has_value() && neg->has_value());
  EXPECT_TRUE((*neg)->negative);
  EXPECT_TRUE(*w->remove(fastid::model::Query::user_by_name("ghost")));
  EXPECT_EQ(getpw("ghost"), LookupResult::kMiss);
  // The map takes new records after a removal (the tombstones are reused).
  ASSERT_TRUE(w->put_user(a, 60s));
  EXPECT_EQ(getpw(a.name, &a), LookupResult::kHit);
  // Another map's query, or a name no client could ask for: refused, never a crash.
  EXPECT_EQ(w->remove(fastid::model::Query::group_by_gid(1)).error().code(), fastid::core::Code::kInvalidArgument);
  EXPECT_EQ(w->find(fastid::model::Query::user_by_name(std::string("a:b\n"))).error().code(),
            fastid::core::Code::kInvalidArgument);
}

// ---- Invalidation, heartbeat, restart ------------------------------------------------------

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
  std::this_thread::sleep_for(400ms);
  ASSERT_TRUE(w2->heartbeat());
  EXPECT_EQ(getpw(u.name, &u), LookupResult::kHit);
}

TEST_F(FastCacheTest, StaleHeartbeatMeansMiss) {
  FastCacheOptions o = small();
  o.stale_after = 200ms;
  auto w = open(MapKind::kPasswd, o);
  User u = dataset_user(13);
  ASSERT_TRUE(w->put_user(u, 60s));
  EXPECT_EQ(getpw(u.name), LookupResult::kHit);
  std::this_thread::sleep_for(350ms);
  EXPECT_EQ(getpw(u.name), LookupResult::kMiss) << "the daemon stopped beating";
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

TEST_P(FastCacheKillTest, AWriterKilledHoldingTheLockDoesNotWedgeTheNext) {
  FastCacheOptions o = small();
  o.lock_timeout = 2s;
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
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
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
  // Threads sharing one writer.
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
