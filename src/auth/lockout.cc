#include "auth/lockout.h"

#include <algorithm>
#include <vector>

namespace fastid::auth {
namespace {

// Failures are counted per name without regard to ASCII case: a directory that
// matches "Alice" to alice (LDAP does) must not give each spelling its own count.
std::string key_of(std::string_view user) {
  std::string k(user);
  for (char& c : k) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return k;
}

}  // namespace

void Lockout::prune(Entry& e, Clock::time_point now) const {
  while (!e.failures.empty() && now - e.failures.front() >= options_.failure_window)
    e.failures.pop_front();
  if (e.locked_until && now >= *e.locked_until) e.locked_until.reset();
}

std::optional<Lockout::Clock::time_point> Lockout::locked_until(std::string_view user,
                                                                Clock::time_point now) {
  auto it = users_.find(key_of(user));
  if (it == users_.end()) return std::nullopt;
  prune(it->second, now);
  return it->second.locked_until;
}

bool Lockout::record_failure(std::string_view user, Clock::time_point now) {
  if (options_.max_failures <= 0) return false;
  auto it = users_.find(key_of(user));
  if (it == users_.end()) {
    make_room(now);
    it = users_.emplace(key_of(user), Entry{}).first;
  }
  Entry& e = it->second;
  prune(e, now);
  e.last_seen = now;
  e.failures.push_back(now);
  // Only the last max_failures matter.
  while (e.failures.size() > static_cast<std::size_t>(options_.max_failures))
    e.failures.pop_front();
  if (!e.locked_until && e.failures.size() >= static_cast<std::size_t>(options_.max_failures)) {
    e.locked_until = now + options_.lockout_time;
    e.failures.clear();
    ++lockouts_;
    return true;
  }
  return false;
}

void Lockout::record_success(std::string_view user) { users_.erase(key_of(user)); }

void Lockout::make_room(Clock::time_point now) {
  if (users_.size() < kMaxTracked) return;
  // First what no longer counts; then, if still full, the stalest tenth.
  for (auto it = users_.begin(); it != users_.end();) {
    prune(it->second, now);
    if (it->second.failures.empty() && !it->second.locked_until) {
      it = users_.erase(it);
    } else {
      ++it;
    }
  }
  if (users_.size() < kMaxTracked) return;
  std::vector<Clock::time_point> seen;
  seen.reserve(users_.size());
  for (const auto& [name, e] : users_) seen.push_back(e.last_seen);
  auto cut = seen.begin() + static_cast<std::ptrdiff_t>(seen.size() / 10);
  std::nth_element(seen.begin(), cut, seen.end());
  const Clock::time_point threshold = *cut;
  for (auto it = users_.begin(); it != users_.end();) {
    it = (it->second.last_seen <= threshold && !it->second.locked_until) ? users_.erase(it)
                                                                         : std::next(it);
  }
}

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
