#include "server/store_front.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include <type_traits>

#include "core/log.h"

namespace fastid::server {

// Every awaitable below is created in its own statement and then awaited:
// GCC 12 destroys some temporaries of a co_await full-expression twice.

using store::Map;
using store::Millis;
using Gids = std::vector<std::uint32_t>;

namespace {

Millis ms(std::chrono::milliseconds d) { return d.count(); }

// The provider could not answer at all (as opposed to "no such entry" or an
// overloaded pool): these make it offline.
bool means_offline(const core::Status& st) {
  return st.code() == core::Code::kUnavailable || st.code() == core::Code::kTimeout;
}

}  // namespace

StoreFront::StoreFront(asio::any_io_executor executor, std::shared_ptr<store::Store> store,
                       std::shared_ptr<pool::ProviderPool> pool, StoreFrontOptions options)
    : executor_(executor),
      store_(std::move(store)),
      pool_(std::move(pool)),
      options_(options),
      probe_timer_(executor),
      refresh_timer_(executor) {}

StoreFront::~StoreFront() = default;

void StoreFront::start() { arm_refresh(); }

void StoreFront::stop() {
  stopping_ = true;
  probe_timer_.cancel();
  refresh_timer_.cancel();
  refresh_queue_.clear();
}

asio::awaitable<core::Result<model::User>> StoreFront::user_by_name(std::string name) {
  auto op = lookup<model::User>(Query{Map::kUserByName, std::move(name), 0});
  co_return co_await std::move(op);
}

asio::awaitable<core::Result<model::User>> StoreFront::user_by_uid(std::uint32_t uid) {
  auto op = lookup<model::User>(Query{Map::kUserByUid, {}, uid});
  co_return co_await std::move(op);
}

asio::awaitable<core::Result<model::Group>> StoreFront::group_by_name(std::string name) {
  auto op = lookup<model::Group>(Query{Map::kGroupByName, std::move(name), 0});
  co_return co_await std::move(op);
}

asio::awaitable<core::Result<model::Group>> StoreFront::group_by_gid(std::uint32_t gid) {
  auto op = lookup<model::Group>(Query{Map::kGroupByGid, {}, gid});
  co_return co_await std::move(op);
}

asio::awaitable<core::Result<Gids>> StoreFront::initgroups(std::string user) {
  auto op = lookup<Gids>(Query{Map::kInitgroups, std::move(user), 0});
  co_return co_await std::move(op);
}

template <typename T>
asio::awaitable<core::Result<T>> StoreFront::lookup(Query q) {
  const Millis now = store::now_millis();
  std::optional<store::Record<T>> rec;
  if (auto stored = read<T>(q)) {
    rec = std::move(*stored);
  } else if (!store_error_logged_) {
    // The store is a cache: a failing read is a miss, said once.
    store_error_logged_ = true;
    core::log_error("provider " + name() + ": " + stored.error().to_string() +
                    " (answering from the provider)");
  }
  if (rec && rec->fresh(now)) {
    ++counters_.hits;
    if (rec->negative) {
      ++counters_.negative_hits;
      co_return core::error(core::Status::not_found(describe(q)));
    }
    if (!offline_ && options_.refresh_ahead.count() > 0 &&
        rec->expires - now < ms(options_.refresh_ahead)) {
      queue_refresh(q);
    }
    co_return std::move(rec->value);
  }
  if (offline_) co_return offline_answer(rec, q, now);

  ++counters_.misses;
  auto op = ask<T>(q);
  core::Result<T> r = co_await std::move(op);
  const Millis after = store::now_millis();
  if (r) {
    if (offline_) go_online();
    write(q, *r, after);
    co_return r;
  }
  if (r.error().code() == core::Code::kNotFound) {
    if (offline_) go_online();
    write_negative(q, after);
    co_return r;
  }
  // The provider could not answer this one: one entry that hangs or crashes
  // its worker, or the whole directory gone? A probe tells (suspect). Either
  // way this request gets an expired record if one is young enough, else the
  // provider's own error.
  if (means_offline(r.error())) suspect();
  // Busy or another failure of the moment: an expired record is still a
  // better answer than an error, within offline_max_age.
  if (rec && !rec->negative && after - rec->fetched <= ms(options_.offline_max_age)) {
    ++counters_.stale;
    co_return std::move(rec->value);
  }
  co_return r;
}

template <typename T>
core::Result<T> StoreFront::offline_answer(const std::optional<store::Record<T>>& rec,
                                           const Query& q, Millis now) {
  if (rec && !rec->negative && now - rec->fetched <= ms(options_.offline_max_age)) {
    ++counters_.stale;
    return rec->value;
  }
  ++counters_.unavailable;
  return core::error(core::Status::unavailable("provider " + name() + " is offline (" +
                                               offline_cause_ +
                                               ") and the store has no answer for " + describe(q)));
}

template <typename T>
core::Result<std::optional<store::Record<T>>> StoreFront::read(const Query& q) {
  const std::string& p = name();
  if constexpr (std::is_same_v<T, model::User>) {
    return q.map == Map::kUserByName ? store_->user_by_name(p, q.name)
                                     : store_->user_by_uid(p, q.id);
  } else if constexpr (std::is_same_v<T, model::Group>) {
    return q.map == Map::kGroupByName ? store_->group_by_name(p, q.name)
                                      : store_->group_by_gid(p, q.id);
  } else {
    return store_->initgroups(p, q.name);
  }
}

template <typename T>
asio::awaitable<core::Result<T>> StoreFront::ask(Query q) {
  std::shared_ptr<pool::ProviderPool> pool = pool_;  // alive across the await
  if constexpr (std::is_same_v<T, model::User>) {
    if (q.map == Map::kUserByName) {
      auto op = pool->lookup(model::Query::user_by_name(std::move(q.name)));
      co_return model::answer_as<model::User>(co_await std::move(op));
    }
    auto op = pool->lookup(model::Query::user_by_uid(q.id));
    co_return model::answer_as<model::User>(co_await std::move(op));
  } else if constexpr (std::is_same_v<T, model::Group>) {
    if (q.map == Map::kGroupByName) {
      auto op = pool->lookup(model::Query::group_by_name(std::move(q.name)));
      co_return model::answer_as<model::Group>(co_await std::move(op));
    }
    auto op = pool->lookup(model::Query::group_by_gid(q.id));
    co_return model::answer_as<model::Group>(co_await std::move(op));
  } else {
    auto op = pool->lookup(model::Query::initgroups(std::move(q.name)));
    co_return model::answer_as<model::Gids>(co_await std::move(op));
  }
}

template <typename T>
void StoreFront::write(const Query& q, const T& value, Millis now) {
  const Millis expires = now + ms(options_.ttl);
  core::Status st;
  if constexpr (std::is_same_v<T, model::User>) {
    st = store_->put_user(name(), value, now, expires);
  } else if constexpr (std::is_same_v<T, model::Group>) {
    st = store_->put_group(name(), value, now, expires);
  } else {
    st = store_->put_initgroups(name(), q.name, value, now, expires);
  }
  // A record that cannot be stored is still answered; the store says why.
  if (!st)
    core::log_warning("provider " + name() + ": " + describe(q) + " not stored: " + st.to_string());
}

void StoreFront::write_negative(const Query& q, Millis now) {
  if (options_.negative_ttl.count() <= 0) return;
  const std::string key =
      q.map == Map::kUserByUid || q.map == Map::kGroupByGid ? store::Store::id_key(q.id) : q.name;
  core::Status st = store_->put_negative(name(), q.map, key, now, now + ms(options_.negative_ttl));
  if (!st)
    core::log_warning("provider " + name() + ": " + describe(q) + " not stored: " + st.to_string());
}

std::string StoreFront::describe(const Query& q) const {
  switch (q.map) {
    case Map::kUserByName:
      return "user " + q.name;
    case Map::kUserByUid:
      return "uid " + std::to_string(q.id);
    case Map::kGroupByName:
      return "group " + q.name;
    case Map::kGroupByGid:
      return "gid " + std::to_string(q.id);
    case Map::kInitgroups:
      return "the groups of " + q.name;
  }
  return "?";
}

// ---- Offline mode -------------------------------------------------------------

void StoreFront::go_offline(const core::Status& cause) {
  if (offline_) return;
  offline_ = true;
  offline_since_ = std::chrono::steady_clock::now();
  offline_cause_ = cause.to_string();
  ++counters_.offline_transitions;
  core::log_warning("provider " + name() + " is offline: " + offline_cause_ +
                    "; answering from the store (records fetched up to " +
                    std::to_string(options_.offline_max_age.count() / 1000) +
                    " s ago), probing every " + std::to_string(options_.probe_interval.count()) +
                    " ms");
  arm_probe();
}

void StoreFront::go_online() {
  if (!offline_) return;
  offline_ = false;
  probe_timer_.cancel();
  const auto down = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - offline_since_);
  core::log_info("provider " + name() + " is back online after " + std::to_string(down.count()) +
                 " ms offline");
  offline_cause_.clear();
}

