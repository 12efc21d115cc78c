// Specification of fastid::core's asynchronous layer: peer credentials,
// cancellation on a front worker's loop (an asio::io_context run by one thread),
// offloading blocking calls, and coalescing identical requests. Every wait is
// short: each test takes well under 1 s.

#include "core/gcc12_coroutines.h"  // first: its rules and pragmas
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <optional>
#include <stdexcept>
#include <ostream>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <future>

#include "core/coalescer.h"
#include "core/offload.h"
#include "core/peer_cred.h"
#include "core/status.h"
#include "core/log.h"
#include "core/trace.h"
#include "support/coroutines.h"

namespace fastid::core {

// Failure messages name the code ("timed out"), not its byte value.
inline void PrintTo(Code code, std::ostream* os) { *os << code_name(code); }

namespace {

using namespace std::chrono_literals;

// Counts live instances. Put in a coroutine's frame, it tells whether that frame
// still exists. Only touched on the loop thread.
struct Tracked {
  static inline int live = 0;
  Tracked() { ++live; }
  Tracked(const Tracked&) { ++live; }
  ~Tracked() { --live; }
};

class Core : public ::testing::Test {
 protected:
  void SetUp() override { Tracked::live = 0; }
};

// Completion handler for co_spawn: a coroutine's exception fails the test
// (it propagates out of run()).
void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

// Runs make() as a coroutine on `loop`, on this thread, until the loop has no
// work left, and returns the coroutine's value.
template <typename F>
auto run_on(asio::io_context& loop, F make) {
  using T = typename std::invoke_result_t<F>::value_type;
  std::optional<T> out;
  std::exception_ptr thrown;
  asio::co_spawn(loop, std::move(make), [&](std::exception_ptr e, T value) {
    thrown = e;
    if (!e) out.emplace(std::move(value));
  });
  loop.run();
  loop.restart();
  if (thrown) std::rethrow_exception(thrown);
  return std::move(out.value());
}

bool is_asio_cancellation(std::exception_ptr e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const std::system_error& error) {
    return error.code() == asio::error::operation_aborted;
  }
  return false;
}

// ---- PeerCred -------------------------------------------------------------------

TEST_F(Core, PeerCredOfASocketpairIsThisProcess) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  Result<PeerCred> cred = peer_cred_of(fds[0]);
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_TRUE(cred.has_value()) << cred.error().to_string();
  EXPECT_EQ(cred->pid, ::getpid());
  EXPECT_EQ(cred->uid, ::getuid());
  EXPECT_EQ(cred->gid, ::getgid());
  EXPECT_EQ(cred->is_root(), ::getuid() == 0);
}

TEST_F(Core, PeerCredOfANonSocketIsAnIoErrorWithItsErrno) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  Result<PeerCred> cred = peer_cred_of(fds[0]);
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_FALSE(cred.has_value());
  EXPECT_EQ(cred.error().code(), Code::kIoError);
  EXPECT_EQ(cred.error().sys_errno(), ENOTSOCK);
  EXPECT_NE(cred.error().message().find("SO_PEERCRED"), std::string::npos);
}

TEST_F(Core, PeerCredOfAnUnconnectedSocketIsNoCallerAtAll) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  Result<PeerCred> cred = peer_cred_of(fd);
  ::close(fd);
  ASSERT_FALSE(cred.has_value()) << "uid " << cred->uid;
  EXPECT_EQ(cred.error().code(), Code::kInvalidArgument);
}

TEST_F(Core, PeerCredIsAnImmutableValue) {
  static_assert(!std::is_copy_assignable_v<PeerCred>);
  static_assert(std::is_trivially_copyable_v<PeerCred>);
  PeerCred root{1, 0, 0};
  PeerCred user{2, 1000, 1000};
  PeerCred copy = user;
  EXPECT_TRUE(root.is_root());
  EXPECT_FALSE(user.is_root());
  EXPECT_EQ(copy, user);
  EXPECT_FALSE(copy == root);
}

// ---- cancellation on the loop ---------------------------------------------------

