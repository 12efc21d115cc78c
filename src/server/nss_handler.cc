#include "server/nss_handler.h"

#include "core/log.h"

namespace fastid::server {

using proto::Opcode;
using proto::WireStatus;

namespace {

// Enumeration cursors carry the provider's index in their top byte and the
// provider's own cursor below it, so paging walks the providers in order.
constexpr std::uint32_t kCursorShift = 24;
constexpr std::uint32_t kInnerMask = (1u << kCursorShift) - 1;

proto::Bytes error_reply(const proto::Request& req, const core::Status& st) {
  return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), req.request_id,
                                   proto::to_wire(st.code()), st.message());
}

// Walks providers in order: the first answer wins; "not found" asks the next;
// an unavailable provider is remembered so that a name no provider knows is
// reported as "try again", not as "no such user", while one of them is down.
template <typename T, typename Ask>
core::Result<T> first_answer(const std::vector<std::shared_ptr<providers::Provider>>& providers,
                             Ask ask) {
  core::Status failure;
  for (const auto& p : providers) {
    core::Result<T> r = ask(*p);
    if (r) return r;
    if (r.error().code() == core::Code::kNotFound) continue;
    if (failure.is_ok()) failure = r.error().with_context("provider " + p->name());
  }
  if (!failure.is_ok()) return core::error(failure);
  return core::error(core::Status::not_found(""));
}

}  // namespace

NssHandler::NssHandler(std::vector<std::shared_ptr<providers::Provider>> providers)
    : providers_(std::move(providers)) {}

void NssHandler::set_providers(std::vector<std::shared_ptr<providers::Provider>> providers) {
  providers_ = std::move(providers);
}

proto::Bytes NssHandler::handle(const proto::Request& req, core::PeerCred /*peer*/) {
  ++requests_;
  switch (req.opcode) {
    case Opcode::kPing:
      return proto::encode_ping_reply(req.request_id, "fastidd " FASTID_VERSION);
    case Opcode::kStatus:
      return status(req);
    case Opcode::kGetpwnam:
    case Opcode::kGetpwuid:
      return user_lookup(req);
    case Opcode::kGetgrnam:
    case Opcode::kGetgrgid:
      return group_lookup(req);
    case Opcode::kInitgroups:
      return initgroups(req);
    case Opcode::kPwentPage:
      return users_page(req);
    case Opcode::kGrentPage:
      return groups_page(req);
  }
  ++errors_;
  return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), req.request_id,
                                   WireStatus::kUnknownOpcode, "unknown opcode");
}

proto::Bytes NssHandler::user_lookup(const proto::Request& req) {
  auto r = first_answer<proto::User>(providers_, [&](providers::Provider& p) {
    return req.opcode == Opcode::kGetpwnam ? p.user_by_name(req.name) : p.user_by_uid(req.id);
  });
  if (!r) {
    bool absent = r.error().code() == core::Code::kNotFound;
    (absent ? not_found_ : errors_)++;
    // Only a definite "no such user" is published; "try again" never is.
    if (absent && publisher_) {
      req.opcode == Opcode::kGetpwnam ? publisher_->no_user_name(req.name) : publisher_->no_uid(req.id);
    }
    return error_reply(req, r.error());
  }
  if (publisher_) publisher_->user(*r);
  return proto::encode_user_reply(req.request_id, req.opcode, *r);
}

proto::Bytes NssHandler::group_lookup(const proto::Request& req) {
  auto r = first_answer<proto::Group>(providers_, [&](providers::Provider& p) {
    return req.opcode == Opcode::kGetgrnam ? p.group_by_name(req.name) : p.group_by_gid(req.id);
  });
  if (!r) {
    bool absent = r.error().code() == core::Code::kNotFound;
    (absent ? not_found_ : errors_)++;
    if (absent && publisher_) {
      req.opcode == Opcode::kGetgrnam ? publisher_->no_group_name(req.name) : publisher_->no_gid(req.id);
    }
    return error_reply(req, r.error());
  }
  if (publisher_) publisher_->group(*r);
  return proto::encode_group_reply(req.request_id, req.opcode, *r);
}

proto::Bytes NssHandler::initgroups(const proto::Request& req) {
  // Memberships are the union over every provider that knows the user: a
  // local group may list a directory user.
  std::vector<std::uint32_t> gids;
  bool known = false;
  core::Status failure;
  for (const auto& p : providers_) {
    auto r = p->initgroups(req.name);
    if (r) {
      known = true;
      for (auto g : *r) {
        bool dup = false;
        for (auto have : gids) dup = dup || have == g;
        if (!dup) gids.push_back(g);
      }
    } else if (r.error().code() != core::Code::kNotFound && failure.is_ok()) {
      failure = r.error().with_context("provider " + p->name());
    }
  }
  if (!known) {
    if (!failure.is_ok()) {
      ++errors_;
      return error_reply(req, failure);
    }
    ++not_found_;
    if (publisher_) publisher_->no_initgroups(req.name);
    return error_reply(req, core::Status::not_found(""));
  }
  if (publisher_) publisher_->initgroups(req.name, gids);
  return proto::encode_gids_reply(req.request_id, gids);
}

proto::Bytes NssHandler::users_page(const proto::Request& req) {
  std::uint32_t index = req.cursor >> kCursorShift;
  std::uint32_t inner = req.cursor & kInnerMask;
  proto::Page<proto::User> out;
  while (index < providers_.size()) {
    auto r = providers_[index]->users_page(inner, req.max);
    if (!r) {
      ++errors_;
      return error_reply(req, r.error().with_context("provider " + providers_[index]->name()));
    }
    out.records = std::move(r->records);
    if (r->more) {
      out.next_cursor = (index << kCursorShift) | (r->next_cursor & kInnerMask);
      out.more = true;
      break;
    }
    ++index;
    inner = 0;
    out.next_cursor = index << kCursorShift;
    out.more = index < providers_.size();
    if (!out.records.empty()) break;
  }
  return proto::encode_users_page_reply(req.request_id, out);
}

proto::Bytes NssHandler::groups_page(const proto::Request& req) {
  std::uint32_t index = req.cursor >> kCursorShift;
  std::uint32_t inner = req.cursor & kInnerMask;
  proto::Page<proto::Group> out;
  while (index < providers_.size()) {
    auto r = providers_[index]->groups_page(inner, req.max);
    if (!r) {
      ++errors_;
      return error_reply(req, r.error().with_context("provider " + providers_[index]->name()));
    }
    out.records = std::move(r->records);
    if (r->more) {
      out.next_cursor = (index << kCursorShift) | (r->next_cursor & kInnerMask);
      out.more = true;
      break;
    }
    ++index;
    inner = 0;
    out.next_cursor = index << kCursorShift;
    out.more = index < providers_.size();
    if (!out.records.empty()) break;
  }
  return proto::encode_groups_page_reply(req.request_id, out);
}

proto::Bytes NssHandler::status(const proto::Request& req) {
  StatusItems items;
  if (status_source_) items = status_source_();
  items.emplace_back("requests", std::to_string(requests_));
  items.emplace_back("requests.not_found", std::to_string(not_found_));
  items.emplace_back("requests.errors", std::to_string(errors_));
  if (publisher_) {
    for (auto& kv : publisher_->stats()) items.push_back(std::move(kv));
  }
  for (const auto& p : providers_) {
    for (auto& [k, v] : p->stats()) items.emplace_back("provider." + p->name() + "." + k, v);
  }
  return proto::encode_status_reply(req.request_id, items);
}

}  // namespace fastid::server
