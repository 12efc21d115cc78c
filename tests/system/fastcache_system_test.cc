// The fast cache through the real NSS module (libnss_fastid.so.2 under glibc's
// getent), replaying the attacks of security issue #11:
//   - a map whose header wraps the index's end (tests/fuzz/hostile_maps.h):
//     getent says "not found", it does not crash;
//   - names typed at a prompt (a canary) looked up through a real daemon with
//     a pooled provider (so the LMDB store is in the path too): no file under
//     the state directory holds the canary's bytes afterwards;
//   - a map file owned by another user, with forged answers: ignored, the
//     daemon's real answer is printed;
//   - and the other side of that rule: maps that workers running as the
//     [daemon] user published do answer root's lookups (socket_dir/cache-owner).
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/daemon_fixture.h"
#include "fastcache/writer.h"
#include "hostile_maps.h"

namespace fastid::testing {
namespace {

namespace fc = fastid::fastcache;
using namespace std::chrono_literals;

constexpr uid_t kStranger = 12345;

void write_map(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  ::chmod(path.c_str(), 0644);
}

// Every regular file under `dir` that contains `needle`.
std::vector<std::string> files_holding(const std::string& dir, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    if (read_file(e.path().string()).find(needle) != std::string::npos) out.push_back(e.path().string());
  }
  return out;
}

TEST(FastCacheSystemTest, AHostileMapHeaderIsNotFoundThroughGetentNotACrash) {
  Daemon d(10, 2);  // not started: the socket is absent, only the maps answer
  fs::create_directories(d.cache_dir());
  for (auto h : {fc::hostile::Header::kIndexOffsetWraps, fc::hostile::Header::kIndexPastTheFile,
                 fc::hostile::Header::kDataOffsetWraps}) {
    for (auto k : {fc::MapKind::kPasswd, fc::MapKind::kGroup, fc::MapKind::kInitgroups})
      write_map(d.cache_dir() + "/" + fc::map_file_name(k), fc::hostile::map_file(h, k, fc::realtime_coarse_ns()));
    for (const char* args : {"passwd x", "passwd root", "passwd 0", "group x", "group 0"}) {
      auto r = d.getent(args);
      // 2: not found (the module says "unavailable": no daemon). 128 + n: killed by signal n.
      EXPECT_EQ(r.exit_code, 2) << "getent -s fastid " << args << " with header " << static_cast<int>(h)
                                << ": " << r.out;
    }
    // getent initgroups prints the user with no groups (exit 0) when the module has none.
    auto r = d.getent("initgroups x");
    EXPECT_EQ(r.exit_code, 0) << "header " << static_cast<int>(h);
    EXPECT_EQ(r.out.substr(0, r.out.find_last_not_of(" \n") + 1), "x") << "header " << static_cast<int>(h);
  }
}

TEST(FastCacheSystemTest, NamesTypedAtAPromptLeaveNoTraceInTheStateDirectory) {
  Daemon d(10, 2);
  d.write_config("[daemon]\nsocket_dir = \"" + d.socket_dir() + "\"\nstate_dir = \"" + d.dir() +
                 "/state\"\nlog_level = \"info\"\n\n[[provider]]\nname = \"dir\"\ntype = \"slow\"\n"
                 "users = 50\ngroups = 5\n");
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_EQ(d.getent("passwd user00001").exit_code, 0) << d.log();
  const std::string canary = "Canary-Typed-Pw-9d2f61";
  EXPECT_EQ(d.getent("passwd " + canary).exit_code, 2);
  EXPECT_EQ(d.getent("group " + canary).exit_code, 2);
  EXPECT_EQ(d.getent("initgroups " + canary).exit_code, 0);  // the user, with no groups
  // The negative answer was published (the next lookup is the map's, the
  // daemon sees no request), so the check below is not vacuous.
  long served = d.requests_served();
  EXPECT_EQ(d.getent("passwd " + canary).exit_code, 2);
  EXPECT_EQ(d.requests_served(), served + 1) << "only the status request itself";
  // A name that breaks the name rules is not published at all: the daemon answers it each time.
  const std::string rule_breaker = "Canary,Comma-4c7e";
  EXPECT_EQ(d.getent("passwd '" + rule_breaker + "'").exit_code, 2);
  served = d.requests_served();
  EXPECT_EQ(d.getent("passwd '" + rule_breaker + "'").exit_code, 2);
  EXPECT_EQ(d.requests_served(), served + 2) << "the lookup went to the daemon, and the status request";
  ASSERT_TRUE(fs::exists(d.dir() + "/state/store/data.mdb")) << "the store is in the path";
  // While the daemon runs (the live maps; LMDB's writes are in the file's
  // pages already), and after a graceful stop (the store synced).
  for (const std::string& needle : {canary, rule_breaker}) {
    EXPECT_EQ(files_holding(d.dir() + "/state", needle), std::vector<std::string>{}) << needle << ", running";
  }
  EXPECT_EQ(d.stop(SIGTERM), 0);
  for (const std::string& needle : {canary, rule_breaker}) {
    EXPECT_EQ(files_holding(d.dir() + "/state", needle), std::vector<std::string>{}) << needle << ", stopped";
  }
}

TEST(FastCacheSystemTest, AMapOwnedByAnotherUserIsIgnoredAndTheDaemonAnswers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  Daemon d(10, 2);
  ASSERT_TRUE(d.start()) << d.log();
  // A forged passwd map: user00001 with uid 31337, in a directory of its own.
  std::string forged_dir = d.dir() + "/forged";
  {
    auto w = fc::FastCacheWriter::open(forged_dir, fc::MapKind::kPasswd);
    ASSERT_TRUE(w.has_value()) << w.error().to_string();
    model::User u;
    u.name = "user00001";
    u.uid = 31337;
    u.gid = 0;
    u.dir = "/root";
    u.shell = "/bin/sh";
    ASSERT_TRUE((*w)->put_user(u, std::chrono::milliseconds(600000)));
  }
  std::string env = d.env() + "FASTID_CACHE_DIR=" + forged_dir + " ";
  auto lookup = [&] { return run(env + "getent -s fastid passwd user00001 2>&1"); };
  // Control: owned by root, the forged map is what answers (it would be used).
  auto as_root = lookup();
  ASSERT_EQ(as_root.exit_code, 0);
  ASSERT_NE(as_root.out.find(":31337:"), std::string::npos) << as_root.out;
  // Owned by somebody else: ignored; the daemon's real answer.
  ASSERT_EQ(::chown((forged_dir + "/passwd").c_str(), kStranger, kStranger), 0);
  auto as_stranger = lookup();
  EXPECT_EQ(as_stranger.exit_code, 0);
  EXPECT_EQ(as_stranger.out, d.dataset.passwd_by_name.at("user00001") + "\n");
}

TEST(FastCacheSystemTest, MapsPublishedByTheServiceUserAnswerRootsLookups) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop privileges";
  constexpr uid_t kServiceUid = 65534;
  Daemon d(10, 2);
  ::chmod(d.dir().c_str(), 0755);  // the workers read the dataset and the config
  std::string config = d.default_config_text();
  config.insert(config.find("log_level"), "user = \"65534\"\ngroup = \"65534\"\n");
  d.write_config(config);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_EQ(d.getent("passwd user00001").exit_code, 0) << d.log();
  struct stat map {};
  ASSERT_EQ(::stat((d.cache_dir() + "/passwd").c_str(), &map), 0);
  ASSERT_EQ(map.st_uid, kServiceUid) << "the map is the service user's, not root's";
  // getent runs as root: the map answers, the daemon sees only the status request.
  const long served = d.requests_served();
  auto again = d.getent("passwd user00001");
  EXPECT_EQ(again.out, d.dataset.passwd_by_name.at("user00001") + "\n");
  EXPECT_EQ(d.requests_served(), served + 1) << "the lookup went to the socket, not the map";
}

}  // namespace
}  // namespace fastid::testing
