// The systemd userdb front (varlink_front.h): the Varlink request loop and the
// io.systemd.UserDatabase methods, each a walk of model::Queries through the
// gate and Router::lookup.

#include "core/gcc12_coroutines.h"  // first: its rules and pragmas
#include "server/varlink_front.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <utility>
#include <variant>

#include "proto/messages.h"
#include "proto/varlink.h"
#include "server/connection.h"

namespace fastid::server {
namespace {

namespace vl = proto::varlink;
using Clock = std::chrono::steady_clock;
using model::Query;
constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);

// Records asked per enumeration page (as libfastid asks), and a bound on the
// pages of one enumeration, so that a directory whose cursor never ends
// cannot hold a connection forever.
constexpr std::uint32_t kPageRecords = 256;
constexpr std::size_t kMaxPages = 1u << 16;

// The Varlink error a failed lookup becomes: "no such entry" is
// NoRecordFound; an enumeration a directory refuses (kInvalidArgument: too
// long, not offered) EnumerationNotSupported; anything else — unavailable,
// timed out, busy — ServiceNotAvailable. No directory's text reaches the peer.
std::string_view error_of(const core::Status& st, bool page) {
  if (st.code() == core::Code::kNotFound) return vl::kNoRecordFound;
  if (page && st.code() == core::Code::kInvalidArgument) return vl::kEnumerationNotSupported;
  return vl::kServiceNotAvailable;
}

using Membership = std::pair<std::string, std::string>;  // userName, groupName
using Item = std::variant<model::User, model::Group, Membership>;

// One call being answered. Replies of a call with `more` are streamed: each
// is held back until the next one (or the end) says whether it `continues`.
// Without `more` the first reply is the only one. A `oneway` call is
// answered with nothing at all.
class Call {
 public:
  Call(Server& server, Server::Connection& conn, const VarlinkOptions& options, const vl::Call& call)
      : server_(server), conn_(conn), options_(options), call_(call) {}

  // False when the connection broke while writing.
  asio::awaitable<bool> answer();

 private:
  template <typename Record>
  asio::awaitable<bool> record();
  asio::awaitable<bool> memberships();
  asio::awaitable<bool> memberships_of_user(const std::string& user);

  // One query through the gate and the router; `source` gets the directory's name.
  asio::awaitable<core::Result<model::Answer>> ask(Query query, std::string* source);
  bool left_out(const std::string& source) const {
    return std::ranges::find(options_.left_out, source) != options_.left_out.end();
  }
  // Whether another reply would be sent (false once a call without `more` has its one).
  bool wants_more() const { return !held_ || call_.more; }

  asio::awaitable<bool> send(std::string message);
  std::string encode(const Item& item, bool continues) const;
  asio::awaitable<bool> push(Item item);
  // The held reply as the last one; `if_none` when there was none.
  asio::awaitable<bool> finish(std::string_view if_none = vl::kNoRecordFound);
  // An error ends the call: a held reply goes first, flagged `continues`.
  asio::awaitable<bool> fail(std::string_view error);

  Server& server_;
  Server::Connection& conn_;
  const VarlinkOptions& options_;
  const vl::Call& call_;
  std::optional<Item> held_;
};

asio::awaitable<bool> Call::send(std::string message) {
  if (call_.oneway) co_return true;
  conn_.set_deadline(Clock::now() + server_.limits().stall_timeout);
  auto write = asio::async_write(conn_.socket, asio::buffer(message), kUseTuple);
  auto [ec, n] = co_await std::move(write);
  conn_.set_deadline(Clock::time_point::max());
  co_return !ec;
}

std::string Call::encode(const Item& item, bool continues) const {
  return std::visit(
      [&](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, model::User>) return vl::user_reply(v, options_.service, continues);
        if constexpr (std::is_same_v<T, model::Group>) return vl::group_reply(v, options_.service, continues);
        if constexpr (std::is_same_v<T, Membership>) return vl::membership_reply(v.first, v.second, continues);
      },
      item);
}

