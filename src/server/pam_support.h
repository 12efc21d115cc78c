// What the PAM handler's files (pam_handler.cc, pam_password_change.cc)
// share: how a caller's names are shown in a log line, the offline
// credential calls that run off the loop, and which statuses mean a source
// could not answer.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "auth/offline_credentials.h"
#include "core/peer_cred.h"
#include "core/secret.h"
#include "core/status.h"
#include "proto/messages.h"

namespace fastid::server::pam {

// Names and services come from the caller: printable in a log line, bounded.
std::string shown(std::string_view text);
// "user NAME (service S, caller uid U pid P)" for log lines.
std::string who(const proto::Request& req, const core::PeerCred& peer);

// The offline credential file's calls, by value so that they can be offloaded.
core::Status remember_offline(std::shared_ptr<auth::OfflineCredentials> store, std::string user,
                              core::Secret password);
core::Status verify_offline(std::shared_ptr<auth::OfflineCredentials> store, std::string user,
                            core::Secret password);
// After the source rejected `password`: a cached credential that would still
// accept it is stale (the password was changed or revoked) and goes. A wrong
// guess that the cache would refuse too leaves it alone, so that guessing
// cannot take offline logins away from the user.
core::Status forget_stale_offline(std::shared_ptr<auth::OfflineCredentials> store, std::string user,
                                  core::Secret password);
core::Status forget_offline_line(std::shared_ptr<auth::OfflineCredentials> store, std::string user);
// Whether the file holds a credential of `user` (a Result: offloaded calls
// return their errors, and the offload pool's, as values).
core::Result<bool> has_offline(std::shared_ptr<auth::OfflineCredentials> store, std::string user);

// Neither an answer about the user nor "this source does not authenticate".
bool could_not_answer(const core::Status& st);

}  // namespace fastid::server::pam
