// What a lookup asked for stays private (security issue #11, item 6): a
// negative by-name record holds a salted digest, never the name; a negative
// record that a newer one replaced, or that expired, is scrubbed (index entry
// removed, bytes zeroed); bytes of evicted records do not stay in the ring.
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fastcache/layout.h"
#include "fastcache/reader.h"
#include "fastcache/writer.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
namespace fc = fastid::fastcache;
using fc::LookupResult;
using fc::MapKind;

class FastCachePrivacyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(tmp_.path(), "");
    dir_ = tmp_.path();
    reader_.set_directory(dir_.c_str());
  }
  void TearDown() override { reader_.reset(); }

  std::unique_ptr<fc::FastCacheWriter> open(MapKind k, uint64_t size = 64 << 10) {
    fc::FastCacheOptions o;
    o.size_bytes = size;
    o.max_record = 4096;
    auto w = fc::FastCacheWriter::open(dir_, k, o);
    EXPECT_TRUE(w.has_value());
    return w ? std::move(*w) : nullptr;
  }
  std::string bytes(MapKind k) const {
    std::ifstream in(dir_ + "/" + fc::map_file_name(k), std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }
  // The 16 bytes a negative record of `name` holds in the map's current file.
  std::string digest_bytes(MapKind k, const std::string& name) const {
    std::string b = bytes(k);
    uint64_t salt;
    std::memcpy(&salt, b.data() + fc::kOffNameSalt, 8);
    fc::NameDigest d = fc::name_digest(name.data(), name.size(), salt);
    std::string out(16, '\0');
    std::memcpy(out.data(), &d.lo, 8);
    std::memcpy(out.data() + 8, &d.hi, 8);
    return out;
  }
  bool holds(MapKind k, const std::string& what) const { return bytes(k).find(what) != std::string::npos; }
  LookupResult getpw(const std::string& name) {
    struct passwd pw;
    char buf[1024];
    return reader_.passwd_by_name(name.c_str(), &pw, buf, sizeof buf);
  }

  fastid::testing::TempDir tmp_{fastid::testing::tmpdir_or_tmp() + "/fastcache_privacy_test."};
  std::string dir_;
  fc::FastCacheReader reader_;
};

TEST_F(FastCachePrivacyTest, NegativeRecordsHoldADigestNotTheName) {
  const std::string canary = "Canary-Unit-6b1d0c";
  auto pw = open(MapKind::kPasswd);
  auto gr = open(MapKind::kGroup);
  auto ig = open(MapKind::kInitgroups);
  ASSERT_TRUE(pw->put_negative_user_name(canary, 60s));
  ASSERT_TRUE(gr->put_negative_group_name(canary, 60s));
  ASSERT_TRUE(ig->put_negative_initgroups(canary, 60s));
  for (MapKind k : {MapKind::kPasswd, MapKind::kGroup, MapKind::kInitgroups}) {
    EXPECT_FALSE(holds(k, canary)) << fc::map_file_name(k);
    EXPECT_TRUE(holds(k, digest_bytes(k, canary))) << fc::map_file_name(k);
  }
  EXPECT_EQ(getpw(canary), LookupResult::kNegativeHit);
  struct group g;
  alignas(8) char buf[1024];
  EXPECT_EQ(reader_.group_by_name(canary.c_str(), &g, buf, sizeof buf), LookupResult::kNegativeHit);
  size_t n = 0;
  EXPECT_EQ(reader_.initgroups(canary.c_str(), nullptr, &n), LookupResult::kNegativeHit);
  EXPECT_EQ(getpw(canary + "x"), LookupResult::kMiss);
  EXPECT_EQ(getpw(canary.substr(1)), LookupResult::kMiss);
  // Names that break the name rules are not published at all.
  for (std::string bad : {"pass word", "tab\there", "ctl\x01", "a,b"}) {
    EXPECT_FALSE(pw->put_negative_user_name(bad, 60s)) << bad;
    EXPECT_FALSE(holds(MapKind::kPasswd, digest_bytes(MapKind::kPasswd, bad))) << bad;
  }
}

