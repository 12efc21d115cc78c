#include "pool/provider_pool.h"

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
using proto::Opcode;

namespace {

// Backoff after repeated failures: the second failure in a row waits kFirstPause
// before the next start, each later one twice as long, up to kMaxPause.
constexpr auto kFirstPause = 100ms;
constexpr auto kMaxPause = 10s;
// A worker asked to stop (its socket closed) has this long to exit on its own.
constexpr auto kStopGrace = 2s;
// Where the pidfd is missing (old kernel), how often an exit is polled for.
constexpr auto kReapPoll = 20ms;

enum class State { kWaiting, kStarting, kIdle, kBusy, kStopping };

std::string_view state_name(State s) {
  switch (s) {
    case State::kWaiting:
      return "waiting";
    case State::kStarting:
      return "starting";
    case State::kIdle:
      return "idle";
    case State::kBusy:
      return "busy";
    case State::kStopping:
      return "stopping";
  }
  return "?";
}

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

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

// One request on its way through the pool. Owned by the call() that made it and
// by whichever worker queue or slot holds it.
struct ProviderPool::Job {
  Job(asio::any_io_executor executor, proto::Request r)
      : request(std::move(r)), done(std::move(executor), asio::steady_timer::time_point::max()) {}

  proto::Request request;     // request_id: the caller's, for replies and logs
  bool priority = false;      // authentication, account check or probe (Lane)
  std::uint32_t wire_id = 0;  // its id on the current worker's socket
  int failures = 0;           // workers that failed while holding it
  std::string first_failure;  // what happened the first time, for the final message
  Clock::time_point queued_at{};
  std::optional<core::Result<proto::Reply>> result;
  asio::steady_timer done;  // never expires: cancel() means "result is set"
  bool abandoned = false;   // the caller stopped waiting: never send it
};

// One worker slot and, once started, its process. The coroutines reading its
// socket and reaping it hold it too; `pool` is cleared when the pool goes away.
struct ProviderPool::Worker {
  Worker(asio::any_io_executor executor, std::uint64_t n)
      : serial(n), socket(executor), pidfd(executor), timer(std::move(executor)) {}

