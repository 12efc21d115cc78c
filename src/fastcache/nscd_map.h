// The nscd front's shared maps: the passwd and group databases in the
// persistent-database layout glibc's built-in nscd client maps and searches
// in the calling process (database_pers_head, a hash table of ref_t,
// hashentry and datahead records; docs/nscd.md lists every rule of glibc's
// reader this layout keeps). Each map is a sealed memfd written by this
// process only; clients get a read-only descriptor (GETFDPW/GETFDGR over
// SCM_RIGHTS). Records are appended into fresh space and linked in last;
// nothing a client may read is ever moved or rewritten — an expired or
// replaced record only has its `usable` byte cleared, and a map that is
// invalidated or full is retired whole (glibc's gc_cycle made odd, its
// timestamp made stale) and a fresh one handed out. Loop-thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "fastcache/nscd_epochs.h"
#include "model/query.h"
#include "proto/nscd.h"

namespace fastid::fastcache {

// The layout glibc's reader expects (glibc's nscd-client.h; checked against
// glibc's own structs in tests/unit/nscd_map_test.cc).
namespace nscd_layout {
inline constexpr std::int32_t kDbVersion = 2;           // DB_VERSION
inline constexpr std::size_t kHeadSize = 120;           // sizeof (struct database_pers_head)
inline constexpr std::size_t kTableAlign = 16;          // ALIGN
inline constexpr std::size_t kHashEntrySize = 32;       // sizeof (struct hashentry), 64-bit
inline constexpr std::size_t kDataHeadSize = 24;        // offsetof (struct datahead, data)
inline constexpr std::uint32_t kEndRef = 0xffffffffu;   // ENDREF
inline constexpr std::int64_t kMappingTimeout = 5 * 60; // MAPPING_TIMEOUT, seconds
// Offsets in database_pers_head.
inline constexpr std::size_t kHeadVersion = 0, kHeadHeaderSize = 4, kHeadGcCycle = 8, kHeadRunning = 12,
                             kHeadTimestamp = 16, kHeadModule = 40, kHeadDataSize = 44, kHeadFirstFree = 48,
                             kHeadEntries = 52, kHeadMaxEntries = 56;
// Offsets in hashentry and datahead.
inline constexpr std::size_t kHeType = 0, kHeFirst = 1, kHeLen = 4, kHeKey = 8, kHeOwner = 12, kHeNext = 16,
                             kHePacket = 20;
inline constexpr std::size_t kDhAllocSize = 0, kDhRecSize = 4, kDhTimeout = 8, kDhNotFound = 16,
                             kDhUsable = 18, kDhTtl = 20;
// glibc's hash of a key (the sdbm hash: h = byte + 65599 * h over every byte).
std::uint32_t key_hash(std::span<const std::uint8_t> key);
}  // namespace nscd_layout

struct NscdMapOptions {
  std::uint64_t data_bytes = 8u << 20;  // the data area of one map; a full map is replaced by a fresh one
  std::uint32_t buckets = 16381;        // hash table size (glibc's `module`)
};

// One database's map.
class NscdMap {
 public:
  static core::Result<std::unique_ptr<NscdMap>> create(proto::nscd::Database db, NscdMapOptions options);
  // Retires the map (clients drop it) and releases this process's hold on it.
  ~NscdMap();
  NscdMap(const NscdMap&) = delete;
  NscdMap& operator=(const NscdMap&) = delete;

  struct Key {
    proto::nscd::RequestType type;
    std::string bytes;  // as glibc sends it, NUL included
  };
  // Appends `record` (a response header and what follows) under each key;
  // records those keys named before become unusable. `ttl` also decides when
  // the record is marked unusable. An answer every key already has, usable
  // and byte for byte, is not appended again (a peer asking the socket for
  // one name over and over must not fill the map).
  enum class Added { kAdded, kAlreadyThere, kNoRoom, kNegativeBudget };
  Added add(std::span<const Key> keys, std::span<const std::uint8_t> record, bool not_found,
            std::chrono::seconds ttl);
  // Clears the usable byte of every record whose ttl has passed.
  void expire(std::chrono::steady_clock::time_point now);
  // The timestamp glibc compares with MAPPING_TIMEOUT (nscd_certainly_running
  // stays 0, so a daemon that is killed has its maps dropped within 5 minutes).
  void heartbeat();
  // glibc's gc_cycle made odd for good, the timestamp stale: readers in the
  // middle of a lookup retry through the socket, every other asks for a new map.
  void retire();

