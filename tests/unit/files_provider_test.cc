// Tests for the files provider: lookups, initgroups, paged enumeration,
// strict parsing of bad lines, reload on change (and on failure), a generated
// 10,000-user dataset, and the registry that builds providers from config.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/log.h"
#include "daemon/config.h"
#include "daemon/settings.h"
#include "providers/files/files_provider.h"
#include "daemon/provider_factory.h"
#include "support/temp_dir.h"

namespace fastid::providers {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "alice:$6$salt$hash:1000:1000:Alice A,,,:/home/alice:/bin/bash\n"
    "bob:x:1001:1001::/home/bob:/bin/sh\n";

const char* kGroup =
    "root:x:0:\n"
    "alice:x:1000:\n"
    "bob:x:1001:\n"
    "wheel:secret:10:alice,bob\n"
    "docker:x:999:alice,carol\n";

class FilesProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(tmp_.path(), "");
    dir_ = tmp_.path();
    passwd_ = dir_ + "/passwd";
    group_ = dir_ + "/group";
  }
  void TearDown() override { core::set_log_fd(2); }

  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }

  // Sets a file's mtime, so that tests do not depend on the clock's granularity.
  static void set_mtime(const std::string& path, time_t sec, long nsec) {
    struct timespec times[2] = {{sec, nsec}, {sec, nsec}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }

  std::unique_ptr<FilesProvider> make(const std::string& passwd_text, const std::string& group_text) {
    write(passwd_, passwd_text);
    write(group_, group_text);
    return std::make_unique<FilesProvider>(FilesProvider::Options{
        .name = "test", .passwd_path = passwd_, .group_path = group_, .shadow_path = ""});
  }

  static std::string stat_of(const Provider& p, const std::string& key) {
    for (const auto& [k, v] : p.stats()) {
      if (k == key) return v;
    }
    return "<missing " + key + ">";
  }

  fastid::testing::TempDir tmp_{"/tmp/fastid-files-test."};
  std::string dir_, passwd_, group_;
};

TEST_F(FilesProviderTest, LooksUpUsersByNameAndUid) {
  auto p = make(kPasswd, kGroup);
  ASSERT_TRUE(p->open()) << p->open().to_string();
  EXPECT_EQ(p->name(), "test");

  auto alice = p->user_by_name("alice");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(*alice, (User{.name = "alice", .passwd = "x", .uid = 1000, .gid = 1000,
                          .gecos = "Alice A,,,", .dir = "/home/alice", .shell = "/bin/bash"}));
  // The hash in the file never comes out.
  EXPECT_EQ(alice->passwd, "x");

  auto bob = p->user_by_uid(1001);
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(bob->name, "bob");
  EXPECT_EQ(bob->gecos, "");
  EXPECT_EQ(p->user_by_uid(0)->name, "root");

  EXPECT_EQ(p->user_by_name("nobody").error().code(), core::Code::kNotFound);
  EXPECT_EQ(p->user_by_uid(4242).error().code(), core::Code::kNotFound);
  EXPECT_EQ(p->user_by_name("").error().code(), core::Code::kNotFound);
  EXPECT_EQ(p->user_by_name("alice:x").error().code(), core::Code::kNotFound);
}

TEST_F(FilesProviderTest, LooksUpGroupsWithMembers) {
  auto p = make(kPasswd, kGroup);
  ASSERT_TRUE(p->open());
  auto wheel = p->group_by_name("wheel");
  ASSERT_TRUE(wheel.has_value());
  EXPECT_EQ(wheel->gid, 10u);
  EXPECT_EQ(wheel->passwd, "x");  // "secret" in the file
  EXPECT_THAT(wheel->members, ElementsAre("alice", "bob"));
  auto docker = p->group_by_gid(999);
  ASSERT_TRUE(docker.has_value());
  EXPECT_EQ(docker->name, "docker");
  EXPECT_THAT(docker->members, ElementsAre("alice", "carol"));
  EXPECT_THAT(p->group_by_gid(0)->members, IsEmpty());
  EXPECT_EQ(p->group_by_name("nogroup").error().code(), core::Code::kNotFound);
  EXPECT_EQ(p->group_by_gid(12345).error().code(), core::Code::kNotFound);
}

