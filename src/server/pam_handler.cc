// PamHandler (pam_handler.h): authentication, the account check, the caller
// check, rate limit, lockout, offline credentials and access rules; the
// password change is in pam_password_change.cc, the helpers both use in
// pam_support.h.
#include "core/gcc12_coroutines.h"  // first: its rules and pragmas
#include "server/pam_handler.h"

#include "core/log.h"
#include "pool/worker_protocol.h"
#include "proto/ccache_name.h"
#include "server/pam_support.h"

namespace fastid::server {

using proto::AuthReply;
using proto::AuthResult;
using proto::Opcode;
using pam::could_not_answer;
using pam::forget_offline_line;
using pam::forget_stale_offline;
using pam::has_offline;
using pam::remember_offline;
using pam::shown;
using pam::verify_offline;
using pam::who;

// Every awaitable below is built in its own statement, then awaited
// (core/gcc12_coroutines.h, rule 1).

namespace {

std::shared_ptr<auth::LockoutTable> table_or_own(std::shared_ptr<auth::LockoutTable> table) {
  if (table) return table;
  auto own = auth::LockoutTable::create();
  if (!own) {
    core::log_error("pam: " + own.error().to_string());
    std::abort();  // at start only; a daemon without lockout must not run
  }
  return *own;
}

std::string seconds_left(auth::Lockout::Clock::time_point until, auth::Lockout::Clock::time_point now) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(until - now).count() + 1);
}

}  // namespace

PamHandler::PamHandler(NssHandler& nss, PamOptions config, std::string state_dir,
                       std::shared_ptr<auth::LockoutTable> lockout)
    : nss_(nss),
      config_(config),
      state_dir_(std::move(state_dir)),
      lockout_(table_or_own(std::move(lockout)), {}),
      rate_(config.caller_rate, config.caller_burst) {
  set_config(std::move(config));
}

PamHandler::~PamHandler() { offloader_.join(); }

auth::Lockout::Options PamHandler::lockout_options() const {
  // An attempt waits for a provider worker and for its answer (request_timeout each),
  // then maybe for a probe (the same again), per pooled directory; crypt and
  // the offline file take well under the minute added.
  auth::Lockout::Clock::duration lifetime = std::chrono::minutes(1);
  for (const DirectoryPtr& d : nss_.directories()) lifetime += 4 * d->request_timeout();
  return {config_.max_failures, config_.failure_window, config_.lockout_time, lifetime};
}

asio::awaitable<void> PamHandler::forget_offline(const std::string& user, const char* why) {
  if (!offline_) co_return;
  auto store = offline_;
  auto has = offloader_.offload(has_offline, store, user);
  const core::Result<bool> held = co_await std::move(has);
  if (!held.value_or(false)) co_return;
  auto drop = offloader_.offload(forget_offline_line, store, user);
  core::Status st = co_await std::move(drop);
  if (st) {
    ++offline_forgotten_;
    core::log_info("pam: offline credential of " + shown(user) + " removed: " + why);
  } else {
    core::log_warning("pam: offline credential of " + shown(user) + " not removed: " + st.to_string());
  }
}

std::string PamHandler::offline_path() const {
  return config_.offline_file.empty() ? state_dir_ + "/pam-offline" : config_.offline_file;
}

void PamHandler::set_config(PamOptions config) {
  config_ = std::move(config);
  lockout_.set_options(lockout_options());
  rate_.set_limits(config_.caller_rate, config_.caller_burst);
  offline_.reset();
  if (config_.offline) {
    offline_ = std::make_shared<auth::OfflineCredentials>(
        offline_path(), std::chrono::duration_cast<std::chrono::seconds>(config_.offline_max_age));
  }
}

asio::awaitable<proto::Bytes> PamHandler::handle(proto::Request req, core::PeerCred peer) {
  const std::uint32_t id = req.request_id;
  const Opcode op = req.opcode;
  AuthReply reply;
  if (op == Opcode::kAuthenticate) {
    auto run = authenticate(std::move(req), peer);
    reply = co_await std::move(run);
  } else if (op == Opcode::kAccount) {
    auto run = account(std::move(req), peer);
    reply = co_await std::move(run);
  } else if (op == Opcode::kChangePassword) {
    auto run = change_password(std::move(req), peer);
    reply = co_await std::move(run);
  } else {
    co_return proto::encode_error_reply(static_cast<std::uint16_t>(op), id,
                                        proto::WireStatus::kUnknownOpcode,
                                        "not an authentication request");
  }
  co_return proto::encode_auth_reply(id, op, reply);
}

