#include "proto/messages.h"

#include <algorithm>

#include "proto/ccache_name.h"

namespace fastid::proto {

using model::Group;
using model::Kind;
using model::Page;
using model::User;

namespace {

// Encodes a payload produced by `fill` into a WireWriter, after `room` bytes
// left free in front of it (the frame header's place, or none). The buffer
// starts at a size that fits typical records and doubles until it fits (up
// to kMaxPayload); nullopt: the payload cannot fit.
template <typename Fill>
std::optional<Bytes> encode_payload(std::size_t room, Fill fill) {
  std::size_t cap = 512;
  for (;;) {
    Bytes out(room + cap);
    WireWriter w(out.data() + room, cap);
    fill(w);
    if (!w.overflow) {
      out.resize(room + w.len);
      return out;
    }
    if (cap >= kMaxPayload) return std::nullopt;
    cap = std::min<std::size_t>(cap * 2, kMaxPayload);
  }
}

// A whole frame whose payload `fill` produces; a payload that cannot fit
// becomes a kInternal error.
template <typename Fill>
Bytes encode_frame(std::uint16_t opcode, std::uint32_t request_id, WireStatus status, Fill fill) {
  std::optional<Bytes> out = encode_payload(kHeaderSize, fill);
  if (!out) {
    return encode_error_reply(opcode, request_id, WireStatus::kInternal,
                              "reply larger than the protocol's frame limit");
  }
  FrameHeader h{kVersion, kFlagReply, opcode, request_id, static_cast<std::uint32_t>(status),
                static_cast<std::uint32_t>(out->size() - kHeaderSize)};
  encode_header(h, out->data());
  return std::move(*out);
}

bool is_name_lookup(Opcode op) {
  return op == Opcode::kGetpwnam || op == Opcode::kGetgrnam || op == Opcode::kInitgroups ||
         op == Opcode::kNetgroup || op == Opcode::kSshKeys;
}

}  // namespace

std::expected<Request, DecodeError> decode_request(const FrameHeader& header,
                                                   std::span<const std::uint8_t> payload) {
  if (!opcode_known(header.opcode)) {
    return std::unexpected(DecodeError{WireStatus::kUnknownOpcode,
                                       "unknown opcode " + std::to_string(header.opcode)});
  }
  if ((header.flags & kFlagReply) != 0) {
    return std::unexpected(DecodeError{WireStatus::kBadRequest, "a reply frame sent as a request"});
  }
  if (payload.size() != header.length) {
    return std::unexpected(DecodeError{WireStatus::kBadRequest, "payload length mismatch"});
  }
  if (header.length > kMaxRequestPayload) {
    return std::unexpected(DecodeError{WireStatus::kTooLarge, "request payload of " +
                                                                  std::to_string(header.length) +
                                                                  " bytes is over the limit"});
  }
  Request req;
  req.opcode = static_cast<Opcode>(header.opcode);
  req.request_id = header.request_id;
  WireReader r(payload.data(), payload.size());
  if (is_name_lookup(req.opcode)) {
    std::uint32_t n = 0;
    const char* s = r.str(kMaxNameLength, &n);
    if (!r.bad && n == 0) {
      return std::unexpected(DecodeError{WireStatus::kBadRequest, "empty name"});
    }
    req.name.assign(s, n);
  } else if (req.opcode == Opcode::kGetpwuid || req.opcode == Opcode::kGetgrgid) {
    req.id = r.u32();
  } else if (req.opcode == Opcode::kPwentPage || req.opcode == Opcode::kGrentPage) {
    req.cursor = r.u32();
    req.max = r.u32();
    if (!r.bad && (req.max == 0 || req.max > kMaxPageRecords)) req.max = kMaxPageRecords;
  } else if (req.opcode == Opcode::kAuthenticate || req.opcode == Opcode::kAccount ||
             req.opcode == Opcode::kChangePassword) {
    std::uint32_t n = 0;
    const char* user = r.str(kMaxNameLength, &n);
    if (!r.bad && n == 0) return std::unexpected(DecodeError{WireStatus::kBadRequest, "empty user name"});
    req.name.assign(user, n);
    // A password: its length is checked before a byte of it is copied.
    auto password = [&](core::Secret* out) -> std::optional<DecodeError> {
      const std::uint32_t pn = r.remaining() >= 4 ? load_u32(payload.data() + r.pos) : 0;
      if (pn > kMaxPasswordLength) {
        return DecodeError{WireStatus::kTooLarge,
                           "password longer than " + std::to_string(kMaxPasswordLength) + " bytes refused"};
      }
      std::uint32_t m = 0;
      const char* pw = r.str(kMaxPasswordLength, &m);
      if (!r.bad) out->assign(std::string_view(pw, m));
      return std::nullopt;
    };
    if (req.opcode != Opcode::kAccount) {
      if (auto e = password(&req.password)) return std::unexpected(std::move(*e));
    }
    if (req.opcode == Opcode::kChangePassword) {
      if (auto e = password(&req.new_password)) return std::unexpected(std::move(*e));
    }
    std::uint32_t sn = 0;
    const char* service = r.str(kMaxServiceLength, &sn);
    req.service.assign(service, sn);
  } else if (req.opcode == Opcode::kCacheInvalidate) {
    req.id = r.u32();  // the map mask
    if (!r.bad && (req.id == 0 || (req.id & ~kMapAll) != 0)) {
      return std::unexpected(DecodeError{WireStatus::kBadRequest, "unknown map in the mask"});
    }
  } else if (req.opcode == Opcode::kCacheForget || req.opcode == Opcode::kCacheShow) {
    req.id = r.u32();  // kEntryUser or kEntryGroup
    std::uint32_t n = 0;
    const char* key = r.str(kMaxNameLength, &n);
    if (!r.bad && req.id != kEntryUser && req.id != kEntryGroup) {
      return std::unexpected(DecodeError{WireStatus::kBadRequest, "neither a user nor a group"});
    }
    if (!r.bad && n == 0) return std::unexpected(DecodeError{WireStatus::kBadRequest, "empty name"});
    req.name.assign(key, n);
  } else if (req.opcode == Opcode::kSetLogLevel) {
    req.id = r.u32();
    if (!r.bad && req.id > 3) return std::unexpected(DecodeError{WireStatus::kBadRequest, "unknown log level"});
  }
  if (r.bad) {
    return std::unexpected(DecodeError{WireStatus::kBadRequest,
                                       std::string("malformed ") +
                                           std::string(opcode_name(header.opcode)) + " request"});
  }
  if (!r.at_end()) {
    return std::unexpected(DecodeError{WireStatus::kBadRequest, "trailing bytes after request"});
  }
  return req;
}

Bytes encode_request(const Request& req) {
  Bytes out(kHeaderSize + 20 + req.name.size() + req.password.size() + req.new_password.size() +
            req.service.size());
  WireWriter w(out.data() + kHeaderSize, out.size() - kHeaderSize);
  if (req.opcode == Opcode::kAuthenticate || req.opcode == Opcode::kAccount ||
      req.opcode == Opcode::kChangePassword) {
    w.str(req.name.data(), req.name.size());
    if (req.opcode != Opcode::kAccount) w.str(req.password.view().data(), req.password.size());
    if (req.opcode == Opcode::kChangePassword) w.str(req.new_password.view().data(), req.new_password.size());
    w.str(req.service.data(), req.service.size());
  } else if (is_name_lookup(req.opcode)) {
    w.str(req.name.data(), req.name.size());
  } else if (req.opcode == Opcode::kGetpwuid || req.opcode == Opcode::kGetgrgid ||
             req.opcode == Opcode::kCacheInvalidate || req.opcode == Opcode::kSetLogLevel) {
    w.u32(req.id);
  } else if (req.opcode == Opcode::kCacheForget || req.opcode == Opcode::kCacheShow) {
    w.u32(req.id);
    w.str(req.name.data(), req.name.size());
  } else if (req.opcode == Opcode::kPwentPage || req.opcode == Opcode::kGrentPage) {
    w.u32(req.cursor);
    w.u32(req.max);
  }
  out.resize(kHeaderSize + w.len);
  FrameHeader h{kVersion, 0, static_cast<std::uint16_t>(req.opcode), req.request_id, 0,
                static_cast<std::uint32_t>(w.len)};
  encode_header(h, out.data());
  return out;
}

void put_user(WireWriter& w, const User& u) {
  w.str(u.name.data(), u.name.size());
  w.str(u.passwd.data(), u.passwd.size());
  w.u32(u.uid);
  w.u32(u.gid);
  w.str(u.gecos.data(), u.gecos.size());
  w.str(u.dir.data(), u.dir.size());
  w.str(u.shell.data(), u.shell.size());
}

void put_group(WireWriter& w, const Group& g) {
  w.str(g.name.data(), g.name.size());
  w.str(g.passwd.data(), g.passwd.size());
  w.u32(g.gid);
  w.u32(static_cast<std::uint32_t>(g.members.size()));
  for (const auto& m : g.members) w.str(m.data(), m.size());
}

namespace {
bool get_field(WireReader& r, std::uint32_t max, std::string* out) {
  std::uint32_t n = 0;
  const char* s = r.str(max, &n);
  if (r.bad) return false;
  out->assign(s, n);
  return true;
}
}  // namespace

bool get_user(WireReader& r, User* u) {
  return get_field(r, kMaxNameLength, &u->name) && get_field(r, kMaxFieldLength, &u->passwd) &&
         ((u->uid = r.u32()), (u->gid = r.u32()), !r.bad) &&
         get_field(r, kMaxFieldLength, &u->gecos) && get_field(r, kMaxFieldLength, &u->dir) &&
         get_field(r, kMaxFieldLength, &u->shell);
}

bool get_group(WireReader& r, Group* g) {
  if (!get_field(r, kMaxNameLength, &g->name) || !get_field(r, kMaxFieldLength, &g->passwd)) {
    return false;
  }
  g->gid = r.u32();
  std::uint32_t n = r.u32();
  // Each member needs at least its 4-byte length: a count the payload cannot
  // hold is rejected before anything is reserved.
  if (r.bad || n > kMaxGroupMembers || n > r.remaining() / 4) {
    r.bad = true;
    return false;
  }
  g->members.clear();
  g->members.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string m;
    if (!get_field(r, kMaxNameLength, &m)) return false;
    g->members.push_back(std::move(m));
  }
  return true;
}

