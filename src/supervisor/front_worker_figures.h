// FrontWorkerFigures: one small shared memory region where every front worker
// publishes its figures, so that `fastid status` — answered by whichever
// front worker took the connection — shows all of them.
//
// Why shared memory and not a request to each front worker: a status request would
// otherwise need the answering front worker to reach its siblings (a socketpair per
// pair of front workers, or through the supervisor, which runs no event loop and must
// stay that way). A page the supervisor maps before it forks costs nothing,
// needs no protocol, and a hung or dead front worker cannot block the answer: its
// figures simply stop moving (its slot shows its pid and when it last wrote).
//
// Each front worker writes only its own slot, field by field with relaxed atomic
// stores, on a timer (every 500 ms) and after a reload; readers load fields
// the same way. Figures of different fields need not be from the same instant.
//
// Beside the fixed fields, each slot holds the front worker's whole figures
// snapshot as opaque text (the metrics listener's source: every front worker's
// status figures, server/metrics_exposition.h). It is written under a sequence
// counter (odd while being written) in 8-byte atomic words, and a reader that
// sees the counter move copies again, so it never takes a torn snapshot.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace fastid::supervisor {

// Bytes of one front worker's snapshot text.
inline constexpr std::size_t kSnapshotWords = 8192;  // 64 KiB

struct FrontWorkerSlot {
  std::atomic<std::int64_t> pid;
  // When the front worker last wrote its slot: CLOCK_MONOTONIC ms (system-wide,
  // and these processes share one boot), so that age_ms is not off by a day
  // when the wall clock is stepped (clock_jump_system_test).
  std::atomic<std::int64_t> updated_monotonic_ms;
  std::atomic<std::uint64_t> requests;
  std::atomic<std::uint64_t> connections_open;
  std::atomic<std::uint64_t> connections_accepted;
  std::atomic<std::uint64_t> connections_rejected;
  std::atomic<std::uint64_t> closed_idle;
  std::atomic<std::uint64_t> closed_protocol;
  std::atomic<std::uint64_t> udp_requests;
  std::atomic<std::uint64_t> network_refused;
  std::atomic<std::uint64_t> reloads;
  std::atomic<std::uint64_t> idle_timeout_ms;   // reloadable settings in force
  std::atomic<std::uint64_t> stall_timeout_ms;
  std::atomic<std::uint64_t> max_connections;
  std::atomic<std::uint64_t> rss_kib;           // the front worker's resident set
  std::atomic<std::uint64_t> snapshot_sequence;  // odd while the snapshot is being written
  std::atomic<std::uint64_t> snapshot_bytes;
  std::atomic<std::uint64_t> snapshot[kSnapshotWords];
  std::atomic<std::uint64_t> loop_longest_turn_us;  // server/loop_monitor.h
};

// The fields a front worker publishes (a plain copy, filled by the front worker).
struct FrontWorkerSample {
  std::uint64_t requests = 0, connections_open = 0, connections_accepted = 0, connections_rejected = 0,
                closed_idle = 0, closed_protocol = 0, udp_requests = 0, network_refused = 0, reloads = 0,
                idle_timeout_ms = 0, stall_timeout_ms = 0, max_connections = 0, rss_kib = 0,
                loop_longest_turn_us = 0;
};

class FrontWorkerFigures {
 public:
  // Maps a shared anonymous region of `workers` slots; call before fork().
  static core::Result<FrontWorkerFigures> create(int workers);
  FrontWorkerFigures() = default;
  FrontWorkerFigures(FrontWorkerFigures&& other) noexcept;
  FrontWorkerFigures& operator=(FrontWorkerFigures&& other) noexcept;
  ~FrontWorkerFigures();

  int workers() const { return workers_; }

  // The front worker `index` writes its sample (and its pid, and the time).
  void publish(int index, const FrontWorkerSample& sample);
  // The front worker `index` stores its snapshot text (cut at
  // kSnapshotWords * 8 bytes; the writer keeps it below that).
  void publish_snapshot(int index, std::string_view text);
  // The snapshot of every slot with a live pid, in slot order; a slot whose
  // snapshot kept changing while read (three tries) is left out.
  std::vector<std::string> snapshots() const;

  // The supervisor clears the slot of a front worker that died.
  void clear(int index);

  // Status lines: "workers", then "worker.<i>.<figure>" for every slot with a
  // live pid, then "total.<figure>" sums.
  std::vector<std::pair<std::string, std::string>> status_items() const;

 private:
  FrontWorkerSlot* slots_ = nullptr;
  int workers_ = 0;
  std::size_t bytes_ = 0;
};

// The calling process's resident set in KiB (from /proc/self/statm).
std::uint64_t self_rss_kib();

}  // namespace fastid::supervisor
