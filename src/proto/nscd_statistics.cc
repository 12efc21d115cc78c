// nscd's `struct statdata` for GETSTAT (nscd_statistics.h).
#include "proto/nscd_statistics.h"

#include <cstring>

namespace fastid::proto::nscd {
namespace {

// Offsets in struct statdata (x86-64): version, debug_level, runtime,
// client_queued, nthreads, max_nthreads, paranoia, restart_interval,
// reload_count, ndbs, dbs[5], then SELinux's avc_cache_stats (8 unsigned).
constexpr std::size_t kVersionAt = 0, kRuntimeAt = 8, kThreadsAt = 24, kMaxThreadsAt = 28, kReloadsAt = 48,
                      kDatabasesCountAt = 52, kDatabasesAt = 56;
// Offsets in struct dbstat: four ints, then size_t and unsigned long fields,
// then uintmax_t counters.
constexpr std::size_t kEnabledAt = 0, kSharedAt = 8, kModuleAt = 16, kPosTimeoutAt = 24, kNegTimeoutAt = 32,
                      kEntriesAt = 40, kMaxEntriesAt = 48, kDataSizeAt = 64, kDataUsedAt = 72, kPosHitAt = 80,
                      kNegHitAt = 88, kAddFailedAt = 128;
static_assert(kDatabasesAt + kStatisticsDatabases * kDatabaseStatisticsSize + 8 * 4 == kStatisticsSize);

template <typename T>
void put(std::vector<std::uint8_t>& out, std::size_t at, T v) {
  std::memcpy(out.data() + at, &v, sizeof v);
}

void put_database(std::vector<std::uint8_t>& out, std::size_t index, const DatabaseStatistics& d) {
  const std::size_t base = kDatabasesAt + index * kDatabaseStatisticsSize;
  put<std::int32_t>(out, base + kEnabledAt, d.enabled ? 1 : 0);
  put<std::int32_t>(out, base + kSharedAt, d.shared ? 1 : 0);
  put<std::uint64_t>(out, base + kModuleAt, d.buckets);
  put<std::uint64_t>(out, base + kPosTimeoutAt, d.positive_ttl_s);
  put<std::uint64_t>(out, base + kNegTimeoutAt, d.negative_ttl_s);
  put<std::uint64_t>(out, base + kEntriesAt, d.entries);
  put<std::uint64_t>(out, base + kMaxEntriesAt, d.entries);
  put<std::uint64_t>(out, base + kDataSizeAt, d.data_size);
  put<std::uint64_t>(out, base + kDataUsedAt, d.data_used);
  put<std::uint64_t>(out, base + kPosHitAt, d.positive_answers);
  put<std::uint64_t>(out, base + kNegHitAt, d.negative_answers);
  put<std::uint64_t>(out, base + kAddFailedAt, d.failed);
}

}  // namespace

std::vector<std::uint8_t> encode_statistics(const Statistics& s) {
  std::vector<std::uint8_t> out(kStatisticsSize, 0);
  put<std::uint32_t>(out, kVersionAt, kStatisticsVersion);
  put<std::int64_t>(out, kRuntimeAt, s.runtime_s);
  put<std::int32_t>(out, kThreadsAt, s.threads);
  put<std::int32_t>(out, kMaxThreadsAt, s.threads);
  put<std::uint32_t>(out, kReloadsAt, s.reloads);
  put<std::int32_t>(out, kDatabasesCountAt, static_cast<std::int32_t>(kStatisticsDatabases));
  put_database(out, 0, s.passwd);
  put_database(out, 1, s.group);
  return out;
}

}  // namespace fastid::proto::nscd
