// Store's writes (store.h): records put in batches or one transaction each,
// negative answers (by name under a keyed digest) in a database of their own
// with their own budget, and eviction of the oldest records before the map
// is full.
#include "store/store_internal.h"

#include <lmdb.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "core/log.h"
#include "store/record_codec.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace fastid::store {

using namespace internal;

Status Store::write_once(const Rows& records, int* mdb_rc) {
  Txn txn;
  int rc = txn.begin(env_->env, 0);
  if (rc == 0) {
    for (const auto& row : records) {
      MDB_val mk = val(row.key), mv = val(row.value);
      rc = mdb_put(txn.get(), row.negative ? env_->negatives : env_->records, &mk, &mv, 0);
      if (rc != 0) break;
    }
  }
  if (rc == 0) rc = txn.commit();
  *mdb_rc = rc;
  return rc == 0 ? Status::ok() : lmdb_error(rc, "write");
}

// LMDB copies every page it changes, deletes included: a map that is full to
// the last page cannot even evict. So eviction starts at a high-water mark,
// well before MDB_MAP_FULL (which remains the fallback). Deleting the oldest
// records empties slots spread over many pages rather than whole pages, so
// the page count does not drop: the mark is learnt once as a number of
// records (records at the mark / fill), and kept to afterwards.
Store::Fill Store::fill() const {
  Fill f;
  MDB_envinfo info;
  MDB_stat est;
  if (mdb_env_info(env_->env, &info) != 0 || mdb_env_stat(env_->env, &est) != 0) return f;
  const double max_pages = static_cast<double>(info.me_mapsize) / est.ms_psize;
  Txn txn;
  if (txn.begin(env_->env, MDB_RDONLY) != 0) return f;
  MDB_stat st;
  if (mdb_stat(txn.get(), env_->records, &st) != 0) return f;
  const double pages =
      static_cast<double>(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages);
  f.ratio = max_pages > 0 ? pages / max_pages : 0;
  f.entries = st.ms_entries;
  return f;
}

Status Store::put_batch(const std::function<void()>& fill) {
  batching_ = true;
  batch_.clear();
  fill();
  batching_ = false;
  auto groups = std::move(batch_);
  batch_.clear();
  if (groups.empty()) return Status::ok();
  if (groups.size() == 1) return put_records(groups.front());
  Rows all;
  for (auto& g : groups) all.insert(all.end(), g.begin(), g.end());
  if (Status st = put_records(all); st) return st;
  --write_errors_;  // counted per put, below
  Status first;
  for (const auto& g : groups) {
    Status st = put_records(g);
    if (!st && first.is_ok()) first = st;
  }
  return first;
}

// Negative answers have a budget of their own (Options::max_negative_entries):
// a flood of unknown names, which any local user can send, evicts older
// negative answers only. Counting is O(1) (the negatives database's entry
// count, shared by every process); the eviction scans only the negatives.
void Store::keep_negatives_in_budget(std::size_t adding) {
  if (adding == 0) return;
  const std::uint64_t budget = std::max<std::uint64_t>(options_.max_negative_entries, 1);
  Txn txn;
  if (txn.begin(env_->env, MDB_RDONLY) != 0) return;
  MDB_stat st;
  if (mdb_stat(txn.get(), env_->negatives, &st) != 0) return;
  txn.abort();
  const std::uint64_t count = st.ms_entries;
  if (count + adding <= budget || count == 0) return;
  const double target = static_cast<double>(budget) * 7.0 / 8.0;  // one scan per budget/8 negatives
  const double fraction = std::min(1.0, 1.0 - (target - static_cast<double>(adding)) / static_cast<double>(count));
  Status ev = evict_oldest(fraction, Evict::kNegatives);
  if (!ev) core::log_warning(ev.to_string());
}

Status Store::put_records(const Rows& records) {
  if (batching_) {
    batch_.push_back(records);
    return Status::ok();
  }
  // A SIGBUS anywhere in the write (the eviction's walk included) aborts the
  // transactions open, releasing LMDB's writer lock, and turns the store off.
  Status st;
  if (!guarded([&] { st = put_records_now(records); })) {
    ++write_errors_;
    return off_status();
  }
  return st;
}

