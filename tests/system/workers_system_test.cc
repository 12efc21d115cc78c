// Front workers as an operator sees them: every worker's figures in one
// `fastid status`, SIGHUP reaching every worker, SIGTERM under load, the
// "exit" policy, and workers that run as an unprivileged user.
#include <gtest/gtest.h>

#include <dirent.h>
#include <poll.h>

#include <atomic>
#include <mutex>

#include "support/daemon_fixture.h"
#include "proto/messages.h"
#include "proto/wire.h"

namespace fastid::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A request sent this long before SIGTERM was certainly read by a worker
// before the stop began: it must be answered. Sanitizers slow everything.
#ifdef FASTID_ASAN_RUNTIME
constexpr auto kSurelyInFlight = std::chrono::milliseconds(1500);
constexpr auto kLoadBeforeSignal = std::chrono::milliseconds(3000);
#else
constexpr auto kSurelyInFlight = std::chrono::milliseconds(300);
constexpr auto kLoadBeforeSignal = std::chrono::milliseconds(1200);
#endif

std::map<std::string, std::string> status_of(const Daemon& d) {
  auto r = run("FASTID_SOCKET_DIR=" + d.socket_dir() + " " + bin_dir() + "/fastid status");
  std::map<std::string, std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    auto v = line.find_first_not_of(' ', sp);
    out[line.substr(0, sp)] = v == std::string::npos ? "" : line.substr(v);
  }
  return out;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

