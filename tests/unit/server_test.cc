// Specification of the request side of a front worker (src/server) against
// fake directories: the stored directory (the LMDB store in front of another
// directory: hits, misses, negative answers, refresh-ahead, the probe's
// verdict, offline and back, "try again") and the NSS handler's one loop over
// the directories (first answer wins, "not found" asks the next, try again
// while one is down, the union of memberships, pages across directories);
// the gate's table (which listener and caller may send which opcode, and the
// named reason of each refusal) and the router (opcode -> handler);
// and the connection's ReadBuffer, whose every removed byte must be wiped
// (passwords on the pam socket): the bytes past size() are inspected through
// data(), the buffer's own allocation, the memory a later allocation would reuse.

#include "core/gcc12_coroutines.h"  // first: its rules and pragmas
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <optional>
#include <thread>

#include "server/admin_handler.h"
#include "server/directory.h"
#include "server/gate.h"
#include "server/loop_monitor.h"
#include "server/nss_handler.h"
#include "server/read_buffer.h"
#include "server/router.h"
#include "server/stored_directory.h"
#include "store/store.h"

namespace fastid::server {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using model::Answer;
using model::Gids;
using model::Page;
using model::Query;
using model::User;
using Clock = std::chrono::steady_clock;

User user(std::string name, std::uint32_t uid) {
  User u;
  u.name = std::move(name);
  u.uid = uid;
  u.gid = 100;
  u.dir = "/home/" + u.name;
  u.shell = "/bin/sh";
  return u;
}

// A directory that answers from a table, fails as told, and remembers what it
// was asked.
class FakeDirectory final : public Directory {
 public:
  explicit FakeDirectory(std::string name) : name_(std::move(name)) {}

  std::map<Query, Answer> answers;         // what it knows
  std::map<Query, core::Status> failures;  // entries that fail on their own
  core::Status down;                       // not ok: every lookup fails with it
  std::chrono::milliseconds delay{0};      // every lookup answers this late (a slow or hung source)
  bool hold = false;                       // lookups wait until release(): a source that answers when told
  std::vector<Query> asked;
  std::size_t answered = 0;                // lookups that returned
  bool stopped = false;

  const std::string& name() const override { return name_; }

  // Lets every held lookup go on (they answer on the loop's next turns).
  void release() { hold = false; }

  asio::awaitable<core::Result<Answer>> lookup(Query q) override {
    asked.push_back(q);
    if (delay.count() > 0) {
      auto executor = co_await asio::this_coro::executor;
      asio::steady_timer late(executor, delay);
      auto wait = late.async_wait(asio::use_awaitable);
      co_await std::move(wait);
    }
    while (hold) {  // looks again every millisecond until release()
      auto executor = co_await asio::this_coro::executor;
      asio::steady_timer tick(executor, 1ms);
      auto wait = tick.async_wait(asio::use_awaitable);
      co_await std::move(wait);
    }
    ++answered;
    if (!down.is_ok()) co_return core::error(down);
    if (auto f = failures.find(q); f != failures.end()) co_return core::error(f->second);
    if (auto a = answers.find(q); a != answers.end()) co_return a->second;
    co_return core::error(core::Status::not_found(name_ + ": " + model::describe(q)));
  }
  asio::awaitable<core::Result<model::Account>> authenticate(std::string, core::Secret, core::Offloader&) override {
    co_return core::error(core::Status::invalid_argument("fake: no authentication"));
  }
  asio::awaitable<core::Result<model::Account>> account(std::string, core::Offloader&) override {
    co_return core::error(core::Status::invalid_argument("fake: no accounts"));
  }
  // As a pool's: a lookup of uid 0 ("no such uid" is an answer).
  asio::awaitable<core::Status> probe() override {
    auto op = lookup(Query::user_by_uid(0));
    core::Result<Answer> r = co_await std::move(op);
    co_return r || r.error().code() == core::Code::kNotFound ? core::Status::ok() : r.error();
  }
  asio::awaitable<bool> offline(core::Status failure) override {
    if (!means_offline(failure)) co_return false;
    auto op = probe();
    const core::Status st = co_await std::move(op);
    co_return means_offline(st);
  }
  void stop() override { stopped = true; }
  StatusItems status_items() const override { return {{"fake." + name_, "here"}}; }

  std::size_t times_asked(const Query& q) const { return std::count(asked.begin(), asked.end(), q); }

 private:
  std::string name_;
};

class ServerTest : public ::testing::Test {
 protected:
  // Runs `op` on the loop to its end (5 s at most) and returns its result.
  template <typename T>
  T await(asio::awaitable<T> op) {
    std::optional<T> out;
    asio::co_spawn(io_, std::move(op), [&out](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out.emplace(std::move(v));
    });
    const auto deadline = Clock::now() + 5s;
    while (!out && Clock::now() < deadline) run_once();
    if (!out) {
      ADD_FAILURE() << "the operation did not finish within 5 s";
      return T{};
    }
    return std::move(*out);
  }

  // Runs the loop until `done` holds (5 s at most): background probes and refreshes.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = Clock::now() + 5s;
    while (!done() && Clock::now() < deadline) run_once();
    return done();
  }

  // One handler, or 10 ms; a loop that ran out of work is made ready again.
  void run_once() {
    if (io_.stopped()) io_.restart();
    io_.run_one_for(10ms);
  }

  asio::io_context io_;
};

