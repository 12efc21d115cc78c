#include "supervisor/front_worker_figures.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace fastid::supervisor {
namespace {
constexpr auto kRelaxed = std::memory_order_relaxed;
}  // namespace

core::Result<FrontWorkerFigures> FrontWorkerFigures::create(int workers) {
  if (workers < 1) return core::error(core::Status::invalid_argument("no workers"));
  FrontWorkerFigures f;
  f.bytes_ = sizeof(FrontWorkerSlot) * static_cast<std::size_t>(workers);
  void* p = ::mmap(nullptr, f.bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return core::error(core::status_from_errno(errno, "mmap worker figures"));
  // Zero-filled by the kernel: every atomic starts at 0, a valid object
  // representation for lock-free integer atomics.
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
  f.slots_ = static_cast<FrontWorkerSlot*>(p);
  f.workers_ = workers;
  return f;
}

FrontWorkerFigures::FrontWorkerFigures(FrontWorkerFigures&& o) noexcept
    : slots_(std::exchange(o.slots_, nullptr)), workers_(o.workers_), bytes_(o.bytes_) {}

FrontWorkerFigures& FrontWorkerFigures::operator=(FrontWorkerFigures&& o) noexcept {
  if (this != &o) {
    if (slots_) ::munmap(slots_, bytes_);
    slots_ = std::exchange(o.slots_, nullptr);
    workers_ = o.workers_;
    bytes_ = o.bytes_;
  }
  return *this;
}

FrontWorkerFigures::~FrontWorkerFigures() {
  if (slots_) ::munmap(slots_, bytes_);
}

void FrontWorkerFigures::publish(int index, const FrontWorkerSample& s) {
  if (slots_ == nullptr || index < 0 || index >= workers_) return;
  FrontWorkerSlot& w = slots_[index];
  w.requests.store(s.requests, kRelaxed);
  w.connections_open.store(s.connections_open, kRelaxed);
  w.connections_accepted.store(s.connections_accepted, kRelaxed);
  w.connections_rejected.store(s.connections_rejected, kRelaxed);
  w.closed_idle.store(s.closed_idle, kRelaxed);
  w.closed_protocol.store(s.closed_protocol, kRelaxed);
  w.udp_requests.store(s.udp_requests, kRelaxed);
  w.network_refused.store(s.network_refused, kRelaxed);
  w.reloads.store(s.reloads, kRelaxed);
  w.idle_timeout_ms.store(s.idle_timeout_ms, kRelaxed);
  w.stall_timeout_ms.store(s.stall_timeout_ms, kRelaxed);
  w.max_connections.store(s.max_connections, kRelaxed);
  w.rss_kib.store(s.rss_kib, kRelaxed);
  w.loop_longest_turn_us.store(s.loop_longest_turn_us, kRelaxed);
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now().time_since_epoch());
  w.updated_monotonic_ms.store(now.count(), kRelaxed);
  w.pid.store(::getpid(), std::memory_order_release);
}

void FrontWorkerFigures::publish_snapshot(int index, std::string_view text) {
  if (slots_ == nullptr || index < 0 || index >= workers_) return;
  FrontWorkerSlot& w = slots_[index];
  const std::size_t bytes = std::min(text.size(), kSnapshotWords * sizeof(std::uint64_t));
  const std::uint64_t seq = w.snapshot_sequence.load(kRelaxed);
  w.snapshot_sequence.store(seq + 1, kRelaxed);  // odd: being written
  std::atomic_thread_fence(std::memory_order_release);
  for (std::size_t i = 0; i * 8 < bytes; ++i) {
    std::uint64_t word = 0;
    std::memcpy(&word, text.data() + i * 8, std::min<std::size_t>(8, bytes - i * 8));
    w.snapshot[i].store(word, kRelaxed);
  }
  w.snapshot_bytes.store(bytes, kRelaxed);
  w.snapshot_sequence.store(seq + 2, std::memory_order_release);
}

