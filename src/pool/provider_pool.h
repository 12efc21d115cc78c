// ProviderPool: runs one provider in a pool of fastid-provider-worker processes and
// lets request coroutines co_await its answers, so a blocking backend never stalls the loop.
// Loop-thread only (no locks): built, called, stopped and destroyed on the thread that
// runs its executor; it owns its worker processes and reaps every one (no zombies).
//
// The supervisor's policies, one sentence each (DESIGN.md idea 2):
// - Start: min_workers are spawned by start(); more when needed, never above max_workers.
// - Dispatch: a request goes to the most recently idle worker (so the longest idle age
//   out as spares); else to a worker already starting with nothing assigned; else to a
//   new worker while below max_workers; else it queues on the worker with the shortest
//   queue; past max_queue waiting requests it is answered kBusy at once.
// - Authentication first: authentication and account checks (and the store's
//   probe) wait in a queue of their own (max_queue long, apart from lookups')
//   that every worker serves before any lookup, and lookups never hold more than
//   max_workers - auth_workers workers (at least one): so local users flooding
//   the lookup socket can neither fill it nor make a login wait behind them.
// - Balance: a worker that finishes takes its next request from the longest queue (on a
//   tie, the one whose first request has waited longest), so queues stay within one of
//   each other and none waits behind a slow or idle worker while another is free.
// - Spares: after every dispatch and reply, workers are started ahead of need until
//   min_spare_workers are idle or starting; idle workers beyond min_workers and
//   min_spare_workers that stay idle spare_idle_timeout are stopped (a re-arming timer).
// - Failures: a worker that dies, sends garbage, or holds a request past request_timeout
//   is SIGKILLed, reaped through its pidfd (no SIGCHLD handler), and replaced; its
//   request is retried once on another worker — never an authentication, which
//   may have reached the directory (a second bind would count twice against a
//   password policy) — then answered kUnavailable (died) or kTimeout (hung) with
//   the provider, request and stage named; its queue moves over.
// - Queue time: a lookup that waited request_timeout without reaching a worker is
//   answered kTimeout (stage "queue", or "worker" while it waited for one to start);
//   an authentication is answered kBusy (the pool was full, the directory may be fine).
// - Backoff: every worker failure (death, hang, failed start) without a good answer in
//   between doubles the pause before the next start, from 100 ms up to 10 s, so a
//   broken backend or binary never makes the pool spin; meanwhile at most one new
//   worker waits to start and requests queue behind it.
// - Recycling: a worker is stopped gracefully after max_requests_per_worker answers,
//   which bounds whatever a leaking backend library holds.
// - Coalescing: identical lookups in flight at once share one provider call.
// - Stop: stop() refuses new requests, answers queued ones kUnavailable, lets requests
//   in flight finish (each bounded by request_timeout), closes every worker's socket
//   (the worker exits) and reaps it; stragglers are killed after a grace period.
#pragma once

#include <sys/types.h>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/coalescer.h"
#include "core/log.h"
#include "core/status.h"
#include "pool/pool_options.h"
#include "pool/provider_worker_process.h"
#include "proto/messages.h"

namespace fastid::pool {

struct WorkerStats {
  std::uint64_t serial = 0;  // the pool's number for the worker, stable for its life
  pid_t pid = 0;             // 0 while it waits to be started (backoff)
  std::string_view state;    // "waiting", "starting", "idle", "busy", "stopping"
  std::size_t queue_length = 0;
  std::uint64_t served = 0;
  std::chrono::milliseconds uptime{0};
};

struct PoolStats {
  // Workers that take requests, then stopping ones not reaped yet.
  std::vector<WorkerStats> workers;
  std::size_t queued = 0;            // requests waiting for a worker, over the pool
  std::uint64_t requests = 0;        // call()s, coalesced ones included
  std::uint64_t provider_calls = 0;  // requests written to a worker
  std::uint64_t busy = 0;            // answered kBusy: queue full
  std::uint64_t retried = 0;         // sent to a second worker after the first failed
  std::uint64_t failed = 0;          // answered with the pool's own error
  std::uint64_t started = 0;         // processes spawned
  std::uint64_t stopped = 0;         // by the pool: spare, recycled, shutdown
  std::uint64_t crashed = 0;         // died unexpectedly, or broke the protocol
  std::uint64_t timed_out = 0;       // killed after request_timeout
  std::uint64_t start_failures = 0;  // never became ready (spawn, open, died or hung at start)

