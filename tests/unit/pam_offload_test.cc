// PAM offload under concurrency (labelled "tsan"): the PamHandler's blocking
// work — crypt(3) through an in-process files provider, the offline
// credential file's reads, writes and hashes — runs on its Offloader's
// threads while the loop thread goes on with other requests, and the
// lockout table is shared by several front worker loops at once, as the
// daemon's front workers share it. Everything is counted or ordered: a held
// password check proves the loop and the second pool thread go on without
// it; no check depends on how fast a hash is.
#include "core/gcc12_coroutines.h"  // first: its rules and pragmas
#include <crypt.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/executor_work_guard.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "auth/lockout.h"
#include "providers/files/files_provider.h"
#include "proto/messages.h"
#include "proto/wire.h"
#include "server/directory.h"
#include "server/nss_handler.h"
#include "server/pam_handler.h"

namespace fastid::server {
namespace {

using namespace std::chrono_literals;
using proto::AuthResult;
using Clock = std::chrono::steady_clock;

const core::PeerCred kRoot{1, 0, 0};

std::string sha512_hash(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn("$6$", 0, nullptr, 0, salt, sizeof salt), nullptr);
  crypt_data data{};
  return crypt_r(password.c_str(), salt, &data);
}

std::string password_of(const std::string& user) { return "pw-of-" + user; }

// Polls `done` (an atomic counter, say) from the test's thread: a state,
// never a time; the limit only bounds a failure.
template <typename F>
bool wait_for_state(F done, std::chrono::seconds limit = 60s) {
  const auto until = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= until) return done();
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// The files provider, with a hook in its password check: which threads ran
// it, and a user whose check waits until the test lets it go.
class ObservedProvider final : public providers::Provider {
 public:
  explicit ObservedProvider(std::shared_ptr<providers::Provider> inner) : inner_(std::move(inner)) {}

  const std::string& name() const override { return inner_->name(); }
  core::Status open() override { return inner_->open(); }
  void close() override { inner_->close(); }
  core::Status refresh() override { return inner_->refresh(); }
  core::Result<model::Answer> lookup(const model::Query& q) override { return inner_->lookup(q); }
  core::Result<model::Account> account(std::string_view user) override {
    note_thread();
    return inner_->account(user);
  }
  core::Result<model::Account> authenticate_verdict(std::string_view user, std::string_view password) override {
    note_thread();
    if (user == held_user) {
      std::unique_lock lock(mu_);
      ++held_waiting_;
      released_cv_.wait_for(lock, 120s, [&] { return released_; });
    }
    return inner_->authenticate_verdict(user, password);
  }

  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    released_cv_.notify_all();
  }
  int held_waiting() {
    std::lock_guard lock(mu_);
    return held_waiting_;
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

  std::string held_user;  // set before any call

 private:
  void note_thread() {
    std::lock_guard lock(mu_);
    threads_.insert(std::this_thread::get_id());
  }
  std::shared_ptr<providers::Provider> inner_;
  std::mutex mu_;
  std::condition_variable released_cv_;
  bool released_ = false;
  int held_waiting_ = 0;
  std::set<std::thread::id> threads_;
};

// A source that cannot be reached: every call unavailable, and offline.
class UnreachableDirectory final : public Directory {
 public:
  const std::string& name() const override { return name_; }
  asio::awaitable<core::Result<model::Answer>> lookup(model::Query) override {
    co_return core::error(core::Status::unavailable("local: cannot be reached"));
  }
  asio::awaitable<core::Result<model::Account>> authenticate(std::string, core::Secret, core::Offloader&) override {
    co_return core::error(core::Status::unavailable("local: cannot be reached"));
  }
  asio::awaitable<core::Result<model::Account>> account(std::string, core::Offloader&) override {
    co_return core::error(core::Status::unavailable("local: cannot be reached"));
  }
  asio::awaitable<bool> offline(core::Status) override { co_return true; }
  asio::awaitable<core::Status> probe() override { co_return core::Status::unavailable("local: cannot be reached"); }
  void stop() override {}
  StatusItems status_items() const override { return {}; }

