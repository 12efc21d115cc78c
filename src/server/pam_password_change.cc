// PamHandler::change_password (pam_sm_chauthtok): the caller check, the
// lockout, then the first directory that knows the user changes the password;
// the offline credential follows the change (pam_handler.h).
#include "server/pam_handler.h"

#include "core/log.h"
#include "server/pam_support.h"

namespace fastid::server {

using proto::AuthReply;
using proto::AuthResult;
using pam::could_not_answer;
using pam::forget_stale_offline;
using pam::remember_offline;
using pam::shown;
using pam::who;

// Every awaitable below is built in its own statement, then awaited
// (core/gcc12_coroutines.h, rule 1).

asio::awaitable<AuthReply> PamHandler::change_password(proto::Request req, core::PeerCred peer) {
  auto check = check_caller(req, peer);
  AuthReply allowed = co_await std::move(check);
  if (allowed.result != AuthResult::kSuccess) co_return allowed;
  const bool preliminary = req.password.empty() && req.new_password.empty();
  if (!preliminary && req.new_password.empty()) {
    co_return AuthReply{AuthResult::kTokenError, "the new password is empty"};
  }

  // A change checks the current password: it takes a place in the lockout
  // like a login, so that chauthtok is no way around max_failures.
  lockout_.set_options(lockout_options());
  const auto now = auth::Lockout::Clock::now();
  auth::Lockout::Attempt attempt;
  if (!preliminary) {
    const auth::Lockout::Verdict admitted = lockout_.begin(req.name, now, &attempt);
    if (admitted.admission != auth::Lockout::Admission::kAdmitted) {
      ++locked_refusals_;
      core::log_warning("pam: password change refused, locked out: " + who(req, peer));
      co_return AuthReply{AuthResult::kLocked, "too many failed attempts; try again later"};
    }
  }

  Directories directories = nss_.directories();  // kept alive across the awaits
  bool failed = false;
  std::string not_changing;
  for (const DirectoryPtr& d : directories) {
    auto op = d->change_password(req.name, req.password, req.new_password, offloader_);
    core::Result<model::PasswordChange> r = co_await std::move(op);
    if (!r) {
      if (r.error().code() == core::Code::kInvalidArgument && not_changing.empty()) {
        not_changing = "provider " + d->name() + " does not change passwords";
      }
      if (could_not_answer(r.error())) {
        core::log_warning("pam: provider " + d->name() + " could not change the password of " + who(req, peer) +
                          ": " + r.error().to_string());
        failed = true;
      }
      continue;  // kNotFound, or a provider that does not change passwords: the next
    }
    using model::PasswordChangeVerdict;
    const std::string by = "provider " + d->name();
    switch (r->verdict) {
      case PasswordChangeVerdict::kChanged:
        if (preliminary) co_return AuthReply{AuthResult::kSuccess, ""};
        ++password_changes_;
        lockout_.succeed(attempt, auth::Lockout::Clock::now());
        core::log_info("pam: password changed by " + by + ": " + who(req, peer));
        forget_cached(req.name);
        if (offline_) {
          // The directory took the new password from this user, who proved the old one.
          auto store = offline_;
          auto save = offloader_.offload(remember_offline, store, req.name, req.new_password);
          core::Status saved = co_await std::move(save);
          if (!saved) {
            core::log_warning("pam: offline credential not updated: " + saved.to_string());
            auto drop = forget_offline(req.name, "the password changed");
            co_await std::move(drop);
          }
        }
        co_return AuthReply{AuthResult::kSuccess, "password changed"};
      case PasswordChangeVerdict::kOldPasswordRejected:
        ++failures_;
        ++password_change_refusals_;
        core::log_warning("pam: password change refused by " + by + ", the current password is wrong: " +
                          who(req, peer));
        count_failure(attempt, req, peer);
        if (offline_) {
          auto store = offline_;
          auto drop = offloader_.offload(forget_stale_offline, store, req.name, req.password);
          (void)co_await std::move(drop);
        }
        co_return AuthReply{AuthResult::kAuthError, r->message};
      case PasswordChangeVerdict::kNewPasswordRefused:
        // Not counted either way: a refusal of the new password must not
        // forget the user's failures (a guess with a new password the policy
        // refuses would otherwise reset the lockout).
        ++password_change_refusals_;
        core::log_info("pam: new password refused by " + by + " (" + shown(r->message) + "): " + who(req, peer));
        co_return AuthReply{AuthResult::kTokenError, r->message};
      case PasswordChangeVerdict::kDenied:
        ++password_change_refusals_;
        core::log_warning("pam: password change denied by " + by + " (" + shown(r->message) + "): " + who(req, peer));
        co_return AuthReply{AuthResult::kPermissionDenied, r->message};
      case PasswordChangeVerdict::kNotSupported:
        // Its user: the next directory's namesake is not the one who logs in.
        core::log_info("pam: password change left to other modules (" + shown(r->message) + "): " + who(req, peer));
        co_return AuthReply{AuthResult::kIgnore, r->message};
    }
  }
  if (failed) {
    ++unavailable_;
    co_return AuthReply{AuthResult::kUnavailable, "the password cannot be changed now; try again later"};
  }
  if (!not_changing.empty()) {
    // Known only to sources that do not change passwords (or to none).
    core::log_info("pam: no source changes the password of " + who(req, peer));
  }
  co_return AuthReply{AuthResult::kUserUnknown, ""};
}

}  // namespace fastid::server
