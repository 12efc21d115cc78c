// StoredDirectory: the persistent store in front of another directory (stored_directory.h).
#include "core/gcc12_coroutines.h"

#include "server/stored_directory.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include "core/log.h"
#include "core/trace.h"

namespace fastid::server {

// Every awaitable below is built in its own statement, then awaited
// (core/gcc12_coroutines.h, rule 1).

using model::Answer;
using model::Query;
using store::Millis;

namespace {

Millis ms(std::chrono::milliseconds d) { return d.count(); }

}  // namespace

StoredDirectory::StoredDirectory(asio::any_io_executor executor, std::shared_ptr<store::Store> store,
                                 DirectoryPtr behind, StoredDirectoryOptions options)
    : WrappingDirectory(std::move(behind)),
      executor_(executor),
      store_(std::move(store)),
      options_(options),
      probe_timer_(executor),
      refresh_timer_(executor) {}

StoredDirectory::~StoredDirectory() = default;

void StoredDirectory::start() { arm_refresh(); }

void StoredDirectory::stop() {
  stopping_ = true;
  probe_timer_.cancel();
  refresh_timer_.cancel();
  refresh_queue_.clear();
  behind_->stop();
}

asio::awaitable<core::Result<Answer>> StoredDirectory::lookup(Query q) {
  if (model::is_page(q.kind)) {
    if (offline_) co_return core::error(core::Status::unavailable("provider " + name() + " is offline"));
    auto op = ask(std::move(q));
    co_return co_await std::move(op);
  }
  const Millis now = store::now_millis();
  Stored rec = read(q);
  if (core::trace_enabled()) core::trace_stage("store_read", model::describe(q));
  if (rec && rec->fresh(now)) {
    ++counters_.hits;
    if (rec->negative) {
      ++counters_.negative_hits;
      co_return core::error(core::Status::not_found(model::describe(q)));
    }
    if (!offline_ && options_.refresh_ahead.count() > 0 && rec->expires - now < ms(options_.refresh_ahead)) {
      queue_refresh(q);
    }
    co_return std::move(rec->value);
  }
  if (offline_) co_return offline_answer(rec, q, now);

  ++counters_.misses;
  const bool stale_usable = rec && !rec->negative && now - rec->fetched <= ms(options_.offline_max_age);
  if (stale_usable && options_.stale_after.count() > 0) {
    // An expired record stands in for the directory if it has not answered
    // within stale_after: a hung directory, or a pool's timeout, retry and
    // backoff, may take longer than the client waits (libfastid: 5 s), and the
    // store has an answer now. The directory's answer, when it comes, is
    // stored as a miss's is (ask_and_settle).
    auto race = std::make_shared<Race>(executor_);
    race->timer.expires_after(options_.stale_after);
    auto answer = ask_and_settle(shared_from_this(), q, race);
    asio::co_spawn(executor_, std::move(answer), asio::detached);
    if (!race->result) {
      asio::error_code ec;
      auto wait = race->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      co_await std::move(wait);
    }
    if (!race->result) {
      ++counters_.stale;
      ++counters_.stale_slow;
      co_return std::move(rec->value);
    }
    core::Result<Answer> r = std::move(*race->result);
    if (r || r.error().code() == core::Code::kNotFound) co_return r;
    // The directory failed in time: the expired record is still the better answer.
    ++counters_.stale;
    co_return std::move(rec->value);
  }
  auto op = ask(q);
  core::Result<Answer> r = co_await std::move(op);
  const Millis after = store::now_millis();
  settle(q, r, after);
  if (r || r.error().code() == core::Code::kNotFound) co_return r;
  // Busy or another failure of the moment: an expired record is still a
  // better answer than an error, within offline_max_age.
  if (rec && !rec->negative && rec->fetched_within(after, ms(options_.offline_max_age))) {
    ++counters_.stale;
    co_return std::move(rec->value);
  }
  co_return r;
}

// What a miss's answer does to the store and the offline state: an answer or
// "no such entry" is written back (and puts an offline directory online); a
// failure that may mean an outage is settled by a probe (suspect): one entry
// that hangs or crashes its provider worker, or the whole directory gone?
void StoredDirectory::settle(const Query& q, const core::Result<Answer>& r, Millis after) {
  if (r || r.error().code() == core::Code::kNotFound) {
    if (offline_) go_online();
    queue_write(q, r ? std::optional<Answer>(*r) : std::nullopt, after);
    return;
  }
  if (means_offline(r.error())) suspect();
}

// The directory's answer to a lookup that an expired record may stand in for:
// settled as a miss's, then handed to the lookup if it still waits (the timer
// is its wake-up).
asio::awaitable<void> StoredDirectory::ask_and_settle(std::shared_ptr<StoredDirectory> self, Query q,
                                                      std::shared_ptr<Race> race) {
  auto op = self->ask(q);
  core::Result<Answer> r = co_await std::move(op);
  self->settle(q, r, store::now_millis());
  race->result = std::move(r);
  race->timer.cancel();
}

asio::awaitable<core::Result<Answer>> StoredDirectory::ask(Query q) {
  DirectoryPtr behind = behind_;  // alive across the await, whatever a reload does
  auto op = behind->lookup(std::move(q));
  co_return co_await std::move(op);
}

core::Result<Answer> StoredDirectory::offline_answer(const Stored& rec, const Query& q, Millis now) {
  if (rec && !rec->negative && rec->fetched_within(now, ms(options_.offline_max_age))) {
    ++counters_.stale;
    return rec->value;
  }
  ++counters_.unavailable;
  return core::error(core::Status::unavailable("provider " + name() + " is offline (" + offline_cause_ +
                                               ") and the store has no answer for " + model::describe(q)));
}

StoredDirectory::Stored StoredDirectory::read(const Query& q) {
  if (!unconfirmed_.empty()) {
    const std::uint64_t done = writer_->completed();
    while (!unconfirmed_.empty() && unconfirmed_.front().first <= done) unconfirmed_.pop_front();
    for (auto it = unconfirmed_.rbegin(); it != unconfirmed_.rend(); ++it) {
      const store::StoreWriter::Write& w = it->second;
      if (!(w.query == q)) continue;
      store::Record<Answer> rec;
      rec.negative = !w.answer;
      if (w.answer) rec.value = *w.answer;
      rec.fetched = w.fetched;
      rec.expires = w.expires;
      return rec;
    }
  }
  auto stored = store_->get(name(), q);
  if (stored) return std::move(*stored);
  if (!store_error_logged_) {
    // The store is a cache: a failing read is a miss, said once.
    store_error_logged_ = true;
    core::log_error("provider " + name() + ": " + stored.error().to_string() + " (answering from the provider)");
  }
  return std::nullopt;
}

store::StoreWriter::Write StoredDirectory::to_write(const Query& q, std::optional<Answer> answer, Millis now) const {
  const auto ttl = answer ? options_.ttl : options_.negative_ttl;
  return {name(), q, std::move(answer), now, now + ms(ttl)};
}

void StoredDirectory::hand_over(store::StoreWriter::Batch batch) {
  const std::size_t n = batch.size();
  store::StoreWriter::Batch kept = batch;
  if (writer_->submit(std::move(batch))) {
    const std::uint64_t id = writer_->submitted();  // loop-thread only submits: this batch's number
    for (auto& w : kept) unconfirmed_.emplace_back(id, std::move(w));
  } else {
    // A cache: the answer was given; the next lookup asks the directory again.
    core::log_warning("provider " + name() + ": the store's write queue is full, " + std::to_string(n) +
                      " answers not stored");
  }
}

void StoredDirectory::write(const Query& q, const Answer& answer, Millis now) {
  if (writer_) {
    store::StoreWriter::Batch one;
    one.push_back(to_write(q, answer, now));
    hand_over(std::move(one));
    return;
  }
  core::Status st = store_->put(name(), q, answer, now, now + ms(options_.ttl));
  // A record that cannot be stored is still answered; the store says why.
  if (!st)
    core::log_warning("provider " + name() + ": " + model::describe(q) + " not stored: " + st.to_string());
}

void StoredDirectory::queue_write(const Query& q, std::optional<Answer> answer, Millis now) {
  if (!answer && options_.negative_ttl.count() <= 0) return;
  pending_writes_.push_back({q, std::move(answer), now});
  if (pending_writes_.size() > 1) return;  // a flush is posted already
  // Posted: it runs once the handler that made this answer has returned to
  // the loop, i.e. after the reply was handed to the socket.
  asio::post(executor_, [self = shared_from_this()] { self->flush_writes(); });
}

void StoredDirectory::flush_writes() {
  std::vector<PendingWrite> batch = std::move(pending_writes_);
  pending_writes_.clear();
  if (writer_) {
    store::StoreWriter::Batch out;
    out.reserve(batch.size());
    for (PendingWrite& w : batch) out.push_back(to_write(w.query, std::move(w.answer), w.at));
    hand_over(std::move(out));
    return;
  }
  const core::Status st = store_->put_batch([&] {
    for (const PendingWrite& w : batch) {
      if (w.answer) {
        write(w.query, *w.answer, w.at);
      } else {
        write_negative(w.query, w.at);
      }
    }
  });
  if (!st) {
    core::log_warning("provider " + name() + ": " + std::to_string(batch.size()) +
                      " answers written together, some not stored: " + st.to_string());
  }
  if (core::trace_enabled()) {
    for (const PendingWrite& w : batch) core::trace_stage("store_written", model::describe(w.query));
  }
}

void StoredDirectory::write_negative(const Query& q, Millis now) {
  if (options_.negative_ttl.count() <= 0) return;
  if (writer_) {
    store::StoreWriter::Batch one;
    one.push_back(to_write(q, std::nullopt, now));
    hand_over(std::move(one));
    return;
  }
  core::Status st = store_->put_negative(name(), q, now, now + ms(options_.negative_ttl));
  if (!st)
    core::log_warning("provider " + name() + ": " + model::describe(q) + " not stored: " + st.to_string());
}

// ---- Offline mode -------------------------------------------------------------

void StoredDirectory::go_offline(const core::Status& cause) {
  if (offline_) return;
  offline_ = true;
  offline_since_ = std::chrono::steady_clock::now();
  offline_cause_ = cause.to_string();
  ++counters_.offline_transitions;
  core::log_warning("provider " + name() + " is offline: " + offline_cause_ +
                    "; answering from the store (records fetched up to " +
                    std::to_string(options_.offline_max_age.count() / 1000) + " s ago), probing every " +
                    std::to_string(options_.probe_interval.count()) + " ms");
  arm_probe();
}

void StoredDirectory::go_online() {
  if (!offline_) return;
  offline_ = false;
  probe_timer_.cancel();
  const auto down =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - offline_since_);
  core::log_info("provider " + name() + " is back online after " + std::to_string(down.count()) +
                 " ms offline");
  offline_cause_.clear();
}

