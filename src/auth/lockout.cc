#include "auth/lockout.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace fastid::auth {

namespace {
constexpr std::size_t kMaxName = 256;  // proto's kMaxNameLength; longer names share by prefix
}  // namespace

// The mapped region: plain data only (zero-filled by the kernel, so a zero
// slot is a free one). Times are steady_clock nanoseconds; 0 means "none".
struct Reservation {
  std::int32_t owner;  // pid of the front worker; 0 = free
  std::uint64_t ticket;
  std::int64_t expires;
};

struct Slot {
  std::uint32_t used;
  std::uint32_t name_len;
  char name[kMaxName];
  std::int64_t last_seen;
  std::int64_t locked_until;
  std::int32_t failure_count;                        // failures[0..count), oldest first
  std::int64_t failures[LockoutTable::kMaxFailures];
  Reservation inflight[LockoutTable::kMaxInFlight];
};

struct LockoutShared {
  pthread_mutex_t mu;
  std::uint64_t key[2];  // the hash key, random per table
  std::uint64_t next_ticket;
  std::uint64_t lockouts;
  Slot slots[LockoutTable::kSlots];
};

namespace {

using Clock = LockoutTable::Clock;

std::int64_t ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
std::int64_t ns(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}
Clock::time_point at(std::int64_t n) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(n)));
}

// Failures are counted per name without regard to ASCII case: a directory that
// matches "Alice" to alice (LDAP does) must not give each spelling its own count.
std::string key_of(std::string_view user) {
  std::string k(user.substr(0, kMaxName));
  for (char& c : k) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return k;
}

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Keyed with the table's random key: where a name lands cannot be chosen by
// someone who does not know the key (and nothing ever shows it).
std::uint64_t place_of(const LockoutShared& s, std::string_view key) {
  std::uint64_t h = s.key[0] ^ key.size();
  for (std::size_t i = 0; i < key.size(); i += 8) {
    std::uint64_t chunk = 0;
    std::memcpy(&chunk, key.data() + i, std::min<std::size_t>(8, key.size() - i));
    h = mix(h ^ chunk) + s.key[1];
  }
  return mix(h);
}

bool holds(const Slot& slot, std::string_view key) {
  return slot.used == 1 && slot.name_len == key.size() &&
         std::memcmp(slot.name, key.data(), key.size()) == 0;
}

int live_reservations(const Slot& slot) {
  int n = 0;
  for (const auto& r : slot.inflight) n += r.owner != 0 ? 1 : 0;
  return n;
}

void drop_failure_front(Slot& slot, int n) {
  n = std::min(n, slot.failure_count);
  std::memmove(slot.failures, slot.failures + n,
               sizeof(std::int64_t) * static_cast<std::size_t>(slot.failure_count - n));
  slot.failure_count -= n;
}

void prune(Slot& slot, std::int64_t now, const Lockout::Options& o) {
  int old = 0;
  while (old < slot.failure_count && now - slot.failures[old] >= ns(o.failure_window)) ++old;
  drop_failure_front(slot, old);
  if (slot.locked_until != 0 && now >= slot.locked_until) slot.locked_until = 0;
  for (auto& r : slot.inflight) {
    if (r.owner != 0 && now >= r.expires) r = Reservation{};
  }
}

// A front worker died holding the mutex: whatever it was writing is brought back
// into range. Each field is one aligned store, so at most the one update it
// was making is lost or half made (one attempt more or less).
void repair(LockoutShared& s) {
  for (auto& slot : s.slots) {
    if (slot.used > 1 || slot.name_len > kMaxName) slot = Slot{};
    slot.failure_count = std::clamp(slot.failure_count, 0, LockoutTable::kMaxFailures);
    for (auto& r : slot.inflight) {
      if (r.owner < 0) r = Reservation{};
    }
  }
}

