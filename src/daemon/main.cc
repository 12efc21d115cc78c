// fastidd: the identity daemon. Reads and checks its configuration, opens its
// listeners and providers once (so a misconfiguration fails here, clearly),
// then serves. Foreground by default, logging to stderr, as systemd expects.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <optional>
#include <iostream>

#include "core/log.h"
#include "core/trace.h"
#include "daemon/config.h"
#include "daemon/front_worker.h"
#include "daemon/sigbus_handler.h"
#include "server/net_listener.h"
#include "server/tls_listener.h"
#include "server/unix_listener.h"
#include "supervisor/daemonize.h"
#include "supervisor/pid_file.h"
#include "supervisor/privileges.h"
#include "supervisor/service_notify.h"
#include "supervisor/supervisor.h"
#include "supervisor/trusted_directory.h"

using namespace fastid;

namespace {

int fail(const std::string& message) {
  core::log_error(message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // SIGHUP's default action ends the process, and a reload may be asked for
  // as soon as the sockets accept, before anything can handle it: it stays
  // blocked (pending, not lost) in the supervisor, which takes it with
  // sigtimedwait, and in each front worker until its loop's signal set is in place
  // (daemon/front_worker.cc). Blocked here, before any thread or fork inherits the mask.
  // SIGUSR1 (reopen the log file) likewise: logrotate may send it at any time.
  {
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigaddset(&hup, SIGUSR1);
    ::sigprocmask(SIG_BLOCK, &hup, nullptr);
  }
  CLI::App app{"fastidd — identity daemon: NSS lookups from files, LDAP and winbind"};
  std::string config_path;
  bool check_only = false;
  bool daemonize = false;
  bool print_reference = false;
  std::string log_file;
  std::string log_level_text;
  daemon::Overrides overrides;

  app.add_option("-c,--config", config_path,
                 "configuration file (default: " FASTID_CONFIG_PATH_DEFAULT ", else " FASTID_CONFIG_PATH_LEGACY
                 ", if one exists, else the embedded default)");
  app.add_flag("--check-config", check_only, "validate the configuration and the providers, then exit");
  app.add_flag("-d,--daemonize", daemonize, "detach into the background once ready");
  app.add_option("-w,--workers", overrides.workers, "front worker processes (overrides [daemon] workers)")
      ->check(CLI::Range(1, 256));
  app.add_option("--socket-dir", overrides.socket_dir, "overrides [daemon] socket_dir");
  app.add_option("--state-dir", overrides.state_dir, "overrides [daemon] state_dir");
  app.add_option("--pid-file", overrides.pid_file, "overrides [daemon] pid_file");
  app.add_option("--log-level", log_level_text, "debug, info, warning or error");
  app.add_option("--log-file", log_file, "append log lines to this file instead of stderr");
  app.add_flag("--config-reference", print_reference,
               "print the configuration reference (docs/configuration.md) and exit");
  app.set_version_flag("--version", "fastidd " FASTID_VERSION);
  CLI11_PARSE(app, argc, argv);

  // fastidd never asks itself (docs/client.md, FASTID_DISABLE): not for its
  // service user at start, not from any provider worker. Before any lookup.
  ::setenv("FASTID_DISABLE", "1", 1);
  // The service manager's socket (Type=notify), kept here and taken out of the
  // environment that provider workers inherit.
  const auto notifier = supervisor::ServiceNotifier::from_environment();

  core::set_log_role("fastidd");
  // fastidd handles passwords (the pam socket): no core dumps, no ptrace by
  // other processes of its user.
  ::prctl(PR_SET_DUMPABLE, 0);
  if (print_reference) {
    std::fputs(daemon::config_reference_markdown().c_str(), stdout);
    return 0;
  }
  if (!log_level_text.empty()) {
    core::LogLevel level;
    if (!core::parse_log_level(log_level_text, &level)) {
      return fail("--log-level: \"" + log_level_text + "\" is not one of debug, info, warning, error");
    }
    overrides.log_level = level;
  }
  if (!log_file.empty()) {
    int fd = ::open(log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return fail("--log-file " + log_file + ": " + std::strerror(errno));
    ::dup2(fd, 2);  // stderr itself, so that library messages land there too
    ::close(fd);
    core::set_log_file(log_file);  // reopened on SIGUSR1 (logrotate)
  } else if (core::journal_stream_matches(2)) {
    // stderr is the journal (systemd's JOURNAL_STREAM): "<N>" priorities, no timestamps.
    core::set_log_journal(true);
  }

  auto config = daemon::read_config(config_path, overrides);
  if (!config) return fail(config.error().to_string());
  core::set_log_level(config->daemon.log_level);
  core::set_trace_enabled(config->daemon.trace_requests);
  core::set_log_repeat_limit(static_cast<std::uint32_t>(config->daemon.log_repeat_burst),
                             config->daemon.log_repeat_window);
  // The level in a page every process forked from here shares: `fastid
  // debug-level` changes it in every front worker at once.
  if (!core::share_log_level()) core::log_warning("the log level could not be shared between workers");

  // The identity to drop to, resolved once, now (also for --check-config).
  const auto& d = config->daemon;
  std::optional<supervisor::Identity> drop_to;
  if (!d.user.empty() || !d.group.empty()) {
    if (d.user.empty()) return fail("[daemon] group is set but user is not: set both");
    auto who = supervisor::resolve_identity(d.user, d.group);
    if (!who) return fail(who.error().to_string());
    drop_to = *who;
  }
  // Root binds sockets in socket_dir and hands state_dir over: nobody else
  // may be able to change them or the directories on the way to them.
  // The Varlink socket's folder too: systemd's clients trust whatever answers there.
  const std::string varlink_dir = config->varlink.socket.substr(0, config->varlink.socket.rfind('/'));
  auto check_directories = [&d, &drop_to, &config, &varlink_dir](bool may_be_missing) {
    std::vector<uid_t> state_owners;
    if (drop_to) state_owners.push_back(drop_to->uid);
    if (auto st = supervisor::check_trusted_directory("[daemon] socket_dir", d.socket_dir, {}, may_be_missing); !st) {
      return st;
    }
    if (config->varlink.enabled) {
      if (auto st = supervisor::check_trusted_directory("[varlink] socket", varlink_dir.empty() ? "/" : varlink_dir,
                                                        {}, may_be_missing);
          !st) {
        return st;
      }
    }
    return supervisor::check_trusted_directory("[daemon] state_dir", d.state_dir, state_owners, may_be_missing);
  };
  if (auto st = check_directories(true); !st) return fail(st.to_string());

  // Open and close every provider once: a wrong path fails now, not at the
  // first lookup (an unreachable directory the store knows is tolerated).
  if (auto st = daemon::check_providers_at_start(*config, check_only); !st) return fail(st.to_string());
  // TLS of the TCP listeners: the key is read now, while fastidd is still
  // root and before any front worker exists (front workers inherit the context).
  std::shared_ptr<server::TlsServerContext> tcp_tls;
  if (!config->listen.tls_cert.empty()) {
    auto tls = server::load_tls_server_context({.cert_file = config->listen.tls_cert,
                                                .key_file = config->listen.tls_key,
                                                .handshake_timeout = config->listen.tls_handshake_timeout});
    if (!tls) return fail("[listen] " + tls.error().to_string());
    tcp_tls = std::move(*tls);
  }
  if (check_only) {
    // As root only (fastidd starts as root): a check run by another user
    // says nothing about what the daemon can write.
    struct stat state_st;
    if (::geteuid() == 0 && ::stat(d.state_dir.c_str(), &state_st) == 0 && S_ISDIR(state_st.st_mode)) {
      if (auto st = server::check_writable_directory("[daemon] state_dir", d.state_dir); !st) return fail(st.to_string());
    }
    std::printf("configuration %s is valid (%zu provider(s))\n", config->source.c_str(),
                config->providers.size());
    return 0;
  }

  // Every client connection is a descriptor: take the whole hard limit the
  // service manager allows (the soft default, 1024, is far below C10k).
  {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  ::signal(SIGPIPE, SIG_IGN);  // a peer that leaves mid-reply is an error value, not a signal
  // A map file cut short under fastidd (a fast cache map, the store's
  // data.mdb) is reported as damaged rather than killing a front worker;
  // any other SIGBUS still kills (daemon/sigbus_handler.h).
  if (auto st = daemon::install_sigbus_handler(); !st) return fail(st.to_string());
  ::umask(022);

  if (auto st = server::ensure_directory(d.socket_dir, 0755); !st) return fail(st.to_string());
  if (auto st = server::ensure_directory(d.state_dir, 0755); !st) return fail("[daemon] state_dir " + d.state_dir + ": " + st.to_string());
  // The store, the fast cache maps, lockouts and offline credentials live
  // there: a start that could keep none of them is refused, with the reason,
  // rather than one that logs each of them disabled and runs on without.
  if (auto st = server::check_writable_directory("[daemon] state_dir", d.state_dir); !st) return fail(st.to_string());
  if (config->varlink.enabled && !varlink_dir.empty()) {
    if (auto st = server::ensure_directory(varlink_dir, 0755); !st) return fail(st.to_string());
  }
  if (auto st = check_directories(false); !st) return fail(st.to_string());

  supervisor::PidFile pid_file;
  if (!d.pid_file.empty()) {
    if (auto st = pid_file.acquire(d.pid_file); !st) return fail(st.to_string());
  }

  // Network listeners: opened here, once, and shared by every front worker. They
  // and the identity to drop to come before the Unix sockets: a start that
  // fails on them leaves no socket file behind.
  std::vector<std::pair<int, std::string>> tcp_listeners, udp_listeners;
  for (const auto& address : config->listen.tcp) {
    auto l = server::open_tcp_listener(address);
    if (!l) return fail("[listen] tcp: " + l.error().to_string());
    if (tcp_tls) {
      core::log_info("listening on tcp " + l->bound + " (TLS only, certificate " + server::describe(*tcp_tls) + ")");
    } else {
      core::log_info("listening on tcp " + l->bound);
      core::log_warning("tcp " + l->bound + " is plaintext: lookups and answers cross the network "
                        "unencrypted and unauthenticated ([listen] tls_cert and tls_key turn TLS on)");
    }
    tcp_listeners.emplace_back(l->fd, l->bound);
  }
  for (const auto& address : config->listen.udp) {
    auto l = server::open_udp_listener(address);
    if (!l) return fail("[listen] udp: " + l.error().to_string());
    core::log_info("listening on udp " + l->bound + " (plaintext, public lookups only)");
    udp_listeners.emplace_back(l->fd, l->bound);
  }
  // The Prometheus scrape listener ([metrics] listen; docs/operations.md, "Metrics").
  int metrics_fd = -1;
  if (!config->metrics.listen.empty()) {
    auto l = server::open_tcp_listener(config->metrics.listen, 128);
    if (!l) return fail("[metrics] listen: " + l.error().to_string());
    core::log_info("serving metrics on http://" + l->bound + "/metrics (plaintext, figures only)");
    metrics_fd = l->fd;
  }
  for (const auto& p : config->providers) {
    if (p.type == "fastid" && p.tls_ca_file.empty()) {
      core::log_warning("provider " + p.name + " is plaintext: answers from its upstreams can be read "
                        "and forged on the way (tls_ca_file turns TLS on)");
    }
  }

  // Privilege drop: the identity was resolved above; the front workers drop to it
  // after the fork. The state the front workers write (fast cache maps, store)
  // becomes theirs; the pid file, log and sockets stay the supervisor's.
  if (drop_to) {
    if (::geteuid() != 0) return fail("[daemon] user: fastidd must start as root to drop privileges");
    if (auto st = supervisor::hand_over(*drop_to, d.state_dir, {{"mc", true}, {"store", false}}); !st) {
      return fail(st.to_string());
    }
  }

  std::string nss_path = d.socket_dir + "/nss";
  auto nss_fd = server::open_unix_listener(nss_path, 0666);
  if (!nss_fd) return fail(nss_fd.error().to_string());

  // The admin socket: root only, by its mode and by the peer's uid.
  std::string admin_path = d.socket_dir + "/admin";
  auto admin_fd = server::open_unix_listener(admin_path, 0600);
  if (!admin_fd) return fail(admin_fd.error().to_string());

  // The pam socket: anyone may connect (a user may check their own password);
  // the daemon checks each caller's uid (SO_PEERCRED) and the PAM module checks
  // that the socket is root's and that the daemon answering is root.
  std::string pam_path = d.socket_dir + "/pam";
  auto pam_fd = server::open_unix_listener(pam_path, 0666);
  if (!pam_fd) return fail(pam_fd.error().to_string());

  // The systemd userdb socket: anyone may connect (nss-systemd runs in every
  // process); each call is a lookup, as on the nss socket (docs/varlink.md).
  const std::string varlink_path = config->varlink.enabled ? config->varlink.socket : "";
  int varlink_fd = -1;
  if (!varlink_path.empty()) {
    auto fd = server::open_unix_listener(varlink_path, 0666);
    if (!fd) return fail("[varlink] socket: " + fd.error().to_string());
    varlink_fd = *fd;
    core::log_info("serving io.systemd.UserDatabase on " + varlink_path);
  }
  // The nscd front's socket: anyone may connect, as to nscd's (docs/nscd.md).
  std::string nscd_path;
  std::optional<int> nscd_fd;
  if (config->nscd.enabled) {
    nscd_path = config->nscd.socket;
    const std::string folder = nscd_path.substr(0, nscd_path.rfind('/'));
    if (auto st = server::ensure_directory(folder.empty() ? "/" : folder, 0755); !st) {
      return fail("[nscd] socket: " + st.to_string());
    }
    auto fd = server::open_unix_listener(nscd_path, 0666);
    if (!fd) return fail("[nscd] socket (is nscd, unscd or nsncd running?): " + fd.error().to_string());
    nscd_fd = *fd;
    core::log_info("answering glibc's nscd protocol on " + nscd_path);
  }

  // Clients trust fast cache maps owned by the user the front workers publish as.
  if (auto st = supervisor::mark_cache_owner(d.socket_dir, drop_to ? drop_to->uid : ::geteuid()); !st) {
    return fail(st.to_string());
  }

  supervisor::Daemonizer daemonizer;
  if (daemonize) {
    if (auto st = daemonizer.detach(!log_file.empty()); !st) return fail(st.to_string());
    if (auto st = pid_file.update(); !st) return fail(st.to_string());
  }

  // Every front worker's figures, in one shared page mapped before the fork.
  auto figures = supervisor::FrontWorkerFigures::create(config->daemon.workers);
  if (!figures) return fail(figures.error().to_string());
  // One lockout table for every front worker, mapped before the fork too, so that
  // max_failures counts per user and not per user and front worker (docs/pam.md).
  auto lockout = auth::LockoutTable::create();
  if (!lockout) return fail(lockout.error().to_string());
  // The nscd front's maps, one set per front worker, follow one another's
  // invalidations through this page (docs/nscd.md, "Several front workers").
  std::shared_ptr<fastcache::NscdEpochs> nscd_epochs;
  if (config->nscd.enabled) {
    auto e = fastcache::NscdEpochs::create();
    if (!e) return fail(e.error().to_string());
    nscd_epochs = std::move(*e);
  }

  daemon::FrontWorkerSetup setup;
  const int workers = config->daemon.workers;
  const auto grace = config->daemon.shutdown_grace;
  const std::string on_worker_exit = config->daemon.on_worker_exit;
  setup.config = std::move(*config);
  setup.config_path = config_path;
  setup.overrides = overrides;
  setup.unix_listeners.emplace_back(*nss_fd, "nss");
  setup.unix_listeners.emplace_back(*admin_fd, "admin");
  setup.tcp_listeners = std::move(tcp_listeners);
  setup.tcp_tls = std::move(tcp_tls);
  setup.udp_listeners = std::move(udp_listeners);
  setup.unix_listeners.emplace_back(*pam_fd, "pam");
  setup.varlink_listener = varlink_fd;
  setup.metrics_listener = metrics_fd;
  if (nscd_fd) setup.unix_listeners.emplace_back(*nscd_fd, "nscd");
  // READY=1 once a front worker's loop runs on the listeners opened above, after
  // the providers were checked.
  setup.on_ready = [&daemonizer, &notifier] {
    daemonizer.notify_ready();
    if (auto st = notifier.ready(); !st) core::log_warning(st.to_string());
  };
  setup.notifier = &notifier;
  setup.figures = &*figures;
  setup.lockout = *lockout;
  setup.nscd_epochs = nscd_epochs;

  int rc;
  // A front worker runs as `drop_to` from its first instruction of its own.
  auto run_one = [&setup, &drop_to](int index) {
    setup.index = index;  // this process's own copy of setup, after the fork
    if (drop_to) {
      if (auto st = supervisor::drop_to(*drop_to); !st) {
        core::log_error("cannot drop privileges to " + drop_to->name + ": " + st.to_string());
        return 1;
      }
      core::log_info("running as " + drop_to->name);
    }
    return daemon::run_front_worker(setup);
  };
  if (workers == 1 && !drop_to) {
    // One front worker: it runs in this process, with nothing to supervise.
    rc = daemon::run_front_worker(std::move(setup));
  } else {
    // Several: a supervisor forks them after everything above was opened and
    // checked; each front worker builds its own loop and providers after the fork.
    // Every front worker tells the waiting parent it is ready; the first word counts.
    supervisor::SupervisorOptions options;
    options.front_workers = workers;
    options.shutdown_grace = grace;
    options.figures = &*figures;
    // A dead front worker's attempts in flight no longer count against anyone.
    options.front_worker_reaped = [table = *lockout](pid_t pid) { table->release_owner(pid); };
    options.on_front_worker_exit = on_worker_exit == "exit" ? supervisor::OnFrontWorkerExit::kExit
                                                      : supervisor::OnFrontWorkerExit::kRestart;
    // With a privilege drop even one front worker is forked: the supervisor stays
    // root to remove the sockets and pid file at the end.
    supervisor::Supervisor sup(options, run_one);
    rc = sup.run();
  }
  ::unlink(nss_path.c_str());
  ::unlink(admin_path.c_str());
  ::unlink(pam_path.c_str());
  if (!varlink_path.empty()) ::unlink(varlink_path.c_str());
  if (!nscd_path.empty()) ::unlink(nscd_path.c_str());
  return rc;
}
