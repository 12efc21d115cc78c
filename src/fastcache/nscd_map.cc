// The nscd front's shared maps (nscd_map.h): a sealed memfd per database in
// glibc's persistent-database layout, appended to and retired, never rewritten.
#include "fastcache/nscd_map.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "fastcache/map_memcheck.h"

namespace fastid::fastcache {

using proto::nscd::Database;
using proto::nscd::RequestType;
using namespace nscd_layout;

std::uint32_t nscd_layout::key_hash(std::span<const std::uint8_t> key) {
  std::uint32_t h = 0;
  for (std::uint8_t b : key) h = b + 65599u * h;
  return h;
}

namespace {

constexpr std::uint64_t round_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

void put32(unsigned char* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
void put64(unsigned char* p, std::uint64_t v) { std::memcpy(p, &v, 8); }

// Fields glibc reads while this process writes them: whole aligned words
// stored with release order, so that a reader that sees the new value also
// sees every byte written before it.
void publish32(unsigned char* p, std::uint32_t v) {
  std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(p)).store(v, std::memory_order_release);
}
void publish64(unsigned char* p, std::uint64_t v) {
  std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(p)).store(v, std::memory_order_release);
}

std::int64_t wall_seconds() { return static_cast<std::int64_t>(::time(nullptr)); }

}  // namespace

core::Result<std::unique_ptr<NscdMap>> NscdMap::create(Database db, NscdMapOptions options) {
  if (options.buckets == 0 || options.data_bytes < 4096 || options.data_bytes > (1ull << 31)) {
    return core::error(core::Status::invalid_argument("nscd map: buckets must be > 0 and the data 4 KiB to 2 GiB"));
  }
  std::unique_ptr<NscdMap> m(new NscdMap());
  m->buckets_ = options.buckets;
  m->data_size_ = static_cast<std::uint32_t>(round_up(options.data_bytes, 8));
  m->data_offset_ = kHeadSize + round_up(std::uint64_t{options.buckets} * 4, kTableAlign);
  m->length_ = round_up(m->data_offset_ + m->data_size_, static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)));
  const std::string name = "fastid-nscd-" + std::string(proto::nscd::database_name(db));
  m->fd_ = ::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (m->fd_ < 0) return core::error(core::status_from_errno(errno, "memfd_create " + name));
  if (::ftruncate(m->fd_, static_cast<off_t>(m->length_)) != 0) {
    return core::error(core::status_from_errno(errno, "ftruncate " + name));
  }
  void* p = ::mmap(nullptr, m->length_, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd_, 0);
  if (p == MAP_FAILED) return core::error(core::status_from_errno(errno, "mmap " + name));
  m->base_ = static_cast<unsigned char*>(p);
  // From here on nobody can write it but through this mapping: no new
  // writable mapping, no write(2), no resize, and the seals cannot be undone.
  if (::fcntl(m->fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) != 0) {
    return core::error(core::status_from_errno(errno, "seal " + name));
  }
  unsigned char* h = m->base_;
  put32(h + kHeadVersion, kDbVersion);
  put32(h + kHeadHeaderSize, kHeadSize);
  put32(h + kHeadGcCycle, 0);
  put32(h + kHeadRunning, 0);
  put64(h + kHeadTimestamp, static_cast<std::uint64_t>(wall_seconds()));
  put32(h + kHeadModule, m->buckets_);
  put32(h + kHeadDataSize, m->data_size_);
  put32(h + kHeadFirstFree, 0);
  put32(h + kHeadMaxEntries, 0);
  std::memset(h + kHeadSize, 0xff, std::uint64_t{m->buckets_} * 4);  // every bucket ENDREF
  expect_map_bytes_defined(h, kHeadSize + std::uint64_t{m->buckets_} * 4);
  return m;
}

NscdMap::~NscdMap() {
  if (base_ != nullptr) {
    retire();
    ::munmap(base_, length_);
  }
  if (fd_ >= 0) ::close(fd_);
}

