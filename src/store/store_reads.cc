// Store's reads (store.h): one record by its key through the kept read
// transaction, the newer of a positive record and a negative answer, each
// decoded and checked (a record that does not decode is dropped).
#include "store/store_internal.h"

#include <lmdb.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "store/record_codec.h"

namespace fastid::store {

using namespace internal;

// A positive record is in the records database and a negative answer in the
// negatives one (by name under the name's digest): the newer of the two is
// the answer.
Result<std::optional<std::string>> Store::get_newer(const std::string& positive_key, const std::string& negative_key,
                                                    bool* negative_used, std::size_t limit) {
  auto pos = get_raw(positive_key, false, limit);
  if (!pos) return pos;
  auto neg = get_raw(negative_key, true, limit);
  if (!neg) return neg;
  auto fetched = [](const std::optional<std::string>& raw) -> Millis {
    auto h = raw ? codec::decode_header(*raw) : std::nullopt;
    return h ? h->fetched : -1;
  };
  *negative_used = neg->has_value() && (!pos->has_value() || fetched(*neg) > fetched(*pos));
  return *negative_used ? std::move(*neg) : std::move(*pos);
}

Result<std::optional<std::string>> Store::get_raw(const std::string& k, bool negatives, std::size_t limit) {
  // Set and read across the guard: what a SIGBUS left (the kept read
  // transaction active, its reader slot pinning a snapshot).
  bool reading = false, begin_failed = false;
  std::optional<std::string> out;
  int rc = 0;
  Status whole;
  const bool ran = guarded([&] {
    whole = check_file();
    if (!whole) return;
    rc = env_->reader ? mdb_txn_renew(env_->reader) : mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &env_->reader);
    if (rc != 0) {
      if (env_->reader) mdb_txn_abort(env_->reader);
      env_->reader = nullptr;
      begin_failed = true;
      return;
    }
    reading = true;
    MDB_val mk = val(k), mv;
    rc = mdb_get(env_->reader, negatives ? env_->negatives : env_->records, &mk, &mv);
    if (rc == 0) {
      // Copied before the snapshot is released; the buffer is out's before
      // the copy, so a SIGBUS in the copy leaks nothing.
      const std::size_t n = std::min(mv.mv_size, limit);
      out.emplace(n, '\0');
      std::memcpy(out->data(), mv.mv_data, n);
    }
    mdb_txn_reset(env_->reader);
    reading = false;
  });
  if (!ran) {
    if (reading && env_->reader != nullptr) {
      MDB_txn* reader = env_->reader;
      env_->reader = nullptr;
      (void)core::sigbus_guarded([reader] { mdb_txn_abort(reader); });
    }
    return core::error(off_status());
  }
  if (!whole) return core::error(whole);
  if (begin_failed) return core::error(lmdb_error(rc, "begin read"));
  if (rc == MDB_NOTFOUND) return std::optional<std::string>();
  if (rc != 0) return core::error(lmdb_error(rc, "read"));
  return out;
}

void Store::drop_bad(const std::string& k, bool negatives) {
  core::log_warning("store: a record that does not decode was deleted (" +
                    std::to_string(k.size()) + "-byte key)");
  (void)guarded([&] {
    Txn txn;
    if (txn.begin(env_->env, 0) != 0) return;
    MDB_val mk = val(k);
    (void)mdb_del(txn.get(), negatives ? env_->negatives : env_->records, &mk, nullptr);
    (void)txn.commit();
  });
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
  } else if (raw->size() != h->size) {
    *bad = true;
    return std::optional<Record<T>>();
  }
  return std::optional<Record<T>>(std::move(rec));
}

}  // namespace

#define FASTID_STORE_GET(T, MAP, KEY, DECODE)                                             \
  const std::string pk = key(provider, MAP, KEY), nk = negative_key(provider, MAP, KEY); \
  bool negative = false;                                                                \
  auto raw = get_newer(pk, nk, &negative);                                              \
  if (!raw) return core::error(raw.error());                                            \
  bool bad = false;                                                                     \
  auto rec = decode_record<T>(*raw, MAP, DECODE, &bad);                                 \
  if (bad) drop_bad(negative ? nk : pk, negative);                                      \
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

Result<std::optional<RecordStamp>> Store::stamp_of(std::string_view provider, const model::Query& q) {
  const std::optional<Map> map = map_of(q.kind);
  if (!map) return core::error(not_stored(q));
  const std::string k = model::keyed_by_id(q.kind) ? id_key(q.id) : q.name;
  bool negative = false;
  auto raw = get_newer(key(provider, *map, k), negative_key(provider, *map, k), &negative,
                       codec::kStampedHeaderSize);
  if (!raw) return core::error(raw.error());
  if (!*raw) return std::optional<RecordStamp>();
  const std::optional<codec::Header> h = codec::decode_header(**raw);
  if (!h || h->map != *map || h->negative != negative) return std::optional<RecordStamp>();
  return std::optional<RecordStamp>(RecordStamp{h->negative, h->fetched, h->expires, h->stamp});
}

Result<bool> Store::has_records(std::string_view provider) {
  return guarded_call<Result<bool>>([&] { return has_records_now(provider); });
}

Result<bool> Store::has_records_now(std::string_view provider) {
  if (Status whole = check_file(); !whole) return core::error(whole);
  Txn txn;
  int rc = txn.begin(env_->env, MDB_RDONLY);
  if (rc != 0) return core::error(lmdb_error(rc, "begin read"));
  std::string prefix(provider);
  prefix.push_back('\0');
  for (MDB_dbi dbi : {env_->records, env_->negatives}) {
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(txn.get(), dbi, &cursor);
    if (rc != 0) return core::error(lmdb_error(rc, "cursor"));
    MDB_val k = val(prefix), v;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    const bool found = rc == 0 && view(k).starts_with(prefix);
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND) return core::error(lmdb_error(rc, "read"));
    if (found) return true;
  }
  return false;
}

}  // namespace fastid::store
