// StoreWriter: the store's writes and sync on their own thread (store_writer.h).
#include "store/store_writer.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <utility>

#include "core/log.h"
#include "core/trace.h"

namespace fastid::store {

namespace {

std::uint64_t micros_since(std::chrono::steady_clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace

StoreWriter::StoreWriter(std::shared_ptr<Store> store, WriterOptions options)
    : store_(std::move(store)), options_(options) {
  // The thread must take none of the loop's signals (SIGHUP, SIGTERM, SIGUSR1
  // are the loop's, through its signal_set): block them all while it starts.
  // All but SIGBUS: a SIGBUS raised by a touch of data.mdb cut short is
  // delivered to the thread that touched it, and a blocked one kills the
  // process outright instead of reaching fastidd's handler and the store's
  // guard (core/sigbus_guard.h).
  sigset_t all, old;
  sigfillset(&all);
  sigdelset(&all, SIGBUS);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  thread_ = std::thread([this] { run(); });
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

StoreWriter::~StoreWriter() { stop(); }

bool StoreWriter::submit(Batch&& batch) {
  if (batch.empty()) return true;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queued_writes_ + batch.size() > options_.max_queued) {
      stats_.dropped += batch.size();
      return false;
    }
    queued_writes_ += batch.size();
    queue_.push_back(std::move(batch));
    ++submitted_;
  }
  wake_.notify_one();
  return true;
}

std::uint64_t StoreWriter::submitted() const {
  std::lock_guard lock(mutex_);
  return submitted_;
}

std::uint64_t StoreWriter::completed() const {
  std::lock_guard lock(mutex_);
  return completed_;
}

void StoreWriter::wait_idle() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = submitted_;
  idle_.wait(lock, [&] { return completed_ >= target || !thread_.joinable(); });
}

void StoreWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  idle_.notify_all();
}

StoreWriter::Stats StoreWriter::stats() const {
  std::lock_guard lock(mutex_);
  Stats s = stats_;
  s.queued = queued_writes_;
  return s;
}

void StoreWriter::run() {
  auto next_sync = std::chrono::steady_clock::now() + options_.sync_interval;
  std::unique_lock lock(mutex_);
  for (;;) {
    if (queue_.empty() && !stopping_) {
      if (options_.sync_interval.count() > 0) {
        wake_.wait_until(lock, next_sync, [&] { return stopping_ || !queue_.empty(); });
      } else {
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      }
    }
    std::deque<Batch> work = std::move(queue_);
    queue_.clear();
    const bool stop_now = stopping_;
    lock.unlock();
    for (Batch& batch : work) write(batch);
    const auto now = std::chrono::steady_clock::now();
    const bool sync_due = options_.sync_interval.count() > 0 && now >= next_sync;
    if (sync_due || stop_now) {
      sync();
      next_sync = std::chrono::steady_clock::now() + options_.sync_interval;
    }
    lock.lock();
    for (const Batch& batch : work) queued_writes_ -= batch.size();
    completed_ += work.size();
    idle_.notify_all();
    if (stop_now && queue_.empty()) return;
  }
}

void StoreWriter::write(Batch& batch) {
  const auto start = std::chrono::steady_clock::now();
  bool refused = false;
  const Status st = store_->put_batch([&] {
    for (const Write& w : batch) {
      const Status one = w.answer ? store_->put(w.provider, w.query, *w.answer, w.fetched, w.expires)
                                  : store_->put_negative(w.provider, w.query, w.fetched, w.expires);
      if (!one) {
        refused = true;
        core::log_debug("provider " + w.provider + ": " + model::describe(w.query) +
                        " not stored: " + one.to_string());
        note_failure(one);
      }
    }
  });
  if (!st) {
    refused = true;
    note_failure(st);
  } else if (!refused) {
    note_success();
  }
  const std::uint64_t took = micros_since(start);
  if (core::trace_enabled()) {
    for (const Write& w : batch) core::trace_stage("store_written", model::describe(w.query));
  }
  std::lock_guard lock(mutex_);
  ++stats_.batches;
  stats_.written += batch.size();
  if (refused) ++stats_.failed;
  stats_.longest_batch_us = std::max(stats_.longest_batch_us, took);
}

void StoreWriter::note_failure(const Status& st) {
  ++failed_since_;
  const std::string condition = st.to_string();
  if (condition == failing_) return;
  failing_ = condition;
  core::log_warning(condition + ": answers are not being stored (lookups are answered by the providers; "
                    "said once until this changes, store.write_errors counts them)");
}

void StoreWriter::note_success() {
  if (failing_.empty()) return;
  core::log_info("store: answers are stored again, after " + std::to_string(failed_since_) +
                 " refused (" + failing_ + ")");
  failing_.clear();
  failed_since_ = 0;
}

void StoreWriter::sync() {
  const auto start = std::chrono::steady_clock::now();
  const Status st = store_->sync();
  if (!st) core::log_warning("store: " + st.to_string());
  const std::uint64_t took = micros_since(start);
  std::lock_guard lock(mutex_);
  ++stats_.syncs;
  stats_.longest_sync_us = std::max(stats_.longest_sync_us, took);
}

}  // namespace fastid::store
