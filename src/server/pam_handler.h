// PamHandler: the daemon's side of authentication (kAuthenticate, kAccount),
// reached only through the `pam` socket (docs/pam.md). In order, for each request:
//   1. a non-root caller is rate-limited per uid (token bucket);
//   2. a non-root caller may ask only about itself: the user's uid (from the
//      directories) must be the caller's SO_PEERCRED uid; anything else is refused
//      and logged, with the caller's uid and pid, never the password;
//   3. a locked-out user is refused without any source being asked;
//   4. the directories are asked in order: a success or a rejection ends it; a
//      directory that does not know the user passes to the next; an unreachable
//      one is remembered;
//   5. when no directory answered and one was unreachable, offline credentials
//      (if enabled) decide; a rejection never falls back to them.
// The password is a core::Secret: zeroed when the request ends. Loop-thread only.
#pragma once

#include <asio/awaitable.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "auth/lockout.h"
#include "auth/offline_credentials.h"
#include "core/offload.h"
#include "core/peer_cred.h"
#include "daemon/config.h"
#include "proto/messages.h"
#include "server/nss_handler.h"

namespace fastid::server {

class PamHandler {
 public:
  // `nss` supplies the current directories (they follow reloads); `state_dir`
  // places the default offline file.
  PamHandler(NssHandler& nss, daemon::PamConfig config, std::string state_dir);
  ~PamHandler();

  void set_config(daemon::PamConfig config);

  // One reply frame: kOk with an AuthReply, or an error reply for requests
  // that could not be served (busy, bad request).
  asio::awaitable<proto::Bytes> handle(proto::Request request, core::PeerCred peer);

  StatusItems status_items() const;
  // Waits for offloaded calls (crypt) at shutdown, after the loop stopped.
  void join() { offloader_.join(); }

 private:
  asio::awaitable<proto::AuthReply> authenticate(proto::Request req, core::PeerCred peer);
  asio::awaitable<proto::AuthReply> account(proto::Request req, core::PeerCred peer);
  // Step 2. kSuccess when the caller may ask about req.name.
  asio::awaitable<proto::AuthReply> check_caller(const proto::Request& req, core::PeerCred peer);
  std::string offline_path() const;

  NssHandler& nss_;
  daemon::PamConfig config_;
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
};

}  // namespace fastid::server
