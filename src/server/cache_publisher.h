// CachePublisher: puts the answers the daemon serves into the fast cache maps
// (passwd, group, initgroups) that clients read without a socket. Owns one
// FastCacheWriter per enabled map; failures to publish are counted and logged
// once, never fail a request. With the nscd front, it also owns the shared
// maps glibc's nscd client reads (fastcache/nscd_map.h), kept coherent with
// the fast cache: the same answers, ttls and invalidations. Loop-thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "model/query.h"
#include "proto/nscd.h"
#include "proto/nscd_statistics.h"

namespace fastid::fastcache {
class FastCacheWriter;
class NscdMaps;
class NscdEpochs;
}

namespace fastid::server {

struct CacheMapOptions {
  bool enabled = true;
  std::uint64_t size_bytes = 8u << 20;
  std::chrono::milliseconds ttl{300000};
  // Largest record published (the writer also keeps it within half the ring
  // and the format's 1 MiB); larger answers are served by the socket only.
  std::uint64_t max_record = 1u << 20;
};

struct CachePublisherOptions {
  std::string dir;  // state_dir/mc
  CacheMapOptions passwd, group, initgroups;
  std::chrono::milliseconds negative_ttl{15000};  // 0 = publish no negative answers
  // The nscd front's shared maps (fastcache/nscd_map.h), published from the
  // same answers with the same ttls, invalidated with the maps above.
  bool nscd = false;
  // With several front workers: the epochs every worker's nscd maps follow
  // (fastcache/nscd_epochs.h), mapped before the fork. null: one worker.
  std::shared_ptr<fastcache::NscdEpochs> nscd_epochs;
};

class CachePublisher {
 public:
  // Opens (or adopts) the enabled maps in options.dir. A map that cannot be
  // opened is an error naming it: the daemon would otherwise run without it silently.
  static core::Result<std::unique_ptr<CachePublisher>> open(CachePublisherOptions options);
  ~CachePublisher();

  // One lookup's answer, or its definite "no such entry", in the map that
  // holds the query's kind (passwd, group or initgroups; pages: none).
  void publish(const model::Query& query, const model::Answer& answer);
  void publish_negative(const model::Query& query);

  // Drops everything published (a source changed, or an administrator asked).
  core::Status invalidate_all();
  // Drops the maps in `mask` (proto::kMapPasswd | kMapGroup | kMapInitgroups).
  core::Status invalidate(std::uint32_t mask);
  // One key, for `fastid cache show` and `invalidate user|group`: what the
  // map of the query's kind holds for it (nullopt: nothing, or the map is
  // disabled), and its removal (true: a record went).
  struct Held {
    bool negative = false;
    std::int64_t expires_ms = 0;  // wall clock, ms since the epoch
  };
  core::Result<std::optional<Held>> find(const model::Query& query) const;
  core::Result<bool> remove(const model::Query& query);
  // How many invalidations and removals there were: what was answered before
  // the last one may be stale (shared_replies.h keys on it).
  std::uint64_t invalidations() const { return invalidations_; }
  // The map a query's kind is published in ("passwd", "group", "initgroups"; "" for pages).
  static const char* map_name(model::Kind kind);

  // Tells readers the daemon is alive; call every few seconds.
  void heartbeat();
  // The nscd maps' expiry and timestamp; call about once a second.
  void sweep();
  // A stopping daemon: the nscd maps are retired for good (clients go to the socket).
  void retire_nscd();
  // nullptr: the nscd front hands out no maps.
  const fastcache::NscdMaps* nscd_maps() const { return nscd_.get(); }
  // A read-only descriptor of the nscd map of `db` and its size (the caller
  // closes it); nullopt: no map.
  std::optional<std::pair<int, std::uint64_t>> nscd_handout(proto::nscd::Database db);
  // The map's part of `nscd -g`'s figures for `db` (the answers counted on
  // the socket are the server's).
  proto::nscd::DatabaseStatistics nscd_statistics(proto::nscd::Database db) const;

  // size, entries, evictions, generation per map, for `fastid status`.
  std::vector<std::pair<std::string, std::string>> stats() const;

 private:
  explicit CachePublisher(CachePublisherOptions options);
  void note(const core::Status& st, const char* what);
  // The map of a query's kind and its options; {nullptr, nullptr} for pages
  // and disabled maps.
  std::pair<fastcache::FastCacheWriter*, const CacheMapOptions*> map_for(model::Kind kind) const;

  CachePublisherOptions options_;
  std::unique_ptr<fastcache::FastCacheWriter> passwd_, group_, initgroups_;
  std::unique_ptr<fastcache::NscdMaps> nscd_;
  std::uint64_t failures_ = 0;
  std::uint64_t invalidations_ = 0;
  bool failure_logged_ = false;
};

}  // namespace fastid::server
