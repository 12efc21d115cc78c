// Specification of fastid::pool's ProviderPool: a provider run in worker processes
// (fastid-provider-worker, with the slow test provider), fed from one event loop.
// Every test starts its pool, stops it, and checks that each worker process it ever
// saw has been reaped. Delays are 10-300 ms; the whole file runs in well under a minute.

// GCC 12 with sanitizers and -O2 falsely reports the Status inside a valued
// Result<T> "maybe uninitialized" where co_spawn default-constructs its result.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Asio's coroutine frames come from its recycling allocator (aligned_alloc) and go
// back through the frame's own operator delete (free); once both are inlined into a
// test body, GCC 12 takes the class operator delete for the global one and warns.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/deadline.h"
#include "daemon/provider_factory.h"
#include "daemon/provider_settings.h"
#include "daemon/settings.h"
#include "pool/provider_pool.h"
#include "pool/worker_protocol.h"
#include "providers/slow/slow_provider.h"

namespace fastid::pool {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using core::Result;
using model::Query;
using model::User;

constexpr const char* kWorker = FASTID_BIN_DIR "/fastid-provider-worker";

std::string user_name(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "user%05d", i);
  return buf;
}

// True while `pid` is a live process, not a zombie.
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(") ");
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

// True while `pid` is alive and runs the worker binary. (The kernel sets the new
// command line a moment after posix_spawn returns: ask once the worker is ready.)
bool running_worker(pid_t pid) {
  if (!alive(pid)) return false;
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  return args.find("fastid-provider-worker") != std::string::npos;
}

// True when `pid` is no child of ours any more: exited and reaped, no zombie.
bool reaped(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == -1 && errno == ECHILD;
}

std::size_t count_state(const PoolStats& s, std::string_view state) {
  return static_cast<std::size_t>(std::count_if(s.workers.begin(), s.workers.end(),
                                                [&](const WorkerStats& w) { return w.state == state; }));
}

// ASSERT_* return, which a coroutine cannot: these end the test's coroutine instead.
#define CO_ASSERT_TRUE(cond)                           \
  do {                                                 \
    const bool co_assert_ok = static_cast<bool>(cond); \
    EXPECT_TRUE(co_assert_ok) << #cond;                \
    if (!co_assert_ok) co_return;                      \
  } while (0)
#define CO_ASSERT_FALSE(cond) CO_ASSERT_TRUE(!(cond))

asio::awaitable<void> yield() {
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
}

class Pool : public ::testing::Test {
 protected:
  static daemon::ProviderConfig slow_config() {
    daemon::ProviderConfig c;
    daemon::apply_defaults(c);
    c.name = "test";
    c.type = "slow";
    c.users = 2000;
    c.groups = 50;
    c.pool.min_workers = 1;
    c.pool.max_workers = 4;
    c.pool.min_spare_workers = 1;
    c.pool.spare_idle_timeout = 60s;
    c.pool.request_timeout = 5s;
    c.pool.max_requests_per_worker = 0;
    c.pool.max_queue = 1000;
    // These tests are about lookups spread over every worker; the workers
    // kept for authentication have tests of their own (AuthWorkers*).
    c.pool.auth_workers = 0;
    return c;
  }

  void make(const daemon::ProviderConfig& config, std::string worker = kWorker) {
    pool_ = std::make_unique<ProviderPool>(
        io_.get_executor(), config.name, daemon::pool_options(config.pool),
        daemon::encode_provider_settings(config, core::LogLevel::kError),
        ProviderPool::Options{.worker_path = std::move(worker)});
  }

  // The pool's figures, remembering every pid seen so TearDown can check it was reaped.
  PoolStats snapshot() {
    PoolStats s = pool_->stats();
    for (const auto& w : s.workers) {
      if (w.pid > 0) seen_.insert(w.pid);
    }
    return s;
  }

  // Runs a test body (a coroutine) on the loop until it finishes.
  void run(std::function<asio::awaitable<void>()> body, std::chrono::seconds limit = 30s) {
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(io_, body(), [&](std::exception_ptr e) {
      failure = e;
      done = true;
    });
    const auto end = Clock::now() + limit;
    while (!done && Clock::now() < end) io_.run_one_for(100ms);
    ASSERT_TRUE(done) << "the test body did not finish within " << limit.count() << " s";
    if (failure) std::rethrow_exception(failure);
  }

  // Polls `condition` every 2 ms; false when `limit` passed first. A template, not a
  // std::function: GCC 12.2 destroys a std::function argument of a coroutine twice.
  template <typename Condition>
  asio::awaitable<bool> wait_until(Condition condition, std::chrono::milliseconds limit = 5000ms) {
    const auto end = Clock::now() + limit;
    while (!condition()) {
      if (Clock::now() > end) co_return false;
      co_await core::sleep_for(2ms);
    }
    co_return true;
  }

  asio::awaitable<bool> all_ready(std::size_t n) {
    co_return co_await wait_until([&] {
      auto s = snapshot();
      return s.active() == n && count_state(s, "idle") == n;
    });
  }

