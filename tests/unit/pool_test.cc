// Specification of fastid::pool's ProviderPool: a provider run in worker processes
// (fastid-provider-worker, with the slow test provider), fed from one event loop.
// Starting and sizing, failures, coalescing; the calls, status, stop and the
// worker process on its own are in pool_calls_test.cc (the same ctest binary).
// Every test starts its pool, stops it, and checks that each worker process it ever
// saw has been reaped. Delays are 10-300 ms; the whole file runs in well under a minute.

#include "core/gcc12_coroutines.h"  // first: its rules and pragmas
#include "support/pool_fixture.h"

namespace fastid::pool {
namespace {

using namespace pool_test;

// ---- Starting and sizing -------------------------------------------------------------

TEST_F(Pool, StartsMinWorkersAtOnce) {
  auto config = slow_config();
  config.pool.min_workers = 3;
  ASSERT_TRUE(start(config));
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
  ASSERT_TRUE(start(config));
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
  ASSERT_TRUE(start(config));
  run([&]() -> asio::awaitable<void> {
    auto results = spawn_lookups(200);
    std::size_t most = 0;
    const bool finished = co_await wait_until(
        [&] {
          const PoolStats s = snapshot();
          most = std::max(most, s.workers.size());
          EXPECT_LE(s.workers.size(), 8u);
          std::size_t alive = 0;
          for (const auto& w : s.workers) alive += w.pid > 0 && ::kill(w.pid, 0) == 0 ? 1 : 0;
          EXPECT_LE(alive, 8u);
          return all_answered(results);
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
  ASSERT_TRUE(start(config));
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(4));
    auto results = spawn_lookups(62);
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
      return all_answered(results);
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
  ASSERT_TRUE(start(config));
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    // No worker's last idle spell can begin before the lookups are made.
    const auto asked_at = Clock::now();
    auto results = spawn_lookups(6);
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
          const bool answered = all_answered(results);
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
  ASSERT_TRUE(start(config));
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
  ASSERT_TRUE(start(config));
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
  ASSERT_TRUE(start(config));
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    auto accepted = spawn_lookups(3);
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
    EXPECT_TRUE(co_await wait_until([&] { return all_answered(accepted); }));
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
  ASSERT_TRUE(start(config));
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    auto results = spawn_lookups(3);
    EXPECT_TRUE(co_await wait_until([&] { return all_answered(results); }));
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
  ASSERT_TRUE(start(config));
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
  ASSERT_TRUE(start(slow_config(), "/bin/false"));  // starts, then exits at once, never ready
  run([&]() -> asio::awaitable<void> {
    auto r = co_await user_named(user_name(1));
    CO_ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), core::Code::kUnavailable);
    EXPECT_THAT(r.error().message(), HasSubstr("no worker could start (stage worker)"));
    co_await testing::pause_for(1500ms);
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
  ASSERT_TRUE(start(config));
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
  ASSERT_TRUE(start(config));
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    std::vector<std::optional<Result<User>>> results(1000);
    for (auto& r : results) spawn_lookup(user_name(42), &r);
    EXPECT_TRUE(co_await wait_until([&] { return all_answered(results); }));
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
  ASSERT_TRUE(start(config));
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
    EXPECT_TRUE(co_await wait_until([&] { return all_answered(results); }));
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

}  // namespace
}  // namespace fastid::pool