asio::awaitable<bool> Call::push(Item item) {
  if (!wants_more()) co_return true;
  if (held_) {
    auto op = send(encode(*held_, true));
    if (!co_await std::move(op)) co_return false;
  }
  held_ = std::move(item);
  co_return true;
}

asio::awaitable<bool> Call::finish(std::string_view if_none) {
  std::string last = held_ ? encode(*held_, false) : vl::error_reply(if_none);
  held_.reset();
  auto op = send(std::move(last));
  co_return co_await std::move(op);
}

asio::awaitable<bool> Call::fail(std::string_view error) {
  if (held_) {
    auto op = send(encode(*held_, true));
    held_.reset();
    if (!co_await std::move(op)) co_return false;
  }
  auto op = send(vl::error_reply(error));
  co_return co_await std::move(op);
}

asio::awaitable<core::Result<model::Answer>> Call::ask(Query query, std::string* source) {
  const auto opcode = static_cast<std::uint16_t>(proto::opcode_of(query.kind));
  if (Rejection why = server_.admit_request(ListenerClass::kVarlink, conn_.peer.is_root(), opcode);
      why != Rejection::kNone) {
    co_return core::error(core::Status::permission_denied(rejection_message(why)));
  }
  // A pooled provider may take its request_timeout: the stall limit is for
  // the peer's reading and writing, not for our backends.
  conn_.set_deadline(Clock::time_point::max());
  auto op = server_.router().lookup(std::move(query), source);
  co_return co_await std::move(op);
}

asio::awaitable<bool> Call::answer() {
  switch (call_.method) {
    case vl::Method::kGetInfo: {
      auto op = send(vl::info_reply(options_.version));
      co_return co_await std::move(op);
    }
    case vl::Method::kGetInterfaceDescription: {
      auto op = send(vl::interface_description_reply());
      co_return co_await std::move(op);
    }
    default: break;
  }
  // systemd's own services answer BadService to a call for another service
  // (or none): a client that asks the wrong socket learns it at once.
  if (call_.service != options_.service) {
    auto op = send(vl::error_reply(vl::kBadService));
    co_return co_await std::move(op);
  }
  if (call_.method == vl::Method::kGetUserRecord) {
    auto op = record<model::User>();
    co_return co_await std::move(op);
  }
  if (call_.method == vl::Method::kGetGroupRecord) {
    auto op = record<model::Group>();
    co_return co_await std::move(op);
  }
  auto op = memberships();
  co_return co_await std::move(op);
}

// What differs between the user and the group methods: the queries that
// fetch the record and the id it carries; the rest of the method is one.
template <typename Record>
struct RecordQueries;
template <>
struct RecordQueries<model::User> {
  static Query by_name(const std::string& name) { return Query::user_by_name(name); }
  static Query by_id(std::uint32_t id) { return Query::user_by_uid(id); }
  static Query page(std::uint32_t cursor) { return Query::users_page(cursor, kPageRecords); }
  static std::uint32_t id(const model::User& u) { return u.uid; }
};
template <>
struct RecordQueries<model::Group> {
  static Query by_name(const std::string& name) { return Query::group_by_name(name); }
  static Query by_id(std::uint32_t id) { return Query::group_by_gid(id); }
  static Query page(std::uint32_t cursor) { return Query::groups_page(cursor, kPageRecords); }
  static std::uint32_t id(const model::Group& g) { return g.gid; }
};

