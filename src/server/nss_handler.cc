#include "server/nss_handler.h"

#include <algorithm>

#include "core/log.h"

namespace fastid::server {

using proto::Opcode;
using proto::WireStatus;

// Every awaitable below is created in its own statement and then awaited:
// GCC 12 destroys some temporaries of a co_await full-expression twice.

namespace {

// Enumeration cursors carry the backend's index in their top byte and the
// provider's own cursor below it, so paging walks the backends in order.
constexpr std::uint32_t kCursorShift = 24;
constexpr std::uint32_t kInnerMask = (1u << kCursorShift) - 1;

proto::Bytes error_reply(const proto::Request& req, const core::Status& st) {
  return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), req.request_id,
                                   proto::to_wire(st.code()), st.message());
}

// The pool's own errors already name the provider; an in-process provider's do not.
core::Status in_context(const Backend& b, const core::Status& st) {
  return b.pool() ? st : st.with_context("provider " + b.name());
}

}  // namespace

asio::awaitable<proto::Bytes> NssHandler::handle(proto::Request req, core::PeerCred peer) {
  ++requests_;
  switch (req.opcode) {
    case Opcode::kPing:
      co_return proto::encode_ping_reply(req.request_id, "fastidd " FASTID_VERSION);
    case Opcode::kStatus:
      co_return status(req);
    case Opcode::kGetpwnam:
    case Opcode::kGetpwuid: {
      auto op = user_lookup(std::move(req));
      co_return co_await std::move(op);
    }
    case Opcode::kGetgrnam:
    case Opcode::kGetgrgid: {
      auto op = group_lookup(std::move(req));
      co_return co_await std::move(op);
    }
    case Opcode::kInitgroups: {
      auto op = initgroups(std::move(req));
      co_return co_await std::move(op);
    }
    case Opcode::kPwentPage: {
      auto op = users_page(std::move(req));
      co_return co_await std::move(op);
    }
    case Opcode::kGrentPage: {
      auto op = groups_page(std::move(req));
      co_return co_await std::move(op);
    }
    case Opcode::kAuthenticate:
    case Opcode::kAccount:
      break;  // the connection sends these to the PAM handler, never here
    case Opcode::kCacheInvalidate: {
      // The connection let it through: admin socket, root peer.
      if (!publisher_) {
        co_return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), req.request_id,
                                            WireStatus::kUnavailable, "the fast cache is disabled");
      }
      core::Status st = publisher_->invalidate(req.id);
      if (!st) co_return error_reply(req, st);
      core::log_info("fast cache invalidated by an administrator (pid " + std::to_string(peer.pid) + ")");
      co_return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), req.request_id,
                                          WireStatus::kOk, "invalidated");
    }
  }
  ++errors_;
  co_return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), req.request_id,
                                      WireStatus::kUnknownOpcode, "unknown opcode");
}

// Backends are asked in order: the first answer wins; "not found" asks the
// next; an unavailable backend is remembered so that a name nobody knows is
// reported as "try again", not as "no such user", while one of them is down.
asio::awaitable<proto::Bytes> NssHandler::user_lookup(proto::Request req) {
  std::vector<Backend> backends = backends_;  // kept alive across the awaits
  core::Status failure;
  for (auto& b : backends) {
    auto op = req.opcode == Opcode::kGetpwnam ? b.user_by_name(req.name) : b.user_by_uid(req.id);
    core::Result<model::User> r = co_await std::move(op);
    if (r) {
      if (publisher_) publisher_->user(*r);
      co_return proto::encode_answer(req.request_id, *proto::query_of(req), *r);
    }
    if (r.error().code() != core::Code::kNotFound && failure.is_ok()) failure = in_context(b, r.error());
  }
  if (!failure.is_ok()) {
    ++errors_;
    co_return error_reply(req, failure);
  }
  ++not_found_;
  // Only a definite "no such user" is published; "try again" never is.
  if (publisher_) {
    req.opcode == Opcode::kGetpwnam ? publisher_->no_user_name(req.name) : publisher_->no_uid(req.id);
  }
  co_return error_reply(req, core::Status::not_found(""));
}

