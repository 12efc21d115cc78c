// LookupMetrics: how many lookups of each kind a front worker answered, by
// result, and how long they took (a histogram per kind), for the metrics
// listener (metrics_exposition.h). Counted once per lookup in
// NssHandler::lookup, which every front end goes through (the wire, Varlink,
// nscd). Loop-thread only; no Asio.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "model/query.h"
#include "server/directory.h"

namespace fastid::server {

enum class LookupResult : std::uint8_t { kFound, kNotFound, kUnavailable, kError };
inline constexpr std::size_t kLookupResults = static_cast<std::size_t>(LookupResult::kError) + 1;
inline constexpr std::size_t kLookupKinds = static_cast<std::size_t>(model::Kind::kSshKeys) + 1;

// The histogram's upper bounds in microseconds; one more bucket (+Inf) follows.
inline constexpr std::array<std::uint64_t, 17> kLatencyBoundsUs{
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
    10000000};
inline constexpr std::size_t kLatencyBuckets = kLatencyBoundsUs.size() + 1;
// The same bounds in seconds, as the exposition's `le` labels say them.
inline constexpr std::array<const char*, kLatencyBoundsUs.size()> kLatencyBoundsLabel{
    "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",    "0.1",    "0.25",    "0.5",    "1",     "2.5",    "5",     "10"};

const char* lookup_kind_name(model::Kind kind);       // "user_by_name"
const char* lookup_result_name(LookupResult result);  // "found", "not_found", "unavailable", "error"
// The result a failed lookup's status code comes to (kNotFound; kUnavailable
// for "try again": unavailable, busy, timed out; kError for the rest).
LookupResult lookup_result_of(core::Code code);

class LookupMetrics {
 public:
  void record(model::Kind kind, LookupResult result, std::chrono::nanoseconds took);

  // Items for the metrics snapshot (not for `fastid status`: too many lines):
  // "lookup.<kind>.<result>", "lookup.<kind>.bucket.<i>" (not cumulative),
  // "lookup.<kind>.sum_us"; kinds never asked are left out.
  StatusItems items() const;

 private:
  struct PerKind {
    std::array<std::uint64_t, kLookupResults> results{};
    std::array<std::uint64_t, kLatencyBuckets> buckets{};
    std::uint64_t sum_us = 0;
  };
  std::array<PerKind, kLookupKinds> kinds_{};
};

}  // namespace fastid::server