asio::awaitable<AuthReply> PamHandler::check_caller(const proto::Request& req,
                                                    core::PeerCred peer) {
  if (peer.is_root()) co_return AuthReply{AuthResult::kSuccess, ""};
  if (!rate_.allow(peer.uid, auth::RateLimiter::Clock::now())) {
    ++refused_callers_;
    core::log_warning("pam: refused, caller over its rate limit: " + who(req, peer));
    co_return AuthReply{AuthResult::kLocked, "too many authentication requests; try again later"};
  }
  // The user's uid, from the first directory that knows the name.
  Directories directories = nss_.directories();  // kept alive across the awaits
  core::Status failure;
  for (const DirectoryPtr& d : directories) {
    auto lookup = d->lookup(model::Query::user_by_name(req.name));
    core::Result<model::User> u = model::answer_as<model::User>(co_await std::move(lookup));
    if (u) {
      if (u->uid == peer.uid) co_return AuthReply{AuthResult::kSuccess, ""};
      break;
    }
    if (u.error().code() != core::Code::kNotFound && failure.is_ok()) failure = u.error();
  }
  if (!failure.is_ok()) {
    core::log_warning("pam: cannot check the caller of " + who(req, peer) + ": " +
                      failure.to_string());
    co_return AuthReply{AuthResult::kUnavailable, "the user's identity cannot be checked now"};
  }
  ++refused_callers_;
  core::log_warning("pam: refused, a caller may only ask about itself: " + who(req, peer));
  co_return AuthReply{AuthResult::kPermissionDenied, "only root may ask about another user"};
}

