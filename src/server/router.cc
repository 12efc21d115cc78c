// Router: opcode -> handler (router.h).

// Asio's coroutine frames come from its recycling allocator (aligned_alloc) and
// go back through the frame's own operator delete (free); GCC 12 warns falsely
// once both are inlined (see nss_handler.cc).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "server/router.h"

#include "server/pam_handler.h"

namespace fastid::server {

// Every awaitable is created in its own statement and then awaited: GCC 12
// destroys some temporaries of a co_await full-expression twice.
asio::awaitable<proto::Bytes> Router::dispatch(proto::Request request, core::PeerCred peer) {
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

}  // namespace fastid::server
