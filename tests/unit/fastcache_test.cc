// The fast cache, specified by example: the file layout at its documented
// offsets; lookups by name and id for every map; ERANGE; hashing with a
// per-file seed and collisions forced through a tiny index; FIFO eviction;
// expiry; record sizes; names with unusual bytes; negative answers; one key
// removed for administrators. The file's life (invalidation, heartbeat,
// restart, damage, writers that die or share it, fork) is in
// fastcache_lifecycle_test.cc, the same ctest binary. docs/fastcache.md is
// the prose version.
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

}  // namespace