TEST_F(FilesProviderTest, Initgroups) {
  auto p = make(kPasswd, kGroup);
  ASSERT_TRUE(p->open());
  EXPECT_THAT(p->initgroups("alice").value(), ElementsAre(10u, 999u));  // group-file order
  EXPECT_THAT(p->initgroups("bob").value(), ElementsAre(10u));
  EXPECT_THAT(p->initgroups("root").value(), IsEmpty());                 // known, no supplementary
  EXPECT_THAT(p->initgroups("carol").value(), ElementsAre(999u));        // listed, not in passwd
  EXPECT_EQ(p->initgroups("nobody").error().code(), core::Code::kNotFound);
}

TEST_F(FilesProviderTest, InitgroupsNeverRepeatsAGid) {
  auto p = make("u:x:1:1::/:/bin/sh\n",
                "a:x:10:u,u\n"   // listed twice
                "b:x:20:u\n"
                "c:x:10:u\n");   // a second line with gid 10
  ASSERT_TRUE(p->open());
  EXPECT_THAT(p->initgroups("u").value(), ElementsAre(10u, 20u));
}

TEST_F(FilesProviderTest, NotOpenMeansUnavailable) {
  auto p = make(kPasswd, kGroup);
  EXPECT_EQ(p->user_by_name("alice").error().code(), core::Code::kUnavailable);
  EXPECT_EQ(p->refresh().code(), core::Code::kUnavailable);
  ASSERT_TRUE(p->open());
  EXPECT_TRUE(p->user_by_name("alice").has_value());
  p->close();
  EXPECT_EQ(p->user_by_name("alice").error().code(), core::Code::kUnavailable);
  EXPECT_EQ(p->users_page(0, 10).error().code(), core::Code::kUnavailable);
  EXPECT_EQ(p->initgroups("alice").error().code(), core::Code::kUnavailable);
}

TEST_F(FilesProviderTest, OpenNamesTheFileItCannotRead) {
  auto p = make(kPasswd, kGroup);
  std::filesystem::remove(group_);
  Status st = p->open();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.sys_errno(), ENOENT);
  EXPECT_THAT(st.message(), HasSubstr("provider test"));
  EXPECT_THAT(st.message(), HasSubstr(group_));

  std::filesystem::remove(passwd_);
  std::filesystem::create_directory(passwd_);
  st = p->open();
  ASSERT_FALSE(st);
  EXPECT_THAT(st.message(), HasSubstr(passwd_ + ": not a regular file"));
}

TEST_F(FilesProviderTest, EnumeratesEveryRecordOnceInPages) {
  std::string passwd, group;
  for (int i = 0; i < 23; ++i) {
    passwd += "u" + std::to_string(i) + ":x:" + std::to_string(100 + i) + ":1::/:/bin/sh\n";
  }
  for (int i = 0; i < 11; ++i) group += "g" + std::to_string(i) + ":x:" + std::to_string(500 + i) + ":\n";
  auto p = make(passwd, group);
  ASSERT_TRUE(p->open());

  std::vector<std::string> seen;
  std::uint32_t cursor = 0;
  int pages = 0;
  for (;;) {
    auto page = p->users_page(cursor, 5);
    ASSERT_TRUE(page.has_value());
    ++pages;
    EXPECT_LE(page->records.size(), 5u);
    for (const User& u : page->records) seen.push_back(u.name);
    if (!page->more) break;
    ASSERT_GT(page->next_cursor, cursor);
    cursor = page->next_cursor;
  }
  EXPECT_EQ(pages, 5);
  ASSERT_EQ(seen.size(), 23u);
  for (int i = 0; i < 23; ++i) EXPECT_EQ(seen[i], "u" + std::to_string(i));  // file order, once each

  std::set<std::uint32_t> gids;
  cursor = 0;
  for (;;) {
    auto page = p->groups_page(cursor, 4);
    ASSERT_TRUE(page.has_value());
    for (const Group& g : page->records) EXPECT_TRUE(gids.insert(g.gid).second);
    if (!page->more) break;
    cursor = page->next_cursor;
  }
  EXPECT_EQ(gids.size(), 11u);

  // Exactly one full page: no empty page after it.
  auto all = p->groups_page(0, 11);
  EXPECT_EQ(all->records.size(), 11u);
  EXPECT_FALSE(all->more);
  // Past the end (e.g. the files shrank between pages): an empty last page.
  auto past = p->users_page(1000, 5);
  ASSERT_TRUE(past.has_value());
  EXPECT_THAT(past->records, IsEmpty());
  EXPECT_FALSE(past->more);
  EXPECT_EQ(p->users_page(0, 0).error().code(), core::Code::kInvalidArgument);
}