class StoredDirectoryTest : public ServerTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fastid-server-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    store::Options o;
    o.dir = root_ + "/store";
    o.map_size = 16ull << 20;
    auto s = store::Store::open(o);
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    store_ = std::move(*s);
    fake_ = std::make_shared<FakeDirectory>("corp");
    fake_->answers[Query::user_by_name("alice")] = alice_;
    fake_->answers[Query::user_by_uid(1000)] = alice_;
  }

  void TearDown() override {
    if (dir_) dir_->stop();
    dir_.reset();
    io_.run_for(20ms);  // cancelled timers complete
    std::filesystem::remove_all(root_);
  }

  void open(StoredDirectoryOptions options = {}) {
    dir_ = std::make_shared<StoredDirectory>(io_.get_executor(), store_, fake_, options);
    dir_->start();
  }

  core::Result<Answer> ask(const Query& q) { return await(dir_->lookup(q)); }

  // The directory behind goes down; a failed lookup and the failed probe take
  // the stored directory offline. False when it never went.
  bool take_offline() {
    fake_->down = core::Status::unavailable("slapd stopped");
    (void)ask(Query::user_by_name("nobody-yet"));
    return run_until([&] { return dir_->offline(); });
  }

  std::string item(const std::string& key) {
    for (auto& [k, v] : dir_->status_items()) {
      if (k == "store.corp." + key) return v;
    }
    return "(absent)";
  }

  std::string root_;
  std::shared_ptr<store::Store> store_;
  std::shared_ptr<FakeDirectory> fake_;
  std::shared_ptr<StoredDirectory> dir_;
  const User alice_ = user("alice", 1000);
};

TEST_F(StoredDirectoryTest, AMissIsAskedAndStoredThenAnsweredFromTheStore) {
  open();
  const Query q = Query::user_by_name("alice");
  auto first = ask(q);
  ASSERT_TRUE(first.has_value()) << first.error().to_string();
  EXPECT_EQ(std::get<User>(*first), alice_);
  auto second = ask(q);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(std::get<User>(*second), alice_);
  EXPECT_EQ(fake_->times_asked(q), 1u);
  // Stored under both keys: the uid is a hit too.
  auto by_uid = ask(Query::user_by_uid(1000));
  ASSERT_TRUE(by_uid.has_value());
  EXPECT_EQ(fake_->times_asked(Query::user_by_uid(1000)), 0u);
  EXPECT_EQ(item("hits"), "2");
  EXPECT_EQ(item("misses"), "1");
  EXPECT_EQ(item("state"), "online");
  EXPECT_EQ(dir_->status_items().front().first, "fake.corp");  // the directory's own figures first
}

TEST_F(StoredDirectoryTest, NoSuchEntryIsStoredForTheNegativeTtl) {
  open();
  const Query q = Query::user_by_name("ghost");
  for (int i = 0; i < 3; ++i) {
    auto r = ask(q);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), core::Code::kNotFound);
  }
  EXPECT_EQ(fake_->times_asked(q), 1u);
  EXPECT_EQ(item("negative_hits"), "2");

  StoredDirectoryOptions none;
  none.negative_ttl = 0ms;
  dir_->stop();
  open(none);
  const Query other = Query::group_by_gid(77);
  (void)ask(other);
  (void)ask(other);
  EXPECT_EQ(fake_->times_asked(other), 2u) << "a negative ttl of 0 stores no negative answer";
}

TEST_F(StoredDirectoryTest, PagesAreNeverStored) {
  Page<User> page;
  page.records = {alice_};
  fake_->answers[Query::users_page(0, 10)] = page;
  open();
  for (int i = 0; i < 2; ++i) {
    auto r = ask(Query::users_page(0, 10));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(std::get<Page<User>>(*r), page);
  }
  EXPECT_EQ(fake_->times_asked(Query::users_page(0, 10)), 2u);
}

TEST_F(StoredDirectoryTest, ARecordNearExpiryIsAnsweredAtOnceAndRefreshedInTheBackground) {
  StoredDirectoryOptions o;
  o.refresh_ahead = 1h;
  o.refresh_tick = 10ms;
  open(o);
  const Query q = Query::user_by_name("alice");
  const store::Millis now = store::now_millis();
  User old = alice_;
  old.gecos = "before the refresh";
  ASSERT_TRUE(store_->put("corp", q, old, now - 1000, now + 60000));  // fresh for one more minute

  auto r = ask(q);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(std::get<User>(*r).gecos, "before the refresh") << "the request never waits for the refresh";
  ASSERT_TRUE(run_until([&] { return item("refreshed") == "1"; })) << item("refreshed");
  EXPECT_EQ(fake_->times_asked(q), 1u);
  auto stored = store_->get("corp", q);
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ(std::get<User>((*stored)->value).gecos, "");
  EXPECT_GT((*stored)->expires, now + 3600000) << "written back with the full ttl";
  // Hits while the refresh is queued or in flight do not queue it twice.
  EXPECT_EQ(item("refresh_queue"), "0");
}

TEST_F(StoredDirectoryTest, OneFailingEntryIsNotAnOutageWhenTheProbeIsAnswered) {
  open();
  const Query hang = Query::user_by_name("hanguser");
  fake_->failures[hang] = core::Status::timeout("no answer within 2000 ms (stage provider)");
  auto r = ask(hang);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), core::Code::kTimeout);
  ASSERT_TRUE(run_until([&] { return item("probes") == "1" && fake_->times_asked(Query::user_by_uid(0)) == 1; }));
  io_.run_for(20ms);  // the probe's verdict
  EXPECT_FALSE(dir_->offline());
  EXPECT_EQ(item("offline_transitions"), "0");
  EXPECT_TRUE(ask(Query::user_by_name("alice")).has_value());
}