class Guard {
 public:
  explicit Guard(LockoutShared* s) : s_(s) {
    if (::pthread_mutex_lock(&s_->mu) == EOWNERDEAD) {
      repair(*s_);
      ::pthread_mutex_consistent(&s_->mu);
    }
  }
  ~Guard() { ::pthread_mutex_unlock(&s_->mu); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  LockoutShared* s_;
};

constexpr std::size_t kNone = LockoutTable::kSlots;

std::size_t find(const LockoutShared& s, std::string_view key, std::uint64_t place) {
  for (std::size_t i = 0; i < LockoutTable::kWindow; ++i) {
    const std::size_t at = (place + i) % LockoutTable::kSlots;
    if (holds(s.slots[at], key)) return at;
  }
  return kNone;
}

// A slot for a name not in the table: a free one in its window, else the one
// that matters least — no attempt in flight, unlocked and seen longest ago,
// else the lock that ends first. kNone when every slot has attempts in flight.
std::size_t claim(LockoutShared& s, std::string_view key, std::uint64_t place, std::int64_t now,
                  const Lockout::Options& o) {
  std::size_t best = kNone;
  auto rank = [&](const Slot& slot) {
    // Lower is more expendable: (locked, when it matters).
    const bool locked = slot.locked_until != 0;
    return std::pair<bool, std::int64_t>(locked, locked ? slot.locked_until : slot.last_seen);
  };
  for (std::size_t i = 0; i < LockoutTable::kWindow; ++i) {
    const std::size_t at = (place + i) % LockoutTable::kSlots;
    Slot& slot = s.slots[at];
    if (slot.used != 1) {
      best = at;
      break;
    }
    prune(slot, now, o);
    if (live_reservations(slot) > 0) continue;
    if (best == kNone || rank(slot) < rank(s.slots[best])) best = at;
  }
  if (best == kNone) return kNone;
  Slot& slot = s.slots[best];
  slot.used = 0;  // a claim cut short leaves a free slot
  slot = Slot{};
  std::memcpy(slot.name, key.data(), key.size());
  slot.name_len = static_cast<std::uint32_t>(key.size());
  slot.last_seen = now;
  slot.used = 1;
  return best;
}

void release(Slot& slot, std::uint64_t ticket) {
  for (auto& r : slot.inflight) {
    if (r.owner != 0 && r.ticket == ticket) r = Reservation{};
  }
}

}  // namespace

// ---- LockoutTable ---------------------------------------------------------------