std::vector<std::string> FrontWorkerFigures::snapshots() const {
  std::vector<std::string> out;
  if (slots_ == nullptr) return out;
  for (int i = 0; i < workers_; ++i) {
    const FrontWorkerSlot& w = slots_[i];
    if (w.pid.load(std::memory_order_acquire) <= 0) continue;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const std::uint64_t before = w.snapshot_sequence.load(std::memory_order_acquire);
      if (before % 2 != 0) continue;
      const std::size_t bytes =
          std::min<std::size_t>(w.snapshot_bytes.load(kRelaxed), kSnapshotWords * sizeof(std::uint64_t));
      std::string text(bytes, '\0');
      for (std::size_t k = 0; k * 8 < bytes; ++k) {
        const std::uint64_t word = w.snapshot[k].load(kRelaxed);
        std::memcpy(text.data() + k * 8, &word, std::min<std::size_t>(8, bytes - k * 8));
      }
      std::atomic_thread_fence(std::memory_order_acquire);
      if (w.snapshot_sequence.load(kRelaxed) != before) continue;
      out.push_back(std::move(text));
      break;
    }
  }
  return out;
}

void FrontWorkerFigures::clear(int index) {
  if (slots_ == nullptr || index < 0 || index >= workers_) return;
  slots_[index].pid.store(0, std::memory_order_release);
}

std::vector<std::pair<std::string, std::string>> FrontWorkerFigures::status_items() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (slots_ == nullptr) return out;
  out.emplace_back("workers", std::to_string(workers_));
  FrontWorkerSample total;
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  for (int i = 0; i < workers_; ++i) {
    const FrontWorkerSlot& w = slots_[i];
    const std::int64_t pid = w.pid.load(std::memory_order_acquire);
    if (pid <= 0) continue;
    const std::string p = "worker." + std::to_string(i) + ".";
    auto add = [&](const char* name, std::uint64_t v, std::uint64_t* sum) {
      out.emplace_back(p + name, std::to_string(v));
      if (sum) *sum += v;
    };
    out.emplace_back(p + "pid", std::to_string(pid));
    out.emplace_back(p + "age_ms", std::to_string(now_ms - w.updated_monotonic_ms.load(kRelaxed)));
    add("requests", w.requests.load(kRelaxed), &total.requests);
    add("connections.open", w.connections_open.load(kRelaxed), &total.connections_open);
    add("connections.accepted", w.connections_accepted.load(kRelaxed), &total.connections_accepted);
    add("connections.rejected", w.connections_rejected.load(kRelaxed), &total.connections_rejected);
    add("connections.closed_idle", w.closed_idle.load(kRelaxed), &total.closed_idle);
    add("connections.closed_protocol", w.closed_protocol.load(kRelaxed), &total.closed_protocol);
    add("udp.requests", w.udp_requests.load(kRelaxed), &total.udp_requests);
    add("network.refused", w.network_refused.load(kRelaxed), &total.network_refused);
    add("reloads", w.reloads.load(kRelaxed), nullptr);
    add("idle_timeout_ms", w.idle_timeout_ms.load(kRelaxed), nullptr);
    add("stall_timeout_ms", w.stall_timeout_ms.load(kRelaxed), nullptr);
    add("max_connections", w.max_connections.load(kRelaxed), nullptr);
    add("rss_kib", w.rss_kib.load(kRelaxed), &total.rss_kib);
    const std::uint64_t turn = w.loop_longest_turn_us.load(kRelaxed);
    add("loop.longest_turn_us", turn, nullptr);
    total.loop_longest_turn_us = std::max(total.loop_longest_turn_us, turn);
  }
  out.emplace_back("total.requests", std::to_string(total.requests));
  out.emplace_back("total.connections.open", std::to_string(total.connections_open));
  out.emplace_back("total.connections.accepted", std::to_string(total.connections_accepted));
  out.emplace_back("total.udp.requests", std::to_string(total.udp_requests));
  out.emplace_back("total.rss_kib", std::to_string(total.rss_kib));
  out.emplace_back("max.loop.longest_turn_us", std::to_string(total.loop_longest_turn_us));
  return out;
}

std::uint64_t self_rss_kib() {
  int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  unsigned long long size = 0, resident = 0;
  if (std::sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) / 1024;
}

}  // namespace fastid::supervisor
