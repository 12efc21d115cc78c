// Coroutine helpers for the unit suites that drive Asio coroutines by hand
// (core_test, pool_test): written once here. The product has no use for a
// plain pause, so it is not in src/core.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>

namespace fastid::testing {

// Suspends the calling coroutine for `duration` on its own executor. Like any
// Asio wait it throws operation_aborted when the coroutine is cancelled first.
inline asio::awaitable<void> pause_for(std::chrono::steady_clock::duration duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace fastid::testing
