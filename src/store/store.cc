#include "store/store.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/log.h"
#include "store/record_codec.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace fastid::store {
namespace {

// The format record in the "meta" database: a file without it, or with
// another value, is not ours to read.
constexpr std::string_view kFormatKey = "format";
constexpr std::string_view kFormat = "fastid-store/1";
// The secret of the name digests in the "meta" database (random, made once):
// a negative answer by name is stored under a keyed digest of the name, never
// the name, because what a lookup asks for may be a password typed at a
// login prompt. The key sits in the same 0600 file, so it protects nothing
// from the file's readers (root, the daemon's user); it keeps the name out of
// a copy of the records made without it, and out of the pages LMDB frees.
constexpr std::string_view kNameKeyKey = "name_key";
constexpr std::size_t kNameKeySize = 192;  // an XXH3 secret (>= 136 bytes)
// Negative answers by name use their map's byte with this bit set.
constexpr std::uint8_t kDigestMapBit = 0x80;

bool by_name(Map map) {
  return map == Map::kUserByName || map == Map::kGroupByName || map == Map::kInitgroups ||
         map == Map::kNetgroup || map == Map::kSshKeys;
}

Status lmdb_error(int rc, std::string_view what) {
  if (rc == MDB_MAP_FULL)
    return Status::busy("store: " + std::string(what) + ": the store is full");
  if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
      rc == MDB_VERSION_MISMATCH) {
    return Status::corruption("store: " + std::string(what) + ": " + mdb_strerror(rc));
  }
  if (rc > 0) return core::status_from_errno(rc, "store: " + std::string(what));
  return Status::internal("store: " + std::string(what) + ": " + mdb_strerror(rc));
}

MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