  ProviderPool* pool = nullptr;
  std::uint64_t serial;
  State state = State::kWaiting;
  pid_t pid = 0;
  bool reaped = false;            // waited for: the pid is no longer ours
  bool reader_done = false;       // its socket's reader has ended: no more frames
  bool stop_after_reply = false;  // stop() while it was busy
  asio::local::stream_protocol::socket socket;
  asio::posix::stream_descriptor pidfd;
  asio::steady_timer timer;  // one deadline at a time (Deadline)
  std::uint64_t timer_generation = 0;
  JobPtr current;
  std::deque<JobPtr> queue;
  std::uint64_t served = 0;
  Clock::time_point started_at{};
  Clock::time_point idle_since{};
};

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

// ---- Dispatch ------------------------------------------------------------------------

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

void ProviderPool::dispatch(const JobPtr& job, bool again) {
  if (job->result || job->abandoned) return;
  if (stopping_) {
    fail_job(job, core::Status::unavailable("provider " + name_ + ": pool stopping"));
    return;
  }
  job->queued_at = Clock::now();
  const auto& p = pool_;
  // A lookup may not take a worker while lookups hold lookup_limit() of them:
  // the rest are kept for authentication (auth_workers).
  const bool may_run = job->priority || lookups_in_service() < lookup_limit();

  WorkerPtr idle;
  for (const WorkerPtr& w : workers_) {
    if (w->state == State::kIdle && (!idle || w->idle_since > idle->idle_since)) idle = w;
  }
  if (idle && may_run) {
    send(idle, job);
    top_up();
    return;
  }
  const bool one_waits = std::any_of(workers_.begin(), workers_.end(),
                                     [](const WorkerPtr& w) { return w->state == State::kWaiting; });
  const bool can_add = static_cast<int>(workers_.size()) < p.max_workers && !(backing_off() && one_waits);
  if (job->priority) {
    // Its own queue, served first by whichever worker is free next: never
    // behind lookups, never counted in their budget (max_queue each).
    const bool one_starts = std::any_of(workers_.begin(), workers_.end(), [](const WorkerPtr& w) {
      return (w->state == State::kStarting || w->state == State::kWaiting) && w->queue.empty();
    });
    if (!one_starts && can_add) {
      auto w = add_worker();
      if (!w && workers_.empty()) {
        fail_job(job, core::Status::unavailable("provider " + name_ +
                                                ": no worker could be started: " + w.error().message()));
        return;
      }
    }
    if (workers_.empty()) {
      fail_job(job, core::Status::unavailable("provider " + name_ + ": no worker"));
      return;
    }
    if (!again && static_cast<int>(priority_queue_.size()) >= p.max_queue) {
      ++counters_.busy;
      complete(job, core::error(core::Status::busy("provider " + name_ +
                                                   ": authentication queue full (" +
                                                   std::to_string(priority_queue_.size()) + " requests)")));
      return;
    }
    if (again) {
      priority_queue_.push_front(job);
    } else {
      priority_queue_.push_back(job);
    }
    top_up();
    return;
  }
  if (may_run) {
    for (const WorkerPtr& w : workers_) {
      if ((w->state == State::kStarting || w->state == State::kWaiting) && w->queue.empty()) {
        w->queue.push_back(job);
        top_up();
        return;
      }
    }
    if (can_add) {
      auto w = add_worker();
      if (w) {
        (*w)->queue.push_back(job);
        top_up();
        return;
      }
      if (workers_.empty()) {
        fail_job(job, core::Status::unavailable("provider " + name_ +
                                                ": no worker could be started: " + w.error().message()));
        return;
      }
    }
  }
  if (workers_.empty()) {
    fail_job(job, core::Status::unavailable("provider " + name_ + ": no worker"));
    return;
  }
  if (!again && static_cast<int>(lookups_queued()) >= p.max_queue) {
    ++counters_.busy;
    // Counted apart from `failed`: shedding is the policy working, not a fault.
    complete(job, core::error(core::Status::busy("provider " + name_ + ": queue full (" +
                                                 std::to_string(lookups_queued()) + " requests)")));
    return;
  }
  WorkerPtr least;
  for (const WorkerPtr& w : workers_) {
    if (!least || w->queue.size() < least->queue.size()) least = w;
  }
  // A request coming back from a failed worker has waited longest: it goes first.
  if (again) {
    least->queue.push_front(job);
  } else {
    least->queue.push_back(job);
  }
}

int ProviderPool::lookup_limit() const {
  return std::max(1, pool_.max_workers - pool_.auth_workers);
}

int ProviderPool::lookups_in_service() const {
  return static_cast<int>(std::count_if(workers_.begin(), workers_.end(), [](const WorkerPtr& w) {
    return w->state == State::kBusy && w->current && !w->current->priority;
  }));
}

core::Result<ProviderPool::WorkerPtr> ProviderPool::add_worker() {
  auto w = std::make_shared<Worker>(executor_, next_serial_++);
  w->pool = this;
  const auto now = Clock::now();
  if (now < next_start_) {
    w->state = State::kWaiting;
    workers_.push_back(w);
    arm(w, Deadline::kStartDelay, next_start_ - now);
    return w;
  }
  if (core::Status st = launch(w); !st) {
    ++counters_.start_failures;
    note_failure();
    core::log_error("provider " + name_ + ": " + st.to_string());
    return core::error(st);
  }
  workers_.push_back(w);
  return w;
}

core::Status ProviderPool::launch(const WorkerPtr& w) {
  auto spawned = spawn_provider_worker(ProviderWorkerCommand{options_.worker_path, name_, worker_settings_});
  if (!spawned) return spawned.error();
  asio::error_code ec;
  w->socket.assign(asio::local::stream_protocol(), spawned->socket_fd, ec);
  if (!ec && spawned->pidfd >= 0) w->pidfd.assign(spawned->pidfd, ec);
  if (ec) {
    // Only a descriptor Asio cannot register could fail here: give up this one.
    signal_provider_worker(spawned->pid, spawned->pidfd, SIGKILL);
    int status = 0;
    while (::waitpid(spawned->pid, &status, 0) < 0 && errno == EINTR) {
    }
    asio::error_code ignored;
    if (w->socket.is_open())
      w->socket.close(ignored);
    else
      ::close(spawned->socket_fd);
    if (w->pidfd.is_open())
      w->pidfd.close(ignored);
    else if (spawned->pidfd >= 0)
      ::close(spawned->pidfd);
    return core::Status(core::Code::kUnavailable, "provider worker descriptors: " + ec.message(), ec.value());
  }
  w->pid = spawned->pid;
  w->state = State::kStarting;
  w->started_at = Clock::now();
  ++counters_.started;
  core::log_debug("provider " + name_ + ": started worker pid " + std::to_string(w->pid));
  // A worker that cannot open its provider within request_timeout is as good as hung.
  arm(w, Deadline::kStart, pool_.request_timeout);
  auto rethrow = [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  };
  asio::co_spawn(executor_, read_frames(w), rethrow);
  asio::co_spawn(executor_, reap(w), rethrow);
  return core::Status::ok();
}

// A stage of a lookup's trace (core/trace.h), named as the front worker names it.
void ProviderPool::trace(const Job& job, std::string_view stage) {
  if (!core::trace_enabled()) return;
  if (std::optional<model::Query> q = proto::query_of(job.request)) core::trace_stage(stage, model::describe(*q));
}

void ProviderPool::send(const WorkerPtr& w, JobPtr job) {
  w->state = State::kBusy;
  w->current = job;
  if (next_wire_id_ == kReadyRequestId) ++next_wire_id_;
  job->wire_id = next_wire_id_++;
  ++counters_.provider_calls;
  trace(*job, "dispatched");
  proto::Request on_wire = job->request;
  on_wire.request_id = job->wire_id;
  auto frame = std::make_shared<proto::Bytes>(proto::encode_request(on_wire));
  arm(w, Deadline::kRequest, pool_.request_timeout);
  // A frame that carries a password is zeroed once written (or not).
  const bool secret = proto::opcode_is_auth(static_cast<std::uint16_t>(on_wire.opcode));
  // A failed write means the worker is gone: its reader sees the end of the
  // stream and reports it, so the error needs no handling of its own.
  asio::async_write(w->socket, asio::buffer(*frame), [frame, secret](const asio::error_code&, std::size_t) {
    if (secret) ::explicit_bzero(frame->data(), frame->size());
  });
}

ProviderPool::JobPtr ProviderPool::next_job(const WorkerPtr& w) {
  while (!priority_queue_.empty()) {
    JobPtr job = std::move(priority_queue_.front());
    priority_queue_.pop_front();
    if (!job->abandoned && !job->result) return job;
  }
  if (lookups_in_service() >= lookup_limit()) return nullptr;
  for (;;) {
    WorkerPtr longest = w;
    for (const WorkerPtr& other : workers_) {
      if (other->queue.size() > longest->queue.size()) longest = other;
    }
    if (longest->queue.empty()) return nullptr;
    JobPtr job = std::move(longest->queue.front());
    longest->queue.pop_front();
    if (!job->abandoned && !job->result) return job;
  }
}

void ProviderPool::become_idle_or_work(const WorkerPtr& w) {
  if (JobPtr job = next_job(w)) {
    send(w, std::move(job));
    return;
  }
  w->state = State::kIdle;
  w->idle_since = Clock::now();
}

void ProviderPool::wake_idle() {
  for (const WorkerPtr& w : std::vector<WorkerPtr>(workers_)) {
    if (w->state != State::kIdle) continue;
    JobPtr job = next_job(w);
    if (!job) return;
    send(w, std::move(job));
  }
}

void ProviderPool::top_up() {
  if (stopping_ || !started_) return;
  const auto& p = pool_;
  while (static_cast<int>(workers_.size()) < p.max_workers) {
    int spares = 0;
    bool one_waits = false;
    for (const WorkerPtr& w : workers_) {
      if (w->state == State::kIdle) ++spares;
      if ((w->state == State::kStarting || w->state == State::kWaiting) && w->queue.empty()) ++spares;
      one_waits = one_waits || w->state == State::kWaiting;
    }
    if (static_cast<int>(workers_.size()) >= p.min_workers && spares >= p.min_spare_workers) return;
    if (backing_off() && one_waits) return;
    if (!add_worker()) return;
  }
}

void ProviderPool::kill(const WorkerPtr& w) {
  if (w->pid > 0 && !w->reaped)
    signal_provider_worker(w->pid, w->pidfd.is_open() ? w->pidfd.native_handle() : -1, SIGKILL);
}

void ProviderPool::unlink(const WorkerPtr& w) {
  workers_.erase(std::remove(workers_.begin(), workers_.end(), w), workers_.end());
}

void ProviderPool::requeue(std::vector<JobPtr> jobs) {
  // Back to the front, oldest first: dispatch() puts each in front of the others.
  for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) dispatch(*it, true);
}