TEST_F(StoredDirectoryTest, AnOutageGoesOfflineAnswersStaleRecordsAndSaysTryAgainForTheRest) {
  StoredDirectoryOptions o;
  o.probe_interval = 1h;  // no periodic probe during this test
  open(o);
  const Query q = Query::user_by_name("alice");
  const store::Millis now = store::now_millis();
  ASSERT_TRUE(store_->put("corp", q, alice_, now - 3600000, now - 60000));  // expired a minute ago
  fake_->down = core::Status::unavailable("provider corp: no worker could start");

  // The miss fails; an expired record young enough is a better answer.
  auto r = ask(q);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(std::get<User>(*r), alice_);
  // The probe fails too: offline.
  ASSERT_TRUE(run_until([&] { return dir_->offline(); }));
  EXPECT_EQ(item("state"), "offline");
  EXPECT_THAT(item("offline_cause"), HasSubstr("no worker could start"));

  // Offline, nothing reaches the directory: stale records answer, unknown
  // names and pages fail at once with "try again" (never "no such user").
  const std::size_t asked = fake_->asked.size();
  auto stale = ask(q);
  ASSERT_TRUE(stale.has_value());
  auto unknown = ask(Query::user_by_name("bob"));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code(), core::Code::kUnavailable);
  EXPECT_THAT(unknown.error().message(), HasSubstr("offline"));
  EXPECT_THAT(unknown.error().message(), HasSubstr("user bob"));
  auto page = ask(Query::groups_page(0, 10));
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().code(), core::Code::kUnavailable);
  EXPECT_EQ(fake_->asked.size(), asked);
  EXPECT_EQ(item("stale_answers"), "2");
  EXPECT_EQ(item("unavailable"), "1");
  EXPECT_EQ(item("offline_transitions"), "1");
}