core::Result<std::shared_ptr<LockoutTable>> LockoutTable::create() {
  void* p = ::mmap(nullptr, sizeof(LockoutShared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return core::error(core::status_from_errno(errno, "mmap lockout table"));
  auto* s = static_cast<LockoutShared*>(p);
  if (::getrandom(s->key, sizeof s->key, 0) != static_cast<ssize_t>(sizeof s->key)) {
    const int e = errno;
    ::munmap(p, sizeof(LockoutShared));
    return core::error(core::status_from_errno(e, "getrandom for the lockout table"));
  }
  pthread_mutexattr_t attr;
  ::pthread_mutexattr_init(&attr);
  ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  const int rc = ::pthread_mutex_init(&s->mu, &attr);
  ::pthread_mutexattr_destroy(&attr);
  if (rc != 0) {
    ::munmap(p, sizeof(LockoutShared));
    return core::error(core::status_from_errno(rc, "lockout table mutex"));
  }
  std::shared_ptr<LockoutTable> table(new LockoutTable());
  table->shared_ = s;
  return table;
}

LockoutTable::~LockoutTable() {
  // The mapping is shared with forked processes: only this process's view goes.
  if (shared_ != nullptr) ::munmap(shared_, sizeof(LockoutShared));
}

void LockoutTable::release_owner(pid_t pid) {
  if (pid <= 0) return;
  Guard g(shared_);
  for (auto& slot : shared_->slots) {
    if (slot.used != 1) continue;
    for (auto& r : slot.inflight) {
      if (r.owner == pid) r = Reservation{};
    }
  }
}

std::size_t LockoutTable::tracked() const {
  Guard g(shared_);
  std::size_t n = 0;
  for (const auto& slot : shared_->slots) n += slot.used == 1 ? 1 : 0;
  return n;
}

std::uint64_t LockoutTable::lockouts() const {
  Guard g(shared_);
  return shared_->lockouts;
}

void LockoutTable::hold_lock_forever_for_test() { ::pthread_mutex_lock(&shared_->mu); }

// ---- Lockout ---------------------------------------------------------------------

Lockout::Attempt::Attempt(Attempt&& o) noexcept
    : table_(std::move(o.table_)), user_(std::move(o.user_)), slot_(o.slot_), ticket_(o.ticket_) {}

Lockout::Attempt& Lockout::Attempt::operator=(Attempt&& o) noexcept {
  if (this != &o) {
    release();
    table_ = std::move(o.table_);
    user_ = std::move(o.user_);
    slot_ = o.slot_;
    ticket_ = o.ticket_;
  }
  return *this;
}

Lockout::Attempt::~Attempt() { release(); }

void Lockout::Attempt::release() {
  if (!table_) return;
  {
    Guard g(table_->shared_);
    auth::release(table_->shared_->slots[slot_], ticket_);
  }
  table_.reset();
}

Lockout::Verdict Lockout::begin(std::string_view user, Clock::time_point when, Attempt* attempt) {
  *attempt = Attempt();
  if (options_.max_failures <= 0) return {};
  LockoutShared& s = *table_->shared_;
  const std::string key = key_of(user);
  const std::int64_t now = ns(when);
  Guard g(&s);
  const std::uint64_t place = place_of(s, key);
  std::size_t at = find(s, key, place);
  if (at != kNone) {
    Slot& slot = s.slots[at];
    prune(slot, now, options_);
    slot.last_seen = now;
    if (slot.locked_until != 0) return {Admission::kLocked, auth::at(slot.locked_until)};
    if (slot.failure_count >= options_.max_failures) {
      // max_failures was lowered by a reload below what is already counted.
      slot.locked_until = now + ns(options_.lockout_time);
      slot.failure_count = 0;
      ++s.lockouts;
      return {Admission::kLocked, auth::at(slot.locked_until)};
    }
    if (slot.failure_count + live_reservations(slot) >= options_.max_failures)
      return {Admission::kTooManyInFlight, {}};
  } else {
    at = claim(s, key, place, now, options_);
    if (at == kNone) return {Admission::kTooManyInFlight, {}};
  }
  Slot& slot = s.slots[at];
  for (auto& r : slot.inflight) {
    if (r.owner != 0) continue;
    r.ticket = ++s.next_ticket;
    r.expires = now + ns(options_.attempt_lifetime);
    r.owner = static_cast<std::int32_t>(::getpid());
    attempt->table_ = table_;
    attempt->user_ = key;
    attempt->slot_ = at;
    attempt->ticket_ = r.ticket;
    return {};
  }
  return {Admission::kTooManyInFlight, {}};
}

bool Lockout::fail(Attempt& attempt, Clock::time_point when) {
  if (!attempt.table_) return false;
  LockoutShared& s = *table_->shared_;
  const std::int64_t now = ns(when);
  bool locked_now = false;
  {
    Guard g(&s);
    release(s.slots[attempt.slot_], attempt.ticket_);
    const std::uint64_t place = place_of(s, attempt.user_);
    std::size_t at = find(s, attempt.user_, place);
    if (at == kNone) at = claim(s, attempt.user_, place, now, options_);
    if (at != kNone) {
      Slot& slot = s.slots[at];
      prune(slot, now, options_);
      slot.last_seen = now;
      if (slot.failure_count == LockoutTable::kMaxFailures) drop_failure_front(slot, 1);
      slot.failures[slot.failure_count++] = now;
      if (slot.locked_until == 0 && options_.max_failures > 0 &&
          slot.failure_count >= options_.max_failures) {
        slot.locked_until = now + ns(options_.lockout_time);
        slot.failure_count = 0;
        ++s.lockouts;
        locked_now = true;
      }
    }
  }
  attempt.table_.reset();
  return locked_now;
}

void Lockout::succeed(Attempt& attempt, Clock::time_point when) {
  if (!attempt.table_) return;
  LockoutShared& s = *table_->shared_;
  const std::int64_t now = ns(when);
  {
    Guard g(&s);
    release(s.slots[attempt.slot_], attempt.ticket_);
    const std::size_t at = find(s, attempt.user_, place_of(s, attempt.user_));
    if (at != kNone) {
      Slot& slot = s.slots[at];
      prune(slot, now, options_);
      if (slot.locked_until == 0) {
        slot.failure_count = 0;
        if (live_reservations(slot) == 0) slot.used = 0;
      }
    }
  }
  attempt.table_.reset();
}

std::optional<Clock::time_point> Lockout::locked_until(std::string_view user, Clock::time_point when) {
  LockoutShared& s = *table_->shared_;
  const std::string key = key_of(user);
  Guard g(&s);
  const std::size_t at = find(s, key, place_of(s, key));
  if (at == kNone) return std::nullopt;
  prune(s.slots[at], ns(when), options_);
  if (s.slots[at].locked_until == 0) return std::nullopt;
  return auth::at(s.slots[at].locked_until);
}

}  // namespace fastid::auth
