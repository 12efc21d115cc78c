#include "server/cache_publisher.h"

#include <algorithm>

#include "core/log.h"
#include "fastcache/layout.h"
#include "fastcache/nscd_map.h"
#include "fastcache/writer.h"
#include "proto/wire.h"

namespace fastid::server {

using fastcache::FastCacheWriter;
using fastcache::MapKind;

core::Result<std::unique_ptr<CachePublisher>> CachePublisher::open(CachePublisherOptions options) {
  std::unique_ptr<CachePublisher> p(new CachePublisher(std::move(options)));
  auto open_map = [&](const CacheMapOptions& m, MapKind kind, const char* name,
                      std::unique_ptr<FastCacheWriter>* out) -> core::Status {
    if (!m.enabled) return core::Status::ok();
    fastcache::FastCacheOptions fo;
    fo.size_bytes = m.size_bytes;
    fo.max_record = static_cast<std::uint32_t>(std::min<std::uint64_t>(m.max_record, fastcache::kMaxRecordHard));
    // Readers take a record whose expiry is more than max_ttl away as written
    // on a clock that has since been set back (docs/fastcache.md): the
    // longest ttl this map is written with, so a step back of more than that
    // makes every record a miss at once, rather than a cap of a day that lets
    // a record published for 5 minutes be used for up to a day. Plus a
    // second: the writer dates a record on the precise clock and readers
    // check it on the coarse one, a tick behind, so a record written with
    // the longest ttl would otherwise look dated ahead for that tick.
    fo.max_ttl = std::max({m.ttl, p->options_.negative_ttl, std::chrono::milliseconds(1000)}) +
                 std::chrono::seconds(1);
    auto w = FastCacheWriter::open(p->options_.dir, kind, fo);
    if (!w) return w.error().with_context(std::string("fast cache map ") + name);
    *out = std::move(*w);
    return core::Status::ok();
  };
  if (auto st = open_map(p->options_.passwd, MapKind::kPasswd, "passwd", &p->passwd_); !st) {
    return core::error(st);
  }
  if (auto st = open_map(p->options_.group, MapKind::kGroup, "group", &p->group_); !st) {
    return core::error(st);
  }
  if (auto st = open_map(p->options_.initgroups, MapKind::kInitgroups, "initgroups", &p->initgroups_);
      !st) {
    return core::error(st);
  }
  if (p->options_.nscd) {
    auto maps = fastcache::NscdMaps::create({}, p->options_.nscd_epochs);
    if (!maps) return core::error(maps.error());
    p->nscd_ = std::move(*maps);
  }
  return p;
}

CachePublisher::CachePublisher(CachePublisherOptions options) : options_(std::move(options)) {}

// The nscd maps retire as they are destroyed.
CachePublisher::~CachePublisher() = default;

void CachePublisher::note(const core::Status& st, const char* what) {
  if (st.is_ok()) return;
  // A record the map will not take (too large, a name the client would
  // refuse) is normal: the socket still serves it. Anything else is said once.
  if (st.code() == core::Code::kInvalidArgument) return;
  ++failures_;
  if (!failure_logged_) {
    failure_logged_ = true;
    core::log_warning(std::string("fast cache: publishing ") + what + " failed: " + st.to_string() +
                      " (the socket keeps answering; further failures are counted in status)");
  }
}

std::pair<FastCacheWriter*, const CacheMapOptions*> CachePublisher::map_for(model::Kind kind) const {
  switch (kind) {
    case model::Kind::kUserByName:
    case model::Kind::kUserByUid: return {passwd_.get(), &options_.passwd};
    case model::Kind::kGroupByName:
    case model::Kind::kGroupByGid: return {group_.get(), &options_.group};
    case model::Kind::kInitgroups: return {initgroups_.get(), &options_.initgroups};
    case model::Kind::kUsersPage:
    case model::Kind::kGroupsPage:
    // Netgroups and SSH keys are not in the fast cache: sshd and innetgr()
    // callers are few and the store keeps them (docs/netgroups.md, docs/ssh.md).
    case model::Kind::kNetgroup:
    case model::Kind::kSshKeys: break;
  }
  return {nullptr, nullptr};
}

// The ttl of a kind's answers: its fast cache map's, whether that map is enabled or not.
static std::chrono::milliseconds ttl_of(const CachePublisherOptions& o, model::Kind kind) {
  switch (kind) {
    case model::Kind::kUserByName:
    case model::Kind::kUserByUid: return o.passwd.ttl;
    case model::Kind::kGroupByName:
    case model::Kind::kGroupByGid: return o.group.ttl;
    default: return o.initgroups.ttl;
  }
}

void CachePublisher::publish(const model::Query& query, const model::Answer& answer) {
  auto [map, options] = map_for(query.kind);
  if (map) note(map->put(query, answer, options->ttl), "an answer");
  if (nscd_) nscd_->publish(query, answer, ttl_of(options_, query.kind));
}

void CachePublisher::publish_negative(const model::Query& query) {
  if (options_.negative_ttl.count() <= 0) return;
  auto [map, options] = map_for(query.kind);
  if (map) note(map->put_negative(query, options_.negative_ttl), "a negative answer");
  if (nscd_) nscd_->publish_negative(query, options_.negative_ttl);
}

core::Status CachePublisher::invalidate_all() { return invalidate(proto::kMapAll); }

core::Status CachePublisher::invalidate(std::uint32_t mask) {
  ++invalidations_;
  core::Status first;
  const std::pair<FastCacheWriter*, std::uint32_t> maps[] = {
      {passwd_.get(), proto::kMapPasswd},
      {group_.get(), proto::kMapGroup},
      {initgroups_.get(), proto::kMapInitgroups}};
  for (auto [w, bit] : maps) {
    if (w == nullptr || (mask & bit) == 0) continue;
    core::Status st = w->invalidate();
    if (!st && first.is_ok()) first = st;
  }
  // glibc keeps initgroups in the group map: any of the three drops both.
  if (nscd_ && (mask & proto::kMapAll) != 0) {
    core::Status st =
        nscd_->invalidate((mask & proto::kMapPasswd) != 0, (mask & (proto::kMapGroup | proto::kMapInitgroups)) != 0);
    if (!st && first.is_ok()) first = st;
  }
  return first;
}

const char* CachePublisher::map_name(model::Kind kind) {
  switch (kind) {
    case model::Kind::kUserByName:
    case model::Kind::kUserByUid: return "passwd";
    case model::Kind::kGroupByName:
    case model::Kind::kGroupByGid: return "group";
    case model::Kind::kInitgroups: return "initgroups";
    case model::Kind::kUsersPage:
    case model::Kind::kGroupsPage:
    case model::Kind::kNetgroup:
    case model::Kind::kSshKeys: break;
  }
  return "";
}

core::Result<std::optional<CachePublisher::Held>> CachePublisher::find(const model::Query& query) const {
  auto [map, options] = map_for(query.kind);
  if (map == nullptr) return std::optional<Held>();
  auto held = map->find(query);
  if (!held) return core::error(held.error());
  if (!*held) return std::optional<Held>();
  return std::optional<Held>(Held{(*held)->negative, static_cast<std::int64_t>((*held)->expires_ns / 1000000)});
}

core::Result<bool> CachePublisher::remove(const model::Query& query) {
  ++invalidations_;
  // The nscd map of the key's database goes whole: its records cannot be
  // taken out one by one (glibc may be reading them).
  if (nscd_) {
    if (std::optional<proto::nscd::Database> db = proto::nscd::database_of(query.kind)) {
      note(nscd_->invalidate(*db == proto::nscd::Database::kPasswd, *db == proto::nscd::Database::kGroup),
           "an nscd invalidation");
    }
  }
  auto [map, options] = map_for(query.kind);
  if (map == nullptr) return false;
  return map->remove(query);
}

std::optional<std::pair<int, std::uint64_t>> CachePublisher::nscd_handout(proto::nscd::Database db) {
  if (!nscd_) return std::nullopt;
  auto handout = nscd_->handout(db);
  if (!handout) return std::nullopt;
  return std::make_pair(handout->fd, handout->size);
}

proto::nscd::DatabaseStatistics CachePublisher::nscd_statistics(proto::nscd::Database db) const {
  proto::nscd::DatabaseStatistics d;
  d.enabled = true;
  const CacheMapOptions& o = db == proto::nscd::Database::kPasswd ? options_.passwd : options_.group;
  d.positive_ttl_s = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(o.ttl).count());
  d.negative_ttl_s =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(options_.negative_ttl).count());
  if (!nscd_) return d;
  if (auto f = nscd_->figures(db)) {
    d.shared = true;
    d.buckets = f->buckets;
    d.entries = f->entries;
    d.data_size = f->data_size;
    d.data_used = f->used_bytes;
  }
  d.failed = nscd_->dropped();
  return d;
}

