// Cache control through the real daemon (issue #13): `fastid cache invalidate`
// empties the persistent store's maps as well as the fast cache, so the next
// lookup goes to the directory; `invalidate user|group NAME|ID` drops one
// entry under all its keys, in the store and the fast cache, and nothing
// else; `cache show` prints what is held and until when; only root on the
// admin socket may ask. The directory is the slow provider (a pooled
// provider, so behind the store); lookups go through real glibc (nss_query).
#include <gtest/gtest.h>

#include <string>

#include "proto/messages.h"
#include "support/daemon_fixture.h"
#include "support/raw_client.h"

namespace fastid::testing {
namespace {

class CacheControlSystemTest : public ::testing::Test {
 protected:
  CacheControlSystemTest() : d_(10, 2) {}

  void configure(int workers) {
    d_.write_config("[daemon]\nsocket_dir = \"" + d_.socket_dir() + "\"\nstate_dir = \"" + d_.dir() +
                    "/state\"\nlog_level = \"info\"\nworkers = " + std::to_string(workers) +
                    "\n\n[pool]\nrequest_timeout = \"" + scaled_duration(std::chrono::seconds(10)) +
                    "\"\n\n[[provider]]\nname = \"dir\"\ntype = \"slow\"\nusers = 200\ngroups = 20\n");
  }

  std::string cli() const { return "FASTID_SOCKET_DIR=" + d_.socket_dir() + " " + bin_dir() + "/fastid "; }
  CommandResult fastid(const std::string& args) const { return run(cli() + args + " 2>&1"); }
  CommandResult query(const std::string& args) const {
    return run(d_.env() + bin_dir() + "/nss_query " + args + " 2>&1");
  }
  // One value of `fastid cache show ...` ("" when the key is not there).
  std::string shown(const std::string& what, const std::string& key) const {
    const std::string out = "\n" + fastid("cache show " + what).out;
    auto at = out.find("\n" + key + " ");
    if (at == std::string::npos) return "";
    auto v = out.find_first_not_of(' ', at + key.size() + 1);
    return out.substr(v, out.find('\n', v) - v);
  }
  long counter(const std::string& key) const {
    std::string v = d_.status_value(key);
    return v.empty() ? -1 : std::stol(v);
  }

