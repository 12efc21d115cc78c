// The store's internals, shared by its files and included by them only:
// store.cc (opening, checking and clearing the LMDB environment, figures),
// store_writes.cc (records in, eviction) and store_reads.cc (records out).
// LMDB's types stay out of store.h.
#pragma once

#include <lmdb.h>
#include <sys/stat.h>
#include <time.h>

#include <mutex>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/sigbus_guard.h"
#include "store/store.h"

namespace fastid::store {

namespace internal {

// Negative answers by name use their map's byte with this bit set.
inline constexpr std::uint8_t kDigestMapBit = 0x80;

// The maps keyed by a name (the others by an id).
bool by_name(Map map);
// An LMDB return code as a Status: a full map is kBusy, a damaged file kCorruption.
Status lmdb_error(int rc, std::string_view what);

inline MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

// The transactions open on this thread inside one Store::guarded call: a
// SIGBUS skips the destructors of their Txn objects, so the guard aborts
// them from here (a write transaction holds LMDB's writer lock, which every
// fastidd process shares).
struct OpenTxns {
  static constexpr int kMax = 4;  // the store nests at most two
  MDB_txn* txns[kMax] = {};
  bool read_only[kMax] = {};
  int count = 0;
  void add(MDB_txn* t, bool ro) {
    if (count < kMax) {
      read_only[count] = ro;
      txns[count++] = t;
    }
  }
  void remove(MDB_txn* t) {
    for (int i = 0; i < count; ++i) {
      if (txns[i] == t) {
        --count;
        txns[i] = txns[count];
        read_only[i] = read_only[count];
        return;
      }
    }
  }
};
// This thread's, while it is inside Store::guarded (else null).
extern thread_local OpenTxns* open_txns;

// A transaction that aborts unless committed. Inside Store::guarded it is
// known to the guard from begin until commit or abort has returned.
class Txn {
 public:
  Txn() = default;
  ~Txn() { abort(); }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  int begin(MDB_env* env, unsigned flags) {
    const int rc = mdb_txn_begin(env, nullptr, flags, &txn_);
    if (rc == 0 && open_txns != nullptr) open_txns->add(txn_, (flags & MDB_RDONLY) != 0);
    return rc;
  }
  int commit() {
    int rc = mdb_txn_commit(txn_);
    if (open_txns != nullptr) open_txns->remove(txn_);
    txn_ = nullptr;
    return rc;
  }
  void abort() {
    if (txn_) {
      mdb_txn_abort(txn_);
      if (open_txns != nullptr) open_txns->remove(txn_);
    }
    txn_ = nullptr;
  }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

// Whether the data file is still whole and LMDB's (Store::check_file).
Status check_data_file(const Store::Env& env, const std::string& dir);

// The map a query's key is stored in; nullopt for the kinds never stored (pages).
std::optional<Map> map_of(model::Kind kind);
// The error for a query of a kind never stored.
Status not_stored(const model::Query& q);

}  // namespace internal

template <typename Body>
bool Store::guarded(Body&& body, bool at_open) {
  internal::OpenTxns open;
  internal::OpenTxns* const outer = internal::open_txns;
  internal::open_txns = &open;
  const bool whole = core::sigbus_guarded(body);
  internal::open_txns = outer;
  if (whole) return true;
  ++sigbus_faults_;
  // What the skipped frames left open. A read transaction is aborted (its
  // reader slot freed; no page of data.mdb touched). A write transaction
  // is left as it is, on purpose: LMDB links the cursor of an mdb_put or
  // mdb_del in progress, which lives on the stack the jump abandoned, into
  // the transaction, and aborting it would free that stack address (a
  // crash, seen). Leaving it keeps LMDB's writer lock held by this process
  // until it exits (a robust mutex: the next process recovers it); every
  // fastidd process checks the file before each write, finds it cut short
  // and turns its store off, so none waits on the lock.
  for (int i = open.count - 1; i >= 0; --i) {
    if (!open.read_only[i]) continue;
    MDB_txn* t = open.txns[i];
    (void)core::sigbus_guarded([t] { mdb_txn_abort(t); });
  }
  if (!at_open) {
    turn_off("store: " + options_.dir +
             "/data.mdb was truncated under fastidd's map of it (SIGBUS while reading or writing it)");
  }
  return false;
}

template <typename R, typename Body>
R Store::guarded_call(Body&& body) {
  std::optional<R> out;
  if (guarded([&] { out.emplace(body()); })) return std::move(*out);
  if constexpr (std::is_same_v<R, Status>) {
    return off_status();
  } else {
    return core::error(off_status());
  }
}

struct Store::Env {
  MDB_env* env = nullptr;
  MDB_dbi meta = 0;
  MDB_dbi records = 0;    // positive records
  MDB_dbi negatives = 0;  // negative answers, under their own budget
  std::string name_key;  // kNameKeySize bytes
  // One read transaction, reset after each lookup and renewed for the next:
  // it keeps its reader slot, so a lookup takes no lock on LMDB's reader
  // table (which every fastidd process shares).
  MDB_txn* reader = nullptr;
  // What check_file() looks at, taken once the file was found whole at open:
  // the data file's descriptor and its page size.
  int data_fd = -1;
  std::size_t psize = 0;
  // The data file's size and change time when the whole check last passed
  // (Store::check_file): while fstat shows the same, nothing has written the
  // file since and the meta pages need not be read again.
  struct Stamp {
    bool valid = false;
    off_t size = 0;
    timespec ctime{};
  };
  std::mutex verified_mu;
  Stamp verified;
  ~Env() {
    if (reader) mdb_txn_abort(reader);
    if (env) mdb_env_close(env);
  }
};

}  // namespace fastid::store