  // Workers that take requests (not stopping).
  std::size_t active() const;
};

class ProviderPool {
 public:
  struct Options {
    std::string worker_path = default_provider_worker_path();
  };

  // `name` is the provider's, for logs, errors and status; `worker_settings`
  // is what each worker is started with (its provider's settings, opaque
  // here: the daemon encodes them, the worker decodes them). Nothing starts
  // before start().
  ProviderPool(asio::any_io_executor executor, std::string name, PoolOptions pool,
               std::string worker_settings, Options options);
  ProviderPool(asio::any_io_executor executor, std::string name, PoolOptions pool,
               std::string worker_settings);
  // SIGKILLs and reaps (waits for) every worker still running, and answers every
  // waiting call Status cancelled. Safe while calls are suspended: they resume
  // without touching the pool.
  ~ProviderPool();
  ProviderPool(const ProviderPool&) = delete;
  ProviderPool& operator=(const ProviderPool&) = delete;

  // Spawns min_workers (they open the provider on their own, asynchronously)
  // and arms the maintenance timer. Returns the first spawn failure, e.g. a
  // missing executable; the pool then keeps retrying with backoff. The first
  // call() starts a pool that was not started.
  core::Status start();

  // Graceful stop (see the policies above). The pool's work ends once
  // stopped() is true, so a loop with nothing else to do runs dry.
  void stop();
  bool stopped() const;

  // One request to the provider: the worker's reply frame (header status
  // kOk, or the provider's own answer such as kNotFound, with its message), or
  // the pool's own error: kBusy (queue full), kTimeout (stage queue, worker or
  // provider), kUnavailable (worker died twice, no worker could start, pool
  // stopping), kCancelled (the caller was cancelled). The reply's request_id
  // is request.request_id. Lookups are coalesced with identical ones in flight.
  asio::awaitable<core::Result<proto::Reply>> call(proto::Request request);

  // One lookup, as providers::Provider::lookup answers it: the reply's error
  // status and the pool's own errors are both the Result's error; a reply
  // that does not decode as the query's answer is kCorruption.
  asio::awaitable<core::Result<model::Answer>> lookup(model::Query query, std::uint32_t request_id = 0);
  // Authentication and the account check, never coalesced. The provider's
  // answer is an AuthReply (its errors mapped by worker_protocol); the pool's
  // own errors (busy, timeout, unavailable) are the Result's error.
  asio::awaitable<core::Result<proto::AuthReply>> authenticate(std::string user, core::Secret password);
  asio::awaitable<core::Result<proto::AuthReply>> account(std::string user);
  // Never sent twice (a bind with the old password counts against a policy).
  asio::awaitable<core::Result<proto::AuthReply>> change_password(std::string user, core::Secret old_password,
                                                                  core::Secret new_password);
  // Whether the provider can be reached: a lookup any reachable provider
  // answers at once (uid 0; "no such uid" counts as an answer), sent in the
  // authentication queue so that lookups waiting cannot make it fail. ok:
  // reachable; kUnavailable or kTimeout: it could not answer; kBusy: no
  // verdict (the pool was full). Concurrent probes share one call.
  asio::awaitable<core::Status> probe();
  // The provider's stats() as one worker (any) sees them.
  asio::awaitable<core::Result<std::vector<std::pair<std::string, std::string>>>> provider_stats();