TEST_F(StoredDirectoryTest, TheProbeTimerBringsTheDirectoryBackOnline) {
  StoredDirectoryOptions o;
  o.probe_interval = 20ms;
  open(o);
  fake_->down = core::Status::unavailable("slapd stopped");
  EXPECT_FALSE(ask(Query::user_by_name("bob")).has_value());
  ASSERT_TRUE(run_until([&] { return dir_->offline(); }));
  // Still down: the timer keeps probing, the directory stays offline.
  ASSERT_TRUE(run_until([&] { return fake_->times_asked(Query::user_by_uid(0)) >= 3; }));
  EXPECT_TRUE(dir_->offline());
  fake_->down = core::Status::ok();
  ASSERT_TRUE(run_until([&] { return !dir_->offline(); }));
  EXPECT_EQ(item("state"), "online");
  auto r = ask(Query::user_by_name("alice"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(fake_->times_asked(Query::user_by_name("alice")), 1u);
}

TEST_F(StoredDirectoryTest, BusyIsNoOutage) {
  open();
  fake_->down = core::Status::busy("provider corp: queue full (64 requests)");
  auto r = ask(Query::user_by_name("alice"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), core::Code::kBusy);
  io_.run_for(20ms);
  EXPECT_EQ(item("probes"), "0");
  EXPECT_FALSE(dir_->offline());
}

// Authentication asks whether a failed directory is offline before offline
// credentials may stand in: busy or an internal error never is; an outage is
// settled by a probe; an answering probe keeps it online.
TEST_F(StoredDirectoryTest, OfflineForAuthenticationOnlyWhenTheProbeFailsToo) {
  StoredDirectoryOptions o;
  o.probe_interval = 1h;
  open(o);
  EXPECT_FALSE(await(dir_->offline(core::Status::busy("provider corp: authentication queue full"))));
  EXPECT_FALSE(await(dir_->offline(core::Status::internal("provider corp: bad reply"))));
  EXPECT_EQ(fake_->times_asked(Query::user_by_uid(0)), 0u) << "no probe for what is never an outage";
  // The request timed out but the directory answers its probe: online.
  EXPECT_FALSE(await(dir_->offline(core::Status::timeout("provider corp: request timed out"))));
  EXPECT_EQ(fake_->times_asked(Query::user_by_uid(0)), 1u);
  EXPECT_FALSE(dir_->offline());
  // Down: the probe fails too, and the directory goes offline for lookups as well.
  fake_->down = core::Status::unavailable("slapd stopped");
  EXPECT_TRUE(await(dir_->offline(core::Status::unavailable("provider corp: slapd stopped"))));
  EXPECT_TRUE(dir_->offline());
  EXPECT_EQ(item("offline_transitions"), "1");
  // Offline already: no probe needed.
  const std::size_t probes = fake_->times_asked(Query::user_by_uid(0));
  EXPECT_TRUE(await(dir_->offline(core::Status::busy("provider corp: queue full"))));
  EXPECT_EQ(fake_->times_asked(Query::user_by_uid(0)), probes);
}

// Offline, a record is a better answer than "try again" only while it is
// young enough: one fetched longer than offline_max_age ago is not served,
// and a stored "no such entry" that has expired is never stretched into one.
TEST_F(StoredDirectoryTest, OfflineRecordsOlderThanTheMaximumAgeAndExpiredNegativesAreTryAgain) {
  StoredDirectoryOptions o;
  o.probe_interval = 1h;
  o.offline_max_age = 10min;
  open(o);
  const store::Millis now = store::now_millis();
  const Query old_q = Query::user_by_name("olduser");
  const Query young_q = Query::user_by_name("alice");
  const Query ghost_q = Query::user_by_name("ghost");
  ASSERT_TRUE(store_->put("corp", old_q, user("olduser", 1001), now - 3600000, now - 60000));  // fetched 1 h ago
  ASSERT_TRUE(store_->put("corp", young_q, alice_, now - 300000, now - 60000));                // fetched 5 min ago
  ASSERT_TRUE(store_->put_negative("corp", ghost_q, now - 120000, now - 60000));               // expired negative
  ASSERT_TRUE(take_offline());
  const std::size_t asked = fake_->asked.size();

  auto young = ask(young_q);
  ASSERT_TRUE(young.has_value()) << young.error().to_string();
  EXPECT_EQ(std::get<User>(*young), alice_);
  auto old = ask(old_q);
  ASSERT_FALSE(old.has_value()) << "a record older than offline_max_age was served";
  EXPECT_EQ(old.error().code(), core::Code::kUnavailable);
  auto ghost = ask(ghost_q);
  ASSERT_FALSE(ghost.has_value());
  EXPECT_EQ(ghost.error().code(), core::Code::kUnavailable) << "an expired negative is \"try again\", not \"no such user\"";
  EXPECT_EQ(fake_->asked.size(), asked) << "offline, nothing reaches the directory";
  EXPECT_EQ(item("stale_answers"), "1");
  EXPECT_EQ(item("unavailable"), "2");
}

// Offline, what is still fresh answers as it would online — a fresh "no such
// entry" too — and nothing is queued for a refresh the directory cannot give.
TEST_F(StoredDirectoryTest, OfflineFreshRecordsAndFreshNegativesAnswerAndQueueNoRefresh) {
  StoredDirectoryOptions o;
  o.probe_interval = 1h;
  o.refresh_ahead = 1h;
  o.refresh_tick = 10ms;
  open(o);
  const store::Millis now = store::now_millis();
  const Query q = Query::user_by_name("alice");
  const Query ghost_q = Query::user_by_name("ghost");
  ASSERT_TRUE(store_->put("corp", q, alice_, now - 1000, now + 60000));  // fresh, near expiry
  ASSERT_TRUE(store_->put_negative("corp", ghost_q, now - 1000, now + 60000));
  ASSERT_TRUE(take_offline());
  const std::size_t asked = fake_->asked.size();

  auto r = ask(q);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  auto ghost = ask(ghost_q);
  ASSERT_FALSE(ghost.has_value());
  EXPECT_EQ(ghost.error().code(), core::Code::kNotFound);
  io_.run_for(50ms);  // several refresh ticks
  EXPECT_EQ(item("refresh_queue"), "0");
  EXPECT_EQ(item("refreshed"), "0");
  EXPECT_EQ(fake_->asked.size(), asked);
  EXPECT_EQ(item("hits"), "2");
}

// Online, a failure of the moment (busy) is no outage, but an expired record
// young enough is still a better answer than the error.
TEST_F(StoredDirectoryTest, BusyWithAnExpiredRecordAnswersTheRecordAndStaysOnline) {
  open();
  const store::Millis now = store::now_millis();
  const Query q = Query::user_by_name("alice");
  ASSERT_TRUE(store_->put("corp", q, alice_, now - 3600000, now - 60000));
  fake_->down = core::Status::busy("provider corp: queue full (64 requests)");
  auto r = ask(q);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(std::get<User>(*r), alice_);
  EXPECT_EQ(fake_->times_asked(q), 1u) << "online, the expired record is asked for first";
  io_.run_for(20ms);
  EXPECT_EQ(item("probes"), "0");
  EXPECT_FALSE(dir_->offline());
  EXPECT_EQ(item("stale_answers"), "1");
}

// A directory slower than stale_after (hung, or a pool's request_timeout,
// retry and backoff) must not make a client that has an expired record in
// the store wait past its own timeout: the record answers at stale_after,
// and the directory's answer, when it comes, is stored (issue #20).
// The directory answers only when the test releases it, after the request
// returned: ordered, not timed (a request that waited for the directory
// would not return within await()'s 5 s, and the directory would still
// have answered nothing).
TEST_F(StoredDirectoryTest, AnExpiredRecordAnswersADirectorySlowerThanStaleAfterWhoseAnswerIsStoredLater) {
  StoredDirectoryOptions o;
  o.stale_after = 50ms;
  open(o);
  const Query q = Query::user_by_name("alice");
  User old = alice_;
  old.shell = "/bin/old";
  const store::Millis now = store::now_millis();
  ASSERT_TRUE(store_->put("corp", q, old, now - 3600000, now - 60000));  // expired a minute ago
  fake_->hold = true;
  auto r = ask(q);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(std::get<User>(*r), old);
  EXPECT_EQ(fake_->times_asked(q), 1u);
  EXPECT_EQ(fake_->answered, 0u) << "answered at stale_after, not when the directory answered";
  EXPECT_EQ(item("stale_slow"), "1");
  EXPECT_EQ(item("stale_answers"), "1");
  // The directory's answer arrives later and replaces the record.
  fake_->release();
  ASSERT_TRUE(run_until([&] {
    auto stored = store_->get("corp", q);
    return stored && *stored && std::get<User>((*stored)->value) == alice_;
  }));
  const std::size_t asked = fake_->asked.size();
  auto fresh = ask(q);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(std::get<User>(*fresh), alice_);
  EXPECT_EQ(fake_->asked.size(), asked) << "a fresh hit";
  EXPECT_FALSE(dir_->offline());
}

// stale_after = 0: the directory is waited for, as long as it takes.
TEST_F(StoredDirectoryTest, StaleAfterZeroWaitsForTheDirectory) {
  StoredDirectoryOptions o;
  o.stale_after = 0ms;
  open(o);
  const Query q = Query::user_by_name("alice");
  User old = alice_;
  old.shell = "/bin/old";
  const store::Millis now = store::now_millis();
  ASSERT_TRUE(store_->put("corp", q, old, now - 3600000, now - 60000));
  fake_->delay = 200ms;
  auto r = ask(q);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(std::get<User>(*r), alice_);
  EXPECT_EQ(item("stale_slow"), "0");
}

TEST_F(StoredDirectoryTest, StopStopsTheDirectoryBehind) {
  open();
  dir_->stop();
  EXPECT_TRUE(fake_->stopped);
  // A request in flight during a reload still finishes.
  EXPECT_TRUE(ask(Query::user_by_name("alice")).has_value());
}

// ---- The handler: one loop over the directories ------------------------------

class NssHandlerTest : public ServerTest {
 protected:
  void SetUp() override {
    local_ = std::make_shared<FakeDirectory>("local");
    corp_ = std::make_shared<FakeDirectory>("corp");
    handler_.set_directories({local_, corp_});
  }

  core::Result<Answer> lookup(const Query& q) { return await(handler_.lookup(q)); }

  // The reply frame to `q` through handle(): its header status.
  proto::WireStatus reply_status(const Query& q) {
    proto::Bytes frame = await(handler_.handle(proto::request_of(q, 9), core::PeerCred{})).flatten();
    proto::FrameHeader h{};
    EXPECT_EQ(proto::decode_header(frame.data(), &h), proto::HeaderCheck::kOk);
    EXPECT_EQ(h.request_id, 9u);
    return static_cast<proto::WireStatus>(h.status);
  }

  NssHandler handler_;
  std::shared_ptr<FakeDirectory> local_, corp_;
};

TEST_F(NssHandlerTest, TheFirstAnswerWinsAndNotFoundAsksTheNext) {
  const Query q = Query::user_by_name("alice");
  corp_->answers[q] = user("alice", 5000);
  auto r = lookup(q);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(std::get<User>(*r).uid, 5000u);
  local_->answers[q] = user("alice", 1000);
  r = lookup(q);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(std::get<User>(*r).uid, 1000u);
  EXPECT_EQ(corp_->times_asked(q), 1u) << "the second directory is not asked once the first answers";
  EXPECT_EQ(reply_status(q), proto::WireStatus::kOk);
}

TEST_F(NssHandlerTest, ANameNobodyKnowsIsTryAgainWhileADirectoryIsDown) {
  const Query q = Query::user_by_uid(4242);
  EXPECT_EQ(lookup(q).error().code(), core::Code::kNotFound);
  EXPECT_EQ(reply_status(q), proto::WireStatus::kNotFound);

  local_->down = core::Status::unavailable("provider local: shadow unreadable");
  auto r = lookup(q);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), core::Code::kUnavailable);
  EXPECT_THAT(r.error().message(), HasSubstr("provider local"));
  EXPECT_EQ(reply_status(q), proto::WireStatus::kUnavailable);
  // A directory that knows the name still answers it.
  corp_->answers[q] = user("bob", 4242);
  EXPECT_TRUE(lookup(q).has_value());
}

