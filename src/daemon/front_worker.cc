// The front worker (front_worker.h): one loop with its listeners, handlers,
// directories, store and fast cache writers; reload on SIGHUP, a graceful
// stop on SIGTERM, figures published for status. What it is built from is in
// front_worker_wiring.cc.
#include "daemon/front_worker.h"

#include "daemon/front_worker_wiring.h"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <pthread.h>

#include <csignal>
#include <filesystem>

#include "core/log.h"
#include "core/sigbus_guard.h"
#include "core/trace.h"
#include "daemon/provider_factory.h"
#include "daemon/provider_settings.h"
#include "pool/provider_pool.h"
#include "server/cache_control.h"
#include "server/cache_publisher.h"
#include "server/ldap_loop_directory.h"
#include "server/loop_monitor.h"
#include "server/nss_handler.h"
#include "server/admin_handler.h"
#include "server/pam_handler.h"
#include "server/router.h"
#include "server/server.h"
#include "server/stored_directory.h"
#include "server/metrics_exposition.h"
#include "server/varlink_front.h"
#include "store/store.h"
#include "store/store_writer.h"

namespace fastid::daemon {

using namespace wiring;

// A front worker's metrics snapshot fits its slot of the figures page.
static_assert(server::kMetricsSnapshotBytes <= supervisor::kSnapshotWords * sizeof(std::uint64_t));

namespace {

// The front worker's state, alive for the whole loop. Every member is used on the
// loop thread only.
class FrontWorker {
 public:
  explicit FrontWorker(FrontWorkerSetup setup)
      : setup_(std::move(setup)),
        io_(1),
        signals_(io_, SIGTERM, SIGINT, SIGHUP),
        reopen_signal_(io_, SIGUSR1),
        refresh_timer_(io_),
        figures_timer_(io_),
        router_(handler_, admin_),
        server_(io_, limits_of(setup_.config), router_),
        pam_(handler_, pam_options(setup_.config), setup_.config.daemon.state_dir, setup_.lockout),
        loop_monitor_(io_.get_executor(), [this] { return server_.stats().requests; }) {
    router_.set_pam_handler(&pam_);
    // fastidd's main blocked SIGHUP (its default action kills): signals_ now
    // handles it, so let it through, on this (the loop's) thread only. One
    // that came meanwhile was pending and is taken now, as a reload.
    // SIGUSR1 (reopen the log file) the same way.
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigaddset(&hup, SIGUSR1);
    ::pthread_sigmask(SIG_UNBLOCK, &hup, nullptr);
  }

  int run() {
    open_store();
    auto opened = open_directories(setup_.config, io_.get_executor(), store_, store_writer_);
    if (!opened) {
      core::log_error(opened.error().to_string());
      return 1;
    }
    handler_.set_directories(std::move(*opened));
    open_fast_cache();
    // Cache control (fastid cache ...): the store holds the pooled providers
    // of the running configuration.
    cache_control_.set_publisher(publisher_.get());
    cache_control_.set_store(store_, [this] {
      std::vector<std::string> names;
      for (const auto& pc : setup_.config.providers) {
        if (pc.in_pool()) names.push_back(pc.name);
      }
      return names;
    }, [this] {
      if (store_writer_) store_writer_->wait_idle();
    });
    admin_.set_cache_control(&cache_control_);
    pam_.set_cache_control(&cache_control_);
    admin_.add_status_source([this] {
      auto items = own_status_items();
      if (setup_.figures) {
        publish_figures();
        for (auto& kv : setup_.figures->status_items()) items.push_back(std::move(kv));
      }
      return items;
    });
    // The metrics listener's document: every front worker's snapshot, this
    // one's fresh (metrics_exposition.h).
    router_.set_metrics_source([this] {
      std::vector<server::StatusItems> workers;
      if (setup_.figures) {
        publish_figures();
        for (const std::string& text : setup_.figures->snapshots()) {
          workers.push_back(server::decode_metrics_snapshot(text));
        }
      } else {
        workers.push_back(server::decode_metrics_snapshot(metrics_snapshot()));
      }
      return server::render_metrics(workers);
    });
    // Who was refused what, and why: for root only.
    admin_.add_status_source([this] { return server_.gate().status_items(); }, /*root_only=*/true);
    for (auto& [fd, name] : setup_.unix_listeners) {
      if (name == "nscd") {
        server_.add_nscd_listener(fd, name);
      } else {
        server_.add_unix_listener(fd, name, name == "admin", name == "pam");
      }
    }
    for (auto& [fd, name] : setup_.tcp_listeners) server_.add_tcp_listener(fd, "tcp " + name, setup_.tcp_tls);
    for (auto& [fd, name] : setup_.udp_listeners) server_.add_udp_listener(fd, "udp " + name);
    server_.set_varlink_options(varlink_options_of(setup_.config));
    if (setup_.varlink_listener >= 0) server_.add_varlink_listener(setup_.varlink_listener, "varlink");
    if (setup_.metrics_listener >= 0) server_.add_metrics_listener(setup_.metrics_listener, "metrics");
    wait_for_signal();
    wait_for_reopen();
    arm_refresh();
    arm_figures();
    loop_monitor_.start();
    core::log_info("serving lookups on " + setup_.config.daemon.socket_dir + "/nss with " +
                   std::to_string(handler_.directories().size()) + " provider(s), config " +
                   setup_.config.source);
    if (setup_.on_ready) setup_.on_ready();
    // run() returns when no work is left: the fixed shutdown order below
    // removes every source of work, so there is nothing to force.
    io_.run();
    // A daemon that stopped must not keep answering through its maps: clients
    // then go to the socket, find nobody, and move on to the next NSS source.
    if (publisher_) {
      (void)publisher_->invalidate_all();
      publisher_->retire_nscd();
    }
    // The writer thread drains its queue, syncs and ends (without one, the
    // store is synced here).
    if (store_writer_) {
      store_writer_->stop();
    } else if (store_) {
      (void)store_->sync();
    }
    pam_.join();
    core::log_info("stopped");
    return exit_code_;
  }

