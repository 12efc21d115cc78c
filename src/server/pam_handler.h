// PamHandler: the daemon's side of authentication (kAuthenticate, kAccount),
// reached only through the `pam` socket (docs/pam.md). In order, for each request:
//   1. a non-root caller is rate-limited per uid (token bucket);
//   2. a non-root caller may ask only about itself: the user's uid (from the
//      directories) must be the caller's SO_PEERCRED uid; anything else is refused
//      and logged, with the caller's uid and pid, never the password;
//   3. the attempt takes a place in the lockout table shared by every front
//      worker (auth/lockout.h): a locked-out user, or one with max_failures
//      attempts already failed or in flight, is refused without any source
//      being asked;
//   4. the directories are asked in order: a success or a rejection ends it; a
//      directory that does not know the user passes to the next; one that could
//      not answer is remembered with why;
//      (a password change: the first directory that knows the user decides);
//   5. when no directory answered: if none failed, the user is unknown (and an
//      offline credential of that name goes); else offline credentials (if
//      enabled) decide only when every failed directory is offline as its probe
//      decided (Directory::offline) — a busy pool, a timeout or an internal
//      error is PAM_AUTHINFO_UNAVAIL, never a login with a cached password.
// The account check forgets the user's offline credential when a source says
// the account is gone, expired or refused, so that it is never accepted offline.
// The password is a core::Secret: zeroed when the request ends. Loop-thread only.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "auth/lockout.h"
#include "auth/offline_credentials.h"
#include "auth/rate_limiter.h"
#include "core/offload.h"
#include "core/peer_cred.h"
#include "proto/messages.h"
#include "server/access_rules.h"
#include "server/cache_control.h"
#include "server/nss_handler.h"

namespace fastid::server {

// The authentication path's settings (the daemon fills them from [pam]).
struct PamOptions {
  int max_failures = 5;                           // failed passwords before a lockout
  std::chrono::milliseconds failure_window{900000};  // ... counted over this window
  std::chrono::milliseconds lockout_time{900000};
  int caller_rate = 5;  // requests per second a caller (uid) may make, and the burst
  int caller_burst = 10;
  bool offline = false;      // keep offline credentials for when directories are down
  std::string offline_file;  // "" = state_dir/pam-offline
  std::chrono::milliseconds offline_max_age{604800000};
  // Each provider's access rules (by provider name), applied at the account
  // check to the users it finds in order, and offline to those it stored.
  std::map<std::string, AccessRules> access_rules = {};
};

// A directory that could not answer an authentication or account check, and why.
struct FailedDirectory {
  DirectoryPtr directory;
  core::Status why;
};

class PamHandler {
 public:
  // `nss` supplies the current directories (they follow reloads); `state_dir`
  // places the default offline file; `lockout` is the table shared by every
  // front worker (made before the fork), or null: one of this process's own.
  PamHandler(NssHandler& nss, PamOptions config, std::string state_dir,
             std::shared_ptr<auth::LockoutTable> lockout = nullptr);
  ~PamHandler();

  void set_config(PamOptions config);
  // The caches a password change clears the user's records from (the
  // directory entry changed: shadowLastChange); nullptr: none. Not owned.
  void set_cache_control(CacheControl* cache) { cache_ = cache; }

  // One reply frame: kOk with an AuthReply, or an error reply for requests
  // that could not be served (busy, bad request).
  asio::awaitable<proto::Bytes> handle(proto::Request request, core::PeerCred peer);

  StatusItems status_items() const;
  // Waits for offloaded calls (crypt) at shutdown, after the loop stopped.
  void join() { offloader_.join(); }

 private:
  asio::awaitable<proto::AuthReply> authenticate(proto::Request req, core::PeerCred peer);
  asio::awaitable<proto::AuthReply> account(proto::Request req, core::PeerCred peer);
  // kChangePassword (pam_sm_chauthtok): the caller check, then the lockout
  // (a wrong current password is a failed guess like any other), then the
  // first directory that knows the user changes it (or says it does not change
  // passwords: PAM_IGNORE). Never offline. A change updates the user's
  // offline credential to the new password; a rejected current password that
  // the offline credential still accepts drops it.
  asio::awaitable<proto::AuthReply> change_password(proto::Request req, core::PeerCred peer);
  // Step 2. kSuccess when the caller may ask about req.name.
  asio::awaitable<proto::AuthReply> check_caller(const proto::Request& req, core::PeerCred peer);
  // Step 5: whether every directory that could not answer is offline.
  asio::awaitable<bool> failed_offline(std::vector<FailedDirectory> failed, const proto::Request& req,
                                       core::PeerCred peer);
  std::string offline_path() const;
  // What the lockout needs now: the options, with attempt_lifetime longer
  // than any attempt through the current directories can take.
  auth::Lockout::Options lockout_options() const;
  // A verdict of `provider`'s access rules for the user: kSuccess (admitted,
  // or no rules), kPermissionDenied (a rule refused, logged with its name),
  // kUnavailable (a lookup the rules need failed).
  asio::awaitable<proto::AuthReply> apply_access_rules(const std::string& provider, const proto::Request& req,
                                                       core::PeerCred peer);
  // Drops the user's records from the store and the fast cache (after a change).
  void forget_cached(const std::string& user);
  // A failed guess (a password rejected, online or offline): counted by the
  // lockout, and said in the log when it locks the user out.
  void count_failure(auth::Lockout::Attempt& attempt, const proto::Request& req, const core::PeerCred& peer);
  // Drops the user's offline credential (no such user, account refused).
  asio::awaitable<void> forget_offline(const std::string& user, const char* why);

  NssHandler& nss_;
  CacheControl* cache_ = nullptr;
  PamOptions config_;
  std::string state_dir_;
  core::Offloader offloader_{2};
  auth::Lockout lockout_;
  auth::RateLimiter rate_;
  std::shared_ptr<auth::OfflineCredentials> offline_;
  std::uint64_t successes_ = 0;
  std::uint64_t failures_ = 0;
  std::uint64_t refused_callers_ = 0;
  std::uint64_t locked_refusals_ = 0;
  std::uint64_t unavailable_ = 0;
  std::uint64_t offline_successes_ = 0;
  std::uint64_t offline_forgotten_ = 0;
  std::uint64_t password_changes_ = 0;
  std::uint64_t access_refusals_ = 0;
  std::uint64_t password_change_refusals_ = 0;
};

}  // namespace fastid::server
