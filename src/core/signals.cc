#include "core/signals.h"

#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <utility>

#include "core/event_loop.h"

namespace fastid::core {

struct SignalWatcher::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, Handler h) : set(io), handler(std::move(h)) {}

  void arm() {
    // The pending wait holds the Impl: a delivery already queued when the
    // watcher is destroyed finds `stopped` set instead of freed memory.
    set.async_wait([self = shared_from_this()](const asio::error_code& ec, int signo) {
      if (ec || self->stopped) return;
      self->handler(signo);
      if (!self->stopped) self->arm();
    });
  }

  asio::signal_set set;
  Handler handler;
  bool stopped = false;
};

SignalWatcher::SignalWatcher(EventLoop& loop, Handler handler, std::initializer_list<int> signals)
    : impl_(std::make_shared<Impl>(loop.context(), std::move(handler))) {
  for (int signo : signals) impl_->set.add(signo);
  impl_->arm();
}

SignalWatcher::~SignalWatcher() { stop(); }

void SignalWatcher::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  asio::error_code ignored;
  impl_->set.cancel(ignored);  // the pending wait completes "aborted"
  impl_->set.clear(ignored);   // and the signals get their default action back
}

}  // namespace fastid::core