TEST_F(FastCachePrivacyTest, ANegativeRecordReplacedByANewerOneIsZeroed) {
  auto pw = open(MapKind::kPasswd);
  ASSERT_TRUE(pw->put_negative_user_name("newhire", 60s));
  std::string digest = digest_bytes(MapKind::kPasswd, "newhire");
  EXPECT_TRUE(holds(MapKind::kPasswd, digest));
  fastid::model::User u;
  u.name = "newhire";
  u.uid = 7000;
  u.gid = 7000;
  u.dir = "/home/newhire";
  u.shell = "/bin/sh";
  ASSERT_TRUE(pw->put_user(u, 60s));
  EXPECT_FALSE(holds(MapKind::kPasswd, digest));
  EXPECT_EQ(getpw("newhire"), LookupResult::kHit);
  // A negative replaced by a negative: only the newer one's bytes remain (one copy).
  ASSERT_TRUE(pw->put_negative_user_name("typo", 60s));
  ASSERT_TRUE(pw->put_negative_user_name("typo", 60s));
  std::string b = bytes(MapKind::kPasswd), d = digest_bytes(MapKind::kPasswd, "typo");
  ASSERT_NE(b.find(d), std::string::npos);
  EXPECT_EQ(b.find(d, b.find(d) + 1), std::string::npos);
}

TEST_F(FastCachePrivacyTest, AnExpiredNegativeRecordIsRemovedAtTheNextHeartbeat) {
  auto pw = open(MapKind::kPasswd);
  ASSERT_TRUE(pw->put_negative_user_name("fleeting", 50ms));
  ASSERT_TRUE(pw->put_negative_user_name("lasting", 60s));
  std::string fleeting = digest_bytes(MapKind::kPasswd, "fleeting");
  std::string lasting = digest_bytes(MapKind::kPasswd, "lasting");
  ASSERT_TRUE(holds(MapKind::kPasswd, fleeting));
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (holds(MapKind::kPasswd, fleeting) && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(pw->heartbeat());
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(holds(MapKind::kPasswd, fleeting)) << "still there after 5 s of heartbeats";
  EXPECT_TRUE(holds(MapKind::kPasswd, lasting));
  EXPECT_EQ(getpw("fleeting"), LookupResult::kMiss);
  EXPECT_EQ(getpw("lasting"), LookupResult::kNegativeHit);
  // Its index slot is free again for the next record of that window.
  ASSERT_TRUE(pw->put_negative_user_name("fleeting", 60s));
  EXPECT_EQ(getpw("fleeting"), LookupResult::kNegativeHit);
}

// The ring laps over and over: a record the reader no longer finds (evicted)
// has no bytes left in the file; every one it finds does.
TEST_F(FastCachePrivacyTest, EvictedNegativeRecordsLeaveNoBytes) {
  auto pw = open(MapKind::kPasswd, 16 << 10);
  std::vector<std::string> names;
  for (int i = 0; i < 600; ++i) {
    names.push_back("gone" + std::to_string(i) + std::string(static_cast<size_t>(i % 7), 'z'));
    ASSERT_TRUE(pw->put_negative_user_name(names.back(), 60s));
    if (i % 50 == 0) {  // a positive record now and then: other lengths, pads at the lap ends
      fastid::model::User u;
      u.name = "filler" + std::to_string(i);
      u.uid = 9000 + static_cast<uint32_t>(i);
      u.gecos = std::string(static_cast<size_t>(i % 300), 'g');
      ASSERT_TRUE(pw->put_user(u, 60s));
    }
  }
  int live = 0, evicted = 0;
  for (const auto& n : names) {
    bool found = getpw(n) == LookupResult::kNegativeHit;
    (found ? live : evicted)++;
    EXPECT_EQ(holds(MapKind::kPasswd, digest_bytes(MapKind::kPasswd, n)), found) << n;
  }
  EXPECT_GT(live, 0);
  EXPECT_GT(evicted, 0);
}

}  // namespace
