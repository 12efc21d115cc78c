// Store (store.h): opening the LMDB environment (created, checked against
// the format record and replaced when it is not ours), keys, clearing and
// erasing records, sync and the figures. Writes are in store_writes.cc,
// reads in store_reads.cc; the LMDB pieces they share in store_internal.h.
#include "store/store.h"

#include "store/store_internal.h"

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

namespace fastid::store {

using namespace internal;

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

namespace internal {

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

// LMDB's meta page (lmdb 0.9, 64-bit): a 16-byte page header, then the
// magic, the version, the address and size of the map, the two databases of
// 48 bytes (the first one's pad word holds the page size), the last page
// used and the transaction id. Only what check_data_file needs.
namespace meta {
constexpr std::size_t kMagic = 16, kVersion = 20, kPageSize = 40, kLastPage = 136, kTxnId = 144, kEnd = 152;
constexpr std::uint32_t kLmdbMagic = 0xBEEFC0DEu, kLmdbVersion = 1;
}  // namespace meta

thread_local OpenTxns* open_txns = nullptr;

Status check_data_file(const Store::Env& env, const std::string& dir) {
  // Named only when something is wrong: this runs before every store read.
  const auto data = [&dir] { return dir + "/data.mdb"; };
  struct stat st;
  if (env.data_fd < 0 || ::fstat(env.data_fd, &st) != 0)
    return Status::corruption("store: " + data() + " cannot be checked: " + std::strerror(errno));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (st.st_nlink == 0)
    return Status::corruption("store: " + data() + " was removed while fastidd used it");
  // The meta pages are read with pread, once the size says they are there
  // (LMDB does not say where it mapped the file: mdb_env_info's me_mapaddr
  // is set only under MDB_FIXEDMAP).
  unsigned char head[2][meta::kEnd];
  std::size_t psize = env.psize;
  auto read_meta = [&](int i) {
    const std::uint64_t at = static_cast<std::uint64_t>(i) * psize;
    if (at + meta::kEnd > size) return false;
    return ::pread(env.data_fd, head[i], meta::kEnd, static_cast<off_t>(at)) == static_cast<ssize_t>(meta::kEnd);
  };
  auto word32 = [&](int i, std::size_t off) {
    std::uint32_t v;
    std::memcpy(&v, head[i] + off, sizeof v);
    return v;
  };
  auto word64 = [&](int i, std::size_t off) {
    std::uint64_t v;
    std::memcpy(&v, head[i] + off, sizeof v);
    return v;
  };
  if (psize == 0) {  // at open: the page size is in meta page 0
    psize = 1;
    if (!read_meta(0)) return Status::corruption("store: " + data() + " is " + std::to_string(size) + " bytes: cut short");
    psize = word32(0, meta::kPageSize);
    if (psize < 512 || psize > (1u << 16) || (psize & (psize - 1)) != 0)
      return Status::corruption("store: " + data() + " is not an LMDB file (no valid page size)");
  }
  if (size < 2 * psize)
    return Status::corruption("store: " + data() + " is " + std::to_string(size) +
                              " bytes, shorter than its two meta pages: truncated");
  int newest = -1;
  for (int i = 0; i < 2; ++i) {
    if (!read_meta(i) || word32(i, meta::kMagic) != meta::kLmdbMagic || word32(i, meta::kVersion) != meta::kLmdbVersion)
      continue;
    if (newest < 0 || word64(i, meta::kTxnId) > word64(newest, meta::kTxnId)) newest = i;
  }
  if (newest < 0)
    return Status::corruption("store: " + data() + " no longer holds LMDB meta pages: overwritten");
  // The size again, after the meta pages were read: a commit of the writer
  // thread may have grown the file and moved the last page since the first
  // look (a file only grows; one that shrank was cut short).
  if (::fstat(env.data_fd, &st) != 0)
    return Status::corruption("store: " + data() + " cannot be checked: " + std::strerror(errno));
  const std::uint64_t last = word64(newest, meta::kLastPage);
  const auto now_size = static_cast<std::uint64_t>(st.st_size);
  if (last >= now_size / psize)
    return Status::corruption("store: " + data() + " is " + std::to_string(now_size) +
                              " bytes but its last page ends at " + std::to_string((last + 1) * psize) + ": truncated");
  return Status::ok();
}

}  // namespace internal

// Built only when the store is off: the check runs before every read.
Status Store::off_status() const {
  return Status::corruption("store: " + options_.dir +
                            "/data.mdb was damaged while fastidd ran; the store is off until restart");
}

void Store::turn_off(const std::string& why) const {
  // What happened is said once, here; the callers' own lines carry off_status().
  if (!damaged_.exchange(true, std::memory_order_acq_rel)) {
    core::log_error(why + " while fastidd ran: the store is off until fastidd restarts (lookups go to "
                    "the providers); at the next start the file is moved aside to data.mdb.bad");
  }
}

// The whole check (two fstat, two preads of the meta pages) ran before every
// store read and cost ~7 us a store hit (docs/benchmarks.md). It now runs
// only when the file may have changed since it last passed: one fstat
// compares the size and change time. A change time within the last 100 ms
// is never trusted: file times move in clock ticks (a few ms), so a write in
// the same tick as the fstat would leave it as it was.
Status Store::check_file() const {
  if (damaged_.load(std::memory_order_acquire)) return off_status();
  Env& env = *env_;
  struct stat st;
  const bool looked = env.data_fd >= 0 && ::fstat(env.data_fd, &st) == 0 && st.st_nlink != 0;
  if (looked) {
    std::lock_guard lock(env.verified_mu);
    if (env.verified.valid && env.verified.size == st.st_size &&
        env.verified.ctime.tv_sec == st.st_ctim.tv_sec && env.verified.ctime.tv_nsec == st.st_ctim.tv_nsec)
      return Status::ok();
  }
  Status st_whole = check_data_file(env, options_.dir);
  if (st_whole) {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    const std::int64_t age_ns = (static_cast<std::int64_t>(now.tv_sec) - st.st_ctim.tv_sec) * 1'000'000'000 +
                                (now.tv_nsec - st.st_ctim.tv_nsec);
    if (looked && age_ns >= 100'000'000) {
      std::lock_guard lock(env.verified_mu);
      env.verified = {true, st.st_size, st.st_ctim};
    }
    return st_whole;
  }
  turn_off(st_whole.to_string());
  return off_status();
}

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
  if (::getrandom(&store->stamp_seed_, sizeof store->stamp_seed_, 0) != static_cast<ssize_t>(sizeof store->stamp_seed_))
    return core::error(core::status_from_errno(errno, "store: getrandom"));
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
  // A file cut short or written over is refused before LMDB reads a page of
  // it through the map (a truncated file would be SIGBUS in the walk below).
  env->data_fd = data_fd;
  if (Status whole = check_data_file(*env, options_.dir); !whole) return whole;
  MDB_stat est;
  if (mdb_env_stat(env->env, &est) == 0) env->psize = est.ms_psize;
  int dead = 0;
  (void)mdb_reader_check(env->env, &dead);  // slots of processes that died mid-read

