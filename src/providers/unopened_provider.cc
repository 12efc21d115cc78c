// A provider that could not be opened at start answers "try again" (unopened_provider.h).
#include "providers/unopened_provider.h"

#include "core/log.h"

namespace fastid::providers {

UnopenedProvider::UnopenedProvider(std::unique_ptr<Provider> inner, Status why, std::chrono::milliseconds retry)
    : WrappingProvider(std::move(inner)),
      why_(std::move(why)),
      retry_(retry),
      next_try_(std::chrono::steady_clock::now() + retry) {}

bool UnopenedProvider::ready() {
  if (opened_) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_try_) return false;
  next_try_ = now + retry_;
  Status st = inner_->open();
  if (st) {
    opened_ = true;
    core::log_info("provider " + name() + " opened now; it answers again");
    return true;
  }
  why_ = st;
  core::log_warning("provider " + name() + " still cannot be opened: " + st.to_string());
  return false;
}

Status UnopenedProvider::unavailable() const {
  return Status::unavailable("provider " + name() + " could not be opened (" + why_.message() +
                             "): fix its settings (fastidd --check-config) and reload");
}

void UnopenedProvider::close() {
  if (opened_) inner_->close();
}

Status UnopenedProvider::refresh() { return opened_ ? inner_->refresh() : Status::ok(); }

Result<Answer> UnopenedProvider::lookup(const Query& query) {
  if (!ready()) return core::error(unavailable());
  return inner_->lookup(query);
}

Status UnopenedProvider::authenticate(std::string_view user, std::string_view password) {
  if (!ready()) return unavailable();
  return inner_->authenticate(user, password);
}

Result<model::Account> UnopenedProvider::authenticate_verdict(std::string_view user, std::string_view password) {
  if (!ready()) return core::error(unavailable());
  return inner_->authenticate_verdict(user, password);
}

Result<model::Account> UnopenedProvider::account(std::string_view user) {
  if (!ready()) return core::error(unavailable());
  return inner_->account(user);
}

Result<model::PasswordChange> UnopenedProvider::change_password(std::string_view user, std::string_view old_password,
                                                                std::string_view new_password) {
  if (!ready()) return core::error(unavailable());
  return inner_->change_password(user, old_password, new_password);
}

std::vector<std::pair<std::string, std::string>> UnopenedProvider::stats() const {
  auto out = inner_->stats();
  out.emplace_back("opened", opened_ ? "yes" : "no");
  return out;
}

}  // namespace fastid::providers