void StoredDirectory::suspect() {
  if (stopping_ || offline_ || probing_) return;
  probing_ = true;
  auto op = probe(shared_from_this());
  asio::co_spawn(executor_, std::move(op), asio::detached);
}

void StoredDirectory::arm_probe() {
  if (stopping_ || !offline_) return;
  probe_timer_.expires_after(options_.probe_interval);
  std::weak_ptr<StoredDirectory> weak = weak_from_this();
  probe_timer_.async_wait([weak](const asio::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopping_ || !self->offline_ || self->probing_) return;
    self->probing_ = true;
    auto op = probe(self);
    asio::co_spawn(self->executor_, std::move(op), asio::detached);
  });
}

// The directory behind's probe (Directory::probe): one question it can
// answer whatever its data. Online, a probe confirms a suspicion (a failed
// lookup) before the directory is declared offline, so one entry that hangs
// or crashes a provider worker does not take the others down; offline, it is the
// timer's periodic try. A pooled directory sends it in the pool's
// authentication queue, so lookups that fill the pool cannot make it time out
// and fake an outage.
asio::awaitable<void> StoredDirectory::probe(std::shared_ptr<StoredDirectory> self) {
  ++self->counters_.probes;
  DirectoryPtr behind = self->behind_;  // alive across the await, whatever a reload does
  auto op = behind->probe();
  core::Status st = co_await std::move(op);
  self->probing_ = false;
  if (st.is_ok()) {
    self->go_online();
  } else if (!means_offline(st)) {
    self->arm_probe();  // busy or stopping: no verdict; offline stays offline
  } else if (!self->offline_) {
    self->go_offline(st);
  } else {
    self->arm_probe();
  }
}