  // The user `name` as the pool answers it.
  asio::awaitable<Result<User>> user_named(std::string name, std::uint32_t request_id = 0) {
    auto op = pool_->lookup(Query::user_by_name(std::move(name)), request_id);
    co_return model::answer_as<User>(co_await std::move(op));
  }

  // Starts a lookup of `name` that stores its outcome in *out.
  void spawn_lookup(std::string name, std::optional<Result<User>>* out) {
    asio::co_spawn(io_, user_named(std::move(name)), [out](std::exception_ptr e, Result<User> r) {
      if (e) std::rethrow_exception(e);
      out->emplace(std::move(r));
    });
  }

  void TearDown() override {
    if (!pool_) return;
    snapshot();
    pool_->stop();
    const auto end = Clock::now() + 10s;
    while (!pool_->stopped() && Clock::now() < end) io_.run_one_for(50ms);
    EXPECT_TRUE(pool_->stopped()) << "workers still running 10 s after stop()";
    pool_.reset();
    io_.poll();
    for (pid_t pid : seen_) EXPECT_TRUE(reaped(pid)) << "worker pid " << pid << " was not reaped";
  }

  asio::io_context io_{1};
  std::unique_ptr<ProviderPool> pool_;
  std::set<pid_t> seen_;
};

// ---- Starting and sizing -------------------------------------------------------------

TEST_F(Pool, StartsMinWorkersAtOnce) {
  auto config = slow_config();
  config.pool.min_workers = 3;
  make(config);
  ASSERT_TRUE(pool_->start());
  const PoolStats s = snapshot();
  ASSERT_EQ(s.active(), 3u);
  EXPECT_EQ(s.started, 3u);
  for (const auto& w : s.workers) EXPECT_TRUE(alive(w.pid)) << w.pid;
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(3));
    for (const auto& w : snapshot().workers) EXPECT_TRUE(running_worker(w.pid)) << w.pid;
  });
}

TEST_F(Pool, StartsASpareBeforeTheNextRequestNeedsIt) {
  auto config = slow_config();
  config.delay = 300ms;  // the first request is still running when the spare is ready
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    std::optional<Result<User>> first, second;
    spawn_lookup(user_name(1), &first);
    co_await yield();
    // The only idle worker took it: a spare is on its way before anything else arrives.
    PoolStats s = snapshot();
    EXPECT_EQ(count_state(s, "busy"), 1u);
    EXPECT_EQ(s.active(), 2u);
    EXPECT_EQ(s.started, 2u);
    EXPECT_TRUE(co_await wait_until([&] { return count_state(snapshot(), "idle") == 1; }));
    pid_t spare = 0;
    for (const auto& w : snapshot().workers) {
      if (w.state == "idle") spare = w.pid;
    }
    CO_ASSERT_TRUE(spare != 0);
    EXPECT_FALSE(first.has_value()) << "the first request is still in its provider call";
    spawn_lookup(user_name(2), &second);
    co_await yield();
    // The second request went straight to the spare, and a new spare is started.
    s = snapshot();
    bool spare_busy = false;
    for (const auto& w : s.workers) spare_busy = spare_busy || (w.pid == spare && w.state == "busy");
    EXPECT_TRUE(spare_busy);
    EXPECT_EQ(s.started, 3u);
    EXPECT_TRUE(co_await wait_until([&] { return first && second; }));
    EXPECT_EQ(first->value().name, user_name(1));
    EXPECT_EQ(second->value().name, user_name(2));
  });
}

TEST_F(Pool, TwoHundredConcurrentSlowRequestsStayWithinMaxWorkersAndAllAnswerCorrectly) {
  auto config = slow_config();
  config.delay = 20ms;
  config.pool.max_workers = 8;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    std::vector<std::optional<Result<User>>> results(200);
    for (int i = 0; i < 200; ++i) spawn_lookup(user_name(i + 1), &results[i]);
    std::size_t most = 0;
    const bool finished = co_await wait_until(
        [&] {
          const PoolStats s = snapshot();
          most = std::max(most, s.workers.size());
          EXPECT_LE(s.workers.size(), 8u);
          std::size_t alive = 0;
          for (const auto& w : s.workers) alive += w.pid > 0 && ::kill(w.pid, 0) == 0 ? 1 : 0;
          EXPECT_LE(alive, 8u);
          return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
        },
        20000ms);
    CO_ASSERT_TRUE(finished);
    EXPECT_EQ(most, 8u) << "the pool never grew to max_workers";
    for (int i = 0; i < 200; ++i) {
      CO_ASSERT_TRUE(results[i]->has_value());
      EXPECT_EQ((*results[i])->name, user_name(i + 1));
      EXPECT_EQ((*results[i])->uid, static_cast<std::uint32_t>(100001 + i));
    }
    const PoolStats s = snapshot();
    EXPECT_EQ(s.provider_calls, 200u);
    EXPECT_LE(s.started, 8u);
    EXPECT_EQ(s.crashed + s.timed_out + s.failed + s.busy, 0u);
  });
}