TEST(WorkersSystemTest, StatusShowsEveryWorkerAndSighupChangesAReloadableSettingInAllOfThem) {
  Daemon d(100, 10);
  ASSERT_TRUE(d.start({"-w", "3"})) << d.log();
  std::map<std::string, std::string> st;
  // Each worker publishes within 500 ms of starting (more under sanitizers).
  auto until = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    st = status_of(d);
    if (st.count("worker.0.pid") && st.count("worker.1.pid") && st.count("worker.2.pid")) break;
    if (Clock::now() > until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(st["workers"], "3");
  std::set<std::string> pids;
  for (int i = 0; i < 3; ++i) {
    const std::string p = "worker." + std::to_string(i) + ".";
    ASSERT_TRUE(st.count(p + "pid")) << p;
    pids.insert(st[p + "pid"]);
    EXPECT_TRUE(alive(std::stoi(st[p + "pid"])));
    EXPECT_EQ(st[p + "idle_timeout_ms"], "60000");
    EXPECT_EQ(st[p + "reloads"], "0");
    EXPECT_GT(std::stoul(st[p + "rss_kib"]), 0u);
  }
  EXPECT_EQ(pids.size(), 3u) << "three distinct workers";

  // Requests made through any worker add up in the totals.
  for (int i = 0; i < 30; ++i) ASSERT_EQ(d.getent("passwd user000" + std::to_string(10 + i)).exit_code, 0);
  // Each worker publishes its figures every 500 ms.
  EXPECT_TRUE(wait_until([&] {
    st = status_of(d);
    return !st["total.requests"].empty() && std::stoul(st["total.requests"]) >= 30u;
  })) << st["total.requests"];

  // SIGHUP to the supervisor: every worker reloads and shows the new value.
  std::string cfg = d.default_config_text();
  cfg.insert(cfg.find("log_level"), "idle_timeout = \"7s\"\n");
  d.write_config(cfg);
  ASSERT_EQ(::kill(d.pid(), SIGHUP), 0);
  bool all = false;
  until = Clock::now() + std::chrono::seconds(5);
  while (!all && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    st = status_of(d);
    all = true;
    for (int i = 0; i < 3; ++i) {
      const std::string p = "worker." + std::to_string(i) + ".";
      all = all && st[p + "idle_timeout_ms"] == "7000" && st[p + "reloads"] == "1";
    }
  }
  EXPECT_TRUE(all) << "every worker reloaded:\n" << run("FASTID_SOCKET_DIR=" + d.socket_dir() + " " + bin_dir() + "/fastid status").out;
  EXPECT_EQ(st["idle_timeout_ms"], "7000") << "the answering worker's own line";

  // A killed worker's slot is taken over by its replacement.
  pid_t victim = std::stoi(st["worker.1.pid"]);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  until = Clock::now() + std::chrono::seconds(5);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    st = status_of(d);
  } while ((st["worker.1.pid"].empty() || st["worker.1.pid"] == std::to_string(victim)) &&
           Clock::now() < until);
  EXPECT_NE(st["worker.1.pid"], std::to_string(victim));
  EXPECT_FALSE(st["worker.1.pid"].empty());
  int status = d.stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// One client thread's view of the stop: each request ends answered (a whole,
// correct frame), or failed in a way libfastid reports as "try again".
struct Outcomes {
  std::atomic<int> ok{0}, retryable{0}, broken{0}, early_unanswered{0};
};

void load_thread(const std::string& path, int seed, Clock::time_point signal_at, std::atomic<bool>* stop,
                 Outcomes* out) {
  std::uint32_t id = static_cast<std::uint32_t>(seed) * 100000;
  int fd = -1;
  while (!stop->load()) {
    if (fd < 0) {
      fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ++out->retryable;  // refused or gone: "unavailable"
        ::close(fd);
        fd = -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    char name[16];
    unsigned n = 1 + (static_cast<unsigned>(seed) * 7919u + id * 104729u) % 5000u;
    std::snprintf(name, sizeof name, "user%05u", n);
    auto frame = proto::encode_request({proto::Opcode::kGetpwnam, ++id, name, 0, 0, 0});
    auto sent_at = Clock::now();
    if (::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size())) {
      ++out->retryable;
      ::close(fd);
      fd = -1;
      continue;
    }
    std::uint8_t head[proto::kHeaderSize];
    ssize_t got = ::recv(fd, head, sizeof head, MSG_WAITALL);
    if (got == 0 || (got < 0 && errno == ECONNRESET)) {
      // Closed before any byte of a reply: libfastid says "unavailable".
      ++out->retryable;
      if (sent_at + kSurelyInFlight < signal_at) ++out->early_unanswered;
      ::close(fd);
      fd = -1;
      continue;
    }
    proto::FrameHeader h{};
    if (got != static_cast<ssize_t>(sizeof head) || proto::decode_header(head, &h) != proto::HeaderCheck::kOk ||
        h.request_id != id) {
      ++out->broken;
      ::close(fd);
      fd = -1;
      continue;
    }
    std::vector<std::uint8_t> payload(h.length);
    if (h.length && ::recv(fd, payload.data(), h.length, MSG_WAITALL) != static_cast<ssize_t>(h.length)) {
      ++out->broken;  // a partial frame
      ::close(fd);
      fd = -1;
      continue;
    }
    auto st = static_cast<proto::WireStatus>(h.status);
    if (st == proto::WireStatus::kOk) {
      proto::Reply reply{h, payload};
      auto user = model::answer_as<model::User>(proto::decode_answer(model::Kind::kUserByName, reply));
      if (user && user->name == name) {
        ++out->ok;
      } else {
        ++out->broken;
      }
    } else if (st == proto::WireStatus::kBusy || st == proto::WireStatus::kUnavailable ||
               st == proto::WireStatus::kTimeout) {
      ++out->retryable;
    } else {
      ++out->broken;
    }
  }
  if (fd >= 0) ::close(fd);
}

TEST(WorkersSystemTest, SigtermUnderLoadAnswersOrFailsRetryablyExitsZeroAndLeavesNoProcess) {
  Daemon d(10, 2);
  // A slow pooled provider keeps requests in flight when the signal comes.
  d.write_config("[daemon]\nsocket_dir = \"" + d.socket_dir() + "\"\nstate_dir = \"" + d.dir() +
                 "/state\"\nshutdown_grace = \"5s\"\n\n[pool]\nmax_workers = 32\nmin_workers = 4\n\n"
                 "[[provider]]\nname = \"slow\"\ntype = \"slow\"\nusers = 5000\ngroups = 10\n"
                 "delay = \"100ms\"\n");
  ASSERT_TRUE(d.start({"-w", "2"})) << d.log();
  std::set<pid_t> before;
  ASSERT_TRUE(wait_until([&] { return (before = descendants(d.pid())).size() >= 4; }))
      << "2 workers and their provider workers: " << before.size();

  Outcomes out;
  std::atomic<bool> stop{false};
  const auto signal_at = Clock::now() + kLoadBeforeSignal;
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back(load_thread, d.socket_dir() + "/nss", t + 1, signal_at, &stop, &out);
  }
  std::this_thread::sleep_until(signal_at);
  const int ok_before = out.ok.load();
  int status = d.stop(SIGTERM);  // waits for the exit while the load goes on
  stop = true;
  for (auto& t : threads) t.join();
  std::printf("answered %d (%d before SIGTERM), retryable failures %d, broken %d\n", out.ok.load(), ok_before,
              out.retryable.load(), out.broken.load());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << d.log();
  EXPECT_GT(ok_before, 50) << "the load was real";
  EXPECT_EQ(out.broken.load(), 0) << "no partial, mismatched or wrong answer";
  EXPECT_EQ(out.early_unanswered.load(), 0) << "requests in flight well before SIGTERM were answered";
  for (pid_t p : before) EXPECT_FALSE(alive(p)) << "left behind: " << p;
  EXPECT_FALSE(std::filesystem::exists(d.socket_dir() + "/nss"));
}