// A transaction that aborts unless committed.
class Txn {
 public:
  Txn() = default;
  ~Txn() { abort(); }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  int begin(MDB_env* env, unsigned flags) { return mdb_txn_begin(env, nullptr, flags, &txn_); }
  int commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    return rc;
  }
  void abort() {
    if (txn_) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

// Holds an exclusive flock on dir/open.lock while one process opens, checks
// and maybe replaces the store, so that two workers starting together never
// both replace it.
class OpenLock {
 public:
  explicit OpenLock(const std::string& dir) {
    fd_ = ::open((dir + "/open.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ >= 0) {
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  ~OpenLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace

Millis now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view map_name(Map map) {
  switch (map) {
    case Map::kUserByName:
      return "passwd.byname";
    case Map::kUserByUid:
      return "passwd.byuid";
    case Map::kGroupByName:
      return "group.byname";
    case Map::kGroupByGid:
      return "group.bygid";
    case Map::kInitgroups:
      return "initgroups";
    case Map::kNetgroup:
      return "netgroup";
    case Map::kSshKeys:
      return "sshkeys";
  }
  return "?";
}

struct Store::Env {
  MDB_env* env = nullptr;
  MDB_dbi meta = 0;
  MDB_dbi records = 0;
  std::string name_key;  // kNameKeySize bytes
  // One read transaction, reset after each lookup and renewed for the next:
  // it keeps its reader slot, so a lookup takes no lock on LMDB's reader
  // table (which every fastidd process shares).
  MDB_txn* reader = nullptr;
  ~Env() {
    if (reader) mdb_txn_abort(reader);
    if (env) mdb_env_close(env);
  }
};

Store::Store(Options options) : options_(std::move(options)) {}

Store::~Store() {
  if (env_ && env_->env) (void)mdb_env_sync(env_->env, 1);
}

std::string Store::key(std::string_view provider, Map map, std::string_view k) {
  std::string out;
  out.reserve(provider.size() + 2 + k.size());
  out.append(provider);
  out.push_back('\0');
  out.push_back(static_cast<char>(map));
  out.append(k);
  return out;
}

std::string Store::id_key(std::uint32_t id) {
  // Big-endian, so that ids sort in numeric order within a map.
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((id >> (24 - 8 * i)) & 0xff);
  return out;
}

Result<std::unique_ptr<Store>> Store::open(Options options) {
  if (options.dir.empty() || options.dir[0] != '/') {
    return core::error(Status::invalid_argument(
        "store: directory must be an absolute path, got \"" + options.dir + "\""));
  }
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec)
    return core::error(Status(core::Code::kIoError,
                              "store: create " + options.dir + ": " + ec.message(), ec.value()));
  ::chmod(options.dir.c_str(), 0700);
  std::unique_ptr<Store> store(new Store(std::move(options)));
  OpenLock lock(store->options_.dir);
  if (!lock.ok())
    return core::error(core::status_from_errno(errno, "store: lock " + store->options_.dir));
  bool replaced = false;
  Status st = store->open_env(&replaced);
  if (!st && (st.code() == core::Code::kCorruption || st.code() == core::Code::kInvalidArgument)) {
    // Not ours or damaged: keep one copy for a post-mortem and start empty.
    const std::string data = store->options_.dir + "/data.mdb";
    core::log_error(st.to_string() + "; moving it aside to " + data +
                    ".bad and starting an empty store");
    store->env_.reset();
    if (::rename(data.c_str(), (data + ".bad").c_str()) != 0 && errno != ENOENT) {
      return core::error(core::status_from_errno(errno, "store: rename " + data));
    }
    ::unlink((store->options_.dir + "/lock.mdb").c_str());
    replaced = true;
    st = store->open_env(&replaced);
  }
  if (!st) return core::error(st);
  store->replaced_ = replaced ? 1 : 0;
  return store;
}

Status Store::open_env(bool* replaced) {
  (void)replaced;
  auto env = std::make_unique<Env>();
  int rc = mdb_env_create(&env->env);
  if (rc != 0) return lmdb_error(rc, "create environment");
  mdb_env_set_mapsize(env->env, options_.map_size);
  mdb_env_set_maxdbs(env->env, 4);
  mdb_env_set_maxreaders(env->env, 1022);
  // NOTLS: read transactions are not tied to a thread. NOSYNC: a commit is
  // not an fsync (a cache can lose its last seconds on power loss; sync() on
  // a timer bounds that). NORDAHEAD: lookups are random.
  rc = mdb_env_open(env->env, options_.dir.c_str(), MDB_NOTLS | MDB_NOSYNC | MDB_NORDAHEAD, 0600);
  if (rc != 0) {
    if (rc == ENOSPC || rc == EACCES || rc == EROFS || rc == ENOENT)
      return lmdb_error(rc, "open " + options_.dir);
    // Anything else (not an LMDB file, another version, a truncated file).
    return Status::corruption("store: open " + options_.dir + ": " + mdb_strerror(rc));
  }
  // LMDB 0.9.24 opens data.mdb without O_CLOEXEC: no store descriptor may
  // reach a provider worker that the daemon spawns.
  int data_fd = -1;
  if (mdb_env_get_fd(env->env, &data_fd) == 0 && data_fd >= 0) {
    ::fcntl(data_fd, F_SETFD, ::fcntl(data_fd, F_GETFD) | FD_CLOEXEC);
  }
  int dead = 0;
  (void)mdb_reader_check(env->env, &dead);  // slots of processes that died mid-read

  Txn txn;
  rc = txn.begin(env->env, 0);
  if (rc != 0) return Status::corruption("store: begin: " + std::string(mdb_strerror(rc)));
  rc = mdb_dbi_open(txn.get(), "meta", MDB_CREATE, &env->meta);
  if (rc != 0) return Status::corruption("store: open meta: " + std::string(mdb_strerror(rc)));
  rc = mdb_dbi_open(txn.get(), "records", MDB_CREATE, &env->records);
  if (rc != 0) return Status::corruption("store: open records: " + std::string(mdb_strerror(rc)));
  MDB_val k = val(kFormatKey), v;
  rc = mdb_get(txn.get(), env->meta, &k, &v);
  if (rc == MDB_NOTFOUND) {
    MDB_stat stat;
    mdb_stat(txn.get(), env->records, &stat);
    if (stat.ms_entries != 0) return Status::corruption("store: records without a format record");
    MDB_val fv = val(kFormat);
    rc = mdb_put(txn.get(), env->meta, &k, &fv, 0);
    if (rc != 0) return lmdb_error(rc, "write format record");
  } else if (rc != 0) {
    return Status::corruption("store: read format record: " + std::string(mdb_strerror(rc)));
  } else if (view(v) != kFormat) {
    return Status::corruption("store: " + options_.dir + " holds format \"" + std::string(view(v)) +
                              "\", this fastidd reads \"" + std::string(kFormat) + "\"");
  }
  MDB_val nk = val(kNameKeyKey), nv;
  rc = mdb_get(txn.get(), env->meta, &nk, &nv);
  if (rc == MDB_NOTFOUND) {
    std::string key(kNameKeySize, '\0');
    if (::getrandom(key.data(), key.size(), 0) != static_cast<ssize_t>(key.size()))
      return core::status_from_errno(errno, "store: getrandom");
    MDB_val kv = val(key);
    rc = mdb_put(txn.get(), env->meta, &nk, &kv, 0);
    if (rc != 0) return lmdb_error(rc, "write name key");
    env->name_key = std::move(key);
  } else if (rc != 0 || nv.mv_size != kNameKeySize) {
    return Status::corruption("store: read name key: " + std::string(rc != 0 ? mdb_strerror(rc) : "bad size"));
  } else {
    env->name_key = std::string(view(nv));
  }
  // Walk the keys once: a damaged page shows up here rather than at some
  // later lookup (100,000 records take a few milliseconds). A negative answer
  // stored under the name itself (by a fastidd before the digests) goes.
  MDB_cursor* cursor = nullptr;
  rc = mdb_cursor_open(txn.get(), env->records, &cursor);
  if (rc != 0) return Status::corruption("store: cursor: " + std::string(mdb_strerror(rc)));
  MDB_val ck, cv;
  while ((rc = mdb_cursor_get(cursor, &ck, &cv, MDB_NEXT)) == 0) {
    std::string_view k = view(ck);
    std::size_t nul = k.find('\0');
    auto h = codec::decode_header(view(cv));
    if (h && h->negative && nul != std::string_view::npos && nul + 1 < k.size() &&
        by_name(static_cast<Map>(static_cast<std::uint8_t>(k[nul + 1]))))
      (void)mdb_cursor_del(cursor, 0);
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND)
    return Status::corruption("store: walking the records: " + std::string(mdb_strerror(rc)));
  rc = txn.commit();
  if (rc != 0) return lmdb_error(rc, "commit");
  env_ = std::move(env);
  return Status::ok();
}

Status Store::write_once(const std::vector<std::pair<std::string, std::string>>& records,
                         int* mdb_rc) {
  Txn txn;
  int rc = txn.begin(env_->env, 0);
  if (rc == 0) {
    for (const auto& [k, v] : records) {
      MDB_val mk = val(k), mv = val(v);
      rc = mdb_put(txn.get(), env_->records, &mk, &mv, 0);
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
  std::vector<std::pair<std::string, std::string>> all;
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

Status Store::put_records(const std::vector<std::pair<std::string, std::string>>& records) {
  if (batching_) {
    batch_.push_back(records);
    return Status::ok();
  }
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
      Status ev = evict_oldest(std::max(options_.evict_fraction, fraction));
      if (!ev) core::log_warning(ev.to_string());
    }
  }
  Status st = write_once(records, &rc);
  // Full: make room, oldest first, and try again; a record that still does
  // not fit is refused. A failed transaction changed nothing.
  for (int attempt = 0; rc == MDB_MAP_FULL && attempt < 3; ++attempt) {
    Status ev = evict_oldest(options_.evict_fraction);
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
                          std::to_string(records.front().second.size()) + " bytes in a map of " +
                          std::to_string(options_.map_size) +
                          " bytes, even after evicting the oldest records");
    }
  }
  return st;
}

// The oldest `fraction` of the records go, in small transactions: one
// transaction that deleted them all would copy nearly every leaf page at once
// and need more free pages than a nearly full map has.
Status Store::evict_oldest(double fraction) {
  std::vector<std::pair<Millis, std::string>> all;
  {
    Txn txn;
    int rc = txn.begin(env_->env, MDB_RDONLY);
    if (rc != 0) return lmdb_error(rc, "begin eviction");
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(txn.get(), env_->records, &cursor);
    if (rc != 0) return lmdb_error(rc, "eviction cursor");
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) == 0) {
      auto h = codec::decode_header(view(v));
      all.emplace_back(h ? h->fetched : 0, std::string(view(k)));  // undecodable: first to go
    }
    mdb_cursor_close(cursor);
  }
  if (all.empty()) return Status::busy("store: full with no records to evict");
  std::size_t n = std::max<std::size_t>(
      1, static_cast<std::size_t>(static_cast<double>(all.size()) * fraction));
  n = std::min(n, all.size());
  std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n - 1), all.end());
  const std::size_t total = all.size();
  all.resize(n);
  std::sort(all.begin(), all.end());
  std::size_t done = 0;
  Status failure;
  while (done < n) {
    Txn txn;
    int rc = txn.begin(env_->env, 0);
    const std::size_t end = std::min(n, done + kEvictBatch);
    for (std::size_t i = done; rc == 0 && i < end; ++i) {
      MDB_val dk = val(all[i].second);
      rc = mdb_del(txn.get(), env_->records, &dk, nullptr);
      if (rc == MDB_NOTFOUND) rc = 0;  // another process evicted it first
    }
    if (rc == 0) rc = txn.commit();
    if (rc != 0) {
      failure = lmdb_error(rc, "evict");
      break;
    }
    done = end;
  }
  evictions_ += done;
  if (done > 0) {
    // Said once at info; a store that stays full would otherwise fill the log.
    core::log(evictions_ == done ? core::LogLevel::kInfo : core::LogLevel::kDebug,
              "store: full, evicted the " + std::to_string(done) + " oldest of " +
                  std::to_string(total) + " records");
  }
  return done > 0 ? Status::ok() : failure;
}

