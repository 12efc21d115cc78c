// What pool_test's files share (tests/unit/pool_test.cc and pool_calls_test.cc,
// one ctest binary): the Pool fixture (a ProviderPool of fastid-provider-worker
// processes with the slow test provider, on one io_context, every worker it
// saw checked reaped at the end), process probes, and CO_ASSERT for the tests'
// coroutines. pool_test defines FASTID_BIN_DIR, where the worker is built.
#pragma once

#include "core/gcc12_coroutines.h"  // first: its rules and pragmas
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

#include "daemon/provider_factory.h"
#include "daemon/provider_settings.h"
#include "daemon/settings.h"
#include "pool/provider_pool.h"
#include "pool/worker_protocol.h"
#include "support/coroutines.h"
#include "providers/slow/slow_provider.h"

namespace fastid::pool::pool_test {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using core::Result;
using model::Query;
using model::User;

inline constexpr const char* kWorker = FASTID_BIN_DIR "/fastid-provider-worker";

inline std::string user_name(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "user%05d", i);
  return buf;
}

// True while `pid` is a live process, not a zombie.
inline bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(") ");
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

// True while `pid` is alive and runs the worker binary. (The kernel sets the new
// command line a moment after posix_spawn returns: ask once the worker is ready.)
inline bool running_worker(pid_t pid) {
  if (!alive(pid)) return false;
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  return args.find("fastid-provider-worker") != std::string::npos;
}

// True when `pid` is no child of ours any more: exited and reaped, no zombie.
inline bool reaped(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == -1 && errno == ECHILD;
}

inline std::size_t count_state(const PoolStats& s, std::string_view state) {
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

inline asio::awaitable<void> yield() {
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
        io_.get_executor(), config.name, config.pool,
        daemon::encode_provider_settings(config, core::LogLevel::kError),
        ProviderPool::Options{.worker_path = std::move(worker)});
  }

  // make(config, worker) and start the pool.
  core::Status start(const daemon::ProviderConfig& config, std::string worker = kWorker) {
    make(config, std::move(worker));
    return pool_->start();
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
  // std::function argument (core/gcc12_coroutines.h, rule 1).
  template <typename Condition>
  asio::awaitable<bool> wait_until(Condition condition, std::chrono::milliseconds limit = 5000ms) {
    const auto end = Clock::now() + limit;
    while (!condition()) {
      if (Clock::now() > end) co_return false;
      co_await testing::pause_for(2ms);
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

  // Starts lookups of user_name(1) to user_name(n), each storing its outcome in
  // its own element (the elements stay put when the vector is moved).
  std::vector<std::optional<Result<User>>> spawn_lookups(std::size_t n) {
    std::vector<std::optional<Result<User>>> out(n);
    for (std::size_t i = 0; i < n; ++i) spawn_lookup(user_name(static_cast<int>(i) + 1), &out[i]);
    return out;
  }

  // True when every outcome is in.
  template <typename T>
  static bool all_answered(const std::vector<std::optional<T>>& outcomes) {
    return std::all_of(outcomes.begin(), outcomes.end(), [](const auto& r) { return r.has_value(); });
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

}  // namespace fastid::pool::pool_test
