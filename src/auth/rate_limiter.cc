#include "auth/rate_limiter.h"

#include <algorithm>

namespace fastid::auth {

bool RateLimiter::allow(unsigned uid, Clock::time_point now) {
  auto it = buckets_.find(uid);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxTracked) {
      // Full buckets carry no information: drop them.
      for (auto b = buckets_.begin(); b != buckets_.end();) {
        const double secs = std::chrono::duration<double>(now - b->second.updated).count();
        b = (b->second.tokens + secs * rate_ >= burst_) ? buckets_.erase(b) : std::next(b);
      }
      if (buckets_.size() >= kMaxTracked) {
        ++refused_;
        return false;
      }
    }
    it = buckets_.emplace(uid, Bucket{static_cast<double>(burst_), now}).first;
  }
  Bucket& b = it->second;
  const double secs = std::chrono::duration<double>(now - b.updated).count();
  b.tokens = std::min<double>(burst_, b.tokens + secs * rate_);
  b.updated = now;
  if (b.tokens < 1.0) {
    ++refused_;
    return false;
  }
  b.tokens -= 1.0;
  return true;
}

}  // namespace fastid::auth
