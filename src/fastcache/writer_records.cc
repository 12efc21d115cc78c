// The fast cache writer's records (writer.h): users, groups and initgroups
// checked (what a client would refuse is never published) and encoded in the
// record format (record_format.h), and negative answers by name or id.
#include "fastcache/writer_internal.h"

#include <cstring>
#include <initializer_list>
#include <span>

namespace fastid::fastcache {

using core::Status;
using namespace internal;

namespace {

// What the client would refuse (src/client/unpack.cc) is refused here, so a
// record in the map is always one the socket path would also have returned.
bool clean(std::string_view s, size_t min, size_t max, std::string_view forbidden) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s) {
    if (c == '\0' || forbidden.find(c) != std::string_view::npos) return false;
  }
  return true;
}

bool clean_field(std::string_view s) { return clean(s, 0, kMaxFieldLength, ":\n"); }
bool clean_member(std::string_view s) { return clean_name(s); }

// Public data only: a password field is "x" or "*", whatever the source said.
std::string_view public_passwd(std::string_view p) { return p == "*" ? "*" : "x"; }

// A record: header, then the strings (each followed by NUL), then gids.
std::string build_record(MapKind kind, uint8_t flags, uint64_t expires, uint32_t id, uint32_t gid,
                         std::initializer_list<std::string_view> strings,
                         std::span<const std::string> more_strings, std::span<const uint32_t> gids,
                         uint32_t count) {
  uint64_t slen = 0;
  for (auto s : strings) slen += s.size() + 1;
  for (const auto& s : more_strings) slen += s.size() + 1;
  size_t len = record_length(slen, gids.size());
  std::string r(len, '\0');
  RecordFields f;
  f.type = record_type(kind);
  f.flags = flags;
  f.length = static_cast<uint32_t>(len);
  f.expires = expires;
  f.id = id;
  f.gid = gid;
  f.count = count;
  f.strings = static_cast<uint32_t>(slen);
  // The first four strings' lengths (name, passwd, gecos, dir): readers find
  // the fields without scanning for NULs.
  int k = 0;
  for (auto s : strings) {
    if (k < kRecLengths) f.lengths[k] = static_cast<uint16_t>(s.size());
    ++k;
  }
  encode_record_header(record_bytes(r), f);
  size_t at = kRecordHeaderSize;
  auto add = [&](std::string_view s) {
    std::memcpy(r.data() + at, s.data(), s.size());
    at += s.size() + 1;
  };
  for (auto s : strings) add(s);
  for (const auto& s : more_strings) add(s);
  at = record_gids_offset(slen);
  for (uint32_t g : gids) {
    encode_u32(record_bytes(r), at, g);
    at += 4;
  }
  return r;
}

}  // namespace

namespace internal {

bool clean_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f || c == ':' || c == ',') return false;
  }
  return true;
}

}  // namespace internal

core::Status FastCacheWriter::put_user(const model::User& u, std::chrono::milliseconds ttl) {
  if (kind_ != MapKind::kPasswd) return Status::invalid_argument("put_user on a non-passwd map");
  if (!clean_name(u.name) || !clean_field(u.gecos) || !clean_field(u.dir) || !clean_field(u.shell) || ttl.count() <= 0)
    return Status::invalid_argument("user record not publishable: " + u.name.substr(0, 64));
  std::string r = build_record(kind_, 0, 0, u.uid, u.gid, {u.name, public_passwd(u.passwd), u.gecos, u.dir, u.shell},
                               {}, {}, 0);
  Key keys[2] = {{kTableByName, u.name, 0}, {kTableById, {}, u.uid}};
  return put(r, ttl, keys, 2);
}

core::Status FastCacheWriter::put_group(const model::Group& g, std::chrono::milliseconds ttl) {
  if (kind_ != MapKind::kGroup) return Status::invalid_argument("put_group on a non-group map");
  bool ok = clean_name(g.name) && g.members.size() <= kMaxCount && ttl.count() > 0;
  for (const auto& m : g.members) ok = ok && clean_member(m);
  if (!ok) return Status::invalid_argument("group record not publishable: " + g.name.substr(0, 64));
  std::string r = build_record(kind_, 0, 0, g.gid, 0, {g.name, public_passwd(g.passwd)}, g.members, {},
                               static_cast<uint32_t>(g.members.size()));
  Key keys[2] = {{kTableByName, g.name, 0}, {kTableById, {}, g.gid}};
  return put(r, ttl, keys, 2);
}

