// SlowProvider: a test and benchmark backend that answers from a generated dataset
// (the records scripts/gen-dataset writes) and blocks, hangs or crashes on demand.
// Immutable once open(): lookups and stats() are safe from any thread at once; open
// and close are called by one thread at a time. A crash name ends the whole process.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "providers/provider.h"

namespace fastid::providers {

class SlowProvider final : public Provider {
 public:
  struct Options {
    std::string name = {};
    std::uint32_t users = 10000;               // user00001.. uid 100001..
    std::uint32_t groups = 1000;               // group0001.. gid 200001..; at least 1
    std::chrono::milliseconds delay{0};        // added to every call
    std::vector<std::string> slow_names = {};  // these take slow_delay instead
    std::chrono::milliseconds slow_delay{1000};
    std::vector<std::string> hang_names = {};   // these never answer
    std::vector<std::string> crash_names = {};  // these abort the process
    std::string password = {};                  // every user's; "" matches nothing
    std::string down_file = {};                 // while it exists, calls fail as unavailable
    std::vector<std::string> expired_names = {};  // account() says kExpired for these
    std::string call_log = {};  // authenticate() appends "authenticate NAME\n" (O_APPEND)
  };

  // Supplementary groups per user, as gen-dataset's default.
  static constexpr std::uint32_t kGroupsPerUser = 3;

  explicit SlowProvider(Options options);
  ~SlowProvider() override;
  SlowProvider(const SlowProvider&) = delete;
  SlowProvider& operator=(const SlowProvider&) = delete;

  const std::string& name() const override { return options_.name; }

  // Builds the group membership index (the only state); never fails for a
  // valid Options, refuses groups == 0.
  Status open() override;
  void close() override;
  Status refresh() override { return Status::ok(); }  // nothing changes

  // Every call, answered or not, counts once in calls(); while `down_file`
  // exists it fails at once with kUnavailable; otherwise it first sleeps:
  // `delay`, or `slow_delay` for slow names; hang names sleep forever and crash
  // names abort(). A by-id lookup is judged by the name it resolves to.
  // kInitgroups: the gids of the user's supplementary groups, ascending
  // (group-file order). Page cursor = index of the first record; pages in
  // uid / gid order.
  Result<Answer> lookup(const Query& query) override;

  // Authentication against the fixed test password (`password`): kNotFound
  // for names outside the dataset, kPermissionDenied for a wrong password.
  // Both behave() like a lookup (delay, hang, crash names). Every dataset
  // user's account is in order but for expired_names. Each authenticate()
  // is first written to call_log, if set, so tests count what reached here.
  Status authenticate(std::string_view user, std::string_view password) override;
  Result<model::Account> account(std::string_view user) override;

  // users, groups, calls.
  std::vector<std::pair<std::string, std::string>> stats() const override;

  // Calls made on this instance (in this process) since it was created.
  std::uint64_t calls() const noexcept { return calls_.load(std::memory_order_relaxed); }

  // For authentication: true when `user` is in
  // the dataset and `password` is the configured one (compared in constant time).
  bool password_matches(std::string_view user, std::string_view password) const;

 private:
  // The blocking part of every call: counts it, then fails when the down
  // file exists (kUnavailable, at once), else sleeps, hangs or aborts.
  Status behave(std::string_view name);
  // 1-based index of a dataset user/group from its canonical name, or 0.
  std::uint32_t user_index(std::string_view name) const;
  std::uint32_t group_index(std::string_view name) const;
  User make_user(std::uint32_t i) const;
  Group make_group(std::uint32_t g) const;
  std::vector<std::uint32_t> groups_of(std::uint32_t i) const;  // 1-based, ascending
  Status not_open() const;

  const Options options_;
  bool open_ = false;
  std::vector<std::vector<std::uint32_t>> members_;  // group index - 1 -> user indices
  std::atomic<std::uint64_t> calls_{0};
};

}  // namespace fastid::providers
