// StoredDirectory: the persistent store (src/store) in front of another
// directory (a pooled provider's), and that directory's offline mode.
// docs/store.md.
//
// A lookup is answered from the store while its record is fresh; otherwise
// the directory behind is asked and its answer (or its "no such entry")
// written back. A fresh record with less than refresh_ahead left is answered
// at once and put on a refresh queue that a self re-arming timer drains in the
// background: the request never waits for the refresh. Enumeration pages are
// not stored: they go to the directory behind.
//
// An expired record is also answered, online, when the directory behind has
// not answered within stale_after (its answer, when it comes, is written
// back): a hung directory or a pool's timeout, retry and backoff can outlast
// the client's own reply timeout, and the store has an answer now.
//
// When a lookup fails with kUnavailable or kTimeout, a probe (a lookup any
// reachable provider answers at once) decides between one bad entry (a name
// that hangs or crashes a provider worker: the directory stays online) and an outage;
// when the probe fails too, the directory is offline: expired records
// fetched at most offline_max_age ago are answered, a name with no such
// record fails at once with kUnavailable (the NSS module's "try again", never
// "no such user"), pages fail at once, no lookup goes to the directory behind,
// and a probe timer asks it every probe_interval; its first answer puts it
// back online. Each transition is logged once.
//
// Authentication and account checks are never stored: they go to the
// directory behind. Loop-thread only. Owned through shared_ptr: background
// refreshes and probes hold a reference, so stop() then dropping the last
// copy is safe.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/directory.h"
#include "server/wrapping_directory.h"
#include "store/store.h"
#include "store/store_writer.h"

namespace fastid::server {

struct StoredDirectoryOptions {
  std::chrono::milliseconds ttl{5400000};
  std::chrono::milliseconds negative_ttl{15000};
  std::chrono::milliseconds refresh_ahead{300000};
  std::chrono::milliseconds offline_max_age{604800000};
  std::chrono::milliseconds probe_interval{5000};
  // Online, an expired record (within offline_max_age) is answered if the
  // directory behind has not answered within this long; 0: wait for it.
  std::chrono::milliseconds stale_after{2000};
  // How often the refresh queue is drained, and how many refreshes may be
  // in flight at once (so a burst of near-expiry hits never floods the pool).
  std::chrono::milliseconds refresh_tick{1000};
  std::size_t max_refreshes_in_flight = 8;
  std::size_t max_refresh_queue = 10000;
};

class StoredDirectory final : public WrappingDirectory, public std::enable_shared_from_this<StoredDirectory> {
 public:
  StoredDirectory(asio::any_io_executor executor, std::shared_ptr<store::Store> store, DirectoryPtr behind,
                  StoredDirectoryOptions options);
  ~StoredDirectory() override;
  StoredDirectory(const StoredDirectory&) = delete;
  StoredDirectory& operator=(const StoredDirectory&) = delete;

  // Arms the refresh timer. Called once, after construction through make_shared.
  void start();
  // Cancels the timers (no refresh or probe starts afterwards) and stops the
  // directory behind. Lookups still work (a request in flight during a
  // reload finishes normally).
  void stop() override;

  // name(), request_timeout(), authenticate(), account() and
  // change_password(): the directory behind's (WrappingDirectory).
  asio::awaitable<core::Result<model::Answer>> lookup(model::Query query) override;

  // Authentication asks this when the directory behind failed it with
  // `failure`: true while it is offline. Online, a failure that may mean an
  // outage (unavailable, timeout) is settled by a probe now; anything else
  // (busy, an internal error) is never an outage: offline credentials must
  // not be reachable by filling the pool.
  asio::awaitable<bool> offline(core::Status failure) override;
  asio::awaitable<core::Status> probe() override;

  bool offline() const { return offline_; }
  // Store writes go to this writer thread instead of the loop (null: written
  // on the loop, as unit tests without a writer do). Set before start().
  void set_writer(std::shared_ptr<store::StoreWriter> writer) { writer_ = std::move(writer); }

