// Specification of fastid::pool's ProviderPool, continued (part of pool_test,
// with pool_test.cc): calls (authentication never coalesced, its own lane,
// typed calls), status items, stop, the files provider in a pool, and the
// provider worker process on its own.
#include "core/gcc12_coroutines.h"  // first: its rules and pragmas
#include "support/pool_fixture.h"

namespace fastid::pool {
namespace {

using namespace pool_test;

// ---- Calls, status, stop -----------------------------------------------------------------

TEST_F(Pool, AuthenticationIsForwardedToTheWorkerAndNeverCoalesced) {
  auto config = slow_config();
  config.password = "pool-test-pw";
  config.delay = 50ms;
  config.pool.max_workers = 1;
  config.pool.min_spare_workers = 0;
  ASSERT_TRUE(start(config));
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
    EXPECT_TRUE(co_await wait_until([&] { return all_answered(results); }));
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
// neither make a login wait behind them nor turn it into "busy". Ordered,
// not timed: the login, a wrong password and the probe all come back while
// the busy lookup (4 s) and the two queued behind it are still unanswered;
// behind them, the login would come after the first.
TEST_F(Pool, AuthWorkersAreKeptForAuthenticationWhileLookupsFillThePool) {
  auto config = slow_config();
  config.password = "pool-test-pw";
  config.slow_names = {user_name(1)};  // the busy one; the queued two answer at once after it
  config.slow_delay = 4000ms;
  config.pool.min_workers = 2;
  config.pool.max_workers = 2;
  config.pool.min_spare_workers = 0;
  config.pool.max_queue = 2;
  config.pool.auth_workers = 1;
  ASSERT_TRUE(start(config));
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(2));
    auto lookups = spawn_lookups(4);
    co_await yield();
    const PoolStats s = snapshot();
    EXPECT_EQ(count_state(s, "busy"), 1u) << "lookups hold max_workers - auth_workers";
    EXPECT_EQ(s.queued, 2u);
    auto shed = co_await pool_->lookup(Query::user_by_name(user_name(9)));
    EXPECT_EQ(shed.error().code(), core::Code::kBusy) << "the lookup queue is full";
    auto login = co_await pool_->authenticate(user_name(5), core::Secret("pool-test-pw"));
    CO_ASSERT_TRUE(login.has_value());
    EXPECT_EQ(login->result, proto::AuthResult::kSuccess);
    auto wrong = co_await pool_->authenticate(user_name(5), core::Secret("wrong"));
    EXPECT_EQ(wrong.error().code(), core::Code::kPermissionDenied);
    EXPECT_TRUE((co_await pool_->probe()).is_ok());
    EXPECT_FALSE(lookups[0].has_value() || lookups[1].has_value() || lookups[2].has_value())
        << "never behind the lookups: all three still unanswered";
    // The lookups finish before the test's state goes away.
    EXPECT_TRUE(co_await wait_until(
        [&] { return all_answered(lookups); },
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
  ASSERT_TRUE(start(config));
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(1));
    auto lookups = spawn_lookups(3);
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
  ASSERT_TRUE(start(config));
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
  ASSERT_TRUE(start(config));
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
  ASSERT_TRUE(start(config));
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
  ASSERT_TRUE(start(config));
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await all_ready(2));
    auto results = spawn_lookups(3);
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
  ASSERT_TRUE(start(config));
  run([&]() -> asio::awaitable<void> {
    auto alice = co_await user_named("alice");
    CO_ASSERT_TRUE(alice.has_value());
    EXPECT_EQ(alice->uid, 1000u);
    // Not a braced list beside co_await (core/gcc12_coroutines.h, rule 1).
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
  auto spawned = spawn_provider_worker({kWorker, "test", worker_settings()});
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
    auto spawned = spawn_provider_worker({kWorker, "test", worker_settings()});
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