void StoreFront::suspect() {
  if (stopping_ || offline_ || probing_) return;
  probing_ = true;
  auto op = probe(shared_from_this());
  asio::co_spawn(executor_, std::move(op), asio::detached);
}

void StoreFront::arm_probe() {
  if (stopping_ || !offline_) return;
  probe_timer_.expires_after(options_.probe_interval);
  std::weak_ptr<StoreFront> weak = weak_from_this();
  probe_timer_.async_wait([weak](const asio::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopping_ || !self->offline_ || self->probing_) return;
    self->probing_ = true;
    auto op = probe(self);
    asio::co_spawn(self->executor_, std::move(op), asio::detached);
  });
}

// One question the provider can answer whatever its data: any answer, "no
// such uid" included, means it is reachable. Online, a probe confirms a
// suspicion (a failed lookup) before the provider is declared offline, so
// one entry that hangs or crashes a worker does not take the others down;
// offline, it is the timer's periodic try.
asio::awaitable<void> StoreFront::probe(std::shared_ptr<StoreFront> self) {
  ++self->counters_.probes;
  auto op = self->pool_->lookup(model::Query::user_by_uid(0));
  core::Result<model::Answer> r = co_await std::move(op);
  self->probing_ = false;
  if (r || r.error().code() == core::Code::kNotFound) {
    self->go_online();
  } else if (!means_offline(r.error())) {
    self->arm_probe();  // busy or stopping: no verdict; offline stays offline
  } else if (!self->offline_) {
    self->go_offline(r.error());
  } else {
    self->arm_probe();
  }
}

