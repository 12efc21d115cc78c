// The provider pool's dispatch: a job to an idle worker, a new worker or a
// queue (the priority lane first), bounded by max_queue; the frame sent on
// a worker's socket; a job's completion.
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
  // Fails the job when the pool has no worker at all; `added`, the start
  // just tried (if any), says why when it failed. True when it did.
  std::optional<core::Result<WorkerPtr>> added;
  auto failed_without_workers = [&] {
    if (!workers_.empty()) return false;
    fail_job(job, core::Status::unavailable("provider " + name_ +
                                            (added && !*added ? ": no worker could be started: " + added->error().message()
                                                              : std::string(": no worker"))));
    return true;
  };
  if (job->priority) {
    // Its own queue, served first by whichever worker is free next: never
    // behind lookups, never counted in their budget (max_queue each).
    const bool one_starts = std::any_of(workers_.begin(), workers_.end(), [](const WorkerPtr& w) {
      return (w->state == State::kStarting || w->state == State::kWaiting) && w->queue.empty();
    });
    if (!one_starts && can_add) added = add_worker();
    if (failed_without_workers()) return;
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
      added = add_worker();
      if (*added) {
        (**added)->queue.push_back(job);
        top_up();
        return;
      }
    }
  }
  if (failed_without_workers()) return;
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

void ProviderPool::requeue(std::vector<JobPtr> jobs) {
  // Back to the front, oldest first: dispatch() puts each in front of the others.
  for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) dispatch(*it, true);
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

}  // namespace fastid::pool