 private:
  std::string name_ = "local";
};

// One front worker's loop: a thread running an io_context, a PamHandler on it.
class FrontLoop {
 public:
  FrontLoop(Directories directories, PamOptions options, const std::string& state_dir,
            std::shared_ptr<auth::LockoutTable> lockout) {
    nss_.set_directories(std::move(directories));
    pam_.emplace(nss_, std::move(options), state_dir, std::move(lockout));
  }
  ~FrontLoop() {
    stop();
    if (pam_) pam_->join();  // the offload threads, once no request is left
  }

  // Queues one request; its outcome goes to results()[index]. Before start()
  // or on the loop thread (the handler is loop-thread only).
  std::size_t ask(proto::Opcode op, const std::string& user, const std::string& password) {
    proto::Request req;
    req.opcode = op;
    req.request_id = static_cast<std::uint32_t>(results_.size() + 1);
    req.name = user;
    req.password = core::Secret(password);
    req.service = "fastid-offload-test";
    const std::size_t index = results_.size();
    results_.emplace_back();
    asio::co_spawn(io_, pam_->handle(std::move(req), kRoot), [this, index](std::exception_ptr e, proto::Bytes frame) {
      if (e) std::rethrow_exception(e);
      results_[index] = decode(frame);
      ++answered_;
    });
    return index;
  }

