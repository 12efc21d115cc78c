// The remote provider: each call is one NetClient request to the upstream.
// What the answers must satisfy (the asked name or id, valid records, the id
// range) is CheckedProvider's, which the registry wraps this in; this file
// checks only what is particular to the protocol (enumeration pages).
#include "providers/remote/remote_provider.h"

#include <algorithm>

#include "core/log.h"
#include "core/text.h"
#include "netclient/tls_session.h"

namespace fastid::providers {

RemoteProvider::RemoteProvider(Options options) : options_(std::move(options)) {}

RemoteProvider::~RemoteProvider() = default;

Status RemoteProvider::open() {
  if (options_.servers.empty()) return Status::invalid_argument("no upstream in \"servers\"");
  for (const auto& s : options_.servers) {
    if (auto hp = core::parse_host_port(s); !hp) return hp.error().with_context("servers");
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

namespace {

// A page must be what was asked for: at most `max` records, and a walk that
// moves on. An upstream that answers more, or "more" with a cursor that does
// not advance (an endless getpwent for every client), is broken or hostile:
// its page is refused as an outage, not served. "" when the page is sound.
template <typename T>
std::string page_fault(const Page<T>& page, const Query& q) {
  if (page.records.size() > std::max<std::uint32_t>(q.max, 1)) {  // 0 is taken as 1, as providers do
    return std::to_string(page.records.size()) + " records for a page of at most " + std::to_string(q.max);
  }
  if (page.more && page.next_cursor <= q.cursor) {
    return "the next cursor " + std::to_string(page.next_cursor) + " does not advance past " +
           std::to_string(q.cursor);
  }
  return {};
}

}  // namespace

Result<Answer> RemoteProvider::lookup(const Query& query) {
  if (!client_) return core::error(Status::unavailable(options_.name + ": not open"));
  Result<Answer> r = client_->lookup(query);
  if (!r) {
    // Upstream transport failures become kUnavailable naming the provider;
    // the upstream's own answers (not found, busy, ...) pass through.
    const core::Code code = r.error().code();
    if (code == core::Code::kCorruption || code == core::Code::kIoError) {
      return core::error(Status::unavailable("upstream: " + r.error().message()));
    }
    return r;
  }
  const std::string why = std::visit(
      [&](const auto& v) -> std::string {
        if constexpr (requires { v.records; v.more; }) {
          return page_fault(v, query);
        } else {
          return {};
        }
      },
      *r);
  if (why.empty()) return r;
  core::log_warning("provider " + options_.name + ": upstream page refused: " + why);
  return core::error(Status::unavailable("upstream page refused: " + why));
}

}  // namespace fastid::providers
