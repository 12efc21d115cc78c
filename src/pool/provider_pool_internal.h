// The provider pool's internals, shared by its files and included by them
// only: provider_pool.cc (calls, start and stop, figures), pool_dispatch.cc
// (jobs to worker slots), pool_worker_slots.cc (starting, retiring and failing
// worker processes) and pool_worker_events.cc (frames, exits and deadlines
// from the workers, the maintenance tick). ProviderPool::Job is one request
// on its way, ProviderPool::Worker one worker slot and its process.
#pragma once

#include <sys/types.h>

#include <asio/local/stream_protocol.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "pool/provider_pool.h"

namespace fastid::pool {

namespace internal {

using namespace std::chrono_literals;

// Backoff after repeated failures: the second failure in a row waits kFirstPause
// before the next start, each later one twice as long, up to kMaxPause.
inline constexpr auto kFirstPause = 100ms;
inline constexpr auto kMaxPause = 10s;
// A worker asked to stop (its socket closed) has this long to exit on its own.
inline constexpr auto kStopGrace = 2s;
// Where the pidfd is missing (old kernel), how often an exit is polled for.
inline constexpr auto kReapPoll = 20ms;

enum class State { kWaiting, kStarting, kIdle, kBusy, kStopping };

std::string_view state_name(State s);
std::string ms_text(std::chrono::milliseconds d);

}  // namespace internal

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
  internal::State state = internal::State::kWaiting;
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

}  // namespace fastid::pool