TEST_F(NssHandlerTest, MembershipsAreTheUnionOverEveryDirectoryAndNeverPartial) {
  const Query q = Query::initgroups("alice");
  local_->answers[q] = Gids{10, 20};
  corp_->answers[q] = Gids{20, 30};
  auto r = lookup(q);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(std::get<Gids>(*r), (Gids{10, 20, 30}));

  corp_->down = core::Status::timeout("no answer within 2000 ms");
  auto partial = lookup(q);
  ASSERT_FALSE(partial.has_value()) << "a partial list would silently drop a user's groups";
  EXPECT_EQ(partial.error().code(), core::Code::kTimeout);
}

TEST_F(NssHandlerTest, PagesWalkTheDirectoriesInOrder) {
  Page<User> first{{user("a", 1)}, 1, true};
  Page<User> second{{user("b", 2)}, 2, false};
  Page<User> third{{user("c", 3)}, 1, false};
  local_->answers[Query::users_page(0, 1)] = first;
  local_->answers[Query::users_page(1, 1)] = second;
  corp_->answers[Query::users_page(0, 1)] = third;

  std::vector<std::string> names;
  std::uint32_t cursor = 0;
  for (int pages = 0; pages < 10; ++pages) {
    auto r = lookup(Query::users_page(cursor, 1));
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    const auto& page = std::get<Page<User>>(*r);
    for (const auto& u : page.records) names.push_back(u.name);
    if (!page.more) break;
    cursor = page.next_cursor;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(cursor >> 24, 1u) << "the cursor names the directory in its top byte";
}

TEST_F(NssHandlerTest, AnAnswerOfAnotherKindIsAnErrorNamingTheDirectory) {
  const Query q = Query::group_by_name("staff");
  local_->answers[q] = user("staff", 1);  // a broken directory
  auto r = lookup(q);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), core::Code::kCorruption);
  EXPECT_THAT(r.error().message(), HasSubstr("provider local"));
}

TEST_F(NssHandlerTest, StatusListsEveryDirectorysFigures) {
  bool local = false, corp = false;
  for (const auto& [key, value] : handler_.status_items()) {
    local = local || key.find("fake.local") != std::string::npos;
    corp = corp || key.find("fake.corp") != std::string::npos;
  }
  EXPECT_TRUE(local);
  EXPECT_TRUE(corp);
}

// ---- The gate: one table of listener x caller x opcode ----------------------

constexpr std::uint16_t op(proto::Opcode o) { return static_cast<std::uint16_t>(o); }