// ---- Refresh ahead ------------------------------------------------------------

void StoreFront::queue_refresh(const Query& q) {
  if (stopping_ || refresh_queue_.size() >= options_.max_refresh_queue) return;
  if (!refresh_queued_.insert(q).second) return;  // queued or in flight already
  refresh_queue_.push_back(q);
}

void StoreFront::arm_refresh() {
  if (stopping_) return;
  refresh_timer_.expires_after(options_.refresh_tick);
  std::weak_ptr<StoreFront> weak = weak_from_this();
  refresh_timer_.async_wait([weak](const asio::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopping_) return;
    while (!self->offline_ && !self->refresh_queue_.empty() &&
           self->refreshes_in_flight_ < self->options_.max_refreshes_in_flight) {
      Query q = std::move(self->refresh_queue_.front());
      self->refresh_queue_.pop_front();
      ++self->refreshes_in_flight_;
      auto op = refresh(self, std::move(q));
      asio::co_spawn(self->executor_, std::move(op), asio::detached);
    }
    self->arm_refresh();
  });
}

asio::awaitable<void> StoreFront::refresh(std::shared_ptr<StoreFront> self, Query q) {
  auto op = self->refresh_one(q);
  core::Status st = co_await std::move(op);
  --self->refreshes_in_flight_;
  self->refresh_queued_.erase(q);
  if (!st)
    core::log_debug("provider " + self->name() + ": refresh of " + self->describe(q) + ": " +
                    st.to_string());
}

asio::awaitable<core::Status> StoreFront::refresh_one(Query q) {
  // The same as a miss, without anyone waiting: the answer is written back,
  // "no such entry" replaces the record, and an outage makes the provider
  // offline (the record in the store stays as it was).
  auto answer = [&](auto r) -> core::Status {
    const Millis now = store::now_millis();
    if (r) {
      write(q, *r, now);
      ++counters_.refreshed;
      return core::Status::ok();
    }
    if (r.error().code() == core::Code::kNotFound) {
      write_negative(q, now);
      return core::Status::ok();
    }
    if (means_offline(r.error())) suspect();
    return r.error();
  };
  if (q.map == Map::kUserByName || q.map == Map::kUserByUid) {
    auto op = ask<model::User>(q);
    auto r = co_await std::move(op);
    co_return answer(std::move(r));
  }
  if (q.map == Map::kGroupByName || q.map == Map::kGroupByGid) {
    auto op = ask<model::Group>(q);
    auto r = co_await std::move(op);
    co_return answer(std::move(r));
  }
  auto op = ask<Gids>(q);
  auto r = co_await std::move(op);
  co_return answer(std::move(r));
}

std::vector<std::pair<std::string, std::string>> StoreFront::status_items() const {
  const std::string p = "store." + name() + ".";
  std::vector<std::pair<std::string, std::string>> out = {
      {p + "state", offline_ ? "offline" : "online"},
      {p + "hits", std::to_string(counters_.hits)},
      {p + "negative_hits", std::to_string(counters_.negative_hits)},
      {p + "misses", std::to_string(counters_.misses)},
      {p + "stale_answers", std::to_string(counters_.stale)},
      {p + "unavailable", std::to_string(counters_.unavailable)},
      {p + "refreshed", std::to_string(counters_.refreshed)},
      {p + "refresh_queue", std::to_string(refresh_queue_.size())},
      {p + "offline_transitions", std::to_string(counters_.offline_transitions)},
      {p + "probes", std::to_string(counters_.probes)},
  };
  if (offline_) {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - offline_since_);
    out.emplace_back(p + "offline_seconds", std::to_string(secs.count()));
    out.emplace_back(p + "offline_cause", offline_cause_);
  }
  return out;
}

}  // namespace fastid::server