TEST_F(Pool, AtMaxWorkersQueueLengthsDifferByAtMostOne) {
  auto config = slow_config();
  config.delay = 30ms;
  config.pool.min_workers = 4;
  config.pool.min_spare_workers = 0;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(4));
    std::vector<std::optional<Result<User>>> results(62);
    for (std::size_t i = 0; i < results.size(); ++i)
      spawn_lookup(user_name(static_cast<int>(i) + 1), &results[i]);
    co_await yield();
    std::size_t samples = 0;
    auto balanced = [&] {
      const PoolStats s = snapshot();
      if (count_state(s, "busy") < 4) return;
      std::size_t lo = SIZE_MAX, hi = 0;
      for (const auto& w : s.workers) {
        lo = std::min(lo, w.queue_length);
        hi = std::max(hi, w.queue_length);
      }
      ++samples;
      EXPECT_LE(hi - lo, 1u) << "queues from " << lo << " to " << hi;
    };
    balanced();
    EXPECT_EQ(snapshot().queued, 58u);  // 62 - 4 in flight
    EXPECT_TRUE(co_await wait_until([&] {
      balanced();
      return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
    }));
    EXPECT_GT(samples, 10u);
    for (const auto& r : results) EXPECT_TRUE(r->has_value());
  });
}

TEST_F(Pool, StopsSpareWorkersIdleLongerThanSpareIdleTimeout) {
  auto config = slow_config();
  config.delay = 100ms;
  config.pool.max_workers = 6;
  config.pool.spare_idle_timeout = 400ms;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    std::vector<std::optional<Result<User>>> results(6);
    // No worker's last idle spell can begin before the lookups are made.
    const auto asked_at = Clock::now();
    for (int i = 0; i < 6; ++i) spawn_lookup(user_name(i + 1), &results[i]);
    // Watched until one worker is left: for each worker, the last time it was
    // seen doing something and the first time it was seen stopping (or gone).
    // The pool runs on this loop, so a snapshot is its exact state at the time
    // taken after it: a worker seen busy at t went idle after t, and one seen
    // stopping at t stopped before t. Seen stopping less than
    // spare_idle_timeout after it was last seen busy, it certainly was
    // stopped too early, however slow the machine; no bound on the time
    // below is a guess.
    std::map<std::uint64_t, Clock::time_point> last_busy, stopped_at;
    std::set<std::uint64_t> serials;
    const bool one_left = co_await wait_until(
        [&] {
          const PoolStats s = snapshot();
          const auto now = Clock::now();
          std::set<std::uint64_t> present;
          for (const auto& w : s.workers) {
            present.insert(w.serial);
            serials.insert(w.serial);
            if (w.state == "stopping") {
              stopped_at.emplace(w.serial, now);
            } else if (w.state != "idle") {
              last_busy[w.serial] = now;
            }
          }
          for (auto serial : serials) {
            if (!present.count(serial)) stopped_at.emplace(serial, now);
          }
          const bool answered = std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
          return answered && s.active() == 1;
        },
        20000ms);
    EXPECT_TRUE(one_left) << snapshot().active() << " workers still take requests";
    const PoolStats s = snapshot();
    EXPECT_EQ(s.started, 6u) << "one worker per lookup in flight";
    EXPECT_EQ(s.stopped, 5u);
    EXPECT_EQ(stopped_at.size(), 5u);
    EXPECT_EQ(count_state(s, "idle"), 1u);  // min_workers = min_spare_workers = 1 stays
    for (const auto& [serial, when] : stopped_at) {
      const auto busy = last_busy.count(serial) ? std::max(last_busy[serial], asked_at) : asked_at;
      EXPECT_GE(when - busy, 400ms) << "worker " << serial << " was stopped before spare_idle_timeout";
    }
    // The stopped ones exit and are reaped.
    EXPECT_TRUE(co_await wait_until([&] { return snapshot().workers.size() == 1; }, 20000ms));
  }, 60s);
}

// ---- Failures ------------------------------------------------------------------------------

TEST_F(Pool, HungWorkerIsKilledAfterRequestTimeoutReplacedAndTheRequestRetriedOnceThenTimesOut) {
  auto config = slow_config();
  config.delay = 10ms;
  config.hang_names = {"hanguser"};
  config.pool.min_workers = 2;
  config.pool.request_timeout = 400ms;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(2));
    const auto started = Clock::now();
    std::optional<Result<User>> hung;
    spawn_lookup("hanguser", &hung);
    // Others are answered meanwhile: every one of these completes while the
    // hung request is still waiting (the loop ends when it is answered).
    int answered = 0;
    while (!hung) {
      auto r = co_await user_named(user_name(answered % 100 + 1));
      EXPECT_TRUE(r.has_value()) << r.error().to_string();
      ++answered;
      snapshot();
    }
    const auto took = Clock::now() - started;
    EXPECT_GT(answered, 5);
    CO_ASSERT_FALSE(hung->has_value());
    EXPECT_EQ(hung->error().code(), core::Code::kTimeout);
    EXPECT_THAT(hung->error().message(), HasSubstr("provider test: getpwnam \"hanguser\""));
    EXPECT_THAT(hung->error().message(), HasSubstr("stage provider"));
    EXPECT_THAT(hung->error().message(), HasSubstr("before that"));  // it was retried once
    EXPECT_GE(took, 800ms);  // two workers, each given request_timeout
    PoolStats s = snapshot();
    EXPECT_EQ(s.timed_out, 2u);
    EXPECT_EQ(s.retried, 1u);
    EXPECT_TRUE(co_await wait_until([&] { return snapshot().workers.size() == snapshot().active(); }));
    EXPECT_GE(snapshot().active(), 2u);  // replaced
    EXPECT_TRUE((co_await user_named(user_name(7))).has_value());
  });
}