TEST_F(FilesProviderTest, MalformedLinesAreSkippedCountedAndLoggedOnce) {
  const std::string passwd =
      "# a comment\n"                                  // 1 skipped, not counted
      "\n"                                             // 2
      "   \n"                                          // 3
      "+nisuser::::::\n"                               // 4 NIS compat
      "-@netgroup\n"                                   // 5 NIS compat
      "good:x:1:1:Good:/home/good:/bin/sh\n"           // 6
      "short:x:2:2\n"                                  // 7 fields
      "neguid:x:-1:1::/:/bin/sh\n"                     // 8 uid
      "maxuid:x:4294967295:1::/:/bin/sh\n"             // 9 uid (-1)
      "huge:x:99999999999999999999:1::/:/bin/sh\n"     // 10 uid
      ":x:5:5::/:/bin/sh\n"                            // 11 empty name
      "bad name:x:6:6::/:/bin/sh\n"                    // 12 blank in name
      "comma,name:x:7:7::/:/bin/sh\n"                  // 13 comma in name
      "crlf:x:8:8::/:/bin/sh\r\n"                      // 14 control character
      "hexuid:x:0x10:1::/:/bin/sh\n"                   // 15 uid
      "toomany:x:9:9::/:/bin/sh:extra\n"               // 16 fields
      "emptygid:x:11::::\n"                            // 17 gid
      "good2:x:10:10::/:/bin/sh";                      // 18, no final newline
  const std::string group =
      "ok:x:7:a,,b,\n"
      "nogid:x::a\n"
      "short:x:5\n"
      "badmember:x:6:ok,bad member\n"
      "alpha:x:abc:\n";

  char log_path[] = "/tmp/fastid-files-log.XXXXXX";
  const int log_fd = ::mkstemp(log_path);
  ASSERT_GE(log_fd, 0);
  core::set_log_fd(log_fd);

  auto p = make(passwd, group);
  ASSERT_TRUE(p->open());
  core::set_log_fd(2);

  auto page = p->users_page(0, 100);
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->records.size(), 2u);
  EXPECT_EQ(page->records[0].name, "good");
  EXPECT_EQ(page->records[1].name, "good2");
  EXPECT_EQ(page->records[1].shell, "/bin/sh");
  EXPECT_EQ(stat_of(*p, "users"), "2");
  EXPECT_EQ(stat_of(*p, "passwd_malformed_lines"), "11");
  EXPECT_EQ(stat_of(*p, "passwd_compat_lines_skipped"), "2");
  EXPECT_EQ(p->user_by_name("+nisuser").error().code(), core::Code::kNotFound);

  EXPECT_EQ(stat_of(*p, "groups"), "1");
  EXPECT_EQ(stat_of(*p, "group_malformed_lines"), "4");
  EXPECT_THAT(p->group_by_gid(7)->members, ElementsAre("a", "b"));

  std::ifstream in(log_path);
  std::stringstream log;
  log << in.rdbuf();
  ::close(log_fd);
  ::unlink(log_path);
  const std::string text = log.str();
  // One warning per file, naming file:line of the first bad lines.
  EXPECT_THAT(text, HasSubstr("skipped 11 malformed lines"));
  EXPECT_THAT(text, HasSubstr(passwd_ + ":7: wrong number of fields"));
  EXPECT_THAT(text, HasSubstr(passwd_ + ":8: uid is not a number"));
  EXPECT_THAT(text, HasSubstr("and 6 more"));
  EXPECT_THAT(text, HasSubstr("skipped 4 malformed lines"));
  EXPECT_THAT(text, HasSubstr(group_ + ":2: gid is not a number"));
  EXPECT_THAT(text, HasSubstr(group_ + ":4: member name"));
  std::size_t warnings = 0;
  for (std::size_t at = text.find("malformed"); at != std::string::npos; at = text.find("malformed", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 2u);
  // No newline of a bad line leaks into the log as a forged record.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
}