Bytes encode_error_reply(std::uint16_t opcode, std::uint32_t request_id, WireStatus status,
                         std::string_view message) {
  std::string_view msg = message.substr(0, 1024);
  Bytes out(kHeaderSize + 4 + msg.size());
  WireWriter w(out.data() + kHeaderSize, out.size() - kHeaderSize);
  w.str(msg.data(), msg.size());
  FrameHeader h{kVersion, kFlagReply, opcode, request_id, static_cast<std::uint32_t>(status),
                static_cast<std::uint32_t>(w.len)};
  encode_header(h, out.data());
  return out;
}

Bytes encode_auth_reply(std::uint32_t request_id, Opcode opcode, const AuthReply& reply) {
  return encode_frame(static_cast<std::uint16_t>(opcode), request_id, WireStatus::kOk, [&](WireWriter& w) {
    w.u32(static_cast<std::uint32_t>(reply.result));
    std::string_view msg = std::string_view(reply.message).substr(0, 1024);
    w.str(msg.data(), msg.size());
    // Never cut: a shortened name would be another cache.
    if (!reply.ccache.empty() && reply.ccache.size() <= kMaxCcacheNameLength) {
      w.str(reply.ccache.data(), reply.ccache.size());
    }
  });
}

Bytes encode_ping_reply(std::uint32_t request_id, std::string_view version) {
  return encode_frame(static_cast<std::uint16_t>(Opcode::kPing), request_id, WireStatus::kOk,
                      [&](WireWriter& w) { w.str(version.data(), version.size()); });
}

