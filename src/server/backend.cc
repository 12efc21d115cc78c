#include "server/backend.h"

#include "pool/worker_protocol.h"

namespace fastid::server {

// Each awaitable is created in its own statement and then awaited: GCC 12
// destroys some temporaries of a co_await full-expression twice.

Backend Backend::in_process(std::shared_ptr<providers::Provider> provider) {
  Backend b;
  b.local_ = std::move(provider);
  return b;
}

Backend Backend::pooled(std::shared_ptr<pool::ProviderPool> pool) {
  Backend b;
  b.pool_ = std::move(pool);
  return b;
}

Backend Backend::stored(std::shared_ptr<pool::ProviderPool> pool, std::shared_ptr<StoreFront> front) {
  Backend b;
  b.pool_ = std::move(pool);
  b.front_ = std::move(front);
  return b;
}

const std::string& Backend::name() const { return local_ ? local_->name() : pool_->name(); }

asio::awaitable<core::Result<model::User>> Backend::user_by_name(std::string name) {
  if (front_) {
    auto op = front_->user_by_name(std::move(name));
    co_return co_await std::move(op);
  }
  if (local_) co_return local_->user_by_name(name);
  auto op = pool_->lookup(model::Query::user_by_name(std::move(name)));
  co_return model::answer_as<model::User>(co_await std::move(op));
}

asio::awaitable<core::Result<model::User>> Backend::user_by_uid(std::uint32_t uid) {
  if (front_) {
    auto op = front_->user_by_uid(uid);
    co_return co_await std::move(op);
  }
  if (local_) co_return local_->user_by_uid(uid);
  auto op = pool_->lookup(model::Query::user_by_uid(uid));
  co_return model::answer_as<model::User>(co_await std::move(op));
}

asio::awaitable<core::Result<model::Group>> Backend::group_by_name(std::string name) {
  if (front_) {
    auto op = front_->group_by_name(std::move(name));
    co_return co_await std::move(op);
  }
  if (local_) co_return local_->group_by_name(name);
  auto op = pool_->lookup(model::Query::group_by_name(std::move(name)));
  co_return model::answer_as<model::Group>(co_await std::move(op));
}

asio::awaitable<core::Result<model::Group>> Backend::group_by_gid(std::uint32_t gid) {
  if (front_) {
    auto op = front_->group_by_gid(gid);
    co_return co_await std::move(op);
  }
  if (local_) co_return local_->group_by_gid(gid);
  auto op = pool_->lookup(model::Query::group_by_gid(gid));
  co_return model::answer_as<model::Group>(co_await std::move(op));
}

asio::awaitable<core::Result<std::vector<std::uint32_t>>> Backend::initgroups(std::string user) {
  if (front_) {
    auto op = front_->initgroups(std::move(user));
    co_return co_await std::move(op);
  }
  if (local_) co_return local_->initgroups(user);
  auto op = pool_->lookup(model::Query::initgroups(std::move(user)));
  co_return model::answer_as<model::Gids>(co_await std::move(op));
}

asio::awaitable<core::Result<model::Page<model::User>>> Backend::users_page(std::uint32_t cursor,
                                                                            std::uint32_t max) {
  if (front_ && front_->offline()) {
    co_return core::error(core::Status::unavailable("provider " + name() + " is offline"));
  }
  if (local_) co_return local_->users_page(cursor, max);
  auto op = pool_->lookup(model::Query::users_page(cursor, max));
  co_return model::answer_as<model::Page<model::User>>(co_await std::move(op));
}

asio::awaitable<core::Result<model::Page<model::Group>>> Backend::groups_page(std::uint32_t cursor,
                                                                              std::uint32_t max) {
  if (front_ && front_->offline()) {
    co_return core::error(core::Status::unavailable("provider " + name() + " is offline"));
  }
  if (local_) co_return local_->groups_page(cursor, max);
  auto op = pool_->lookup(model::Query::groups_page(cursor, max));
  co_return model::answer_as<model::Page<model::Group>>(co_await std::move(op));
}

namespace {

core::Result<bool> check_password(std::shared_ptr<providers::Provider> provider, std::string user,
                                  core::Secret password) {
  core::Status st = provider->authenticate(user, password.view());
  if (!st) return core::error(st);
  return true;
}

core::Result<model::Account> check_account(std::shared_ptr<providers::Provider> provider, std::string user) {
  return provider->account(user);
}

}  // namespace

asio::awaitable<core::Status> Backend::authenticate(std::string user, core::Secret password,
                                                    core::Offloader& offloader) {
  if (local_) {
    auto op = offloader.offload(check_password, local_, std::move(user), std::move(password));
    core::Result<bool> r = co_await std::move(op);
    co_return r ? core::Status::ok() : r.error();
  }
  auto op = pool_->authenticate(std::move(user), std::move(password));
  core::Result<proto::AuthReply> r = co_await std::move(op);
  if (!r) co_return r.error();
  if (r->result != proto::AuthResult::kSuccess) {
    co_return core::Status::corruption("authentication reply with result " +
                                       std::string(proto::auth_result_name(r->result)));
  }
  co_return core::Status::ok();
}

asio::awaitable<core::Result<model::Account>> Backend::account(std::string user, core::Offloader& offloader) {
  if (local_) {
    auto op = offloader.offload(check_account, local_, std::move(user));
    co_return co_await std::move(op);
  }
  auto op = pool_->account(std::move(user));
  core::Result<proto::AuthReply> r = co_await std::move(op);
  if (!r) co_return core::error(r.error());
  co_return pool::account_of(*r);
}

std::vector<std::pair<std::string, std::string>> Backend::status_items() const {
  if (pool_) {
    auto items = pool_->status_items();
    if (front_) {
      for (auto& kv : front_->status_items()) items.push_back(std::move(kv));
    }
    return items;
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [k, v] : local_->stats()) out.emplace_back("provider." + local_->name() + "." + k, v);
  return out;
}

}  // namespace fastid::server