 private:
  void wait_for_signal() {
    signals_.async_wait([this](const asio::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        tell_manager(&supervisor::ServiceNotifier::reloading);
        reload();
        tell_manager(&supervisor::ServiceNotifier::ready);
        wait_for_signal();
        return;
      }
      core::log_info(std::string("received ") + (signo == SIGTERM ? "SIGTERM" : "SIGINT") +
                     ": stopping");
      tell_manager(&supervisor::ServiceNotifier::stopping);
      stop();
    });
  }

  // SIGUSR1: logrotate moved the log file away; write to a new one.
  void wait_for_reopen() {
    reopen_signal_.async_wait([this](const asio::error_code& ec, int) {
      if (ec || stopping_) return;
      if (std::string err = core::reopen_log_file(); !err.empty()) {
        core::log_warning("SIGUSR1: " + err);
      } else {
        core::log_info("received SIGUSR1: log file reopened");
      }
      wait_for_reopen();
    });
  }

  void tell_manager(core::Status (supervisor::ServiceNotifier::*state)() const) {
    if (setup_.notifier == nullptr) return;
    if (auto st = (setup_.notifier->*state)(); !st) core::log_warning(st.to_string());
  }

  // Shutdown order: stop accepting, close idle connections, let in-flight
  // requests finish (up to the grace period), then stop timers and signals so
  // that the loop runs dry.
  void stop() {
    stopping_ = true;
    refresh_timer_.cancel();
    figures_timer_.cancel();
    loop_monitor_.stop();
    server_.stop(setup_.config.daemon.shutdown_grace, [this] {
      asio::error_code ignored;
      signals_.cancel(ignored);
      reopen_signal_.cancel(ignored);
      refresh_timer_.cancel();
      figures_timer_.cancel();
      close_directories(handler_.directories());
      close_directories(retired_);
    });
  }

