// What fastcache_test's files share (tests/unit/fastcache_test.cc and
// fastcache_lifecycle_test.cc, one ctest binary): the FastCacheTest fixture
// (a private cache directory, a writer per map, lookups that check every
// field), the generated dataset's users and groups, and small options.
#pragma once

#include <stdlib.h>
#include <stdio.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fastcache/layout.h"
#include "fastcache/reader.h"
#include "fastcache/writer.h"
#include "support/temp_dir.h"

namespace fastcache_test {

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
inline uint32_t dataset_ck(const std::string& s) {
  uint64_t h = 5381;
  for (unsigned char c : s) h = (h * 33 + c) % 4294967296ull;
  return static_cast<uint32_t>(h);
}
inline User dataset_user(int i) {
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
inline Group dataset_group(int g, int members) {
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
    ASSERT_NE(tmp_.path(), "");
    dir_ = tmp_.path();
    reader_ = std::make_unique<FastCacheReader>();
    reader_->set_directory(dir_.c_str());
  }
  void TearDown() override { reader_->reset(); }

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

  fastid::testing::TempDir tmp_{fastid::testing::tmpdir_or_tmp() + "/fastcache_test."};
  std::string dir_;
  std::unique_ptr<FastCacheReader> reader_;
};

inline FastCacheOptions small(uint64_t size = 64 << 10) {
  FastCacheOptions o;
  o.size_bytes = size;
  o.max_record = 4096;
  return o;
}

}  // namespace fastcache_test