TEST(WorkersSystemTest, OnWorkerExitExitEndsEverythingAtTheFirstDeath) {
  Daemon d(10, 2);
  std::string cfg = d.default_config_text();
  cfg.insert(cfg.find("log_level"), "on_worker_exit = \"exit\"\n");
  d.write_config(cfg);
  ASSERT_TRUE(d.start({"-w", "2"})) << d.log();
  std::set<pid_t> kids;
  ASSERT_TRUE(wait_until([&] { return (kids = descendants(d.pid())).size() == 2u; })) << kids.size();
  ::kill(*kids.begin(), SIGKILL);
  // Polled to a deadline: the supervisor stops everything at the first death
  // instead of replacing the worker (which would keep it running past 10 s).
  int status = d.wait_exit(std::chrono::seconds(10));
  ASSERT_NE(status, -1) << "still running 10 s after a worker's death";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << status;
  for (pid_t p : kids) EXPECT_FALSE(alive(p));
  EXPECT_NE(d.log().find("on_worker_exit = \"exit\": stopping everything"), std::string::npos) << d.log();
}

TEST(WorkersSystemTest, WorkersDropToAnUnprivilegedUserAfterTheSupervisorOpenedEverything) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop privileges";
  Daemon d(100, 10);
  ::chmod(d.dir().c_str(), 0755);  // the workers (nobody) read the dataset and config
  std::string cfg = d.default_config_text();
  cfg.insert(cfg.find("log_level"), "user = \"nobody\"\npid_file = \"" + d.dir() + "/fastidd.pid\"\n");
  d.write_config(cfg);
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_EQ(d.getent("passwd user00042").exit_code, 0);
  EXPECT_EQ(d.getent("initgroups user00042").exit_code, 0);
  auto kids = descendants(d.pid());  // the worker that answered
  ASSERT_EQ(kids.size(), 1u) << "one worker, forked so that the supervisor stays root";
  EXPECT_NE(uid_line(*kids.begin()).find("65534\t65534\t65534\t65534"), std::string::npos)
      << uid_line(*kids.begin());
  EXPECT_NE(uid_line(d.pid()).find("0\t0\t0\t0"), std::string::npos) << "the supervisor";
  struct stat st {};
  ASSERT_EQ(::stat((d.cache_dir() + "/passwd").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u) << "the fast cache maps are the workers'";
  ASSERT_EQ(::stat((d.socket_dir() + "/admin").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "the sockets stay root's";
  EXPECT_NE(d.log().find("running as nobody (uid 65534"), std::string::npos) << d.log();
  // Reload works as the unprivileged worker (it reads the config and the files itself).
  ::kill(d.pid(), SIGHUP);
  EXPECT_TRUE(wait_until([&] { return d.log().find("reloaded configuration") != std::string::npos; })) << d.log();
  EXPECT_EQ(d.getent("passwd user00043").exit_code, 0);
  int status = d.stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(std::filesystem::exists(d.socket_dir() + "/nss")) << "removed by the root supervisor";
  EXPECT_FALSE(std::filesystem::exists(d.dir() + "/fastidd.pid"));
}

// Issue #20: a reload asked for the moment the sockets accept, before a
// worker has its signal handling in place, killed the daemon or a worker
// (SIGHUP's default action) with nothing in the log. Each start here sends
// exactly one SIGHUP as soon as the nss socket accepts a connection (polled
// without pause): the daemon must live on, and that reload must not be lost.
TEST(WorkersSystemTest, ASighupAsSoonAsTheSocketAcceptsIsNeitherFatalNorLost) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop privileges";
  struct Case {
    const char* name;
    std::vector<std::string> args;
    std::string daemon_lines;
    int workers;
  };
  const std::vector<Case> cases = {
      {"one worker in the daemon's process", {}, "", 1},
      {"a supervisor and two workers", {"-w", "2"}, "", 2},
      {"a supervisor and a worker that drops to nobody", {}, "user = \"nobody\"\n", 1},
  };
  for (const auto& c : cases) {
    for (int round = 0; round < 5; ++round) {
      SCOPED_TRACE(std::string(c.name) + ", start " + std::to_string(round + 1));
      Daemon d(100, 10);
      ::chmod(d.dir().c_str(), 0755);  // a worker that runs as nobody reads the config
      std::string cfg = d.default_config_text();
      cfg.insert(cfg.find("log_level"), c.daemon_lines);
      d.write_config(cfg);
      bool sent = false;
      ASSERT_TRUE(d.start(c.args, [&](pid_t pid) {
        for (auto until = Clock::now() + std::chrono::seconds(20); !sent && Clock::now() < until;) {
          if (d.answers()) sent = ::kill(pid, SIGHUP) == 0;
        }
      })) << d.log();
      ASSERT_TRUE(sent) << d.log();
      // Every worker reloads once, whenever its handling is ready.
      const auto deadline = Clock::now() + std::chrono::seconds(30);
      auto reloads = [&d] {
        const std::string log = d.log();
        int n = 0;
        for (auto at = log.find("reloaded configuration"); at != std::string::npos;
             at = log.find("reloaded configuration", at + 1))
          ++n;
        return n;
      };
      while (reloads() < c.workers && Clock::now() < deadline && d.wait_exit(std::chrono::milliseconds(0)) == -1)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      EXPECT_EQ(reloads(), c.workers) << d.log();
      EXPECT_EQ(d.log().find("killed by signal"), std::string::npos) << d.log();
      EXPECT_EQ(d.getent("passwd user00042").exit_code, 0) << d.log();
      const int status = d.stop(SIGTERM);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n" << d.log();
    }
  }
}

TEST(WorkersSystemTest, AnUnknownUserStopsStartUpClearly) {
  Daemon d(10, 2);
  std::string cfg = d.default_config_text();
  cfg.insert(cfg.find("log_level"), "user = \"no-such-user-here\"\n");
  d.write_config(cfg);
  EXPECT_FALSE(d.start());
  EXPECT_NE(d.log().find("no user \"no-such-user-here\""), std::string::npos) << d.log();
}

}  // namespace
}  // namespace fastid::testing
