// Store: the daemon's persistent cache of full records on LMDB (DESIGN
// "Persistent store"). Users, groups, initgroups lists and negative answers,
// keyed by provider, map and key, each with the time it was fetched and the
// time it expires; negative answers in a database of their own, under their
// own budget (Options::max_negative_entries). One file shared by every fastidd process (LMDB is safe
// across processes; readers never block); each process opens its own Store
// after any fork and never hands it across one. docs/store.md.
//
// Failure rules: a full map evicts the oldest records (negative answers
// first) and retries, and when
// even that cannot make room (one record larger than the map) the put fails
// with kBusy and a message that says so — nothing already stored is harmed. A
// store file that is corrupt or of another format is logged, moved aside and
// replaced by an empty one at open: a cache is never worth refusing to start.
//
// Thread-safety: reads (get and the typed reads, has_records, stats) from one
// thread at a time (the front worker's loop), the puts and sync from one
// other thread at a time (StoreWriter's; LMDB serialises write transactions),
// erase/clear from either; several processes may use the same directory at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/query.h"

namespace fastid::store {

using core::Result;
using core::Status;

// Wall-clock milliseconds since the epoch: records outlive the process, so
// steady_clock means nothing to the next one.
using Millis = std::int64_t;
Millis now_millis();

// What a key names. Users and groups are stored under both their name and
// their id; initgroups lists and SSH keys under the user's name, netgroups
// under theirs.
enum class Map : std::uint8_t {
  kUserByName = 1,
  kUserByUid = 2,
  kGroupByName = 3,
  kGroupByGid = 4,
  kInitgroups = 5,
  kNetgroup = 6,
  kSshKeys = 7,
};
inline constexpr std::uint8_t kLastMap = 7;
std::string_view map_name(Map map);

// One stored answer. `negative`: the backend said "no such entry".
template <typename T>
struct Record {
  T value{};
  bool negative = false;
  Millis fetched = 0;
  Millis expires = 0;

  // Both read the wall clock's `now` against times stored in the file, which
  // outlives the process. A record fetched after `now` (the clock was set
  // back) has no known age: it is neither fresh nor young enough to answer
  // offline. Else a clock set back a day would keep every record fresh for a
  // day plus its ttl, and one set back further for as long as it takes the
  // clock to catch up.
  bool fresh(Millis now) const { return fetched <= now && now < expires; }
  bool fetched_within(Millis now, Millis max_age) const { return fetched <= now && now - fetched <= max_age; }
};

// What get() would answer for a query, without the record: its header.
// `stamp` is the write's (Store::put*): unique per write of any record, in
// any process, and never 0; a record written without one (an older fastidd's)
// has 0, no version. A record rewritten, evicted, erased, cleared or replaced
// with the file never comes back under the same stamp, so whatever was made
// from a record (server/shared_replies.h) is keyed on it.
struct RecordStamp {
  bool negative = false;
  Millis fetched = 0;
  Millis expires = 0;
  std::uint64_t stamp = 0;
  bool fresh(Millis now) const { return fetched <= now && now < expires; }
};

struct Options {
  std::string dir;                        // holds data.mdb and lock.mdb; created 0700
  std::uint64_t map_size = 256ull << 20;  // LMDB map size (the file's upper bound)
  // Fraction of the records evicted, oldest first, when the map is full.
  double evict_fraction = 0.125;
  // Negative answers ("no such entry") are kept apart from the records and
  // have a budget of their own: past it, the oldest negative answers go, and
  // never a positive record. A flood of unknown names (any local user can
  // send one) therefore cannot push the directory's real records out.
  std::uint64_t max_negative_entries = 10000;
};

struct Stats {
  std::uint64_t entries = 0;       // records in the file (all processes), negative answers included
  std::uint64_t negative_entries = 0;  // of which negative answers (at most max_negative_entries)
  std::uint64_t map_size = 0;      // bytes
  std::uint64_t used_bytes = 0;    // pages in use * page size
  std::uint64_t evictions = 0;     // records this process evicted
  std::uint64_t negative_evictions = 0;  // of which negative answers past their budget
  std::uint64_t write_errors = 0;  // puts this process could not store
  std::uint64_t replaced = 0;      // 1 when this process replaced a bad file at open
};

class Store {
 public:
  // Opens (creating when needed) the store in options.dir. A file LMDB
  // refuses, one cut short (check_file), or one whose format record is not
  // ours, is moved aside to data.mdb.bad and an empty store created in its
  // place (logged as an error). Fails only when the directory itself cannot be used.
  static Result<std::unique_ptr<Store>> open(Options options);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Positive records: a user is stored under its name and its uid, a group
  // under its name and its gid, in one transaction.
  Status put_user(std::string_view provider, const model::User& user, Millis fetched,
                  Millis expires);
  Status put_group(std::string_view provider, const model::Group& group, Millis fetched,
                   Millis expires);
  Status put_initgroups(std::string_view provider, std::string_view user,
                        const std::vector<std::uint32_t>& gids, Millis fetched, Millis expires);
  // A negative answer for one key ("no user named x", "no gid 5"). By name,
  // it is stored under a keyed digest of the name (never the name itself).
  Status put_negative(std::string_view provider, Map map, std::string_view key, Millis fetched,
                      Millis expires);

