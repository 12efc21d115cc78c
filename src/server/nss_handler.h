// NssHandler: answers the lookup opcodes (passwd, group, initgroups,
// enumeration) from the configured directories, asked in order, and
// publishes what it answers to the fast cache (ping, status and invalidation
// are the admin handler's, admin_handler.h). Each request is a coroutine: in-process
// directories answer at once, the others are awaited, so one slow directory
// never holds up the loop. Loop-thread only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/peer_cred.h"
#include "model/query.h"
#include "proto/messages.h"
#include "server/cache_publisher.h"
#include "server/directory.h"
#include "server/lookup_metrics.h"
#include "server/reply_frame.h"
#include "server/shared_replies.h"

namespace fastid::server {

class NssHandler {
 public:
  NssHandler() = default;

  // Replaces the directories (reload). Requests in flight keep the
  // directories they started with; enumeration cursors issued before are no
  // longer meaningful.
  // The shared replies made from the old ones are dropped.
  void set_directories(Directories directories);
  const Directories& directories() const { return directories_; }

  // Where answers are published for clients to read without the socket
  // (nullptr: nowhere). Not owned; must outlive the handler's use of it.
  void set_publisher(CachePublisher* publisher) { publisher_ = publisher; }
  const CachePublisher* publisher() const { return publisher_; }
  CachePublisher* publisher() { return publisher_; }

  // One whole reply frame for a decoded lookup request. Never throws; any directory
  // failure becomes an error reply that says which provider and why — to a
  // root peer only: other callers' error replies and status carry no paths,
  // URIs, filters or error texts.
  // A successful answer of at least SharedRepliesOptions::min_payload bytes,
  // from directories that can tell when their answer changes (files: a data
  // generation; the store: the record's stamp), is encoded once per record
  // version and shared by every reply to it (shared_replies.h).
  asio::awaitable<ReplyFrame> handle(proto::Request request, core::PeerCred peer);

  // One query across the directories, in order: the first answer wins and
  // "not found" asks the next; initgroups is the union over every directory
  // that knows the user; a page walks the directories one after the other.
  // While a directory fails, a name nobody knows is that failure ("try
  // again"), never "not found" (an error with an empty message). Answers and
  // definite "not found"s are published to the fast cache. `source`, when
  // given, gets the name of the directory whose answer (or page) it is
  // (initgroups: the last that added gids); `answered_by` its index in the
  // directories (their count: none).
  asio::awaitable<core::Result<model::Answer>> lookup(model::Query query, std::string* source = nullptr,
                                                      std::size_t* answered_by = nullptr);

  // Lookup requests handled (the status figure "requests" is the router's).
  std::uint64_t requests() const { return requests_; }
  // Lines for the status reply: lookup failures, the fast cache's figures, each directory's.
  StatusItems status_items() const;
  // Lookups by kind and result and their latency, for the metrics listener.
  const LookupMetrics& lookup_metrics() const { return metrics_; }

 private:
  // lookup() without the counting.
  asio::awaitable<core::Result<model::Answer>> lookup_in_order(model::Query query, std::string* source,
                                                               std::size_t* answered_by);
  // The version of what the first n directories answer to `query` now
  // (shared_replies.h); nullopt when one of them cannot tell.
  std::optional<SharedReplies::Version> version_of(const model::Query& query, std::size_t n) const;

  // Answers are published after the reply: queued here and published by one
  // handler posted behind it (per loop turn), with nullopt for "no such entry".
  void publish_later(const asio::any_io_executor& executor, const model::Query& q,
                     std::optional<model::Answer> answer);
  void publish_pending();

  Directories directories_;
  CachePublisher* publisher_ = nullptr;
  std::vector<std::pair<model::Query, std::optional<model::Answer>>> pending_publish_;
  std::uint64_t requests_ = 0;
  std::uint64_t not_found_ = 0;
  std::uint64_t errors_ = 0;
  LookupMetrics metrics_;
  SharedReplies shared_;
};

}  // namespace fastid::server
