// Offloader: a front worker's small thread pool for blocking calls (file reads, crypt(3),
// synchronous libraries), so that the loop thread never blocks. offload(fn, args...)
// runs fn on a pool thread with its own copies of its inputs and resumes the awaiting
// coroutine on that coroutine's own executor (the loop). Owned by the front worker; offload()
// is awaited on the loop thread; join() is called by the owner at shutdown. Every
// offloaded call returns its errors as values (core::Result or core::Status), so that
// every way it can end — its value, a thrown exception, the awaiter cancelled, the
// pool already joined — reaches the awaiting coroutine as a value: none of them
// leaves it waiting.
#pragma once

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "core/status.h"

namespace fastid::core {

namespace detail {

// What an offloaded call may return: a Result<T> or a Status, so that a
// failure of the offloading itself has a value to be told with.
template <typename R>
inline constexpr bool offloadable_v = is_result_v<R> || std::is_same_v<R, Status>;

// The value of type R that says `why` the call did not run or was not waited for.
template <typename R>
R offload_failure(Status why) {
  if constexpr (is_result_v<R>) {
    return error(std::move(why));
  } else {
    return why;
  }
}

// Calls fn on the pool thread. Exceptions must not escape onto the pool (it would
// terminate) nor onto the loop: a stray exception becomes Status internal.
template <typename R, typename F>
R call_offloaded(F& fn) noexcept {
  try {
    return fn();
  } catch (const std::exception& e) {
    return offload_failure<R>(Status::internal(std::string("offloaded call threw: ") + e.what()));
  } catch (...) {
    return offload_failure<R>(Status::internal("offloaded call threw a non-standard exception"));
  }
}

// The awaiting side of one offloaded call. Its members are touched only on the
// awaiting coroutine's executor (the loop); the pool thread merely carries the
// shared_ptr that owns it, with its own copy of the executor to post back to.
template <typename Handler, typename R>
struct OffloadWait {
  using Executor = asio::associated_executor_t<Handler>;

  explicit OffloadWait(Handler h)
      : executor(asio::get_associated_executor(h)),
        work(asio::make_work_guard(executor)),
        slot(asio::get_associated_cancellation_slot(h)),
        handler(std::move(h)) {}

  // Delivers the first outcome (the value, or cancellation) and drops the rest.
  template <typename... V>
  void complete(V&&... value) {
    if (!handler) return;
    Handler h = std::move(*handler);
    handler.reset();
    if (slot.is_connected()) slot.clear();
    // The awaiting coroutine holds nothing of the pool any more: the loop need
    // not wait for a call whose result nobody will read.
    work.reset();
    std::move(h)(std::forward<V>(value)...);
  }

  const Executor executor;
  asio::executor_work_guard<Executor> work;  // the loop keeps running while we wait
  asio::cancellation_slot slot;
  std::optional<Handler> handler;
};

// Installed in the awaiting coroutine's cancellation slot. A weak reference:
// the wait owns no cycle back through the coroutine it resumes.
template <typename Wait, typename R>
struct OffloadCancel {
  std::weak_ptr<Wait> wait;

  void operator()(asio::cancellation_type_t type) {
    if (type == asio::cancellation_type::none) return;
    std::shared_ptr<Wait> w = wait.lock();
    if (!w) return;
    // Post rather than complete here: we are inside whoever emitted the
    // signal, and resuming a coroutine from there would re-enter it.
    asio::post(w->executor, [w] { w->complete(offload_failure<R>(Status::cancelled("offloaded call abandoned"))); });
  }
};

// Starts one call: posts it to the pool, or, once the pool is joined (its
// threads gone: a call posted now would never run), completes the wait with
// Status unavailable. `pool_lock` is held across that check and the post, so
// that join() cannot slip between them.
template <typename R, typename Handler, typename F>
void start_offload(asio::thread_pool& pool, std::mutex& pool_lock, const bool& joined, Handler handler, F fn) {
  using Wait = OffloadWait<Handler, R>;
  auto wait = std::make_shared<Wait>(std::move(handler));
  std::lock_guard<std::mutex> lock(pool_lock);
  if (joined) {
    asio::post(wait->executor, [wait] { wait->complete(offload_failure<R>(Status::unavailable("offload pool shut down"))); });
    return;
  }
  // The coroutine may stop waiting at once (for a deadline or shutdown); the
  // call still runs to its end on the pool, on its own copies, and its value
  // is dropped.
  if (wait->slot.is_connected()) wait->slot.template emplace<OffloadCancel<Wait, R>>(OffloadCancel<Wait, R>{wait});
  auto executor = wait->executor;  // the pool's own copy: Wait's members stay loop-only
  asio::post(pool, [wait = std::move(wait), executor = std::move(executor), fn = std::move(fn)]() mutable {
    R value = call_offloaded<R>(fn);
    asio::post(executor, [wait = std::move(wait), value = std::move(value)]() mutable {
      wait->complete(std::move(value));
    });
  });
}

}  // namespace detail

class Offloader {
 public:
  explicit Offloader(std::size_t threads = 2) : pool_(threads) {}
  ~Offloader() { join(); }
  Offloader(const Offloader&) = delete;
  Offloader& operator=(const Offloader&) = delete;

  // Runs fn(args...) on the pool and returns its value on the awaiting
  // coroutine's executor. fn and args are taken by value: the call owns its
  // inputs, since the awaiting coroutine may stop waiting before it finishes.
  //
  // fn returns Result<T> or Status. A thrown exception becomes Status
  // internal; cancelling the awaiting coroutine (shutdown) resumes it at once
  // with Status cancelled while fn runs to its end with its value dropped; and
  // offload() once join() has begun yields Status unavailable without running fn.
  //
  // A lambda with captures written inside the co_await expression is
  // destroyed twice (core/gcc12_coroutines.h, rule 1). Name the lambda first
  //   auto read = [path] { return read_file(path); };
  //   co_await offloader.offload(std::move(read));
  // or pass the inputs as arguments: co_await offloader.offload(read_file, path).
  template <typename F, typename... Args>
  asio::awaitable<std::invoke_result_t<F&, Args&...>> offload(F fn, Args... args) {
    using R = std::invoke_result_t<F&, Args&...>;
    static_assert(detail::offloadable_v<R>,
                  "an offloaded call returns core::Result<T> or core::Status: its errors, and the "
                  "pool's (shut down, abandoned), are values");
    // Built here, in a plain function, so no closure lives in the caller's
    // co_await expression.
    auto call = [fn = std::move(fn), ... args = std::move(args)]() mutable -> R {
      return std::invoke(fn, args...);
    };
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
        [this](auto handler, decltype(call) c) {
          detail::start_offload<R>(pool_, lock_, joined_, std::move(handler), std::move(c));
        },
        asio::use_awaitable, std::move(call));
  }

  // Waits until every call already posted has run, then stops the threads.
  // From the moment it begins, offload() answers Status unavailable (a call
  // posted to a joined pool would never run, and its awaiter never resume).
  // Calls are never abandoned, so a call that never returns blocks join().
  void join() {
    {
      std::lock_guard<std::mutex> lock(lock_);
      joined_ = true;
    }
    pool_.join();
  }

 private:
  asio::thread_pool pool_;
  std::mutex lock_;     // joined_, and a post against a join
  bool joined_ = false;
};

}  // namespace fastid::core
