// FastCacheWriter: publishes passwd, group or initgroups answers into one fast
// cache map file that clients read without locks (daemon side; FastCacheReader
// is the other half). Promises: only public data (the passwd field is "x" or
// "*", never a hash); records are immutable once reachable, so a reader's copy
// is either consistent or detected as torn; oldest records are evicted first
// (FIFO ring); writers in any number of processes serialise on a lock that the
// kernel releases when its holder dies, and every step of a write leaves a file
// that the next writer (and every reader) can use. One object may be shared by
// threads (an internal mutex); one per process: do not use it on both sides of a fork.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "fastcache/layout.h"
#include "model/query.h"

namespace fastid::fastcache {

// Points inside a write where FastCacheOptions::test_hook is called: tests kill
// a writer there to prove the next one copes.
enum class WriterStage {
  kLocked,        // the writer lock was just taken
  kReserved,      // tail moved and head advanced; the record is not written yet
  kWritten,       // the record is written; the index does not point to it yet
  kRenamed,       // invalidate/resize: the new file is in place, the old one not marked yet
};

struct FastCacheOptions {
  uint64_t size_bytes = 8u << 20;   // whole file; fixed until resize()
  uint32_t index_entries = 0;       // per index table, power of two; 0 = from size_bytes
  uint32_t probe_limit = 16;        // index entries a lookup looks at, at most
  uint32_t max_record = 64u << 10;  // larger records are not published (the socket serves them)
  std::chrono::milliseconds max_ttl{std::chrono::hours(24)};     // cap on any record's ttl
  std::chrono::milliseconds stale_after{std::chrono::seconds(30)};  // heartbeat age readers accept
  std::chrono::milliseconds lock_timeout{std::chrono::milliseconds(200)};  // then kBusy
  void (*test_hook)(WriterStage stage, void* ctx) = nullptr;
  void* test_hook_ctx = nullptr;
};

struct FastCacheStats {
  uint64_t size_bytes = 0;      // the file
  uint64_t data_bytes = 0;      // of which the record ring
  uint32_t index_entries = 0;   // per table
  uint64_t entries = 0;         // records in the ring (older copies of a key count until evicted)
  uint64_t inserts = 0;         // records written to this file
  uint64_t evictions = 0;       // records the ring dropped to make room
  uint64_t generation = 0;      // +1 per new file (invalidate, resize, recreate)
  uint64_t damaged = 0;         // files abandoned because touching them raised SIGBUS (cut short)
};

class FastCacheWriter {
 public:
  // Opens (or creates) DIR/<map name>: an existing live file with the same
  // geometry is adopted, so a restarted daemon keeps its clients' maps warm;
  // anything else is replaced by a new, empty file. Creates DIR (0755) if needed.
  static core::Result<std::unique_ptr<FastCacheWriter>> open(std::string dir, MapKind kind,
                                                            FastCacheOptions options = {});
  ~FastCacheWriter();
  FastCacheWriter(const FastCacheWriter&) = delete;
  FastCacheWriter& operator=(const FastCacheWriter&) = delete;

  // Publishing. A record replaces any older one with the same key. ttl is
  // capped at options.max_ttl. Errors: kInvalidArgument (wrong map kind, a
  // name or field the client would refuse, a record above max_record),
  // kBusy (lock not taken within lock_timeout), kIoError.
  core::Status put_user(const model::User& user, std::chrono::milliseconds ttl);
  core::Status put_group(const model::Group& group, std::chrono::milliseconds ttl);
  core::Status put_initgroups(std::string_view user, std::span<const uint32_t> gids,
                              std::chrono::milliseconds ttl);
  // Negative answers ("no such user/group"), usually with a short ttl.
  core::Status put_negative_user_name(std::string_view name, std::chrono::milliseconds ttl);
  core::Status put_negative_uid(uint32_t uid, std::chrono::milliseconds ttl);
  core::Status put_negative_group_name(std::string_view name, std::chrono::milliseconds ttl);
  core::Status put_negative_gid(uint32_t gid, std::chrono::milliseconds ttl);
  core::Status put_negative_initgroups(std::string_view user, std::chrono::milliseconds ttl);
  // One lookup as the daemon publishes it: the answer to a by-name, by-id or
  // initgroups query, or its "no such entry", through the typed puts above.
  // Pages are never published (kInvalidArgument).
  core::Status put(const model::Query& query, const model::Answer& answer, std::chrono::milliseconds ttl);
  core::Status put_negative(const model::Query& query, std::chrono::milliseconds ttl);

