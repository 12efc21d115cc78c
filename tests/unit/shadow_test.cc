// Specification of the files provider's shadow side (providers/files/shadow.h)
// and FilesProvider::authenticate/account over real files and real libcrypt.
#include <crypt.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "providers/files/files_provider.h"
#include "providers/files/shadow.h"

namespace fastid::providers {
namespace {

std::string hash_of(const std::string& password, const char* prefix) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(prefix, 0, nullptr, 0, salt, sizeof salt), nullptr);
  crypt_data data{};
  return crypt_r(password.c_str(), salt, &data);
}

class Shadow : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fastid-shadow-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    write("passwd",
          "alice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n"
          "carol:x:1002:1002::/:/bin/sh\nnoshadow:x:1003:1003::/:/bin/sh\n");
    write("group", "users:x:100:alice\n");
    const std::string today = std::to_string(days_since_epoch() - 1);
    write("shadow", "alice:" + hash_of("a-pw", "$y$") + ":" + today + ":0:99999:7:::\n" +
                        "bob:" + hash_of("b-pw", "$6$") + ":" + today + ":0:99999:7:::\n" +
                        "carol:" + hash_of("c-pw", "$2b$") + ":" + today + ":0:99999:7:::\n" +
                        "malformed:x:notanumber::::::\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  FilesProvider provider(bool with_shadow = true) {
    return FilesProvider({.name = "local",
                          .passwd_path = dir_ + "/passwd",
                          .group_path = dir_ + "/group",
                          .shadow_path = with_shadow ? dir_ + "/shadow" : ""});
  }
  std::string dir_;
};

TEST_F(Shadow, YescryptSha512AndBcryptHashesAreChecked) {
  FilesProvider p = provider();
  ASSERT_TRUE(p.open());
  EXPECT_TRUE(p.authenticate("alice", "a-pw"));
  EXPECT_TRUE(p.authenticate("bob", "b-pw"));
  EXPECT_TRUE(p.authenticate("carol", "c-pw"));
  EXPECT_EQ(p.authenticate("alice", "b-pw").code(), core::Code::kPermissionDenied);
  EXPECT_EQ(p.authenticate("alice", "").code(), core::Code::kPermissionDenied);
  EXPECT_EQ(p.authenticate("alice", "a-pw ").code(), core::Code::kPermissionDenied);
}

TEST_F(Shadow, UnknownUsersAndUsersWithoutAShadowLineAreNotFound) {
  FilesProvider p = provider();
  ASSERT_TRUE(p.open());
  EXPECT_EQ(p.authenticate("nobody", "x").code(), core::Code::kNotFound);
  EXPECT_EQ(p.authenticate("noshadow", "x").code(), core::Code::kNotFound);
  EXPECT_EQ(p.account("nobody").error().code(), core::Code::kNotFound);
}

TEST_F(Shadow, AnUnreadableShadowFileIsAnOutageAndNoShadowFileMeansNoAuthentication) {
  FilesProvider p = provider();
  ASSERT_TRUE(p.open());
  std::filesystem::remove(dir_ + "/shadow");
  auto st = p.authenticate("alice", "a-pw");
  EXPECT_EQ(st.code(), core::Code::kUnavailable);
  EXPECT_NE(st.message().find(dir_ + "/shadow"), std::string::npos) << st.message();
  FilesProvider none = provider(false);
  ASSERT_TRUE(none.open());
  EXPECT_EQ(none.authenticate("alice", "a-pw").code(), core::Code::kInvalidArgument);
}

TEST_F(Shadow, LockedAndEmptyHashesNeverAuthenticate) {
  ShadowEntry locked;
  locked.hash.assign("!" + hash_of("pw", "$y$"));
  EXPECT_EQ(check_shadow_password(locked, "pw").code(), core::Code::kPermissionDenied);
  ShadowEntry star;
  star.hash.assign("*");
  EXPECT_EQ(check_shadow_password(star, "").code(), core::Code::kPermissionDenied);
  ShadowEntry empty;
  EXPECT_EQ(check_shadow_password(empty, "").code(), core::Code::kPermissionDenied);
  ShadowEntry junk;
  junk.hash.assign("$unknown$method");
  EXPECT_EQ(check_shadow_password(junk, "pw").code(), core::Code::kPermissionDenied);
}