  // The directory's own, then "store.<provider>.state" = online/offline,
  // hits, misses, stale answers …
  StatusItems status_items() const override;

 private:
  using Stored = std::optional<store::Record<model::Answer>>;

  // A lookup racing the directory against stale_after: the timer wakes the
  // lookup, early (cancelled) when the directory's answer is in `result`.
  struct Race {
    explicit Race(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    std::optional<core::Result<model::Answer>> result;
  };

  asio::awaitable<core::Result<model::Answer>> ask(model::Query q);
  void settle(const model::Query& q, const core::Result<model::Answer>& r, store::Millis after);
  static asio::awaitable<void> ask_and_settle(std::shared_ptr<StoredDirectory> self, model::Query q,
                                              std::shared_ptr<Race> race);
  Stored read(const model::Query& q);
  void write(const model::Query& q, const model::Answer& answer, store::Millis now);
  void write_negative(const model::Query& q, store::Millis now);
  // A miss's answer (or "no such entry": nullopt) is written after the reply:
  // queued here, and every queued write of a loop turn goes in one
  // transaction (Store::put_batch) from a handler posted behind the reply.
  void queue_write(const model::Query& q, std::optional<model::Answer> answer, store::Millis now);
  void flush_writes();
  store::StoreWriter::Write to_write(const model::Query& q, std::optional<model::Answer> answer,
                                     store::Millis now) const;
  void hand_over(store::StoreWriter::Batch batch);
  core::Result<model::Answer> offline_answer(const Stored& rec, const model::Query& q, store::Millis now);

  void suspect();  // a lookup failed as if offline: probe now to decide
  void go_offline(const core::Status& cause);
  void go_online();
  void arm_probe();
  void arm_refresh();
  void queue_refresh(const model::Query& q);
  static asio::awaitable<void> probe(std::shared_ptr<StoredDirectory> self);
  static asio::awaitable<void> refresh(std::shared_ptr<StoredDirectory> self, model::Query q);

  asio::any_io_executor executor_;
  std::shared_ptr<store::Store> store_;
  std::shared_ptr<store::StoreWriter> writer_;
  StoredDirectoryOptions options_;
  asio::steady_timer probe_timer_;
  asio::steady_timer refresh_timer_;
  bool stopping_ = false;
  bool offline_ = false;
  bool probing_ = false;
  std::chrono::steady_clock::time_point offline_since_{};
  std::string offline_cause_;
  std::deque<model::Query> refresh_queue_;
  std::set<model::Query> refresh_queued_;  // what refresh_queue_ holds or is in flight, once each
  std::size_t refreshes_in_flight_ = 0;
  bool store_error_logged_ = false;
  struct PendingWrite {
    model::Query query;
    std::optional<model::Answer> answer;  // nullopt: no such entry
    store::Millis at;
  };
  std::vector<PendingWrite> pending_writes_;  // flushed by one posted handler
  // What was handed to the writer and is not committed yet, by batch number:
  // a lookup of one of those keys right after its miss is answered from here,
  // as the store will (glibc often asks twice: initgroups for the count,
  // then for the list). Dropped once the writer has committed the batch.
  std::deque<std::pair<std::uint64_t, store::StoreWriter::Write>> unconfirmed_;

  struct Counters {
    std::uint64_t hits = 0;           // fresh records answered
    std::uint64_t negative_hits = 0;  // of which "no such entry"
    std::uint64_t misses = 0;         // asked the directory behind
    std::uint64_t stale = 0;          // expired records answered (offline or directory failing)
    std::uint64_t stale_slow = 0;     // of which: the directory had not answered within stale_after
    std::uint64_t unavailable = 0;    // offline and nothing to answer
    std::uint64_t refreshed = 0;      // background refreshes that wrote a record
    std::uint64_t offline_transitions = 0;
    std::uint64_t probes = 0;
  } counters_;
};

}  // namespace fastid::server