  // One lookup as the daemon stores it. put(): the answer to `query` (of its
  // kind) under every key it answers, as the typed puts above.
  // put_negative(): "no such entry" for the query's key, as the typed one
  // above. get(): the record for the query's key, as the typed reads
  // below. Enumeration pages are never stored: kInvalidArgument.
  Status put(std::string_view provider, const model::Query& query, const model::Answer& answer,
             Millis fetched, Millis expires);
  Status put_negative(std::string_view provider, const model::Query& query, Millis fetched,
                      Millis expires);
  // The puts `fill` makes are written in one transaction: the misses of one
  // loop turn cost one commit, not one each. If that transaction fails, each
  // put's records are written on their own, so that a record that does not
  // fit costs only itself. Returns the first failure.
  Status put_batch(const std::function<void()>& fill);
  Result<std::optional<Record<model::Answer>>> get(std::string_view provider, const model::Query& query);
  // The header of the record get() would answer (the newer of the positive
  // record and the negative answer), read without copying or decoding the
  // record: a 650 KB group costs what a user does. nullopt: nothing stored,
  // or a header that does not decode (get() then drops the record).
  Result<std::optional<RecordStamp>> stamp_of(std::string_view provider, const model::Query& query);

  // nullopt: nothing stored (or a record that does not decode, which is
  // deleted and logged). Errors only when LMDB itself fails.
  Result<std::optional<Record<model::User>>> user_by_name(std::string_view provider,
                                                          std::string_view name);
  Result<std::optional<Record<model::User>>> user_by_uid(std::string_view provider,
                                                         std::uint32_t uid);
  Result<std::optional<Record<model::Group>>> group_by_name(std::string_view provider,
                                                            std::string_view name);
  Result<std::optional<Record<model::Group>>> group_by_gid(std::string_view provider,
                                                           std::uint32_t gid);
  Result<std::optional<Record<std::vector<std::uint32_t>>>> initgroups(std::string_view provider,
                                                                       std::string_view user);

  // Whether any record of `provider` is stored (a store that served it before).
  Result<bool> has_records(std::string_view provider);

  // Removes every record of a provider (or all when provider is empty).
  Status clear(std::string_view provider);
  // Removes every record of the given maps, of every provider, negative
  // answers included; returns how many were removed. For `fastid cache
  // invalidate passwd` and friends: the next lookup asks the directory.
  Result<std::size_t> clear_maps(std::span<const Map> maps);
  // Removes what is stored for one query's key (a positive record and a
  // negative answer both); returns how many records went (0, 1 or 2). Only
  // that key: a user stored under its name is also stored under its uid, and
  // the caller erases both (server/cache_control). Pages: kInvalidArgument.
  Result<std::size_t> erase(std::string_view provider, const model::Query& query);

  // Writes what the OS holds of the map to disk (the store writes without
  // fsync per commit; the front worker calls this on a timer and at stop).
  Status sync();

  Stats stats() const;
  // Whether the file is still the one opened: LMDB reads it through a map,
  // and a file truncated under it would be SIGBUS at the next read, one
  // overwritten (meta pages that are not LMDB's) a wild page number. Every
  // read and write checks it first (an fstat and two words of the map); once
  // it fails, the store answers every call with kCorruption until restart
  // (logged once), and the next open moves the file aside.
  Status check_file() const;
  const Options& options() const { return options_; }
  // How many times a SIGBUS on the map (the file cut short between the
  // check and a read or write) was caught; the store is off after the first.
  std::uint64_t sigbus_faults() const { return sigbus_faults_.load(); }

  // The key under which a record is stored (exposed for tests and tools).
  static std::string key(std::string_view provider, Map map, std::string_view k);
  static std::string id_key(std::uint32_t id);

  struct Env;  // LMDB's handles (store_internal.h)

