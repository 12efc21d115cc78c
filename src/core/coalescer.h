// Coalescer: identical requests in flight share one call. The first caller for a key
// (the leader) runs make(); callers arriving while it runs wait, without polling,
// and every caller gets a copy of the one result, even if the leader is cancelled.
// Loop-thread only (no locks); an entry lives only while its call is in flight; the
// Coalescer must outlive every run() (or the io_context whose coroutines call it).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/error.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "core/status.h"

namespace fastid::core {

// Value is what a call yields, typically Result<T>: it must be able to carry
// a Status (cancellation, or an exception turned into a value).
template <typename Key, typename Value, typename Hash = std::hash<Key>, typename Equal = std::equal_to<Key>>
  requires std::constructible_from<Value, std::unexpected<Status>> && std::copy_constructible<Value>
class Coalescer {
 public:
  using Make = std::function<asio::awaitable<Value>()>;

  Coalescer() = default;
  Coalescer(const Coalescer&) = delete;  // in-flight coroutines point at it
  Coalescer& operator=(const Coalescer&) = delete;

  // Yields make()'s value, sharing one call among concurrent callers with an
  // equal key. Never throws for cancellation or a throwing make(): a cancelled
  // leader gives everyone Status cancelled; a cancelled waiter alone gets Status
  // cancelled and the others are unaffected; an exception becomes Status internal.
  // make lives in this call's frame for as long as its coroutine runs, so a
  // lambda coroutine may use its captures. (Build a capturing lambda outside
  // the co_await expression: core/gcc12_coroutines.h, rule 1.)
  asio::awaitable<Value> run(Key key, Make make) {
    if (auto found = flights_.find(key); found != flights_.end()) {
      // Our own reference: the leader erases the entry before we resume.
      std::shared_ptr<Flight> flight = found->second;
      asio::error_code ec;
      try {
        co_await flight->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      } catch (...) {
        // Thrown instead of waiting when this caller was already cancelled.
      }
      // The wait always ends "aborted": by the leader's cancel() once the
      // value is set, or by this caller's own cancellation before that.
      if (flight->value) co_return *flight->value;
      co_return Value(error(Status::cancelled("coalesced wait cancelled")));
    }

    auto flight = std::make_shared<Flight>(co_await asio::this_coro::executor);
    flights_.emplace(key, flight);
    Leader leader{this, &key, flight};
    std::optional<Value> value;
    try {
      value.emplace(co_await make());
    } catch (...) {
      value.emplace(value_of(std::current_exception()));
    }
    leader.publish(*value);
    co_return std::move(*value);
  }

  // Keys with a call in flight.
  std::size_t in_flight() const noexcept { return flights_.size(); }

 private:
  struct Flight {
    explicit Flight(asio::any_io_executor executor)
        : done(std::move(executor), asio::steady_timer::time_point::max()) {}
    // Never expires: cancel() is the broadcast "value is set" to every waiter.
    asio::steady_timer done;
    std::optional<Value> value;
  };

  // The leader's promise to its waiters: if its frame ends without publishing
  // (cancelled mid-call, or destroyed with its io_context), they still get an
  // answer and the entry goes away.
  struct Leader {
    Coalescer* self;
    const Key* key;  // the leader frame's own parameter, which outlives this
    std::shared_ptr<Flight> flight;

    void publish(const Value& value) {
      flight->value.emplace(value);
      if (auto it = self->flights_.find(*key); it != self->flights_.end() && it->second == flight) {
        self->flights_.erase(it);  // later callers start a fresh call
      }
      flight->done.cancel();
    }
    ~Leader() {
      if (!flight->value) publish(Value(error(Status::cancelled("coalesced call abandoned"))));
    }
  };

  // make() threw: cancellation (an Asio wait inside it was cancelled) or a bug.
  static Value value_of(std::exception_ptr thrown) {
    try {
      std::rethrow_exception(thrown);
    } catch (const std::system_error& e) {
      if (e.code() == asio::error::operation_aborted) {
        return Value(error(Status::cancelled("coalesced call cancelled")));
      }
      return Value(error(Status::internal(std::string("coalesced call threw: ") + e.what())));
    } catch (const std::exception& e) {
      return Value(error(Status::internal(std::string("coalesced call threw: ") + e.what())));
    } catch (...) {
      return Value(error(Status::internal("coalesced call threw a non-standard exception")));
    }
  }

  std::unordered_map<Key, std::shared_ptr<Flight>, Hash, Equal> flights_;
};

}  // namespace fastid::core
