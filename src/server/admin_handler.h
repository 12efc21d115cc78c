// AdminHandler: the daemon's answers about itself — ping, status, and the
// administrator's controls: the caches (invalidate whole maps, forget one
// user or group, show what is held for one: cache_control.h) and the log level. The gate (gate.h) has
// already decided who may ask: cache control arrives only from root on the
// admin socket; status from any local peer, which sees figures only unless it is
// root. Loop-thread only.
#pragma once

#include <asio/awaitable.hpp>

#include <functional>
#include <utility>
#include <vector>

#include "core/peer_cred.h"
#include "proto/messages.h"
#include "server/cache_control.h"
#include "server/directory.h"

namespace fastid::server {

class AdminHandler {
 public:
  // Lines of the status reply, asked for each reply. `root_only`: shown to a
  // root caller only (e.g. the gate's refusals); the others pass through an
  // allow-list of value shapes for anyone else (figures and states, no text).
  void add_status_source(std::function<StatusItems()> source, bool root_only = false) {
    sources_.push_back({std::move(source), root_only});
  }

  // The caches that cache control acts on (nullptr: none). Not owned.
  void set_cache_control(CacheControl* cache) { cache_ = cache; }

  // One whole reply frame for ping, status or cache control; any other opcode
  // is "unknown opcode". Never throws.
  proto::Bytes handle(const proto::Request& request, core::PeerCred peer);

  // Whether a non-root caller may read a status value (exposed for tests).
  static bool shown_to_anyone(const std::string& value);

 private:
  proto::Bytes status(const proto::Request& req, bool details) const;
  proto::Bytes cache_request(const proto::Request& req, core::PeerCred peer);
  proto::Bytes set_log_level(const proto::Request& req, core::PeerCred peer);

  struct Source {
    std::function<StatusItems()> items;
    bool root_only;
  };
  std::vector<Source> sources_;
  CacheControl* cache_ = nullptr;
};

}  // namespace fastid::server