// A request awaiting a sub-request, each with state in its frame. Its timer
// never expires within a test: only a cancellation ends the wait.
asio::awaitable<void> sub_request() {
  Tracked in_frame;
  asio::steady_timer timer(co_await asio::this_coro::executor, 24h);
  co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<void> request() {
  Tracked in_frame;
  co_await sub_request();
  ADD_FAILURE() << "the request went on past its cancelled wait";
}

TEST_F(Core, CancelledRequestLeaksNothing) {
  asio::io_context loop;
  asio::cancellation_signal cancel;
  bool completed = false;
  std::exception_ptr outcome;
  asio::co_spawn(loop, request(), asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) {
                   completed = true;
                   outcome = e;
                 }));
  asio::steady_timer trigger(loop, 10ms);
  trigger.async_wait([&](const asio::error_code&) {
    EXPECT_EQ(Tracked::live, 2);  // both frames suspended, alive
    cancel.emit(asio::cancellation_type::terminal);
  });
  // Drains: returns once nothing is left on the loop. The 24 h timer would
  // hold it to the 60 s limit had the cancellation not ended its wait.
  loop.run_for(60s);
  EXPECT_TRUE(loop.stopped()) << "work left on the loop after the cancellation";
  EXPECT_TRUE(completed);
  EXPECT_TRUE(is_asio_cancellation(outcome));
  EXPECT_EQ(Tracked::live, 0);
}

TEST_F(Core, DestroyingTheLoopDestroysSuspendedRequests) {
  int completions = 0;
  {
    asio::io_context loop;
    asio::co_spawn(loop, request(), [&](std::exception_ptr) { ++completions; });
    loop.poll();  // starts the request; it suspends on its timer
    EXPECT_EQ(Tracked::live, 2);
  }
  EXPECT_EQ(Tracked::live, 0);
  EXPECT_EQ(completions, 0);
}

// ---- offload --------------------------------------------------------------------

TEST_F(Core, OffloadedResultResumesOnTheLoopThread) {
  asio::io_context loop;
  Offloader offloader(2);
  std::thread::id loop_id, pool_id, resumed_id;
  asio::co_spawn(
      loop,
      [&]() -> asio::awaitable<void> {
        loop_id = std::this_thread::get_id();
        Result<std::thread::id> r = co_await offloader.offload(
            []() -> Result<std::thread::id> { return std::this_thread::get_id(); });
        resumed_id = std::this_thread::get_id();
        pool_id = r.value();
      },
      rethrow);
  std::thread runner([&] { loop.run(); });
  const std::thread::id runner_id = runner.get_id();
  runner.join();

  EXPECT_NE(loop_id, std::thread::id{});
  EXPECT_NE(pool_id, std::thread::id{});
  EXPECT_NE(pool_id, loop_id);
  EXPECT_NE(pool_id, std::this_thread::get_id());
  EXPECT_EQ(resumed_id, loop_id);
  EXPECT_EQ(resumed_id, runner_id);
}

TEST_F(Core, OffloadRunsStatusCallsOnThePool) {
  asio::io_context loop;
  Offloader offloader(1);
  const std::thread::id loop_id = std::this_thread::get_id();
  std::thread::id status_call_thread;
  Status st = run_on(loop, [&]() -> asio::awaitable<Status> {
    auto note_thread = [&status_call_thread] {
      status_call_thread = std::this_thread::get_id();
      return Status::not_found("no such line");
    };
    co_return co_await offloader.offload(note_thread);
  });
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.message(), "no such line");
  EXPECT_NE(status_call_thread, std::thread::id{});
  EXPECT_NE(status_call_thread, loop_id);
}

Result<std::string> describe_user(const std::string& name, int uid) {
  return name + ":" + std::to_string(uid);
}

TEST_F(Core, OffloadedCallGetsCopiesOfItsArguments) {
  asio::io_context loop;
  Offloader offloader(1);
  std::string name = "alice";
  Result<std::string> r = run_on(loop, [&]() -> asio::awaitable<Result<std::string>> {
    auto pending = offloader.offload(describe_user, name, 1000);
    name = "mallory";  // too late: the call owns its own copy
    co_return co_await std::move(pending);
  });
  EXPECT_EQ(r.value_or("error"), "alice:1000");
}