NscdMap::Added NscdMap::add(std::span<const Key> keys, std::span<const std::uint8_t> record, bool not_found,
                            std::chrono::seconds ttl) {
  if (keys.empty() || record.size() > data_size_) return Added::kNoRoom;
  if (same_as_current(keys, record)) return Added::kAlreadyThere;
  const std::uint64_t packet_size = kDataHeadSize + record.size();
  std::uint64_t need = round_up(packet_size, 8);
  for (const Key& k : keys) need += kHashEntrySize + round_up(k.bytes.size(), 8);
  if (not_found && negative_bytes_ + need > data_size_ / 4) return Added::kNegativeBudget;
  if (std::uint64_t{first_free_} + need > data_size_) return Added::kNoRoom;
  if (not_found) negative_bytes_ += need;

  // Everything is written into space no reader can reach yet...
  unsigned char* d = data();
  const std::uint32_t packet = first_free_;
  unsigned char* dh = d + packet;
  std::memset(dh, 0, round_up(packet_size, 8));
  put32(dh + kDhAllocSize, static_cast<std::uint32_t>(packet_size));
  put32(dh + kDhRecSize, static_cast<std::uint32_t>(record.size()));
  put64(dh + kDhTimeout, static_cast<std::uint64_t>(wall_seconds() + ttl.count()));
  dh[kDhNotFound] = not_found ? 1 : 0;
  dh[kDhUsable] = 1;
  put32(dh + kDhTtl, static_cast<std::uint32_t>(ttl.count()));
  std::memcpy(dh + kDataHeadSize, record.data(), record.size());
  std::uint32_t pos = packet + static_cast<std::uint32_t>(round_up(packet_size, 8));
  std::vector<std::pair<std::uint32_t, std::uint32_t>> links;  // (bucket, hashentry)
  bool first = true;
  for (const Key& k : keys) {
    const std::uint32_t he = pos;
    const std::uint32_t key_at = he + static_cast<std::uint32_t>(kHashEntrySize);
    unsigned char* e = d + he;
    std::memset(e, 0, kHashEntrySize + round_up(k.bytes.size(), 8));
    e[kHeType] = static_cast<unsigned char>(k.type);
    e[kHeFirst] = first ? 1 : 0;
    first = false;
    put32(e + kHeLen, static_cast<std::uint32_t>(k.bytes.size()));
    put32(e + kHeKey, key_at);
    put32(e + kHeOwner, 0);
    put32(e + kHePacket, packet);
    std::memcpy(d + key_at, k.bytes.data(), k.bytes.size());
    const auto* kb = reinterpret_cast<const std::uint8_t*>(k.bytes.data());
    const std::uint32_t bucket = key_hash({kb, k.bytes.size()}) % buckets_;
    put32(e + kHeNext, kEndRef);  // set when linked, below
    links.emplace_back(bucket, he);
    pos = key_at + static_cast<std::uint32_t>(round_up(k.bytes.size(), 8));
  }
  first_free_ = pos;
  // ...and becomes reachable only now, one bucket word at a time: each new
  // entry goes in front of its chain's head, so that it shadows any older
  // record of the same key. Two keys of one record may share a bucket: the
  // second is linked in front of the first.
  for (std::size_t i = 0; i < links.size(); ++i) {
    auto [bucket, he] = links[i];
    unsigned char* slot = base_ + kHeadSize + 4ull * bucket;
    const std::uint32_t head = std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(slot))
                                   .load(std::memory_order_relaxed);
    put32(d + he + kHeNext, head);
    publish32(slot, he);
    expect_map_bytes_defined(slot, 4);
  }
  // The packet and its hash entries, all written above.
  expect_map_bytes_defined(dh, first_free_ - packet);
  publish32(base_ + kHeadFirstFree, first_free_);
  entries_ += keys.size();
  publish32(base_ + kHeadEntries, static_cast<std::uint32_t>(entries_));
  for (const Key& k : keys) {
    std::string id(1, static_cast<char>(k.type));
    id += k.bytes;
    auto [it, fresh] = current_.try_emplace(std::move(id), packet);
    if (!fresh) {
      if (it->second != packet) mark_unusable(it->second);
      it->second = packet;
    }
  }
  expiries_.emplace(std::chrono::steady_clock::now() + ttl, packet);
  return Added::kAdded;
}

bool NscdMap::same_as_current(std::span<const Key> keys, std::span<const std::uint8_t> record) const {
  std::optional<std::uint32_t> packet;
  for (const Key& k : keys) {
    std::string id(1, static_cast<char>(k.type));
    id += k.bytes;
    auto it = current_.find(id);
    if (it == current_.end() || (packet && *packet != it->second)) return false;
    packet = it->second;
  }
  const unsigned char* dh = data() + *packet;
  std::uint32_t recsize;
  std::memcpy(&recsize, dh + kDhRecSize, 4);
  return dh[kDhUsable] != 0 && recsize == record.size() &&
         std::memcmp(dh + kDataHeadSize, record.data(), record.size()) == 0;
}