TEST(GateTest, TheTableDecidesEveryListenerCallerAndOpcode) {
  using L = ListenerClass;
  using R = Rejection;
  using O = proto::Opcode;
  struct Row {
    L listener;
    bool root;
    O opcode;
    R expected;
  };
  const Row rows[] = {
      // Ping and lookups: every listener, every caller.
      {L::kNss, false, O::kPing, R::kNone},         {L::kNetwork, false, O::kPing, R::kNone},
      {L::kNss, false, O::kGetpwnam, R::kNone},     {L::kPam, false, O::kInitgroups, R::kNone},
      {L::kAdmin, true, O::kGrentPage, R::kNone},   {L::kNetwork, false, O::kGetgrgid, R::kNone},
      // Status: local listeners only.
      {L::kNss, false, O::kStatus, R::kNone},       {L::kAdmin, true, O::kStatus, R::kNone},
      {L::kNetwork, false, O::kStatus, R::kNotPublic},
      // Authentication: the pam socket only; never over the network.
      {L::kPam, false, O::kAuthenticate, R::kNone}, {L::kPam, true, O::kAccount, R::kNone},
      {L::kNss, true, O::kAuthenticate, R::kNotPamSocket},
      {L::kAdmin, true, O::kAccount, R::kNotPamSocket},
      {L::kNetwork, false, O::kAuthenticate, R::kNotPublic},
      // Invalidation: the admin socket, root only.
      {L::kAdmin, true, O::kCacheInvalidate, R::kNone},
      {L::kAdmin, false, O::kCacheInvalidate, R::kAdminNotRoot},
      {L::kNss, true, O::kCacheInvalidate, R::kNotAdminSocket},
      {L::kPam, true, O::kCacheInvalidate, R::kNotAdminSocket},
      {L::kNetwork, false, O::kCacheInvalidate, R::kNotPublic},
      // A network peer claiming root changes nothing.
      {L::kNetwork, true, O::kCacheInvalidate, R::kNotPublic},
      // The other admin requests (cache forget and show, the log level): the same.
      {L::kAdmin, true, O::kCacheForget, R::kNone},
      {L::kAdmin, true, O::kCacheShow, R::kNone},
      {L::kAdmin, true, O::kSetLogLevel, R::kNone},
      {L::kAdmin, false, O::kCacheShow, R::kAdminNotRoot},
      {L::kAdmin, false, O::kSetLogLevel, R::kAdminNotRoot},
      {L::kNss, true, O::kCacheForget, R::kNotAdminSocket},
      {L::kPam, true, O::kCacheShow, R::kNotAdminSocket},
      {L::kNss, false, O::kSetLogLevel, R::kNotAdminSocket},
      {L::kNetwork, true, O::kCacheShow, R::kNotPublic},
      {L::kNetwork, false, O::kSetLogLevel, R::kNotPublic},
      // The nscd socket: lookups from anyone, invalidation (nscd -i) from root, nothing else.
      {L::kNscd, false, O::kGetpwnam, R::kNone},    {L::kNscd, false, O::kInitgroups, R::kNone},
      {L::kNscd, true, O::kCacheInvalidate, R::kNone},
      {L::kNscd, false, O::kCacheInvalidate, R::kAdminNotRoot},
      {L::kNscd, false, O::kPing, R::kNotNscd},     {L::kNscd, true, O::kStatus, R::kNotNscd},
      {L::kNscd, true, O::kAuthenticate, R::kNotNscd},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(gate_verdict(r.listener, r.root, op(r.opcode)), r.expected)
        << "listener " << static_cast<int>(r.listener) << " root " << r.root << " opcode " << op(r.opcode);
  }
}

TEST(GateTest, UnknownOpcodesAreTheDecodersLocallyAndRefusedOverTheNetwork) {
  EXPECT_EQ(gate_verdict(ListenerClass::kNss, false, 0x7777), Rejection::kNone);
  EXPECT_EQ(gate_verdict(ListenerClass::kNetwork, false, 0x7777), Rejection::kNotPublic);
  EXPECT_EQ(gate_verdict(ListenerClass::kNetwork, false, 0x001F), Rejection::kNotPublic)
      << "an unassigned opcode of the public range is not public";
  EXPECT_EQ(gate_verdict(ListenerClass::kPam, false, 0x002F), Rejection::kNone);
  EXPECT_EQ(gate_verdict(ListenerClass::kNscd, true, 0x7777), Rejection::kNotNscd);
}

TEST(GateTest, EveryRouteHasOneRowAndEveryOpcodeOneRoute) {
  for (std::size_t i = 0; i < kRoutes; ++i) {
    int rows = 0;
    for (const GateRule& rule : kGateTable) rows += static_cast<std::size_t>(rule.route) == i ? 1 : 0;
    EXPECT_EQ(rows, 1) << "route " << i;
  }
  for (std::uint32_t o = 0; o <= 0xFFFF; ++o) {
    EXPECT_EQ(route_of(static_cast<std::uint16_t>(o)).has_value(), proto::opcode_known(static_cast<std::uint16_t>(o)))
        << "opcode " << o;
  }
  // Every known admin opcode goes to the admin route (root on the admin
  // socket), never to the default one, the lookups'.
  for (std::uint32_t o = 0; o <= 0xFF; ++o) {
    const auto op16 = static_cast<std::uint16_t>(o);
    if (proto::opcode_known(op16) && proto::opcode_is_admin(op16)) {
      EXPECT_EQ(route_of(op16), Route::kAdmin) << "opcode " << o;
    }
  }
  // What the network may send is exactly the wire's public set.
  for (std::uint32_t o = 0; o <= 0xFF; ++o) {
    const bool through = gate_verdict(ListenerClass::kNetwork, false, static_cast<std::uint16_t>(o)) == Rejection::kNone;
    EXPECT_EQ(through, proto::opcode_is_public(static_cast<std::uint16_t>(o)) &&
                           proto::opcode_known(static_cast<std::uint16_t>(o)))
        << "opcode " << o;
  }
}

// The Varlink socket (varlink_front.h) sends lookups only: every other route,
// and any unknown opcode, is kNotVarlink, for root as for anyone.
TEST(GateTest, TheVarlinkSocketTakesLookupsOnly) {
  for (std::uint32_t o = 0; o <= 0xFFFF; ++o) {
    const auto opcode = static_cast<std::uint16_t>(o);
    const bool lookup = route_of(opcode) == Route::kLookup;
    for (bool root : {false, true}) {
      EXPECT_EQ(gate_verdict(ListenerClass::kVarlink, root, opcode), lookup ? Rejection::kNone : Rejection::kNotVarlink)
          << "opcode " << o << " root " << root;
    }
  }
  EXPECT_STREQ(rejection_name(Rejection::kNotVarlink), "not_varlink");
}