asio::awaitable<AuthReply> PamHandler::authenticate(proto::Request req, core::PeerCred peer) {
  auto check = check_caller(req, peer);
  AuthReply allowed = co_await std::move(check);
  if (allowed.result != AuthResult::kSuccess) co_return allowed;

  // Options follow reloads of the directories (their timeouts set the lifetime).
  lockout_.set_options(lockout_options());
  const auto now = auth::Lockout::Clock::now();
  auth::Lockout::Attempt attempt;
  const auth::Lockout::Verdict admitted = lockout_.begin(req.name, now, &attempt);
  if (admitted.admission == auth::Lockout::Admission::kLocked) {
    ++locked_refusals_;
    const std::string left = seconds_left(admitted.locked_until, now);
    core::log_warning("pam: refused, locked out for " + left + " s more: " + who(req, peer));
    co_return AuthReply{AuthResult::kLocked, "too many failed logins; locked for " + left + " s"};
  }
  if (admitted.admission == auth::Lockout::Admission::kTooManyInFlight) {
    ++locked_refusals_;
    core::log_warning("pam: refused, " + std::to_string(config_.max_failures) +
                      " attempts already failed or in progress: " + who(req, peer));
    co_return AuthReply{AuthResult::kLocked, "too many login attempts at once; try again later"};
  }

  Directories directories = nss_.directories();  // kept alive across the awaits
  std::vector<FailedDirectory> failed;
  for (const DirectoryPtr& d : directories) {
    auto op = d->authenticate(req.name, req.password, offloader_);
    core::Result<model::Account> verdict = co_await std::move(op);
    const core::Status st = verdict ? core::Status::ok() : verdict.error();
    if (verdict && verdict->verdict != model::AccountVerdict::kOk) {
      // The password is right, and the source said what the account check
      // will have to say (winbind: an expired account, a password that must
      // be changed; only its authentication tells). Never a credential kept
      // for offline logins; a disabled account is refused here and now.
      lockout_.succeed(attempt, auth::Lockout::Clock::now());
      auto drop = forget_offline(req.name, "the source refused the account");
      co_await std::move(drop);
      AuthReply reply = pool::auth_reply_of(*verdict);
      core::log_info("pam: password right but account refused by provider " + d->name() + " (" +
                     shown(reply.message) + "): " + who(req, peer));
      if (reply.result == AuthResult::kPermissionDenied) {
        ++failures_;
        co_return AuthReply{AuthResult::kAuthError, reply.message};
      }
      ++successes_;
      co_return reply;  // kAccountExpired or kPasswordExpired: the module defers it to acct_mgmt
    }
    if (st.is_ok()) {
      ++successes_;
      lockout_.succeed(attempt, auth::Lockout::Clock::now());
      if (auto until = lockout_.locked_until(req.name, auth::Lockout::Clock::now())) {
        // Locked while this attempt was on its way (its reservation lapsed):
        // the lock stands, and so this login is refused too.
        ++locked_refusals_;
        core::log_warning("pam: refused, locked out while the password was checked: " + who(req, peer));
        co_return AuthReply{AuthResult::kLocked, "too many failed logins; locked for " +
                                                     seconds_left(*until, auth::Lockout::Clock::now()) + " s"};
      }
      core::log_info("pam: authenticated by provider " + d->name() + ": " + who(req, peer));
      if (offline_) {
        auto store = offline_;
        auto save = offloader_.offload(remember_offline, store, req.name, req.password);
        core::Status saved = co_await std::move(save);
        if (!saved) core::log_warning("pam: offline credentials not saved: " + saved.to_string());
      }
      // The source's words for the user, if any (the directory's expiry warning).
      AuthReply ok{AuthResult::kSuccess, verdict->message};
      // The user's ticket cache (auth_provider = "krb5"), for KRB5CCNAME; a
      // name of any other shape never leaves the daemon.
      if (proto::ccache_name_shape_ok(verdict->ccache.data(), verdict->ccache.size())) {
        ok.ccache = verdict->ccache;
      } else if (!verdict->ccache.empty()) {
        core::log_error("pam: provider " + d->name() + " named a credential cache that is not a plain FILE: "
                        "or KEYRING: name; not sent: " + who(req, peer));
      }
      co_return ok;
    }
    if (st.code() == core::Code::kPermissionDenied) {
      ++failures_;
      // The provider's reason (wrong password, a disabled or locked-out
      // account): for the log, which is root's; never the caller's reply.
      core::log_warning("pam: authentication failure from provider " + d->name() + " (" + shown(st.message()) +
                        "): " + who(req, peer));
      count_failure(attempt, req, peer);
      if (offline_) {
        // The source rejected it: an offline credential must never let it in later.
        auto store = offline_;
        auto drop = offloader_.offload(forget_stale_offline, store, req.name, req.password);
        (void)co_await std::move(drop);
      }
      co_return AuthReply{AuthResult::kAuthError, ""};
    }
    if (could_not_answer(st)) {
      core::log_warning("pam: provider " + d->name() + " could not answer for " + who(req, peer) +
                        ": " + st.to_string());
      failed.push_back({d, st});
    }
    // kNotFound, or a provider that does not authenticate: ask the next.
  }
  if (failed.empty()) {
    core::log_info("pam: unknown user: " + who(req, peer));
    // Every source answered and none knows the user: a credential kept from
    // an earlier login is of an account that is gone.
    auto drop = forget_offline(req.name, "no source knows the user");
    co_await std::move(drop);
    co_return AuthReply{AuthResult::kUserUnknown, ""};
  }
  auto offline = failed_offline(std::move(failed), req, peer);
  const bool all_offline = co_await std::move(offline);
  if (offline_ && all_offline) {
    auto store = offline_;
    auto op = offloader_.offload(verify_offline, store, req.name, req.password);
    core::Status st = co_await std::move(op);
    if (st.is_ok()) {
      ++offline_successes_;
      lockout_.succeed(attempt, auth::Lockout::Clock::now());
      core::log_info("pam: authenticated offline (sources unreachable): " + who(req, peer));
      co_return AuthReply{AuthResult::kSuccess, "authenticated with cached credentials"};
    }
    if (st.code() == core::Code::kPermissionDenied) {
      ++failures_;
      core::log_warning("pam: offline authentication failure: " + who(req, peer));
      count_failure(attempt, req, peer);
      co_return AuthReply{AuthResult::kAuthError, ""};
    }
  }
  ++unavailable_;
  co_return AuthReply{AuthResult::kUnavailable,
                      all_offline ? "no source could be reached" : "the source is busy or failing; try again"};
}

void PamHandler::count_failure(auth::Lockout::Attempt& attempt, const proto::Request& req,
                               const core::PeerCred& peer) {
  if (lockout_.fail(attempt, auth::Lockout::Clock::now())) {
    core::log_warning("pam: locked out after " + std::to_string(config_.max_failures) +
                      " failures: " + who(req, peer));
  }
}

asio::awaitable<bool> PamHandler::failed_offline(std::vector<FailedDirectory> failed, const proto::Request& req,
                                                 core::PeerCred peer) {
  bool all = true;
  for (auto& f : failed) {
    auto op = f.directory->offline(f.why);
    const bool offline = co_await std::move(op);
    if (!offline) {
      core::log_warning("pam: provider " + f.directory->name() + " is not offline (" + f.why.to_string() +
                        "): no offline credentials for " + who(req, peer));
      all = false;
    }
  }
  co_return all;
}