Status Store::put_records_now(const Rows& records) {
  if (Status whole = check_file(); !whole) {
    ++write_errors_;
    return whole;
  }
  keep_negatives_in_budget(static_cast<std::size_t>(
      std::count_if(records.begin(), records.end(), [](const Row& r) { return r.negative; })));
  int rc = 0;
  if (++puts_since_check_ >= kFillCheckEvery) {
    puts_since_check_ = 0;
    const Fill f = fill();
    if (f.ratio > kHighWater && f.entries > 0) {
      const auto limit =
          static_cast<std::uint64_t>(static_cast<double>(f.entries) * kHighWater / f.ratio);
      entry_limit_ = entry_limit_ == 0 ? limit : std::min(entry_limit_, limit);
    }
    if (entry_limit_ > 0 && f.entries > entry_limit_ * kLowWater / kHighWater &&
        (f.ratio > kHighWater || f.entries > entry_limit_)) {
      const double target = static_cast<double>(entry_limit_) * kLowWater / kHighWater;
      const double fraction = 1.0 - target / static_cast<double>(f.entries);
      if (!high_water_logged_.exchange(true)) {
        // Said once per process: from here on evicting is the store's normal
        // state, and a line per eviction would only repeat this one.
        core::log_warning("store: the map is full to its high-water mark (" + std::to_string(f.entries) +
                          " records, " + std::to_string(static_cast<int>(f.ratio * 100)) + " % of " +
                          std::to_string(options_.map_size) +
                          " bytes): evicting the records fetched longest ago, down to 60 %; "
                          "lookups of evicted records ask the provider again ([store] size keeps more)");
      }
      Status ev = evict_oldest(std::max(options_.evict_fraction, fraction), Evict::kRecords);
      if (!ev) core::log_warning(ev.to_string());
    }
  }
  Status st = write_once(records, &rc);
  // Full: make room, oldest first, and try again; a record that still does
  // not fit is refused. A failed transaction changed nothing.
  for (int attempt = 0; rc == MDB_MAP_FULL && attempt < 3; ++attempt) {
    Status ev = evict_oldest(options_.evict_fraction, Evict::kNegativesFirst);
    if (!ev) {
      st = ev;
      break;
    }
    st = write_once(records, &rc);
  }
  if (!st) {
    ++write_errors_;
    if (rc == MDB_MAP_FULL) {
      return Status::busy("store: no room for a record of " +
                          std::to_string(records.front().value.size()) + " bytes in a map of " +
                          std::to_string(options_.map_size) +
                          " bytes, even after evicting the oldest records");
    }
  }
  return st;
}

// The oldest `fraction` of the records that `which` names go, in small
// transactions: one transaction that deleted them all would copy nearly every
// leaf page at once and need more free pages than a nearly full map has.
// kNegativesFirst (a full map): every negative answer goes before the oldest
// positive record does.
Status Store::evict_oldest(double fraction, Evict which) {
  struct Victim {
    bool positive;
    Millis fetched;
    std::string key;
    bool operator<(const Victim& o) const {
      return std::tie(positive, fetched, key) < std::tie(o.positive, o.fetched, o.key);
    }
  };
  std::vector<Victim> all;
  {
    Txn txn;
    int rc = txn.begin(env_->env, MDB_RDONLY);
    if (rc != 0) return lmdb_error(rc, "begin eviction");
    auto collect = [&](MDB_dbi dbi, bool positive) -> int {
      MDB_cursor* cursor = nullptr;
      int crc = mdb_cursor_open(txn.get(), dbi, &cursor);
      if (crc != 0) return crc;
      MDB_val k, v;
      while (mdb_cursor_get(cursor, &k, &v, MDB_NEXT) == 0) {
        auto h = codec::decode_header(view(v));
        all.push_back({positive, h ? h->fetched : 0, std::string(view(k))});  // undecodable: first to go
      }
      mdb_cursor_close(cursor);
      return 0;
    };
    if (which != Evict::kRecords && (rc = collect(env_->negatives, false)) != 0)
      return lmdb_error(rc, "eviction cursor");
    if (which != Evict::kNegatives && (rc = collect(env_->records, true)) != 0)
      return lmdb_error(rc, "eviction cursor");
  }
  if (all.empty()) return Status::busy("store: full with no records to evict");
  std::size_t n = std::max<std::size_t>(
      1, static_cast<std::size_t>(static_cast<double>(all.size()) * fraction));
  n = std::min(n, all.size());
  std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n - 1), all.end());
  const std::size_t total = all.size();
  all.resize(n);
  std::sort(all.begin(), all.end());
  std::size_t done = 0, negatives = 0;
  Status failure;
  while (done < n) {
    Txn txn;
    int rc = txn.begin(env_->env, 0);
    const std::size_t end = std::min(n, done + kEvictBatch);
    std::size_t batch_negatives = 0;
    for (std::size_t i = done; rc == 0 && i < end; ++i) {
      MDB_val dk = val(all[i].key);
      rc = mdb_del(txn.get(), all[i].positive ? env_->records : env_->negatives, &dk, nullptr);
      if (rc == MDB_NOTFOUND) rc = 0;  // another process evicted it first
      if (!all[i].positive) ++batch_negatives;
    }
    if (rc == 0) rc = txn.commit();
    if (rc != 0) {
      failure = lmdb_error(rc, "evict");
      break;
    }
    done = end;
    negatives += batch_negatives;
  }
  evictions_ += done;
  negative_evictions_ += negatives;
  if (done > negatives) {
    // Said once at info; a store that stays full would otherwise fill the log.
    core::log(evictions_ - negative_evictions_ == done - negatives ? core::LogLevel::kInfo : core::LogLevel::kDebug,
              "store: full, evicted the " + std::to_string(done) + " oldest of " + std::to_string(total) +
                  " records");
  } else if (done > 0) {
    core::log(negative_evictions_ == negatives ? core::LogLevel::kInfo : core::LogLevel::kDebug,
              "store: " + std::to_string(negatives) + " negative answers evicted, oldest first (over " +
                  std::to_string(options_.max_negative_entries) +
                  ", [store] max_negative_entries); no positive record was touched");
  }
  return done > 0 ? Status::ok() : failure;
}