TEST(GateTest, EachRefusalIsCountedUnderItsName) {
  Gate gate;
  EXPECT_EQ(gate.check(ListenerClass::kNetwork, false, op(proto::Opcode::kStatus)), Rejection::kNotPublic);
  EXPECT_EQ(gate.check(ListenerClass::kNetwork, false, op(proto::Opcode::kAuthenticate)), Rejection::kNotPublic);
  EXPECT_EQ(gate.check(ListenerClass::kNss, false, op(proto::Opcode::kAccount)), Rejection::kNotPamSocket);
  EXPECT_EQ(gate.check(ListenerClass::kNss, false, op(proto::Opcode::kPing)), Rejection::kNone);
  // Each front's own reason, the last of the enum included (it was once past
  // the counters' end when two fronts each added one).
  EXPECT_EQ(gate.check(ListenerClass::kVarlink, false, op(proto::Opcode::kStatus)), Rejection::kNotVarlink);
  EXPECT_EQ(gate.check(ListenerClass::kNscd, false, op(proto::Opcode::kAuthenticate)), Rejection::kNotNscd);
  EXPECT_EQ(gate.count(Rejection::kNotVarlink), 1u);
  EXPECT_EQ(gate.count(Rejection::kNotNscd), 1u);
  EXPECT_EQ(gate.count(Rejection::kNotPublic), 2u);
  EXPECT_EQ(gate.count(Rejection::kNotPamSocket), 1u);
  EXPECT_EQ(gate.count(Rejection::kAdminNotRoot), 0u);
  std::map<std::string, std::string> items;
  for (auto& [k, v] : gate.status_items()) items[k] = v;
  EXPECT_EQ(items["gate.refused.not_public"], "2");
  EXPECT_EQ(items["gate.refused.not_pam_socket"], "1");
  EXPECT_EQ(items["gate.refused.not_admin_socket"], "0");
  EXPECT_EQ(items["gate.refused.admin_not_root"], "0");
  EXPECT_EQ(items["gate.refused.not_varlink"], "1");
  EXPECT_EQ(items["gate.refused.not_nscd"], "1");
  EXPECT_EQ(items.size(), kRejections - 1) << "one line per reason, 'none' excluded";
}

TEST(GateTest, EveryReasonHasItsOwnNameAndAFixedMessageThatNamesNoDetail) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < kRejections; ++i) {
    const auto r = static_cast<Rejection>(i);
    names.insert(rejection_name(r));
    if (r == Rejection::kNone) {
      EXPECT_STREQ(rejection_message(r), "");
      continue;
    }
    const std::string message = rejection_message(r);
    EXPECT_FALSE(message.empty()) << rejection_name(r);
    EXPECT_THAT(message, Not(HasSubstr("/"))) << "a refusal names no path";
  }
  EXPECT_EQ(names.size(), kRejections) << "each reason is counted under a name of its own";
  EXPECT_EQ(std::string(rejection_name(Rejection::kAdminNotRoot)), "admin_not_root");
  EXPECT_THAT(rejection_message(Rejection::kNotPamSocket), HasSubstr("pam socket"));
  EXPECT_THAT(rejection_message(Rejection::kNotPublic), HasSubstr("network"));
}

// ---- The router: opcode -> handler ------------------------------------------

class RouterTest : public ServerTest {
 protected:
  void SetUp() override {
    local_ = std::make_shared<FakeDirectory>("local");
    lookups_.set_directories({local_});
    admin_.add_status_source([] { return StatusItems{{"uptime_seconds", "7"}, {"config", "/etc/secret.conf"}}; });
    admin_.add_status_source([] { return StatusItems{{"gate.refused.not_public", "3"}}; }, /*root_only=*/true);
  }

  // The reply frame: its header's status, and its payload as text.
  struct Routed {
    proto::WireStatus status;
    std::string text;
  };
  Routed route(proto::Request req, core::PeerCred peer) {
    req.request_id = 41;
    proto::Bytes frame = await(router_.dispatch(std::move(req), peer)).flatten();
    proto::FrameHeader h{};
    EXPECT_EQ(proto::decode_header(frame.data(), &h), proto::HeaderCheck::kOk);
    EXPECT_EQ(h.request_id, 41u);
    EXPECT_EQ(h.length, frame.size() - proto::kHeaderSize);
    return {static_cast<proto::WireStatus>(h.status), std::string(frame.begin() + proto::kHeaderSize, frame.end())};
  }

  static proto::Request request(proto::Opcode o) {
    proto::Request r;
    r.opcode = o;
    return r;
  }

  const core::PeerCred root_{1, 0, 0};
  const core::PeerCred user_{1, 1000, 1000};
  NssHandler lookups_;
  AdminHandler admin_;
  Router router_{lookups_, admin_};
  std::shared_ptr<FakeDirectory> local_;
};

TEST_F(RouterTest, LookupsGoToTheDirectories) {
  const Query q = Query::user_by_name("alice");
  local_->answers[q] = user("alice", 1000);
  Routed r = route(proto::request_of(q), user_);
  EXPECT_EQ(r.status, proto::WireStatus::kOk);
  EXPECT_THAT(r.text, HasSubstr("/home/alice"));
  EXPECT_EQ(local_->times_asked(q), 1u);
  EXPECT_EQ(lookups_.requests(), 1u);
}

TEST_F(RouterTest, PingAndStatusAreTheAdminHandlersAndNeverAskADirectory) {
  Routed ping = route(request(proto::Opcode::kPing), user_);
  EXPECT_EQ(ping.status, proto::WireStatus::kOk);
  EXPECT_THAT(ping.text, HasSubstr("fastidd"));
  EXPECT_TRUE(local_->asked.empty());
  EXPECT_EQ(lookups_.requests(), 0u);
  EXPECT_EQ(router_.requests(), 1u) << "ping counts among the requests";

  Routed anyone = route(request(proto::Opcode::kStatus), user_);
  EXPECT_EQ(anyone.status, proto::WireStatus::kOk);
  EXPECT_THAT(anyone.text, HasSubstr("uptime_seconds"));
  EXPECT_THAT(anyone.text, Not(HasSubstr("config"))) << "a path is for root only";
  EXPECT_THAT(anyone.text, Not(HasSubstr("gate.refused"))) << "the gate's refusals are for root only";

  Routed as_root = route(request(proto::Opcode::kStatus), root_);
  EXPECT_THAT(as_root.text, HasSubstr("/etc/secret.conf"));
  EXPECT_THAT(as_root.text, HasSubstr("gate.refused.not_public"));
}

