// UnopenedProvider: a provider whose open() failed at start for a reason
// other than an unreachable backend — a base that does not exist, a bind
// password the directory refuses, a CA that does not verify the server. The
// daemon starts anyway (logged loudly; `fastidd --check-config` fails on it):
// every call answers kUnavailable ("try again", never "no such user"), and
// open() is tried again at most once per `retry` (a password reset on the
// directory's side mends it without a reload); once it opens, calls go
// through. Used by the provider worker (src/daemon/provider_worker_main.cc).
// Not thread-safe, like the provider it wraps.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "providers/provider.h"
#include "providers/wrapping_provider.h"

namespace fastid::providers {

class UnopenedProvider final : public WrappingProvider {
 public:
  UnopenedProvider(std::unique_ptr<Provider> inner, Status why, std::chrono::milliseconds retry);

  Status open() override { return Status::ok(); }  // opened (or not) already
  void close() override;
  Status refresh() override;
  Result<Answer> lookup(const Query& query) override;
  Status authenticate(std::string_view user, std::string_view password) override;
  Result<model::Account> authenticate_verdict(std::string_view user, std::string_view password) override;
  Result<model::Account> account(std::string_view user) override;
  Result<model::PasswordChange> change_password(std::string_view user, std::string_view old_password,
                                                std::string_view new_password) override;
  std::vector<std::pair<std::string, std::string>> stats() const override;

 private:
  // Whether the inner provider is open, trying once more when `retry` has passed.
  bool ready();
  Status unavailable() const;

  Status why_;
  std::chrono::milliseconds retry_;
  std::chrono::steady_clock::time_point next_try_;
  bool opened_ = false;
};

}  // namespace fastid::providers
