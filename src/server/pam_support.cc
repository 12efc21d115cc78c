// The PAM handler's shared helpers (pam_support.h).
#include "server/pam_support.h"

namespace fastid::server::pam {

// Names and services come from the caller: printable in a log line, bounded.
std::string shown(std::string_view text) {
  std::string out;
  for (char ch : text.substr(0, 64)) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(c < 0x20 || c == 0x7f ? '?' : ch);
  }
  return out;
}

std::string who(const proto::Request& req, const core::PeerCred& peer) {
  return "user " + shown(req.name) + " (service " +
         (req.service.empty() ? "-" : shown(req.service)) + ", caller uid " +
         std::to_string(peer.uid) + " pid " + std::to_string(peer.pid) + ")";
}

core::Status remember_offline(std::shared_ptr<auth::OfflineCredentials> store, std::string user,
                              core::Secret password) {
  return store->remember(user, password.view());
}
core::Status verify_offline(std::shared_ptr<auth::OfflineCredentials> store, std::string user,
                            core::Secret password) {
  return store->verify(user, password.view());
}
// After the source rejected `password`: a cached credential that would still
// accept it is stale (the password was changed or revoked) and goes. A wrong
// guess that the cache would refuse too leaves it alone, so that guessing
// cannot take offline logins away from the user.
core::Status forget_stale_offline(std::shared_ptr<auth::OfflineCredentials> store, std::string user,
                                  core::Secret password) {
  if (!store->verify(user, password.view()).is_ok()) return core::Status::ok();
  return store->forget(user);
}
core::Status forget_offline_line(std::shared_ptr<auth::OfflineCredentials> store, std::string user) {
  return store->forget(user);
}
core::Result<bool> has_offline(std::shared_ptr<auth::OfflineCredentials> store, std::string user) {
  return store->has(user);
}

// Neither an answer about the user nor "this source does not authenticate".
bool could_not_answer(const core::Status& st) {
  switch (st.code()) {
    case core::Code::kOk:
    case core::Code::kNotFound:
    case core::Code::kPermissionDenied:
    case core::Code::kInvalidArgument:
      return false;
    default:
      return true;
  }
}

}  // namespace fastid::server::pam