TEST_F(Pool, CrashedWorkerIsReplacedTheRequestRetriedOnceAndThePoolKeepsServing) {
  auto config = slow_config();
  config.delay = 10ms;
  config.crash_names = {"crashuser"};
  config.pool.min_workers = 3;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(3));
    std::optional<Result<User>> crashed;
    spawn_lookup("crashuser", &crashed);
    int answered = 0;
    while (!crashed || answered < 10) {
      auto r = co_await user_named(user_name(answered % 100 + 1));
      EXPECT_TRUE(r.has_value()) << r.error().to_string();
      ++answered;
      snapshot();
    }
    CO_ASSERT_FALSE(crashed->has_value());
    EXPECT_EQ(crashed->error().code(), core::Code::kUnavailable);
    EXPECT_THAT(crashed->error().message(), HasSubstr("provider test: getpwnam \"crashuser\""));
    EXPECT_THAT(crashed->error().message(), HasSubstr("died (stage provider)"));
    const PoolStats s = snapshot();
    EXPECT_EQ(s.crashed, 2u);
    EXPECT_EQ(s.retried, 1u);
    // Again and again: each time an error, never a pool that stops answering.
    for (int round = 0; round < 3; ++round) {
      auto again = co_await user_named("crashuser");
      EXPECT_EQ(again.error().code(), core::Code::kUnavailable);
      EXPECT_TRUE((co_await user_named(user_name(round + 1))).has_value());
    }
    EXPECT_TRUE(co_await wait_until([&] { return snapshot().active() >= 3; }));
  });
}

TEST_F(Pool, FullQueueAnswersBusyAtOnce) {
  auto config = slow_config();
  config.delay = 300ms;
  config.pool.max_workers = 1;
  config.pool.min_spare_workers = 0;
  config.pool.max_queue = 2;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    std::vector<std::optional<Result<User>>> accepted(3);
    for (int i = 0; i < 3; ++i) spawn_lookup(user_name(i + 1), &accepted[i]);
    co_await yield();
    EXPECT_EQ(snapshot().queued, 2u);
    auto refused = co_await user_named(user_name(4));
    // At once: not after room was made in the queue (the first accepted
    // request takes 300 ms; none of them has been answered yet).
    EXPECT_TRUE(std::none_of(accepted.begin(), accepted.end(), [](const auto& r) { return r.has_value(); }));
    EXPECT_EQ(snapshot().queued, 2u);
    CO_ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code(), core::Code::kBusy);
    EXPECT_EQ(refused.error().message(), "provider test: queue full (2 requests)");
    EXPECT_TRUE(co_await wait_until([&] {
      return std::all_of(accepted.begin(), accepted.end(), [](const auto& r) { return r.has_value(); });
    }));
    for (const auto& r : accepted) EXPECT_TRUE(r->has_value());
    EXPECT_EQ(snapshot().busy, 1u);
  });
}

TEST_F(Pool, RequestThatWaitsLongerThanRequestTimeoutInAQueueTimesOut) {
  auto config = slow_config();
  config.slow_names = {user_name(1), user_name(2), user_name(3)};
  config.slow_delay = 300ms;
  config.pool.max_workers = 1;
  config.pool.min_spare_workers = 0;
  config.pool.request_timeout = 500ms;
  config.pool.spare_idle_timeout = 100ms;  // a finer maintenance tick
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    std::vector<std::optional<Result<User>>> results(3);
    for (int i = 0; i < 3; ++i) spawn_lookup(user_name(i + 1), &results[i]);
    EXPECT_TRUE(co_await wait_until([&] {
      return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
    }));
    EXPECT_TRUE(results[0]->has_value());
    EXPECT_TRUE(results[1]->has_value()) << "waited 300 ms of its 500";
    CO_ASSERT_FALSE(results[2]->has_value());
    EXPECT_EQ(results[2]->error().code(), core::Code::kTimeout);
    EXPECT_THAT(results[2]->error().message(), HasSubstr("getpwnam \"user00003\""));
    EXPECT_THAT(results[2]->error().message(), HasSubstr("stage queue"));
    EXPECT_EQ(snapshot().timed_out, 0u);  // no worker was at fault
  });
}

TEST_F(Pool, RecyclesAWorkerAfterMaxRequestsPerWorker) {
  auto config = slow_config();
  config.pool.max_requests_per_worker = 3;
  config.pool.min_spare_workers = 0;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    std::set<pid_t> served_by;
    for (int i = 1; i <= 7; ++i) {
      auto r = co_await user_named(user_name(i));
      EXPECT_TRUE(r.has_value()) << r.error().to_string();
      for (const auto& w : snapshot().workers) served_by.insert(w.pid);
    }
    EXPECT_TRUE(co_await wait_until([&] { return snapshot().stopped == 2; }));
    EXPECT_GE(served_by.size(), 3u);
    EXPECT_EQ(snapshot().crashed, 0u);
  });
}