TEST_F(Core, OffloadedExceptionBecomesAnInternalStatusNotALoopException) {
  asio::io_context loop;
  Offloader offloader(1);
  Result<int> r = run_on(loop, [&]() -> asio::awaitable<Result<int>> {
    co_return co_await offloader.offload([]() -> Result<int> { throw std::runtime_error("crypt exploded"); });
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kInternal);
  EXPECT_NE(r.error().message().find("crypt exploded"), std::string::npos);
}

TEST_F(Core, CancellingTheAwaiterAbandonsASlowOffloadedCallWithoutWaitingForIt) {
  asio::io_context loop;
  Offloader offloader(1);
  auto call_finished = std::make_shared<std::atomic<bool>>(false);
  // The call runs until the test lets it go, after the loop returned: no
  // timing. Were the loop held by the pool, run() would return only when the
  // call gave up waiting (30 s), finished, and the check below would fail.
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  asio::cancellation_signal cancel;
  std::optional<Result<int>> r;
  asio::co_spawn(
      loop,
      [&]() -> asio::awaitable<Result<int>> {
        // Named outside the co_await expression (core/gcc12_coroutines.h).
        auto slow_call = [call_finished, released]() -> Result<int> {
          released.wait_for(30s);
          call_finished->store(true);
          return 7;
        };
        co_return co_await offloader.offload(std::move(slow_call));
      },
      asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, Result<int> value) {
        rethrow(e);
        r = std::move(value);
      }));
  asio::steady_timer trigger(loop, 20ms);
  trigger.async_wait([&](const asio::error_code&) { cancel.emit(asio::cancellation_type::terminal); });
  loop.run();
  const bool finished_before_the_loop_returned = call_finished->load();
  release->set_value();
  ASSERT_TRUE(r.has_value());
  ASSERT_FALSE(r->has_value());
  EXPECT_EQ(r->error().code(), Code::kCancelled);
  // The loop was not held by the pool: the call was still running on its own copies.
  EXPECT_FALSE(finished_before_the_loop_returned);
  offloader.join();                     // shutdown waits for it; its value is dropped
  EXPECT_TRUE(call_finished->load());
}