void ProviderPool::retire(const WorkerPtr& w, std::string_view why) {
  if (w->state == State::kStopping) return;
  unlink(w);
  std::vector<JobPtr> queued(w->queue.begin(), w->queue.end());
  w->queue.clear();
  ++w->timer_generation;
  w->timer.cancel();
  if (w->state == State::kWaiting) {  // never started: nothing to stop
    w->state = State::kStopping;
    w->pool = nullptr;
  } else {
    core::log_debug("provider " + name_ + ": stopping worker pid " + std::to_string(w->pid) + ": " +
                    std::string(why));
    w->state = State::kStopping;
    ++counters_.stopped;
    retiring_.push_back(w);
    // The worker reads the end of the stream and exits; it gets a grace
    // period, then the signal it cannot ignore.
    asio::error_code ignored;
    w->socket.shutdown(asio::socket_base::shutdown_send, ignored);
    arm(w, Deadline::kStopGrace, kStopGrace);
  }
  requeue(std::move(queued));
  top_up();
}

void ProviderPool::note_failure() {
  ++failure_streak_;
  if (failure_streak_ < 2) return;  // one failure is bad luck: replace at once
  auto pause = std::chrono::duration_cast<Clock::duration>(kFirstPause);
  for (int i = 2; i < failure_streak_ && pause < kMaxPause; ++i) pause *= 2;
  pause = std::min<Clock::duration>(pause, kMaxPause);
  next_start_ = Clock::now() + pause;
  core::log_warning("provider " + name_ + ": " + std::to_string(failure_streak_) +
                    " worker failures in a row: next start in " +
                    ms_text(std::chrono::duration_cast<std::chrono::milliseconds>(pause)));
}