  void start() {
    thread_ = std::thread([this] {
      loop_thread_.store(std::this_thread::get_id());
      io_.run();
    });
  }
  // Runs until every queued request is answered, then joins (60 s at most).
  bool finish() {
    const bool all = wait_for_state([&] { return answered_.load() == results_.size(); });
    stop();
    return all;
  }
  void stop() {
    work_.reset();
    if (!all_answered()) io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  void restart() {
    io_.restart();
    work_.emplace(io_.get_executor());
  }

  bool all_answered() const { return answered_.load() == results_.size(); }
  std::size_t answered() const { return answered_.load(); }
  // Read after finish(): written on the loop thread only.
  const std::vector<std::optional<proto::AuthReply>>& results() const { return results_; }
  std::string status(const std::string& key) const {
    for (const auto& [k, v] : pam_->status_items()) {
      if (k == key) return v;
    }
    return "(absent)";
  }
  std::thread::id loop_thread() const { return loop_thread_.load(); }
  NssHandler& nss() { return nss_; }

 private:
  static std::optional<proto::AuthReply> decode(const proto::Bytes& frame) {
    if (frame.size() < proto::kHeaderSize) return std::nullopt;
    proto::Reply reply;
    if (proto::decode_header(frame.data(), &reply.header) != proto::HeaderCheck::kOk) return std::nullopt;
    reply.payload.assign(frame.begin() + proto::kHeaderSize, frame.end());
    auto r = proto::decode_auth_reply(reply);
    if (!r) return std::nullopt;
    return *r;
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{io_.get_executor()};
  NssHandler nss_;
  std::optional<PamHandler> pam_;
  std::vector<std::optional<proto::AuthReply>> results_;
  std::atomic<std::size_t> answered_{0};
  std::atomic<std::thread::id> loop_thread_{};
  std::thread thread_;
};

class PamOffloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // On tmpfs when there is one: the offline file is fsynced at every
    // login, which a disk shared with builds makes take 0.5 s each.
    const bool shm = std::filesystem::is_directory("/dev/shm");
    std::string tmpl = std::string(shm ? "/dev/shm" : "/tmp") + "/fastid-pam-offload-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    const std::string today = std::to_string(::time(nullptr) / 86400 - 1);
    std::string passwd, group, shadow;
    for (std::size_t i = 0; i < users_.size(); ++i) {
      const std::string& u = users_[i];
      const std::string id = std::to_string(2000 + i);
      passwd += u + ":x:" + id + ":" + id + "::/home/" + u + ":/bin/sh\n";
      group += u + ":x:" + id + ":\n";
      shadow += u + ":" + sha512_hash(password_of(u)) + ":" + today + ":0:99999:7:::\n";
    }
    std::ofstream(dir_ + "/passwd") << passwd;
    std::ofstream(dir_ + "/group") << group;
    std::ofstream(dir_ + "/shadow") << shadow;
    auto files = std::make_shared<providers::FilesProvider>(providers::FilesProvider::Options{
        .name = "local", .passwd_path = dir_ + "/passwd", .group_path = dir_ + "/group",
        .shadow_path = dir_ + "/shadow"});
    provider_ = std::make_shared<ObservedProvider>(files);
    ASSERT_TRUE(provider_->open().is_ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::size_t count(const FrontLoop& loop, const std::vector<std::size_t>& which, AuthResult want) {
    std::size_t n = 0;
    for (std::size_t i : which) n += loop.results()[i] && loop.results()[i]->result == want ? 1 : 0;
    return n;
  }

  std::string dir_;
  const std::vector<std::string> users_ = {"alice", "bob", "carol", "dave", "erin", "frank"};
  std::shared_ptr<ObservedProvider> provider_;
};

// One loop, its two offload threads: crypt, the account check and the
// offline file's writes run off the loop, concurrently, each request gets
// its own answer; then, the source unreachable, the offline hashes are
// checked on the pool the same way.
TEST_F(PamOffloadTest, ConcurrentRequestsOnOneLoopRunOnThePoolAndEachGetsItsAnswer) {
  PamOptions options;
  options.max_failures = 0;  // lockout has its own test below
  options.offline = true;
  options.offline_file = dir_ + "/pam-offline";
  provider_->held_user = "alice";
  FrontLoop loop({in_process_directory(provider_)}, options, dir_, nullptr);

  // alice's check is held on one pool thread; everything else is queued behind it on the loop.
  const std::size_t held = loop.ask(proto::Opcode::kAuthenticate, "alice", password_of("alice"));
  std::vector<std::size_t> right, wrong, accounts;
  for (std::size_t u = 1; u < users_.size(); ++u) {
    right.push_back(loop.ask(proto::Opcode::kAuthenticate, users_[u], password_of(users_[u])));
    wrong.push_back(loop.ask(proto::Opcode::kAuthenticate, users_[u], "wrong-guess"));
    accounts.push_back(loop.ask(proto::Opcode::kAccount, users_[u], ""));
  }
  loop.start();
  // Every other request is answered while alice's check still holds a pool
  // thread: neither the loop nor the other pool thread waits for it.
  const bool others_answered = wait_for_state([&] { return loop.answered() == right.size() + wrong.size() + accounts.size(); });
  const bool held_still_waiting = provider_->held_waiting() == 1 && !loop.results()[held].has_value();
  provider_->release();
  ASSERT_TRUE(loop.finish()) << loop.answered() << " of " << loop.results().size() << " answered";
  EXPECT_TRUE(others_answered);
  EXPECT_TRUE(held_still_waiting) << "the held check was answered before the others";
  ASSERT_TRUE(loop.results()[held].has_value());
  EXPECT_EQ(loop.results()[held]->result, AuthResult::kSuccess);
  EXPECT_EQ(count(loop, right, AuthResult::kSuccess), right.size());
  EXPECT_EQ(count(loop, wrong, AuthResult::kAuthError), wrong.size());
  EXPECT_EQ(count(loop, accounts, AuthResult::kSuccess), accounts.size());
  EXPECT_EQ(loop.status("pam.successes"), std::to_string(right.size() + 1));
  EXPECT_EQ(loop.status("pam.failures"), std::to_string(wrong.size()));
  // Never the loop thread: the pool's two threads did the checks.
  const std::set<std::thread::id> threads = provider_->threads();
  EXPECT_EQ(threads.count(loop.loop_thread()), 0u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  EXPECT_EQ(threads.size(), 2u) << "both offload threads checked passwords";

  // The source goes away: the same requests again, answered from the
  // offline credentials the logins above kept (hashed and checked on the pool).
  loop.nss().set_directories({std::make_shared<UnreachableDirectory>()});
  loop.restart();
  std::vector<std::size_t> offline_right, offline_wrong, offline_accounts;
  for (const std::string& u : users_) {
    offline_right.push_back(loop.ask(proto::Opcode::kAuthenticate, u, password_of(u)));
    offline_wrong.push_back(loop.ask(proto::Opcode::kAuthenticate, u, "wrong-offline"));
    offline_accounts.push_back(loop.ask(proto::Opcode::kAccount, u, ""));
  }
  loop.start();
  ASSERT_TRUE(loop.finish());
  EXPECT_EQ(count(loop, offline_right, AuthResult::kSuccess), users_.size());
  EXPECT_EQ(count(loop, offline_wrong, AuthResult::kAuthError), users_.size());
  EXPECT_EQ(count(loop, offline_accounts, AuthResult::kSuccess), users_.size());
  EXPECT_EQ(loop.status("pam.offline_successes"), std::to_string(users_.size()));
}

// Several front worker loops at once, each with its own handler and pool,
// sharing one lockout table and one provider: wrong guesses for one user
// from every loop lock it after exactly max_failures, however they
// interleave; the other users' logins are all answered.
TEST_F(PamOffloadTest, SeveralLoopsShareOneLockoutAndLockAfterExactlyMaxFailures) {
  auto table = auth::LockoutTable::create();
  ASSERT_TRUE(table.has_value()) << table.error().to_string();
  PamOptions options;
  options.max_failures = 5;
  constexpr int kLoops = 4;
  constexpr int kGuessesPerLoop = 3;
  std::vector<std::unique_ptr<FrontLoop>> loops;
  std::vector<std::vector<std::size_t>> guesses(kLoops), logins(kLoops);
  for (int l = 0; l < kLoops; ++l) {
    loops.push_back(std::make_unique<FrontLoop>(Directories{in_process_directory(provider_)}, options, dir_, *table));
    for (int g = 0; g < kGuessesPerLoop; ++g) {
      guesses[l].push_back(loops[l]->ask(proto::Opcode::kAuthenticate, "frank", "guess-" + std::to_string(g)));
      const std::string& own = users_[static_cast<std::size_t>(l)];
      logins[l].push_back(loops[l]->ask(proto::Opcode::kAuthenticate, own, password_of(own)));
    }
  }
  for (auto& loop : loops) loop->start();
  std::size_t refused = 0, rejected = 0;
  for (int l = 0; l < kLoops; ++l) {
    ASSERT_TRUE(loops[l]->finish()) << "loop " << l;
    rejected += count(*loops[l], guesses[l], AuthResult::kAuthError);
    refused += count(*loops[l], guesses[l], AuthResult::kLocked);
    EXPECT_EQ(count(*loops[l], logins[l], AuthResult::kSuccess), logins[l].size()) << "loop " << l;
  }
  EXPECT_EQ(rejected, 5u) << "guesses that reached the source";
  EXPECT_EQ(refused, kLoops * kGuessesPerLoop - 5u) << "guesses refused by the shared lockout";
  EXPECT_EQ((*table)->lockouts(), 1u);
  // Locked for every loop now, even with the right password.
  loops[0]->restart();
  const std::size_t after = loops[0]->ask(proto::Opcode::kAuthenticate, "frank", password_of("frank"));
  loops[0]->start();
  ASSERT_TRUE(loops[0]->finish());
  ASSERT_TRUE(loops[0]->results()[after].has_value());
  EXPECT_EQ(loops[0]->results()[after]->result, AuthResult::kLocked);
}

}  // namespace
}  // namespace fastid::server