Bytes encode_status_reply(std::uint32_t request_id,
                          const std::vector<std::pair<std::string, std::string>>& items) {
  return encode_items_reply(Opcode::kStatus, request_id, items);
}

Bytes encode_items_reply(Opcode opcode, std::uint32_t request_id,
                         const std::vector<std::pair<std::string, std::string>>& items) {
  return encode_frame(static_cast<std::uint16_t>(opcode), request_id, WireStatus::kOk,
                      [&](WireWriter& w) {
                        w.u32(static_cast<std::uint32_t>(items.size()));
                        for (const auto& [k, v] : items) {
                          w.str(k.data(), k.size());
                          w.str(v.data(), v.size());
                        }
                      });
}

namespace {
template <typename T, typename Get>
core::Result<T> decode_record_reply(const Reply& reply, Get get) {
  if (core::Status st = status_of(reply); !st) return core::error(st);
  WireReader r(reply.payload.data(), reply.payload.size());
  T rec;
  if (!get(r, &rec) || !r.at_end()) {
    return core::error(core::Status::corruption("malformed reply payload"));
  }
  return rec;
}
}  // namespace

core::Result<AuthReply> decode_auth_reply(const Reply& reply) {
  auto get = [](WireReader& r, AuthReply* a) {
    const std::uint32_t code = r.u32();
    if (r.bad || code > kAuthResultMax) {
      r.bad = true;
      return false;
    }
    a->result = static_cast<AuthResult>(code);
    std::uint32_t n = 0;
    const char* s = r.str(1024, &n);
    a->message.assign(s, n);
    if (!r.bad && !r.at_end()) {
      const char* c = r.str(kMaxCcacheNameLength, &n);
      a->ccache.assign(c, n);
    }
    return !r.bad;
  };
  return decode_record_reply<AuthReply>(reply, get);
}

