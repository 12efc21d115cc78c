// The fast cache against hostile files (security issue #11): a map header
// whose index offset wraps the index's end around (item 4) makes a reader
// look up nothing and a writer replace the file rather than adopt it, and a
// map file that is not root's, ours or the trusted owner's, or that is a
// symbolic link, is absent to the reader. The headers come from
// tests/fuzz/hostile_maps.h. Each replay runs in a child process (a death
// test): on a parser that trusts the header, the child dies of SIGSEGV.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fastcache/layout.h"
#include "fastcache/record_format.h"
#include "fastcache/reader.h"
#include "fastcache/writer.h"
#include "hostile_maps.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
namespace fc = fastid::fastcache;
using fc::LookupResult;
using fc::MapKind;
using fc::hostile::Header;

constexpr uid_t kStranger = 12345;  // owns nothing on a test machine

class FastCacheSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(tmp_.path(), "");
    dir_ = tmp_.path();
  }

  std::string path(MapKind k) const { return dir_ + "/" + fc::map_file_name(k); }

  // Puts `bytes` at the map's path as a new file (renamed over it, 0644).
  void install(MapKind k, const std::vector<unsigned char>& bytes) {
    std::string tmp = path(k) + ".new";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    ASSERT_EQ(chmod(tmp.c_str(), 0644), 0);
    ASSERT_EQ(rename(tmp.c_str(), path(k).c_str()), 0);
  }

  static fastid::model::User user(const std::string& name, uint32_t uid) {
    fastid::model::User u;
    u.name = name;
    u.uid = uid;
    u.gid = 100;
    u.gecos = "G";
    u.dir = "/home/" + name;
    u.shell = "/bin/sh";
    return u;
  }
  static fc::FastCacheOptions small() {
    fc::FastCacheOptions o;
    o.size_bytes = 64 << 10;
    o.max_record = 4096;
    return o;
  }

  fastid::testing::TempDir tmp_{fastid::testing::tmpdir_or_tmp() + "/fastcache_security_test."};
  std::string dir_;
};