void NscdMap::mark_unusable(std::uint32_t packet) {
  // One byte, read by glibc before it uses the record: the record's other
  // bytes never change.
  std::atomic_ref<unsigned char>(data()[packet + kDhUsable]).store(0, std::memory_order_release);
}

void NscdMap::expire(std::chrono::steady_clock::time_point now) {
  while (!expiries_.empty() && expiries_.top().first <= now) {
    mark_unusable(expiries_.top().second);
    expiries_.pop();
  }
}

void NscdMap::heartbeat() { publish64(base_ + kHeadTimestamp, static_cast<std::uint64_t>(wall_seconds())); }

void NscdMap::retire() {
  unsigned char* gc = base_ + kHeadGcCycle;
  const std::uint32_t cycle = std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(gc)).load();
  if ((cycle & 1u) == 0) publish32(gc, cycle + 1);
  publish32(base_ + kHeadRunning, 0);
  publish64(base_ + kHeadTimestamp, 0);
}

int NscdMap::reader_fd() const {
  // A descriptor of its own, opened read-only: a client cannot even ask for
  // a writable mapping (the seals refuse one anyway).
  const std::string path = "/proc/self/fd/" + std::to_string(fd_);
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

core::Result<std::unique_ptr<NscdMaps>> NscdMaps::create(NscdMapOptions options,
                                                         std::shared_ptr<NscdEpochs> epochs) {
  std::unique_ptr<NscdMaps> m(new NscdMaps(options, std::move(epochs)));
  for (Database db : {Database::kPasswd, Database::kGroup}) {
    if (m->epochs_) m->seen_[static_cast<std::size_t>(db)] = m->epochs_->current(db);
    if (core::Status st = m->replace(db); !st) return core::error(st);
  }
  return m;
}

NscdMap* NscdMaps::map(Database db) const { return db == Database::kPasswd ? passwd_.get() : group_.get(); }

core::Status NscdMaps::replace(Database db) {
  auto fresh = NscdMap::create(db, options_);
  if (!fresh) return fresh.error().with_context("nscd " + std::string(proto::nscd::database_name(db)) + " map");
  // The old map retires as it is destroyed: clients move to the new one.
  (db == Database::kPasswd ? passwd_ : group_) = std::move(*fresh);
  ++generation_;
  return core::Status::ok();
}

core::Status NscdMaps::invalidate(bool passwd, bool group) {
  for (Database db : {Database::kPasswd, Database::kGroup}) {
    if (!(db == Database::kPasswd ? passwd : group)) continue;
    // The epoch first: a worker that hands out its map after this point
    // retires it first (catch_up).
    if (epochs_) seen_[static_cast<std::size_t>(db)] = epochs_->advance(db);
    if (core::Status st = replace(db); !st) return st;
  }
  return core::Status::ok();
}

void NscdMaps::catch_up() {
  if (!epochs_) return;
  for (Database db : {Database::kPasswd, Database::kGroup}) {
    const std::uint64_t now = epochs_->current(db);
    std::uint64_t& seen = seen_[static_cast<std::size_t>(db)];
    if (now == seen) continue;
    // Another worker invalidated this database: this worker's records of it
    // may be what was invalidated. If no fresh map can be made, the old one
    // is retired now (glibc leaves it for the socket) and the next call
    // tries again: nothing from before the invalidation is served from a map.
    if (replace(db)) {
      seen = now;
    } else {
      if (NscdMap* m = map(db)) m->retire();
    }
  }
}

void NscdMaps::add(Database db, std::span<const NscdMap::Key> keys, std::span<const std::uint8_t> record,
                   bool not_found, std::chrono::milliseconds ttl) {
  const auto seconds = std::max<std::chrono::seconds>(std::chrono::seconds(1),
                                                       std::chrono::duration_cast<std::chrono::seconds>(ttl));
  NscdMap* m = map(db);
  if (m == nullptr) return;
  const NscdMap::Added added = m->add(keys, record, not_found, seconds);
  if (added == NscdMap::Added::kAdded || added == NscdMap::Added::kAlreadyThere) return;
  if (added == NscdMap::Added::kNegativeBudget) {
    ++dropped_;
    return;
  }
  // Full: a fresh map for this database (the other keeps its records), at
  // most one a minute per database — clients may hold every retired map,
  // so a peer asking for ever new names must not make the daemon allocate
  // map after map; past it, answers wait on the socket until the minute is over.
  const auto now = std::chrono::steady_clock::now();
  auto& last = last_full_[static_cast<std::size_t>(db)];
  if (last.time_since_epoch().count() != 0 && now - last < std::chrono::minutes(1)) {
    ++dropped_;
    return;
  }
  auto fresh = NscdMap::create(db, options_);
  if (!fresh) {
    ++dropped_;
    return;
  }
  last = now;
  (db == Database::kPasswd ? passwd_ : group_) = std::move(*fresh);
  ++generation_;
  if (map(db)->add(keys, record, not_found, seconds) != NscdMap::Added::kAdded) ++dropped_;
}

void NscdMaps::publish(const model::Query& query, const model::Answer& answer, std::chrono::milliseconds ttl) {
  std::optional<Database> db = proto::nscd::database_of(query.kind);
  if (!db) return;
  catch_up();
  std::optional<std::vector<std::uint8_t>> record = proto::nscd::encode_found(query, answer);
  if (!record) {
    ++dropped_;
    return;
  }
  // The query's own key, then the record's other keys: one record answers
  // getpwnam and getpwuid alike.
  std::vector<NscdMap::Key> keys{{proto::nscd::request_type_of(query.kind), proto::nscd::key_of(query)}};
  auto also = [&keys](RequestType type, std::string bytes) {
    bytes.push_back('\0');
    for (const NscdMap::Key& k : keys) {
      if (k.type == type && k.bytes == bytes) return;
    }
    keys.push_back({type, std::move(bytes)});
  };
  if (const auto* u = std::get_if<model::User>(&answer)) {
    also(RequestType::kGetpwbyname, u->name);
    also(RequestType::kGetpwbyuid, std::to_string(u->uid));
  } else if (const auto* g = std::get_if<model::Group>(&answer)) {
    also(RequestType::kGetgrbyname, g->name);
    also(RequestType::kGetgrbygid, std::to_string(g->gid));
  }
  add(*db, keys, *record, false, ttl);
}

void NscdMaps::publish_negative(const model::Query& query, std::chrono::milliseconds ttl) {
  std::optional<Database> db = proto::nscd::database_of(query.kind);
  if (!db) return;
  catch_up();
  const NscdMap::Key key{proto::nscd::request_type_of(query.kind), proto::nscd::key_of(query)};
  add(*db, {&key, 1}, proto::nscd::encode_not_found(query.kind), true, ttl);
}

void NscdMaps::sweep() {
  catch_up();
  const auto now = std::chrono::steady_clock::now();
  for (NscdMap* m : {passwd_.get(), group_.get()}) {
    if (m == nullptr) continue;
    m->expire(now);
    m->heartbeat();
  }
}

void NscdMaps::retire() {
  for (NscdMap* m : {passwd_.get(), group_.get()}) {
    if (m != nullptr) m->retire();
  }
}

std::optional<NscdMaps::Handout> NscdMaps::handout(Database db) {
  catch_up();
  NscdMap* m = map(db);
  if (m == nullptr) return std::nullopt;
  int fd = m->reader_fd();
  if (fd < 0) return std::nullopt;
  return Handout{fd, m->size()};
}

std::optional<NscdMaps::Figures> NscdMaps::figures(Database db) const {
  const NscdMap* m = map(db);
  if (m == nullptr) return std::nullopt;
  return Figures{options_.buckets, m->data_bytes(), m->used_bytes(), m->entries()};
}

std::vector<std::pair<std::string, std::string>> NscdMaps::stats() const {
  std::vector<std::pair<std::string, std::string>> out;
  auto add_map = [&out](const char* name, const NscdMap* m) {
    if (m == nullptr) return;
    out.emplace_back(std::string("nscd.") + name + ".entries", std::to_string(m->entries()));
    out.emplace_back(std::string("nscd.") + name + ".used_bytes", std::to_string(m->used_bytes()));
  };
  add_map("passwd", passwd_.get());
  add_map("group", group_.get());
  out.emplace_back("nscd.maps_made", std::to_string(generation_));
  out.emplace_back("nscd.records_dropped", std::to_string(dropped_));
  return out;
}

}  // namespace fastid::fastcache