asio::awaitable<AuthReply> PamHandler::account(proto::Request req, core::PeerCred peer) {
  auto check = check_caller(req, peer);
  AuthReply allowed = co_await std::move(check);
  if (allowed.result != AuthResult::kSuccess) co_return allowed;

  Directories directories = nss_.directories();  // kept alive across the awaits
  std::vector<FailedDirectory> failed;
  for (const DirectoryPtr& d : directories) {
    auto op = d->account(req.name, offloader_);
    core::Result<model::Account> r = co_await std::move(op);
    if (r) {
      AuthReply reply = pool::auth_reply_of(*r);
      if (reply.result == AuthResult::kSuccess) {
        auto rules = apply_access_rules(d->name(), req, peer);
        AuthReply ruled = co_await std::move(rules);
        // Admitted: the source's words stay (an expiry warning for the user).
        if (ruled.result != AuthResult::kSuccess) reply = std::move(ruled);
        if (reply.result == AuthResult::kUnavailable) {
          ++unavailable_;
          co_return reply;
        }
      }
      if (reply.result != AuthResult::kSuccess) {
        core::log_info("pam: account refused by provider " + d->name() + " (" + reply.message +
                       "): " + who(req, peer));
        // Never accepted offline afterwards: the source's last word was no.
        auto drop = forget_offline(req.name, "the source refused the account");
        co_await std::move(drop);
      }
      co_return reply;
    }
    if (could_not_answer(r.error())) failed.push_back({d, r.error()});
  }
  if (failed.empty()) {
    auto drop = forget_offline(req.name, "no source knows the user");
    co_await std::move(drop);
    co_return AuthReply{AuthResult::kUserUnknown, ""};
  }
  std::vector<std::string> failed_names;
  for (const auto& f : failed) failed_names.push_back(f.directory->name());
  auto offline = failed_offline(std::move(failed), req, peer);
  const bool all_offline = co_await std::move(offline);
  if (offline_ && all_offline) {
    auto store = offline_;
    auto op = offloader_.offload(has_offline, store, req.name);
    const core::Result<bool> held = co_await std::move(op);
    const bool known = held.value_or(false);
    if (known) {
      // The same access rules as online, from what the store kept.
      for (const std::string& name : failed_names) {
        auto rules = apply_access_rules(name, req, peer);
        AuthReply verdict = co_await std::move(rules);
        if (verdict.result != AuthResult::kSuccess) co_return verdict;
      }
      core::log_info("pam: account checked offline (sources unreachable): " + who(req, peer));
      co_return AuthReply{AuthResult::kSuccess, ""};
    }
  }
  ++unavailable_;
  co_return AuthReply{AuthResult::kUnavailable,
                      all_offline ? "no source could be reached" : "the source is busy or failing; try again"};
}


asio::awaitable<AuthReply> PamHandler::apply_access_rules(const std::string& provider, const proto::Request& req,
                                                          core::PeerCred peer) {
  const auto it = config_.access_rules.find(provider);
  if (it == config_.access_rules.end() || it->second.empty()) co_return AuthReply{AuthResult::kSuccess, ""};
  auto check = access_refusal(nss_, it->second, req.name);
  core::Result<std::optional<std::string>> refusal = co_await std::move(check);
  if (!refusal) {
    core::log_warning("pam: the access rules of provider " + provider + " cannot be checked for " + who(req, peer) +
                      ": " + refusal.error().to_string());
    co_return AuthReply{AuthResult::kUnavailable, "the access rules cannot be checked now; try again"};
  }
  if (!*refusal) co_return AuthReply{AuthResult::kSuccess, ""};
  ++access_refusals_;
  core::log_warning("pam: access denied by provider " + provider + " rule " + shown(**refusal) + ": " +
                    who(req, peer));
  co_return AuthReply{AuthResult::kPermissionDenied, "access denied"};
}

void PamHandler::forget_cached(const std::string& user) {
  if (cache_ == nullptr) return;
  auto gone = cache_->forget(proto::kEntryUser, user);
  if (!gone) core::log_warning("pam: the cached records of " + shown(user) + " not dropped: " + gone.error().to_string());
}

StatusItems PamHandler::status_items() const {
  return {
      {"pam.successes", std::to_string(successes_)},
      {"pam.failures", std::to_string(failures_)},
      {"pam.offline_successes", std::to_string(offline_successes_)},
      {"pam.offline_forgotten", std::to_string(offline_forgotten_)},
      {"pam.unavailable", std::to_string(unavailable_)},
      {"pam.refused_callers", std::to_string(refused_callers_)},
      {"pam.locked_refusals", std::to_string(locked_refusals_)},
      {"pam.lockouts", std::to_string(lockout_.lockouts())},
      {"pam.password_changes", std::to_string(password_changes_)},
      {"pam.access_refusals", std::to_string(access_refusals_)},
      {"pam.password_change_refusals", std::to_string(password_change_refusals_)},
  };
}

}  // namespace fastid::server
