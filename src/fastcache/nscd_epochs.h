// The nscd front with several front workers (docs/nscd.md, "Several front
// workers"): each worker holds and hands out maps of its own, and they are
// kept consistent through this page, mapped shared before the fork. A worker
// that invalidates a database (an administrator's `nscd -i` or `fastid cache
// invalidate`, which reach one worker) advances the database's epoch; every
// worker compares the epoch with the one its maps were made at before it
// hands a map out or publishes into one, and on its timer (each second), and
// retires a map made before the invalidation. One instance per daemon; any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "core/status.h"
#include "proto/nscd.h"

namespace fastid::fastcache {

class NscdEpochs {
 public:
  // Maps the page (MAP_SHARED | MAP_ANONYMOUS): processes forked afterwards share it.
  static core::Result<std::shared_ptr<NscdEpochs>> create();
  ~NscdEpochs();
  NscdEpochs(const NscdEpochs&) = delete;
  NscdEpochs& operator=(const NscdEpochs&) = delete;

  std::uint64_t current(proto::nscd::Database db) const;
  // A database invalidated: the new epoch, which every worker's maps must reach.
  std::uint64_t advance(proto::nscd::Database db);

 private:
  NscdEpochs() = default;
  std::atomic<std::uint64_t>* epochs_ = nullptr;  // [passwd, group], in the shared page
};

}  // namespace fastid::fastcache