asio::awaitable<proto::Bytes> NssHandler::group_lookup(proto::Request req) {
  std::vector<Backend> backends = backends_;
  core::Status failure;
  for (auto& b : backends) {
    auto op = req.opcode == Opcode::kGetgrnam ? b.group_by_name(req.name) : b.group_by_gid(req.id);
    core::Result<model::Group> r = co_await std::move(op);
    if (r) {
      if (publisher_) publisher_->group(*r);
      co_return proto::encode_answer(req.request_id, *proto::query_of(req), *r);
    }
    if (r.error().code() != core::Code::kNotFound && failure.is_ok()) failure = in_context(b, r.error());
  }
  if (!failure.is_ok()) {
    ++errors_;
    co_return error_reply(req, failure);
  }
  ++not_found_;
  if (publisher_) {
    req.opcode == Opcode::kGetgrnam ? publisher_->no_group_name(req.name) : publisher_->no_gid(req.id);
  }
  co_return error_reply(req, core::Status::not_found(""));
}

asio::awaitable<proto::Bytes> NssHandler::initgroups(proto::Request req) {
  // Memberships are the union over every backend that knows the user: a
  // local group may list a directory user.
  std::vector<Backend> backends = backends_;
  std::vector<std::uint32_t> gids;
  bool known = false;
  core::Status failure;
  for (auto& b : backends) {
    auto op = b.initgroups(req.name);
    auto r = co_await std::move(op);
    if (r) {
      known = true;
      for (auto g : *r) {
        if (std::find(gids.begin(), gids.end(), g) == gids.end()) gids.push_back(g);
      }
    } else if (r.error().code() != core::Code::kNotFound && failure.is_ok()) {
      failure = in_context(b, r.error());
    }
  }
  if (!failure.is_ok()) {
    // A partial list would silently drop a user's groups: say "try again".
    ++errors_;
    co_return error_reply(req, failure);
  }
  if (!known) {
    ++not_found_;
    if (publisher_) publisher_->no_initgroups(req.name);
    co_return error_reply(req, core::Status::not_found(""));
  }
  if (publisher_) publisher_->initgroups(req.name, gids);
  co_return proto::encode_answer(req.request_id, *proto::query_of(req), gids);
}

namespace {

// One page of an enumeration across the backends, in order: the cursor names
// the backend and that backend's own cursor; an empty last page of one
// backend moves on to the next. Errors come back already naming the provider.
template <typename T>
asio::awaitable<core::Result<model::Page<T>>> walk_page(
    std::vector<Backend> backends, std::uint32_t cursor, std::uint32_t max,
    asio::awaitable<core::Result<model::Page<T>>> (Backend::*ask)(std::uint32_t, std::uint32_t)) {
  std::uint32_t index = cursor >> kCursorShift;
  std::uint32_t inner = cursor & kInnerMask;
  model::Page<T> out;
  while (index < backends.size()) {
    auto op = (backends[index].*ask)(inner, max);
    auto r = co_await std::move(op);
    if (!r) co_return core::error(in_context(backends[index], r.error()));
    out.records = std::move(r->records);
    if (r->more) {
      out.next_cursor = (index << kCursorShift) | (r->next_cursor & kInnerMask);
      out.more = true;
      break;
    }
    ++index;
    inner = 0;
    out.next_cursor = index << kCursorShift;
    out.more = index < backends.size();
    if (!out.records.empty()) break;
  }
  co_return out;
}

}  // namespace

asio::awaitable<proto::Bytes> NssHandler::users_page(proto::Request req) {
  auto op = walk_page<model::User>(backends_, req.cursor, req.max, &Backend::users_page);
  auto page = co_await std::move(op);
  if (!page) {
    ++errors_;
    co_return error_reply(req, page.error());
  }
  co_return proto::encode_answer(req.request_id, *proto::query_of(req), *page);
}

asio::awaitable<proto::Bytes> NssHandler::groups_page(proto::Request req) {
  auto op = walk_page<model::Group>(backends_, req.cursor, req.max, &Backend::groups_page);
  auto page = co_await std::move(op);
  if (!page) {
    ++errors_;
    co_return error_reply(req, page.error());
  }
  co_return proto::encode_answer(req.request_id, *proto::query_of(req), *page);
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
  for (const auto& b : backends_) {
    for (auto& kv : b.status_items()) items.push_back(std::move(kv));
  }
  return proto::encode_status_reply(req.request_id, items);
}

}  // namespace fastid::server
