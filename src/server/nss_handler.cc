// NssHandler: the lookup opcodes answered from the directories (nss_handler.h).

#include "core/gcc12_coroutines.h"  // first: its rules and pragmas
#include "server/nss_handler.h"

#include <asio/post.hpp>
#include <asio/this_coro.hpp>

#include <algorithm>
#include <chrono>

#include "core/log.h"
#include "core/trace.h"

namespace fastid::server {

using model::Answer;
using model::Query;
using proto::Opcode;
using proto::WireStatus;

// Every awaitable below is built in its own statement, then awaited
// (core/gcc12_coroutines.h, rule 1).

namespace {

// Enumeration cursors carry the directory's index in their top byte and the
// provider's own cursor below it, so paging walks the directories in order.
constexpr std::uint32_t kCursorShift = 24;
constexpr std::uint32_t kInnerMask = (1u << kCursorShift) - 1;

// Error texts name files, URIs, filters and the directory's own messages:
// only root reads them (it also reads them in the log). Every other caller —
// a non-root uid, any network peer — gets the status with a fixed text.
proto::Bytes error_reply(const proto::Request& req, const core::Status& st, bool details) {
  const WireStatus status = proto::to_wire(st.code());
  if (details || st.message().empty()) {
    return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), req.request_id, status,
                                     st.message());
  }
  return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), req.request_id, status,
                                   std::string(proto::wire_status_name(status)) + " (details for root only)");
}

// The paging fields of a page answer, whichever records it holds.
struct PageView {
  std::uint32_t* next_cursor = nullptr;
  bool* more = nullptr;
  bool empty = true;
};

PageView page_view(Answer& answer) {
  return std::visit(
      [](auto& v) -> PageView {
        if constexpr (requires { v.records; v.more; }) {
          return {&v.next_cursor, &v.more, v.records.empty()};
        } else {
          return {};
        }
      },
      answer);
}

// One page of an enumeration across the directories, in order: the cursor
// names the directory and that directory's own cursor; an empty last page of
// one directory moves on to the next.
asio::awaitable<core::Result<Answer>> walk_pages(Directories directories, Query q, std::string* source,
                                                 std::size_t* answered_by) {
  std::uint32_t index = q.cursor >> kCursorShift;
  Query ask = q;
  ask.cursor = q.cursor & kInnerMask;
  Answer out = q.kind == model::Kind::kUsersPage ? Answer(model::Page<model::User>{})
                                                 : Answer(model::Page<model::Group>{});
  while (index < directories.size()) {
    auto op = directories[index]->lookup(ask);
    core::Result<Answer> r = co_await std::move(op);
    if (!r) co_return r;
    if (core::Status st = model::check_answer(q, *r); !st) {
      co_return core::error(st.with_context("provider " + directories[index]->name()));
    }
    out = std::move(*r);
    if (source != nullptr) *source = directories[index]->name();
    *answered_by = index;
    PageView page = page_view(out);
    if (*page.more) {
      *page.next_cursor = (index << kCursorShift) | (*page.next_cursor & kInnerMask);
      break;
    }
    ++index;
    ask.cursor = 0;
    *page.next_cursor = index << kCursorShift;
    *page.more = index < directories.size();
    if (!page.empty) break;
  }
  co_return out;
}

}  // namespace

asio::awaitable<ReplyFrame> NssHandler::handle(proto::Request req, core::PeerCred peer) {
  ++requests_;
  // Network peers are nobody (uid -1), never root.
  const bool details = peer.is_root();
  if (std::optional<Query> query = proto::query_of(req)) {
    const auto started = std::chrono::steady_clock::now();
    // A large answer of a record version already encoded: this requester's
    // header and the shared payload, no lookup, no copy.
    if (std::shared_ptr<const proto::Bytes> payload =
            shared_.find(*query, [&](std::size_t n) { return version_of(*query, n); })) {
      metrics_.record(query->kind, LookupResult::kFound, std::chrono::steady_clock::now() - started);
      proto::Bytes header = proto::encode_answer_header(req.request_id, query->kind, payload->size());
      co_return ReplyFrame(std::move(header), std::move(payload));
    }
    // The versions are read before the lookup and again after it: data that
    // changes during it makes the entry unusable at once, never the other
    // way round. A version that costs a store read is taken only for a
    // query whose last answer was large (small answers never pay for it).
    const Directories asked = directories_;
    const bool large = shared_.known_large(*query);
    std::vector<std::uint64_t> before;
    for (const DirectoryPtr& d : asked) before.push_back(large ? d->answer_version(*query) : d->data_generation());
    const std::uint64_t invalidations = publisher_ ? publisher_->invalidations() : 0;
    std::size_t answered_by = asked.size();
    auto op = lookup(*query, nullptr, &answered_by);
    core::Result<Answer> r = co_await std::move(op);
    if (r) {
      // A large answer goes out as this requester's header and a payload
      // buffer of its own (reply_frame.h), kept for the next requests when
      // every directory asked up to the one that answered can tell when its
      // answer changes, had the same version before and after, and the
      // directories are the same. Memberships are a union over every
      // directory: never kept.
      proto::Bytes whole = proto::encode_answer(req.request_id, *query, *r);
      if (whole.size() >= proto::kHeaderSize + shared_.min_payload()) {
        shared_.note_large(*query);
        auto payload = std::make_shared<const proto::Bytes>(whole.begin() + proto::kHeaderSize, whole.end());
        if (query->kind != model::Kind::kInitgroups && answered_by < asked.size() && asked == directories_) {
          before.resize(answered_by + 1);
          std::vector<std::uint64_t> after;
          for (std::size_t i = 0; i <= answered_by; ++i) after.push_back(asked[i]->answer_version(*query));
          if (after == before && std::find(after.begin(), after.end(), 0) == after.end()) {
            shared_.keep(*query, SharedReplies::Version{std::move(after), invalidations}, payload);
          }
        }
        whole.resize(proto::kHeaderSize);  // this requester's header
        co_return ReplyFrame(std::move(whole), std::move(payload));
      }
      co_return whole;
    }
    ++(r.error().code() == core::Code::kNotFound ? not_found_ : errors_);
    co_return error_reply(req, r.error(), details);
  }
  // The router sends lookups only; ping, status and admin requests are the admin handler's.
  ++errors_;
  co_return proto::encode_error_reply(static_cast<std::uint16_t>(req.opcode), req.request_id,
                                      WireStatus::kUnknownOpcode, "unknown opcode");
}

