// The front worker: one event loop that serves lookups from inherited
// listeners, reloads on SIGHUP and stops gracefully on SIGTERM/SIGINT.
// Everything it owns (loop, providers, timers) is created inside the process
// that runs it, never before a fork.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "daemon/config.h"
#include "providers/provider.h"
#include "auth/lockout.h"
#include "supervisor/service_notify.h"
#include "fastcache/nscd_epochs.h"
#include "supervisor/front_worker_figures.h"

namespace fastid::server {
class TlsServerContext;
}

namespace fastid::daemon {

// Command-line settings that win over the configuration file, also on reload.
struct Overrides {
  std::optional<std::string> socket_dir;
  std::optional<std::string> state_dir;
  std::optional<std::string> pid_file;
  std::optional<core::LogLevel> log_level;
  std::optional<int> workers;
};
void apply_overrides(Config& config, const Overrides& overrides);

// Reads the configuration the way start-up and reload both do.
core::Result<Config> read_config(const std::string& explicit_path, const Overrides& overrides);

// Creates and opens every configured provider, in order. The first failure
// names the provider and what is wrong with it.
core::Result<std::vector<std::shared_ptr<providers::Provider>>> open_providers(const Config& config);

// Start-up's check of the providers: each is created, opened and closed
// once, so that a wrong path, URI, base or credential is named. With
// `check_only` (--check-config) any failure is returned. At start, a pooled
// provider that cannot be reached (kUnavailable) is logged loudly and
// tolerated — a stateless node boots before its network or its directory —
// and so is one the directory refuses (a base that does not exist, a wrong
// bind password, a CA that does not verify it): logged as an error, its names
// answer "unavailable" (providers/unopened_provider.h), local providers serve.
// A provider that cannot even be created, and an in-process one (files) that
// cannot be opened, still stop the start.
// The daemon starts; its other providers and what the store holds answer,
// the provider's other names fail "unavailable, try again" (never "no such
// user"), and the store's probe brings it online when it answers
// (docs/store.md, docs/operations.md). Opens and closes the store before any
// fork, to say in the log whether it holds records of the provider.
core::Status check_providers_at_start(const Config& config, bool check_only);

struct FrontWorkerSetup {
  Config config;
  std::string config_path;  // "" = found by find_config(""); used again on reload
  Overrides overrides;
  std::vector<std::pair<int, std::string>> unix_listeners;  // fd, name ("nss")
  std::vector<std::pair<int, std::string>> tcp_listeners;   // fd, bound address
  // [listen] tls_cert/tls_key, loaded as root before the fork: every TCP
  // listener speaks TLS only. nullptr: plaintext.
  std::shared_ptr<server::TlsServerContext> tcp_tls;
  std::vector<std::pair<int, std::string>> udp_listeners;   // fd, bound address
  int varlink_listener = -1;  // [varlink] socket, when enabled
  int metrics_listener = -1;  // [metrics] listen, when set (TCP)
  std::function<void()> on_ready;  // called once, when the loop is about to run
  // Where this front worker publishes its figures (slot `index`) and reads its
  // siblings' for `fastid status`; nullptr: its own figures only.
  supervisor::FrontWorkerFigures* figures = nullptr;
  // The lockout table every front worker shares (mapped before the fork);
  // null: this front worker makes one of its own.
  std::shared_ptr<auth::LockoutTable> lockout;
  // The nscd maps' invalidation epochs every front worker follows (mapped
  // before the fork; fastcache/nscd_epochs.h). null: the front is off.
  std::shared_ptr<fastcache::NscdEpochs> nscd_epochs;
  int index = 0;
  // The service manager, told RELOADING=1/READY=1 around a SIGHUP reload and
  // STOPPING=1 at SIGTERM (READY=1 at start is on_ready's). nullptr: nobody.
  const supervisor::ServiceNotifier* notifier = nullptr;
};

// Runs until stopped. Returns the process exit code (0 after a graceful stop).
int run_front_worker(FrontWorkerSetup setup);

}  // namespace fastid::daemon