  const std::string& name() const { return name_; }
  const PoolOptions& settings() const { return pool_; }
  PoolStats stats() const;
  // For `fastid status`: "pool.NAME.workers", totals, and one line per worker
  // ("pool.NAME.worker.3" = "pid 1234 busy queue 1 served 10 uptime 5s").
  std::vector<std::pair<std::string, std::string>> status_items() const;

 private:
  struct Job;
  struct Worker;
  using JobPtr = std::shared_ptr<Job>;
  using WorkerPtr = std::shared_ptr<Worker>;
  using Clock = std::chrono::steady_clock;
  enum class Failure { kCrashed, kTimedOut, kProtocol };
  enum class Deadline { kStartDelay, kStart, kRequest, kStopGrace };

  asio::awaitable<core::Result<proto::Reply>> call_once(proto::Request request, bool priority);

  void dispatch(const JobPtr& job, bool again);
  core::Result<WorkerPtr> add_worker();
  core::Status launch(const WorkerPtr& w);
  void send(const WorkerPtr& w, JobPtr job);
  static void trace(const Job& job, std::string_view stage);
  JobPtr next_job(const WorkerPtr& w);
  void become_idle_or_work(const WorkerPtr& w);
  void wake_idle();  // idle workers take what they may (a lookup slot freed up)
  int lookup_limit() const;
  int lookups_in_service() const;
  void top_up();
  void retire(const WorkerPtr& w, std::string_view why);
  void fail_worker(const WorkerPtr& w, Failure kind, const core::Status& cause);
  // exits_itself: the worker reported the failure and is exiting; else it is killed.
  void fail_start(const WorkerPtr& w, const core::Status& cause, bool exits_itself = false);
  void note_failure();
  bool backing_off() const;
  void complete(const JobPtr& job, core::Result<proto::Reply> result);
  void fail_job(const JobPtr& job, core::Status status);
  void requeue(std::vector<JobPtr> jobs);
  void unlink(const WorkerPtr& w);
  void kill(const WorkerPtr& w);  // SIGKILL, unless already reaped

  void on_frame(const WorkerPtr& w, const proto::FrameHeader& header, proto::Bytes payload);
  void on_eof(const WorkerPtr& w);
  void on_reaped(const WorkerPtr& w, int wait_status);
  void forget_if_gone(const WorkerPtr& w);  // once reaped and its stream ended
  void on_deadline(const WorkerPtr& w, Deadline what);
  void arm(const WorkerPtr& w, Deadline what, Clock::duration after);
  void arm_tick();
  void tick();

  asio::awaitable<void> read_frames(WorkerPtr w);
  asio::awaitable<void> reap(WorkerPtr w);

  std::string describe(const Job& job) const;
  std::size_t queued_total() const;
  std::size_t lookups_queued() const;

  asio::any_io_executor executor_;
  const std::string name_;
  const PoolOptions pool_;
  const std::string worker_settings_;  // what each worker is started with
  const Options options_;

  std::vector<WorkerPtr> workers_;   // taking requests: waiting, starting, idle, busy
  std::vector<WorkerPtr> retiring_;  // stopping: until reaped
  std::deque<JobPtr> priority_queue_;  // authentication waiting for a free worker
  asio::steady_timer tick_;
  // Shared with call() frames so that a call suspended when the pool goes away
  // never touches freed memory as it resumes.
  std::shared_ptr<core::Coalescer<std::string, core::Result<proto::Reply>>> coalescer_;
  // Handlers that may run after the destructor (a timer that had already
  // expired) check this first.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  PoolStats counters_;  // totals only; workers and queued are filled by stats()
  std::uint32_t next_wire_id_ = 1;
  std::uint64_t next_serial_ = 1;
  int failure_streak_ = 0;
  Clock::time_point next_start_{};  // no start before this (backoff)
  bool started_ = false;
  bool stopping_ = false;
};

}  // namespace fastid::pool