std::uint64_t Store::next_stamp() {
  // splitmix64's finaliser: a bijection, so distinct counters give distinct stamps.
  std::uint64_t z = stamp_seed_ + 0x9e3779b97f4a7c15ULL * (stamps_.fetch_add(1, std::memory_order_relaxed) + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return z != 0 ? z : 1;
}

Status Store::put_user(std::string_view provider, const model::User& user, Millis fetched,
                       Millis expires) {
  codec::Header h{false, Map::kUserByName, fetched, expires, next_stamp()};
  Rows recs;
  recs.push_back({key(provider, Map::kUserByName, user.name), codec::encode_user(h, user)});
  h.map = Map::kUserByUid;
  recs.push_back({key(provider, Map::kUserByUid, id_key(user.uid)), codec::encode_user(h, user)});
  return put_records(recs);
}

Status Store::put_group(std::string_view provider, const model::Group& group, Millis fetched,
                        Millis expires) {
  codec::Header h{false, Map::kGroupByName, fetched, expires, next_stamp()};
  Rows recs;
  recs.push_back({key(provider, Map::kGroupByName, group.name), codec::encode_group(h, group)});
  h.map = Map::kGroupByGid;
  recs.push_back({key(provider, Map::kGroupByGid, id_key(group.gid)), codec::encode_group(h, group)});
  return put_records(recs);
}

Status Store::put_initgroups(std::string_view provider, std::string_view user,
                             const std::vector<std::uint32_t>& gids, Millis fetched,
                             Millis expires) {
  codec::Header h{false, Map::kInitgroups, fetched, expires, next_stamp()};
  return put_records({{key(provider, Map::kInitgroups, user), codec::encode_gids(h, gids)}});
}

std::string Store::negative_key(std::string_view provider, Map map, std::string_view k) const {
  return by_name(map) ? negative_name_key(provider, map, k) : key(provider, map, k);
}

std::string Store::negative_name_key(std::string_view provider, Map map, std::string_view name) const {
  XXH128_hash_t d = XXH3_128bits_withSecret(name.data(), name.size(), env_->name_key.data(), env_->name_key.size());
  char digest[16];
  std::memcpy(digest, &d.low64, 8);
  std::memcpy(digest + 8, &d.high64, 8);
  return key(provider, static_cast<Map>(static_cast<std::uint8_t>(map) | kDigestMapBit),
             std::string_view(digest, sizeof digest));
}

Status Store::put_negative(std::string_view provider, Map map, std::string_view k, Millis fetched,
                           Millis expires) {
  codec::Header h{true, map, fetched, expires, next_stamp()};
  return put_records({{negative_key(provider, map, k), codec::encode_header(h), true}});
}

Status Store::put(std::string_view provider, const model::Query& q, const model::Answer& answer,
                  Millis fetched, Millis expires) {
  if (Status st = model::check_answer(q, answer); !st) return st;
  if (const auto* u = std::get_if<model::User>(&answer)) return put_user(provider, *u, fetched, expires);
  if (const auto* g = std::get_if<model::Group>(&answer)) return put_group(provider, *g, fetched, expires);
  if (const auto* gids = std::get_if<model::Gids>(&answer)) {
    return put_initgroups(provider, q.name, *gids, fetched, expires);
  }
  codec::Header h{false, Map::kNetgroup, fetched, expires, next_stamp()};
  if (const auto* ng = std::get_if<model::Netgroup>(&answer)) {
    return put_records({{key(provider, Map::kNetgroup, q.name), codec::encode_netgroup(h, *ng)}});
  }
  if (const auto* keys = std::get_if<model::SshKeys>(&answer)) {
    h.map = Map::kSshKeys;
    return put_records({{key(provider, Map::kSshKeys, q.name), codec::encode_ssh_keys(h, *keys)}});
  }
  return not_stored(q);
}

Status Store::put_negative(std::string_view provider, const model::Query& q, Millis fetched,
                           Millis expires) {
  const std::optional<Map> map = map_of(q.kind);
  if (!map) return not_stored(q);
  return put_negative(provider, *map, model::keyed_by_id(q.kind) ? id_key(q.id) : q.name, fetched, expires);
}

}  // namespace fastid::store
