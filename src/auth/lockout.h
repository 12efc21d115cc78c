// Lockout: after `max_failures` wrong passwords for one user within
// `failure_window`, that user is refused for `lockout_time` without any source
// being asked. One table for every front worker: it lives in a shared
// anonymous mapping made before the front workers are forked (LockoutTable::create),
// so with `-w N` the count is per user, not per user and front worker.
//
// Attempts in flight count: an authentication first takes a reservation
// (begin); while failures plus reservations reach max_failures, further
// attempts are refused before any source is asked, so N concurrent guesses
// cannot all be evaluated before the first failure is recorded. A success that
// completes while the user is locked does not lift the lock.
//
// The table is bounded (kSlots users, placed by a keyed hash with a random key
// per daemon start, so that nobody can choose names that evict a given user);
// names are compared without ASCII case. A process-shared robust mutex guards
// it: a front worker that dies holding it leaves it to the next caller, which
// clamps every slot back into range (an update cut short is off by at most one
// attempt); the supervisor drops a dead front worker's reservations (release_owner).
// Every reservation also expires after `attempt_lifetime`, a backstop for a
// process that died without a supervisor to tell.
//
// Time is passed in (steady_clock, which is system-wide), so tests need no sleeping.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace fastid::auth {

struct LockoutShared;  // the mapped region (lockout.cc)

class LockoutTable {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kSlots = 4096;
  // Slots a name may occupy, from its hash on: the search and eviction window.
  static constexpr std::size_t kWindow = 16;
  // Failure times kept per user: max_failures may not exceed it (settings).
  static constexpr int kMaxFailures = 32;
  // Attempts in flight per user at once; more are refused as "busy".
  static constexpr int kMaxInFlight = 16;

  // Maps the table (MAP_SHARED | MAP_ANONYMOUS): processes forked afterwards share it.
  static core::Result<std::shared_ptr<LockoutTable>> create();
  ~LockoutTable();
  LockoutTable(const LockoutTable&) = delete;
  LockoutTable& operator=(const LockoutTable&) = delete;

  // A front worker that died: its reservations go (called by the supervisor once reaped).
  void release_owner(pid_t pid);
  // Users with a slot, and lockouts since the table was made (all front workers).
  std::size_t tracked() const;
  std::uint64_t lockouts() const;

  // Test hook: takes the mutex and never gives it back, as a process killed
  // in the middle of an update would.
  void hold_lock_forever_for_test();

 private:
  friend class Lockout;
  LockoutTable() = default;
  LockoutShared* shared_ = nullptr;
};

class Lockout {
 public:
  using Clock = LockoutTable::Clock;
  struct Options {
    int max_failures = 5;  // 0 = never lock (and no reservations)
    Clock::duration failure_window = std::chrono::minutes(15);
    Clock::duration lockout_time = std::chrono::minutes(15);
    // Longest an attempt may be in flight before its reservation lapses.
    Clock::duration attempt_lifetime = std::chrono::minutes(5);
  };

  // One admitted attempt; ended by fail(), succeed(), or (no verdict: the
  // source could not be reached, or no source knows the user) by destruction.
  class Attempt {
   public:
    Attempt() = default;
    Attempt(Attempt&& o) noexcept;
    Attempt& operator=(Attempt&& o) noexcept;
    ~Attempt();
    Attempt(const Attempt&) = delete;
    Attempt& operator=(const Attempt&) = delete;

   private:
    friend class Lockout;
    void release();
    std::shared_ptr<LockoutTable> table_;  // null: nothing reserved
    std::string user_;
    std::size_t slot_ = 0;
    std::uint64_t ticket_ = 0;
  };

  enum class Admission { kAdmitted, kLocked, kTooManyInFlight };
  struct Verdict {
    Admission admission = Admission::kAdmitted;
    Clock::time_point locked_until{};  // kLocked: when it ends
  };

  Lockout(std::shared_ptr<LockoutTable> table, Options options)
      : table_(std::move(table)), options_(options) {}
  void set_options(Options options) { options_ = options; }
  const Options& options() const { return options_; }

  // Before any source is asked. kAdmitted fills `attempt` with a reservation.
  Verdict begin(std::string_view user, Clock::time_point now, Attempt* attempt);
  // A wrong password: counted; true when it locked the user out.
  bool fail(Attempt& attempt, Clock::time_point now);
  // The right password: the user's failures are forgotten unless the user is
  // locked (a lock is never lifted by a success that completes after it).
  void succeed(Attempt& attempt, Clock::time_point now);

  // When the user's lockout ends, if the user is locked out at `now`.
  std::optional<Clock::time_point> locked_until(std::string_view user, Clock::time_point now);

  std::size_t tracked() const { return table_->tracked(); }
  std::uint64_t lockouts() const { return table_->lockouts(); }

 private:
  std::shared_ptr<LockoutTable> table_;
  Options options_;
};

}  // namespace fastid::auth
