// StoreWriter: the store's writes and its periodic sync on a thread of their
// own, so that no LMDB commit, eviction or msync ever holds a front worker's
// event loop (issue 20, "loop latency"). Reads stay on the loop (an LMDB read
// is a few µs and never waits for a writer).
//
// The loop hands over values, never references: a batch of Writes (the
// provider's name, the query, the answer or "no such entry", the times) is
// moved into a bounded queue, and the writer thread writes each batch in one
// transaction (Store::put_batch). A full queue refuses the batch at once
// (counted in dropped()): the store is a cache, and a loop that waited for a
// slow disk would be exactly the stall this thread exists to avoid. The
// thread also calls Store::sync() every sync_interval, and once more at stop.
//
// Order: batches are written in the order they were submitted. Anything that
// must happen after the writes queued so far (cache control's erase and
// clear, on the loop) calls wait_idle() first: it returns once every batch
// submitted before it is committed.
//
// Thread-safety: submit(), wait_idle(), stats() from any thread (in practice
// the loop's); the Store is shared with the loop, which only reads, erases
// and clears (LMDB serialises write transactions across threads itself).
// Start it after any fork(); stop() (or the destructor) drains the queue,
// syncs and joins.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "model/query.h"
#include "store/store.h"

namespace fastid::store {

struct WriterOptions {
  std::chrono::milliseconds sync_interval{30000};  // Store::sync() this often; 0: only at stop
  std::size_t max_queued = 65536;                  // writes waiting, all batches together
};

class StoreWriter {
 public:
  // One record to write: `answer` nullopt means "no such entry".
  struct Write {
    std::string provider;
    model::Query query;
    std::optional<model::Answer> answer;
    Millis fetched = 0;
    Millis expires = 0;
  };
  using Batch = std::vector<Write>;

  struct Stats {
    std::uint64_t batches = 0;        // transactions committed (or tried)
    std::uint64_t written = 0;        // writes handed to the store
    std::uint64_t failed = 0;         // batches with a write the store refused
    std::uint64_t dropped = 0;        // writes refused because the queue was full
    std::uint64_t syncs = 0;          // Store::sync() calls
    std::uint64_t longest_batch_us = 0;  // the longest put_batch, in µs
    std::uint64_t longest_sync_us = 0;   // the longest sync, in µs
    std::uint64_t queued = 0;         // writes waiting now
  };

  StoreWriter(std::shared_ptr<Store> store, WriterOptions options);
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // Queues the batch (moved from); false when the queue has no room for it
  // (nothing of it is written) or the writer is stopped. Never blocks on the
  // store: only on the queue's mutex, which the writer holds for a swap.
  bool submit(Batch&& batch);
  // How many batches were accepted by submit() so far (the last one's number),
  // and how many of them are committed: batch n is in the store once
  // completed() >= n.
  std::uint64_t submitted() const;
  std::uint64_t completed() const;
  // Returns once every batch submitted before the call is written.
  void wait_idle();
  // Drains the queue, syncs, joins the thread; idempotent.
  void stop();

  Stats stats() const;
  const std::shared_ptr<Store>& store() const { return store_; }

 private:
  void run();
  void write(Batch& batch);
  void sync();
  // Failed writes are logged once per condition (the disk full, the map
  // full, a damaged file), not once per write: a full disk under load would
  // otherwise write a line per lookup to the very disk that is full. The
  // first failure of a new kind is logged, and the first success after
  // failures says how many writes the condition cost. Writer thread only.
  void note_failure(const Status& st);
  void note_success();
  std::string failing_;             // the condition being reported, "" when writes succeed
  std::uint64_t failed_since_ = 0;  // writes refused since it was reported

  std::shared_ptr<Store> store_;
  WriterOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // the writer: work, or stop
  std::condition_variable idle_;  // wait_idle(): a batch was written
  std::deque<Batch> queue_;
  std::size_t queued_writes_ = 0;
  std::uint64_t submitted_ = 0;  // batches ever queued
  std::uint64_t completed_ = 0;  // batches ever written
  bool stopping_ = false;
  Stats stats_;
  std::thread thread_;
};

}  // namespace fastid::store