  // SIGHUP: read the configuration again. An invalid one is refused and the
  // running configuration kept; settings that need a restart are reported.
  void reload() {
    auto next = read_config(setup_.config_path, setup_.overrides);
    if (!next) {
      core::log_error("reload refused, keeping the running configuration: " +
                      next.error().to_string());
      return;
    }
    auto opened = open_directories(*next, io_.get_executor(), store_, store_writer_);
    if (!opened) {
      core::log_error("reload refused, keeping the running configuration: " +
                      opened.error().to_string());
      return;
    }
    const auto& old_d = setup_.config.daemon;
    const auto& new_d = next->daemon;
    if (old_d.socket_dir != new_d.socket_dir || old_d.state_dir != new_d.state_dir ||
        old_d.workers != new_d.workers || old_d.pid_file != new_d.pid_file ||
        old_d.on_worker_exit != new_d.on_worker_exit || old_d.user != new_d.user ||
        old_d.group != new_d.group || !(setup_.config.fastcache == next->fastcache) ||
        !(setup_.config.listen == next->listen) ||
        setup_.config.store.enabled != next->store.enabled ||
        setup_.config.store.size_bytes != next->store.size_bytes ||
        setup_.config.store.max_negative_entries != next->store.max_negative_entries ||
        setup_.config.varlink.enabled != next->varlink.enabled || setup_.config.varlink.socket != next->varlink.socket ||
        !(setup_.config.nscd == next->nscd) || setup_.config.metrics.listen != next->metrics.listen) {
      core::log_warning(
          "socket_dir, state_dir, workers, pid_file, on_worker_exit, user, group, [fastcache], "
          "[listen], [nscd], [metrics] listen, [store] enabled/size/max_negative_entries and [varlink] enabled/socket take effect "
          "at restart only");
    }
    // Requests in flight keep the old directories alive; their pools stop once
    // those finish, and are kept here until the front worker ends.
    close_directories(handler_.directories());
    for (const auto& b : handler_.directories()) retired_.push_back(b);
    handler_.set_directories(std::move(*opened));
    // New providers: what was published from the old ones may be wrong now.
    invalidate_fast_cache("configuration reloaded");
    core::set_log_level(new_d.log_level);
    core::set_trace_enabled(new_d.trace_requests);
    core::set_log_repeat_limit(static_cast<std::uint32_t>(new_d.log_repeat_burst), new_d.log_repeat_window);
    server_.set_limits(limits_of(*next));
    pam_.set_config(pam_options(*next));
    Config kept = std::move(*next);
    // Restart-only settings stay as they are in the running process.
    kept.daemon.socket_dir = old_d.socket_dir;
    kept.daemon.state_dir = old_d.state_dir;
    kept.daemon.workers = old_d.workers;
    kept.daemon.pid_file = old_d.pid_file;
    kept.daemon.on_worker_exit = old_d.on_worker_exit;
    kept.daemon.user = old_d.user;
    kept.daemon.group = old_d.group;
    kept.fastcache = setup_.config.fastcache;
    kept.listen = setup_.config.listen;
    kept.nscd = setup_.config.nscd;
    kept.metrics.listen = setup_.config.metrics.listen;
    kept.store.enabled = setup_.config.store.enabled;
    kept.store.size_bytes = setup_.config.store.size_bytes;
    kept.store.max_negative_entries = setup_.config.store.max_negative_entries;
    kept.varlink.enabled = setup_.config.varlink.enabled;
    kept.varlink.socket = setup_.config.varlink.socket;
    server_.set_varlink_options(varlink_options_of(kept));
    setup_.config = std::move(kept);
    ++reloads_;
    publish_figures();
    core::log_info("reloaded configuration from " + setup_.config.source);
  }