TEST_F(FilesProviderTest, DuplicatesFirstWinsAsGlibcDoes) {
  auto p = make(
      "a:x:100:1:first:/:/bin/sh\n"
      "b:x:100:1::/:/bin/sh\n"      // uid taken by a
      "a:x:200:1:second:/:/bin/sh\n",  // name taken by a
      "g:x:5:a\n"
      "g:x:6:b\n");
  ASSERT_TRUE(p->open());
  EXPECT_EQ(p->user_by_name("a")->uid, 100u);
  EXPECT_EQ(p->user_by_uid(100)->name, "a");
  EXPECT_EQ(p->user_by_name("b")->uid, 100u);       // found by its own name
  EXPECT_EQ(p->user_by_uid(200)->gecos, "second");  // found by its own uid
  EXPECT_EQ(p->users_page(0, 10)->records.size(), 3u);
  EXPECT_EQ(stat_of(*p, "passwd_duplicates"), "2");
  EXPECT_EQ(p->group_by_name("g")->gid, 5u);
  EXPECT_EQ(p->group_by_gid(6)->name, "g");
  EXPECT_EQ(stat_of(*p, "group_duplicates"), "1");
  EXPECT_THAT(p->initgroups("b").value(), ElementsAre(6u));
}

TEST_F(FilesProviderTest, RefreshReloadsOnlyWhenChanged) {
  auto p = make(kPasswd, kGroup);
  set_mtime(passwd_, 1000000000, 1);
  ASSERT_TRUE(p->open());
  EXPECT_EQ(stat_of(*p, "loads"), "1");
  EXPECT_TRUE(p->refresh());
  EXPECT_EQ(stat_of(*p, "loads"), "1") << "nothing changed: no reload";

  // New content: new data after refresh.
  const std::string with_carol = std::string(kPasswd) + "carol:x:1002:1002::/home/carol:/bin/sh\n";
  write(passwd_, with_carol);
  set_mtime(passwd_, 1000000000, 1);
  ASSERT_TRUE(p->refresh());
  EXPECT_EQ(p->user_by_name("carol")->uid, 1002u);
  EXPECT_EQ(stat_of(*p, "loads"), "2");

  // Same inode, same size, same mtime: taken as unchanged (what glibc and
  // nscd assume too); a different mtime, even by one nanosecond, reloads.
  const std::string edited = std::string(kPasswd) + "carol:x:1002:1002::/home/karol:/bin/sh\n";
  ASSERT_EQ(edited.size(), with_carol.size());
  write(passwd_, edited);
  set_mtime(passwd_, 1000000000, 1);
  ASSERT_TRUE(p->refresh());
  EXPECT_EQ(p->user_by_name("carol")->dir, "/home/carol") << "stamp identical: not re-read";
  set_mtime(passwd_, 1000000000, 2);
  ASSERT_TRUE(p->refresh());
  EXPECT_EQ(p->user_by_name("carol")->dir, "/home/karol");

  // Replaced by rename (as vipw does), same size and mtime: the inode tells.
  std::string replaced(kPasswd);
  replaced += "carol:x:1002:1002::/home/xarol:/bin/sh\n";
  write(dir_ + "/passwd.new", replaced);
  set_mtime(dir_ + "/passwd.new", 1000000000, 2);
  std::filesystem::rename(dir_ + "/passwd.new", passwd_);
  ASSERT_TRUE(p->refresh());
  EXPECT_EQ(p->user_by_name("carol")->dir, "/home/xarol");

  // A change in the group file alone reloads too.
  write(group_, std::string(kGroup) + "staff:x:50:carol\n");
  ASSERT_TRUE(p->refresh());
  EXPECT_THAT(p->initgroups("carol").value(), ElementsAre(999u, 50u));
}

TEST_F(FilesProviderTest, FailedReloadKeepsThePreviousData) {
  auto p = make(kPasswd, kGroup);
  ASSERT_TRUE(p->open());
  std::filesystem::remove(passwd_);
  Status st = p->refresh();
  ASSERT_FALSE(st);
  EXPECT_THAT(st.message(), HasSubstr(passwd_));
  EXPECT_EQ(p->user_by_name("alice")->uid, 1000u) << "old data stays in service";
  EXPECT_EQ(stat_of(*p, "failed_reloads"), "1");
  EXPECT_THAT(stat_of(*p, "last_error"), HasSubstr(passwd_));

  // Readable by stat but not by open (a directory): still the old data.
  std::filesystem::create_directory(passwd_);
  ASSERT_FALSE(p->refresh());
  EXPECT_TRUE(p->user_by_name("bob").has_value());
  std::filesystem::remove(passwd_);

  write(passwd_, "dave:x:2000:2000::/home/dave:/bin/sh\n");
  ASSERT_TRUE(p->refresh());
  EXPECT_EQ(p->user_by_name("dave")->uid, 2000u);
  EXPECT_EQ(p->user_by_name("alice").error().code(), core::Code::kNotFound);
  EXPECT_EQ(stat_of(*p, "last_error"), "");
}