 private:
  // The newer kinds are reached through get(); no typed accessors of their own.
  Result<std::optional<Record<model::Netgroup>>> netgroup(std::string_view provider, std::string_view name);
  Result<std::optional<Record<model::SshKeys>>> ssh_keys(std::string_view provider, std::string_view user);
  explicit Store(Options options);
  Status open_env(bool* replaced);
  // open_env's first reads: the databases, the format record, the name key, the walk.
  Status open_databases(Env& env);
  // The calls' bodies, run under guarded_call.
  Result<std::size_t> clear_maps_now(std::span<const Map> maps);
  Result<std::size_t> erase_now(std::string_view provider, const model::Query& query);
  Status clear_now(std::string_view provider);
  Result<bool> has_records_now(std::string_view provider);
  // One record to write: a positive one goes to the records database, a
  // negative answer to the negatives database (its own budget).
  struct Row {
    std::string key;
    std::string value;
    bool negative = false;
  };
  using Rows = std::vector<Row>;
  Status put_records(const Rows& records);
  Status put_records_now(const Rows& records);  // put_records' body, under guarded()
  Status write_once(const Rows& records, int* mdb_rc);
  // Which records an eviction may take: the positive ones (their high-water
  // mark), the negative ones (their budget), or both, negatives first (a
  // full map).
  enum class Evict { kRecords, kNegatives, kNegativesFirst };
  Status evict_oldest(double fraction, Evict which);
  // Past max_negative_entries (counting `adding` about to be written), the
  // oldest negative answers go, down to 7/8 of the budget.
  void keep_negatives_in_budget(std::size_t adding);
  struct Fill {
    double ratio = 0;  // pages of records / pages of the map
    std::uint64_t entries = 0;
  };
  Fill fill() const;

  static constexpr double kHighWater = 0.75;      // evict when the records fill this much
  static constexpr double kLowWater = 0.6;        // ... down to this
  static constexpr int kFillCheckEvery = 16;      // puts between two checks
  static constexpr std::size_t kEvictBatch = 32;  // deletions per transaction
  // At most `limit` bytes of the value are copied out (stamp_of: the header).
  Result<std::optional<std::string>> get_raw(const std::string& key, bool negatives,
                                             std::size_t limit = std::string::npos);
  // The newer of the positive record under `positive_key` and the negative
  // answer under `negative_key`; says which one it returned.
  Result<std::optional<std::string>> get_newer(const std::string& positive_key, const std::string& negative_key,
                                               bool* negative_used, std::size_t limit = std::string::npos);
  // A new write's stamp (RecordStamp): a bijective mix of a random seed
  // drawn at open and a counter, so distinct for every write of this Store
  // and, across processes sharing the file, as unlikely to meet as two
  // random 64-bit numbers; never 0.
  std::uint64_t next_stamp();
  // The key of a negative answer: by name a keyed digest, by id the record's key.
  std::string negative_key(std::string_view provider, Map map, std::string_view k) const;
  // Where a negative answer by name is stored: a keyed digest, not the name.
  std::string negative_name_key(std::string_view provider, Map map, std::string_view name) const;
  void drop_bad(const std::string& key, bool negatives);
  // Runs `body` (LMDB calls, and copies out of the map) under the SIGBUS
  // guard (core/sigbus_guard.h; store_internal.h): false when the file was
  // cut short under it. Then the transactions body had open on this thread
  // are aborted (LMDB's writer lock released) and, unless `at_open`, the
  // store is turned off (said once).
  template <typename Body>
  bool guarded(Body&& body, bool at_open = false);
  // body() (returning R: Status or a Result) under guarded(): its value, or
  // off_status() after a SIGBUS.
  template <typename R, typename Body>
  R guarded_call(Body&& body);
  // Turns the store off for good, saying `why` once (the first time).
  void turn_off(const std::string& why) const;
  // The error every call returns once the store is off.
  Status off_status() const;

  Options options_;
  std::unique_ptr<Env> env_;
  // Written by the writer thread (StoreWriter), read by stats() on the loop.
  std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::uint64_t> negative_evictions_{0};
  std::atomic<std::uint64_t> write_errors_{0};
  std::uint64_t replaced_ = 0;
  mutable std::atomic<bool> damaged_{false};  // check_file() failed or a SIGBUS was caught: for good
  std::atomic<std::uint64_t> sigbus_faults_{0};
  std::atomic<bool> high_water_logged_{false};
  std::uint64_t stamp_seed_ = 0;             // random, drawn at open (after any fork)
  std::atomic<std::uint64_t> stamps_{0};     // stamps given out
  int puts_since_check_ = kFillCheckEvery;  // check at the first put
  bool batching_ = false;                   // inside put_batch: puts are collected in batch_
  std::vector<Rows> batch_;
  std::uint64_t entry_limit_ = 0;           // records at the high-water mark, once learnt
};

}  // namespace fastid::store
