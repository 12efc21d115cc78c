// The metrics listener's document: every front worker's figures as
// Prometheus text (docs/operations.md, "Metrics", lists each metric).
//
// One snapshot serves both `fastid status` and the metrics: each front
// worker's own status items (server, gate, store, fast cache, pools, PAM,
// router) plus its lookup figures (lookup_metrics.h) are encoded by
// encode_metrics_snapshot and stored in its slot of the shared figures page
// (supervisor/front_worker_figures.h), every 500 ms and before a scrape;
// whichever front worker takes the scrape decodes every slot and renders them
// with render_metrics. Figures of one process are summed over the front
// workers; figures of what they share (the store file, the fast cache maps,
// the lockout table) are taken once. No Asio; pure.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "server/directory.h"

namespace fastid::server {

// At most this many bytes of one front worker's snapshot (its page slot).
inline constexpr std::size_t kMetricsSnapshotBytes = 64 * 1024;

// "name\tvalue\n" lines of the items whose value is a figure (decimal) or a
// provider state (online/offline); a pool's worker lines become counts per
// state ("pool.<p>.state.<state>"). Never longer than `limit`: lines past it
// are left out and "metrics.truncated 1" said.
std::string encode_metrics_snapshot(const StatusItems& items, std::size_t limit = kMetricsSnapshotBytes);
// The items back; a malformed line is skipped.
StatusItems decode_metrics_snapshot(std::string_view text);

// The exposition of `workers` (one item list per live front worker).
std::string render_metrics(std::span<const StatusItems> workers);

}  // namespace fastid::server