TEST_F(Core, OffloadAfterJoinIsUnavailable) {
  asio::io_context loop;
  Offloader offloader(1);
  offloader.join();
  Result<int> r = run_on(loop, [&]() -> asio::awaitable<Result<int>> {
    co_return co_await offloader.offload([]() -> Result<int> { return 1; });
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
}

// A Status call after join (the PAM handler's offline credential calls) ends
// with Status unavailable, not run. It used to be posted to the joined pool,
// where nothing runs it: the awaiting coroutine never resumed, and its work
// guard kept the loop running. The loop gets 60 s to run out of work; with the
// fix it does at once.
TEST_F(Core, AStatusCallOffloadedAfterJoinEndsUnavailableAndTheLoopRunsDry) {
  asio::io_context loop;
  Offloader offloader(1);
  offloader.join();
  std::atomic<bool> ran{false};
  std::optional<Status> st;
  asio::co_spawn(
      loop,
      [&]() -> asio::awaitable<Status> {
        auto call = [&ran] {
          ran = true;
          return Status();
        };
        co_return co_await offloader.offload(call);
      },
      [&](std::exception_ptr e, Status value) {
        rethrow(e);
        st = std::move(value);
      });
  loop.run_for(60s);
  EXPECT_TRUE(loop.stopped()) << "the loop still had work: the offloaded call's wait";
  ASSERT_TRUE(st.has_value()) << "the awaiting coroutine never resumed";
  EXPECT_EQ(st->code(), Code::kUnavailable);
  EXPECT_FALSE(ran.load()) << "a joined pool runs nothing";
}

// join() from another thread while the loop keeps offloading (a request in
// flight at shutdown): every call ends, with its value before the join and
// Status unavailable once it began; none is left waiting. The check of the
// join and the post are one step (under TSan in the tsan build).
TEST_F(Core, JoinWhileCallsAreBeingOffloadedLeavesNoneWaiting) {
  asio::io_context loop;
  Offloader offloader(2);
  std::atomic<int> answered{0};
  int refused = 0, other = 0, issued = 0;
  bool done = false;
  asio::co_spawn(
      loop,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          ++issued;
          auto call = [&answered]() -> Result<int> { return ++answered; };
          Result<int> r = co_await offloader.offload(call);
          if (r.has_value()) continue;
          if (r.error().code() == Code::kUnavailable) {
            ++refused;
            co_return;
          }
          ++other;
          co_return;
        }
      },
      [&](std::exception_ptr e) {
        rethrow(e);
        done = true;
      });
  std::thread runner([&] { loop.run_for(60s); });
  // Join once calls are flowing: polled, not slept for.
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (answered.load() < 100 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  offloader.join();
  runner.join();
  EXPECT_TRUE(done) << "a call issued around the join was never answered (" << issued << " issued, "
                    << answered.load() << " answered)";
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(other, 0);
  EXPECT_GE(answered.load(), 100);
  EXPECT_EQ(answered.load() + refused, issued);
}

// ---- coalescing -----------------------------------------------------------------

using NameCoalescer = Coalescer<std::string, Result<std::string>>;

// A backend lookup that counts its calls and takes a while, so that requests overlap.
NameCoalescer::Make counted_lookup(std::string key, std::map<std::string, int>& calls) {
  return [key, &calls]() -> asio::awaitable<Result<std::string>> {
    const int call = ++calls[key];
    co_await testing::pause_for(20ms);
    co_return key + "#" + std::to_string(call);
  };
}

TEST_F(Core, ThousandIdenticalConcurrentRequestsMakeOneCall) {
  asio::io_context loop;
  NameCoalescer coalescer;
  std::map<std::string, int> calls;
  std::vector<Result<std::string>> results;
  for (int i = 0; i < 1000; ++i) {
    asio::co_spawn(loop, coalescer.run("alice", counted_lookup("alice", calls)),
                   [&](std::exception_ptr e, Result<std::string> r) {
                     rethrow(e);
                     results.push_back(std::move(r));
                   });
  }
  // One call, whose answer every request got: they waited on it together
  // (were they run one after the other, each would have made its own call).
  loop.run();
  EXPECT_EQ(calls["alice"], 1);
  ASSERT_EQ(results.size(), 1000u);
  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    EXPECT_EQ(*r, "alice#1");
  }
  EXPECT_EQ(coalescer.in_flight(), 0u);
}

TEST_F(Core, DifferentKeysMakeSeparateCalls) {
  asio::io_context loop;
  NameCoalescer coalescer;
  std::map<std::string, int> calls;
  std::map<std::string, std::vector<std::string>> answers;
  for (const char* name : {"alice", "bob", "alice", "carol", "bob"}) {
    asio::co_spawn(loop, coalescer.run(name, counted_lookup(name, calls)),
                   [&answers, name = std::string(name)](std::exception_ptr e, Result<std::string> r) {
                     rethrow(e);
                     answers[name].push_back(r.value_or("error"));
                   });
  }
  loop.run();
  EXPECT_EQ(calls, (std::map<std::string, int>{{"alice", 1}, {"bob", 1}, {"carol", 1}}));
  EXPECT_EQ(answers["alice"], (std::vector<std::string>{"alice#1", "alice#1"}));
  EXPECT_EQ(answers["bob"], (std::vector<std::string>{"bob#1", "bob#1"}));
  EXPECT_EQ(answers["carol"], (std::vector<std::string>{"carol#1"}));
}