Status Store::put_user(std::string_view provider, const model::User& user, Millis fetched,
                       Millis expires) {
  codec::Header h{false, Map::kUserByName, fetched, expires};
  std::vector<std::pair<std::string, std::string>> recs;
  recs.emplace_back(key(provider, Map::kUserByName, user.name), codec::encode_user(h, user));
  h.map = Map::kUserByUid;
  recs.emplace_back(key(provider, Map::kUserByUid, id_key(user.uid)), codec::encode_user(h, user));
  return put_records(recs);
}

Status Store::put_group(std::string_view provider, const model::Group& group, Millis fetched,
                        Millis expires) {
  codec::Header h{false, Map::kGroupByName, fetched, expires};
  std::vector<std::pair<std::string, std::string>> recs;
  recs.emplace_back(key(provider, Map::kGroupByName, group.name), codec::encode_group(h, group));
  h.map = Map::kGroupByGid;
  recs.emplace_back(key(provider, Map::kGroupByGid, id_key(group.gid)),
                    codec::encode_group(h, group));
  return put_records(recs);
}

Status Store::put_initgroups(std::string_view provider, std::string_view user,
                             const std::vector<std::uint32_t>& gids, Millis fetched,
                             Millis expires) {
  codec::Header h{false, Map::kInitgroups, fetched, expires};
  return put_records({{key(provider, Map::kInitgroups, user), codec::encode_gids(h, gids)}});
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
  codec::Header h{true, map, fetched, expires};
  return put_records({{by_name(map) ? negative_name_key(provider, map, k) : key(provider, map, k),
                       codec::encode_header(h)}});
}

