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
    case Opcode::kCacheForget:
    case Opcode::kCacheShow:
      return cache_request(req, peer);
    case Opcode::kSetLogLevel:
      return set_log_level(req, peer);
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

// The level lives in a page every front worker shares (core::share_log_level),
// so one request reaches them all; a reload sets the configured one again.
proto::Bytes AdminHandler::set_log_level(const proto::Request& req, core::PeerCred peer) {
  const auto level = static_cast<core::LogLevel>(req.id);  // 0..3: the decoder checked
  const auto before = core::log_level();
  const std::string done = std::string("log level ") + core::log_level_name(level) + " (was " +
                           core::log_level_name(before) + "), in every front worker until the next reload";
  const std::string line = done + ", set by an administrator (pid " + std::to_string(peer.pid) + ")";
  // Said at info, under whichever of the two levels shows it.
  if (level <= core::LogLevel::kInfo) {
    core::set_log_level(level);
    core::log_info(line);
  } else {
    core::log_info(line);
    core::set_log_level(level);
  }
  return reply(req, WireStatus::kOk, done);
}

proto::Bytes AdminHandler::cache_request(const proto::Request& req, core::PeerCred peer) {
  if (cache_ == nullptr) return reply(req, WireStatus::kUnavailable, "the daemon keeps no cache");
  // Only root gets here (the gate), so the error text may be shown.
  const std::string who = " by an administrator (pid " + std::to_string(peer.pid) + ")";
  const std::string entry = std::string(req.id == proto::kEntryGroup ? "group " : "user ") + req.name;
  if (req.opcode == Opcode::kCacheShow) {
    auto items = cache_->show(req.id, req.name);
    if (!items) return reply(req, proto::to_wire(items.error().code()), items.error().message());
    return proto::encode_items_reply(Opcode::kCacheShow, req.request_id, *items);
  }
  auto done = req.opcode == Opcode::kCacheInvalidate ? cache_->invalidate(req.id) : cache_->forget(req.id, req.name);
  if (!done) return reply(req, proto::to_wire(done.error().code()), done.error().message());
  core::log_info((req.opcode == Opcode::kCacheInvalidate ? "caches invalidated (map mask " + std::to_string(req.id) + ")"
                                                           : "cache entry " + entry + " forgotten") +
                 who + ": " + *done);
  return reply(req, WireStatus::kOk, *done);
}

}  // namespace fastid::server