  // Sources are checked for changes on a timer that re-arms itself. Reading a
  // changed file happens here, on the loop: the files provider loads 10,000
  // entries in a few milliseconds.
  void arm_refresh() {
    if (stopping_) return;
    auto interval = std::chrono::milliseconds(1000);
    for (const auto& pc : setup_.config.providers) interval = std::min(interval, pc.refresh_interval);
    if (interval.count() <= 0) interval = std::chrono::milliseconds(1000);
    refresh_timer_.expires_after(interval);
    refresh_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec || stopping_) return;
      core::log_flush_repeats();  // a burst of repeated lines that stopped is summarised
      // A failed refresh keeps the previous data; the provider logs it once.
      for (const auto& d : handler_.directories()) (void)d->refresh();
      if (data_generation() != published_generation_) invalidate_fast_cache("a source changed");
      if (publisher_) publisher_->sweep();  // the nscd maps' expiry, to the second
      if (publisher_ && std::chrono::steady_clock::now() >= next_heartbeat_) {
        publisher_->heartbeat();
        next_heartbeat_ = std::chrono::steady_clock::now() + kHeartbeatInterval;
      }
      arm_refresh();
    });
  }

  // This front worker's own status lines (not its siblings'): the status
  // reply's first part and the metrics snapshot's source.
  server::StatusItems own_status_items() const {
    auto items = server_.status_items();
    items.emplace_back("config", setup_.config.source);
    items.emplace_back("pid", std::to_string(::getpid()));
    items.emplace_back("idle_timeout_ms", std::to_string(setup_.config.daemon.idle_timeout.count()));
    items.emplace_back("reloads", std::to_string(reloads_));
    items.emplace_back("log.level", core::log_level_name(core::log_level()));
    items.emplace_back("log.suppressed", std::to_string(core::log_suppressed()));
    // SIGBUS caught by the guards (a mapped file cut short under this worker).
    items.emplace_back("sigbus.caught", std::to_string(core::sigbus_caught()));
    // This worker's (the one answering); every worker's is in worker.N.
    items.emplace_back("loop.longest_turn_us", std::to_string(loop_monitor_.longest_us()));
    items.emplace_back("loop.longest_turn_recent_us", std::to_string(loop_monitor_.longest_recent_us()));
    items.emplace_back("loop.longest_turn_cpu_us", std::to_string(loop_monitor_.longest_cpu_us()));
    if (store_) {
      const store::Stats st = store_->stats();
      items.emplace_back("store.entries", std::to_string(st.entries));
      items.emplace_back("store.used_bytes", std::to_string(st.used_bytes));
      items.emplace_back("store.map_size", std::to_string(st.map_size));
      items.emplace_back("store.evictions", std::to_string(st.evictions));
      items.emplace_back("store.negative_entries", std::to_string(st.negative_entries));
      items.emplace_back("store.negative_evictions", std::to_string(st.negative_evictions));
      items.emplace_back("store.write_errors", std::to_string(st.write_errors));
      items.emplace_back("store.sigbus_faults", std::to_string(store_->sigbus_faults()));
      if (store_writer_) {
        const store::StoreWriter::Stats ws = store_writer_->stats();
        items.emplace_back("store.writer.queued", std::to_string(ws.queued));
        items.emplace_back("store.writer.written", std::to_string(ws.written));
        items.emplace_back("store.writer.dropped", std::to_string(ws.dropped));
        items.emplace_back("store.writer.syncs", std::to_string(ws.syncs));
        items.emplace_back("store.writer.longest_batch_us", std::to_string(ws.longest_batch_us));
        items.emplace_back("store.writer.longest_sync_us", std::to_string(ws.longest_sync_us));
      }
    }
    for (auto& kv : pam_.status_items()) items.push_back(std::move(kv));
    for (auto& kv : router_.status_items()) items.push_back(std::move(kv));
    for (auto& kv : handler_.status_items()) items.push_back(std::move(kv));
    return items;
  }

  // The metrics snapshot: the status lines and gate refusals that are figures,
  // and the lookups by kind with their latencies.
  std::string metrics_snapshot() const {
    auto items = own_status_items();
    for (auto& kv : server_.gate().status_items()) items.push_back(std::move(kv));
    for (auto& kv : handler_.lookup_metrics().items()) items.push_back(std::move(kv));
    return server::encode_metrics_snapshot(items);
  }

  // This front worker's figures in the shared page, for whichever front worker answers
  // `fastid status` or a scrape. Every 500 ms, after a reload and before a status
  // reply or a scrape.
  void publish_figures() {
    if (!setup_.figures) return;
    const auto& st = server_.stats();
    const auto& d = setup_.config.daemon;
    supervisor::FrontWorkerSample s;
    s.requests = st.requests;
    s.connections_open = server_.status_open();
    s.connections_accepted = st.accepted;
    s.connections_rejected = st.rejected;
    s.closed_idle = st.closed_idle;
    s.closed_protocol = st.closed_protocol;
    s.udp_requests = st.udp_requests;
    s.network_refused = st.refused_network;
    s.reloads = reloads_;
    s.idle_timeout_ms = static_cast<std::uint64_t>(d.idle_timeout.count());
    s.stall_timeout_ms = static_cast<std::uint64_t>(d.stall_timeout.count());
    s.max_connections = static_cast<std::uint64_t>(d.max_connections);
    s.rss_kib = supervisor::self_rss_kib();
    s.loop_longest_turn_us = loop_monitor_.longest_us();
    setup_.figures->publish(setup_.index, s);
    setup_.figures->publish_snapshot(setup_.index, metrics_snapshot());
  }

  void arm_figures() {
    if (stopping_ || !setup_.figures) return;
    publish_figures();
    figures_timer_.expires_after(std::chrono::milliseconds(500));
    figures_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec || stopping_) return;
      arm_figures();
    });
  }

  // The persistent store lives in state_dir/store, shared with the other
  // front workers, opened here (after the fork). Only pooled providers use it. One
  // that cannot be opened is logged and the front worker runs without it: lookups
  // must not depend on a cache.
  void open_store() {
    const auto& sc = setup_.config.store;
    if (!sc.enabled) return;
    bool any_pooled = false;
    for (const auto& pc : setup_.config.providers) any_pooled = any_pooled || pc.in_pool();
    if (!any_pooled) return;
    store::Options options;
    options.dir = setup_.config.daemon.state_dir + "/store";
    options.map_size = sc.size_bytes;
    options.max_negative_entries = static_cast<std::uint64_t>(sc.max_negative_entries);
    auto s = store::Store::open(options);
    if (!s) {
      core::log_error("store disabled: " + s.error().to_string());
      return;
    }
    store_ = std::move(*s);
    // Writes and the periodic sync run on the writer's thread, never on the
    // loop (issue 20): a commit, an eviction or an msync can take milliseconds.
    store::WriterOptions wo;
    wo.sync_interval = kStoreSyncInterval;
    store_writer_ = std::make_shared<store::StoreWriter>(store_, wo);
  }

  // The fast cache maps live in state_dir/mc. A map that cannot be opened is
  // logged and the front worker serves through the socket only: lookups must not
  // depend on the cache. Published answers from before this start may come
  // from older data, so the maps start empty.
  void open_fast_cache() {
    const auto& fc = setup_.config.fastcache;
    // The nscd front's maps are published alongside (docs/nscd.md); with
    // several workers each holds its own, kept consistent through the shared
    // epochs (an invalidation in one retires the others' maps of that database).
    const bool nscd_maps = setup_.config.nscd.enabled;
    if (!fc.passwd.enabled && !fc.group.enabled && !fc.initgroups.enabled && !nscd_maps) return;
    server::CachePublisherOptions options;
    options.dir = setup_.config.daemon.state_dir + "/mc";
    auto map = [](const FastCacheMapConfig& m) {
      return server::CacheMapOptions{m.enabled, m.size_bytes, m.ttl, m.max_record};
    };
    options.passwd = map(fc.passwd);
    options.group = map(fc.group);
    options.initgroups = map(fc.initgroups);
    options.negative_ttl = fc.negative_ttl;
    options.nscd = nscd_maps;
    options.nscd_epochs = setup_.nscd_epochs;
    auto p = server::CachePublisher::open(options);
    if (!p) {
      core::log_error("fast cache disabled: " + p.error().to_string());
      return;
    }
    publisher_ = std::move(*p);
    handler_.set_publisher(publisher_.get());
    invalidate_fast_cache("");
    publisher_->heartbeat();
    next_heartbeat_ = std::chrono::steady_clock::now() + kHeartbeatInterval;
  }

  void invalidate_fast_cache(const std::string& why) {
    published_generation_ = data_generation();
    if (!publisher_) return;
    core::Status st = publisher_->invalidate_all();
    if (!st) {
      core::log_warning("fast cache invalidation failed: " + st.to_string());
    } else if (!why.empty()) {
      core::log_info("fast cache invalidated: " + why);
    }
  }

  std::uint64_t data_generation() const {
    std::uint64_t sum = 0;
    for (const auto& d : handler_.directories()) sum += d->data_generation();
    return sum;
  }

  static constexpr std::chrono::seconds kHeartbeatInterval{5};
  // The store commits without fsync; this bounds what a power loss can take.
  static constexpr std::chrono::seconds kStoreSyncInterval{30};

  FrontWorkerSetup setup_;
  asio::io_context io_;
  asio::signal_set signals_;
  asio::signal_set reopen_signal_;
  asio::steady_timer refresh_timer_;
  asio::steady_timer figures_timer_;
  server::NssHandler handler_;
  server::CacheControl cache_control_;
  server::AdminHandler admin_;
  server::Router router_;
  server::Server server_;
  server::PamHandler pam_;
  server::LoopMonitor loop_monitor_;  // loop.longest_turn_us
  std::unique_ptr<server::CachePublisher> publisher_;
  std::shared_ptr<store::Store> store_;  // null: no store (disabled, or no pooled provider)
  std::shared_ptr<store::StoreWriter> store_writer_;  // with store_: its writes and sync
  server::Directories retired_;  // replaced by a reload, stopping
  std::uint64_t published_generation_ = 0;
  std::chrono::steady_clock::time_point next_heartbeat_{};
  bool stopping_ = false;
  std::uint64_t reloads_ = 0;
  int exit_code_ = 0;
};

}  // namespace

int run_front_worker(FrontWorkerSetup setup) {
  FrontWorker worker(std::move(setup));
  return worker.run();
}

}  // namespace fastid::daemon
