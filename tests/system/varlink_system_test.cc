// The systemd userdb front end to end (docs/varlink.md): a real fastidd with
// [varlink] enabled, asked by real nss-systemd through glibc (getent, id) and
// by userdbctl, in a private mount namespace whose /run/systemd/userdb holds
// only this test's socket and whose nsswitch.conf is Debian's default
// `passwd: files systemd` (no fastid module); every error of the interface
// through a raw client; hostile messages refused with the daemon serving on.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <sstream>

#include "support/daemon_fixture.h"
#include "support/varlink_client.h"

namespace fastid::testing {
namespace {

using Json = nlohmann::json;

constexpr int kUsers = 300;
constexpr int kGroups = 30;

// A fastidd serving the dataset through the slow provider (a pooled
// directory, as LDAP is) and, as "local", the same files provider type the
// default leaves out, on a Varlink socket in the test's own userdb folder.
class VarlinkSystemTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = new Daemon(kUsers, kGroups);
    fs::create_directories(daemon_->dir() + "/userdb");
    fs::create_directories(daemon_->dir() + "/local");
    // A files user and group that the front leaves out by default.
    write_file(daemon_->dir() + "/local/passwd", "localonly:x:4242:4242:Local:/home/localonly:/bin/sh\n");
    write_file(daemon_->dir() + "/local/group", "localgrp:x:4243:user00001\n");
    write_file(daemon_->dir() + "/nsswitch.conf", "passwd: files systemd\ngroup: files systemd\n");
    daemon_->write_config("[daemon]\nsocket_dir = \"" + daemon_->socket_dir() + "\"\nstate_dir = \"" +
                          daemon_->dir() + "/state\"\n\n[varlink]\nenabled = true\nsocket = \"" + socket() +
                          "\"\n\n[[provider]]\nname = \"local\"\ntype = \"files\"\npasswd = \"" + daemon_->dir() +
                          "/local/passwd\"\ngroup = \"" + daemon_->dir() + "/local/group\"\n\n[[provider]]\n"
                          "name = \"dir\"\ntype = \"slow\"\nusers = " + std::to_string(kUsers) + "\ngroups = " +
                          std::to_string(kGroups) + "\ndown_file = \"" + daemon_->dir() + "/down\"\n");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    ASSERT_TRUE(wait_until([] { return VarlinkClient(socket()).connected(); })) << daemon_->log();
  }
  static void TearDownTestSuite() {
    int status = daemon_->stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    delete daemon_;
    daemon_ = nullptr;
  }
  static std::string socket() { return daemon_->dir() + "/userdb/io.fastid"; }

  // `command` where nss-systemd sees only this daemon.
  static CommandResult in_namespace(const std::string& command) {
    return userdb_namespace(daemon_->dir() + "/userdb", daemon_->dir() + "/nsswitch.conf", command);
  }

  // One call on a fresh connection: its replies, parsed.
  static std::vector<Json> call(const std::string& message) {
    VarlinkClient c(socket());
    EXPECT_TRUE(c.connected());
    EXPECT_TRUE(c.send(message));
    std::vector<Json> out;
    for (const std::string& m : c.replies()) out.push_back(Json::parse(m));
    return out;
  }
  static std::string error_of(const std::string& message) {
    auto r = call(message);
    if (r.size() != 1 || !r[0].contains("error")) return "(no error: " + std::to_string(r.size()) + " replies)";
    return r[0]["error"].get<std::string>();
  }

  // The daemon is alive and answers a well-formed call.
  static void expect_serving() {
    ASSERT_EQ(::kill(daemon_->pid(), 0), 0) << "fastidd died";
    auto r = call(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"user00007","service":"io.fastid"}})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0]["parameters"]["record"]["uid"], 100007);
  }

  static Daemon* daemon_;
};
Daemon* VarlinkSystemTest::daemon_ = nullptr;

// ---- Real nss-systemd through glibc -------------------------------------------

