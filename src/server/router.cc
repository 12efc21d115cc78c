// Router: opcode -> handler (router.h).

#include "core/gcc12_coroutines.h"  // first: its rules and pragmas
#include "server/router.h"

#include "server/cache_publisher.h"
#include "server/pam_handler.h"

namespace fastid::server {

// Every awaitable is built in its own statement, then awaited
// (core/gcc12_coroutines.h, rule 1).
asio::awaitable<ReplyFrame> Router::dispatch(proto::Request request, core::PeerCred peer) {
  const std::optional<Route> route = route_of(static_cast<std::uint16_t>(request.opcode));
  if (route == Route::kLookup) {
    ++requests_;
    auto op = lookups_.handle(std::move(request), peer);
    co_return co_await std::move(op);
  }
  if (route == Route::kAuth) {
    if (pam_ == nullptr) {
      co_return proto::encode_error_reply(static_cast<std::uint16_t>(request.opcode), request.request_id,
                                          proto::WireStatus::kUnavailable, "authentication is not served here");
    }
    auto op = pam_->handle(std::move(request), peer);
    co_return co_await std::move(op);
  }
  ++requests_;
  co_return admin_.handle(request, peer);
}

asio::awaitable<core::Result<model::Answer>> Router::lookup(model::Query query, std::string* source) {
  ++requests_;
  auto op = lookups_.lookup(std::move(query), source);
  co_return co_await std::move(op);
}

std::optional<std::pair<int, std::uint64_t>> Router::nscd_map(proto::nscd::Database db) {
  CachePublisher* publisher = lookups_.publisher();
  if (publisher == nullptr) return std::nullopt;
  return publisher->nscd_handout(db);
}

proto::nscd::DatabaseStatistics Router::nscd_statistics(proto::nscd::Database db) const {
  const CachePublisher* publisher = static_cast<const NssHandler&>(lookups_).publisher();
  if (publisher == nullptr) {
    proto::nscd::DatabaseStatistics d;
    d.enabled = true;  // answered on the socket, no map
    return d;
  }
  return publisher->nscd_statistics(db);
}

}  // namespace fastid::server
