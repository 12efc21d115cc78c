// The front worker's wiring (front_worker.h, front_worker_wiring.h): the
// configuration read with the command line's overrides, the providers opened
// and checked at start, and the options and directories a front worker is
// built from.
#include "daemon/front_worker.h"

#include "daemon/front_worker_wiring.h"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <pthread.h>

#include <csignal>
#include <filesystem>

#include "core/log.h"
#include "core/trace.h"
#include "daemon/provider_factory.h"
#include "daemon/provider_settings.h"
#include "pool/provider_pool.h"
#include "server/cache_control.h"
#include "server/cache_publisher.h"
#include "server/nss_handler.h"
#include "server/admin_handler.h"
#include "server/pam_handler.h"
#include "server/router.h"
#include "server/server.h"
#include "server/ldap_loop_directory.h"
#include "server/stored_directory.h"
#include "server/varlink_front.h"
#include "store/store.h"

namespace fastid::daemon {

void apply_overrides(Config& config, const Overrides& o) {
  if (o.socket_dir) config.daemon.socket_dir = *o.socket_dir;
  if (o.state_dir) config.daemon.state_dir = *o.state_dir;
  if (o.pid_file) config.daemon.pid_file = *o.pid_file;
  if (o.log_level) config.daemon.log_level = *o.log_level;
  if (o.workers) config.daemon.workers = *o.workers;
}

core::Result<Config> read_config(const std::string& explicit_path, const Overrides& overrides) {
  auto config = find_config(explicit_path);
  if (!config) return config;
  apply_overrides(*config, overrides);
  return config;
}

core::Result<std::vector<std::shared_ptr<providers::Provider>>> open_providers(const Config& config) {
  std::vector<std::shared_ptr<providers::Provider>> out;
  for (const auto& pc : config.providers) {
    auto made = make_provider(pc);
    if (!made) return core::error(made.error().with_context("provider " + pc.name));
    std::shared_ptr<providers::Provider> p = std::move(*made);
    core::Status st = p->open();
    if (!st) return core::error(st.with_context("provider " + pc.name));
    out.push_back(std::move(p));
  }
  return out;
}

core::Status check_providers_at_start(const Config& config, bool check_only) {
  for (const auto& pc : config.providers) {
    auto made = make_provider(pc);
    if (!made) return made.error().with_context("provider " + pc.name);
    core::Status st = (*made)->open();
    (*made)->close();
    if (st) continue;
    if (check_only || !pc.in_pool()) return st.with_context("provider " + pc.name);
    if (st.code() != core::Code::kUnavailable && !may_start_unopened(pc)) return st.with_context("provider " + pc.name);
    if (st.code() != core::Code::kUnavailable) {
      // A setting the directory refuses: a base that does not exist, a bind
      // password it rejects, a CA that does not verify it. --check-config
      // fails on it; a start goes on, so that one wrong directory setting
      // cannot take the node's local accounts down with it.
      core::log_error("provider " + pc.name + " is misconfigured: " + st.to_string() +
                      ". STARTING WITHOUT IT: its names answer \"unavailable, try again\" (what the store "
                      "holds of it excepted) until it can be opened, tried every 30 s; fix the setting and "
                      "reload (fastidd --check-config names it)");
      continue;
    }
    // Unreachable: start anyway (a node that boots before its directory), from
    // what the store holds of it, if anything.
    bool stored = false;
    if (config.store.enabled) {
      store::Options options;
      options.dir = config.daemon.state_dir + "/store";
      options.map_size = config.store.size_bytes;
      if (std::filesystem::exists(options.dir + "/data.mdb")) {
        auto s = store::Store::open(options);
        if (s) {
          auto has = (*s)->has_records(pc.name);
          stored = has && *has;
        }
      }
    }
    if (stored) {
      core::log_warning("provider " + pc.name + " cannot be reached at start (" + st.to_string() +
                        "): starting with what the store holds of it; it is offline until it answers");
    } else {
      core::log_error("provider " + pc.name + " cannot be reached at start (" + st.to_string() +
                      "): starting without it (the store holds nothing of it); its names fail as "
                      "\"unavailable, try again\" until it answers" +
                      (config.store.enabled ? std::string(", checked every probe_interval")
                                            : std::string(", asked again at each lookup ([store] is disabled)")) +
                      ". If the directory is up, the setting is wrong: run fastidd --check-config");
    }
  }
  return core::Status::ok();
}

namespace wiring {

server::PamOptions pam_options(const Config& config) {
  const PamConfig& c = config.pam;
  std::map<std::string, server::AccessRules> access;
  for (const ProviderConfig& p : config.providers) {
    access[p.name] = server::AccessRules{.allow_users = p.allow_users,
                                         .deny_users = p.deny_users,
                                         .allow_groups = p.allow_groups,
                                         .deny_groups = p.deny_groups};
  }
  return server::PamOptions{
      .max_failures = c.max_failures,
      .failure_window = c.failure_window,
      .lockout_time = c.lockout_time,
      .caller_rate = c.caller_rate,
      .caller_burst = c.caller_burst,
      .offline = c.offline,
      .offline_file = c.offline_file,
      .offline_max_age = c.offline_max_age,
      .access_rules = std::move(access),
  };
}

server::StoredDirectoryOptions stored_directory_options(const StoreConfig& c) {
  server::StoredDirectoryOptions o;
  o.ttl = c.ttl;
  o.negative_ttl = c.negative_ttl;
  o.refresh_ahead = c.refresh_ahead;
  o.offline_max_age = c.offline_max_age;
  o.probe_interval = c.probe_interval;
  o.stale_after = c.stale_after;
  return o;
}

// The directories of a front worker: in-process providers opened here, pooled ones
// as pools of provider worker processes started here (on the loop's thread, which
// their death signal is tied to), behind the store when there is one.
core::Result<server::Directories> open_directories(const Config& config, asio::any_io_executor executor,
                                                   std::shared_ptr<store::Store> store,
                                                   std::shared_ptr<store::StoreWriter> writer) {
  server::Directories out;
  for (const auto& pc : config.providers) {
    if (pc.in_pool()) {
      auto pool = std::make_shared<pool::ProviderPool>(executor, pc.name, pc.pool,
                                                       encode_provider_settings(pc, config.daemon.log_level,
                                                                                config.daemon.trace_requests));
      core::Status st = pool->start();
      if (!st) return core::error(st.with_context("provider " + pc.name));
      server::DirectoryPtr pooled = server::pooled_directory(std::move(pool));
      if (pc.async_lookups) {
        // Lookups searched by this front worker itself; the pool behind it (docs/ldap.md).
        auto parts = make_async_ldap(pc);
        if (!parts) return core::error(parts.error());
        auto loop = std::make_shared<server::LdapLoopDirectory>(executor, std::move(parts->chain), parts->ldap,
                                                                std::move(parts->make_connector), std::move(pooled),
                                                                server::LdapLoopOptions{});
        loop->start();
        pooled = std::move(loop);
      }
      if (store) {
        // Behind the persistent store and its offline mode (docs/store.md).
        auto stored = std::make_shared<server::StoredDirectory>(executor, store, std::move(pooled),
                                                                stored_directory_options(config.store));
        stored->set_writer(writer);
        stored->start();
        pooled = std::move(stored);
      }
      out.push_back(std::move(pooled));
      continue;
    }
    auto made = make_provider(pc);
    if (!made) return core::error(made.error().with_context("provider " + pc.name));
    std::shared_ptr<providers::Provider> p = std::move(*made);
    core::Status st = p->open();
    if (!st) return core::error(st.with_context("provider " + pc.name));
    out.push_back(server::in_process_directory(std::move(p)));
  }
  return out;
}

// Ends what a set of directories runs: providers closed, pools asked to stop
// (their provider workers finish and exit; the loop runs dry once they have).
void close_directories(const server::Directories& directories) {
  for (const auto& d : directories) d->stop();
}

// What the Varlink front needs of the configuration: the service name (the
// socket's file name) and the directories it leaves out (docs/varlink.md).
std::shared_ptr<const server::VarlinkOptions> varlink_options_of(const Config& c) {
  auto o = std::make_shared<server::VarlinkOptions>();
  o->service = c.varlink.socket.substr(c.varlink.socket.rfind('/') + 1);
  o->version = FASTID_VERSION;
  o->enumerate = c.varlink.enumerate;
  if (!c.varlink.include_files) {
    for (const ProviderConfig& p : c.providers) {
      if (p.type == "files") o->left_out.push_back(p.name);
    }
  }
  return o;
}

server::ServerLimits limits_of(const Config& c) {
  server::ServerLimits l;
  l.idle_timeout = c.daemon.idle_timeout;
  l.network_idle_timeout = c.daemon.network_idle_timeout;
  l.max_connections = static_cast<std::size_t>(c.daemon.max_connections);
  l.max_pam_connections = static_cast<std::size_t>(c.daemon.max_pam_connections);
  l.max_network_connections = static_cast<std::size_t>(c.daemon.max_network_connections);
  l.max_varlink_connections = static_cast<std::size_t>(c.varlink.max_connections);
  l.max_metrics_connections = static_cast<std::size_t>(c.metrics.max_connections);
  l.max_metrics_connections_per_address = static_cast<std::size_t>(c.metrics.max_connections_per_address);
  l.max_connections_per_uid = static_cast<std::size_t>(c.daemon.max_connections_per_uid);
  l.max_connections_per_address = static_cast<std::size_t>(c.daemon.max_connections_per_address);
  l.stall_timeout = c.daemon.stall_timeout;
  return l;
}

}  // namespace wiring

}  // namespace fastid::daemon
