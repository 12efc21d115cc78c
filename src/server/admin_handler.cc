// AdminHandler: ping, status and cache invalidation (admin_handler.h).
#include "server/admin_handler.h"

#include <algorithm>
#include <string_view>

#include "core/log.h"

namespace fastid::server {

using proto::Opcode;
using proto::WireStatus;

namespace {

proto::Bytes reply(const proto::Request& req, WireStatus status, std::string message) {
  return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), req.request_id, status,
                                   std::move(message));
}

}  // namespace

// An allow-list of value shapes, so that an item added later (a path, a URI,
// an error message) is hidden from non-root callers until someone decides otherwise.
bool AdminHandler::shown_to_anyone(const std::string& value) {
  static constexpr std::string_view kWords[] = {"online", "offline", "yes", "no"};
  for (std::string_view w : kWords) {
    if (value == w) return true;
  }
  if (value.empty() || value.size() > 24) return false;
  return std::all_of(value.begin(), value.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.' || c == '-'; });
}

proto::Bytes AdminHandler::handle(const proto::Request& req, core::PeerCred peer) {
  switch (req.opcode) {
    case Opcode::kPing:
      return proto::encode_ping_reply(req.request_id, "fastidd " FASTID_VERSION);
    case Opcode::kStatus:
      // Network peers are nobody (uid -1), never root.
      return status(req, peer.is_root());
    case Opcode::kCacheInvalidate:
      return invalidate(req, peer);
    default:
      return reply(req, WireStatus::kUnknownOpcode, "unknown opcode");
  }
}

proto::Bytes AdminHandler::status(const proto::Request& req, bool details) const {
  StatusItems items;
  for (const Source& s : sources_) {
    if (s.root_only && !details) continue;
    for (auto& kv : s.items()) {
      if (details || shown_to_anyone(kv.second)) items.push_back(std::move(kv));
    }
  }
  return proto::encode_status_reply(req.request_id, items);
}

proto::Bytes AdminHandler::invalidate(const proto::Request& req, core::PeerCred peer) {
  if (!publisher_) return reply(req, WireStatus::kUnavailable, "the fast cache is disabled");
  // Only root gets here (the gate), so the error text may be shown.
  core::Status st = publisher_->invalidate(req.id);
  if (!st) return reply(req, proto::to_wire(st.code()), st.message());
  core::log_info("fast cache invalidated by an administrator (pid " + std::to_string(peer.pid) + ")");
  return reply(req, WireStatus::kOk, "invalidated");
}

}  // namespace fastid::server
