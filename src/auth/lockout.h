// Lockout: after `max_failures` wrong passwords for one user within
// `failure_window`, that user is refused for `lockout_time` without any source
// being asked. Names are compared without ASCII case. Per front worker process; memory is bounded
// (at most kMaxTracked users; the stalest go first). Time is passed in, so tests need no sleeping.
// Not thread-safe: one loop thread owns it.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace fastid::auth {

class Lockout {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    int max_failures = 5;  // 0 = never lock
    Clock::duration failure_window = std::chrono::minutes(15);
    Clock::duration lockout_time = std::chrono::minutes(15);
  };
  static constexpr std::size_t kMaxTracked = 100000;

  explicit Lockout(Options options) : options_(options) {}
  void set_options(Options options) { options_ = options; }

  // When the user's lockout ends, if the user is locked out at `now`.
  std::optional<Clock::time_point> locked_until(std::string_view user, Clock::time_point now);
  // Records a wrong password; true when this failure locked the user out.
  bool record_failure(std::string_view user, Clock::time_point now);
  // A successful login forgets the user's failures.
  void record_success(std::string_view user);

  std::size_t tracked() const { return users_.size(); }
  std::uint64_t lockouts() const { return lockouts_; }

 private:
  struct Entry {
    std::deque<Clock::time_point> failures;  // within the window, oldest first
    std::optional<Clock::time_point> locked_until;
    Clock::time_point last_seen{};
  };
  void prune(Entry& e, Clock::time_point now) const;
  void make_room(Clock::time_point now);

  Options options_;
  std::unordered_map<std::string, Entry> users_;
  std::uint64_t lockouts_ = 0;
};

// RateLimiter: a token bucket per caller uid — `rate` requests per second,
// up to `burst` at once. Bounded like Lockout. Loop-thread only.
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