TEST_F(VarlinkSystemTest, GetentPasswdThroughNssSystemdEqualsTheDataset) {
  for (int i : {1, 2, 150, 300}) {
    char name[16];
    std::snprintf(name, sizeof name, "user%05d", i);
    auto r = in_namespace("getent passwd " + std::string(name));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out, daemon_->dataset.passwd_by_name.at(name) + "\n");
    auto by_uid = in_namespace("getent passwd " + std::to_string(100000 + i));
    ASSERT_EQ(by_uid.exit_code, 0) << by_uid.out;
    EXPECT_EQ(by_uid.out, r.out);
  }
  auto unknown = in_namespace("getent passwd nosuchuser");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out;
}

TEST_F(VarlinkSystemTest, GetentGroupAndInitgroupsThroughNssSystemdEqualTheDataset) {
  for (int g : {1, 17, 30}) {
    char name[16];
    std::snprintf(name, sizeof name, "group%04d", g);
    auto r = in_namespace("getent group " + std::string(name));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    // nss-systemd lists the members it learns from the record and from
    // GetMemberships: the same set as the dataset, maybe in another order.
    auto got = split(r.out.substr(0, r.out.size() - 1), ':');
    auto want = split(daemon_->dataset.group_by_name.at(name), ':');
    ASSERT_EQ(got.size(), 4u) << r.out;
    EXPECT_EQ(got[0], want[0]);
    EXPECT_EQ(got[2], want[2]);
    auto got_members = split(got[3], ',');
    auto want_members = split(want[3], ',');
    EXPECT_EQ(std::set<std::string>(got_members.begin(), got_members.end()),
              std::set<std::string>(want_members.begin(), want_members.end()));
    auto by_gid = in_namespace("getent group " + std::to_string(200000 + g));
    EXPECT_EQ(by_gid.out, r.out);
  }
  for (const char* user : {"user00002", "user00299"}) {
    auto r = in_namespace("getent initgroups " + std::string(user));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    std::set<unsigned> got;
    auto fields = split(r.out.substr(0, r.out.find('\n')), ' ');
    for (std::size_t i = 1; i < fields.size(); ++i) {
      if (!fields[i].empty()) got.insert(static_cast<unsigned>(std::stoul(fields[i])));
    }
    // The groups that list the user (getent asks with no primary group).
    // user00001 is also in "localgrp" of the files provider: left out, glibc's
    // files would answer it. For these two users nothing is left out.
    EXPECT_EQ(got, daemon_->dataset.groups_of.at(user)) << r.out;
  }
}

TEST_F(VarlinkSystemTest, IdThroughNssSystemdEqualsTheDataset) {
  auto r = in_namespace("id user00005");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("uid=100005(user00005) gid=200005(group0005) groups=", 0), 0u) << r.out;
  for (unsigned gid : daemon_->dataset.groups_of.at("user00005")) {
    char group[32];
    std::snprintf(group, sizeof group, "%u(group%04u)", gid, gid - 200000);
    EXPECT_NE(r.out.find(group), std::string::npos) << r.out << " lacks " << group;
  }
}

TEST_F(VarlinkSystemTest, EnumerationThroughNssSystemdListsEachDirectoryUserOnce) {
  auto r = in_namespace("getent passwd");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::map<std::string, int> seen;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("user", 0) == 0) ++seen[line];
  }
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kUsers)) << r.out.substr(0, 2000);
  for (const auto& [line, count] : seen) {
    EXPECT_EQ(count, 1) << line;
    EXPECT_EQ(daemon_->dataset.passwd_by_name.count(split(line, ':')[0]), 1u) << line;
  }
  EXPECT_EQ(r.out.find("localonly"), std::string::npos) << "a files record listed twice";
}

