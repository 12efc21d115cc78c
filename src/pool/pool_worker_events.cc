// The provider pool's events from its workers: reply frames read from a
// worker's socket, its end of stream and exit, its deadlines (start,
// request, stop grace), and the maintenance tick (idle workers retired, the
// pool topped up).
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

}  // namespace fastid::pool
