// CacheControl: what an administrator asks of the daemon's caches (`fastid
// cache invalidate|show`, through the admin socket and AdminHandler): empty
// whole maps, drop one user or group, or show what is held for one. Both
// caches are shared by every front worker — the persistent store is one LMDB
// file, the fast cache one set of mapped files — so what the worker that took
// the request does here, every worker sees at once; no worker keeps a copy of
// its own (docs/operations.md, "Cache control"). Loop-thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "server/cache_publisher.h"
#include "server/directory.h"

namespace fastid::store {
class Store;
}

namespace fastid::server {

class CacheControl {
 public:
  // The fast cache (nullptr: disabled). Not owned.
  void set_publisher(CachePublisher* publisher) { publisher_ = publisher; }
  // The store (nullptr: none) and the providers whose records it holds (the
  // pooled ones of the running configuration), asked at each request.
  // `settle` (may be empty) returns once the writes queued before it are in
  // the store (StoreWriter::wait_idle): an erase must not be undone by a
  // write of an older answer that was still queued, and `show` must see it.
  void set_store(std::shared_ptr<store::Store> store, std::function<std::vector<std::string>()> providers,
                 std::function<void()> settle = {}) {
    store_ = std::move(store);
    providers_ = std::move(providers);
    settle_ = std::move(settle);
  }

  // Every record of the maps in `mask` (proto::kMapPasswd | kMapGroup |
  // kMapInitgroups): the store's, of every provider, and the fast cache's.
  // The message says what went.
  core::Result<std::string> invalidate(std::uint32_t mask);

  // One user (`entry` proto::kEntryUser: passwd by name and uid, and the
  // initgroups list) or group (kEntryGroup: by name and gid), named by `key`
  // (a decimal number is an id, anything else a name, as getent reads it).
  // The other key of the entry is learnt from the stored record, so that
  // `forget user 1001` drops alice's by-name record too.
  core::Result<std::string> forget(std::uint32_t entry, std::string_view key);

  // What is held for the entry: per provider and map, the stored record (its
  // line, or "no such entry"), when it was fetched and when it expires; per
  // fast cache map, whether it is published and until when.
  core::Result<StatusItems> show(std::uint32_t entry, std::string_view key);

 private:
  struct Keys {
    std::vector<std::string> names;
    std::vector<std::uint32_t> ids;
  };
  Keys keys_of(bool group, std::string_view key);
  std::vector<std::string> providers() const { return providers_ ? providers_() : std::vector<std::string>{}; }

  CachePublisher* publisher_ = nullptr;
  std::shared_ptr<store::Store> store_;
  std::function<std::vector<std::string>()> providers_;
  std::function<void()> settle_;
  void settle() const {
    if (settle_) settle_();
  }
};

}  // namespace fastid::server