core::Status FastCacheWriter::put_initgroups(std::string_view user, std::span<const uint32_t> gids,
                                             std::chrono::milliseconds ttl) {
  if (kind_ != MapKind::kInitgroups) return Status::invalid_argument("put_initgroups on a non-initgroups map");
  if (!clean_name(user) || gids.size() > kMaxCount || ttl.count() <= 0)
    return Status::invalid_argument("initgroups record not publishable");
  std::string r = build_record(kind_, 0, 0, 0, 0, {user}, {}, gids, static_cast<uint32_t>(gids.size()));
  Key key{kTableByName, user, 0};
  return put(r, ttl, &key, 1);
}

namespace {
core::Status negative_checks(MapKind have, MapKind want, std::string_view name, bool by_name,
                             std::chrono::milliseconds ttl) {
  if (have != want) return Status::invalid_argument("negative record for another map");
  if ((by_name && !clean_name(name)) || ttl.count() <= 0) return Status::invalid_argument("negative record not publishable");
  return Status::ok();
}
}  // namespace

core::Status FastCacheWriter::put_negative_user_name(std::string_view name, std::chrono::milliseconds ttl) {
  if (Status s = negative_checks(kind_, MapKind::kPasswd, name, true, ttl); !s) return s;
  return put_negative_name(name, ttl);
}

// A negative by-name record holds the name's salted digest, never the name;
// the salt is the file's, read under the lock (put() stamps it).
core::Status FastCacheWriter::put_negative_name(std::string_view name, std::chrono::milliseconds ttl) {
  std::string r(kRecordHeaderSize + kNameDigestSize, '\0');
  RecordFields f;
  f.type = record_type(kind_);
  f.flags = kFlagNegativeByName;
  f.length = static_cast<uint32_t>(r.size());
  f.strings = static_cast<uint32_t>(kNameDigestSize);
  encode_record_header(record_bytes(r), f);
  Key key{kTableByName, name, 0};
  return put(r, ttl, &key, 1);
}

core::Status FastCacheWriter::put_negative_uid(uint32_t uid, std::chrono::milliseconds ttl) {
  if (Status s = negative_checks(kind_, MapKind::kPasswd, {}, false, ttl); !s) return s;
  std::string r = build_record(kind_, kFlagNegativeById, 0, uid, 0,
                               {}, {}, {}, 0);
  Key key{kTableById, {}, uid};
  return put(r, ttl, &key, 1);
}

core::Status FastCacheWriter::put_negative_group_name(std::string_view name, std::chrono::milliseconds ttl) {
  if (Status s = negative_checks(kind_, MapKind::kGroup, name, true, ttl); !s) return s;
  return put_negative_name(name, ttl);
}

core::Status FastCacheWriter::put_negative_gid(uint32_t gid, std::chrono::milliseconds ttl) {
  if (Status s = negative_checks(kind_, MapKind::kGroup, {}, false, ttl); !s) return s;
  std::string r = build_record(kind_, kFlagNegativeById, 0, gid, 0,
                               {}, {}, {}, 0);
  Key key{kTableById, {}, gid};
  return put(r, ttl, &key, 1);
}

core::Status FastCacheWriter::put_negative_initgroups(std::string_view user, std::chrono::milliseconds ttl) {
  if (Status s = negative_checks(kind_, MapKind::kInitgroups, user, true, ttl); !s) return s;
  return put_negative_name(user, ttl);
}

core::Status FastCacheWriter::put(const model::Query& q, const model::Answer& answer,
                                  std::chrono::milliseconds ttl) {
  if (const auto* u = std::get_if<model::User>(&answer)) return put_user(*u, ttl);
  if (const auto* g = std::get_if<model::Group>(&answer)) return put_group(*g, ttl);
  if (const auto* gids = std::get_if<model::Gids>(&answer)) return put_initgroups(q.name, *gids, ttl);
  return Status::invalid_argument("fast cache: " + model::describe(q) + " is never published");
}

core::Status FastCacheWriter::put_negative(const model::Query& q, std::chrono::milliseconds ttl) {
  switch (q.kind) {
    case model::Kind::kUserByName: return put_negative_user_name(q.name, ttl);
    case model::Kind::kUserByUid: return put_negative_uid(q.id, ttl);
    case model::Kind::kGroupByName: return put_negative_group_name(q.name, ttl);
    case model::Kind::kGroupByGid: return put_negative_gid(q.id, ttl);
    case model::Kind::kInitgroups: return put_negative_initgroups(q.name, ttl);
    case model::Kind::kUsersPage:
    case model::Kind::kGroupsPage:
    case model::Kind::kNetgroup:
    case model::Kind::kSshKeys: break;
  }
  return Status::invalid_argument("fast cache: " + model::describe(q) + " is never published");
}

}  // namespace fastid::fastcache