// GetUserRecord / GetGroupRecord: one record by name and/or id, or (with
// `more`) every record, page by page.
template <typename Record>
asio::awaitable<bool> Call::record() {
  using Q = RecordQueries<Record>;
  if (call_.name || call_.id) {
    std::string source;
    auto ask_op = ask(call_.name ? Q::by_name(*call_.name) : Q::by_id(*call_.id), &source);
    core::Result<Record> found = model::answer_as<Record>(co_await std::move(ask_op));
    if (!found) {
      auto op = fail(error_of(found.error(), false));
      co_return co_await std::move(op);
    }
    std::string_view error;
    if (left_out(source)) {
      error = vl::kNoRecordFound;
    } else if (call_.name && call_.id && Q::id(*found) != *call_.id) {
      error = vl::kConflictingRecordFound;  // the name is another id's
    } else if (!call_.admits(Q::id(*found))) {
      error = vl::kNonMatchingRecordFound;
    }
    if (!error.empty()) {
      auto op = fail(error);
      co_return co_await std::move(op);
    }
    auto push_op = push(std::move(*found));
    if (!co_await std::move(push_op)) co_return false;
    auto op = finish();
    co_return co_await std::move(op);
  }
  if (!call_.more || !options_.enumerate) {
    auto op = fail(call_.more ? vl::kEnumerationNotSupported : vl::kExpectedMore);
    co_return co_await std::move(op);
  }
  std::uint32_t cursor = 0;
  for (std::size_t pages = 0; pages < kMaxPages; ++pages) {
    std::string source;
    auto ask_op = ask(Q::page(cursor), &source);
    auto page = model::answer_as<model::Page<Record>>(co_await std::move(ask_op));
    if (!page) {
      auto op = fail(error_of(page.error(), true));
      co_return co_await std::move(op);
    }
    if (!left_out(source)) {
      for (Record& r : page->records) {
        if (!call_.admits(Q::id(r))) continue;
        auto op = push(std::move(r));
        if (!co_await std::move(op)) co_return false;
      }
    }
    if (!page->more) break;
    cursor = page->next_cursor;
  }
  auto op = finish();
  co_return co_await std::move(op);
}

// The groups that list `user`: fastid's initgroups answer, each gid named by
// its group's record (groups of left-out directories skipped).
asio::awaitable<bool> Call::memberships_of_user(const std::string& user) {
  auto ask_op = ask(Query::initgroups(user), nullptr);
  core::Result<model::Gids> gids = model::answer_as<model::Gids>(co_await std::move(ask_op));
  if (!gids) {
    auto op = fail(error_of(gids.error(), false));
    co_return co_await std::move(op);
  }
  for (std::uint32_t gid : *gids) {
    if (!wants_more()) break;
    std::string source;
    auto group_op = ask(Query::group_by_gid(gid), &source);
    core::Result<model::Group> group = model::answer_as<model::Group>(co_await std::move(group_op));
    if (!group) {
      if (group.error().code() == core::Code::kNotFound) continue;  // a gid without a group: no name to give
      auto op = fail(error_of(group.error(), false));
      co_return co_await std::move(op);
    }
    if (left_out(source)) continue;
    auto op = push(Membership{user, std::move(group->name)});
    if (!co_await std::move(op)) co_return false;
  }
  auto op = finish();
  co_return co_await std::move(op);
}

asio::awaitable<bool> Call::memberships() {
  const std::optional<std::string>& user = call_.name;
  const std::optional<std::string>& group_name = call_.other_name;
  if (user && !group_name) {
    auto op = memberships_of_user(*user);
    co_return co_await std::move(op);
  }
  if (group_name) {
    std::string source;
    auto ask_op = ask(Query::group_by_name(*group_name), &source);
    core::Result<model::Group> group = model::answer_as<model::Group>(co_await std::move(ask_op));
    if (!group || left_out(source)) {
      auto op = fail(group ? vl::kNoRecordFound : error_of(group.error(), false));
      co_return co_await std::move(op);
    }
    for (std::string& member : group->members) {
      if (user && member != *user) continue;
      auto op = push(Membership{std::move(member), group->name});
      if (!co_await std::move(op)) co_return false;
    }
    auto op = finish();
    co_return co_await std::move(op);
  }
  if (!call_.more || !options_.enumerate) {
    auto op = fail(call_.more ? vl::kEnumerationNotSupported : vl::kExpectedMore);
    co_return co_await std::move(op);
  }
  std::uint32_t cursor = 0;
  for (std::size_t pages = 0; pages < kMaxPages; ++pages) {
    std::string source;
    auto ask_op = ask(Query::groups_page(cursor, kPageRecords), &source);
    auto page = model::answer_as<model::Page<model::Group>>(co_await std::move(ask_op));
    if (!page) {
      auto op = fail(error_of(page.error(), true));
      co_return co_await std::move(op);
    }
    if (!left_out(source)) {
      for (model::Group& g : page->records) {
        for (std::string& member : g.members) {
          auto op = push(Membership{std::move(member), g.name});
          if (!co_await std::move(op)) co_return false;
        }
      }
    }
    if (!page->more) break;
    cursor = page->next_cursor;
  }
  auto op = finish();
  co_return co_await std::move(op);
}