  // One key as an administrator sees it (`fastid cache show`): what the map
  // holds for the query's key, if anything.
  struct Held {
    bool negative = false;
    uint64_t expires_ns = 0;  // CLOCK_REALTIME
  };
  core::Result<std::optional<Held>> find(const model::Query& query);
  // Removes the record that answers the query's key, under every key it is
  // indexed by (a user's name and uid), and scrubs its bytes: once this
  // returns no reader answers from it. True when a record was removed.
  core::Result<bool> remove(const model::Query& query);

  // Publishes a new empty file (generation + 1) and marks the old one
  // superseded: once this returns, no reader returns an answer from the old file.
  core::Status invalidate();
  // invalidate() with a new file size.
  core::Status resize(uint64_t size_bytes);
  // Refreshes the header's heartbeat; call it well within options.stale_after.
  // Also removes expired negative by-name records (index entry and bytes).
  core::Status heartbeat();
  core::Result<FastCacheStats> stats();

  MapKind kind() const { return kind_; }
  const std::string& path() const { return path_; }

 private:
  struct Key;
  FastCacheWriter(std::string dir, MapKind kind, FastCacheOptions options);

  core::Status lock(std::unique_lock<std::mutex>& guard, bool strict = false);
  void unlock();
  core::Status sync_with_path(bool strict);       // under the lock
  // Under the lock: a new file renamed into place; then ours (and old_fd's
  // file, when >= 0) marked superseded.
  core::Status create_and_publish(uint64_t size_bytes, uint64_t generation, int old_fd);
  bool adopt(int fd, bool strict, MapParams* seen);  // under the lock
  void unmap();
  enum class Append { kOk, kRepublish };
  Append append(std::string& record, const Key* keys, int nkeys);  // under the lock
  static constexpr uint64_t kNoRecord = ~uint64_t{0};
  uint64_t slot_for(const Key& key, uint64_t* replaced) const;
  // The live record indexed under `key` (under the lock), or kNoRecord.
  uint64_t locate(const Key& key) const;
  core::Result<Key> key_of(const model::Query& query) const;
  uint64_t table_offset(uint32_t table) const;
  uint64_t key_hash(const Key& key) const;
  void scrub(uint64_t pos, bool negative_only);
  void remove_expired_negatives(uint64_t now);
  core::Status put_negative_name(std::string_view name, std::chrono::milliseconds ttl);
  bool record_has_key(uint64_t pos, const Key& key) const;
  void count_evictions(uint64_t need_tail);
  // Stamps the expiry (now + ttl, capped by the file's max ttl) and appends.
  core::Status put(std::string& record, std::chrono::milliseconds ttl, const Key* keys, int nkeys);
  void hook(WriterStage s) const;
  // Runs `body`, which touches a mapped file, under core::sigbus_guarded:
  // false when the file was cut short under it (SIGBUS; in fastidd only).
  // Bodies hold nothing a skipped destructor would release: words of the
  // map in and out, nothing allocated, no descriptor, no lock taken inside.
  template <typename Body>
  bool touch(Body&& body);
  // After a SIGBUS in our own file (under the lock): the mapping is dropped
  // without another touch (a record half written in it goes with it), the
  // event logged and counted; recover() then makes the path's file ours
  // again, or publishes a new one, as at start.
  void abandon();
  core::Status recover();
  void remove_stale_temp_files();
  uint64_t word(uint64_t off) const { return load_relaxed(base_, off); }
  // Stores one word into the map and has memcheck check it (writer_internal.h).
  void set_word(uint64_t off, uint64_t v);

  std::string dir_;
  std::string path_;
  std::string lock_path_;
  MapKind kind_;
  FastCacheOptions options_;
  std::mutex mu_;
  int lock_fd_ = -1;
  pid_t pid_ = 0;                 // process that opened lock_fd_
  unsigned char* base_ = nullptr;
  uint64_t length_ = 0;
  uint64_t dev_ = 0, ino_ = 0;
  MapParams params_;
  uint64_t tmp_counter_ = 0;
  uint64_t damaged_ = 0;  // abandon() calls
};

}  // namespace fastid::fastcache