TEST_F(RouterTest, InvalidationWithoutAFastCacheAndAuthenticationWithoutPamAreUnavailable) {
  Routed inv = route(request(proto::Opcode::kCacheInvalidate), root_);
  EXPECT_EQ(inv.status, proto::WireStatus::kUnavailable);
  proto::Request auth = request(proto::Opcode::kAuthenticate);
  auth.name = "alice";
  Routed refused = route(std::move(auth), root_);
  EXPECT_EQ(refused.status, proto::WireStatus::kUnavailable);
  EXPECT_TRUE(local_->asked.empty());
}

// ---- ReadBuffer -------------------------------------------------------------

void fill(ReadBuffer& b, const std::string& text) {
  b.append(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

std::string contents(const ReadBuffer& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

// True when every byte from size() to capacity() is zero.
bool spare_is_zero(const ReadBuffer& b) {
  for (std::size_t i = b.size(); i < b.capacity(); ++i) {
    if (b.data()[i] != 0) return false;
  }
  return true;
}

TEST(ReadBufferTest, EraseAtTheFrontMovesTheNextFrameDownAndWipesTheVacatedTail) {
  ReadBuffer b;
  fill(b, "FRAME-ONE-secret1|FRAME-TWO-secret2");
  b.erase(0, 18);
  EXPECT_EQ(contents(b), "FRAME-TWO-secret2");
  EXPECT_TRUE(spare_is_zero(b)) << "the second frame's old copy is gone";
}

TEST(ReadBufferTest, EraseInTheMiddleKeepsTheHeaderAndWipes) {
  ReadBuffer b;
  fill(b, "HEADERpassword-bytes");
  b.erase(6, 100);  // clamped to the size
  EXPECT_EQ(contents(b), "HEADER");
  EXPECT_TRUE(spare_is_zero(b));
  b.erase(10, 1);  // past the end: nothing
  EXPECT_EQ(contents(b), "HEADER");
}

TEST(ReadBufferTest, ShrinkingWipesWhatIsCutOffAndGrowingStartsFromZero) {
  ReadBuffer b;
  fill(b, "0123456789");
  b.resize(4);
  EXPECT_EQ(contents(b), "0123");
  EXPECT_TRUE(spare_is_zero(b));
  b.resize(8);
  EXPECT_EQ(contents(b), std::string("0123\0\0\0\0", 8));
}

TEST(ReadBufferTest, GrowingPastTheCapacityKeepsTheBytes) {
  ReadBuffer b;
  std::string text;
  for (int i = 0; i < 500; ++i) text += std::to_string(i) + ",";
  for (char c : text) b.append(reinterpret_cast<const std::uint8_t*>(&c), 1);
  EXPECT_EQ(contents(b), text);
  EXPECT_GE(b.capacity(), text.size());
  EXPECT_TRUE(spare_is_zero(b));
  b.release();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.data(), nullptr);
}

}  // namespace
}  // namespace fastid::server

// ---- LoopMonitor: the longest loop turn in status (issue 20) ---------------

namespace fastid::server {
namespace {

// A handler that holds the loop for 50 ms is seen as a turn of at least
// 50 ms minus the probe's period; before it, the figure is below it.
TEST(LoopMonitorTest, AHandlerThatHoldsTheLoopIsSeenAsItsLongestTurn) {
  asio::io_context io;
  std::uint64_t activity = 0;
  LoopMonitor monitor(io.get_executor(), [&] { return ++activity; },
                      LoopMonitorOptions{.busy_period = std::chrono::microseconds(2000)});
  monitor.start();
  std::uint64_t before = 0;
  asio::steady_timer hold(io);
  hold.expires_after(30ms);
  hold.async_wait([&](const asio::error_code&) {
    before = monitor.longest_us();
    // The turn under test: 50 ms of this thread's CPU time (on a busy
    // machine more wall time), spent running.
    auto cpu_ms = [] {
      timespec ts{};
      ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
    };
    const double until = cpu_ms() + 50;
    while (cpu_ms() < until) {
    }
  });
  asio::steady_timer end(io);
  end.expires_after(200ms);
  end.async_wait([&](const asio::error_code&) { monitor.stop(); });
  io.run();
  EXPECT_GE(monitor.probes(), 5u);
  EXPECT_GE(monitor.longest_us(), 48000u);
  EXPECT_GE(monitor.longest_recent_us(), 48000u);
  EXPECT_LT(before, monitor.longest_us());
  EXPECT_GE(monitor.longest_cpu_us(), 40000u);  // it ran: its CPU time counts
}

// A turn that waits off the CPU (here: sleeps, as a preempted worker would
// not run) is as late for the probe, but is not CPU the loop spent.
TEST(LoopMonitorTest, TimeOffTheCpuIsLateButNotCountedAsCpu) {
  asio::io_context io;
  LoopMonitor monitor(io.get_executor(), [] { return std::uint64_t{1}; },
                      LoopMonitorOptions{.busy_period = std::chrono::microseconds(2000)});
  monitor.start();
  asio::steady_timer hold(io);
  hold.expires_after(30ms);
  hold.async_wait([&](const asio::error_code&) { std::this_thread::sleep_for(50ms); });
  asio::steady_timer end(io);
  end.expires_after(200ms);
  end.async_wait([&](const asio::error_code&) { monitor.stop(); });
  io.run();
  EXPECT_GE(monitor.longest_us(), 48000u);
  EXPECT_LT(monitor.longest_cpu_us(), 25000u);
}

}  // namespace
}  // namespace fastid::server