// Reads what has arrived without waiting, at most `want` bytes, onto `in`.
// False on EOF or an error.
bool read_available(Server::Connection& conn, std::string& in, std::size_t want) {
  std::array<char, 4096> chunk;
  while (want > 0) {
    asio::error_code ec;
    const std::size_t n = conn.socket.read_some(asio::buffer(chunk.data(), std::min(chunk.size(), want)), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return true;
    if (ec) return false;
    in.append(chunk.data(), n);
    want -= n;
    if (n < chunk.size()) return true;
  }
  return true;
}

}  // namespace

asio::awaitable<void> serve_varlink_connection(Server& server, std::shared_ptr<Server::Connection> conn,
                                               std::shared_ptr<const VarlinkOptions> options) {
  // Received and not yet answered: at most one message and its NUL beyond
  // what is being answered (a pipelined call waits here).
  std::string in;
  bool protocol_error = false;
  {
    asio::error_code ignored;
    conn->socket.non_blocking(true, ignored);
  }
  while (!server.stopping()) {
    const std::size_t nul = in.find('\0');
    if (nul == std::string::npos) {
      if (in.size() > vl::kMaxMessage) {  // no NUL within the limit: not a Varlink peer
        ++server.mutable_stats().varlink_malformed;
        protocol_error = true;
        break;
      }
      // Waiting for a call (idle timeout) or for the rest of one (stall timeout).
      conn->busy = !in.empty();
      conn->set_deadline(Clock::now() + (in.empty() ? server.idle_timeout_of(*conn) : server.limits().stall_timeout));
      auto wait = conn->socket.async_wait(asio::socket_base::wait_read, kUseTuple);
      auto [ec] = co_await std::move(wait);
      if (ec || !conn->socket.is_open() || !read_available(*conn, in, vl::kMaxMessage + 1 - in.size())) {
        protocol_error = conn->timed_out && !in.empty();
        break;
      }
      continue;
    }
    conn->busy = true;
    const std::string message = in.substr(0, nul);
    in.erase(0, nul + 1);
    ++server.mutable_stats().varlink_calls;
    auto call = vl::decode_call(message);
    if (!call && call.error().fatal) {
      // Not a Varlink call at all: nothing can be answered, and what follows
      // cannot be trusted to be framed the way the peer meant.
      ++server.mutable_stats().varlink_malformed;
      protocol_error = true;
      break;
    }
    bool written = true;
    if (!call) {
      const vl::CallError& e = call.error();
      conn->set_deadline(Clock::now() + server.limits().stall_timeout);
      const std::string reply = vl::error_reply(e.error, e.key, e.value);
      auto write = asio::async_write(conn->socket, asio::buffer(reply), kUseTuple);
      auto [ec, n] = co_await std::move(write);
      written = !ec;
    } else {
      Call answering(server, *conn, *options, *call);
      auto op = answering.answer();
      written = co_await std::move(op);
    }
    if (!written) {
      protocol_error = conn->timed_out;
      break;
    }
  }
  if (conn->timed_out && !conn->busy) {
    ++server.mutable_stats().closed_idle;
  } else if (protocol_error) {
    ++server.mutable_stats().closed_protocol;
  }
  conn->close();
  server.on_connection_closed(conn->id);
}

}  // namespace fastid::server