TEST_F(Pool, RepeatedStartFailuresBackOffInsteadOfSpinning) {
  make(slow_config(), "/bin/false");  // starts, then exits at once, never ready
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    auto r = co_await user_named(user_name(1));
    CO_ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), core::Code::kUnavailable);
    EXPECT_THAT(r.error().message(), HasSubstr("no worker could start (stage worker)"));
    co_await core::sleep_for(1500ms);
    // 100, 200, 400, 800 ms between starts: a handful, not hundreds.
    const PoolStats s = snapshot();
    EXPECT_LE(s.started, 8u);
    EXPECT_GE(s.started, 3u);
    EXPECT_EQ(s.start_failures, s.started);
  });
}

TEST_F(Pool, MissingWorkerExecutableFailsStartWithItsPath) {
  make(slow_config(), "/nonexistent/fastid-provider-worker");
  const core::Status st = pool_->start();
  EXPECT_EQ(st.code(), core::Code::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("/nonexistent/fastid-provider-worker"));
  EXPECT_THAT(st.message(), HasSubstr("No such file or directory"));
  run([&]() -> asio::awaitable<void> {
    auto r = co_await user_named(user_name(1));
    CO_ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), core::Code::kUnavailable);
  });
}

TEST_F(Pool, WorkerThatCannotOpenItsProviderSaysWhy) {
  daemon::ProviderConfig config = slow_config();
  config.type = "files";
  config.passwd = "/nonexistent/passwd";
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    auto r = co_await user_named("root");
    CO_ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), core::Code::kUnavailable);
    EXPECT_THAT(r.error().message(), HasSubstr("/nonexistent/passwd"));
    EXPECT_GE(snapshot().start_failures, 1u);
  });
}

// ---- Coalescing --------------------------------------------------------------------------

TEST_F(Pool, ThousandIdenticalConcurrentLookupsMakeOneProviderCall) {
  auto config = slow_config();
  config.delay = 100ms;
  config.pool.max_workers = 1;
  config.pool.min_spare_workers = 0;
  config.pool.max_queue = 10;  // a thousand uncoalesced requests would not even fit
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    std::vector<std::optional<Result<User>>> results(1000);
    for (auto& r : results) spawn_lookup(user_name(42), &r);
    EXPECT_TRUE(co_await wait_until([&] {
      return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
    }));
    for (const auto& r : results) {
      CO_ASSERT_TRUE(r->has_value());
      EXPECT_EQ((*r)->uid, 100042u);
    }
    EXPECT_EQ(snapshot().requests, 1000u);
    EXPECT_EQ(snapshot().provider_calls, 1u);
    // The provider's own count, from inside its worker process.
    auto counted = co_await pool_->provider_stats();
    CO_ASSERT_TRUE(counted.has_value());
    std::map<std::string, std::string> items(counted->begin(), counted->end());
    EXPECT_EQ(items["calls"], "1");
  });
}

// Coalescing keys on what the query's kind is keyed on: two lookups of one
// kind with different names are two provider calls with their own answers
// (a kind the key did not know once fell through to the page key, "cursor|max",
// and a netgroup was answered with another netgroup's answer).
TEST_F(Pool, ConcurrentNetgroupLookupsOfDifferentNamesGetTheirOwnAnswers) {
  auto config = slow_config();
  config.delay = 100ms;
  config.pool.max_workers = 1;
  config.pool.min_spare_workers = 0;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    std::vector<std::optional<Result<model::Answer>>> results(4);
    for (std::size_t i = 0; i < results.size(); ++i) {
      asio::co_spawn(io_, pool_->lookup(Query::netgroup("ng-" + user_name(static_cast<int>(i) + 1))),
                     [out = &results[i]](std::exception_ptr e, Result<model::Answer> r) {
                       if (e) std::rethrow_exception(e);
                       out->emplace(std::move(r));
                     });
    }
    EXPECT_TRUE(co_await wait_until([&] {
      return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
    }));
    for (std::size_t i = 0; i < results.size(); ++i) {
      auto ng = model::answer_as<model::Netgroup>(std::move(*results[i]));
      CO_ASSERT_TRUE(ng.has_value());
      EXPECT_EQ(ng->name, "ng-" + user_name(static_cast<int>(i) + 1));
      CO_ASSERT_TRUE(ng->triples.size() == 1u);
      EXPECT_EQ(ng->triples[0].user, user_name(static_cast<int>(i) + 1));
    }
    EXPECT_EQ(snapshot().provider_calls, 4u);
  });
}

// ---- Calls, status, stop -----------------------------------------------------------------