bool ProviderPool::backing_off() const { return Clock::now() < next_start_; }

void ProviderPool::fail_worker(const WorkerPtr& w, Failure kind, const core::Status& cause) {
  if (w->state == State::kStopping) return;
  unlink(w);
  w->state = State::kStopping;
  retiring_.push_back(w);
  ++w->timer_generation;
  w->timer.cancel();
  kill(w);
  asio::error_code ignored;
  w->socket.close(ignored);
  switch (kind) {
    case Failure::kCrashed:
    case Failure::kProtocol:
      ++counters_.crashed;
      break;
    case Failure::kTimedOut:
      ++counters_.timed_out;
      break;
  }
  note_failure();

  std::vector<JobPtr> queued(w->queue.begin(), w->queue.end());
  w->queue.clear();
  if (JobPtr job = std::exchange(w->current, nullptr); job && !job->result) {
    ++job->failures;
    const std::string what = describe(*job) + ": " + cause.message();
    // An authentication that reached a worker may have reached the directory
    // (a bind that a password policy counts): it is never sent twice.
    const bool may_retry =
        job->request.opcode != Opcode::kAuthenticate && job->request.opcode != Opcode::kChangePassword;
    if (job->failures < 2 && !job->abandoned && may_retry) {
      core::log_warning("provider " + name_ + ": " + what + "; retrying once on another worker");
      job->first_failure = cause.message();
      ++counters_.retried;
      queued.insert(queued.begin(), job);
    } else {
      core::log_error("provider " + name_ + ": " + what + "; giving up");
      std::string message = "provider " + name_ + ": " + describe(*job) + ": " + cause.message();
      if (!job->first_failure.empty()) message += "; before that, " + job->first_failure;
      fail_job(job, core::Status(cause.code(), std::move(message)));
    }
  } else {
    core::log_warning("provider " + name_ + ": " + cause.message());
  }
  requeue(std::move(queued));
  top_up();
}

