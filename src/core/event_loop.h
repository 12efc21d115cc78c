// EventLoop: one worker's event loop, an asio::io_context (concurrency hint 1) run
// by exactly one thread; every request coroutine of the worker runs on it. The
// EventLoop owns the io_context: run() is called by one thread at a time (the loop
// thread); stop() and in_loop_thread() may be called from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

namespace asio {
class io_context;  // <asio/io_context.hpp>; kept out of this header on purpose
}

namespace fastid::core {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();  // destroys still-suspended coroutines (their frames run their destructors)
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  asio::io_context& context() noexcept { return *io_; }

  // Runs handlers on the calling thread until stop() or until no work is left.
  // An exception escaping a handler (a bug: request paths return Status values)
  // propagates out of run().
  void run();
  // Any thread: run() returns as soon as the current handler finishes. Queued
  // handlers stay queued; a later run() needs restart() first.
  void stop();
  // Makes a stopped or drained loop runnable again. Not while run() is running.
  void restart();
  bool stopped() const noexcept;

  // True on the thread currently inside run().
  bool in_loop_thread() const noexcept;

 private:
  std::unique_ptr<asio::io_context> io_;
  std::atomic<std::thread::id> loop_thread_{};
};

}  // namespace fastid::core