TEST_F(Pool, AuthenticationIsForwardedToTheWorkerAndNeverCoalesced) {
  auto config = slow_config();
  config.password = "pool-test-pw";
  config.delay = 50ms;
  config.pool.max_workers = 1;
  config.pool.min_spare_workers = 0;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    // Ten logins of one user at once, half with the wrong password: each is
    // its own provider call with its own answer.
    std::vector<std::optional<Result<proto::AuthReply>>> results(10);
    for (std::size_t i = 0; i < results.size(); ++i) {
      core::Secret pw(i % 2 == 0 ? "pool-test-pw" : "wrong");
      asio::co_spawn(io_, pool_->authenticate(user_name(5), std::move(pw)),
                     [out = &results[i]](std::exception_ptr e, Result<proto::AuthReply> r) {
                       if (e) std::rethrow_exception(e);
                       out->emplace(std::move(r));
                     });
    }
    EXPECT_TRUE(co_await wait_until([&] {
      return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
    }));
    for (std::size_t i = 0; i < results.size(); ++i) {
      CO_ASSERT_TRUE(results[i].has_value());
      if (i % 2 == 0) {
        CO_ASSERT_TRUE(results[i]->has_value());
        EXPECT_EQ((*results[i])->result, proto::AuthResult::kSuccess);
      } else {
        CO_ASSERT_FALSE(results[i]->has_value());
        EXPECT_EQ(results[i]->error().code(), core::Code::kPermissionDenied);
      }
    }
    EXPECT_EQ(snapshot().provider_calls, 10u);
    auto unknown = co_await pool_->authenticate("nobody", core::Secret("pool-test-pw"));
    EXPECT_EQ(unknown.error().code(), core::Code::kNotFound);
    auto account = co_await pool_->account(user_name(5));
    CO_ASSERT_TRUE(account.has_value());
    EXPECT_EQ(account->result, proto::AuthResult::kSuccess);
    EXPECT_EQ((co_await pool_->account("nobody")).error().code(), core::Code::kNotFound);
  });
}


// Issue #11: lookups that fill the pool (any local user can send them) must
// neither make a login wait behind them nor turn it into "busy".
TEST_F(Pool, AuthWorkersAreKeptForAuthenticationWhileLookupsFillThePool) {
  auto config = slow_config();
  config.password = "pool-test-pw";
  config.slow_names = {user_name(1), user_name(2), user_name(3), user_name(4)};
  config.slow_delay = 1500ms;
  config.pool.min_workers = 2;
  config.pool.max_workers = 2;
  config.pool.min_spare_workers = 0;
  config.pool.max_queue = 2;
  config.pool.auth_workers = 1;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(2));
    std::vector<std::optional<Result<User>>> lookups(4);
    for (int i = 0; i < 4; ++i) spawn_lookup(user_name(i + 1), &lookups[i]);
    co_await yield();
    const PoolStats s = snapshot();
    EXPECT_EQ(count_state(s, "busy"), 1u) << "lookups hold max_workers - auth_workers";
    EXPECT_EQ(s.queued, 2u);
    auto shed = co_await pool_->lookup(Query::user_by_name(user_name(9)));
    EXPECT_EQ(shed.error().code(), core::Code::kBusy) << "the lookup queue is full";
    const auto t0 = Clock::now();
    auto login = co_await pool_->authenticate(user_name(5), core::Secret("pool-test-pw"));
    CO_ASSERT_TRUE(login.has_value());
    EXPECT_EQ(login->result, proto::AuthResult::kSuccess);
    auto wrong = co_await pool_->authenticate(user_name(5), core::Secret("wrong"));
    EXPECT_EQ(wrong.error().code(), core::Code::kPermissionDenied);
    EXPECT_TRUE((co_await pool_->probe()).is_ok());
    EXPECT_LT(Clock::now() - t0, 1s) << "never behind the 1.5 s lookups";
    EXPECT_FALSE(lookups[0].has_value());
    // The lookups finish before the test's state goes away.
    EXPECT_TRUE(co_await wait_until(
        [&] { return std::all_of(lookups.begin(), lookups.end(), [](const auto& r) { return r.has_value(); }); },
        10000ms));
  });
}

TEST_F(Pool, AuthenticationWaitsAheadOfLookupsWhenNoWorkerCanBeKept) {
  auto config = slow_config();
  config.password = "pool-test-pw";
  config.slow_names = {user_name(1), user_name(2), user_name(3)};
  config.slow_delay = 400ms;
  config.pool.min_workers = 1;
  config.pool.max_workers = 1;
  config.pool.min_spare_workers = 0;
  config.pool.max_queue = 2;
  config.pool.auth_workers = 1;  // cannot be kept: one worker serves both, logins first
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    std::vector<std::optional<Result<User>>> lookups(3);
    for (int i = 0; i < 3; ++i) spawn_lookup(user_name(i + 1), &lookups[i]);
    co_await yield();
    auto login = co_await pool_->authenticate(user_name(5), core::Secret("pool-test-pw"));
    CO_ASSERT_TRUE(login.has_value());
    EXPECT_FALSE(lookups[1].has_value() || lookups[2].has_value())
        << "the login went before the queued lookups";
    EXPECT_TRUE(co_await wait_until([&] { return lookups[2].has_value(); }));
  });
}