core::Status status_of(const Reply& reply) {
  const auto st = static_cast<WireStatus>(reply.header.status);
  if (st == WireStatus::kOk) return core::Status::ok();
  // The message, bounded like the encoder bounds it.
  WireReader r(reply.payload.data(), reply.payload.size());
  std::uint32_t n = 0;
  const char* s = r.str(1024, &n);
  return core::Status(from_wire(st), std::string(s, n));
}

// ---- Lookups: Query and Answer on the wire --------------------------------------

Opcode opcode_of(Kind kind) {
  switch (kind) {
    case Kind::kUserByName: return Opcode::kGetpwnam;
    case Kind::kUserByUid: return Opcode::kGetpwuid;
    case Kind::kGroupByName: return Opcode::kGetgrnam;
    case Kind::kGroupByGid: return Opcode::kGetgrgid;
    case Kind::kInitgroups: return Opcode::kInitgroups;
    case Kind::kUsersPage: return Opcode::kPwentPage;
    case Kind::kGroupsPage: return Opcode::kGrentPage;
    case Kind::kNetgroup: return Opcode::kNetgroup;
    case Kind::kSshKeys: return Opcode::kSshKeys;
  }
  return Opcode::kPing;
}

std::optional<model::Query> query_of(const Request& req) {
  for (Kind kind : {Kind::kUserByName, Kind::kUserByUid, Kind::kGroupByName, Kind::kGroupByGid,
                    Kind::kInitgroups, Kind::kUsersPage, Kind::kGroupsPage, Kind::kNetgroup,
                    Kind::kSshKeys}) {
    if (opcode_of(kind) == req.opcode) return model::Query{kind, req.name, req.id, req.cursor, req.max};
  }
  return std::nullopt;
}

Request request_of(const model::Query& q, std::uint32_t request_id) {
  Request r;
  r.opcode = opcode_of(q.kind);
  r.request_id = request_id;
  r.name = q.name;
  r.id = q.id;
  r.cursor = q.cursor;
  r.max = q.max;
  return r;
}