  // The first reads of the file's pages (the databases, the format record,
  // the walk): a file cut short since the check is a SIGBUS here, which
  // refuses the file like any other damage (moved aside by open()).
  Status opened;
  if (!guarded([&] { opened = open_databases(*env); }, /*at_open=*/true)) {
    return Status::corruption("store: " + options_.dir + "/data.mdb was truncated while it was opened (SIGBUS)");
  }
  if (!opened) return opened;
  env_ = std::move(env);
  return Status::ok();
}

Status Store::open_databases(Env& e) {
  Env* env = &e;
  int rc = 0;
  Txn txn;
  rc = txn.begin(env->env, 0);
  if (rc != 0) return Status::corruption("store: begin: " + std::string(mdb_strerror(rc)));
  rc = mdb_dbi_open(txn.get(), "meta", MDB_CREATE, &env->meta);
  if (rc != 0) return Status::corruption("store: open meta: " + std::string(mdb_strerror(rc)));
  rc = mdb_dbi_open(txn.get(), "records", MDB_CREATE, &env->records);
  if (rc != 0) return Status::corruption("store: open records: " + std::string(mdb_strerror(rc)));
  rc = mdb_dbi_open(txn.get(), "negatives", MDB_CREATE, &env->negatives);
  if (rc != 0) return Status::corruption("store: open negatives: " + std::string(mdb_strerror(rc)));
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
  // among the positive records (written by a fastidd before negative answers
  // had a database and a budget of their own) goes: it would escape the budget.
  for (MDB_dbi dbi : {env->records, env->negatives}) {
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(txn.get(), dbi, &cursor);
    if (rc != 0) return Status::corruption("store: cursor: " + std::string(mdb_strerror(rc)));
    MDB_val ck, cv;
    while ((rc = mdb_cursor_get(cursor, &ck, &cv, MDB_NEXT)) == 0) {
      auto h = codec::decode_header(view(cv));
      if (dbi == env->records && h && h->negative) (void)mdb_cursor_del(cursor, 0);
    }
    mdb_cursor_close(cursor);
    if (rc != MDB_NOTFOUND)
      return Status::corruption("store: walking the records: " + std::string(mdb_strerror(rc)));
  }
  rc = txn.commit();
  if (rc != 0) return lmdb_error(rc, "commit");
  return Status::ok();
}

