// The fast cache writer's ring and index (writer.h), under the writer lock:
// a record appended at the head (evicting what it overwrites, padding the end
// of a lap), its index entries placed in the key's probe window, negative
// records scrubbed when replaced or expired, and one key found or removed.
#include "fastcache/writer_internal.h"

#include <algorithm>
#include <cstring>

namespace fastid::fastcache {

using core::Status;
using namespace internal;

// ---- Writing records ------------------------------------------------------------------

void FastCacheWriter::count_evictions(uint64_t need_tail) {
  const uint64_t data = params_.data_offset;
  uint64_t cur = word(kOffEvictCursor);
  uint64_t evicted = 0;
  while (cur < need_tail) {
    uint64_t lap = cur >> kLapShift, off = cur & kOffsetMask;
    if (off + 8 > params_.data_size) {
      cur = (lap + 1) << kLapShift;
      continue;
    }
    uint64_t w0 = word(data + off);
    uint8_t type = first_word_type(w0);
    uint64_t len = first_word_length(w0);
    if (type == kRecPad) {
      cur = (lap + 1) << kLapShift;
      continue;
    }
    if ((type != record_type(kind_) && type != kRecDead) || !record_span_ok(len, off, params_.data_size)) {
      cur = need_tail;  // lost track (a foreign or damaged file): stop counting
      break;
    }
    cur += len;
    ++evicted;
  }
  set_word(kOffEvictCursor, cur);
  if (evicted) {
    uint64_t records = word(kOffRecords);
    set_word(kOffRecords, records > evicted ? records - evicted : 0);
    set_word(kOffEvictions, word(kOffEvictions) + evicted);
  }
}

FastCacheWriter::Append FastCacheWriter::append(std::string& record, const Key* keys, int nkeys) {
  const uint64_t L = record.size();
  const uint64_t data = params_.data_offset;
  uint64_t head = word(kOffHead);
  uint64_t tail = word(kOffTail);
  uint64_t lap = head >> kLapShift, off = head & kOffsetMask;
  if (off > params_.data_size || tail > head) return Append::kRepublish;  // damaged: start afresh
  bool pad = false;
  uint64_t pos = head;
  if (off + L > params_.data_size) {
    pad = off < params_.data_size;
    pos = (lap + 1) << kLapShift;
  }
  uint64_t plap = pos >> kLapShift, poff = pos & kOffsetMask;
  if (plap > kMaxLap) return Append::kRepublish;
  // Everything of the previous lap below our end is about to be overwritten.
  uint64_t need_tail = plap == 0 ? 0 : ((plap - 1) << kLapShift) | (poff + L);
  if (need_tail > tail) {
    // The cursor steps over whole records: the one our end cuts through is
    // evicted whole, so the tail goes to its end (no record starts between).
    count_evictions(need_tail);
    uint64_t cursor = word(kOffEvictCursor);
    if (cursor > need_tail && cursor <= pos) need_tail = cursor;
    set_word(kOffTail, need_tail);
    tail = need_tail;
    // Release fence: the tail store is ordered before every overwrite below, so
    // a reader whose copy saw any overwritten word also sees the new tail.
    fence_release();
  }
  uint64_t w;
  if (pad) {
    // The pad covers bytes of the lap before, all below the tail now: zeroed,
    // so that no evicted record's bytes stay readable.
    set_word(data + off, record_first_word(kRecPad, 0, params_.data_size - off));
    for (uint64_t i = off + 8; i < params_.data_size; i += 8) set_word(data + i, 0);
  }
  // The first word (type, length) before head moves: a writer that dies after
  // this point leaves a record the next one can step over.
  std::memcpy(&w, record.data(), 8);
  set_word(data + poff, w);
  set_word(kOffHead, pos + L);
  hook(WriterStage::kReserved);
  // The index entries this record will take (the index does not change
  // before we store them: we hold the lock). A negative by name keeps its
  // by-name slot, so that remove_expired_negatives() can find the entry.
  uint64_t slots[2], replaced[2];
  for (int i = 0; i < nkeys; ++i) slots[i] = slot_for(keys[i], &replaced[i]);
  if (record_bytes(record)[kRecOffFlags] & kFlagNegativeByName) {
    encode_u32(record_bytes(record), kRecOffId, static_cast<uint32_t>(slots[0]));
  }
  for (uint64_t i = 8; i < L; i += 8) {
    std::memcpy(&w, record.data() + i, 8);
    set_word(data + poff + i, w);
  }
  // The rest of the record that straddled our end (below the tail) is zeroed:
  // no evicted record's bytes stay readable.
  if (plap > 0 && (tail >> kLapShift) == plap - 1) {
    uint64_t end = std::min(tail & kOffsetMask, params_.data_size);
    for (uint64_t i = poff + L; i < end; i += 8) set_word(data + i, 0);
  }
  hook(WriterStage::kWritten);
  fence_release();
  for (int i = 0; i < nkeys; ++i) {
    store_release(base_, table_offset(keys[i].table) + slots[i] * 8,
                  make_entry(hash_tag(key_hash(keys[i])), pos));
    expect_map_bytes_defined(base_ + table_offset(keys[i].table) + slots[i] * 8, 8);
    // A negative answer that a newer record replaced: nothing points to it
    // any more; its bytes go now rather than when the ring comes round.
    if (replaced[i] != kNoRecord) scrub(replaced[i], /*negative_only=*/true);
  }
  set_word(kOffRecords, word(kOffRecords) + 1);
  set_word(kOffInserts, word(kOffInserts) + 1);
  return Append::kOk;
}

uint64_t FastCacheWriter::table_offset(uint32_t table) const {
  return params_.index_offset + uint64_t{table} * params_.index_entries * 8;
}

uint64_t FastCacheWriter::key_hash(const Key& key) const {
  return key.table == kTableByName ? hash_name(key.name.data(), key.name.size(), params_.seed)
                                   : hash_id(key.id, params_.seed);
}

// Zeroes the record at pos (under the lock), keeping its length so that the
// eviction walk can step over it: first word marked dead, release fence, the
// rest zeroed. A reader copying it meanwhile sees the mark when it re-reads
// the first word after its fence (docs/fastcache.md), and starts again.
void FastCacheWriter::scrub(uint64_t pos, bool negative_only) {
  uint64_t off = pos & kOffsetMask;
  if (pos < word(kOffTail) || off + kRecordHeaderSize > params_.data_size) return;
  const uint64_t rec = params_.data_offset + off;
  uint64_t w0 = word(rec);
  uint64_t len = first_word_length(w0);
  uint8_t flags = first_word_flags(w0);
  if (first_word_type(w0) != record_type(kind_) || !record_span_ok(len, off, params_.data_size)) return;
  if (negative_only && (flags & (kFlagNegativeByName | kFlagNegativeById)) == 0) return;
  set_word(rec, record_first_word(kRecDead, 0, len));
  fence_release();
  for (uint64_t i = 8; i < len; i += 8) set_word(rec + i, 0);
}

// Walks the live records (under the lock) and removes every negative by-name
// record that has expired: index entry made a tombstone first (no new reader
// finds it), then the record scrubbed. Bounded by the ring's size.
void FastCacheWriter::remove_expired_negatives(uint64_t now) {
  const uint64_t data = params_.data_offset;
  uint64_t tail = word(kOffTail), head = word(kOffHead);
  uint64_t cur = word(kOffEvictCursor);
  if (cur < tail || cur > head) return;  // nothing we can walk safely
  const uint64_t by_name = table_offset(kTableByName);
  for (uint64_t steps = 0; cur < head && steps < params_.data_size / 8 + 2; ++steps) {
    uint64_t lap = cur >> kLapShift, off = cur & kOffsetMask;
    if (off + kRecordHeaderSize > params_.data_size) {
      cur = (lap + 1) << kLapShift;
      continue;
    }
    uint64_t w0 = word(data + off);
    uint8_t type = first_word_type(w0), flags = first_word_flags(w0);
    uint64_t len = first_word_length(w0);
    if (type == kRecPad) {
      cur = (lap + 1) << kLapShift;
      continue;
    }
    if ((type != record_type(kind_) && type != kRecDead) || !record_span_ok(len, off, params_.data_size))
      return;  // lost track (a writer died mid-record, or damage): try next time
    if (type != kRecDead && (flags & kFlagNegativeByName) != 0 && word(data + off + kRecOffExpires) <= now) {
      uint64_t slot = lo32(word(data + off + kRecOffId));
      if (slot < params_.index_entries) {
        uint64_t e = word(by_name + slot * 8);
        if (entry_tag(e) != 0 && entry_pos(e) == cur) store_release(base_, by_name + slot * 8, kEntryTombstone);
      }
      scrub(cur, /*negative_only=*/true);
    }
    cur += len;
  }
}

bool FastCacheWriter::record_has_key(uint64_t pos, const Key& key) const {
  uint64_t off = pos & kOffsetMask;
  if (off + kRecordHeaderSize > params_.data_size) return false;
  const unsigned char* rec = base_ + params_.data_offset + off;
  const RecordHeader h = read_record_header(rec);
  if (h.type != record_type(kind_) || !record_header_ok(h, params_, off, 0)) return false;
  if (key.table == kTableById) return record_has_id(h, key.id);
  if ((h.flags & kFlagNegativeByName) != 0) {
    return record_has_digest(h, rec + kRecordHeaderSize,
                             name_digest(key.name.data(), key.name.size(), params_.name_salt));
  }
  if (!record_may_have_name(h, key.name.size())) return false;
  const uint64_t name_len = h.name_len;
  char name[pad8(kMaxNameLength + 1)];
  for (uint64_t i = 0; i < pad8(name_len + 1); i += 8) {
    uint64_t w = load_relaxed(rec, kRecordHeaderSize + i);
    std::memcpy(name + i, &w, 8);
  }
  return std::memcmp(name, key.name.data(), name_len) == 0 && name[name_len] == '\0';
}

// Where the key's index entry goes (under the lock, once the tail has moved
// for the new record): in place of the key's current entry if it is in the
// probe window (so a key is never indexed twice; *replaced = that entry's
// record), else the first empty or removed entry, else the entry of the
// oldest record in the window (*replaced = that record).
uint64_t FastCacheWriter::slot_for(const Key& key, uint64_t* replaced) const {
  const uint64_t mask = params_.index_entries - 1;
  const uint64_t table = table_offset(key.table);
  uint64_t h = key_hash(key);
  uint16_t tag = hash_tag(h);
  uint64_t tail = word(kOffTail);
  int64_t free_slot = -1, victim = -1;
  uint64_t victim_pos = ~uint64_t{0};
  *replaced = kNoRecord;
  for (uint32_t n = 0; n < params_.probe_limit; ++n) {
    uint64_t idx = (h + n) & mask;
    uint64_t e = word(table + idx * 8);
    if (e == 0) {
      if (free_slot < 0) free_slot = static_cast<int64_t>(idx);
      break;  // nothing of ours beyond an entry never used
    }
    uint64_t epos = entry_pos(e);
    if (entry_tag(e) == 0 || epos < tail) {
      if (free_slot < 0) free_slot = static_cast<int64_t>(idx);
      continue;
    }
    if (entry_tag(e) == tag && record_has_key(epos, key)) {
      *replaced = epos;
      return idx;
    }
    if (epos < victim_pos) {
      victim_pos = epos;
      victim = static_cast<int64_t>(idx);
    }
  }
  if (free_slot >= 0) return static_cast<uint64_t>(free_slot);
  // A full window: the oldest record loses its entry. If it is a negative
  // answer (one key only) nothing points to it any more, so it is reported
  // as replaced and the caller scrubs it: its name digest does not stay in
  // the ring until the ring comes round.
  *replaced = victim_pos;
  return static_cast<uint64_t>(victim);
}

core::Status FastCacheWriter::put(std::string& record, std::chrono::milliseconds ttl, const Key* keys, int nkeys) {
  if (record.size() > kMaxRecordHard) return Status::invalid_argument("fast cache record above 1 MiB");
  std::unique_lock<std::mutex> guard(mu_, std::defer_lock);
  if (Status s = lock(guard); !s) return s;
  // Under the lock: params_ is the geometry of the file we now hold.
  if (record.size() > params_.max_record) {
    unlock();
    return Status::invalid_argument("fast cache record of " + std::to_string(record.size()) +
                                    " bytes is above max_record");
  }
  encode_u64(record_bytes(record), kRecOffExpires, realtime_ns() + std::min(ns(ttl), params_.max_ttl_ns));
  // The digest of a negative by name depends on the file's salt: stamped
  // under the lock, again if the file is republished.
  auto stamp_digest = [&] {
    if ((record_bytes(record)[kRecOffFlags] & kFlagNegativeByName) == 0) return;
    NameDigest d = name_digest(keys[0].name.data(), keys[0].name.size(), params_.name_salt);
    encode_u64(record_bytes(record), kRecordHeaderSize, d.lo);
    encode_u64(record_bytes(record), kRecordHeaderSize + 8, d.hi);
  };
  stamp_digest();
  Status s;
  Append appended = Append::kOk;
  if (!touch([&] { appended = append(record, keys, nkeys); })) {
    // The file was cut short under this write (SIGBUS): it is abandoned, a
    // record half written in it included, and the record goes to the file
    // the path holds now (another writer's) or to a new one.
    s = recover();
    appended = Append::kRepublish;
  } else if (appended == Append::kRepublish) {
    s = create_and_publish(length_, params_.generation + 1, -1);
  }
  if (s && appended == Append::kRepublish) {
    stamp_digest();
    if (!touch([&] { appended = append(record, keys, nkeys); })) {
      abandon();  // cut short again at once: the next call publishes a new file
      s = Status(core::Code::kIoError, "fast cache " + path_ + ": the map was cut short while written");
    } else if (appended != Append::kOk) {
      s = Status::internal("fast cache: append failed");
    }
  }
  unlock();
  return s;
}

// ---- One key, for administrators ------------------------------------------------------

core::Result<FastCacheWriter::Key> FastCacheWriter::key_of(const model::Query& q) const {
  MapKind want = MapKind::kPasswd;
  Key key{kTableByName, q.name, 0};
  switch (q.kind) {
    case model::Kind::kUserByName: break;
    case model::Kind::kUserByUid: key = Key{kTableById, {}, q.id}; break;
    case model::Kind::kGroupByName: want = MapKind::kGroup; break;
    case model::Kind::kGroupByGid: want = MapKind::kGroup; key = Key{kTableById, {}, q.id}; break;
    case model::Kind::kInitgroups: want = MapKind::kInitgroups; break;
    case model::Kind::kUsersPage:
    case model::Kind::kGroupsPage:
    case model::Kind::kNetgroup:
    case model::Kind::kSshKeys:
      return core::error(Status::invalid_argument("fast cache: " + model::describe(q) + " is never published"));
  }
  if (want != kind_) return core::error(Status::invalid_argument("fast cache: " + model::describe(q) + " is in another map"));
  if (key.table == kTableByName && !clean_name(key.name))
    return core::error(Status::invalid_argument("fast cache: a name no client would look up"));
  return key;
}

uint64_t FastCacheWriter::locate(const Key& key) const {
  const uint64_t mask = params_.index_entries - 1;
  const uint64_t table = table_offset(key.table);
  const uint64_t h = key_hash(key);
  const uint16_t tag = hash_tag(h);
  const uint64_t tail = word(kOffTail);
  for (uint32_t n = 0; n < params_.probe_limit; ++n) {
    uint64_t e = word(table + ((h + n) & mask) * 8);
    if (e == 0) break;
    uint64_t epos = entry_pos(e);
    if (entry_tag(e) == tag && epos >= tail && record_has_key(epos, key)) return epos;
  }
  return kNoRecord;
}

core::Result<std::optional<FastCacheWriter::Held>> FastCacheWriter::find(const model::Query& q) {
  auto key = key_of(q);
  if (!key) return core::error(key.error());
  std::unique_lock<std::mutex> guard(mu_, std::defer_lock);
  if (Status s = lock(guard); !s) return core::error(std::move(s));
  bool found = false;
  Held held;
  if (!touch([&] {
        if (uint64_t pos = locate(*key); pos != kNoRecord) {
          const uint64_t rec = params_.data_offset + (pos & kOffsetMask);
          const uint8_t flags = first_word_flags(word(rec));
          held = Held{(flags & (kFlagNegativeByName | kFlagNegativeById)) != 0, word(rec + kRecOffExpires)};
          found = true;
        }
      })) {
    found = false;  // the file was cut short: a new, empty one holds nothing
    if (Status s = recover(); !s) {
      unlock();
      return core::error(std::move(s));
    }
  }
  unlock();
  return found ? std::optional<Held>(held) : std::nullopt;
}

core::Result<bool> FastCacheWriter::remove(const model::Query& q) {
  auto key = key_of(q);
  if (!key) return core::error(key.error());
  std::unique_lock<std::mutex> guard(mu_, std::defer_lock);
  if (Status s = lock(guard); !s) return core::error(std::move(s));
  uint64_t pos = kNoRecord;
  if (!touch([&] { pos = locate(*key); })) {
    // The file was cut short: a new, empty one holds nothing to remove.
    Status s = recover();
    unlock();
    if (!s) return core::error(std::move(s));
    return false;
  }
  if (pos != kNoRecord && !touch([&] {
    // Every entry that points to the record becomes a tombstone first (no new
    // reader finds it; both tables: a user is indexed by name and uid), then
    // its bytes are scrubbed (a reader copying it meanwhile starts again).
    for (uint32_t t : {kTableByName, kTableById}) {
      const uint64_t table = table_offset(t);
      for (uint64_t i = 0; i < params_.index_entries; ++i) {
        uint64_t e = word(table + i * 8);
        if (e != 0 && entry_tag(e) != 0 && entry_pos(e) == pos) store_release(base_, table + i * 8, kEntryTombstone);
      }
    }
    scrub(pos, /*negative_only=*/false);
  })) {
    // Cut short mid-removal: the whole file goes, the record with it.
    Status s = recover();
    unlock();
    if (!s) return core::error(std::move(s));
    return true;
  }
  unlock();
  return pos != kNoRecord;
}

}  // namespace fastid::fastcache
