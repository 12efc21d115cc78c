// The in-process and pooled directories (the stored one is stored_directory.cc).
#include "server/directory.h"

#include "pool/provider_pool.h"
#include "pool/worker_protocol.h"
#include "providers/provider.h"

namespace fastid::server {

// Every awaitable below is built in its own statement, then awaited
// (core/gcc12_coroutines.h, rule 1).

bool means_offline(const core::Status& st) {
  return st.code() == core::Code::kUnavailable || st.code() == core::Code::kTimeout;
}

namespace {

class InProcessDirectory final : public Directory {
 public:
  explicit InProcessDirectory(std::shared_ptr<providers::Provider> provider) : provider_(std::move(provider)) {}

  const std::string& name() const override { return provider_->name(); }

  asio::awaitable<core::Result<model::Answer>> lookup(model::Query query) override {
    core::Result<model::Answer> r = provider_->lookup(query);
    // A pool's errors name the provider already; an in-process provider's do not.
    if (!r) co_return core::error(r.error().with_context("provider " + name()));
    co_return r;
  }

  asio::awaitable<core::Result<model::Account>> authenticate(std::string user, core::Secret password,
                                                             core::Offloader& offloader) override {
    auto op = offloader.offload(check_password, provider_, std::move(user), std::move(password));
    co_return co_await std::move(op);
  }

  asio::awaitable<core::Result<model::Account>> account(std::string user, core::Offloader& offloader) override {
    auto op = offloader.offload(check_account, provider_, std::move(user));
    co_return co_await std::move(op);
  }

  asio::awaitable<core::Result<model::PasswordChange>> change_password(std::string user, core::Secret old_password,
                                                                       core::Secret new_password,
                                                                       core::Offloader& offloader) override {
    auto op = offloader.offload(check_change, provider_, std::move(user), std::move(old_password),
                                std::move(new_password));
    co_return co_await std::move(op);
  }

  asio::awaitable<bool> offline(core::Status failure) override {
    co_return failure.code() == core::Code::kUnavailable;
  }

  asio::awaitable<core::Status> probe() override {
    core::Result<model::Answer> r = provider_->lookup(model::Query::user_by_uid(0));
    if (r || r.error().code() == core::Code::kNotFound) co_return core::Status::ok();
    co_return r.error().with_context("provider " + name());
  }

  core::Status refresh() override { return provider_->refresh(); }
  std::uint64_t data_generation() const override { return provider_->data_generation(); }
  void stop() override { provider_->close(); }

  StatusItems status_items() const override {
    StatusItems out;
    for (auto& [k, v] : provider_->stats()) out.emplace_back("provider." + name() + "." + k, v);
    return out;
  }

 private:
  // Run on the offload pool: they own copies of what they use.
  static core::Result<model::Account> check_password(std::shared_ptr<providers::Provider> provider,
                                                     std::string user, core::Secret password) {
    return provider->authenticate_verdict(user, password.view());
  }
  static core::Result<model::PasswordChange> check_change(std::shared_ptr<providers::Provider> provider,
                                                          std::string user, core::Secret old_password,
                                                          core::Secret new_password) {
    return provider->change_password(user, old_password.view(), new_password.view());
  }
  static core::Result<model::Account> check_account(std::shared_ptr<providers::Provider> provider,
                                                    std::string user) {
    return provider->account(user);
  }

  std::shared_ptr<providers::Provider> provider_;
};

class PooledDirectory final : public Directory {
 public:
  explicit PooledDirectory(std::shared_ptr<pool::ProviderPool> pool) : pool_(std::move(pool)) {}

  const std::string& name() const override { return pool_->name(); }

  asio::awaitable<core::Result<model::Answer>> lookup(model::Query query) override {
    std::shared_ptr<pool::ProviderPool> pool = pool_;  // alive across the await
    auto op = pool->lookup(std::move(query));
    co_return co_await std::move(op);
  }

  asio::awaitable<core::Result<model::Account>> authenticate(std::string user, core::Secret password,
                                                             core::Offloader&) override {
    std::shared_ptr<pool::ProviderPool> pool = pool_;
    auto op = pool->authenticate(std::move(user), std::move(password));
    core::Result<proto::AuthReply> r = co_await std::move(op);
    if (!r) co_return core::error(r.error());
    co_return pool::account_of(*r);
  }

  asio::awaitable<core::Result<model::Account>> account(std::string user, core::Offloader&) override {
    std::shared_ptr<pool::ProviderPool> pool = pool_;
    auto op = pool->account(std::move(user));
    core::Result<proto::AuthReply> r = co_await std::move(op);
    if (!r) co_return core::error(r.error());
    co_return pool::account_of(*r);
  }

  asio::awaitable<core::Result<model::PasswordChange>> change_password(std::string user, core::Secret old_password,
                                                                       core::Secret new_password,
                                                                       core::Offloader&) override {
    std::shared_ptr<pool::ProviderPool> pool = pool_;
    auto op = pool->change_password(std::move(user), std::move(old_password), std::move(new_password));
    core::Result<proto::AuthReply> r = co_await std::move(op);
    if (!r) co_return core::error(r.error());
    co_return pool::password_change_of(*r);
  }

  asio::awaitable<bool> offline(core::Status failure) override {
    if (!means_offline(failure)) co_return false;
    auto op = probe();
    const core::Status st = co_await std::move(op);
    co_return means_offline(st);
  }

  asio::awaitable<core::Status> probe() override {
    std::shared_ptr<pool::ProviderPool> pool = pool_;
    auto op = pool->probe();
    co_return co_await std::move(op);
  }

  std::chrono::milliseconds request_timeout() const override { return pool_->settings().request_timeout; }

  void stop() override { pool_->stop(); }
  StatusItems status_items() const override { return pool_->status_items(); }

 private:
  std::shared_ptr<pool::ProviderPool> pool_;
};

}  // namespace

DirectoryPtr in_process_directory(std::shared_ptr<providers::Provider> provider) {
  return std::make_shared<InProcessDirectory>(std::move(provider));
}

DirectoryPtr pooled_directory(std::shared_ptr<pool::ProviderPool> pool) {
  return std::make_shared<PooledDirectory>(std::move(pool));
}

}  // namespace fastid::server