TEST_F(Pool, AnAuthenticationWhoseWorkerDiedIsNeverSentAgain) {
  auto config = slow_config();
  config.password = "pool-test-pw";
  config.crash_names = {user_name(7)};
  config.pool.max_workers = 2;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    auto login = co_await pool_->authenticate(user_name(7), core::Secret("pool-test-pw"));
    CO_ASSERT_FALSE(login.has_value());
    EXPECT_EQ(login.error().code(), core::Code::kUnavailable);
    const PoolStats s = snapshot();
    EXPECT_EQ(s.provider_calls, 1u) << "it may have reached the directory: one bind only";
    EXPECT_EQ(s.retried, 0u);
    EXPECT_EQ(s.crashed, 1u);
    // A lookup that crashes its worker is still retried once.
    auto lookup = co_await pool_->lookup(Query::user_by_name(user_name(7)));
    EXPECT_FALSE(lookup.has_value());
    EXPECT_EQ(snapshot().retried, 1u);
  });
}

TEST_F(Pool, TypedCallsAnswerWhatTheProviderAnswers) {
  auto config = slow_config();
  config.users = 50;
  config.groups = 5;
  make(config);
  ASSERT_TRUE(pool_->start());
  providers::SlowProvider local({.name = "local", .users = 50, .groups = 5});
  ASSERT_TRUE(local.open());
  run([&]() -> asio::awaitable<void> {
    // Every kind answers through the worker as the provider answers in-process.
    const std::vector<Query> queries = {Query::user_by_uid(100007), Query::group_by_name("group0003"),
                                        Query::group_by_gid(200004), Query::initgroups(user_name(9))};
    for (const Query& q : queries) {
      auto answer = co_await pool_->lookup(q);
      EXPECT_EQ(answer.value(), local.lookup(q).value()) << model::describe(q);
    }
    auto users = model::answer_as<model::Page<User>>(co_await pool_->lookup(Query::users_page(10, 20)));
    CO_ASSERT_TRUE(users.has_value());
    EXPECT_EQ(users->records, local.users_page(10, 20)->records);
    EXPECT_EQ(users->next_cursor, 30u);
    EXPECT_TRUE(users->more);
    auto groups = model::answer_as<model::Page<model::Group>>(co_await pool_->lookup(Query::groups_page(0, 100)));
    CO_ASSERT_TRUE(groups.has_value());
    EXPECT_EQ(groups->records, local.groups_page(0, 100)->records);
    EXPECT_FALSE(groups->more);
    auto missing = co_await user_named("nobody", 77);
    EXPECT_EQ(missing.error().code(), core::Code::kNotFound);
    EXPECT_EQ((co_await pool_->lookup(Query::initgroups("nobody"))).error().code(), core::Code::kNotFound);
    // The generic call: the worker's reply frame, with the caller's request id.
    proto::Request req;
    req.opcode = proto::Opcode::kGetpwnam;
    req.request_id = 4242;
    req.name = user_name(3);
    auto reply = co_await pool_->call(req);
    CO_ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->header.request_id, 4242u);
    EXPECT_EQ(model::answer_as<model::User>(proto::decode_answer(model::Kind::kUserByName, *reply))->name, user_name(3));
  });
}

TEST_F(Pool, StatusItemsDescribeEveryWorkerAndTheTotals) {
  auto config = slow_config();
  config.pool.min_workers = 2;
  config.pool.min_spare_workers = 0;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(2));
    EXPECT_TRUE((co_await user_named(user_name(1))).has_value());
    std::map<std::string, std::string> items;
    for (auto& [k, v] : pool_->status_items()) items[k] = v;
    EXPECT_EQ(items["pool.test.workers"], "2");
    EXPECT_EQ(items["pool.test.started"], "2");
    EXPECT_EQ(items["pool.test.crashed"], "0");
    EXPECT_EQ(items["pool.test.timed_out"], "0");
    EXPECT_EQ(items["pool.test.stopped"], "0");
    int lines = 0;
    for (const auto& w : snapshot().workers) {
      const std::string line = items["pool.test.worker." + std::to_string(w.serial)];
      EXPECT_THAT(line, HasSubstr("pid " + std::to_string(w.pid) + " idle queue 0 served "));
      EXPECT_THAT(line, HasSubstr(" uptime "));
      ++lines;
    }
    EXPECT_EQ(lines, 2);
  });
}

TEST_F(Pool, StopAnswersQueuedRequestsLetsThoseInFlightFinishAndReapsEveryWorker) {
  auto config = slow_config();
  config.delay = 200ms;
  config.pool.min_workers = 2;
  config.pool.max_workers = 2;
  config.pool.min_spare_workers = 0;
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(2));
    std::vector<std::optional<Result<User>>> results(3);
    for (int i = 0; i < 3; ++i) spawn_lookup(user_name(i + 1), &results[i]);
    co_await yield();
    pool_->stop();
    auto late = co_await user_named(user_name(9));
    EXPECT_EQ(late.error().code(), core::Code::kUnavailable);
    EXPECT_THAT(late.error().message(), HasSubstr("provider test: pool stopping"));
    EXPECT_TRUE(co_await wait_until([&] { return pool_->stopped(); }));
    EXPECT_TRUE(results[0]->has_value());
    EXPECT_TRUE(results[1]->has_value());
    EXPECT_EQ(results[2]->error().code(), core::Code::kUnavailable);
    for (pid_t pid : seen_) EXPECT_TRUE(reaped(pid)) << pid;
    EXPECT_EQ(snapshot().stopped, 2u);
  });
}

