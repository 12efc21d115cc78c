// PoolOptions: how a provider's pool of provider worker processes sizes and
// paces its workers (provider_pool.h says what each value does). A header of
// its own, with no Asio, so that the daemon's configuration (daemon/config.h,
// read by the fuzz targets too) holds these values as they are instead of a
// copy of the struct.
#pragma once

#include <chrono>

namespace fastid::pool {

// The daemon fills it from [pool] and the provider's `pool = { ... }`; the
// rules between the values (min_workers <= max_workers, ...) are checked
// there. The defaults must equal the settings table's (config_test checks).
struct PoolOptions {
  int min_workers = 1;
  int max_workers = 16;
  int min_spare_workers = 1;
  std::chrono::milliseconds spare_idle_timeout{60000};
  std::chrono::milliseconds request_timeout{10000};
  int max_requests_per_worker = 100000;  // 0 = never recycle
  int max_queue = 1024;
  int auth_workers = 1;  // lookups never hold more than max_workers - auth_workers (at least 1)

  bool operator==(const PoolOptions&) const = default;
};

}  // namespace fastid::pool
