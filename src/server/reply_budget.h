// ReplyBudget: the bytes of large replies a front worker has in flight —
// handed to a connection and not yet taken by its peer — against one budget
// per worker (`[daemon] max_large_reply_bytes`). Without it, slow readers of
// many uids together could each keep a large reply of their own (an answer
// of the store or a pooled provider, an enumeration page) for
// `stall_timeout`: up to max_connections × 1 MiB per worker (issue 20,
// docs/reliability.md "Memory bound under these attacks").
//
// A large reply is one whose payload is a buffer of its own (ReplyFrame's
// shared_payload: every answer of SharedRepliesOptions::min_payload bytes or
// more); a payload written to many readers at once (shared_replies.h) counts
// once, however many hold it. Past the budget a new large reply is refused at
// once (the connection answers `busy`, the client's "try again"): its bytes
// are freed before the loop's next turn, where a waiting reply would keep
// them, and a peer that does not read could make every other one wait.
// Non-root peers together may use three quarters of the budget; the last
// quarter is root's (login, sshd and system services run as root), as with
// the connection budgets. Loop-thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proto/messages.h"

namespace fastid::server {

class ReplyBudget {
 public:
  explicit ReplyBudget(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // Holds one reply's payload in the budget while it is written; released
  // when destroyed (the reply written, or the connection gone).
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& o) noexcept : budget_(std::exchange(o.budget_, nullptr)), payload_(std::move(o.payload_)) {}
    Lease& operator=(Lease&& o) noexcept {
      if (this != &o) {
        release();
        budget_ = std::exchange(o.budget_, nullptr);
        payload_ = std::move(o.payload_);
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }
    explicit operator bool() const { return budget_ != nullptr; }

   private:
    friend class ReplyBudget;
    Lease(ReplyBudget* budget, std::shared_ptr<const proto::Bytes> payload)
        : budget_(budget), payload_(std::move(payload)) {}
    void release() {
      if (budget_ != nullptr) budget_->release(payload_.get());
      budget_ = nullptr;
      payload_.reset();
    }
    ReplyBudget* budget_ = nullptr;
    std::shared_ptr<const proto::Bytes> payload_;
  };

  // A lease for `payload` (already held by another reply: always granted, it
  // costs nothing more), or an empty one when its bytes do not fit what the
  // caller may use: the whole budget for root, three quarters for anyone else.
  Lease acquire(std::shared_ptr<const proto::Bytes> payload, bool root) {
    auto it = held_.find(payload.get());
    if (it != held_.end()) {
      ++it->second;
      return Lease(this, std::move(payload));
    }
    const std::size_t limit = root ? max_bytes_ : max_bytes_ / 4 * 3;
    if (bytes_ + payload->size() > limit) {
      ++refused_;
      return Lease();
    }
    bytes_ += payload->size();
    peak_ = std::max(peak_, bytes_);
    held_.emplace(payload.get(), 1);
    return Lease(this, std::move(payload));
  }

  void set_max_bytes(std::size_t max_bytes) { max_bytes_ = max_bytes; }
  std::size_t max_bytes() const { return max_bytes_; }
  std::size_t bytes() const { return bytes_; }

  // replies.large_in_flight (distinct payloads), .large_in_flight_bytes,
  // .large_peak_bytes, .large_refused, .large_budget_bytes for `fastid status`.
  std::vector<std::pair<std::string, std::string>> status_items() const {
    return {{"replies.large_in_flight", std::to_string(held_.size())},
            {"replies.large_in_flight_bytes", std::to_string(bytes_)},
            {"replies.large_peak_bytes", std::to_string(peak_)},
            {"replies.large_refused", std::to_string(refused_)},
            {"replies.large_budget_bytes", std::to_string(max_bytes_)}};
  }

 private:
  void release(const proto::Bytes* payload) {
    auto it = held_.find(payload);
    if (it == held_.end()) return;
    if (--it->second > 0) return;
    bytes_ -= payload->size();
    held_.erase(it);
  }

  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::size_t peak_ = 0;
  std::uint64_t refused_ = 0;
  // The payloads in flight and how many replies hold each. A payload is
  // alive while its entry is here (each lease keeps a reference), so its
  // address names it.
  std::map<const proto::Bytes*, std::size_t> held_;
};

}  // namespace fastid::server
