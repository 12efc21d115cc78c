// SignalWatcher: delivers SIGTERM, SIGINT and SIGHUP (or a chosen set) to a handler
// that runs on the loop thread, as an ordinary handler, never in signal context.
// Created, stopped and destroyed on the loop's owner thread while no handler runs, or
// from the handler itself; delivery ends at stop() or destruction.
#pragma once

#include <csignal>
#include <functional>
#include <initializer_list>
#include <memory>

namespace fastid::core {

class EventLoop;

class SignalWatcher {
 public:
  using Handler = std::function<void(int signo)>;

  // Watches `signals` (their disposition is Asio's until stop()) and calls
  // handler(signo) on `loop`, once per delivery; signals arriving together
  // before the loop wakes may be merged into one call.
  SignalWatcher(EventLoop& loop, Handler handler,
                std::initializer_list<int> signals = {SIGTERM, SIGINT, SIGHUP});
  ~SignalWatcher();  // stop()
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // No handler call after this returns; the signals go back to their default
  // action. Lets the loop run out of work. Idempotent.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fastid::core
