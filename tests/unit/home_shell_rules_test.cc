// Home and shell rules (providers/home_shell_rules.h): template checks at
// start, expansion with hostile values, shell rules, and the decorator in
// front of a files provider (pages and lookups rewritten, refusals dropped).
#include "providers/home_shell_rules.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "providers/files/files_provider.h"

namespace fastid::providers {
namespace {

model::User user(std::string name, std::uint32_t uid = 1000, std::string home = "/home/x", std::string shell = "/bin/bash") {
  model::User u;
  u.name = std::move(name);
  u.uid = uid;
  u.gid = uid;
  u.dir = std::move(home);
  u.shell = std::move(shell);
  return u;
}

TEST(HomeShellRulesTest, TemplatesMustBeAbsoluteAndCannotClimb) {
  EXPECT_TRUE(check_home_template("t", "/home/%u").is_ok());
  EXPECT_TRUE(check_home_template("t", "/srv/%d/%U-%f/100%%").is_ok());
  EXPECT_TRUE(check_home_template("t", "").is_ok());
  for (const char* bad : {"home/%u", "%u", "/home/../%u", "/home/./%u", "/home//%u", "/home/%u/..",
                          "/home/%x", "/home/%", "/home/a:b", "/home/\n/%u"}) {
    EXPECT_FALSE(check_home_template("override_homedir", bad).is_ok()) << bad;
  }
  EXPECT_NE(check_home_template("override_homedir", "/home/../%u").message().find("override_homedir"),
            std::string::npos);
}

TEST(HomeShellRulesTest, EscapesExpand) {
  std::string why;
  auto h = expand_home("/srv/%d/%u/%U/%f/50%%", user("alice", 1234), "corp", &why);
  ASSERT_TRUE(h) << why;
  EXPECT_EQ(*h, "/srv/corp/alice/1234/alice@corp/50%");
}

// Values are the directory's: none may leave its segment.
TEST(HomeShellRulesTest, HostileNamesNeverLeaveTheTemplate) {
  std::string why;
  for (const char* name : {"..", ".", "x/../../etc", "/etc", "a/b", "a:b", "a\nb", ""}) {
    EXPECT_FALSE(expand_home("/home/%u", user(name), "corp", &why)) << name;
  }
  // "%u." with the name "." would make "..": refused at expansion.
  EXPECT_FALSE(expand_home("/home/%u.", user("."), "corp", &why));
  EXPECT_FALSE(expand_home("/home/%d", user("alice"), "../..", &why));
  EXPECT_TRUE(expand_home("/home/%u", user("...a"), "corp", &why));
}

TEST(HomeShellRulesTest, ShellRules) {
  HomeShellOptions o;
  o.allowed_shells = {"/bin/bash", "/bin/sh"};
  o.vetoed_shells = {"/bin/sh"};
  o.shell_fallback = "/usr/sbin/nologin";
  std::string why;
  auto a = user("a", 1, "/h", "/bin/bash");
  ASSERT_TRUE(shape_user(o, a, &why));
  EXPECT_EQ(a.shell, "/bin/bash");
  auto b = user("b", 1, "/h", "/bin/zsh");
  ASSERT_TRUE(shape_user(o, b, &why));
  EXPECT_EQ(b.shell, "/usr/sbin/nologin");
  auto c = user("c", 1, "/h", "/bin/sh");
  ASSERT_TRUE(shape_user(o, c, &why));
  EXPECT_EQ(c.shell, "/usr/sbin/nologin");  // vetoed wins
  o = HomeShellOptions{};
  o.override_shell = "/bin/ksh";
  o.fallback_homedir = "/home/%u";
  auto d = user("d", 1, "", "/bin/bash");
  ASSERT_TRUE(shape_user(o, d, &why));
  EXPECT_EQ(d.shell, "/bin/ksh");
  EXPECT_EQ(d.dir, "/home/d");
  auto e = user("e", 1, "/var/e", "/bin/bash");
  ASSERT_TRUE(shape_user(o, e, &why));
  EXPECT_EQ(e.dir, "/var/e");  // a fallback only for an empty home
}

TEST(HomeShellRulesTest, TheDecoratorRewritesLookupsAndPagesAndRefusesEscapes) {
  char tmpl[] = "/tmp/fastid-homeshell-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/passwd") << "alice:x:1001:1001::/home/alice:/bin/zsh\n"
                                 << "..:x:1002:1002::/home/dots:/bin/bash\n"
                                 << "bob:x:1003:1003::/home/bob:/bin/bash\n";
  std::ofstream(dir + "/group") << "g:x:1001:\n";
  auto files = std::make_unique<FilesProvider>(
      FilesProvider::Options{.name = "local", .passwd_path = dir + "/passwd", .group_path = dir + "/group"});
  HomeShellOptions o;
  o.override_homedir = "/srv/%d/%u";
  o.allowed_shells = {"/bin/bash"};
  HomeShellProvider p(std::move(files), o);
  ASSERT_TRUE(p.open().is_ok());
  auto alice = p.user_by_name("alice");
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->dir, "/srv/local/alice");
  EXPECT_EQ(alice->shell, "/bin/sh");
  EXPECT_FALSE(p.user_by_name(".."));
  EXPECT_FALSE(p.user_by_uid(1002));
  auto page = p.users_page(0, 100);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->records.size(), 2u);
  EXPECT_EQ(page->records[1].dir, "/srv/local/bob");
  std::filesystem::remove_all(dir);
}

TEST(HomeShellRulesTest, ABadTemplateStopsOpen) {
  HomeShellOptions o;
  o.override_homedir = "/home/../%u";
  HomeShellProvider p(std::make_unique<FilesProvider>(FilesProvider::Options{.name = "local"}), o);
  EXPECT_FALSE(p.open().is_ok());
}

}  // namespace
}  // namespace fastid::providers
