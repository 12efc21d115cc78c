// RateLimiter: a token bucket per caller uid — `rate` requests per second, up
// to `burst` at once — so that one local user cannot make the daemon guess
// passwords for them at full speed. Per front worker process; memory is
// bounded (at most kMaxTracked uids). Loop-thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace fastid::auth {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxTracked = 100000;

  RateLimiter(int rate, int burst) : rate_(rate), burst_(burst) {}
  void set_limits(int rate, int burst) {
    rate_ = rate;
    burst_ = burst;
  }
  // Takes one token for `uid`; false when its bucket is empty.
  bool allow(unsigned uid, Clock::time_point now);
  std::uint64_t refused() const { return refused_; }

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point updated{};
  };
  int rate_;
  int burst_;
  std::unordered_map<unsigned, Bucket> buckets_;
  std::uint64_t refused_ = 0;
};

}  // namespace fastid::auth
