// The remote provider: each call is one NetClient request to the upstream.
// What the answers must satisfy (the asked name or id, valid records, the id
// range) is CheckedProvider's, which the registry wraps this in; this file
// checks only what is particular to the protocol (enumeration pages).
#include "providers/remote/remote_provider.h"

#include <algorithm>

#include "core/log.h"
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

// A page must be what was asked for: at most `max` records, and a walk that
// moves on. An upstream that answers more, or "more" with a cursor that does
// not advance (an endless getpwent for every client), is broken or hostile:
// its page is refused as an outage, not served.
template <typename T>
Result<Page<T>> RemoteProvider::checked_page(Result<Page<T>> page, std::uint32_t cursor,
                                             std::uint32_t max) const {
  if (!page) return page;
  std::string why;
  if (page->records.size() > std::max<std::uint32_t>(max, 1)) {  // 0 is taken as 1, as providers do
    why = std::to_string(page->records.size()) + " records for a page of at most " + std::to_string(max);
  } else if (page->more && page->next_cursor <= cursor) {
    why = "the next cursor " + std::to_string(page->next_cursor) + " does not advance past " +
          std::to_string(cursor);
  }
  if (why.empty()) return page;
  core::log_warning("provider " + options_.name + ": upstream page refused: " + why);
  return core::error(Status::unavailable("upstream page refused: " + why));
}

Result<Page<User>> RemoteProvider::users_page(std::uint32_t cursor, std::uint32_t max) {
  if (!client_) return core::error(Status::unavailable(options_.name + ": not open"));
  return checked_page(relay(client_->users_page(cursor, max)), cursor, max);
}

Result<Page<Group>> RemoteProvider::groups_page(std::uint32_t cursor, std::uint32_t max) {
  if (!client_) return core::error(Status::unavailable(options_.name + ": not open"));
  return checked_page(relay(client_->groups_page(cursor, max)), cursor, max);
}

}  // namespace fastid::providers
