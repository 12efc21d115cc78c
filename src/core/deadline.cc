#include "core/deadline.h"

#include <asio/redirect_error.hpp>

namespace fastid::core {

namespace detail {

bool is_cancellation(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::system_error& error) {
    return error.code() == asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

}  // namespace detail

asio::awaitable<Result<void>> sleep_for(std::chrono::steady_clock::duration duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  // redirect_error: a cancelled wait is an answer here, not an exception.
  asio::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (ec == asio::error::operation_aborted) co_return error(Status::cancelled("sleep cancelled"));
  if (ec) co_return error(Status(Code::kInternal, "timer wait: " + ec.message(), ec.value()));
  co_return Result<void>{};
}

}  // namespace fastid::core