namespace {

// One writer and one reader per Answer alternative: the places the kinds differ.
void put(WireWriter& w, const User& u) { put_user(w, u); }
void put(WireWriter& w, const Group& g) { put_group(w, g); }
void put(WireWriter& w, const model::Gids& gids) {
  w.u32(static_cast<std::uint32_t>(gids.size()));
  for (auto g : gids) w.u32(g);
}
template <typename T>
void put(WireWriter& w, const Page<T>& page) {
  w.u32(page.next_cursor);
  w.u32(page.more ? 1 : 0);
  w.u32(static_cast<std::uint32_t>(page.records.size()));
  for (const auto& rec : page.records) put(w, rec);
}

void put(WireWriter& w, const model::Netgroup& ng) {
  w.str(ng.name.data(), ng.name.size());
  w.u32(static_cast<std::uint32_t>(ng.triples.size()));
  for (const auto& t : ng.triples) {
    w.str(t.host.data(), t.host.size());
    w.str(t.user.data(), t.user.size());
    w.str(t.domain.data(), t.domain.size());
  }
  w.u32(static_cast<std::uint32_t>(ng.unresolved.size()));
  for (const auto& n : ng.unresolved) w.str(n.data(), n.size());
}
void put(WireWriter& w, const model::SshKeys& k) {
  w.str(k.user.data(), k.user.size());
  w.u32(static_cast<std::uint32_t>(k.keys.size()));
  for (const auto& key : k.keys) w.str(key.data(), key.size());
}

bool get(WireReader& r, User* u) { return get_user(r, u); }
bool get(WireReader& r, Group* g) { return get_group(r, g); }
bool get(WireReader& r, model::Gids* gids) {
  const std::uint32_t n = r.u32();
  if (r.bad || n > kMaxInitgroups || n > r.remaining() / 4) return false;
  gids->resize(n);
  for (auto& g : *gids) g = r.u32();
  return !r.bad;
}
bool get_string(WireReader& r, std::uint32_t max, std::string* out) {
  std::uint32_t n = 0;
  const char* s = r.str(max, &n);
  if (r.bad) return false;
  out->assign(s, n);
  return true;
}
// Counts are checked against what the payload can hold (4 bytes a string at
// least) before anything is reserved.
bool get(WireReader& r, model::Netgroup* ng) {
  if (!get_string(r, kMaxNameLength, &ng->name)) return false;
  const std::uint32_t n = r.u32();
  if (r.bad || n > kMaxNetgroupTriples || n > r.remaining() / 12) return false;
  ng->triples.resize(n);
  for (auto& t : ng->triples) {
    if (!get_string(r, kMaxNetgroupField, &t.host) || !get_string(r, kMaxNetgroupField, &t.user) ||
        !get_string(r, kMaxNetgroupField, &t.domain))
      return false;
  }
  const std::uint32_t m = r.u32();
  if (r.bad || m > kMaxNetgroupUnresolved || m > r.remaining() / 4) return false;
  ng->unresolved.resize(m);
  for (auto& name : ng->unresolved) {
    if (!get_string(r, kMaxNameLength, &name)) return false;
  }
  return true;
}
bool get(WireReader& r, model::SshKeys* k) {
  if (!get_string(r, kMaxNameLength, &k->user)) return false;
  const std::uint32_t n = r.u32();
  if (r.bad || n > kMaxSshKeys || n > r.remaining() / 4) return false;
  k->keys.resize(n);
  for (auto& key : k->keys) {
    if (!get_string(r, kMaxSshKeyLength, &key)) return false;
  }
  return true;
}
template <typename T>
bool get(WireReader& r, Page<T>* page) {
  page->next_cursor = r.u32();
  page->more = r.u32() != 0;
  const std::uint32_t n = r.u32();
  // A record takes far more than 4 bytes: a count the payload cannot hold is
  // refused before anything is reserved.
  if (r.bad || n > kMaxPageRecords || n > r.remaining() / 4) return false;
  page->records.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    T rec;
    if (!get(r, &rec)) return false;
    page->records.push_back(std::move(rec));
  }
  return true;
}

template <typename T>
bool get_as(WireReader& r, model::Answer* out) {
  T value;
  if (!get(r, &value)) return false;
  *out = std::move(value);
  return true;
}

}  // namespace

Bytes encode_answer(std::uint32_t request_id, const model::Query& query, const model::Answer& answer) {
  const auto opcode = static_cast<std::uint16_t>(opcode_of(query.kind));
  if (core::Status st = model::check_answer(query, answer); !st) {
    return encode_error_reply(opcode, request_id, WireStatus::kInternal, st.message());
  }
  return encode_frame(opcode, request_id, WireStatus::kOk,
                      [&](WireWriter& w) { std::visit([&](const auto& v) { put(w, v); }, answer); });
}

std::optional<Bytes> encode_answer_payload(const model::Query& query, const model::Answer& answer) {
  if (!model::check_answer(query, answer)) return std::nullopt;
  return encode_payload(0, [&](WireWriter& w) { std::visit([&](const auto& v) { put(w, v); }, answer); });
}

Bytes encode_answer_header(std::uint32_t request_id, model::Kind kind, std::size_t payload_size) {
  Bytes out(kHeaderSize);
  FrameHeader h{kVersion, kFlagReply, static_cast<std::uint16_t>(opcode_of(kind)), request_id,
                static_cast<std::uint32_t>(WireStatus::kOk), static_cast<std::uint32_t>(payload_size)};
  encode_header(h, out.data());
  return out;
}

core::Result<model::Answer> decode_answer(Kind kind, const Reply& reply) {
  if (core::Status st = status_of(reply); !st) return core::error(st);
  WireReader r(reply.payload.data(), reply.payload.size());
  model::Answer answer;
  bool ok = false;
  switch (kind) {
    case Kind::kUserByName:
    case Kind::kUserByUid: ok = get_as<User>(r, &answer); break;
    case Kind::kGroupByName:
    case Kind::kGroupByGid: ok = get_as<Group>(r, &answer); break;
    case Kind::kInitgroups: ok = get_as<model::Gids>(r, &answer); break;
    case Kind::kUsersPage: ok = get_as<Page<User>>(r, &answer); break;
    case Kind::kGroupsPage: ok = get_as<Page<Group>>(r, &answer); break;
    case Kind::kNetgroup: ok = get_as<model::Netgroup>(r, &answer); break;
    case Kind::kSshKeys: ok = get_as<model::SshKeys>(r, &answer); break;
  }
  if (!ok || !r.at_end()) {
    return core::error(core::Status::corruption(
        "malformed " + std::string(opcode_name(static_cast<std::uint16_t>(opcode_of(kind)))) + " reply"));
  }
  return answer;
}