// By name, a positive answer is under the name and a negative one under its
// digest: the newer of the two is the answer.
Result<std::optional<std::string>> Store::get_by_name(std::string_view provider, Map map, std::string_view name,
                                                      std::string* key_used) {
  std::string pk = key(provider, map, name), nk = negative_name_key(provider, map, name);
  auto pos = get_raw(pk);
  if (!pos) return pos;
  auto neg = get_raw(nk);
  if (!neg) return neg;
  auto fetched = [](const std::optional<std::string>& raw) -> Millis {
    auto h = raw ? codec::decode_header(*raw) : std::nullopt;
    return h ? h->fetched : -1;
  };
  bool negative = neg->has_value() && (!pos->has_value() || fetched(*neg) > fetched(*pos));
  *key_used = negative ? nk : pk;
  return negative ? std::move(*neg) : std::move(*pos);
}

namespace {

// The map a query's key is stored in; nullopt for the kinds never stored (pages).
std::optional<Map> map_of(model::Kind kind) {
  switch (kind) {
    case model::Kind::kUserByName: return Map::kUserByName;
    case model::Kind::kUserByUid: return Map::kUserByUid;
    case model::Kind::kGroupByName: return Map::kGroupByName;
    case model::Kind::kGroupByGid: return Map::kGroupByGid;
    case model::Kind::kInitgroups: return Map::kInitgroups;
    case model::Kind::kNetgroup: return Map::kNetgroup;
    case model::Kind::kSshKeys: return Map::kSshKeys;
    case model::Kind::kUsersPage:
    case model::Kind::kGroupsPage: break;
  }
  return std::nullopt;
}

Status not_stored(const model::Query& q) {
  return Status::invalid_argument("store: " + model::describe(q) + " is never stored");
}

}  // namespace