void ProviderPool::fail_start(const WorkerPtr& w, const core::Status& cause, bool exits_itself) {
  if (w->state == State::kStopping) return;
  unlink(w);
  ++w->timer_generation;
  w->timer.cancel();
  ++counters_.start_failures;
  if (w->pid > 0) {
    w->state = State::kStopping;
    retiring_.push_back(w);
    if (exits_itself) {
      arm(w, Deadline::kStopGrace, kStopGrace);
    } else {
      kill(w);
      asio::error_code ignored;
      w->socket.close(ignored);
    }
  } else {
    w->state = State::kStopping;
    w->pool = nullptr;
  }
  note_failure();
  core::log_error("provider " + name_ + ": worker could not start: " + cause.message());

  std::vector<JobPtr> queued(w->queue.begin(), w->queue.end());
  w->queue.clear();
  // Workers that did start may answer them; with none, the start failure is the answer.
  const bool others = std::any_of(workers_.begin(), workers_.end(), [](const WorkerPtr& o) {
    return o->state == State::kIdle || o->state == State::kBusy;
  });
  if (others) {
    requeue(std::move(queued));
  } else {
    std::deque<JobPtr> waiting;
    waiting.swap(priority_queue_);
    queued.insert(queued.end(), waiting.begin(), waiting.end());
    for (const JobPtr& job : queued) {
      fail_job(job, core::Status(core::Code::kUnavailable,
                                 "provider " + name_ + ": " + describe(*job) +
                                     ": no worker could start (stage worker): " + cause.message()));
    }
  }
  top_up();
}

void ProviderPool::complete(const JobPtr& job, core::Result<proto::Reply> result) {
  if (job->result) return;
  job->result.emplace(std::move(result));
  job->done.cancel();
}

void ProviderPool::fail_job(const JobPtr& job, core::Status status) {
  if (job->result) return;
  ++counters_.failed;
  complete(job, core::error(std::move(status)));
}

// ---- Events from workers ---------------------------------------------------------------