TEST_F(Core, CoalescedEntryIsRemovedWhenItsCallCompletes) {
  asio::io_context loop;
  NameCoalescer coalescer;
  std::map<std::string, int> calls;
  auto twice = [&]() -> asio::awaitable<Result<std::string>> {
    Result<std::string> first = co_await coalescer.run("alice", counted_lookup("alice", calls));
    EXPECT_EQ(first.value_or(""), "alice#1");
    EXPECT_EQ(coalescer.in_flight(), 0u);
    co_return co_await coalescer.run("alice", counted_lookup("alice", calls));
  };
  Result<std::string> second = run_on(loop, twice);
  EXPECT_EQ(calls["alice"], 2);  // a finished call is not a cache
  EXPECT_EQ(second.value_or(""), "alice#2");
}

TEST_F(Core, CancelledLeaderStillAnswersEveryWaiter) {
  asio::io_context loop;
  Coalescer<std::string, Result<int>> coalescer;
  int calls = 0;
  auto hanging = [&calls]() -> asio::awaitable<Result<int>> {
    ++calls;
    Tracked in_frame;
    asio::steady_timer timer(co_await asio::this_coro::executor, 24h);
    co_await timer.async_wait(asio::use_awaitable);  // throws when cancelled
    co_return 1;
  };
  std::vector<Result<int>> results;
  auto collect = [&](std::exception_ptr e, Result<int> r) {
    rethrow(e);
    results.push_back(std::move(r));
  };
  asio::cancellation_signal cancel_leader;
  asio::co_spawn(loop, coalescer.run("alice", hanging), asio::bind_cancellation_slot(cancel_leader.slot(), collect));
  for (int i = 0; i < 3; ++i) asio::co_spawn(loop, coalescer.run("alice", hanging), collect);
  asio::steady_timer trigger(loop, 10ms);
  trigger.async_wait([&](const asio::error_code&) {
    EXPECT_EQ(coalescer.in_flight(), 1u);
    cancel_leader.emit(asio::cancellation_type::terminal);
  });
  // The 24 h timer would hold the loop to the 60 s limit had the
  // leader's cancellation not ended the one call.
  loop.run_for(60s);
  EXPECT_TRUE(loop.stopped()) << "work left on the loop after the cancellation";
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(results.size(), 4u);
  for (const auto& r : results) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), Code::kCancelled);
  }
  EXPECT_EQ(coalescer.in_flight(), 0u);
  EXPECT_EQ(Tracked::live, 0);
}

TEST_F(Core, CancelledWaiterLeavesTheOthersAlone) {
  asio::io_context loop;
  NameCoalescer coalescer;
  std::map<std::string, int> calls;
  std::vector<std::pair<std::string, Result<std::string>>> finished;  // in completion order
  auto collect = [&](std::string who) {
    return [&finished, who](std::exception_ptr e, Result<std::string> r) {
      rethrow(e);
      finished.emplace_back(who, std::move(r));
    };
  };
  asio::cancellation_signal cancel_waiter;
  asio::co_spawn(loop, coalescer.run("alice", counted_lookup("alice", calls)), collect("leader"));
  asio::co_spawn(loop, coalescer.run("alice", counted_lookup("alice", calls)), collect("waiter"));
  asio::co_spawn(loop, coalescer.run("alice", counted_lookup("alice", calls)),
                 asio::bind_cancellation_slot(cancel_waiter.slot(), collect("cancelled")));
  // All three started (the leader's call waits on its timer, the others on
  // the leader), then the one waiter is cancelled: its completion is queued
  // before the call's can be, however late this process gets the CPU (a
  // timer to cancel it would race the call's own timer on a loaded machine).
  loop.poll();
  ASSERT_EQ(coalescer.in_flight(), 1u);
  cancel_waiter.emit(asio::cancellation_type::terminal);
  loop.run();
  EXPECT_EQ(calls["alice"], 1);
  ASSERT_EQ(finished.size(), 3u);
  EXPECT_EQ(finished[0].first, "cancelled");  // at once, not when the call ended
  ASSERT_FALSE(finished[0].second.has_value());
  EXPECT_EQ(finished[0].second.error().code(), Code::kCancelled);
  for (std::size_t i = 1; i < 3; ++i) {
    EXPECT_NE(finished[i].first, "cancelled");
    EXPECT_EQ(finished[i].second.value_or("error"), "alice#1");
  }
}

