// ProviderPool (provider_pool.h): construction and destruction, the calls
// (coalesced lookups, authentication, account checks, probes), start and
// stop, and the figures for status. Where a job goes and what the worker
// processes do is in the files provider_pool_internal.h lists.
#include "pool/provider_pool_internal.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <deque>
#include <exception>
#include <optional>
#include <string.h>

#include "core/text.h"
#include "core/trace.h"
#include "pool/worker_protocol.h"

namespace fastid::pool {

using namespace std::chrono_literals;
using namespace internal;
using proto::Opcode;

namespace {

// Lookups are what a thundering herd repeats; status and ping are cheap and
// asked of whichever worker answers.
// Authentication never is: two logins with the same name may carry different
// passwords, and each must be checked on its own.
bool coalescable(Opcode op) {
  return op != Opcode::kPing && op != Opcode::kStatus && !proto::opcode_is_auth(static_cast<std::uint16_t>(op));
}

std::string coalesce_key(const proto::Request& r) {
  // The opcode's digits end at the first '|', so no name can forge another key.
  // What a lookup is keyed on comes from its kind (model::keyed_by_name), so
  // a new kind cannot fall through to the page key and share another's answer.
  std::string key = std::to_string(static_cast<unsigned>(r.opcode)) + "|";
  const std::optional<model::Query> q = proto::query_of(r);
  if (q && model::keyed_by_name(q->kind)) return key + r.name;
  if (q && model::keyed_by_id(q->kind)) return key + std::to_string(r.id);
  return key + std::to_string(r.cursor) + "|" + std::to_string(r.max);
}

}  // namespace

std::size_t PoolStats::active() const {
  return static_cast<std::size_t>(std::count_if(workers.begin(), workers.end(),
                                                [](const WorkerStats& w) { return w.state != "stopping"; }));
}

ProviderPool::ProviderPool(asio::any_io_executor executor, std::string name, PoolOptions pool,
                           std::string worker_settings)
    : ProviderPool(std::move(executor), std::move(name), pool, std::move(worker_settings), Options{}) {}

ProviderPool::ProviderPool(asio::any_io_executor executor, std::string name, PoolOptions pool,
                           std::string worker_settings, Options options)
    : executor_(std::move(executor)),
      name_(std::move(name)),
      pool_(pool),
      worker_settings_(std::move(worker_settings)),
      options_(std::move(options)),
      tick_(executor_),
      coalescer_(std::make_shared<core::Coalescer<std::string, core::Result<proto::Reply>>>()) {}

ProviderPool::~ProviderPool() {
  alive_.reset();
  tick_.cancel();
  std::vector<WorkerPtr> all = workers_;
  all.insert(all.end(), retiring_.begin(), retiring_.end());
  for (const WorkerPtr& w : all) {
    w->pool = nullptr;
    if (w->pid > 0 && !w->reaped) {
      kill(w);
      // Bounded: SIGKILL cannot be caught, and the process is our child.
      int status = 0;
      while (::waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
      }
      w->reaped = true;
    }
    asio::error_code ignored;
    w->socket.close(ignored);
    w->pidfd.close(ignored);
    w->timer.cancel();
    const core::Status gone = core::Status::cancelled("provider " + name_ + ": pool destroyed");
    if (w->current) complete(w->current, core::error(gone));
    for (const JobPtr& job : w->queue) complete(job, core::error(gone));
  }
  const core::Status gone = core::Status::cancelled("provider " + name_ + ": pool destroyed");
  for (const JobPtr& job : priority_queue_) complete(job, core::error(gone));
}

// ---- Calls ---------------------------------------------------------------------------

asio::awaitable<core::Result<proto::Reply>> ProviderPool::call(proto::Request request) {
  ++counters_.requests;
  const bool priority = proto::opcode_is_auth(static_cast<std::uint16_t>(request.opcode));
  if (!coalescable(request.opcode)) {
    auto op = call_once(std::move(request), priority);  // core/gcc12_coroutines.h, rule 1
    co_return co_await std::move(op);
  }
  auto coalescer = coalescer_;  // our own reference: see coalescer_
  const std::uint32_t id = request.request_id;
  std::string key = coalesce_key(request);
  // Named, then moved: a std::function prvalue passed to a coroutine
  // parameter is destroyed twice (core/gcc12_coroutines.h, rule 1).
  core::Coalescer<std::string, core::Result<proto::Reply>>::Make make = [this, request] {
    return call_once(request, false);
  };
  auto result = co_await coalescer->run(std::move(key), std::move(make));
  // Every caller gets its own request id back, whoever led the call.
  if (result) result->header.request_id = id;
  co_return result;
}

asio::awaitable<core::Result<proto::Reply>> ProviderPool::call_once(proto::Request request, bool priority) {
  // A pool asked before start() starts now; a failure to spawn shows in the answer.
  if (!started_) (void)start();
  auto job = std::make_shared<Job>(executor_, std::move(request));
  job->priority = priority;
  dispatch(job, false);
  if (!job->result) {
    const std::string who = "provider " + name_;
    asio::error_code ec;
    try {
      co_await job->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    } catch (...) {
      // Thrown instead of waiting when the caller was cancelled already.
    }
    // From here on the pool may be gone: only the job is ours.
    if (!job->result) {
      job->abandoned = true;
      co_return core::error(core::Status::cancelled(who + ": the caller stopped waiting"));
    }
  }
  co_return std::move(*job->result);
}

namespace {

// A reply's decoded value, or the pool's own error.
template <typename Decode>
auto decoded(const core::Result<proto::Reply>& reply, Decode decode) -> decltype(decode(*reply)) {
  if (!reply) return core::error(reply.error());
  return decode(*reply);
}

proto::Request user_request(Opcode op, std::string user) {
  proto::Request r;
  r.opcode = op;
  r.name = std::move(user);
  return r;
}

}  // namespace

asio::awaitable<core::Result<model::Answer>> ProviderPool::lookup(model::Query query, std::uint32_t request_id) {
  const model::Kind kind = query.kind;
  auto decode = [kind](const proto::Reply& reply) { return proto::decode_answer(kind, reply); };
  // Each call built in its own statement, then awaited (core/gcc12_coroutines.h, rule 1).
  auto op = call(proto::request_of(query, request_id));
  co_return decoded(co_await std::move(op), decode);
}

asio::awaitable<core::Result<proto::AuthReply>> ProviderPool::authenticate(std::string user,
                                                                           core::Secret password) {
  proto::Request r = user_request(Opcode::kAuthenticate, std::move(user));
  r.password = std::move(password);
  auto op = call(std::move(r));
  co_return decoded(co_await std::move(op), proto::decode_auth_reply);
}

asio::awaitable<core::Result<proto::AuthReply>> ProviderPool::change_password(std::string user,
                                                                              core::Secret old_password,
                                                                              core::Secret new_password) {
  proto::Request r = user_request(Opcode::kChangePassword, std::move(user));
  r.password = std::move(old_password);
  r.new_password = std::move(new_password);
  co_return decoded(co_await call(std::move(r)), proto::decode_auth_reply);
}

asio::awaitable<core::Result<proto::AuthReply>> ProviderPool::account(std::string user) {
  auto op = call(user_request(Opcode::kAccount, std::move(user)));
  co_return decoded(co_await std::move(op), proto::decode_auth_reply);
}

asio::awaitable<core::Status> ProviderPool::probe() {
  ++counters_.requests;
  auto coalescer = coalescer_;  // our own reference: see coalescer_
  // Not a lookup's key (those start with digits): a probe never waits on a
  // lookup that an attacker may have stuck in the lookup queue.
  core::Coalescer<std::string, core::Result<proto::Reply>>::Make make = [this] {
    return call_once(proto::request_of(model::Query::user_by_uid(0)), true);
  };
  auto result = co_await coalescer->run("probe", std::move(make));
  if (!result) co_return result.error();
  core::Status st = proto::status_of(*result);
  if (st.code() == core::Code::kNotFound) co_return core::Status::ok();
  co_return st;
}

asio::awaitable<core::Result<std::vector<std::pair<std::string, std::string>>>>
ProviderPool::provider_stats() {
  proto::Request r;
  r.opcode = Opcode::kStatus;
  auto op = call(std::move(r));
  co_return decoded(co_await std::move(op), decode_status_reply);
}

core::Status ProviderPool::start() {
  if (started_) return core::Status::ok();
  started_ = true;
  core::Status first;
  const auto& p = pool_;
  while (static_cast<int>(workers_.size()) <
         std::max(p.min_workers, std::min(p.min_spare_workers, p.max_workers))) {
    auto w = add_worker();
    if (!w) {
      first = w.error();
      break;
    }
    if ((*w)->state == State::kWaiting) break;  // backing off: the timer goes on
  }
  arm_tick();
  return first;
}

void ProviderPool::stop() {
  if (stopping_) return;
  stopping_ = true;
  tick_.cancel();
  const std::vector<WorkerPtr> all = workers_;
  for (const WorkerPtr& w : all) {
    std::deque<JobPtr> queued;
    queued.swap(w->queue);
    for (const JobPtr& job : queued) {
      fail_job(job, core::Status::unavailable("provider " + name_ + ": pool stopping"));
    }
    if (w->state == State::kBusy) {
      w->stop_after_reply = true;
    } else {
      retire(w, "the pool is stopping");
    }
  }
  std::deque<JobPtr> waiting;
  waiting.swap(priority_queue_);
  for (const JobPtr& job : waiting) {
    fail_job(job, core::Status::unavailable("provider " + name_ + ": pool stopping"));
  }
}

bool ProviderPool::stopped() const { return stopping_ && workers_.empty() && retiring_.empty(); }

// ---- Figures ---------------------------------------------------------------------------

std::string ProviderPool::describe(const Job& job) const {
  const auto& r = job.request;
  std::string what(proto::opcode_name(static_cast<std::uint16_t>(r.opcode)));
  const std::optional<model::Query> q = proto::query_of(r);
  if (q && model::keyed_by_name(q->kind)) what += " " + core::quote(r.name);  // quoted: client data
  if (q && model::keyed_by_id(q->kind)) what += " " + std::to_string(r.id);
  return what + " (request " + std::to_string(r.request_id) + ")";
}

std::size_t ProviderPool::lookups_queued() const {
  std::size_t n = 0;
  for (const WorkerPtr& w : workers_) n += w->queue.size();
  return n;
}

std::size_t ProviderPool::queued_total() const { return lookups_queued() + priority_queue_.size(); }

PoolStats ProviderPool::stats() const {
  PoolStats out = counters_;
  const auto now = Clock::now();
  auto add = [&](const WorkerPtr& w) {
    WorkerStats s;
    s.serial = w->serial;
    s.pid = w->pid;
    s.state = state_name(w->state);
    s.queue_length = w->queue.size();
    s.served = w->served;
    if (w->pid > 0) s.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(now - w->started_at);
    out.workers.push_back(s);
  };
  for (const WorkerPtr& w : workers_) add(w);
  for (const WorkerPtr& w : retiring_) add(w);
  out.queued = queued_total();
  return out;
}

std::vector<std::pair<std::string, std::string>> ProviderPool::status_items() const {
  const PoolStats s = stats();
  const std::string prefix = "pool." + name_ + ".";
  std::vector<std::pair<std::string, std::string>> items = {
      {prefix + "workers", std::to_string(s.active())},
      {prefix + "queued", std::to_string(s.queued)},
      {prefix + "requests", std::to_string(s.requests)},
      {prefix + "provider_calls", std::to_string(s.provider_calls)},
      {prefix + "busy", std::to_string(s.busy)},
      {prefix + "retried", std::to_string(s.retried)},
      {prefix + "failed", std::to_string(s.failed)},
      {prefix + "started", std::to_string(s.started)},
      {prefix + "stopped", std::to_string(s.stopped)},
      {prefix + "crashed", std::to_string(s.crashed)},
      {prefix + "timed_out", std::to_string(s.timed_out)},
      {prefix + "start_failures", std::to_string(s.start_failures)},
  };
  for (const WorkerStats& w : s.workers) {
    items.emplace_back(
        prefix + "worker." + std::to_string(w.serial),
        "pid " + std::to_string(w.pid) + " " + std::string(w.state) + " queue " +
            std::to_string(w.queue_length) + " served " + std::to_string(w.served) + " uptime " +
            core::format_duration(std::chrono::duration_cast<std::chrono::seconds>(w.uptime)));
  }
  return items;
}

}  // namespace fastid::pool
