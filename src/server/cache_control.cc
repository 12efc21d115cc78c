// CacheControl: the administrator's cache commands (cache_control.h).
#include "server/cache_control.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include "proto/wire.h"
#include "store/store.h"

namespace fastid::server {

namespace {

using model::Query;

// A decimal number of at most 10 digits that fits 32 bits is an id (getent's rule).
bool parse_id(std::string_view text, std::uint32_t* out) {
  if (text.empty() || text.size() > 10) return false;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > 0xffffffffULL) return false;
  *out = static_cast<std::uint32_t>(v);
  return true;
}

template <typename T>
void add_unique(std::vector<T>& v, T x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(std::move(x));
}

// "2026-12-05T01:40:00Z (12 s ago)" / "(in 90 s)".
std::string when(store::Millis at, store::Millis now) {
  time_t secs = static_cast<time_t>(at / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return std::string(buf) + (at > now ? " (in " + std::to_string((at - now) / 1000) + " s)"
                                     : " (" + std::to_string((now - at) / 1000) + " s ago)");
}

// The stored answer as a line; the password field is never shown.
std::string line_of(const model::Answer& answer) {
  if (const auto* u = std::get_if<model::User>(&answer)) {
    return u->name + ":x:" + std::to_string(u->uid) + ":" + std::to_string(u->gid) + ":" + u->gecos + ":" +
           u->dir + ":" + u->shell;
  }
  if (const auto* g = std::get_if<model::Group>(&answer)) {
    std::string out = g->name + ":x:" + std::to_string(g->gid) + ":";
    for (std::size_t i = 0; i < g->members.size(); ++i) out += (i ? "," : "") + g->members[i];
    return out;
  }
  if (const auto* gids = std::get_if<model::Gids>(&answer)) {
    std::string out;
    for (std::size_t i = 0; i < gids->size(); ++i) out += (i ? " " : "") + std::to_string((*gids)[i]);
    return out.empty() ? "(no groups)" : out;
  }
  return "?";
}

// "passwd.byname", "group.bygid", "initgroups": where a query's key is stored.
std::string map_label(const Query& q) {
  switch (q.kind) {
    case model::Kind::kUserByName: return "passwd.byname";
    case model::Kind::kUserByUid: return "passwd.byuid";
    case model::Kind::kGroupByName: return "group.byname";
    case model::Kind::kGroupByGid: return "group.bygid";
    case model::Kind::kInitgroups: return "initgroups";
    default: return "?";
  }
}

// The queries that name an entry's records: by name (and initgroups for a
// user) and by id.
std::vector<Query> queries_of(bool group, const std::vector<std::string>& names, const std::vector<std::uint32_t>& ids) {
  std::vector<Query> out;
  for (const auto& n : names) {
    out.push_back(group ? Query::group_by_name(n) : Query::user_by_name(n));
    if (!group) out.push_back(Query::initgroups(n));
  }
  for (auto id : ids) out.push_back(group ? Query::group_by_gid(id) : Query::user_by_uid(id));
  return out;
}

}  // namespace

core::Result<std::string> CacheControl::invalidate(std::uint32_t mask) {
  settle();
  if (publisher_ == nullptr && !store_) {
    return core::error(core::Status::unavailable("nothing to invalidate: the fast cache and the store are disabled"));
  }
  std::string done;
  if (store_) {
    std::vector<store::Map> maps;
    // "all": every map the store keeps, netgroups and SSH keys included.
    if (mask == proto::kMapAll) {
      for (std::uint8_t m = 1; m <= store::kLastMap; ++m) maps.push_back(static_cast<store::Map>(m));
    }
    if (mask & proto::kMapPasswd) maps.insert(maps.end(), {store::Map::kUserByName, store::Map::kUserByUid});
    if (mask & proto::kMapGroup) maps.insert(maps.end(), {store::Map::kGroupByName, store::Map::kGroupByGid});
    if (mask & proto::kMapInitgroups) maps.push_back(store::Map::kInitgroups);
    auto removed = store_->clear_maps(maps);
    if (!removed) return core::error(removed.error().with_context("store"));
    done = std::to_string(*removed) + " stored record(s) removed";
  }
  if (publisher_ != nullptr) {
    core::Status st = publisher_->invalidate(mask);
    if (!st) return core::error(st.with_context("fast cache"));
    done += std::string(done.empty() ? "" : ", ") + "fast cache emptied";
  }
  return done;
}

CacheControl::Keys CacheControl::keys_of(bool group, std::string_view key) {
  Keys k;
  std::uint32_t id = 0;
  const bool by_id = parse_id(key, &id);
  if (by_id) k.ids.push_back(id);
  else k.names.emplace_back(key);
  if (!store_) return k;
  // The entry's other key, from what each provider's store holds.
  for (const auto& p : providers()) {
    const Query q = by_id ? (group ? Query::group_by_gid(id) : Query::user_by_uid(id))
                          : (group ? Query::group_by_name(std::string(key)) : Query::user_by_name(std::string(key)));
    auto rec = store_->get(p, q);
    if (!rec || !*rec || (*rec)->negative) continue;
    if (const auto* u = std::get_if<model::User>(&(*rec)->value)) {
      by_id ? add_unique(k.names, u->name) : add_unique(k.ids, u->uid);
    } else if (const auto* g = std::get_if<model::Group>(&(*rec)->value)) {
      by_id ? add_unique(k.names, g->name) : add_unique(k.ids, g->gid);
    }
  }
  return k;
}

core::Result<std::string> CacheControl::forget(std::uint32_t entry, std::string_view key) {
  settle();
  const bool group = entry == proto::kEntryGroup;
  const Keys keys = keys_of(group, key);
  const auto queries = queries_of(group, keys.names, keys.ids);
  std::size_t stored = 0, published = 0;
  if (store_) {
    for (const auto& p : providers()) {
      for (const auto& q : queries) {
        auto n = store_->erase(p, q);
        if (!n) return core::error(n.error().with_context("store"));
        stored += *n;
      }
    }
  }
  if (publisher_ != nullptr) {
    for (const auto& q : queries) {
      auto gone = publisher_->remove(q);
      // A name the map could never hold (kInvalidArgument) is not in it.
      if (!gone && gone.error().code() != core::Code::kInvalidArgument) {
        return core::error(gone.error().with_context("fast cache"));
      }
      if (gone && *gone) ++published;
    }
  }
  return std::to_string(stored) + " stored record(s) and " + std::to_string(published) +
         " fast cache record(s) removed";
}

core::Result<StatusItems> CacheControl::show(std::uint32_t entry, std::string_view key) {
  settle();
  const bool group = entry == proto::kEntryGroup;
  const Keys keys = keys_of(group, key);
  const auto queries = queries_of(group, keys.names, keys.ids);
  const store::Millis now = store::now_millis();
  StatusItems items;
  items.emplace_back("entry", std::string(group ? "group " : "user ") + std::string(key));
  if (!store_) {
    items.emplace_back("store", "none (disabled, or no provider is stored)");
  } else {
    for (const auto& p : providers()) {
      for (const auto& q : queries) {
        const std::string prefix = "store." + p + "." + map_label(q);
        auto rec = store_->get(p, q);
        if (!rec) return core::error(rec.error().with_context("store"));
        if (!*rec) {
          items.emplace_back(prefix, "not stored");
          continue;
        }
        const auto& r = **rec;
        items.emplace_back(prefix, r.negative ? "no such entry" : line_of(r.value));
        items.emplace_back(prefix + ".fetched", when(r.fetched, now));
        items.emplace_back(prefix + ".expires", when(r.expires, now));
        items.emplace_back(prefix + ".fresh", r.fresh(now) ? "yes" : "no");
      }
    }
  }
  if (publisher_ == nullptr) {
    items.emplace_back("fastcache", "disabled");
    return items;
  }
  for (const auto& q : queries) {
    const std::string prefix = std::string("fastcache.") + CachePublisher::map_name(q.kind) + "." +
                               (model::keyed_by_id(q.kind) ? std::to_string(q.id) : q.name);
    auto held = publisher_->find(q);
    if (!held && held.error().code() != core::Code::kInvalidArgument) {
      return core::error(held.error().with_context("fast cache"));
    }
    if (!held || !*held) {
      items.emplace_back(prefix, "not published");
      continue;
    }
    items.emplace_back(prefix, (*held)->negative ? "no such entry" : "published");
    items.emplace_back(prefix + ".expires", when((*held)->expires_ms, now));
  }
  return items;
}

}  // namespace fastid::server
