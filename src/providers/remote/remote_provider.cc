#include "providers/remote/remote_provider.h"

#include "daemon/settings.h"
#include "netclient/tls_session.h"

namespace fastid::providers {

RemoteProvider::RemoteProvider(Options options) : options_(std::move(options)) {}

RemoteProvider::~RemoteProvider() = default;

Status RemoteProvider::open() {
  if (options_.servers.empty()) return Status::invalid_argument("no upstream in \"servers\"");
  for (const auto& s : options_.servers) {
    if (auto hp = daemon::parse_host_port(s); !hp) return hp.error().with_context("servers");
  }
  std::shared_ptr<const netclient::TlsClientContext> tls;
  if (!options_.tls_ca_file.empty()) {
    auto context = netclient::make_tls_client_context(options_.tls_ca_file);
    if (!context) return context.error();
    tls = std::move(*context);
  } else if (!options_.tls_server_name.empty()) {
    return Status::invalid_argument("tls_server_name is set but tls_ca_file is not: set both for TLS");
  }
  client_ = std::make_unique<netclient::NetClient>(netclient::Options{
      .servers = options_.servers,
      .timeout = options_.timeout,
      .tls = std::move(tls),
      .tls_server_name = options_.tls_server_name,
  });
  return Status::ok();
}

void RemoteProvider::close() { client_.reset(); }

template <typename T>
Result<T> RemoteProvider::relay(Result<T> r) const {
  if (r) return r;
  const core::Code code = r.error().code();
  if (code == core::Code::kCorruption || code == core::Code::kIoError) {
    return core::error(Status::unavailable("upstream: " + r.error().message()));
  }
  return r;
}

Result<User> RemoteProvider::user_by_name(std::string_view name) {
  if (!client_) return core::error(Status::unavailable(options_.name + ": not open"));
  return relay(client_->user_by_name(std::string(name)));
}

Result<User> RemoteProvider::user_by_uid(std::uint32_t uid) {
  if (!client_) return core::error(Status::unavailable(options_.name + ": not open"));
  return relay(client_->user_by_uid(uid));
}

Result<Group> RemoteProvider::group_by_name(std::string_view name) {
  if (!client_) return core::error(Status::unavailable(options_.name + ": not open"));
  return relay(client_->group_by_name(std::string(name)));
}

Result<Group> RemoteProvider::group_by_gid(std::uint32_t gid) {
  if (!client_) return core::error(Status::unavailable(options_.name + ": not open"));
  return relay(client_->group_by_gid(gid));
}

Result<std::vector<std::uint32_t>> RemoteProvider::initgroups(std::string_view user) {
  if (!client_) return core::error(Status::unavailable(options_.name + ": not open"));
  return relay(client_->initgroups(std::string(user)));
}

Result<Page<User>> RemoteProvider::users_page(std::uint32_t cursor, std::uint32_t max) {
  if (!client_) return core::error(Status::unavailable(options_.name + ": not open"));
  return relay(client_->users_page(cursor, max));
}

Result<Page<Group>> RemoteProvider::groups_page(std::uint32_t cursor, std::uint32_t max) {
  if (!client_) return core::error(Status::unavailable(options_.name + ": not open"));
  return relay(client_->groups_page(cursor, max));
}

}  // namespace fastid::providers