std::optional<SharedReplies::Version> NssHandler::version_of(const Query& query, std::size_t n) const {
  if (n > directories_.size()) return std::nullopt;
  SharedReplies::Version v;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t g = directories_[i]->answer_version(query);
    if (g == 0) return std::nullopt;
    v.generations.push_back(g);
  }
  v.invalidations = publisher_ ? publisher_->invalidations() : 0;
  return v;
}

void NssHandler::set_directories(Directories directories) {
  directories_ = std::move(directories);
  // Other directories: nothing encoded from the old ones is answered again.
  shared_.clear();
}

asio::awaitable<core::Result<Answer>> NssHandler::lookup(Query q, std::string* source, std::size_t* answered_by) {
  const model::Kind kind = q.kind;
  const auto started = std::chrono::steady_clock::now();
  std::size_t ignored = 0;
  auto op = lookup_in_order(std::move(q), source, answered_by != nullptr ? answered_by : &ignored);
  core::Result<Answer> r = co_await std::move(op);
  metrics_.record(kind, r ? LookupResult::kFound : lookup_result_of(r.error().code()),
                  std::chrono::steady_clock::now() - started);
  co_return r;
}

asio::awaitable<core::Result<Answer>> NssHandler::lookup_in_order(Query q, std::string* source,
                                                                  std::size_t* answered_by) {
  Directories directories = directories_;  // kept alive across the awaits
  if (model::is_page(q.kind)) {
    auto op = walk_pages(std::move(directories), std::move(q), source, answered_by);
    co_return co_await std::move(op);
  }
  // Memberships are the union over every directory that knows the user: a
  // local group may list a directory user.
  const bool merge = q.kind == model::Kind::kInitgroups;
  std::optional<Answer> found;
  core::Status failure;
  for (std::size_t i = 0; i < directories.size(); ++i) {
    const DirectoryPtr& d = directories[i];
    auto op = d->lookup(q);
    core::Result<Answer> r = co_await std::move(op);
    if (!r) {
      // An unavailable directory is remembered: a name nobody knows is then
      // "try again", not "no such user".
      if (r.error().code() != core::Code::kNotFound && failure.is_ok()) failure = r.error();
      continue;
    }
    if (core::Status st = model::check_answer(q, *r); !st) {
      if (failure.is_ok()) failure = st.with_context("provider " + d->name());
      continue;
    }
    if (source != nullptr) *source = d->name();
    *answered_by = i;
    if (!merge) {
      found = std::move(*r);
      break;
    }
    if (!found) found = model::Gids{};
    auto& gids = std::get<model::Gids>(*found);
    for (auto g : std::get<model::Gids>(*r)) {
      if (std::find(gids.begin(), gids.end(), g) == gids.end()) gids.push_back(g);
    }
  }
  // A partial list of memberships would silently drop a user's groups: "try again".
  if (found && (!merge || failure.is_ok())) {
    if (publisher_) {
      const asio::any_io_executor executor = co_await asio::this_coro::executor;
      publish_later(executor, q, *found);
    }
    co_return std::move(*found);
  }
  if (!failure.is_ok()) co_return core::error(failure);
  // Only a definite "no such entry" is published; "try again" never is.
  if (publisher_) {
    const asio::any_io_executor executor = co_await asio::this_coro::executor;
    publish_later(executor, q, std::nullopt);
  }
  co_return core::error(core::Status::not_found(""));
}

void NssHandler::publish_later(const asio::any_io_executor& executor, const Query& q, std::optional<Answer> answer) {
  pending_publish_.emplace_back(q, std::move(answer));
  if (pending_publish_.size() > 1) return;  // a handler is posted already
  // Posted: it runs once the handler that made this answer has returned to
  // the loop, i.e. after the reply was handed to the socket.
  asio::post(executor, [this] { publish_pending(); });
}

void NssHandler::publish_pending() {
  auto batch = std::move(pending_publish_);
  pending_publish_.clear();
  for (const auto& [q, answer] : batch) {
    if (publisher_ == nullptr) break;
    if (answer) {
      publisher_->publish(q, *answer);
    } else {
      publisher_->publish_negative(q);
    }
    if (core::trace_enabled()) core::trace_stage("published", model::describe(q));
  }
}

StatusItems NssHandler::status_items() const {
  StatusItems items;
  items.emplace_back("requests.not_found", std::to_string(not_found_));
  items.emplace_back("requests.errors", std::to_string(errors_));
  if (publisher_) {
    for (auto& kv : publisher_->stats()) items.push_back(std::move(kv));
  }
  for (auto& kv : shared_.status_items()) items.push_back(std::move(kv));
  for (const DirectoryPtr& d : directories_) {
    for (auto& kv : d->status_items()) items.push_back(std::move(kv));
  }
  return items;
}

}  // namespace fastid::server