// Every lookup of every map against every hostile header: a miss (the
// socket would answer), never a read outside the mapping.
TEST_F(FastCacheSecurityTest, ReaderTreatsAHostileHeaderAsAbsent) {
  for (Header h : {Header::kIndexOffsetWraps, Header::kIndexPastTheFile, Header::kDataOffsetWraps}) {
    for (MapKind k : {MapKind::kPasswd, MapKind::kGroup, MapKind::kInitgroups})
      install(k, fc::hostile::map_file(h, k, fc::realtime_coarse_ns()));
    EXPECT_EXIT(
        {
          fc::FastCacheReader reader;
          reader.set_directory(dir_.c_str());
          struct passwd pw;
          struct group gr;
          alignas(8) char buf[1024];
          gid_t gids[8];
          size_t n = 8;
          bool all_miss = true;
          for (const char* name : {"x", "root", "user00001", "a-much-longer-name-for-another-slot"}) {
            all_miss &= reader.passwd_by_name(name, &pw, buf, sizeof buf) == LookupResult::kMiss;
            all_miss &= reader.group_by_name(name, &gr, buf, sizeof buf) == LookupResult::kMiss;
            all_miss &= reader.initgroups(name, gids, &n) == LookupResult::kMiss;
          }
          for (uint32_t id : {0u, 1u, 1000u, 4294967294u}) {
            all_miss &= reader.passwd_by_uid(id, &pw, buf, sizeof buf) == LookupResult::kMiss;
            all_miss &= reader.group_by_gid(id, &gr, buf, sizeof buf) == LookupResult::kMiss;
          }
          reader.reset();
          _exit(all_miss ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "")
        << "header " << static_cast<int>(h);
  }
}

// A writer whose file was replaced (by "another writer") with the hostile
// header must not continue it: it publishes a fresh file and the record
// lands there. Before the fix it adopted it and wrote 1 GiB before its mapping.
TEST_F(FastCacheSecurityTest, WriterReplacesAHostileFileInsteadOfAdoptingIt) {
  auto w = fc::FastCacheWriter::open(dir_, MapKind::kPasswd, small());
  ASSERT_TRUE(w.has_value()) << w.error().to_string();
  ASSERT_TRUE((*w)->put_user(user("before", 5000), 60s));
  install(MapKind::kPasswd, fc::hostile::map_file(Header::kIndexOffsetWraps, MapKind::kPasswd,
                                                  fc::realtime_coarse_ns()));
  EXPECT_EXIT(
      {
        bool ok = static_cast<bool>((*w)->put_user(user("after", 5001), 60s));
        fc::FastCacheReader reader;
        reader.set_directory(dir_.c_str());
        struct passwd pw;
        char buf[1024];
        ok = ok && reader.passwd_by_name("after", &pw, buf, sizeof buf) == LookupResult::kHit &&
             pw.pw_uid == 5001;
        reader.reset();
        _exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  // And a writer opening the directory afresh replaces it as well.
  install(MapKind::kPasswd, fc::hostile::map_file(Header::kIndexOffsetWraps, MapKind::kPasswd,
                                                  fc::realtime_coarse_ns()));
  EXPECT_EXIT(
      {
        auto w2 = fc::FastCacheWriter::open(dir_, MapKind::kPasswd, small());
        _exit(w2.has_value() && (*w2)->put_user(user("fresh", 5002), 60s) ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// Issue 17: the daemon publishes records up to 1 MiB (a 50,000-member group),
// so a record's header claims lengths and counts that large. The reader still
// bounds every one of them before it trusts the record: a big record whose
// length runs past the ring or above max_record, whose member count is above
// the format's limit, whose string area claims more than the record or less
// than its members need, is a miss — never a read outside the record.
TEST_F(FastCacheSecurityTest, ABigGroupRecordWithAHostileHeaderIsAMiss) {
  fc::FastCacheOptions o;
  o.size_bytes = 4u << 20;
  o.max_record = 1u << 20;
  auto w = fc::FastCacheWriter::open(dir_, MapKind::kGroup, o);
  ASSERT_TRUE(w.has_value()) << w.error().to_string();
  fastid::model::Group big;
  big.name = "biggroup";
  big.gid = 299999;
  for (int i = 1; i <= 50000; ++i) big.members.push_back("bulk" + std::to_string(100000 + i).substr(1));
  ASSERT_TRUE((*w)->put(fastid::model::Query::group_by_name("biggroup"), big, 60s));
  const std::size_t buflen = 2u << 20;
  std::vector<char> buf(buflen);
  auto lookup = [&](bool by_gid) {
    fc::FastCacheReader reader;
    reader.set_directory(dir_.c_str());
    struct group gr;
    const LookupResult r = by_gid ? reader.group_by_gid(299999, &gr, buf.data(), buflen)
                                  : reader.group_by_name("biggroup", &gr, buf.data(), buflen);
    std::size_t members = 0;
    if (r == LookupResult::kHit) {
      while (gr.gr_mem[members] != nullptr) ++members;
    }
    reader.reset();
    return std::make_pair(r, members);
  };
  ASSERT_EQ(lookup(false), std::make_pair(LookupResult::kHit, std::size_t{50000}));
  ASSERT_EQ(lookup(true), std::make_pair(LookupResult::kHit, std::size_t{50000}));

  // The record is the ring's first: at data_offset.
  const int fd = ::open(path(MapKind::kGroup).c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  uint64_t data_offset = 0, data_size = 0, w0 = 0, w3 = 0;
  ASSERT_EQ(pread(fd, &data_offset, 8, fc::kOffDataOffset), 8);
  ASSERT_EQ(pread(fd, &data_size, 8, fc::kOffDataSize), 8);
  ASSERT_EQ(pread(fd, &w0, 8, static_cast<off_t>(data_offset)), 8);
  ASSERT_EQ(pread(fd, &w3, 8, static_cast<off_t>(data_offset + 24)), 8);
  ASSERT_EQ(static_cast<uint8_t>(w0), fc::kRecGroup);
  const uint64_t length = fc::hi32(w0), count = fc::lo32(w3), strings = fc::hi32(w3);
  ASSERT_GT(length, 64u << 10) << "a record above the old 64 KiB limit";
  ASSERT_EQ(count, 50000u);
  struct Lie {
    const char* what;
    uint64_t w0, w3;
  };
  const auto with_length = [&](uint64_t l) { return (w0 & 0xffffffffull) | (l << 32); };
  const auto with = [&](uint64_t c, uint64_t st) { return c | (st << 32); };
  const Lie lies[] = {
      {"length past the end of the ring", with_length(data_size), w3},
      {"length above max_record", with_length((1u << 20) + 8), w3},
      {"length beyond the 32-bit ring", with_length(0xfffffff8ull), w3},
      {"count above 65,536", w0, with(fc::kMaxCount + 1, strings)},
      {"string area longer than the record", w0, with(count, length)},
      {"string area shorter than its members", w0, with(count, 64)},
  };
  for (const Lie& lie : lies) {
    ASSERT_EQ(pwrite(fd, &lie.w0, 8, static_cast<off_t>(data_offset)), 8);
    ASSERT_EQ(pwrite(fd, &lie.w3, 8, static_cast<off_t>(data_offset + 24)), 8);
    EXPECT_EXIT(
        {
          const bool miss = lookup(false).first == LookupResult::kMiss && lookup(true).first == LookupResult::kMiss;
          _exit(miss ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "")
        << lie.what;
  }
  // Put back as it was: a hit again (the lies above were the only change).
  ASSERT_EQ(pwrite(fd, &w0, 8, static_cast<off_t>(data_offset)), 8);
  ASSERT_EQ(pwrite(fd, &w3, 8, static_cast<off_t>(data_offset + 24)), 8);
  ::close(fd);
  EXPECT_EQ(lookup(false), std::make_pair(LookupResult::kHit, std::size_t{50000}));
}

// The trust chain: a map file owned by another user, with forged answers,
// is ignored; the same bytes owned by root are used.
TEST_F(FastCacheSecurityTest, AMapOwnedByAnotherUserIsIgnored) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  {
    auto w = fc::FastCacheWriter::open(dir_, MapKind::kPasswd, small());
    ASSERT_TRUE(w.has_value());
    ASSERT_TRUE((*w)->put_user(user("root", 31337), 60s));  // a forged root
  }
  struct passwd pw;
  char buf[1024];
  {
    fc::FastCacheReader reader;
    reader.set_directory(dir_.c_str());
    EXPECT_EQ(reader.passwd_by_name("root", &pw, buf, sizeof buf), LookupResult::kHit) << "root's file is used";
    reader.reset();
  }
  ASSERT_EQ(chown(path(MapKind::kPasswd).c_str(), kStranger, kStranger), 0);
  {
    fc::FastCacheReader reader;
    reader.set_directory(dir_.c_str());
    EXPECT_EQ(reader.passwd_by_name("root", &pw, buf, sizeof buf), LookupResult::kMiss);
    EXPECT_EQ(reader.passwd_by_uid(31337, &pw, buf, sizeof buf), LookupResult::kMiss);
    reader.reset();
  }
  {
    fc::FastCacheReader reader;
    reader.set_directory(dir_.c_str(), kStranger);  // unless that user is the daemon's
    EXPECT_EQ(reader.passwd_by_name("root", &pw, buf, sizeof buf), LookupResult::kHit);
    reader.reset();
  }
  // The writer does not continue a file it does not own: it replaces it.
  auto w = fc::FastCacheWriter::open(dir_, MapKind::kPasswd, small());
  ASSERT_TRUE(w.has_value());
  ASSERT_TRUE((*w)->put_user(user("mine", 5003), 60s));
  struct stat st;
  ASSERT_EQ(stat(path(MapKind::kPasswd).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST_F(FastCacheSecurityTest, AMapReachedThroughASymbolicLinkIsIgnored) {
  {
    auto w = fc::FastCacheWriter::open(dir_, MapKind::kPasswd, small());
    ASSERT_TRUE(w.has_value());
    ASSERT_TRUE((*w)->put_user(user("linked", 5004), 60s));
  }
  ASSERT_EQ(rename(path(MapKind::kPasswd).c_str(), (dir_ + "/elsewhere").c_str()), 0);
  ASSERT_EQ(symlink((dir_ + "/elsewhere").c_str(), path(MapKind::kPasswd).c_str()), 0);
  fc::FastCacheReader reader;
  reader.set_directory(dir_.c_str());
  struct passwd pw;
  char buf[1024];
  EXPECT_EQ(reader.passwd_by_name("linked", &pw, buf, sizeof buf), LookupResult::kMiss);
  reader.reset();
}

}  // namespace