TEST_F(Pool, FilesProviderRunsInThePoolToo) {
  std::string dir = "/tmp/fastid-pool-test.XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  std::ofstream(dir + "/passwd") << "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n";
  std::ofstream(dir + "/group") << "staff:x:50:alice\n";
  daemon::ProviderConfig config = slow_config();
  config.name = "local";
  config.type = "files";
  config.passwd = dir + "/passwd";
  config.group = dir + "/group";
  config.pool.min_spare_workers = 0;  // no spare opening the files as they are removed
  make(config);
  ASSERT_TRUE(pool_->start());
  run([&]() -> asio::awaitable<void> {
    auto alice = co_await user_named("alice");
    CO_ASSERT_TRUE(alice.has_value());
    EXPECT_EQ(alice->uid, 1000u);
    // (A braced list in the same full expression as co_await trips GCC 12.)
    const std::vector<std::uint32_t> staff = {50};
    auto groups = model::answer_as<model::Gids>(co_await pool_->lookup(Query::initgroups("alice")));
    EXPECT_EQ(groups.value(), staff);
  });
  std::filesystem::remove_all(dir);
}

// ---- The worker process on its own -------------------------------------------------------

// Reads one whole frame from a blocking socket.
bool read_frame(int fd, proto::Reply* out) {
  auto exact = [fd](std::uint8_t* p, std::size_t n) {
    while (n > 0) {
      const ssize_t r = ::read(fd, p, n);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  };
  std::uint8_t head[proto::kHeaderSize];
  if (!exact(head, sizeof head) || proto::decode_header(head, &out->header) != proto::HeaderCheck::kOk)
    return false;
  out->payload.resize(out->header.length);
  return exact(out->payload.data(), out->payload.size());
}

std::string worker_settings() {
  daemon::ProviderConfig slow;
  daemon::apply_defaults(slow);
  slow.name = "test";
  slow.type = "slow";
  slow.users = 20;
  return daemon::encode_provider_settings(slow, core::LogLevel::kError);
}

TEST(ProviderWorker, SaysReadyAnswersEachFrameAndExitsCleanlyWhenItsSocketCloses) {
  auto spawned = spawn_worker({kWorker, "test", worker_settings()});
  ASSERT_TRUE(spawned.has_value()) << spawned.error().to_string();
  proto::Reply ready;
  ASSERT_TRUE(read_frame(spawned->socket_fd, &ready));
  EXPECT_EQ(ready.header.request_id, kReadyRequestId);
  EXPECT_EQ(ready.header.opcode, static_cast<std::uint16_t>(proto::Opcode::kPing));
  EXPECT_TRUE(status_of(ready));

  for (std::uint32_t id : {7u, 8u}) {
    proto::Request req;
    req.opcode = proto::Opcode::kGetpwuid;
    req.request_id = id;
    req.id = 100000 + id;
    const proto::Bytes frame = proto::encode_request(req);
    ASSERT_EQ(::write(spawned->socket_fd, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
    proto::Reply reply;
    ASSERT_TRUE(read_frame(spawned->socket_fd, &reply));
    EXPECT_EQ(reply.header.request_id, id);
    EXPECT_EQ(model::answer_as<model::User>(proto::decode_answer(model::Kind::kUserByName, reply))->uid, 100000 + id);
  }
  ::close(spawned->socket_fd);
  int status = 0;
  ASSERT_EQ(::waitpid(spawned->pid, &status, 0), spawned->pid);
  EXPECT_EQ(describe_exit(status), "exited with status 0");
  ::close(spawned->pidfd);
}

TEST(ProviderWorker, DiesWithTheDaemonThatStartedIt) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t daemon = ::fork();
  ASSERT_GE(daemon, 0);
  if (daemon == 0) {
    // The "daemon": starts a worker, reports its pid, and vanishes without any cleanup.
    auto spawned = spawn_worker({kWorker, "test", worker_settings()});
    pid_t pids[2] = {spawned ? spawned->pid : 0, 0};
    proto::Reply ready;
    if (spawned) (void)read_frame(spawned->socket_fd, &ready);  // PR_SET_PDEATHSIG is set by now
    // A process that keeps the daemon's end of the socket open: the worker
    // never reads the end of its stream, so only the death signal can stop it.
    pids[1] = ::fork();
    if (pids[1] == 0) {
      ::pause();
      ::_exit(0);
    }
    (void)!::write(pipe_fds[1], pids, sizeof pids);
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  pid_t pids[2] = {0, 0};
  ASSERT_EQ(::read(pipe_fds[0], pids, sizeof pids), static_cast<ssize_t>(sizeof pids));
  ::close(pipe_fds[0]);
  const pid_t worker = pids[0];
  const pid_t holder = pids[1];
  ASSERT_GT(worker, 0);
  ASSERT_GT(holder, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(daemon, &status, 0), daemon);
  const auto end = Clock::now() + 5s;
  while (alive(worker) && Clock::now() < end) std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(alive(worker)) << "worker " << worker << " outlived its daemon";
  EXPECT_TRUE(alive(holder)) << "the socket's other end must still have been open";
  ::kill(holder, SIGKILL);
}

}  // namespace
}  // namespace fastid::pool