// How far the process's peak RSS rose over fn, in KiB: the high-water mark
// reset to the current RSS first (proc(5), clear_refs "5").
long peak_rise_kib(const std::function<void()>& fn) {
  auto field = [](const char* key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::string(key).size()));
    }
    return -1L;
  };
  std::ofstream("/proc/self/clear_refs") << "5";
  const long rss = field("VmRSS:");
  fn();
  return field("VmHWM:") - rss;
}

// The soak's trace (docs/reliability.md "Soak"): every authentication of a
// user the files provider does not have (an LDAP user behind it) ran a dummy
// default-cost yescrypt, 16 MiB mapped for the call, against a file of
// SHA-512 hashes, whose real checks map nothing: memory, and an unknown name
// slower to refuse than a known one to check. The dummy copies the file's
// own method and cost.
TEST_F(Shadow, TheDummyCheckOfAnUnknownNameCostsWhatTheFilesOwnHashesCost) {
  const std::string today = std::to_string(days_since_epoch() - 1);
  write("shadow", "locked:!" + hash_of("l-pw", "$6$") + ":" + today + ":0:99999:7:::\n" +
                      "odd:$unknown$method$x:" + today + ":0:99999:7:::\n" + "bob:" + hash_of("b-pw", "$6$") +
                      ":" + today + ":0:99999:7:::\n");
  core::Secret like;
  auto none = find_shadow_entry(dir_ + "/shadow", "nobody", &like);
  EXPECT_EQ(none.error().code(), core::Code::kNotFound);
  EXPECT_EQ(like.view().substr(0, 3), "$6$") << "the first hash libcrypt runs: not the locked one, not the unknown method";

  FilesProvider p = provider();
  ASSERT_TRUE(p.open());
  const long known = peak_rise_kib([&] { EXPECT_EQ(p.authenticate("bob", "wrong").code(), core::Code::kPermissionDenied); });
  const long unknown = peak_rise_kib([&] { EXPECT_EQ(p.authenticate("nobody", "x").code(), core::Code::kNotFound); });
  // The measure sees a yescrypt: the fallback without a hash to copy.
  const long fallback = peak_rise_kib([] { dummy_password_check("x"); });
  EXPECT_GE(fallback, 15 * 1024) << "the peak RSS measure does not see yescrypt's 16 MiB";
  EXPECT_LT(known, 4 * 1024);
  EXPECT_LT(unknown, 4 * 1024) << "refusing an unknown name mapped what a SHA-512 check does not";
}

TEST(ShadowAging, VerdictsFollowPamUnix) {
  using model::AccountVerdict;
  const std::int64_t today = 20000;
  ShadowEntry e;
  e.last_change = today - 10;
  EXPECT_EQ(shadow_account_verdict(e, today).verdict, AccountVerdict::kOk);
  e.expire_day = today;
  EXPECT_EQ(shadow_account_verdict(e, today).verdict, AccountVerdict::kExpired);
  EXPECT_NE(shadow_account_verdict(e, today).message.find("expired on"), std::string::npos);
  e.expire_day = today + 1;
  EXPECT_EQ(shadow_account_verdict(e, today).verdict, AccountVerdict::kOk);
  e.last_change = 0;
  EXPECT_EQ(shadow_account_verdict(e, today).verdict, AccountVerdict::kPasswordExpired)
      << "change required";
  e.last_change = today - 100;
  e.max_days = 90;
  EXPECT_EQ(shadow_account_verdict(e, today).verdict, AccountVerdict::kPasswordExpired);
  e.inactive_days = 5;
  EXPECT_EQ(shadow_account_verdict(e, today).verdict, AccountVerdict::kExpired)
      << "inactive too long";
  e.inactive_days = 50;
  EXPECT_EQ(shadow_account_verdict(e, today).verdict, AccountVerdict::kPasswordExpired);
}

TEST_F(Shadow, AccountOfTheFilesProviderReadsTheAgingFields) {
  write("shadow", "alice:" + hash_of("a-pw", "$y$") + ":1:0:99999:7::2:\n");
  FilesProvider p = provider();
  ASSERT_TRUE(p.open());
  auto a = p.account("alice");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->verdict, model::AccountVerdict::kExpired);
  EXPECT_TRUE(p.authenticate("alice", "a-pw"))
      << "an expired account is the account check's business";
}

}  // namespace
}  // namespace fastid::providers
