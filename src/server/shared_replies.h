// SharedReplies: the encoded payloads of a front worker's large lookup
// answers, kept so that every request for the same record version is
// answered from one immutable, reference-counted buffer (reply_frame.h):
// the loop copies and encodes a 650 KB group once, not once per request, and
// a slow reader holds a reference, not a copy (issue 20, "Loop latency" and
// "Hostile local clients" in docs/reliability.md).
//
// Nothing is served stale: an entry is used only while everything that made
// it is unchanged — the same directories (set_directories clears it), the
// same answer version (Directory::answer_version) of every directory asked
// up to and including the one that answered, read before the lookup and
// again after it (each must have one: a directory that cannot tell when its
// answer changes, 0, is never shared from; files: its data generation, the
// store: the stamp of the record it answered, new with every write), and the same count of
// invalidations of the fast cache (`fastid cache invalidate|forget`, a
// reload, a source that changed). Only successful answers are kept: error
// replies differ by caller (details for root only), answers do not.
// Loop-thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/query.h"
#include "proto/messages.h"

namespace fastid::server {

struct SharedRepliesOptions {
  std::size_t min_payload = 64 * 1024;   // smaller answers are encoded per request (cheap)
  std::size_t max_entries = 16;          // the oldest entry goes first
  std::size_t max_bytes = 8u << 20;      // payload bytes held by the table (in-flight replies hold their own references)
};

class SharedReplies {
 public:
  // What an answer's payload depends on: the answer versions of the
  // directories asked, in order, up to the one that answered, and the fast
  // cache's invalidation count.
  struct Version {
    std::vector<std::uint64_t> generations;
    std::uint64_t invalidations = 0;
    bool operator==(const Version&) const = default;
  };

  explicit SharedReplies(SharedRepliesOptions options = {}) : options_(options) {}

  // The payload kept for `query` if it was made at `current(n)`, the version
  // of its first n directories now (nullopt: one of them has no generation).
  template <typename Current>
  std::shared_ptr<const proto::Bytes> find(const model::Query& query, Current current) {
    for (Entry& e : entries_) {
      if (!(e.query == query)) continue;
      std::optional<Version> now = current(e.version.generations.size());
      if (now && *now == e.version) {
        ++hits_;
        e.last_use = ++clock_;
        return e.payload;
      }
      drop(e);  // made from data that has changed since
      return nullptr;
    }
    return nullptr;
  }

  // Keeps `payload` for `query` at `version` if it is large enough to be
  // worth sharing; returns whether it was kept.
  bool keep(const model::Query& query, Version version, std::shared_ptr<const proto::Bytes> payload);

  // Whether `query`'s last answer was large (kept or not): a version that
  // costs a read (a stored directory's) is taken before a lookup only then,
  // so small answers never pay for it. note_large: it was (remembered for
  // the last kMaxLargeQueries queries).
  bool known_large(const model::Query& query) const;
  void note_large(const model::Query& query);

  void clear();
  std::size_t min_payload() const { return options_.min_payload; }
  // shared_replies.entries, .bytes, .kept, .hits for `fastid status`.
  std::vector<std::pair<std::string, std::string>> status_items() const;

 private:
  struct Entry {
    model::Query query;
    Version version;
    std::shared_ptr<const proto::Bytes> payload;
    std::uint64_t last_use = 0;
  };
  void drop(Entry& e);

  static constexpr std::size_t kMaxLargeQueries = 64;

  SharedRepliesOptions options_;
  std::vector<Entry> entries_;
  std::vector<model::Query> large_;  // oldest first
  std::size_t bytes_ = 0;
  std::uint64_t clock_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t kept_ = 0;
};

}  // namespace fastid::server