TEST_F(VarlinkSystemTest, UserdbctlSeesTheSameRecords) {
  if (run("command -v userdbctl").exit_code != 0) GTEST_FAIL() << "userdbctl missing: scripts/install-deps";
  auto user = in_namespace("userdbctl --output=json user user00003");
  ASSERT_EQ(user.exit_code, 0) << user.out;
  Json u = Json::parse(user.out);
  EXPECT_EQ(u["userName"], "user00003");
  EXPECT_EQ(u["uid"], 100003);
  EXPECT_EQ(u["gid"], 200003);
  EXPECT_EQ(u["homeDirectory"], "/home/user00003");
  EXPECT_EQ(u["service"], "io.fastid");

  auto group = in_namespace("userdbctl --output=json group group0004");
  ASSERT_EQ(group.exit_code, 0) << group.out;
  Json g = Json::parse(group.out);
  EXPECT_EQ(g["groupName"], "group0004");
  EXPECT_EQ(g["gid"], 200004);

  auto members = in_namespace("userdbctl --output=classic users-in-group group0004");
  ASSERT_EQ(members.exit_code, 0) << members.out;
  for (const std::string& m : split(split(daemon_->dataset.group_by_name.at("group0004"), ':')[3], ',')) {
    EXPECT_NE(members.out.find(m), std::string::npos) << members.out << " lacks " << m;
  }
  auto groups = in_namespace("userdbctl --output=classic groups-of-user user00004");
  ASSERT_EQ(groups.exit_code, 0) << groups.out;
  for (unsigned gid : daemon_->dataset.groups_of.at("user00004")) {
    char name[16];
    std::snprintf(name, sizeof name, "group%04u", gid - 200000);
    EXPECT_NE(groups.out.find(name), std::string::npos) << groups.out << " lacks " << name;
  }
}

// ---- The interface, call by call ----------------------------------------------

TEST_F(VarlinkSystemTest, RecordsCarryTheServiceAndConflictsAreNamed) {
  auto r = call(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"uid":100010,"service":"io.fastid"}})");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["parameters"]["record"]["userName"], "user00010");
  EXPECT_EQ(r[0]["parameters"]["record"]["service"], "io.fastid");
  EXPECT_EQ(r[0]["parameters"]["incomplete"], false);
  EXPECT_FALSE(r[0]["parameters"]["record"].contains("privileged"));
  EXPECT_EQ(error_of(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"user00010","uid":100011,"service":"io.fastid"}})"),
            "io.systemd.UserDatabase.ConflictingRecordFound");
  EXPECT_EQ(error_of(R"({"method":"io.systemd.UserDatabase.GetGroupRecord","parameters":{"groupName":"group0010","gid":200011,"service":"io.fastid"}})"),
            "io.systemd.UserDatabase.ConflictingRecordFound");
  EXPECT_EQ(error_of(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"user00010","uidMax":1000,"service":"io.fastid"}})"),
            "io.systemd.UserDatabase.NonMatchingRecordFound");
  EXPECT_EQ(error_of(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"nosuchuser","service":"io.fastid"}})"),
            "io.systemd.UserDatabase.NoRecordFound");
  EXPECT_EQ(error_of(R"({"method":"io.systemd.UserDatabase.GetGroupRecord","parameters":{"gid":4000000,"service":"io.fastid"}})"),
            "io.systemd.UserDatabase.NoRecordFound");
}

TEST_F(VarlinkSystemTest, TheServiceParameterIsChecked) {
  for (const char* params : {R"({"userName":"user00010","service":"io.systemd.Multiplexer"})",
                             R"({"userName":"user00010"})", R"({"userName":"user00010","service":"io.fastidX"})"}) {
    EXPECT_EQ(error_of(std::string(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":)") + params + "}"),
              "io.systemd.UserDatabase.BadService")
        << params;
  }
  EXPECT_EQ(error_of(R"({"method":"io.systemd.UserDatabase.GetMemberships","parameters":{"userName":"user00010"}})"),
            "io.systemd.UserDatabase.BadService");
}

TEST_F(VarlinkSystemTest, FilesRecordsAreLeftOutByDefault) {
  EXPECT_EQ(error_of(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"localonly","service":"io.fastid"}})"),
            "io.systemd.UserDatabase.NoRecordFound");
  EXPECT_EQ(error_of(R"({"method":"io.systemd.UserDatabase.GetGroupRecord","parameters":{"gid":4243,"service":"io.fastid"}})"),
            "io.systemd.UserDatabase.NoRecordFound");
  // user00001's memberships: the dataset's groups, not the files group.
  auto r = call(R"({"method":"io.systemd.UserDatabase.GetMemberships","parameters":{"userName":"user00001","service":"io.fastid"},"more":true})");
  std::set<std::string> groups;
  for (const Json& m : r) groups.insert(m["parameters"].value("groupName", "?"));
  std::set<std::string> want;
  for (unsigned gid : daemon_->dataset.groups_of.at("user00001")) {
    char name[16];
    std::snprintf(name, sizeof name, "group%04u", gid - 200000);
    want.insert(name);
  }
  EXPECT_EQ(groups, want);
}

