#include "pool/worker_protocol.h"

namespace fastid::pool {

using proto::Opcode;
using proto::WireStatus;

namespace {

proto::Bytes error_frame(const proto::Request& req, const core::Status& st) {
  return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), req.request_id,
                                   proto::to_wire(st.code()), st.message());
}

// The error message of an error reply, bounded like the encoder bounds it.
std::string error_message(const proto::Reply& reply) {
  proto::WireReader r(reply.payload.data(), reply.payload.size());
  std::uint32_t n = 0;
  const char* s = r.str(1024, &n);
  return std::string(s, n);
}

template <typename T, typename Get>
core::Result<proto::Page<T>> decode_page(const proto::Reply& reply, Get get) {
  if (core::Status st = status_of(reply); !st) return core::error(st);
  proto::WireReader r(reply.payload.data(), reply.payload.size());
  proto::Page<T> page;
  page.next_cursor = r.u32();
  page.more = r.u32() != 0;
  const std::uint32_t n = r.u32();
  // A record takes far more than 4 bytes: a count the payload cannot hold is
  // refused before anything is reserved.
  if (r.bad || n > proto::kMaxPageRecords || n > r.remaining() / 4) {
    return core::error(core::Status::corruption("malformed page reply"));
  }
  page.records.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    T rec;
    if (!get(r, &rec)) return core::error(core::Status::corruption("malformed page reply"));
    page.records.push_back(std::move(rec));
  }
  if (!r.at_end()) return core::error(core::Status::corruption("trailing bytes after page reply"));
  return page;
}

}  // namespace

proto::Bytes encode_ready(std::string_view version) {
  return proto::encode_ping_reply(kReadyRequestId, version);
}

proto::Bytes encode_start_failure(const core::Status& why) {
  return proto::encode_error_reply(static_cast<std::uint16_t>(Opcode::kPing), kReadyRequestId,
                                   proto::to_wire(why.code()), why.message());
}

proto::Bytes serve_request(providers::Provider& provider, const proto::Request& req) {
  const std::uint32_t id = req.request_id;
  switch (req.opcode) {
    case Opcode::kPing:
      return proto::encode_ping_reply(id, "fastid-provider-worker " FASTID_VERSION);
    case Opcode::kStatus:
      return proto::encode_status_reply(id, provider.stats());
    case Opcode::kGetpwnam:
    case Opcode::kGetpwuid: {
      auto r =
          req.opcode == Opcode::kGetpwnam ? provider.user_by_name(req.name) : provider.user_by_uid(req.id);
      return r ? proto::encode_user_reply(id, req.opcode, *r) : error_frame(req, r.error());
    }
    case Opcode::kGetgrnam:
    case Opcode::kGetgrgid: {
      auto r =
          req.opcode == Opcode::kGetgrnam ? provider.group_by_name(req.name) : provider.group_by_gid(req.id);
      return r ? proto::encode_group_reply(id, req.opcode, *r) : error_frame(req, r.error());
    }
    case Opcode::kInitgroups: {
      auto r = provider.initgroups(req.name);
      return r ? proto::encode_gids_reply(id, *r) : error_frame(req, r.error());
    }
    case Opcode::kPwentPage: {
      auto r = provider.users_page(req.cursor, req.max);
      return r ? proto::encode_users_page_reply(id, *r) : error_frame(req, r.error());
    }
    case Opcode::kGrentPage: {
      auto r = provider.groups_page(req.cursor, req.max);
      return r ? proto::encode_groups_page_reply(id, *r) : error_frame(req, r.error());
    }
    case Opcode::kAuthenticate: {
      // A rejection, an unknown user and an outage travel as error replies
      // with their codes; only a success is an AuthReply.
      core::Status st = provider.authenticate(req.name, req.password.view());
      if (!st) return error_frame(req, st);
      return proto::encode_auth_reply(id, req.opcode, proto::AuthReply{proto::AuthResult::kSuccess, ""});
    }
    case Opcode::kAccount: {
      auto r = provider.account(req.name);
      if (!r) return error_frame(req, r.error());
      return proto::encode_auth_reply(id, req.opcode, auth_reply_of(*r));
    }
    case Opcode::kCacheInvalidate:
      break;  // the daemon's business, never a provider's
  }
  return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), id, WireStatus::kUnknownOpcode,
                                   "unknown opcode");
}