void CachePublisher::sweep() {
  if (nscd_) nscd_->sweep();
}

void CachePublisher::retire_nscd() {
  if (nscd_) nscd_->retire();
}

void CachePublisher::heartbeat() {
  for (auto* w : {passwd_.get(), group_.get(), initgroups_.get()}) {
    if (w != nullptr) note(w->heartbeat(), "the heartbeat");
  }
}

std::vector<std::pair<std::string, std::string>> CachePublisher::stats() const {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const char* name, FastCacheWriter* w) {
    std::string prefix = std::string("fastcache.") + name + ".";
    if (w == nullptr) {
      out.emplace_back(prefix + "enabled", "no");
      return;
    }
    auto s = w->stats();
    if (!s) {
      out.emplace_back(prefix + "error", s.error().to_string());
      return;
    }
    out.emplace_back(prefix + "size", std::to_string(s->size_bytes));
    out.emplace_back(prefix + "entries", std::to_string(s->entries));
    out.emplace_back(prefix + "evictions", std::to_string(s->evictions));
    out.emplace_back(prefix + "generation", std::to_string(s->generation));
  };
  add("passwd", passwd_.get());
  add("group", group_.get());
  add("initgroups", initgroups_.get());
  out.emplace_back("fastcache.publish_failures", std::to_string(failures_));
  if (nscd_) {
    for (auto& kv : nscd_->stats()) out.push_back(std::move(kv));
  }
  return out;
}

}  // namespace fastid::server