asio::awaitable<bool> StoredDirectory::offline(core::Status failure) {
  if (offline_) co_return true;
  if (stopping_ || !means_offline(failure)) co_return false;
  ++counters_.probes;
  auto self = shared_from_this();  // the probe may outlive a reload
  DirectoryPtr behind = behind_;
  auto op = behind->probe();
  core::Status st = co_await std::move(op);
  if (st.is_ok()) {
    go_online();
    co_return false;
  }
  if (!means_offline(st)) co_return offline_;  // no verdict
  go_offline(st);
  co_return true;
}

asio::awaitable<core::Status> StoredDirectory::probe() {
  DirectoryPtr behind = behind_;
  auto op = behind->probe();
  co_return co_await std::move(op);
}

// ---- Refresh ahead ------------------------------------------------------------

void StoredDirectory::queue_refresh(const Query& q) {
  if (stopping_ || refresh_queue_.size() >= options_.max_refresh_queue) return;
  if (!refresh_queued_.insert(q).second) return;  // queued or in flight already
  refresh_queue_.push_back(q);
}

void StoredDirectory::arm_refresh() {
  if (stopping_) return;
  refresh_timer_.expires_after(options_.refresh_tick);
  std::weak_ptr<StoredDirectory> weak = weak_from_this();
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

// The same as a miss, without anyone waiting: the answer is written back,
// "no such entry" replaces the record, and an outage makes the directory
// offline (the record in the store stays as it was).
asio::awaitable<void> StoredDirectory::refresh(std::shared_ptr<StoredDirectory> self, Query q) {
  auto op = self->ask(q);
  core::Result<Answer> r = co_await std::move(op);
  --self->refreshes_in_flight_;
  self->refresh_queued_.erase(q);
  const Millis now = store::now_millis();
  if (r) {
    self->write(q, *r, now);
    ++self->counters_.refreshed;
  } else if (r.error().code() == core::Code::kNotFound) {
    self->write_negative(q, now);
  } else {
    if (means_offline(r.error())) self->suspect();
    core::log_debug("provider " + self->name() + ": refresh of " + model::describe(q) + ": " +
                    r.error().to_string());
  }
}

StatusItems StoredDirectory::status_items() const {
  StatusItems out = behind_->status_items();
  const std::string p = "store." + name() + ".";
  const std::pair<const char*, std::uint64_t> counts[] = {
      {"hits", counters_.hits},
      {"negative_hits", counters_.negative_hits},
      {"misses", counters_.misses},
      {"stale_answers", counters_.stale},
      {"stale_slow", counters_.stale_slow},
      {"unavailable", counters_.unavailable},
      {"refreshed", counters_.refreshed},
      {"refresh_queue", refresh_queue_.size()},
      {"offline_transitions", counters_.offline_transitions},
      {"probes", counters_.probes},
  };
  out.emplace_back(p + "state", offline_ ? "offline" : "online");
  for (const auto& [key, n] : counts) out.emplace_back(p + key, std::to_string(n));
  if (offline_) {
    const auto secs =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - offline_since_);
    out.emplace_back(p + "offline_seconds", std::to_string(secs.count()));
    out.emplace_back(p + "offline_cause", offline_cause_);
  }
  return out;
}

}  // namespace fastid::server
