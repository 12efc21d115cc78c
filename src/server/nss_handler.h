// NssHandler: answers the lookup opcodes (passwd, group, initgroups,
// enumeration, ping, status) from the configured providers, asked in order.
// Loop-thread only: it calls providers synchronously, which is right for the
// in-memory files provider; blocking backends go through the provider pool.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/peer_cred.h"
#include "proto/messages.h"
#include "providers/provider.h"
#include "server/cache_publisher.h"

namespace fastid::server {

using StatusItems = std::vector<std::pair<std::string, std::string>>;

class NssHandler {
 public:
  explicit NssHandler(std::vector<std::shared_ptr<providers::Provider>> providers);

  // Replaces the providers (reload). Requests already answered are unaffected;
  // enumeration cursors issued before are no longer meaningful.
  void set_providers(std::vector<std::shared_ptr<providers::Provider>> providers);
  const std::vector<std::shared_ptr<providers::Provider>>& providers() const { return providers_; }

  // Where answers are published for clients to read without the socket
  // (nullptr: nowhere). Not owned; must outlive the handler's use of it.
  void set_publisher(CachePublisher* publisher) { publisher_ = publisher; }

  // Extra lines for the status reply (server figures: connections, uptime…).
  void set_status_source(std::function<StatusItems()> source) { status_source_ = std::move(source); }

  // One whole reply frame for a decoded request. Never throws; any provider
  // failure becomes an error reply that says which provider and why.
  proto::Bytes handle(const proto::Request& request, core::PeerCred peer);

  std::uint64_t requests() const { return requests_; }

 private:
  proto::Bytes user_lookup(const proto::Request& req);
  proto::Bytes group_lookup(const proto::Request& req);
  proto::Bytes initgroups(const proto::Request& req);
  proto::Bytes users_page(const proto::Request& req);
  proto::Bytes groups_page(const proto::Request& req);
  proto::Bytes status(const proto::Request& req);

  std::vector<std::shared_ptr<providers::Provider>> providers_;
  std::function<StatusItems()> status_source_;
  CachePublisher* publisher_ = nullptr;
  std::uint64_t requests_ = 0;
  std::uint64_t not_found_ = 0;
  std::uint64_t errors_ = 0;
};

}  // namespace fastid::server