std::string_view auth_result_name(AuthResult result) {
  switch (result) {
    case AuthResult::kSuccess: return "success";
    case AuthResult::kUserUnknown: return "user unknown";
    case AuthResult::kAuthError: return "authentication failure";
    case AuthResult::kUnavailable: return "authentication information unavailable";
    case AuthResult::kLocked: return "locked out";
    case AuthResult::kPermissionDenied: return "permission denied";
    case AuthResult::kAccountExpired: return "account expired";
    case AuthResult::kPasswordExpired: return "password expired";
    case AuthResult::kTokenError: return "new password refused";
    case AuthResult::kIgnore: return "not changed here";
  }
  return "unknown result";
}

WireStatus to_wire(core::Code code) {
  using core::Code;
  switch (code) {
    case Code::kOk: return WireStatus::kOk;
    case Code::kNotFound: return WireStatus::kNotFound;
    case Code::kUnavailable: return WireStatus::kUnavailable;
    case Code::kBusy: return WireStatus::kBusy;
    case Code::kTimeout: return WireStatus::kTimeout;
    case Code::kCancelled: return WireStatus::kUnavailable;
    case Code::kInvalidArgument: return WireStatus::kBadRequest;
    case Code::kPermissionDenied: return WireStatus::kPermissionDenied;
    case Code::kIoError: return WireStatus::kUnavailable;
    case Code::kCorruption: return WireStatus::kInternal;
    case Code::kInternal: return WireStatus::kInternal;
  }
  return WireStatus::kInternal;
}

core::Code from_wire(WireStatus status) {
  using core::Code;
  switch (status) {
    case WireStatus::kOk: return Code::kOk;
    case WireStatus::kNotFound: return Code::kNotFound;
    case WireStatus::kUnavailable: return Code::kUnavailable;
    case WireStatus::kBusy: return Code::kBusy;
    case WireStatus::kTimeout: return Code::kTimeout;
    case WireStatus::kBadRequest:
    case WireStatus::kUnknownOpcode:
    case WireStatus::kTooLarge:
    case WireStatus::kUnsupportedVersion: return Code::kInvalidArgument;
    case WireStatus::kPermissionDenied: return Code::kPermissionDenied;
    case WireStatus::kInternal: return Code::kInternal;
  }
  return Code::kInternal;
}

std::string_view wire_status_name(WireStatus status) {
  switch (status) {
    case WireStatus::kOk: return "ok";
    case WireStatus::kNotFound: return "not found";
    case WireStatus::kUnavailable: return "unavailable";
    case WireStatus::kBusy: return "busy";
    case WireStatus::kTimeout: return "timeout";
    case WireStatus::kBadRequest: return "bad request";
    case WireStatus::kUnknownOpcode: return "unknown opcode";
    case WireStatus::kTooLarge: return "too large";
    case WireStatus::kPermissionDenied: return "permission denied";
    case WireStatus::kInternal: return "internal error";
    case WireStatus::kUnsupportedVersion: return "unsupported version";
  }
  return "unknown status";
}

std::string_view opcode_name(std::uint16_t opcode) {
  switch (static_cast<Opcode>(opcode)) {
    case Opcode::kPing: return "ping";
    case Opcode::kStatus: return "status";
    case Opcode::kGetpwnam: return "getpwnam";
    case Opcode::kGetpwuid: return "getpwuid";
    case Opcode::kGetgrnam: return "getgrnam";
    case Opcode::kGetgrgid: return "getgrgid";
    case Opcode::kInitgroups: return "initgroups";
    case Opcode::kPwentPage: return "pwent-page";
    case Opcode::kGrentPage: return "grent-page";
    case Opcode::kNetgroup: return "netgroup";
    case Opcode::kSshKeys: return "ssh-keys";
    case Opcode::kAuthenticate: return "authenticate";
    case Opcode::kAccount: return "account";
    case Opcode::kChangePassword: return "change-password";
    case Opcode::kCacheInvalidate: return "cache-invalidate";
    case Opcode::kCacheForget: return "cache-forget";
    case Opcode::kCacheShow: return "cache-show";
    case Opcode::kSetLogLevel: return "set-log-level";
  }
  return "unknown";
}

}  // namespace fastid::proto
