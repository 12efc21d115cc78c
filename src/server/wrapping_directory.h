// WrappingDirectory: the base of the directories that stand in front of
// another one (StoredDirectory: the store; LdapLoopDirectory: searches on the
// loop). What a wrapper leaves alone goes to the directory behind it: its
// name, its request timeout, authentication, the account check and password
// changes (never stored, never searched on the loop), so that each wrapper
// states only what it changes. Lookups, offline(), probe(), stop() and the
// status items are always the wrapper's own.
#pragma once

#include <chrono>
#include <string>

#include "server/directory.h"

namespace fastid::server {

class WrappingDirectory : public Directory {
 public:
  const std::string& name() const override { return behind_->name(); }
  std::chrono::milliseconds request_timeout() const override { return behind_->request_timeout(); }

  asio::awaitable<core::Result<model::Account>> authenticate(std::string user, core::Secret password,
                                                             core::Offloader& offloader) override;
  asio::awaitable<core::Result<model::Account>> account(std::string user, core::Offloader& offloader) override;
  asio::awaitable<core::Result<model::PasswordChange>> change_password(std::string user, core::Secret old_password,
                                                                       core::Secret new_password,
                                                                       core::Offloader& offloader) override;

 protected:
  explicit WrappingDirectory(DirectoryPtr behind);

  DirectoryPtr behind_;
};

}  // namespace fastid::server