asio::awaitable<void> ProviderPool::read_frames(WorkerPtr w) {
  std::array<std::uint8_t, proto::kHeaderSize> head;
  for (;;) {
    asio::error_code ec;
    co_await asio::async_read(w->socket, asio::buffer(head), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    proto::FrameHeader header;
    if (proto::decode_header(head.data(), &header) != proto::HeaderCheck::kOk) {
      if (w->pool != nullptr) {
        w->pool->fail_worker(w, Failure::kProtocol,
                             core::Status::internal("worker pid " + std::to_string(w->pid) +
                                                    " sent a malformed frame header (stage provider)"));
      }
      break;
    }
    proto::Bytes payload(header.length);
    co_await asio::async_read(w->socket, asio::buffer(payload),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    if (w->pool == nullptr) co_return;
    w->pool->on_frame(w, header, std::move(payload));
  }
  if (w->pool != nullptr) w->pool->on_eof(w);
}

asio::awaitable<void> ProviderPool::reap(WorkerPtr w) {
  std::optional<int> status;
  if (w->pidfd.is_open()) {
    asio::error_code ec;
    co_await w->pidfd.async_wait(asio::posix::descriptor_base::wait_read,
                                 asio::redirect_error(asio::use_awaitable, ec));
    if (w->pool == nullptr || w->reaped) co_return;
    status = reap_if_exited(w->pid);
  }
  // Without a pidfd (or on a spurious wake-up), poll for the exit.
  asio::steady_timer poll(co_await asio::this_coro::executor);
  while (!status) {
    if (w->pool == nullptr || w->reaped) co_return;
    status = reap_if_exited(w->pid);
    if (status) break;
    poll.expires_after(kReapPoll);
    asio::error_code ec;
    co_await poll.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (w->pool == nullptr || w->reaped) co_return;
  w->reaped = true;
  w->pool->on_reaped(w, *status);
}

void ProviderPool::on_frame(const WorkerPtr& w, const proto::FrameHeader& header, proto::Bytes payload) {
  const bool is_reply = (header.flags & proto::kFlagReply) != 0;
  if (w->state == State::kStarting) {
    if (is_reply && header.request_id == kReadyRequestId &&
        header.opcode == static_cast<std::uint16_t>(Opcode::kPing)) {
      proto::Reply ready{header, std::move(payload)};
      if (core::Status st = proto::status_of(ready); !st) {
        // It said why and exits by itself; its stream ends then.
        fail_start(w,
                   core::Status(core::Code::kUnavailable,
                                "worker pid " + std::to_string(w->pid) + ": " + st.message()),
                   true);
        return;
      }
      ++w->timer_generation;
      w->timer.cancel();
      core::log_debug("provider " + name_ + ": worker pid " + std::to_string(w->pid) + " ready");
      become_idle_or_work(w);
      top_up();
      return;
    }
  } else if (w->state == State::kBusy && w->current && is_reply && header.request_id == w->current->wire_id) {
    ++w->timer_generation;
    w->timer.cancel();
    JobPtr job = std::exchange(w->current, nullptr);
    ++w->served;
    // A good answer ends a run of failures, and the pause it imposed.
    failure_streak_ = 0;
    next_start_ = {};
    proto::Reply reply{header, std::move(payload)};
    reply.header.request_id = job->request.request_id;
    trace(*job, "pool_replied");
    complete(job, std::move(reply));
    const int limit = pool_.max_requests_per_worker;
    if (w->stop_after_reply) {
      retire(w, "the pool is stopping");
    } else if (limit > 0 && w->served >= static_cast<std::uint64_t>(limit)) {
      retire(w, "recycled after " + std::to_string(w->served) + " requests");
    } else {
      become_idle_or_work(w);
    }
    wake_idle();
    top_up();
    return;
  } else if (w->state == State::kStopping) {
    return;  // a late answer from a worker we gave up on
  }
  fail_worker(w, Failure::kProtocol,
              core::Status::internal("worker pid " + std::to_string(w->pid) + " sent an unexpected frame (" +
                                     std::string(proto::opcode_name(header.opcode)) + ", request " +
                                     std::to_string(header.request_id) + ") while " +
                                     std::string(state_name(w->state))));
}

// The end of a worker's stream, read after every frame it wrote: so a worker
// that explained its failure and exited is judged on its explanation, whichever of
// its exit and its stream's end the loop sees first.
void ProviderPool::on_eof(const WorkerPtr& w) {
  switch (w->state) {
    case State::kStopping:
    case State::kWaiting:
      break;
    case State::kStarting:
      fail_start(w, core::Status::unavailable("worker pid " + std::to_string(w->pid) +
                                              " exited before it was ready (its log says why)"));
      break;
    case State::kIdle:
    case State::kBusy:
      fail_worker(
          w, Failure::kCrashed,
          core::Status::unavailable("worker pid " + std::to_string(w->pid) + " died (stage provider)"));
      break;
  }
  w->reader_done = true;
  forget_if_gone(w);
}

void ProviderPool::forget_if_gone(const WorkerPtr& w) {
  if (!w->reaped || !w->reader_done) return;
  ++w->timer_generation;
  w->timer.cancel();
  asio::error_code ignored;
  w->socket.close(ignored);
  w->pidfd.close(ignored);
  unlink(w);
  retiring_.erase(std::remove(retiring_.begin(), retiring_.end(), w), retiring_.end());
  w->pool = nullptr;
}

void ProviderPool::on_reaped(const WorkerPtr& w, int wait_status) {
  const bool clean = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
  const std::string line = "provider " + name_ + ": worker pid " + std::to_string(w->pid) + " " +
                           describe_exit(wait_status);
  if (clean) {
    core::log_debug(line);
  } else {
    core::log_info(line);
  }
  // A worker that died on its own is handled when its stream ends (on_eof).
  forget_if_gone(w);
}

void ProviderPool::arm(const WorkerPtr& w, Deadline what, Clock::duration after) {
  const std::uint64_t generation = ++w->timer_generation;
  w->timer.expires_after(after);
  w->timer.async_wait([w, what, generation](const asio::error_code& ec) {
    // w->pool is null once the pool is gone; the generation tells a stale deadline.
    if (ec || w->pool == nullptr || w->timer_generation != generation) return;
    w->pool->on_deadline(w, what);
  });
}

void ProviderPool::on_deadline(const WorkerPtr& w, Deadline what) {
  const std::string pid = std::to_string(w->pid);
  const auto limit = pool_.request_timeout;
  switch (what) {
    case Deadline::kStartDelay:
      if (w->state != State::kWaiting) return;
      if (core::Status st = launch(w); !st) fail_start(w, st);
      return;
    case Deadline::kStart:
      if (w->state != State::kStarting) return;
      fail_start(w, core::Status::timeout("worker pid " + pid + " did not open the provider within " +
                                          ms_text(limit) + " (stage worker)"));
      return;
    case Deadline::kRequest:
      if (w->state != State::kBusy || !w->current) return;
      fail_worker(w, Failure::kTimedOut,
                  core::Status::timeout("no answer within " + ms_text(limit) +
                                        " (stage provider); worker pid " + pid + " killed"));
      return;
    case Deadline::kStopGrace:
      if (w->state != State::kStopping || w->reaped) return;
      core::log_warning("provider " + name_ + ": worker pid " + pid + " did not exit within " +
                        ms_text(std::chrono::duration_cast<std::chrono::milliseconds>(kStopGrace)) +
                        " of being stopped: killing it");
      kill(w);
      return;
  }
}

// ---- Maintenance ----------------------------------------------------------------------

void ProviderPool::arm_tick() {
  if (stopping_) return;
  const auto& p = pool_;
  // Often enough that a queue timeout or a spare's end comes within a quarter
  // of its setting; never busier than every 10 ms nor idler than every second.
  auto period = std::min(p.request_timeout, p.spare_idle_timeout) / 4;
  period = std::clamp<std::chrono::milliseconds>(period, 10ms, 1000ms);
  tick_.expires_after(period);
  tick_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const asio::error_code& ec) {
    if (ec || alive.expired()) return;
    tick();
  });
}

void ProviderPool::tick() {
  if (stopping_) return;
  const auto now = Clock::now();
  const auto& p = pool_;

  // Requests that waited request_timeout without reaching a worker.
  for (const WorkerPtr& w : std::vector<WorkerPtr>(workers_)) {
    const bool starting = w->state == State::kStarting || w->state == State::kWaiting;
    for (auto it = w->queue.begin(); it != w->queue.end();) {
      const JobPtr job = *it;
      if (job->abandoned || job->result) {
        it = w->queue.erase(it);
        continue;
      }
      if (now - job->queued_at < p.request_timeout) {
        ++it;
        continue;
      }
      it = w->queue.erase(it);
      const std::string stage = starting ? "worker" : "queue";
      const std::string what = describe(*job) + ": timed out after " + ms_text(p.request_timeout) +
                               " waiting for " + (starting ? "a worker to start" : "a busy worker") +
                               " (stage " + stage + ")";
      core::log_warning("provider " + name_ + ": " + what);
      fail_job(job, core::Status::timeout("provider " + name_ + ": " + what));
    }
  }

  // Authentication waiting that long for a free worker: the pool is busy,
  // which says nothing about the directory (never "offline").
  for (auto it = priority_queue_.begin(); it != priority_queue_.end();) {
    const JobPtr job = *it;
    if (job->abandoned || job->result) {
      it = priority_queue_.erase(it);
      continue;
    }
    if (now - job->queued_at < p.request_timeout) {
      ++it;
      continue;
    }
    it = priority_queue_.erase(it);
    const std::string what = describe(*job) + ": no worker free within " + ms_text(p.request_timeout) +
                             " (stage queue)";
    core::log_warning("provider " + name_ + ": " + what);
    ++counters_.busy;
    complete(job, core::error(core::Status::busy("provider " + name_ + ": " + what)));
  }

  // Spares idle too long, longest idle first, down to the minimums.
  std::vector<WorkerPtr> idle;
  for (const WorkerPtr& w : workers_) {
    if (w->state == State::kIdle) idle.push_back(w);
  }
  std::sort(idle.begin(), idle.end(),
            [](const WorkerPtr& a, const WorkerPtr& b) { return a->idle_since < b->idle_since; });
  std::size_t idle_count = idle.size();
  for (const WorkerPtr& w : idle) {
    if (static_cast<int>(idle_count) <= p.min_spare_workers ||
        static_cast<int>(workers_.size()) <= p.min_workers)
      break;
    if (now - w->idle_since < p.spare_idle_timeout) break;
    retire(w, "idle spare");
    --idle_count;
  }
  top_up();
  arm_tick();
}

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
