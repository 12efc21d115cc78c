// CachePublisher: puts the answers the daemon serves into the fast cache maps
// (passwd, group, initgroups) that clients read without a socket. Owns one
// FastCacheWriter per enabled map; failures to publish are counted and logged
// once, never fail a request. Loop-thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "model/query.h"

namespace fastid::fastcache {
class FastCacheWriter;
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
  // Tells readers the daemon is alive; call every few seconds.
  void heartbeat();

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
  std::uint64_t failures_ = 0;
  bool failure_logged_ = false;
};

}  // namespace fastid::server