TEST_F(FilesProviderTest, LoadOnOneThreadInstallOnAnother) {
  auto p = make(kPasswd, kGroup);
  ASSERT_TRUE(p->open());
  EXPECT_FALSE(p->changed().value());
  write(passwd_, "erin:x:3000:3000::/:/bin/sh\n");
  EXPECT_TRUE(p->changed().value());

  std::shared_ptr<const FilesProvider::Index> loaded;
  std::thread loader([&] { loaded = p->load().value(); });
  loader.join();
  EXPECT_TRUE(p->user_by_name("alice").has_value()) << "load() alone changes nothing";
  p->install(loaded);
  EXPECT_EQ(p->user_by_name("erin")->uid, 3000u);
  EXPECT_FALSE(p->changed().value());
}

TEST_F(FilesProviderTest, LookupsRunWhileIndexesAreSwapped) {
  auto p = make(kPasswd, kGroup);
  ASSERT_TRUE(p->open());
  auto before = p->load().value();
  write(passwd_, std::string(kPasswd) + "frank:x:4000:4000::/:/bin/sh\n");
  auto after = p->load().value();

  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto alice = p->user_by_name("alice");
      if (!alice || alice->uid != 1000) bad.fetch_add(1);
      auto frank = p->user_by_uid(4000);
      if (frank && frank->name != "frank") bad.fetch_add(1);
    }
  });
  for (int i = 0; i < 2000; ++i) p->install(i % 2 ? before : after);
  stop.store(true);
  reader.join();
  EXPECT_EQ(bad.load(), 0);
}

// ---- The generated dataset -------------------------------------------------------

// gen-dataset's gecos checksum: djb2 (h * 33 + byte) mod 2^32 over the record's
// other fields, so that every parsed field is checked, not just the name.
std::uint64_t dataset_checksum(const std::string& body) {
  std::uint64_t h = 5381;
  for (unsigned char c : body) h = (h * 33 + c) % 4294967296ull;
  return h;
}

// The supplementary groups gen-dataset gives user i: the same formula as the script.
std::vector<std::uint32_t> dataset_groups(int i, int groups, int per_user) {
  std::set<int> chosen;
  for (int k = 1; static_cast<int>(chosen.size()) < per_user && k <= groups; ++k) {
    chosen.insert(((i * 7 + k * 131) % groups) + 1);
  }
  std::vector<std::uint32_t> gids;
  for (int g : chosen) gids.push_back(200000 + g);  // group file is in gid order
  return gids;
}

TEST_F(FilesProviderTest, GeneratedDatasetOfTenThousandUsers) {
  constexpr int kUsers = 10000, kGroups = 1000, kPerUser = 3;
  const std::string cmd = std::string("sh '") + FASTID_SOURCE_DIR + "/scripts/gen-dataset' '" + dir_ +
                          "' " + std::to_string(kUsers) + " " + std::to_string(kGroups) + " " +
                          std::to_string(kPerUser);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  FilesProvider p(FilesProvider::Options{.name = "big", .passwd_path = passwd_, .group_path = group_});
  ASSERT_TRUE(p.open());
  EXPECT_EQ(stat_of(p, "users"), "10000");
  EXPECT_EQ(stat_of(p, "groups"), "1000");
  EXPECT_EQ(stat_of(p, "passwd_malformed_lines"), "0");
  EXPECT_EQ(stat_of(p, "group_malformed_lines"), "0");

  char name[16];
  for (int i = 1; i <= kUsers; ++i) {
    std::snprintf(name, sizeof name, "user%05d", i);
    auto u = p.user_by_name(name);
    ASSERT_TRUE(u.has_value()) << name;
    ASSERT_EQ(u->uid, static_cast<std::uint32_t>(100000 + i));
    ASSERT_EQ(u->gid, static_cast<std::uint32_t>(200000 + ((i - 1) % kGroups) + 1));
    const std::string body = u->name + ":" + std::to_string(u->uid) + ":" + std::to_string(u->gid) +
                             ":" + u->dir + ":" + u->shell;
    ASSERT_EQ(u->gecos, "User " + std::to_string(i) + ";ck=" + std::to_string(dataset_checksum(body)));
    ASSERT_EQ(p.user_by_uid(u->uid)->name, name);
    ASSERT_EQ(p.initgroups(name).value(), dataset_groups(i, kGroups, kPerUser)) << name;
  }

  std::size_t members = 0;
  for (int g = 1; g <= kGroups; ++g) {
    auto group = p.group_by_gid(200000 + g);
    ASSERT_TRUE(group.has_value());
    std::snprintf(name, sizeof name, "group%04d", g);
    ASSERT_EQ(group->name, name);
    members += group->members.size();
  }
  EXPECT_EQ(members, static_cast<std::size_t>(kUsers * kPerUser));

  std::set<std::uint32_t> uids;
  std::uint32_t cursor = 0;
  for (;;) {
    auto page = p.users_page(cursor, 777);
    ASSERT_TRUE(page.has_value());
    for (const User& u : page->records) ASSERT_TRUE(uids.insert(u.uid).second);
    if (!page->more) break;
    cursor = page->next_cursor;
  }
  EXPECT_EQ(uids.size(), static_cast<std::size_t>(kUsers));
}