  Daemon d_;
};

TEST_F(CacheControlSystemTest, ForgettingOneUserDropsItEverywhereAndTheNextLookupAsksTheDirectory) {
  configure(1);
  ASSERT_TRUE(d_.start()) << d_.log();
  for (const char* q : {"passwd user00005", "groups user00005", "passwd user00006"}) {
    auto r = query(q);
    ASSERT_EQ(r.exit_code, 0) << q << ": " << r.out;
  }
  // What is held: the store's records (by name, by uid once learnt, the
  // initgroups list) with their times, and the fast cache's.
  EXPECT_EQ(shown("user user00005", "store.dir.passwd.byname").rfind("user00005:x:100005:", 0), 0u)
      << fastid("cache show user user00005").out;
  EXPECT_NE(shown("user user00005", "store.dir.passwd.byname.expires").find("(in "), std::string::npos);
  EXPECT_NE(shown("user user00005", "store.dir.passwd.byname.fetched").find(" s ago)"), std::string::npos);
  EXPECT_EQ(shown("user user00005", "store.dir.passwd.byuid").rfind("user00005:x:100005:", 0), 0u);
  EXPECT_FALSE(shown("user user00005", "store.dir.initgroups").empty());
  EXPECT_EQ(shown("user user00005", "fastcache.passwd.user00005"), "published");
  EXPECT_EQ(shown("user 100005", "fastcache.passwd.100005"), "published");
  EXPECT_EQ(shown("user 100005", "store.dir.passwd.byname").rfind("user00005:", 0), 0u)
      << "by uid, the name is learnt from the stored record";

  // Dropped by its uid: every key of the user goes, in both caches.
  auto forgot = fastid("cache invalidate user 100005");
  ASSERT_EQ(forgot.exit_code, 0) << forgot.out;
  // Stored: by name, by uid, the group list; published: the passwd record
  // (one record under both keys) and the group list.
  EXPECT_NE(forgot.out.find("3 stored record(s) and 2 fast cache record(s) removed"), std::string::npos)
      << forgot.out;
  for (const char* key : {"store.dir.passwd.byname", "store.dir.initgroups"}) {
    EXPECT_EQ(shown("user user00005", key), "not stored") << key;
  }
  EXPECT_EQ(shown("user 100005", "store.dir.passwd.byuid"), "not stored");
  EXPECT_EQ(shown("user 100005", "fastcache.passwd.100005"), "not published");
  EXPECT_EQ(shown("user user00005", "fastcache.passwd.user00005"), "not published");
  EXPECT_EQ(shown("user user00005", "fastcache.initgroups.user00005"), "not published");
  // The neighbour is untouched.
  EXPECT_EQ(shown("user user00006", "store.dir.passwd.byname").rfind("user00006:", 0), 0u);
  EXPECT_EQ(shown("user user00006", "fastcache.passwd.user00006"), "published");

  // The next lookup misses the store and asks the directory.
  const long misses = counter("store.dir.misses");
  ASSERT_GE(misses, 0);
  auto again = query("passwd user00005");
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(counter("store.dir.misses"), misses + 1);
  auto neighbour = query("passwd user00006");  // from the fast cache: the daemon is not asked
  EXPECT_EQ(neighbour.exit_code, 0) << neighbour.out;
  EXPECT_EQ(counter("store.dir.misses"), misses + 1);
  EXPECT_NE(d_.log().find("cache entry user 100005 forgotten by an administrator"), std::string::npos) << d_.log();

  // A group, by name: both keys.
  ASSERT_EQ(query("group group0003").exit_code, 0);
  EXPECT_EQ(shown("group group0003", "store.dir.group.bygid").rfind("group0003:x:", 0), 0u);
  auto g = fastid("cache invalidate group group0003");
  EXPECT_EQ(g.exit_code, 0) << g.out;
  EXPECT_EQ(shown("group group0003", "store.dir.group.byname"), "not stored");
  EXPECT_EQ(shown("group group0003", "fastcache.group.group0003"), "not published");

  // Unknown words are refused by the tool with a message.
  auto bad = fastid("cache invalidate people alice");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("unknown map"), std::string::npos) << bad.out;
  auto bad_show = fastid("cache show host alice");
  EXPECT_EQ(bad_show.exit_code, 1);
}

TEST_F(CacheControlSystemTest, InvalidatingAMapEmptiesTheStoreTooInEveryWorker) {
  configure(2);
  ASSERT_TRUE(d_.start()) << d_.log();
  for (const char* q : {"passwd user00001", "passwd user00002", "group group0001", "groups user00001"}) {
    ASSERT_EQ(query(q).exit_code, 0) << q;
  }
  ASSERT_EQ(shown("user user00001", "store.dir.passwd.byname").rfind("user00001:", 0), 0u);
  auto inv = fastid("cache invalidate passwd");
  ASSERT_EQ(inv.exit_code, 0) << inv.out;
  EXPECT_NE(inv.out.find("4 stored record(s) removed, fast cache emptied"), std::string::npos) << inv.out;
  // Asked several times: whichever worker answers, the store (shared) holds
  // no passwd record, and still holds the groups.
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(shown("user user00002", "store.dir.passwd.byname"), "not stored");
    EXPECT_EQ(shown("group group0001", "store.dir.group.byname").rfind("group0001:", 0), 0u);
    EXPECT_FALSE(shown("user user00001", "store.dir.initgroups").empty());
  }
  auto all = fastid("cache invalidate");
  ASSERT_EQ(all.exit_code, 0) << all.out;
  EXPECT_EQ(shown("group group0001", "store.dir.group.byname"), "not stored");
  EXPECT_EQ(shown("user user00001", "store.dir.initgroups"), "not stored");
  EXPECT_EQ(query("passwd user00001").exit_code, 0) << "answered again from the directory";
}

TEST_F(CacheControlSystemTest, OnlyRootOnTheAdminSocketMayShowOrForget) {
  configure(1);
  ASSERT_TRUE(d_.start()) << d_.log();
  ASSERT_EQ(query("passwd user00007").exit_code, 0);
  // Not root: the admin socket's mode keeps the caller out.
  for (const char* args : {"cache show user user00007", "cache invalidate user user00007"}) {
    auto denied = run("setpriv --reuid=65534 --regid=65534 --clear-groups env " + cli() + args + " 2>&1");
    EXPECT_EQ(denied.exit_code, 1) << denied.out;
    EXPECT_NE(denied.out.find("Permission denied"), std::string::npos) << denied.out;
  }
  // Root, but on the lookup and pam sockets: refused by the gate, and not
  // mistaken for a lookup.
  for (const char* socket : {"/nss", "/pam"}) {
    for (proto::Opcode op : {proto::Opcode::kCacheForget, proto::Opcode::kCacheShow}) {
      FrameClient c = FrameClient::unix_socket(d_.socket_dir() + socket);
      ASSERT_TRUE(c.send(proto::encode_request({op, 3, "user00007", proto::kEntryUser, 0, 0})));
      proto::FrameHeader h{};
      std::vector<std::uint8_t> payload;
      ASSERT_TRUE(c.read_reply(&h, &payload)) << socket;
      EXPECT_EQ(h.status, static_cast<std::uint32_t>(proto::WireStatus::kPermissionDenied)) << socket;
    }
  }
  EXPECT_EQ(shown("user user00007", "store.dir.passwd.byname").rfind("user00007:", 0), 0u)
      << "nothing was dropped";
  EXPECT_EQ(shown("user user00007", "fastcache.passwd.user00007"), "published");
}

}  // namespace
}  // namespace fastid::testing
