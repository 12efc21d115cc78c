// LookupMetrics: lookups by kind and result, and their latency (lookup_metrics.h).
#include "server/lookup_metrics.h"

#include <algorithm>
#include <string>

namespace fastid::server {

const char* lookup_kind_name(model::Kind kind) {
  switch (kind) {
    case model::Kind::kUserByName: return "user_by_name";
    case model::Kind::kUserByUid: return "user_by_uid";
    case model::Kind::kGroupByName: return "group_by_name";
    case model::Kind::kGroupByGid: return "group_by_gid";
    case model::Kind::kInitgroups: return "initgroups";
    case model::Kind::kUsersPage: return "users_page";
    case model::Kind::kGroupsPage: return "groups_page";
    case model::Kind::kNetgroup: return "netgroup";
    case model::Kind::kSshKeys: return "ssh_keys";
  }
  return "unknown";
}

const char* lookup_result_name(LookupResult result) {
  switch (result) {
    case LookupResult::kFound: return "found";
    case LookupResult::kNotFound: return "not_found";
    case LookupResult::kUnavailable: return "unavailable";
    case LookupResult::kError: return "error";
  }
  return "error";
}

LookupResult lookup_result_of(core::Code code) {
  switch (code) {
    case core::Code::kNotFound: return LookupResult::kNotFound;
    case core::Code::kUnavailable:
    case core::Code::kBusy:
    case core::Code::kTimeout: return LookupResult::kUnavailable;  // "try again"
    default: return LookupResult::kError;
  }
}

void LookupMetrics::record(model::Kind kind, LookupResult result, std::chrono::nanoseconds took) {
  const auto k = static_cast<std::size_t>(kind);
  if (k >= kLookupKinds) return;
  PerKind& p = kinds_[k];
  ++p.results[static_cast<std::size_t>(result)];
  const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
  const auto* bound = std::lower_bound(kLatencyBoundsUs.begin(), kLatencyBoundsUs.end(), us);
  ++p.buckets[static_cast<std::size_t>(bound - kLatencyBoundsUs.begin())];
  p.sum_us += us;
}

StatusItems LookupMetrics::items() const {
  StatusItems out;
  for (std::size_t k = 0; k < kLookupKinds; ++k) {
    const PerKind& p = kinds_[k];
    std::uint64_t asked = 0;
    for (std::uint64_t n : p.results) asked += n;
    if (asked == 0) continue;
    const std::string prefix = std::string("lookup.") + lookup_kind_name(static_cast<model::Kind>(k)) + ".";
    for (std::size_t r = 0; r < kLookupResults; ++r) {
      out.emplace_back(prefix + lookup_result_name(static_cast<LookupResult>(r)), std::to_string(p.results[r]));
    }
    for (std::size_t b = 0; b < kLatencyBuckets; ++b) {
      if (p.buckets[b] != 0) out.emplace_back(prefix + "bucket." + std::to_string(b), std::to_string(p.buckets[b]));
    }
    out.emplace_back(prefix + "sum_us", std::to_string(p.sum_us));
  }
  return out;
}

}  // namespace fastid::server
