// The daemon's log as an operator runs it (issue #13, docs/operations.md
// "Logs"), through the real daemon: SIGUSR1 reopens the log file in the
// supervisor and every worker (logrotate); `fastid debug-level` changes the
// level in every front worker at run time; a line repeated past
// log_repeat_burst is counted and summarised, not written; with stderr on the
// journal (JOURNAL_STREAM), lines carry "<N>" priorities instead of times.
#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "proto/messages.h"
#include "support/daemon_fixture.h"
#include "support/raw_client.h"

namespace fastid::testing {
namespace {

long count(const std::string& text, const std::string& what) {
  long n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

std::string cli(const Daemon& d) { return "FASTID_SOCKET_DIR=" + d.socket_dir() + " " + bin_dir() + "/fastid "; }

TEST(LogsSystemTest, SigusrOneReopensTheLogFileInTheSupervisorAndEveryWorker) {
  Daemon d(100, 10);
  ASSERT_TRUE(d.start({"-w", "2"})) << d.log();
  ASSERT_TRUE(wait_until([&] { return count(d.log(), "serving lookups") == 2; })) << d.log();
  // logrotate: the file is moved away, then the daemon is told.
  const std::string rotated = d.log_path() + ".1";
  ASSERT_EQ(::rename(d.log_path().c_str(), rotated.c_str()), 0);
  ASSERT_EQ(::kill(d.pid(), SIGUSR1), 0);
  EXPECT_TRUE(wait_until([&] { return count(d.log(), "received SIGUSR1: log file reopened") == 3; }))
      << "new file:\n" << d.log() << "\nrotated:\n" << read_file(rotated);
  const std::string fresh = d.log();
  EXPECT_NE(fresh.find("supervisor["), std::string::npos) << fresh;
  EXPECT_NE(fresh.find("worker0["), std::string::npos) << fresh;
  EXPECT_NE(fresh.find("worker1["), std::string::npos) << fresh;
  EXPECT_EQ(read_file(rotated).find("SIGUSR1"), std::string::npos) << "nothing new goes to the old file";
  // Later lines go to the new file: the daemon keeps running and logging.
  auto r = run(cli(d) + "debug-level info 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(wait_until([&] { return d.log().find("log level info") != std::string::npos; })) << d.log();
  struct stat st;
  ASSERT_EQ(::stat(d.log_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(d.stop(SIGTERM), 0);
}

TEST(LogsSystemTest, DebugLevelReachesEveryFrontWorkerAndAReloadSetsTheConfiguredOneAgain) {
  Daemon d(100, 10);
  ASSERT_TRUE(d.start({"-w", "2"})) << d.log();
  const std::string c = cli(d);
  auto bad = run(c + "debug-level chatty 2>&1");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("not one of debug, info, warning, error"), std::string::npos) << bad.out;
  auto denied = run("setpriv --reuid=65534 --regid=65534 --clear-groups env " + c + "debug-level debug 2>&1");
  EXPECT_EQ(denied.exit_code, 1) << denied.out;
  EXPECT_NE(denied.out.find("Permission denied"), std::string::npos) << denied.out;

  auto set = run(c + "debug-level debug 2>&1");
  ASSERT_EQ(set.exit_code, 0) << set.out;
  EXPECT_NE(set.out.find("log level debug (was info)"), std::string::npos) << set.out;
  // Whichever worker answers `fastid status` says debug; both are asked
  // (the pid item tells them apart).
  std::set<std::string> seen;
  EXPECT_TRUE(wait_until([&] {
    const std::string out = run(c + "status 2>&1").out;
    std::smatch pid;
    if (!std::regex_search(out, pid, std::regex("\npid +([0-9]+)\n"))) return false;
    EXPECT_TRUE(std::regex_search(out, std::regex("\nlog\\.level +debug\n"))) << out;
    seen.insert(pid[1]);
    return seen.size() == 2;
  })) << seen.size();
  // A reload takes the configured level again, in every worker.
  ASSERT_EQ(::kill(d.pid(), SIGHUP), 0);
  EXPECT_TRUE(wait_until([&] { return count(d.log(), "reloaded configuration") == 2; })) << d.log();
  seen.clear();
  EXPECT_TRUE(wait_until([&] {
    const std::string out = run(c + "status 2>&1").out;
    std::smatch pid;
    if (!std::regex_search(out, pid, std::regex("\npid +([0-9]+)\n"))) return false;
    EXPECT_TRUE(std::regex_search(out, std::regex("\nlog\\.level +info\n"))) << out;
    seen.insert(pid[1]);
    return seen.size() == 2;
  }));
}

// Provider workers are exec'd, not forked: they follow the front workers'
// level through a read-only mapping of the shared page (core::follow_log_level).
// One started at info writes its per-request debug line once `fastid
// debug-level debug` is set, without a restart, and stops at info again.
TEST(LogsSystemTest, DebugLevelReachesTheProviderWorkersAlreadyRunning) {
  Daemon d(10, 2);
  d.write_config(d.default_config_text() +
                 "\n[[provider]]\nname = \"dir\"\ntype = \"slow\"\nusers = 200\ngroups = 20\n");
  ASSERT_TRUE(d.start()) << d.log();
  const std::string c = cli(d);
  const std::string worker_line = "provider dir: request opcode";
  auto lookup_once = [&](const char* name) {
    int fd = connect_unix(d.socket_dir() + "/nss");
    const bool ok = fd >= 0 && lookup(fd, 1, name);
    if (fd >= 0) ::close(fd);
    return ok;
  };
  // At info a provider worker answers without a debug line; it is running now.
  ASSERT_TRUE(lookup_once("user00100"));
  ASSERT_TRUE(wait_until([&] { return d.status_value("pool.dir.workers") != "0"; })) << d.status().out;
  EXPECT_EQ(count(d.log(), worker_line), 0) << d.log();
  const std::string pids_before = d.status().out;

  auto set = run(c + "debug-level debug 2>&1");
  ASSERT_EQ(set.exit_code, 0) << set.out;
  ASSERT_TRUE(lookup_once("user00101"));
  EXPECT_TRUE(wait_until([&] { return count(d.log(), worker_line) >= 1; })) << d.log();
  EXPECT_NE(d.log().find("provider-worker["), std::string::npos) << d.log();
  // It was the same provider worker: none was started since.
  std::smatch before, after;
  const std::string pids_after = d.status().out;
  ASSERT_TRUE(std::regex_search(pids_before, before, std::regex("pool\\.dir\\.worker\\.[0-9]+ +pid ([0-9]+)")));
  ASSERT_TRUE(std::regex_search(pids_after, after, std::regex("pool\\.dir\\.worker\\.[0-9]+ +pid ([0-9]+)")));
  EXPECT_EQ(before[1], after[1]) << pids_before << "\n" << pids_after;
  // The request line names no user.
  const std::string log = d.log();
  const std::size_t at = log.find(worker_line);
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(log.substr(at, log.find('\n', at) - at).find("user00101"), std::string::npos);

  // Back at info: no more of them.
  ASSERT_EQ(run(c + "debug-level info 2>&1").exit_code, 0);
  const long seen = count(d.log(), worker_line);
  ASSERT_TRUE(lookup_once("user00102"));
  ASSERT_TRUE(lookup_once("user00103"));
  EXPECT_EQ(count(d.log(), worker_line), seen) << d.log();
  EXPECT_EQ(d.stop(SIGTERM), 0);
}

TEST(LogsSystemTest, RepeatedLinesAreCountedAndSummarisedNotWritten) {
  Daemon d(100, 10);
  std::string config = d.default_config_text();
  const std::string level = "log_level = \"info\"\n";
  config.replace(config.find(level), level.size(), level + "log_repeat_burst = 5\nlog_repeat_window = \"1s\"\n");
  d.write_config(config);
  ASSERT_TRUE(d.start()) << d.log();
  // One connection (one pid in the line): the same "unknown user" line, 60 times.
  constexpr int kSent = 60;
  {
    FrameClient c = FrameClient::unix_socket(d.socket_dir() + "/pam");
    for (int i = 0; i < kSent; ++i) {
      proto::Request req{proto::Opcode::kAuthenticate, static_cast<std::uint32_t>(i + 1), "nosuchuser", 0, 0, 0};
      req.password.assign(std::string_view("wrong"));
      req.service = "logtest";
      ASSERT_TRUE(c.send(proto::encode_request(req)));
      proto::FrameHeader h{};
      std::vector<std::uint8_t> payload;
      ASSERT_TRUE(c.read_reply(&h, &payload)) << i;
    }
  }
  // Written lines plus the counts of the summaries add up to what was sent;
  // some were not written. The summary comes once the window has ended (the
  // worker's 1 s timer writes it even with nothing more to log).
  auto written_and_summarised = [&](long* written, long* summarised) {
    *written = 0;
    *summarised = 0;
    std::istringstream in(d.log());
    const std::regex summary("last message repeated ([0-9]+) more time\\(s\\)");
    for (std::string line; std::getline(in, line);) {
      if (line.find("unknown user: user nosuchuser") == std::string::npos) continue;
      std::smatch m;
      if (std::regex_search(line, m, summary)) *summarised += std::stol(m[1]);
      else ++*written;
    }
    return *written + *summarised == kSent;
  };
  long written = 0, summarised = 0;
  EXPECT_TRUE(wait_until([&] { return written_and_summarised(&written, &summarised); }))
      << written << " written, " << summarised << " summarised\n" << d.log();
  EXPECT_GT(summarised, 0);
  EXPECT_LT(written, kSent);
  EXPECT_GE(written, 5);
  auto r = run(cli(d) + "status 2>&1");
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\nlog\\.suppressed +" + std::to_string(summarised) + "\n")))
      << r.out;
}

// fastidd with stderr on a file whose device and inode JOURNAL_STREAM names,
// as systemd starts a service whose output goes to the journal.
TEST(LogsSystemTest, UnderTheJournalLinesCarryPrioritiesAndNoTimes) {
  Daemon d(100, 10);
  const std::string out_path = d.dir() + "/journal.out";
  for (bool matching : {true, false}) {
    ::unlink(out_path.c_str());
    int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    struct stat st;
    ASSERT_EQ(::fstat(fd, &st), 0);
    const std::string stream =
        std::to_string(st.st_dev) + ":" + std::to_string(matching ? st.st_ino : st.st_ino + 1);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(fd, 2);
      ::setenv("JOURNAL_STREAM", stream.c_str(), 1);
      std::string bin = bin_dir() + "/fastidd", config = d.config_path();
      ::execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fd);
    EXPECT_TRUE(wait_until([&] { return read_file(out_path).find("serving lookups") != std::string::npos; }))
        << read_file(out_path);
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const std::string text = read_file(out_path);
    std::istringstream in(text);
    long lines = 0;
    for (std::string line; std::getline(in, line);) {
      ++lines;
      if (matching) {
        EXPECT_TRUE(std::regex_search(line, std::regex("^<[3467]>fastidd\\[[0-9]+\\] (debug|info|warning|error): ")))
            << line;
        if (line.find(" info: ") != std::string::npos) {
          EXPECT_EQ(line.rfind("<6>", 0), 0u) << line;
        }
      } else {
        EXPECT_TRUE(std::regex_search(line, std::regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T"))) << line;
      }
    }
    EXPECT_GE(lines, 2) << text;
  }
}

}  // namespace
}  // namespace fastid::testing
