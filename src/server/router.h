// Router: sends a request the gate (gate.h) let through to the handler of its
// route — lookups to the NSS handler, authentication to the PAM handler, ping,
// status and invalidation to the admin handler. Shared by every transport:
// the stream loop (connection_loop.h) and the UDP path (server.cc). Not owning;
// loop-thread only.
#pragma once

#include <asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <string>

#include "core/peer_cred.h"
#include "model/query.h"
#include "proto/messages.h"
#include "proto/nscd.h"
#include "proto/nscd_statistics.h"
#include "server/admin_handler.h"
#include "server/gate.h"
#include "server/nss_handler.h"

namespace fastid::server {

class PamHandler;

class Router {
 public:
  Router(NssHandler& lookups, AdminHandler& admin) : lookups_(lookups), admin_(admin) {}

  // Where authentication goes (not owned; nullptr: answered "unavailable").
  void set_pam_handler(PamHandler* pam) { pam_ = pam; }

  // The handler of the request's route, for the requests a peer may send (the
  // gate decided); a handler may take a while (a pooled provider, crypt).
  asio::awaitable<ReplyFrame> dispatch(proto::Request request, core::PeerCred peer);

  // A lookup of a front end that is not the wire (the Varlink front): the
  // same NssHandler::lookup as a lookup frame's, counted the same. `source`,
  // when given, gets the name of the directory that answered.
  asio::awaitable<core::Result<model::Answer>> lookup(model::Query query, std::string* source = nullptr);

  // A read-only descriptor of the nscd front's shared map of `db` and its
  // size, for GETFDPW/GETFDGR (the caller closes it); nullopt: no map.
  std::optional<std::pair<int, std::uint64_t>> nscd_map(proto::nscd::Database db);
  // The maps' part of `nscd -g`'s figures for `db` (enabled but not shared
  // when no map is handed out).
  proto::nscd::DatabaseStatistics nscd_statistics(proto::nscd::Database db) const;

  // The metrics listener's one route (metrics_connection.cc): the exposition
  // text of every front worker's figures, made by `source` (set by the front
  // worker; unset: an empty exposition).
  void set_metrics_source(std::function<std::string()> source) { metrics_ = std::move(source); }
  std::string metrics() const { return metrics_ ? metrics_() : std::string(); }

  // "requests": the requests answered here but authentication (lookups, ping,
  // status, invalidation), the figure tests and operators read before and after.
  StatusItems status_items() const { return {{"requests", std::to_string(requests_)}}; }
  std::uint64_t requests() const { return requests_; }

 private:
  NssHandler& lookups_;
  AdminHandler& admin_;
  PamHandler* pam_ = nullptr;
  std::function<std::string()> metrics_;
  std::uint64_t requests_ = 0;
};

}  // namespace fastid::server