Status Store::put(std::string_view provider, const model::Query& q, const model::Answer& answer,
                  Millis fetched, Millis expires) {
  if (Status st = model::check_answer(q, answer); !st) return st;
  if (const auto* u = std::get_if<model::User>(&answer)) return put_user(provider, *u, fetched, expires);
  if (const auto* g = std::get_if<model::Group>(&answer)) return put_group(provider, *g, fetched, expires);
  if (const auto* gids = std::get_if<model::Gids>(&answer)) {
    return put_initgroups(provider, q.name, *gids, fetched, expires);
  }
  codec::Header h{false, Map::kNetgroup, fetched, expires};
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

Result<std::optional<std::string>> Store::get_raw(const std::string& k) {
  int rc = env_->reader ? mdb_txn_renew(env_->reader)
                        : mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &env_->reader);
  if (rc != 0) {
    if (env_->reader) mdb_txn_abort(env_->reader);
    env_->reader = nullptr;
    return core::error(lmdb_error(rc, "begin read"));
  }
  MDB_val mk = val(k), mv;
  rc = mdb_get(env_->reader, env_->records, &mk, &mv);
  std::optional<std::string> out;
  if (rc == 0) out = std::string(view(mv));  // copied before the snapshot is released
  mdb_txn_reset(env_->reader);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>();
  if (rc != 0) return core::error(lmdb_error(rc, "read"));
  return out;
}

void Store::drop_bad(const std::string& k) {
  core::log_warning("store: a record that does not decode was deleted (" +
                    std::to_string(k.size()) + "-byte key)");
  Txn txn;
  if (txn.begin(env_->env, 0) != 0) return;
  MDB_val mk = val(k);
  (void)mdb_del(txn.get(), env_->records, &mk, nullptr);
  (void)txn.commit();
}

namespace {

template <typename T, typename Decode>
Result<std::optional<Record<T>>> decode_record(const std::optional<std::string>& raw, Map map,
                                               Decode decode, bool* bad) {
  if (!raw) return std::optional<Record<T>>();
  auto h = codec::decode_header(*raw);
  if (!h || h->map != map) {
    *bad = true;
    return std::optional<Record<T>>();
  }
  Record<T> rec;
  rec.negative = h->negative;
  rec.fetched = h->fetched;
  rec.expires = h->expires;
  if (!h->negative) {
    auto v = decode(*raw);
    if (!v) {
      *bad = true;
      return std::optional<Record<T>>();
    }
    rec.value = std::move(*v);
  } else if (raw->size() != codec::kHeaderSize) {
    *bad = true;
    return std::optional<Record<T>>();
  }
  return std::optional<Record<T>>(std::move(rec));
}

}  // namespace

#define FASTID_STORE_GET(T, MAP, KEY, DECODE)           \
  std::string k = key(provider, MAP, KEY);              \
  auto raw = by_name(MAP) ? get_by_name(provider, MAP, KEY, &k) : get_raw(k); \
  if (!raw) return core::error(raw.error());            \
  bool bad = false;                                     \
  auto rec = decode_record<T>(*raw, MAP, DECODE, &bad); \
  if (bad) drop_bad(k);                                 \
  return rec;

Result<std::optional<Record<model::User>>> Store::user_by_name(std::string_view provider,
                                                               std::string_view name){
    FASTID_STORE_GET(model::User, Map::kUserByName, name, codec::decode_user)}

Result<std::optional<Record<model::User>>> Store::user_by_uid(std::string_view provider,
                                                              std::uint32_t uid){
    FASTID_STORE_GET(model::User, Map::kUserByUid, id_key(uid), codec::decode_user)}

Result<std::optional<Record<model::Group>>> Store::group_by_name(std::string_view provider,
                                                                 std::string_view name){
    FASTID_STORE_GET(model::Group, Map::kGroupByName, name, codec::decode_group)}

Result<std::optional<Record<model::Group>>> Store::group_by_gid(std::string_view provider,
                                                                std::uint32_t gid){
    FASTID_STORE_GET(model::Group, Map::kGroupByGid, id_key(gid), codec::decode_group)}

Result<std::optional<Record<std::vector<std::uint32_t>>>> Store::initgroups(
    std::string_view provider, std::string_view user){
    FASTID_STORE_GET(std::vector<std::uint32_t>, Map::kInitgroups, user, codec::decode_gids)}