TEST_F(Core, ThrowingCallGivesEveryCallerAnInternalStatus) {
  asio::io_context loop;
  NameCoalescer coalescer;
  auto broken = []() -> asio::awaitable<Result<std::string>> {
    co_await testing::pause_for(5ms);
    throw std::runtime_error("directory returned garbage");
  };
  std::vector<Result<std::string>> results;
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(loop, coalescer.run("alice", broken), [&](std::exception_ptr e, Result<std::string> r) {
      rethrow(e);
      results.push_back(std::move(r));
    });
  }
  loop.run();
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), Code::kInternal);
    EXPECT_NE(r.error().message().find("garbage"), std::string::npos);
  }
  EXPECT_EQ(coalescer.in_flight(), 0u);
}

TEST_F(Core, DestroyingTheLoopMidCallLeavesNoEntryAndNoFrame) {
  Coalescer<std::string, Result<int>> coalescer;  // outlives the loop, as required
  auto hanging = []() -> asio::awaitable<Result<int>> {
    Tracked in_frame;
    asio::steady_timer timer(co_await asio::this_coro::executor, 10s);
    co_await timer.async_wait(asio::use_awaitable);
    co_return 1;
  };
  int completions = 0;
  {
    asio::io_context loop;
    for (int i = 0; i < 4; ++i) {
      asio::co_spawn(loop, coalescer.run("alice", hanging), [&](std::exception_ptr, Result<int>) { ++completions; });
    }
    loop.poll();  // all four start: one call, three waiters
    EXPECT_EQ(coalescer.in_flight(), 1u);
    EXPECT_EQ(Tracked::live, 1);
  }
  EXPECT_EQ(coalescer.in_flight(), 0u);
  EXPECT_EQ(Tracked::live, 0);
  EXPECT_EQ(completions, 0);
}

// [daemon] trace_requests (core/trace.h): off, nothing is written; on, one
// whole line per stage on the log's descriptor, whatever the log level, with
// a monotonic time, the stage and the key, control bytes of the key as '?'
// (a key may come from a client: it must not forge a line).
TEST(Trace, OneLinePerStageOnlyWhenOnWithTheKeysControlBytesReplaced) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  const int old_fd = log_fd();
  const LogLevel old_level = log_level();
  set_log_fd(fds[1]);
  set_log_level(LogLevel::kError);
  auto drain = [&] {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    return out;
  };
  set_trace_enabled(false);
  trace_stage("received", "user \"alice\"");
  set_trace_key("user \"alice\"");
  trace_stage_current("search_sent");
  EXPECT_EQ(drain(), "") << "off: nothing";

  set_trace_enabled(true);
  trace_stage("received", "user \"a\nb\"");
  set_trace_key("group 7");
  trace_stage_current("search_sent");
  set_trace_enabled(false);
  set_log_fd(old_fd);
  set_log_level(old_level);
  const std::string out = drain();
  ::close(fds[0]);
  ::close(fds[1]);
  std::vector<std::string> lines;
  for (std::size_t at = 0, nl; (nl = out.find('\n', at)) != std::string::npos; at = nl + 1) {
    lines.push_back(out.substr(at, nl - at));
  }
  ASSERT_EQ(lines.size(), 2u) << out;
  // "trace ROLE[PID] NS STAGE KEY"
  std::istringstream first(lines[0]);
  std::string word, role, stage;
  long long ns = 0;
  first >> word >> role >> ns >> stage;
  EXPECT_EQ(word, "trace");
  EXPECT_NE(role.find("[" + std::to_string(::getpid()) + "]"), std::string::npos) << role;
  EXPECT_GT(ns, 0);
  EXPECT_EQ(stage, "received");
  EXPECT_NE(lines[0].find(" received user \"a?b\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(" search_sent group 7"), std::string::npos) << lines[1];
}

}  // namespace
}  // namespace fastid::core
