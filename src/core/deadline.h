// with_deadline(): bounds one awaited step of a request by a time limit. If the
// limit passes first, the step is cancelled (per-operation, terminal) and the answer
// is Status timeout; it returns only once the step has finished and its frames are
// gone (nothing is detached or leaked), and its timer is cancelled when the step
// wins. sleep_for(): a cancellable pause. Both are awaited on the loop thread.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/status.h"

namespace fastid::core {

// What with_deadline(awaitable<T>) yields: Result<U> stays Result<U> (a timeout
// joins the step's own errors), void becomes Result<void>, anything else Result<T>.
template <typename T>
using DeadlineResult =
    std::conditional_t<is_result_v<T>, T, std::conditional_t<std::is_void_v<T>, Result<void>, Result<T>>>;

namespace detail {

// co_spawn reports a finished coroutine's value alongside its exception and
// needs a default-constructible value; optional<> gives every T (and void) one.
template <typename T>
using Captured = std::optional<std::conditional_t<std::is_void_v<T>, std::monostate, T>>;

template <typename T>
asio::awaitable<Captured<T>> capture(asio::awaitable<T> op) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(op);
    co_return std::monostate{};
  } else {
    co_return co_await std::move(op);
  }
}

template <typename T>
DeadlineResult<T> deadline_value(Captured<T>& captured) {
  if constexpr (is_result_v<T>) {
    return std::move(*captured);
  } else if constexpr (std::is_void_v<T>) {
    return {};
  } else {
    return DeadlineResult<T>(std::move(*captured));
  }
}

// True for the exception an Asio operation throws when it is cancelled.
bool is_cancellation(const std::exception_ptr& e) noexcept;

}  // namespace detail

// Runs op, cancelling it if `limit` passes first. Yields op's value, or
// Status timeout ("deadline of N ms passed"), or Status cancelled when the
// awaiting coroutine itself was cancelled (shutdown, not the deadline).
// op must honour terminal cancellation, as every Asio wait does and as
// offload() of a Result call does: with_deadline waits for op to finish, so a
// step that ignores cancellation delays the timeout until it ends. An
// exception thrown by op other than cancellation is rethrown.
template <typename T>
asio::awaitable<DeadlineResult<T>> with_deadline(asio::awaitable<T> op, std::chrono::milliseconds limit) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, limit);
  // wait_for_one: whichever finishes first, success or failure, cancels the
  // other; the group completes once both have finished.
  auto [order, op_exception, op_value, timer_error] =
      co_await asio::experimental::make_parallel_group(
          asio::co_spawn(executor, detail::capture(std::move(op)), asio::experimental::deferred),
          timer.async_wait(asio::experimental::deferred))
          .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);

  if (order[0] == 0) {
    if (!op_exception) co_return detail::deadline_value<T>(op_value);
    if (!detail::is_cancellation(op_exception)) std::rethrow_exception(op_exception);
    co_return error(Status::cancelled("cancelled before its deadline"));
  }
  // The timer finished first: either it expired, or it was cancelled because
  // the awaiting coroutine was (then op was cancelled too; that is no timeout).
  if (timer_error) co_return error(Status::cancelled("cancelled before its deadline"));
  co_return error(Status::timeout("deadline of " + std::to_string(limit.count()) + " ms passed"));
}

// Suspends the calling coroutine for `duration`. Ok when it elapsed, Status
// cancelled when the coroutine was cancelled first (errors are values: the
// caller decides whether to go on).
asio::awaitable<Result<void>> sleep_for(std::chrono::steady_clock::duration duration);

}  // namespace fastid::core