// ---- Registry ---------------------------------------------------------------------

TEST_F(FilesProviderTest, RegistryBuildsEveryAvailableType) {
  write(passwd_, kPasswd);
  write(group_, kGroup);
  for (std::string_view type : daemon::available_provider_types()) {
    daemon::ProviderConfig config;
    config.name = "reg";
    config.type = std::string(type);
    config.passwd = passwd_;
    config.group = group_;
    config.servers = {"127.0.0.1:1"};  // type fastid: an upstream where nothing listens
    config.timeout = std::chrono::milliseconds(500);
    auto provider = daemon::make_provider(config);
    ASSERT_TRUE(provider.has_value()) << type << ": " << provider.error().to_string();
    EXPECT_EQ((*provider)->name(), "reg");
    if (type == "ldap") {
      // Without a directory to talk to it refuses to open, naming the key
      // (tests/ldap opens it against a real slapd).
      const core::Status st = (*provider)->open();
      EXPECT_EQ(st.code(), core::Code::kInvalidArgument);
      EXPECT_THAT(st.message(), HasSubstr("uri: at least one URI is required"));
      continue;
    }
    if (type == "winbind") {
      // No winbindd here (tests/winbind starts one): an outage naming the
      // socket libwbclient tried, never "not found".
      const core::Status st = (*provider)->open();
      EXPECT_EQ(st.code(), core::Code::kUnavailable) << st.to_string();
      EXPECT_THAT(st.message(), HasSubstr("/run/samba/winbindd/pipe"));
      EXPECT_EQ((*provider)->user_by_name("alice").error().code(), core::Code::kUnavailable);
      continue;
    }
    ASSERT_TRUE((*provider)->open());
    // The files it was given are the files type's answer; others have their own data.
    if (type == "files") {
      EXPECT_EQ((*provider)->user_by_name("alice")->uid, 1000u);
    }
    if (type == "fastid") {
      // An upstream that cannot be reached is an outage, never "not found".
      auto u = (*provider)->user_by_name("alice");
      ASSERT_FALSE(u.has_value());
      EXPECT_EQ(u.error().code(), core::Code::kUnavailable) << u.error().to_string();
      EXPECT_NE(u.error().message().find("127.0.0.1:1"), std::string::npos) << u.error().to_string();
    }
  }
  daemon::ProviderConfig winbind;
  winbind.name = "ad";
  winbind.type = "winbind";
  auto made = daemon::make_provider(winbind);  // built; opened against winbindd in tests/winbind
  ASSERT_TRUE(made.has_value()) << made.error().to_string();
  EXPECT_EQ((*made)->name(), "ad");
  daemon::ProviderConfig nis;
  nis.name = "x";
  nis.type = "nis";
  auto refused = daemon::make_provider(nis);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), core::Code::kInvalidArgument);
  EXPECT_THAT(refused.error().message(), HasSubstr("provider type \"nis\" is not available in this build"));
}

TEST_F(FilesProviderTest, RegistryTakesTheEmbeddedDefault) {
  // The default config is what a host without fastid.toml runs: it must build.
  const daemon::Config config = daemon::default_config();
  auto provider = daemon::make_provider(config.providers.at(0));
  ASSERT_TRUE(provider.has_value());
  EXPECT_EQ((*provider)->name(), "local");
}

}  // namespace
}  // namespace fastid::providers