TEST_F(VarlinkSystemTest, MoreStreamsEnumerationsAndMemberships) {
  auto users = call(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"service":"io.fastid"},"more":true})");
  ASSERT_EQ(users.size(), static_cast<std::size_t>(kUsers));
  for (std::size_t i = 0; i + 1 < users.size(); ++i) EXPECT_EQ(users[i].value("continues", false), true) << i;
  EXPECT_FALSE(users.back().contains("continues"));
  auto groups = call(R"({"method":"io.systemd.UserDatabase.GetGroupRecord","parameters":{"service":"io.fastid","gidMin":200011},"more":true})");
  EXPECT_EQ(groups.size(), static_cast<std::size_t>(kGroups - 10));
  auto members = call(R"({"method":"io.systemd.UserDatabase.GetMemberships","parameters":{"groupName":"group0002","service":"io.fastid"},"more":true})");
  EXPECT_EQ(members.size(), split(split(daemon_->dataset.group_by_name.at("group0002"), ':')[3], ',').size());
  auto all = call(R"({"method":"io.systemd.UserDatabase.GetMemberships","parameters":{"service":"io.fastid"},"more":true})");
  std::size_t pairs = 0;
  for (const auto& [gid, line] : daemon_->dataset.group_by_gid) pairs += split(split(line, ':')[3], ',').size();
  EXPECT_EQ(all.size(), pairs);
  // Without `more` an enumeration is refused, as systemd's services do.
  EXPECT_EQ(error_of(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"service":"io.fastid"}})"),
            "org.varlink.service.ExpectedMore");
  // Without `more` a membership list is its first pair alone.
  EXPECT_EQ(call(R"({"method":"io.systemd.UserDatabase.GetMemberships","parameters":{"userName":"user00002","service":"io.fastid"}})").size(),
            1u);
}

TEST_F(VarlinkSystemTest, EnumerationTurnedOffIsEnumerationNotSupported) {
  const std::string config = read_file(daemon_->config_path());
  std::string off = config;
  off.replace(off.find("enabled = true\n"), 15, "enabled = true\nenumerate = false\n");
  daemon_->write_config(off);
  ::kill(daemon_->pid(), SIGHUP);
  const char* enumerate = R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"service":"io.fastid"},"more":true})";
  EXPECT_TRUE(wait_until([&] { return error_of(enumerate) == "io.systemd.UserDatabase.EnumerationNotSupported"; }))
      << daemon_->log();
  EXPECT_EQ(error_of(R"({"method":"io.systemd.UserDatabase.GetMemberships","parameters":{"service":"io.fastid"},"more":true})"),
            "io.systemd.UserDatabase.EnumerationNotSupported");
  expect_serving();  // lookups by name still answer
  daemon_->write_config(config);
  ::kill(daemon_->pid(), SIGHUP);
  EXPECT_TRUE(wait_until([&] { return call(enumerate).size() == static_cast<std::size_t>(kUsers); }));
}

TEST_F(VarlinkSystemTest, PipelinedCallsAreAnsweredInOrderOnOneConnection) {
  VarlinkClient c(socket());
  ASSERT_TRUE(c.connected());
  std::string both;
  for (int i : {20, 21, 22}) {
    both += R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"uid":)" + std::to_string(100000 + i) +
            R"(,"service":"io.fastid"}})" + std::string(1, '\0');
  }
  ASSERT_TRUE(c.send_raw(both));
  for (int i : {20, 21, 22}) {
    auto m = c.read_message();
    ASSERT_TRUE(m);
    EXPECT_EQ(Json::parse(*m)["parameters"]["record"]["uid"], 100000 + i);
  }
}

