#include "core/event_loop.h"

#include <asio/io_context.hpp>

namespace fastid::core {

// Hint 1: one thread runs this context, so Asio may skip work it would need for
// several runners; posting from other threads (the offload pool) stays safe.
EventLoop::EventLoop() : io_(std::make_unique<asio::io_context>(1)) {}

EventLoop::~EventLoop() = default;

void EventLoop::run() {
  // Clear the recorded thread however run() ends, so in_loop_thread() never
  // names a thread that has left the loop.
  struct Recorded {
    std::atomic<std::thread::id>& id;
    ~Recorded() { id.store(std::thread::id{}); }
  } recorded{loop_thread_};
  loop_thread_.store(std::this_thread::get_id());
  io_->run();
}

void EventLoop::stop() { io_->stop(); }

void EventLoop::restart() { io_->restart(); }

bool EventLoop::stopped() const noexcept { return io_->stopped(); }

bool EventLoop::in_loop_thread() const noexcept {
  return loop_thread_.load() == std::this_thread::get_id();
}

}  // namespace fastid::core
