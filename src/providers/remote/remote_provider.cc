#include "providers/remote/remote_provider.h"

#include "daemon/settings.h"

namespace fastid::providers {

RemoteProvider::RemoteProvider(Options options) : options_(std::move(options)) {}

RemoteProvider::~RemoteProvider() = default;

Status RemoteProvider::open() {
  if (options_.servers.empty()) return Status::invalid_argument("no upstream in \"servers\"");
  for (const auto& s : options_.servers) {
    if (auto hp = daemon::parse_host_port(s); !hp) return hp.error().with_context("servers");
  }
  client_ = std::make_unique<netclient::NetClient>(netclient::Options{
      .servers = options_.servers,
      .timeout = options_.timeout,
  });
  return Status::ok();
}

void RemoteProvider::close() { client_.reset(); }

Result<Answer> RemoteProvider::lookup(const Query& query) {
  if (!client_) return core::error(Status::unavailable(options_.name + ": not open"));
  Result<Answer> r = client_->lookup(query);
  if (r) return r;
  // Upstream transport failures become kUnavailable naming the provider; the
  // upstream's own answers (not found, busy, ...) pass through.
  const core::Code code = r.error().code();
  if (code == core::Code::kCorruption || code == core::Code::kIoError) {
    return core::error(Status::unavailable("upstream: " + r.error().message()));
  }
  return r;
}

}  // namespace fastid::providers