  // A new read-only descriptor of the map for a client (the caller closes it
  // once sent) and the size to tell it; -1 when none can be made.
  int reader_fd() const;
  std::uint64_t size() const { return length_; }
  std::uint64_t entries() const { return entries_; }
  std::uint64_t used_bytes() const { return first_free_; }
  std::uint64_t data_bytes() const { return data_size_; }

 private:
  NscdMap() = default;
  unsigned char* data() const { return base_ + data_offset_; }
  void mark_unusable(std::uint32_t packet);
  bool same_as_current(std::span<const Key> keys, std::span<const std::uint8_t> record) const;

  int fd_ = -1;
  unsigned char* base_ = nullptr;
  std::uint64_t length_ = 0;
  std::uint64_t data_offset_ = 0;
  std::uint32_t data_size_ = 0;
  std::uint32_t buckets_ = 0;
  std::uint32_t first_free_ = 0;
  // Bytes of negative records: at most a quarter of the data, so that names
  // nobody has cannot fill a map (they are still answered on the socket).
  std::uint64_t negative_bytes_ = 0;
  std::uint64_t entries_ = 0;
  // Each key's current record (type byte + key bytes -> datahead offset).
  std::unordered_map<std::string, std::uint32_t> current_;
  // When records become unusable: (deadline, datahead offset), soonest first.
  using Expiry = std::pair<std::chrono::steady_clock::time_point, std::uint32_t>;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiries_;
};

// Both maps, published from the answers the daemon serves. With several
// front workers, each has its own NscdMaps, kept consistent through `epochs`
// (nscd_epochs.h): an invalidation here retires the other workers' maps of
// that database before they hand one out or publish again, within a second.
class NscdMaps {
 public:
  static core::Result<std::unique_ptr<NscdMaps>> create(NscdMapOptions options,
                                                        std::shared_ptr<NscdEpochs> epochs = nullptr);

  // One answer under the keys glibc looks it up by (a user by name and uid,
  // a group by name and gid, initgroups by user name); a negative answer
  // under the query's key.
  void publish(const model::Query& query, const model::Answer& answer, std::chrono::milliseconds ttl);
  void publish_negative(const model::Query& query, std::chrono::milliseconds ttl);
  // Retires the maps named and starts fresh, empty ones (and tells the
  // other front workers to do the same).
  core::Status invalidate(bool passwd = true, bool group = true);
  // Expiry, the timestamp, the other workers' invalidations; call about once a second.
  void sweep();
  // Retires both maps for good (a stopping daemon): clients go to the socket.
  void retire();

  struct Handout {
    int fd;  // the caller's to close
    std::uint64_t size;
  };
  std::optional<Handout> handout(proto::nscd::Database db);

  std::vector<std::pair<std::string, std::string>> stats() const;
  // One database's current map, for `nscd -g`.
  struct Figures {
    std::uint64_t buckets = 0, data_size = 0, used_bytes = 0, entries = 0;
  };
  std::optional<Figures> figures(proto::nscd::Database db) const;
  std::uint64_t dropped() const { return dropped_; }

 private:
  NscdMaps(NscdMapOptions options, std::shared_ptr<NscdEpochs> epochs)
      : options_(options), epochs_(std::move(epochs)) {}
  NscdMap* map(proto::nscd::Database db) const;
  // A fresh, empty map for `db` in place of the current one (which retires).
  core::Status replace(proto::nscd::Database db);
  // Retires a map made before another worker's invalidation of its database.
  void catch_up();
  void add(proto::nscd::Database db, std::span<const NscdMap::Key> keys, std::span<const std::uint8_t> record,
           bool not_found, std::chrono::milliseconds ttl);

  NscdMapOptions options_;
  std::shared_ptr<NscdEpochs> epochs_;  // null: one front worker, nobody else to follow
  std::uint64_t seen_[2] = {0, 0};       // per database: the epoch its map was made at
  std::unique_ptr<NscdMap> passwd_, group_;
  std::uint64_t generation_ = 0;  // fresh maps made
  std::uint64_t dropped_ = 0;     // records that fit in no map (or wait for the next one)
  std::chrono::steady_clock::time_point last_full_[2]{};  // per database: the last map replaced for being full
};

}  // namespace fastid::fastcache
