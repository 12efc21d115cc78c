// glibc's nscd protocol: bounded request decoding and reply records (nscd.h).
#include "proto/nscd.h"

#include <cstring>
#include <limits>

namespace fastid::proto::nscd {
namespace {

// A record larger than this is not encoded: glibc would read it whole, and
// no passwd or group entry is anywhere near it.
constexpr std::size_t kMaxRecord = 4u << 20;

void put_i32(std::vector<std::uint8_t>& out, std::int32_t v) {
  std::uint8_t b[4];
  std::memcpy(b, &v, sizeof v);  // host order: glibc reads its own structs
  out.insert(out.end(), b, b + 4);
}

std::int32_t get_i32(const std::uint8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// A string field as glibc stores it: its bytes and a NUL. False when it holds
// a NUL itself (glibc would cut it there) or is over the limit.
bool fits(std::string_view s) {
  return s.size() < kMaxRecord && s.find('\0') == std::string_view::npos;
}

void put_string(std::vector<std::uint8_t>& out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
  out.push_back(0);
}

std::int32_t len_of(std::string_view s) { return static_cast<std::int32_t>(s.size() + 1); }

std::optional<std::uint32_t> parse_id(std::string_view digits) {
  if (digits.empty() || digits.size() > 10) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

std::optional<std::vector<std::uint8_t>> user_record(const model::User& u) {
  for (std::string_view f : {std::string_view(u.name), std::string_view(u.passwd), std::string_view(u.gecos),
                             std::string_view(u.dir), std::string_view(u.shell)}) {
    if (!fits(f)) return std::nullopt;
  }
  std::vector<std::uint8_t> out;
  out.reserve(kPwHeaderSize + u.name.size() + u.passwd.size() + u.gecos.size() + u.dir.size() +
              u.shell.size() + 5);
  put_i32(out, kVersion);
  put_i32(out, 1);
  put_i32(out, len_of(u.name));
  put_i32(out, len_of(u.passwd));
  put_i32(out, static_cast<std::int32_t>(u.uid));
  put_i32(out, static_cast<std::int32_t>(u.gid));
  put_i32(out, len_of(u.gecos));
  put_i32(out, len_of(u.dir));
  put_i32(out, len_of(u.shell));
  put_string(out, u.name);
  put_string(out, u.passwd);
  put_string(out, u.gecos);
  put_string(out, u.dir);
  put_string(out, u.shell);
  if (out.size() > kMaxRecord) return std::nullopt;
  return out;
}

std::optional<std::vector<std::uint8_t>> group_record(const model::Group& g) {
  if (!fits(g.name) || !fits(g.passwd)) return std::nullopt;
  std::size_t total = kGrHeaderSize + g.name.size() + g.passwd.size() + 2;
  for (const std::string& m : g.members) {
    if (!fits(m)) return std::nullopt;
    total += 4 + m.size() + 1;
    if (total > kMaxRecord) return std::nullopt;
  }
  std::vector<std::uint8_t> out;
  out.reserve(total);
  put_i32(out, kVersion);
  put_i32(out, 1);
  put_i32(out, len_of(g.name));
  put_i32(out, len_of(g.passwd));
  put_i32(out, static_cast<std::int32_t>(g.gid));
  put_i32(out, static_cast<std::int32_t>(g.members.size()));
  for (const std::string& m : g.members) put_i32(out, len_of(m));
  put_string(out, g.name);
  put_string(out, g.passwd);
  for (const std::string& m : g.members) put_string(out, m);
  return out;
}

std::optional<std::vector<std::uint8_t>> initgroups_record(const model::Gids& gids) {
  if (gids.size() > kMaxRecord / 4) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(kInitgrHeaderSize + 4 * gids.size());
  put_i32(out, kVersion);
  put_i32(out, 1);
  put_i32(out, static_cast<std::int32_t>(gids.size()));
  for (std::uint32_t g : gids) put_i32(out, static_cast<std::int32_t>(g));
  return out;
}

}  // namespace

std::string_view database_name(Database db) { return db == Database::kPasswd ? "passwd" : "group"; }

const char* header_check_name(HeaderCheck c) {
  switch (c) {
    case HeaderCheck::kOk: return "ok";
    case HeaderCheck::kBadVersion: return "bad_version";
    case HeaderCheck::kBadType: return "bad_type";
    case HeaderCheck::kBadKeyLength: return "bad_key_length";
  }
  return "?";
}

HeaderCheck decode_header(const std::uint8_t* bytes, RequestHeader* out) {
  out->version = get_i32(bytes);
  out->type = get_i32(bytes + 4);
  out->key_length = get_i32(bytes + 8);
  if (out->version != kVersion) return HeaderCheck::kBadVersion;
  if (out->type < 0 || out->type >= static_cast<std::int32_t>(RequestType::kLastRequest)) {
    return HeaderCheck::kBadType;
  }
  // GETSTAT and SHUTDOWN carry no key (`nscd -g`, `nscd -K` send a length of 0).
  const auto type = static_cast<RequestType>(out->type);
  const std::int32_t min_key = type == RequestType::kGetstat || type == RequestType::kShutdown ? 0 : 1;
  if (out->key_length < min_key || static_cast<std::size_t>(out->key_length) > kMaxKeyLength) {
    return HeaderCheck::kBadKeyLength;
  }
  return HeaderCheck::kOk;
}

std::optional<Request> decode_request(const RequestHeader& header, std::span<const std::uint8_t> key) {
  if (key.size() != static_cast<std::size_t>(header.key_length)) return std::nullopt;
  const auto type = static_cast<RequestType>(header.type);
  if (key.empty()) {
    // Only the keyless requests (decode_header let no other through).
    if (type != RequestType::kGetstat && type != RequestType::kShutdown) return std::nullopt;
    Request r;
    r.type = type;
    (type == RequestType::kGetstat ? r.statistics : r.shutdown) = true;
    return r;
  }
  // One C string filling the key exactly: glibc sends strlen + 1 bytes.
  if (key.back() != 0) return std::nullopt;
  std::string_view text(reinterpret_cast<const char*>(key.data()), key.size() - 1);
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  Request r;
  r.type = static_cast<RequestType>(header.type);
  r.key = std::string(text);
  switch (r.type) {
    case RequestType::kGetpwbyname:
    case RequestType::kGetgrbyname:
    case RequestType::kInitgroups: {
      if (text.empty()) return std::nullopt;
      const model::Kind kind = r.type == RequestType::kGetpwbyname   ? model::Kind::kUserByName
                               : r.type == RequestType::kGetgrbyname ? model::Kind::kGroupByName
                                                                     : model::Kind::kInitgroups;
      r.query = model::Query{kind, std::string(text)};
      break;
    }
    case RequestType::kGetpwbyuid:
    case RequestType::kGetgrbygid: {
      std::optional<std::uint32_t> id = parse_id(text);
      if (!id) return std::nullopt;
      r.query = r.type == RequestType::kGetpwbyuid ? model::Query::user_by_uid(*id) : model::Query::group_by_gid(*id);
      break;
    }
    case RequestType::kGetfdpw:
      if (text != "passwd") return std::nullopt;
      r.map = Database::kPasswd;
      break;
    case RequestType::kGetfdgr:
      if (text != "group") return std::nullopt;
      r.map = Database::kGroup;
      break;
    case RequestType::kInvalidate:
      if (text == "passwd") r.invalidate = Database::kPasswd;
      if (text == "group") r.invalidate = Database::kGroup;
      break;
    case RequestType::kGetstat: r.statistics = true; break;  // a key, if any, is not used
    case RequestType::kShutdown: r.shutdown = true; break;
    default: break;  // not served: neither query nor map
  }
  return r;
}

RequestType request_type_of(model::Kind kind) {
  switch (kind) {
    case model::Kind::kUserByName: return RequestType::kGetpwbyname;
    case model::Kind::kUserByUid: return RequestType::kGetpwbyuid;
    case model::Kind::kGroupByName: return RequestType::kGetgrbyname;
    case model::Kind::kGroupByGid: return RequestType::kGetgrbygid;
    case model::Kind::kInitgroups: return RequestType::kInitgroups;
    case model::Kind::kUsersPage:
    case model::Kind::kGroupsPage:
    case model::Kind::kNetgroup:  // nscd's netgroups are not served: glibc asks its modules
    case model::Kind::kSshKeys: break;
  }
  return RequestType::kLastRequest;
}

std::string key_of(const model::Query& query) {
  std::string key = model::keyed_by_id(query.kind) ? std::to_string(query.id) : query.name;
  key.push_back('\0');
  return key;
}

std::optional<Database> database_of(model::Kind kind) {
  switch (kind) {
    case model::Kind::kUserByName:
    case model::Kind::kUserByUid: return Database::kPasswd;
    case model::Kind::kGroupByName:
    case model::Kind::kGroupByGid:
    case model::Kind::kInitgroups: return Database::kGroup;
    case model::Kind::kUsersPage:
    case model::Kind::kGroupsPage:
    case model::Kind::kNetgroup:  // nscd's netgroups are not served: glibc asks its modules
    case model::Kind::kSshKeys: break;
  }
  return std::nullopt;
}

std::size_t response_header_size(model::Kind kind) {
  switch (kind) {
    case model::Kind::kUserByName:
    case model::Kind::kUserByUid: return kPwHeaderSize;
    case model::Kind::kGroupByName:
    case model::Kind::kGroupByGid: return kGrHeaderSize;
    case model::Kind::kInitgroups: return kInitgrHeaderSize;
    case model::Kind::kUsersPage:
    case model::Kind::kGroupsPage:
    case model::Kind::kNetgroup:  // nscd's netgroups are not served: glibc asks its modules
    case model::Kind::kSshKeys: break;
  }
  return 0;
}

std::optional<std::vector<std::uint8_t>> encode_found(const model::Query& query, const model::Answer& answer) {
  switch (query.kind) {
    case model::Kind::kUserByName:
    case model::Kind::kUserByUid:
      if (const auto* u = std::get_if<model::User>(&answer)) return user_record(*u);
      break;
    case model::Kind::kGroupByName:
    case model::Kind::kGroupByGid:
      if (const auto* g = std::get_if<model::Group>(&answer)) return group_record(*g);
      break;
    case model::Kind::kInitgroups:
      if (const auto* gids = std::get_if<model::Gids>(&answer)) return initgroups_record(*gids);
      break;
    case model::Kind::kUsersPage:
    case model::Kind::kGroupsPage:
    case model::Kind::kNetgroup:  // nscd's netgroups are not served: glibc asks its modules
    case model::Kind::kSshKeys: break;
  }
  return std::nullopt;
}

std::vector<std::uint8_t> encode_not_found(model::Kind kind) {
  // version 2, found 0, every other field 0: what nscd sends for "no such entry".
  std::vector<std::uint8_t> out(response_header_size(kind), 0);
  if (out.size() >= 4) std::memcpy(out.data(), &kVersion, sizeof kVersion);
  return out;
}

}  // namespace fastid::proto::nscd
