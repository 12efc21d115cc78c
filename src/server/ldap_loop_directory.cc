// LdapLoopDirectory: an ldap provider's lookups searched on the front worker's loop (ldap_loop_directory.h).
#include "core/gcc12_coroutines.h"

#include "server/ldap_loop_directory.h"

#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <utility>

#include "core/log.h"
#include "core/trace.h"

namespace fastid::server {

// Every awaitable below is built in its own statement, then awaited
// (core/gcc12_coroutines.h, rule 1).

using model::Answer;
using model::Kind;
using model::Query;
using providers::LdapEntryData;
using providers::LdapSearchRequest;

namespace {

std::string flight_key(const Query& q) {
  return std::to_string(static_cast<int>(q.kind)) + '\n' + std::to_string(q.id) + '\n' + q.name;
}

}  // namespace

LdapLoopDirectory::LdapLoopDirectory(asio::any_io_executor executor, std::unique_ptr<providers::Provider> chain,
                                     providers::LdapProvider* ldap, MakeConnector make_connector,
                                     DirectoryPtr behind, LdapLoopOptions options)
    : WrappingDirectory(std::move(behind)),
      executor_(std::move(executor)),
      chain_(std::move(chain)),
      ldap_(ldap),
      make_connector_(std::move(make_connector)),
      options_(options) {}

LdapLoopDirectory::~LdapLoopDirectory() {
  stopping_ = true;
  if (watch_) watch_->release();  // libldap owns the descriptor
  watch_.reset();
  conn_.reset();
  // A connect in progress ends within the provider's network_timeout.
  connector_.join();
}

void LdapLoopDirectory::start() { maybe_connect(); }

void LdapLoopDirectory::stop() {
  stopping_ = true;
  drop(core::Status::unavailable("ldap: " + name() + " is stopping"));
  behind_->stop();
}

bool LdapLoopDirectory::served_here(Kind kind) {
  return kind == Kind::kUserByName || kind == Kind::kUserByUid || kind == Kind::kGroupByName ||
         kind == Kind::kGroupByGid || kind == Kind::kInitgroups;
}

std::chrono::milliseconds LdapLoopDirectory::timeout() const {
  if (options_.search_timeout.count() > 0) return options_.search_timeout;
  const auto t = behind_->request_timeout();
  return t.count() > 0 ? t : std::chrono::milliseconds(5000);
}

asio::awaitable<core::Result<Answer>> LdapLoopDirectory::ask_pool(Query q) {
  ++counters_.to_pool;
  DirectoryPtr behind = behind_;  // alive across the await, whatever a reload does
  auto op = behind->lookup(std::move(q));
  co_return co_await std::move(op);
}

asio::awaitable<core::Result<Answer>> LdapLoopDirectory::lookup(Query q) {
  if (!served_here(q.kind) || conn_ == nullptr || stopping_) {
    if (conn_ == nullptr) maybe_connect();
    auto op = ask_pool(std::move(q));
    co_return co_await std::move(op);
  }
  auto self = shared_from_this();
  core::Coalescer<std::string, core::Result<Answer>>::Make make = [self, q]() { return self->resolve(q); };
  auto op = coalescer_.run(flight_key(q), std::move(make));
  co_return co_await std::move(op);
}

// The provider runs with its searches answered from `fetched`; a search it
// asks for that is not there yet is made, and the provider runs again.
asio::awaitable<core::Result<Answer>> LdapLoopDirectory::resolve(Query q) {
  std::map<LdapSearchRequest, std::vector<LdapEntryData>> fetched;
  const std::string trace_key = core::trace_enabled() ? model::describe(q) : std::string();
  for (int round = 0; round < kMaxRounds; ++round) {
    std::optional<LdapSearchRequest> wanted;
    ldap_->set_search_hook([&](const LdapSearchRequest& r) -> core::Result<std::vector<LdapEntryData>> {
      if (auto it = fetched.find(r); it != fetched.end()) return it->second;
      if (!wanted) wanted = r;
      return core::error(core::Status::busy("ldap: searching"));
    });
    core::Result<Answer> r = chain_->lookup(q);
    ldap_->set_search_hook(nullptr);
    if (!wanted) {
      if (!trace_key.empty()) core::trace_stage("answer_made", trace_key);
      ++counters_.lookups;
      co_return r;
    }
    auto op = search(*wanted, trace_key);
    auto got = co_await std::move(op);
    if (!got) {
      if (got.error().code() == core::Code::kTimeout) co_return core::error(got.error());
      // The connection failed under it: the pool answers, as without this mode.
      auto pool = ask_pool(std::move(q));
      co_return co_await std::move(pool);
    }
    fetched.emplace(std::move(*wanted), std::move(*got));
  }
  // More searches than any lookup by name or id should need: the pool's way.
  auto pool = ask_pool(std::move(q));
  co_return co_await std::move(pool);
}

asio::awaitable<core::Result<std::vector<LdapEntryData>>> LdapLoopDirectory::search(LdapSearchRequest request,
                                                                                      std::string key) {
  if (conn_ == nullptr) co_return core::error(core::Status::unavailable("ldap: " + name() + ": not connected"));
  if (pending_.size() >= static_cast<std::size_t>(providers::LdapAsyncConnection::kMaxOutstanding)) {
    // As many searches outstanding as the connection takes without waiting:
    // this lookup is the pool's (resolve() asks it).
    co_return core::error(core::Status::busy("ldap: " + name() + ": front worker connection full"));
  }
  if (conn_->write_blocked()) {
    // The socket has not taken all of an earlier search yet (a server slow to
    // read): this lookup is the pool's, the connection stays.
    ++counters_.write_waits;
    co_return core::error(core::Status::busy("ldap: " + name() + ": front worker connection still writing"));
  }
  if (!key.empty()) core::trace_stage("search_sent", key);
  auto sent = conn_->send(request);
  if (!sent) {
    if (sent.error().code() != core::Code::kBusy) drop(sent.error());
    co_return core::error(sent.error());
  }
  ++counters_.searches;
  // Part of it is still in libldap: written from service() once the socket
  // takes more (a search timeout still bounds how long that may take).
  if (conn_->write_blocked()) watch_write();
  const int msgid = *sent;
  auto pending = std::make_shared<Pending>(executor_);
  pending->trace_key = key;
  pending_.emplace(msgid, pending);
  pending->done.expires_after(timeout());
  asio::error_code ec;
  co_await pending->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (!key.empty()) core::trace_stage("search_answered", key);
  if (pending->result) co_return std::move(*pending->result);
  // Nobody answered in time: a hung or overloaded server. The connection is
  // not trusted any more; the next lookups go to the pool until a new one is up.
  ++counters_.timeouts;
  pending_.erase(msgid);  // libldap forgets it with the connection (no abandon: a write to a hung server)
  const auto status = core::Status::timeout("ldap: " + name() + ": no answer to a search within " +
                                            std::to_string(timeout().count()) + " ms");
  core::log_warning(status.message() + "; dropping the front worker's connection");
  drop(status);
  co_return core::error(status);
}

void LdapLoopDirectory::maybe_connect() {
  const auto now = std::chrono::steady_clock::now();
  if (connecting_ || stopping_ || conn_ != nullptr || now < next_connect_) return;
  connecting_ = true;
  next_connect_ = now + options_.reconnect_interval;
  std::weak_ptr<LdapLoopDirectory> weak = weak_from_this();
  // Only values cross to the helper thread; the result comes back by post.
  asio::post(connector_, [make = make_connector_, executor = executor_, weak] {
    std::unique_ptr<providers::LdapProvider> connector = make();
    auto conn = providers::LdapAsyncConnection::connect(*connector);
    connector.reset();
    asio::post(executor, [weak, conn = std::make_shared<decltype(conn)>(std::move(conn))]() mutable {
      auto self = weak.lock();
      if (!self) return;
      self->connecting_ = false;
      if (!*conn) {
        ++self->counters_.connect_failures;
        core::log_debug("ldap provider " + self->name() + ": front worker connection: " + conn->error().to_string() +
                        " (lookups go to the pool)");
        return;
      }
      self->connected(std::move(**conn));
    });
  });
}

void LdapLoopDirectory::connected(std::unique_ptr<providers::LdapAsyncConnection> conn) {
  if (stopping_) return;
  conn_ = std::move(conn);
  watch_.emplace(executor_, conn_->fd());
  ++counters_.connects;
  core::log_info("ldap provider " + name() + ": lookups searched in the front worker, on " + conn_->uri());
  watch();
}

void LdapLoopDirectory::watch() {
  if (!watch_) return;
  std::weak_ptr<LdapLoopDirectory> weak = weak_from_this();
  const std::uint64_t generation = generation_;
  watch_->async_wait(asio::posix::stream_descriptor::wait_read, [weak, generation](const asio::error_code& ec) {
    auto self = weak.lock();
    if (!self || ec || generation != self->generation_) return;
    self->service();
    self->watch();
  });
}

void LdapLoopDirectory::watch_write() {
  if (!watch_ || write_watched_) return;
  write_watched_ = true;
  std::weak_ptr<LdapLoopDirectory> weak = weak_from_this();
  const std::uint64_t generation = generation_;
  watch_->async_wait(asio::posix::stream_descriptor::wait_write, [weak, generation](const asio::error_code& ec) {
    auto self = weak.lock();
    if (!self || generation != self->generation_) return;
    self->write_watched_ = false;
    if (ec) return;
    self->service();  // libldap writes the rest of the search from ldap_result
  });
}

// Answers complete now, and the rest of a partly written search if the socket
// takes it; watches for writability while some of it is still left.
void LdapLoopDirectory::service() {
  if (conn_ == nullptr) return;
  if (core::trace_enabled()) {
    // Each wake-up, against the searches outstanding (loop_woke, loop_woke#2 ...).
    for (const auto& [id, p] : pending_) {
      if (!p->trace_key.empty()) core::trace_stage("loop_woke", p->trace_key);
    }
  }
  auto done = conn_->poll();
  if (!done) {
    core::log_warning("ldap provider " + name() + ": " + done.error().to_string() +
                      "; dropping the front worker's connection (lookups go to the pool)");
    drop(done.error());
    return;
  }
  for (auto& c : *done) {
    auto it = pending_.find(c.msgid);
    if (it == pending_.end()) continue;  // abandoned
    if (!it->second->trace_key.empty()) core::trace_stage("search_read", it->second->trace_key);
    it->second->result = std::move(c.entries);
    it->second->done.cancel();
    pending_.erase(it);
  }
  if (conn_ != nullptr && conn_->write_blocked()) watch_write();
}

void LdapLoopDirectory::drop(const core::Status& why) {
  ++generation_;
  if (conn_ != nullptr) ++counters_.drops;
  for (auto& [id, p] : pending_) {
    p->result = core::error(why.code() == core::Code::kTimeout ? core::Status::unavailable(why.message()) : why);
    p->done.cancel();
  }
  pending_.clear();
  if (watch_) {
    asio::error_code ignored;
    watch_->cancel(ignored);
    watch_->release();  // libldap owns the descriptor and closes it at unbind
  }
  watch_.reset();
  write_watched_ = false;
  conn_.reset();
}

asio::awaitable<bool> LdapLoopDirectory::offline(core::Status failure) {
  DirectoryPtr behind = behind_;
  auto op = behind->offline(std::move(failure));
  co_return co_await std::move(op);
}

asio::awaitable<core::Status> LdapLoopDirectory::probe() {
  DirectoryPtr behind = behind_;
  auto op = behind->probe();
  core::Status st = co_await std::move(op);
  if (st.is_ok() && conn_ == nullptr) maybe_connect();  // the server is back: our connection too
  co_return st;
}

StatusItems LdapLoopDirectory::status_items() const {
  StatusItems out = behind_->status_items();
  const std::string p = "ldap_loop." + name() + ".";
  out.emplace_back(p + "state", conn_ != nullptr ? "connected" : (connecting_ ? "connecting" : "disconnected"));
  const std::pair<const char*, std::uint64_t> counts[] = {
      {"lookups", counters_.lookups},   {"searches", counters_.searches},
      {"to_pool", counters_.to_pool},   {"timeouts", counters_.timeouts},
      {"connects", counters_.connects}, {"connect_failures", counters_.connect_failures},
      {"drops", counters_.drops},       {"outstanding", pending_.size()},
      {"write_waits", counters_.write_waits},
  };
  for (const auto& [key, n] : counts) out.emplace_back(p + key, std::to_string(n));
  return out;
}

}  // namespace fastid::server