TEST_F(VarlinkSystemTest, OrgVarlinkServiceAndUnknownMethods) {
  auto info = call(R"({"method":"org.varlink.service.GetInfo"})");
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0]["parameters"]["interfaces"][0], "io.systemd.UserDatabase");
  auto desc = call(R"({"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":"io.systemd.UserDatabase"}})");
  ASSERT_EQ(desc.size(), 1u);
  EXPECT_NE(desc[0]["parameters"]["description"].get<std::string>().find("method GetMemberships"), std::string::npos);
  // An unknown method or a bad parameter is an error reply; the connection stays.
  VarlinkClient c(socket());
  ASSERT_TRUE(c.send(R"({"method":"io.systemd.UserDatabase.DeleteUser","parameters":{}})"));
  auto m = c.read_message();
  ASSERT_TRUE(m);
  EXPECT_EQ(Json::parse(*m)["error"], "org.varlink.service.MethodNotFound");
  ASSERT_TRUE(c.send(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"uid":-5,"service":"io.fastid"}})"));
  m = c.read_message();
  ASSERT_TRUE(m);
  EXPECT_EQ(Json::parse(*m)["error"], "org.varlink.service.InvalidParameter");
  EXPECT_EQ(Json::parse(*m)["parameters"]["parameter"], "uid");
  ASSERT_TRUE(c.send(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"uid":100001,"service":"io.fastid"}})"));
  m = c.read_message();
  ASSERT_TRUE(m);
  EXPECT_EQ(Json::parse(*m)["parameters"]["record"]["userName"], "user00001");
}

TEST_F(VarlinkSystemTest, AnUnreachableDirectoryIsServiceNotAvailable) {
  write_file(daemon_->dir() + "/down", "");
  // A name nobody looked up: neither the store nor the provider knows it.
  const std::string e = error_of(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"user00299x","service":"io.fastid"}})");
  ::unlink((daemon_->dir() + "/down").c_str());
  EXPECT_EQ(e, "io.systemd.UserDatabase.ServiceNotAvailable");
}

// ---- Hostile peers ------------------------------------------------------------

TEST_F(VarlinkSystemTest, HostileMessagesCloseTheirConnectionOnly) {
  const std::string before = daemon_->status_value("varlink.malformed");
  struct Case {
    const char* what;
    std::string bytes;
  } cases[] = {
      {"invalid JSON", std::string("{\"method\":") + std::string(1, '\0')},
      {"not an object", std::string("[1,2,3]") + std::string(1, '\0')},
      {"deep nesting", std::string(200000, '[') + std::string(1, '\0')},
      // Well-formed, a real call, but nested past the limit (in a key nobody reads).
      {"deep nesting in a valid call",
       std::string(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"user00007","service":"io.fastid"},"x":)") +
           std::string(20, '[') + std::string(20, ']') + "}" + std::string(1, '\0')},
      {"bad UTF-8", std::string("{\"method\":\"io.systemd.UserDatabase.GetUserRecord\",\"parameters\":{\"userName\":\"\xff\xfe\xfd\",\"service\":\"io.fastid\"}}") + std::string(1, '\0')},
      {"no method", std::string("{\"parameters\":{}}") + std::string(1, '\0')},
  };
  for (const Case& t : cases) {
    VarlinkClient c(socket());
    ASSERT_TRUE(c.connected()) << t.what;
    c.send_raw(t.bytes);
    EXPECT_TRUE(c.closed_by_peer()) << t.what << ": the connection stays open";
    expect_serving();
  }
  EXPECT_EQ(std::stol(daemon_->status_value("varlink.malformed")), std::stol(before) + 6);
}

TEST_F(VarlinkSystemTest, AMessageWithoutItsNulIsCutOffAtTheLimit) {
  // 1 MiB and no NUL: the daemon stops reading after 16 KiB and closes, so
  // the sender is refused long before its megabyte is through.
  VarlinkClient c(socket());
  ASSERT_TRUE(c.connected());
  const std::string huge = "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\",\"parameters\":{\"userName\":\"" +
                           std::string(1 << 20, 'a');
  EXPECT_FALSE(c.send_raw(huge)) << "a megabyte without a NUL was taken whole";
  expect_serving();
  // A 1 MiB message that does end in its NUL is refused the same way.
  VarlinkClient d(socket());
  EXPECT_FALSE(d.send_raw(huge + "\"}}" + std::string(1, '\0')));
  expect_serving();
}

TEST_F(VarlinkSystemTest, APeerThatStopsMidMessageDoesNotHoldOthersUp) {
  VarlinkClient slow(socket());
  ASSERT_TRUE(slow.send_raw(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":)"));
  expect_serving();  // served while the other waits mid-message
}

}  // namespace
}  // namespace fastid::testing
