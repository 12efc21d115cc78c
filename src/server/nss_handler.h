// NssHandler: answers the lookup opcodes (passwd, group, initgroups,
// enumeration, ping, status) from the configured backends, asked in order,
// and publishes what it answers to the fast cache. Each request is a coroutine:
// in-process providers answer at once, pooled ones are awaited, so one slow
// directory never holds up the loop. Loop-thread only.
#pragma once

#include <asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/peer_cred.h"
#include "proto/messages.h"
#include "server/backend.h"
#include "server/cache_publisher.h"

namespace fastid::server {

using StatusItems = std::vector<std::pair<std::string, std::string>>;

class NssHandler {
 public:
  NssHandler() = default;

  // Replaces the backends (reload). Requests in flight keep the backends they
  // started with; enumeration cursors issued before are no longer meaningful.
  void set_backends(std::vector<Backend> backends) { backends_ = std::move(backends); }
  const std::vector<Backend>& backends() const { return backends_; }

  // Where answers are published for clients to read without the socket
  // (nullptr: nowhere). Not owned; must outlive the handler's use of it.
  void set_publisher(CachePublisher* publisher) { publisher_ = publisher; }

  // Extra lines for the status reply (server figures: connections, uptime…).
  void set_status_source(std::function<StatusItems()> source) { status_source_ = std::move(source); }

  // One whole reply frame for a decoded request. Never throws; any backend
  // failure becomes an error reply that says which provider and why — to a
  // root peer only: other callers' error replies and status carry no paths,
  // URIs, filters or error texts.
  asio::awaitable<proto::Bytes> handle(proto::Request request, core::PeerCred peer);

  std::uint64_t requests() const { return requests_; }

 private:
  // `details`: the caller is root and may read error texts and every status
  // item; anyone else gets statuses with fixed texts and figures only.
  asio::awaitable<proto::Bytes> user_lookup(proto::Request req, bool details);
  asio::awaitable<proto::Bytes> group_lookup(proto::Request req, bool details);
  asio::awaitable<proto::Bytes> initgroups(proto::Request req, bool details);
  asio::awaitable<proto::Bytes> users_page(proto::Request req, bool details);
  asio::awaitable<proto::Bytes> groups_page(proto::Request req, bool details);
  proto::Bytes status(const proto::Request& req, bool details);

  std::vector<Backend> backends_;
  CachePublisher* publisher_ = nullptr;
  std::function<StatusItems()> status_source_;
  std::uint64_t requests_ = 0;
  std::uint64_t not_found_ = 0;
  std::uint64_t errors_ = 0;
};

}  // namespace fastid::server
