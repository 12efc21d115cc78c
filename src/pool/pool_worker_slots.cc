// The provider pool's worker slots: starting a worker process (with backoff
// after failures), keeping max_workers started, and retiring or failing a
// worker with what it held (requeued or failed).
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

namespace internal {

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

}  // namespace internal

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

}  // namespace fastid::pool
