// StoreFront: the persistent store (src/store) in front of one pooled
// provider, and that provider's offline mode. docs/store.md.
//
// A lookup is answered from the store while its record is fresh; otherwise the
// provider is asked and its answer (or its "no such entry") written back. A
// fresh record with less than refresh_ahead left is answered at once and put
// on a refresh queue that a self re-arming timer drains in the background:
// the request never waits for the refresh.
//
// When a lookup fails with kUnavailable or kTimeout from the pool, a probe
// (a lookup any reachable provider answers at once) decides between one bad
// entry (a name that hangs or crashes a worker: the provider stays online)
// and an outage; when the probe fails too, the provider is offline: expired
// records fetched at most offline_max_age
// ago are answered, a name with no such record fails at once with
// kUnavailable (the NSS module's "try again", never "no such user"), no
// lookup goes to the provider, and a probe timer asks it every
// probe_interval; its first answer puts the provider back online. Each
// transition is logged once.
//
// Loop-thread only. Owned through shared_ptr: background refreshes and probes
// hold a reference, so stop() then dropping the last Backend copy is safe.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/status.h"
#include "pool/provider_pool.h"
#include "model/records.h"
#include "store/store.h"

namespace fastid::server {

struct StoreFrontOptions {
  std::chrono::milliseconds ttl{5400000};
  std::chrono::milliseconds negative_ttl{15000};
  std::chrono::milliseconds refresh_ahead{300000};
  std::chrono::milliseconds offline_max_age{604800000};
  std::chrono::milliseconds probe_interval{5000};
  // How often the refresh queue is drained, and how many refreshes may be
  // in flight at once (so a burst of near-expiry hits never floods the pool).
  std::chrono::milliseconds refresh_tick{1000};
  std::size_t max_refreshes_in_flight = 8;
  std::size_t max_refresh_queue = 10000;
};

class StoreFront : public std::enable_shared_from_this<StoreFront> {
 public:
  StoreFront(asio::any_io_executor executor, std::shared_ptr<store::Store> store,
             std::shared_ptr<pool::ProviderPool> pool, StoreFrontOptions options);
  ~StoreFront();
  StoreFront(const StoreFront&) = delete;
  StoreFront& operator=(const StoreFront&) = delete;

  // Arms the refresh timer. Called once, after construction through make_shared.
  void start();
  // Cancels the timers; no refresh or probe starts afterwards. Lookups still
  // work (a request in flight during a reload finishes normally).
  void stop();

  asio::awaitable<core::Result<model::User>> user_by_name(std::string name);
  asio::awaitable<core::Result<model::User>> user_by_uid(std::uint32_t uid);
  asio::awaitable<core::Result<model::Group>> group_by_name(std::string name);
  asio::awaitable<core::Result<model::Group>> group_by_gid(std::uint32_t gid);
  asio::awaitable<core::Result<std::vector<std::uint32_t>>> initgroups(std::string user);

  // Enumeration is not stored: it goes to the provider, and fails at once
  // while the provider is offline.
  bool offline() const { return offline_; }
  const std::string& name() const { return pool_->name(); }

  // "store.<provider>.state" = online/offline, hits, misses, stale answers …
  std::vector<std::pair<std::string, std::string>> status_items() const;

  // One stored key: which map, and the name or id.
  struct Query {
    store::Map map = store::Map::kUserByName;
    std::string name;      // by-name maps and initgroups
    std::uint32_t id = 0;  // by-id maps
    bool operator<(const Query& o) const {
      return std::tie(map, name, id) < std::tie(o.map, o.name, o.id);
    }
  };

 private:
  template <typename T>
  asio::awaitable<core::Result<T>> lookup(Query q);
  template <typename T>
  core::Result<std::optional<store::Record<T>>> read(const Query& q);
  template <typename T>
  asio::awaitable<core::Result<T>> ask(Query q);
  template <typename T>
  void write(const Query& q, const T& value, store::Millis now);
  void write_negative(const Query& q, store::Millis now);
  template <typename T>
  core::Result<T> offline_answer(const std::optional<store::Record<T>>& rec, const Query& q,
                                 store::Millis now);
  std::string describe(const Query& q) const;

  void suspect();  // a lookup failed as if offline: probe now to decide
  void go_offline(const core::Status& cause);
  void go_online();
  void arm_probe();
  void arm_refresh();
  void queue_refresh(const Query& q);
  static asio::awaitable<void> probe(std::shared_ptr<StoreFront> self);
  static asio::awaitable<void> refresh(std::shared_ptr<StoreFront> self, Query q);
  asio::awaitable<core::Status> refresh_one(Query q);

  asio::any_io_executor executor_;
  std::shared_ptr<store::Store> store_;
  std::shared_ptr<pool::ProviderPool> pool_;
  StoreFrontOptions options_;
  asio::steady_timer probe_timer_;
  asio::steady_timer refresh_timer_;
  bool stopping_ = false;
  bool offline_ = false;
  bool probing_ = false;
  std::chrono::steady_clock::time_point offline_since_{};
  std::string offline_cause_;
  std::deque<Query> refresh_queue_;
  std::set<Query> refresh_queued_;  // what refresh_queue_ holds or is in flight, once each
  std::size_t refreshes_in_flight_ = 0;
  bool store_error_logged_ = false;

  struct Counters {
    std::uint64_t hits = 0;           // fresh records answered
    std::uint64_t negative_hits = 0;  // of which "no such entry"
    std::uint64_t misses = 0;         // asked the provider
    std::uint64_t stale = 0;          // expired records answered (offline or provider failing)
    std::uint64_t unavailable = 0;    // offline and nothing to answer
    std::uint64_t refreshed = 0;      // background refreshes that wrote a record
    std::uint64_t offline_transitions = 0;
    std::uint64_t probes = 0;
  } counters_;
};

}  // namespace fastid::server
