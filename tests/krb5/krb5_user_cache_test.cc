// The user's credential cache file (src/providers/krb5/user_cache.h), the part
// of a Kerberos login that root does in directories others may write to:
// patterns, owner and mode, a new name each time, and the directories it
// refuses (a symbolic link on the path, writable by others without the
// sticky bit, owned by another user). Ownership needs root: skipped otherwise.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "proto/ccache_name.h"
#include "providers/krb5/user_cache.h"

namespace fastid::providers::krb5 {
namespace {

namespace fs = std::filesystem;
using core::Code;

class UserCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (fchown)";
    char tmpl[] = "/tmp/fastid-usercache-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 01777);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  std::string dir_;
};

// The names an authentication reply may carry (daemon and module check them).
TEST(CcacheNameShape, PlainFileAndPersistentKeyringNamesOnly) {
  auto ok = [](const std::string& name) { return proto::ccache_name_shape_ok(name.data(), name.size()); };
  EXPECT_TRUE(ok("FILE:/tmp/krb5cc_1000_a8Xk2p"));
  EXPECT_TRUE(ok("FILE:/run/user/1000/krb5cc.x-y"));
  EXPECT_TRUE(ok("KEYRING:persistent:1000"));
  for (const std::string& bad : std::vector<std::string>{
           "", "FILE:", "FILE:/", "FILE:tmp/x", "FILE:/tmp/x\nLD_PRELOAD=/e.so", "FILE:/tmp/x y", "FILE:/tmp/../etc/shadow",
        "FILE:/tmp/./x", "FILE:/tmp//x", "FILE:/tmp/x/", "FILE:/tmp/x\t", "FILE:/tmp/%U", "MEMORY:x", "DIR:/tmp",
        "KEYRING:persistent:", "KEYRING:persistent:10a", "KEYRING:session:1000", "KEYRING:persistent:12345678901",
        "file:/tmp/x", "FILE:/tmp/" + std::string(300, 'a')}) {
    EXPECT_FALSE(ok(bad)) << bad;
  }
}

TEST(UserCachePattern, AbsoluteFilePathsEndingInRandomCharactersOrThePersistentKeyring) {
  auto ok = parse_cache_pattern("FILE:/tmp/krb5cc_%U_XXXXXX", 1000);
  ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
  EXPECT_EQ(ok->dir, "/tmp");
  EXPECT_EQ(ok->name_template, "krb5cc_1000_XXXXXX");
  EXPECT_TRUE(ok->keyring.empty());
  auto keyring = parse_cache_pattern("KEYRING:persistent:%U", 1000);
  ASSERT_TRUE(keyring.has_value()) << keyring.error().to_string();
  EXPECT_EQ(keyring->keyring, "KEYRING:persistent:1000");
  for (const char* bad : {"KEYRING:persistent:0", "KEYRING:session:%U", "KEYRING:%U", "FILE:krb5cc_%U_XXXXXX", "FILE:/tmp/krb5cc_%U",
                          "/tmp/krb5cc_XXXXXX", "FILE:/tmp/../etc/krb5cc_XXXXXX", "FILE:"}) {
    auto r = parse_cache_pattern(bad, 1000);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << bad;
    }
  }
}

TEST_F(UserCacheTest, ANewFileOfTheUserMode0600WithTheBytes) {
  auto where = parse_cache_pattern("FILE:" + dir_ + "/krb5cc_%U_XXXXXX", 4321);
  ASSERT_TRUE(where.has_value());
  auto a = create_user_cache(*where, "ticket bytes", 4321, 765);
  ASSERT_TRUE(a.has_value()) << a.error().to_string();
  auto b = create_user_cache(*where, "ticket bytes", 4321, 765);
  ASSERT_TRUE(b.has_value()) << b.error().to_string();
  EXPECT_NE(*a, *b) << "a name is never reused";
  const std::string path = a->substr(5);
  EXPECT_EQ(path.rfind(dir_ + "/krb5cc_4321_", 0), 0u) << path;
  struct stat st{};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_uid, 4321u);
  EXPECT_EQ(st.st_gid, 765u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "ticket bytes");
}

TEST_F(UserCacheTest, RefusesALinkOnThePathAnOpenDirectoryAndAnotherUsersDirectory) {
  fs::create_directories(dir_ + "/real");
  fs::create_symlink(dir_ + "/real", dir_ + "/link");
  fs::create_directories(dir_ + "/open");
  ::chmod((dir_ + "/open").c_str(), 0777);
  fs::create_directories(dir_ + "/other");
  ASSERT_EQ(::chown((dir_ + "/other").c_str(), 999, 999), 0);
  fs::create_directories(dir_ + "/real/below");
  fs::create_symlink(dir_ + "/real", dir_ + "/link2");
  for (const std::string& d : {dir_ + "/link", dir_ + "/open", dir_ + "/other", dir_ + "/link2/below"}) {
    auto where = parse_cache_pattern("FILE:" + d + "/krb5cc_%U_XXXXXX", 4321);
    ASSERT_TRUE(where.has_value());
    auto r = create_user_cache(*where, "ticket bytes", 4321, 765);
    EXPECT_FALSE(r.has_value()) << d << " accepted: " << (r ? *r : "");
  }
  EXPECT_TRUE(fs::is_empty(dir_ + "/real/below"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ + "/real"), fs::directory_iterator()), 1);
  EXPECT_TRUE(fs::is_empty(dir_ + "/open"));
  EXPECT_TRUE(fs::is_empty(dir_ + "/other"));
  // The user's own directory (0700, theirs) is fine.
  fs::create_directories(dir_ + "/mine");
  ASSERT_EQ(::chown((dir_ + "/mine").c_str(), 4321, 765), 0);
  ::chmod((dir_ + "/mine").c_str(), 0700);
  auto mine = parse_cache_pattern("FILE:" + dir_ + "/mine/krb5cc_XXXXXX", 4321);
  ASSERT_TRUE(mine.has_value());
  EXPECT_TRUE(create_user_cache(*mine, "x", 4321, 765).has_value());
}

}  // namespace
}  // namespace fastid::providers::krb5
