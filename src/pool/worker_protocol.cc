#include "pool/worker_protocol.h"

namespace fastid::pool {

using proto::Opcode;
using proto::WireStatus;

namespace {

proto::Bytes error_frame(const proto::Request& req, const core::Status& st) {
  return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), req.request_id,
                                   proto::to_wire(st.code()), st.message());
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
  if (auto query = proto::query_of(req)) {
    auto answer = provider.lookup(*query);
    return answer ? proto::encode_answer(id, *query, *answer) : error_frame(req, answer.error());
  }
  switch (req.opcode) {
    case Opcode::kPing:
      return proto::encode_ping_reply(id, "fastid-provider-worker " FASTID_VERSION);
    case Opcode::kStatus:
      return proto::encode_status_reply(id, provider.stats());
    case Opcode::kAuthenticate: {
      // A rejection, an unknown user and an outage travel as error replies
      // with their codes; a success is an AuthReply with the account's
      // verdict as the source saw it (auth_reply_of: kSuccess when in order).
      auto r = provider.authenticate_verdict(req.name, req.password.view());
      if (!r) return error_frame(req, r.error());
      return proto::encode_auth_reply(id, req.opcode, auth_reply_of(*r));
    }
    case Opcode::kAccount: {
      auto r = provider.account(req.name);
      if (!r) return error_frame(req, r.error());
      return proto::encode_auth_reply(id, req.opcode, auth_reply_of(*r));
    }
    case Opcode::kChangePassword: {
      auto r = provider.change_password(req.name, req.password.view(), req.new_password.view());
      if (!r) return error_frame(req, r.error());
      return proto::encode_auth_reply(id, req.opcode, auth_reply_of(*r));
    }
    default:
      break;  // lookups are answered above; cache-invalidate is the daemon's business
  }
  return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), id, WireStatus::kUnknownOpcode,
                                   "unknown opcode");
}

proto::AuthReply auth_reply_of(const model::Account& account) {
  using model::AccountVerdict;
  using proto::AuthResult;
  AuthResult result = AuthResult::kSuccess;
  switch (account.verdict) {
    case AccountVerdict::kOk: result = AuthResult::kSuccess; break;
    case AccountVerdict::kExpired: result = AuthResult::kAccountExpired; break;
    case AccountVerdict::kPasswordExpired: result = AuthResult::kPasswordExpired; break;
    case AccountVerdict::kDenied: result = AuthResult::kPermissionDenied; break;
  }
  return proto::AuthReply{result, account.message, account.ccache};
}

core::Result<model::Account> account_of(const proto::AuthReply& reply) {
  using model::AccountVerdict;
  using proto::AuthResult;
  switch (reply.result) {
    case AuthResult::kSuccess: return model::Account{AccountVerdict::kOk, reply.message, reply.ccache};
    case AuthResult::kAccountExpired: return model::Account{AccountVerdict::kExpired, reply.message};
    case AuthResult::kPasswordExpired: return model::Account{AccountVerdict::kPasswordExpired, reply.message};
    case AuthResult::kPermissionDenied: return model::Account{AccountVerdict::kDenied, reply.message};
    default: break;
  }
  return core::error(core::Status::corruption("account reply with result " +
                                              std::string(proto::auth_result_name(reply.result))));
}

proto::AuthReply auth_reply_of(const model::PasswordChange& change) {
  using model::PasswordChangeVerdict;
  using proto::AuthResult;
  AuthResult result = AuthResult::kSuccess;
  switch (change.verdict) {
    case PasswordChangeVerdict::kChanged: result = AuthResult::kSuccess; break;
    case PasswordChangeVerdict::kOldPasswordRejected: result = AuthResult::kAuthError; break;
    case PasswordChangeVerdict::kNewPasswordRefused: result = AuthResult::kTokenError; break;
    case PasswordChangeVerdict::kDenied: result = AuthResult::kPermissionDenied; break;
    case PasswordChangeVerdict::kNotSupported: result = AuthResult::kIgnore; break;
  }
  return proto::AuthReply{result, change.message};
}

core::Result<model::PasswordChange> password_change_of(const proto::AuthReply& reply) {
  using model::PasswordChangeVerdict;
  using proto::AuthResult;
  switch (reply.result) {
    case AuthResult::kSuccess: return model::PasswordChange{PasswordChangeVerdict::kChanged, reply.message};
    case AuthResult::kAuthError: return model::PasswordChange{PasswordChangeVerdict::kOldPasswordRejected, reply.message};
    case AuthResult::kTokenError: return model::PasswordChange{PasswordChangeVerdict::kNewPasswordRefused, reply.message};
    case AuthResult::kPermissionDenied: return model::PasswordChange{PasswordChangeVerdict::kDenied, reply.message};
    case AuthResult::kIgnore: return model::PasswordChange{PasswordChangeVerdict::kNotSupported, reply.message};
    default: break;
  }
  return core::error(core::Status::corruption("password change reply with result " +
                                              std::string(proto::auth_result_name(reply.result))));
}

core::Result<std::vector<std::pair<std::string, std::string>>> decode_status_reply(
    const proto::Reply& reply) {
  if (core::Status st = proto::status_of(reply); !st) return core::error(st);
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