Result<std::size_t> Store::clear_maps(std::span<const Map> maps) {
  return guarded_call<Result<std::size_t>>([&] { return clear_maps_now(maps); });
}

Result<std::size_t> Store::clear_maps_now(std::span<const Map> maps) {
  if (Status whole = check_file(); !whole) return core::error(whole);
  auto wanted = [&](std::string_view k) {
    auto nul = k.find('\0');
    if (nul == std::string_view::npos || nul + 1 >= k.size()) return false;
    const auto m = static_cast<Map>(static_cast<std::uint8_t>(k[nul + 1]) & ~kDigestMapBit);
    return std::find(maps.begin(), maps.end(), m) != maps.end();
  };
  Txn txn;
  int rc = txn.begin(env_->env, 0);
  if (rc != 0) return core::error(lmdb_error(rc, "begin clear"));
  std::size_t removed = 0;
  for (MDB_dbi dbi : {env_->records, env_->negatives}) {
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(txn.get(), dbi, &cursor);
    if (rc != 0) return core::error(lmdb_error(rc, "clear cursor"));
    MDB_val k, v;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
    while (rc == 0) {
      if (wanted(view(k))) {
        rc = mdb_cursor_del(cursor, 0);
        if (rc != 0) break;
        ++removed;
        // After a delete the cursor sits on the next record (or past the end).
        rc = mdb_cursor_get(cursor, &k, &v, MDB_GET_CURRENT);
      } else {
        rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
      }
    }
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND && rc != EINVAL) return core::error(lmdb_error(rc, "clear"));
  }
  rc = txn.commit();
  if (rc != 0) return core::error(lmdb_error(rc, "commit clear"));
  return removed;
}

Result<std::size_t> Store::erase(std::string_view provider, const model::Query& q) {
  return guarded_call<Result<std::size_t>>([&] { return erase_now(provider, q); });
}

Result<std::size_t> Store::erase_now(std::string_view provider, const model::Query& q) {
  auto map = map_of(q.kind);
  if (!map) return core::error(not_stored(q));
  if (Status whole = check_file(); !whole) return core::error(whole);
  const std::string k = by_name(*map) ? q.name : id_key(q.id);
  const std::pair<MDB_dbi, std::string> keys[] = {{env_->records, key(provider, *map, k)},
                                                  {env_->negatives, negative_key(provider, *map, k)}};
  Txn txn;
  int rc = txn.begin(env_->env, 0);
  if (rc != 0) return core::error(lmdb_error(rc, "begin erase"));
  std::size_t removed = 0;
  for (const auto& [dbi, dk] : keys) {
    MDB_val kv = val(dk);
    rc = mdb_del(txn.get(), dbi, &kv, nullptr);
    if (rc == 0) ++removed;
    else if (rc != MDB_NOTFOUND) return core::error(lmdb_error(rc, "erase"));
  }
  rc = txn.commit();
  if (rc != 0) return core::error(lmdb_error(rc, "commit erase"));
  return removed;
}

Status Store::clear(std::string_view provider) {
  return guarded_call<Status>([&] { return clear_now(provider); });
}

Status Store::clear_now(std::string_view provider) {
  if (Status whole = check_file(); !whole) return whole;
  Txn txn;
  int rc = txn.begin(env_->env, 0);
  if (rc != 0) return lmdb_error(rc, "begin clear");
  for (MDB_dbi dbi : {env_->records, env_->negatives}) {
    if (provider.empty()) {
      rc = mdb_drop(txn.get(), dbi, 0);
      if (rc != 0) return lmdb_error(rc, "clear");
    } else {
      std::string prefix(provider);
      prefix.push_back('\0');
      MDB_cursor* cursor = nullptr;
      rc = mdb_cursor_open(txn.get(), dbi, &cursor);
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
  s.negative_evictions = negative_evictions_;
  s.write_errors = write_errors_;
  s.replaced = replaced_;
  // LMDB's figures are read from the file's pages. stats() is const for its
  // callers; the guard's bookkeeping is not.
  (void)const_cast<Store*>(this)->guarded([&] {
    if (!check_file()) return;
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
      if (mdb_stat(txn.get(), env_->negatives, &st) == 0) {
        s.negative_entries = st.ms_entries;
        s.entries += st.ms_entries;
      }
    }
  });
  return s;
}

}  // namespace fastid::store