Result<std::optional<Record<model::Netgroup>>> Store::netgroup(std::string_view provider,
                                                               std::string_view name){
    FASTID_STORE_GET(model::Netgroup, Map::kNetgroup, name, codec::decode_netgroup)}

Result<std::optional<Record<model::SshKeys>>> Store::ssh_keys(std::string_view provider,
                                                              std::string_view user){
    FASTID_STORE_GET(model::SshKeys, Map::kSshKeys, user, codec::decode_ssh_keys)}
#undef FASTID_STORE_GET

namespace {

template <typename T>
Result<std::optional<Record<model::Answer>>> as_answer(Result<std::optional<Record<T>>> r) {
  if (!r) return core::error(r.error());
  if (!*r) return std::optional<Record<model::Answer>>();
  Record<T>& rec = **r;
  return std::optional<Record<model::Answer>>(
      Record<model::Answer>{std::move(rec.value), rec.negative, rec.fetched, rec.expires});
}

}  // namespace

Result<std::optional<Record<model::Answer>>> Store::get(std::string_view provider, const model::Query& q) {
  switch (q.kind) {
    case model::Kind::kUserByName: return as_answer(user_by_name(provider, q.name));
    case model::Kind::kUserByUid: return as_answer(user_by_uid(provider, q.id));
    case model::Kind::kGroupByName: return as_answer(group_by_name(provider, q.name));
    case model::Kind::kGroupByGid: return as_answer(group_by_gid(provider, q.id));
    case model::Kind::kInitgroups: return as_answer(initgroups(provider, q.name));
    case model::Kind::kNetgroup: return as_answer(netgroup(provider, q.name));
    case model::Kind::kSshKeys: return as_answer(ssh_keys(provider, q.name));
    case model::Kind::kUsersPage:
    case model::Kind::kGroupsPage: break;
  }
  return core::error(not_stored(q));
}

Result<bool> Store::has_records(std::string_view provider) {
  Txn txn;
  int rc = txn.begin(env_->env, MDB_RDONLY);
  if (rc != 0) return core::error(lmdb_error(rc, "begin read"));
  std::string prefix(provider);
  prefix.push_back('\0');
  MDB_cursor* cursor = nullptr;
  rc = mdb_cursor_open(txn.get(), env_->records, &cursor);
  if (rc != 0) return core::error(lmdb_error(rc, "cursor"));
  MDB_val k = val(prefix), v;
  rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  const bool found = rc == 0 && view(k).starts_with(prefix);
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return core::error(lmdb_error(rc, "read"));
  return found;
}

Status Store::clear(std::string_view provider) {
  Txn txn;
  int rc = txn.begin(env_->env, 0);
  if (rc != 0) return lmdb_error(rc, "begin clear");
  if (provider.empty()) {
    rc = mdb_drop(txn.get(), env_->records, 0);
    if (rc != 0) return lmdb_error(rc, "clear");
  } else {
    std::string prefix(provider);
    prefix.push_back('\0');
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(txn.get(), env_->records, &cursor);
    if (rc != 0) return lmdb_error(rc, "clear cursor");
    MDB_val k = val(prefix), v;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && view(k).starts_with(prefix)) {
      rc = mdb_cursor_del(cursor, 0);
      if (rc != 0) break;
      rc = mdb_cursor_get(cursor, &k, &v, MDB_GET_CURRENT);
    }
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND && rc != EINVAL) return lmdb_error(rc, "clear");
  }
  rc = txn.commit();
  return rc == 0 ? Status::ok() : lmdb_error(rc, "commit clear");
}

Status Store::sync() {
  int rc = mdb_env_sync(env_->env, 1);
  return rc == 0 ? Status::ok() : lmdb_error(rc, "sync");
}

Stats Store::stats() const {
  Stats s;
  s.evictions = evictions_;
  s.write_errors = write_errors_;
  s.replaced = replaced_;
  MDB_envinfo info;
  MDB_stat est;
  if (mdb_env_info(env_->env, &info) == 0 && mdb_env_stat(env_->env, &est) == 0) {
    s.map_size = info.me_mapsize;
    s.used_bytes = (info.me_last_pgno + 1) * std::uint64_t{est.ms_psize};
  }
  Txn txn;
  if (txn.begin(env_->env, MDB_RDONLY) == 0) {
    MDB_stat st;
    if (mdb_stat(txn.get(), env_->records, &st) == 0) s.entries = st.ms_entries;
  }
  return s;
}

}  // namespace fastid::store
