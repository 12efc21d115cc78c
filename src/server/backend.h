// Backend: one configured provider as the NSS handler asks it — either inside
// this process (a provider that never blocks, called on the loop) or in its
// pool of worker processes (co_await). Cheap to copy: copies share the provider
// or pool, so a request in flight keeps what it uses alive across a reload.
// Loop-thread only.
#pragma once

#include <asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/offload.h"
#include "core/secret.h"
#include "core/status.h"
#include "pool/provider_pool.h"
#include "providers/provider.h"
#include "server/store_front.h"

namespace fastid::server {

class Backend {
 public:
  static Backend in_process(std::shared_ptr<providers::Provider> provider);
  static Backend pooled(std::shared_ptr<pool::ProviderPool> pool);
  // A pooled provider behind the persistent store and its offline mode.
  static Backend stored(std::shared_ptr<pool::ProviderPool> pool, std::shared_ptr<StoreFront> front);

  const std::string& name() const;
  providers::Provider* local() const { return local_.get(); }
  pool::ProviderPool* pool() const { return pool_.get(); }
  StoreFront* store_front() const { return front_.get(); }

  asio::awaitable<core::Result<model::User>> user_by_name(std::string name);
  asio::awaitable<core::Result<model::User>> user_by_uid(std::uint32_t uid);
  asio::awaitable<core::Result<model::Group>> group_by_name(std::string name);
  asio::awaitable<core::Result<model::Group>> group_by_gid(std::uint32_t gid);
  asio::awaitable<core::Result<std::vector<std::uint32_t>>> initgroups(std::string user);
  asio::awaitable<core::Result<model::Page<model::User>>> users_page(std::uint32_t cursor, std::uint32_t max);
  asio::awaitable<core::Result<model::Page<model::Group>>> groups_page(std::uint32_t cursor,
                                                                       std::uint32_t max);

  // Authentication and the account check (providers::Provider's codes). An
  // in-process provider runs them on `offloader` (crypt is slow by design);
  // a pooled one in its worker. The password is zeroed wherever it went.
  asio::awaitable<core::Status> authenticate(std::string user, core::Secret password,
                                             core::Offloader& offloader);
  asio::awaitable<core::Result<model::Account>> account(std::string user, core::Offloader& offloader);

  // Figures for `fastid status` that need no I/O.
  std::vector<std::pair<std::string, std::string>> status_items() const;

 private:
  std::shared_ptr<providers::Provider> local_;
  std::shared_ptr<pool::ProviderPool> pool_;
  std::shared_ptr<StoreFront> front_;  // set: lookups go through the store
};

}  // namespace fastid::server