proto::AuthReply auth_reply_of(const proto::Account& account) {
  using proto::AccountVerdict;
  using proto::AuthResult;
  AuthResult result = AuthResult::kSuccess;
  switch (account.verdict) {
    case AccountVerdict::kOk: result = AuthResult::kSuccess; break;
    case AccountVerdict::kExpired: result = AuthResult::kAccountExpired; break;
    case AccountVerdict::kPasswordExpired: result = AuthResult::kPasswordExpired; break;
    case AccountVerdict::kDenied: result = AuthResult::kPermissionDenied; break;
  }
  return proto::AuthReply{result, account.message};
}

core::Result<proto::Account> account_of(const proto::AuthReply& reply) {
  using proto::AccountVerdict;
  using proto::AuthResult;
  switch (reply.result) {
    case AuthResult::kSuccess: return proto::Account{AccountVerdict::kOk, reply.message};
    case AuthResult::kAccountExpired: return proto::Account{AccountVerdict::kExpired, reply.message};
    case AuthResult::kPasswordExpired: return proto::Account{AccountVerdict::kPasswordExpired, reply.message};
    case AuthResult::kPermissionDenied: return proto::Account{AccountVerdict::kDenied, reply.message};
    default: break;
  }
  return core::error(core::Status::corruption("account reply with result " +
                                              std::string(proto::auth_result_name(reply.result))));
}

core::Status status_of(const proto::Reply& reply) {
  const auto st = static_cast<WireStatus>(reply.header.status);
  if (st == WireStatus::kOk) return core::Status::ok();
  return core::Status(proto::from_wire(st), error_message(reply));
}

core::Result<std::vector<std::uint32_t>> decode_gids_reply(const proto::Reply& reply) {
  if (core::Status st = status_of(reply); !st) return core::error(st);
  proto::WireReader r(reply.payload.data(), reply.payload.size());
  const std::uint32_t n = r.u32();
  if (r.bad || n > proto::kMaxInitgroups || n != r.remaining() / 4 || r.remaining() % 4 != 0) {
    return core::error(core::Status::corruption("malformed initgroups reply"));
  }
  std::vector<std::uint32_t> gids(n);
  for (auto& g : gids) g = r.u32();
  return gids;
}

core::Result<proto::Page<proto::User>> decode_users_page_reply(const proto::Reply& reply) {
  return decode_page<proto::User>(reply, proto::get_user);
}

core::Result<proto::Page<proto::Group>> decode_groups_page_reply(const proto::Reply& reply) {
  return decode_page<proto::Group>(reply, proto::get_group);
}

core::Result<std::vector<std::pair<std::string, std::string>>> decode_status_reply(
    const proto::Reply& reply) {
  if (core::Status st = status_of(reply); !st) return core::error(st);
  proto::WireReader r(reply.payload.data(), reply.payload.size());
  const std::uint32_t n = r.u32();
  if (r.bad || n > r.remaining() / 8) return core::error(core::Status::corruption("malformed status reply"));
  std::vector<std::pair<std::string, std::string>> items;
  items.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t kn = 0, vn = 0;
    const char* k = r.str(proto::kMaxFieldLength, &kn);
    std::string key(k, kn);
    const char* v = r.str(proto::kMaxFieldLength, &vn);
    if (r.bad) return core::error(core::Status::corruption("malformed status reply"));
    items.emplace_back(std::move(key), std::string(v, vn));
  }
  if (!r.at_end()) return core::error(core::Status::corruption("trailing bytes after status reply"));
  return items;
}

proto::Bytes encode_reply(const proto::Reply& reply) {
  proto::Bytes out(proto::kHeaderSize + reply.payload.size());
  proto::FrameHeader h = reply.header;
  h.length = static_cast<std::uint32_t>(reply.payload.size());
  proto::encode_header(h, out.data());
  if (!reply.payload.empty())
    std::copy(reply.payload.begin(), reply.payload.end(), out.begin() + proto::kHeaderSize);
  return out;
}

}  // namespace fastid::pool
