// fastid: the command-line tool for administrators. Lookups go through
// libfastid exactly as the NSS module's do, so what it prints is what every
// process on the host sees. Exit codes follow getent: 0 found, 2 not found,
// 1 any other error.
#include <grp.h>
#include <pwd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cli/auth.h"
#include "cli/commands.h"
#include "cli/passwd.h"
#include "default_paths.h"
#include "fastid/fastid.h"
#include "netclient/net_client.h"
#include "netclient/tls_session.h"
#include "proto/messages.h"
#include "proto/wire.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace fastid::cli;

int main(int argc, char** argv) {
  CLI::App app{"fastid — query and control the fastid identity daemon"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "fastid " FASTID_VERSION);
  std::string key;
  int rc = kError;
  std::string server;
  bool udp = false;
  bool verbose = false;
  int timeout_ms = 2000;
  std::string tls_ca;
  std::string tls_server_name;
  auto* server_option = app.add_option("-s,--server", server,
                 "ask a remote fastidd over its TCP listener, HOST:PORT or [V6]:PORT (lookups and ping)");
  auto* udp_flag = app.add_flag("--udp", udp, "with --server: ask over UDP first; a truncated answer is asked again over TCP");
  app.add_flag("-v,--verbose", verbose, "with --server: say which server and transport answered");
  app.add_option("--timeout-ms", timeout_ms, "with --server: per-server timeout")->check(CLI::Range(1, 600000));
  auto* tls_ca_option =
      app.add_option("--tls-ca", tls_ca,
                     "with --server: speak TLS, verifying the server's certificate against the CAs of this "
                     "PEM file and its address (or --tls-server-name); UDP is then refused (cleartext)")
          ->needs(server_option)
          ->excludes(udp_flag);
  app.add_option("--tls-server-name", tls_server_name,
                 "with --tls-ca: the DNS name the server's certificate must carry (also sent as SNI)")
      ->needs(tls_ca_option);
  // With --server, lookups go to a remote fastidd; built on first use, after
  // the options are parsed (the subcommand callbacks run after them).
  std::unique_ptr<fastid::netclient::NetClient> net;
  Remote remote_state{};
  auto remote = [&]() -> Remote* {
    if (server.empty()) return nullptr;
    if (!net) {
      std::shared_ptr<const fastid::netclient::TlsClientContext> tls;
      if (!tls_ca.empty()) {
        auto context = fastid::netclient::make_tls_client_context(tls_ca);
        if (!context) {
          std::fprintf(stderr, "fastid: --tls-ca: %s\n", context.error().to_string().c_str());
          std::exit(kError);  // never on to the local daemon, never plaintext
        }
        tls = std::move(*context);
      }
      net = std::make_unique<fastid::netclient::NetClient>(
          fastid::netclient::Options{.servers = {server},
                                     .timeout = std::chrono::milliseconds(timeout_ms),
                                     .tls = std::move(tls),
                                     .tls_server_name = tls_server_name});
      remote_state = Remote{net.get(),
                            udp ? fastid::netclient::Transport::kUdp : fastid::netclient::Transport::kTcp,
                            verbose};
    }
    return &remote_state;
  };

  auto* user = app.add_subcommand("user", "show a user by name or uid (passwd line)");
  user->add_option("NAME|UID", key)->required();
  user->callback([&] { rc = remote() ? remote_user(*remote(), key) : cmd_user(key); });

  auto* grp = app.add_subcommand("group", "show a group by name or gid (group line)");
  grp->add_option("NAME|GID", key)->required();
  grp->callback([&] { rc = remote() ? remote_group(*remote(), key) : cmd_group(key); });

  auto* groups = app.add_subcommand("groups", "list a user's supplementary group ids");
  groups->add_option("USER", key)->required();
  groups->callback([&] { rc = remote() ? remote_groups(*remote(), key) : cmd_groups(key); });

  auto* netgroup = app.add_subcommand("netgroup", "show a netgroup's triples, nested netgroups flattened");
  netgroup->add_option("NAME", key)->required();
  netgroup->callback([&] { rc = cmd_netgroup(key); });

  auto* ssh_keys = app.add_subcommand(
      "ssh-keys", "print USER's SSH public keys from the directory (sshd AuthorizedKeysCommand; docs/ssh.md)");
  ssh_keys->add_option("USER", key)->required();
  ssh_keys->callback([&] {
    if (!server.empty()) {
      std::fprintf(stderr, "fastid: ssh-keys: asked of the local daemon only\n");
      rc = kError;
      return;
    }
    rc = cmd_ssh_keys(key);
  });

  auto* users = app.add_subcommand("users", "enumerate every user");
  users->callback([&] { rc = remote() ? remote_enumerate(*remote(), true) : cmd_enumerate(true); });
  auto* allgroups = app.add_subcommand("all-groups", "enumerate every group");
  allgroups->callback([&] { rc = remote() ? remote_enumerate(*remote(), false) : cmd_enumerate(false); });

  std::string map = "all";
  std::string entry_key;
  auto* cache = app.add_subcommand("cache", "cache control: the store and the fast cache (root)");
  cache->require_subcommand(1);
  auto* inval = cache->add_subcommand(
      "invalidate", "drop cached answers (store and fast cache): the next lookup asks the directory");
  inval->add_option("MAP", map, "all (default), passwd, group, initgroups; or user or group, then NAME|ID");
  inval->add_option("NAME|ID", entry_key, "with user or group: the one entry to drop");
  inval->callback([&] { rc = cmd_cache_invalidate(map, entry_key); });
  std::string show_what;
  auto* show = cache->add_subcommand("show", "print what is cached for a user or group, and until when");
  show->add_option("WHAT", show_what, "user or group")->required();
  show->add_option("NAME|ID", entry_key)->required();
  show->callback([&] { rc = cmd_cache_show(show_what, entry_key); });

  std::string level_text;
  auto* debug_level = app.add_subcommand("debug-level", "set the daemon's log level at run time, in every front worker (root)");
  debug_level->add_option("LEVEL", level_text, "debug, info, warning or error")->required();
  debug_level->callback([&] { rc = cmd_debug_level(level_text); });

  auto* auth = app.add_subcommand("auth", "check USER's password (prompted without echo) and account through the pam socket");
  auth->add_option("USER", key)->required();
  auth->callback([&] {
    if (!server.empty()) {
      std::fprintf(stderr, "fastid: auth: never over the network (passwords go to the local pam socket)\n");
      rc = kError;
      return;
    }
    rc = fastid::cli::cmd_auth(key);
  });

  std::string passwd_user;
  auto* passwd = app.add_subcommand(
      "passwd", "change your password in the directory (prompted without echo) through the pam socket");
  passwd->add_option("USER", passwd_user, "whose password (default: yours; root may name anyone, and needs the current password too)");
  passwd->callback([&] {
    if (!server.empty()) {
      std::fprintf(stderr, "fastid: passwd: never over the network (passwords go to the local pam socket)\n");
      rc = kError;
      return;
    }
    rc = fastid::cli::cmd_passwd(passwd_user);
  });

  app.add_subcommand("ping", "check that fastidd answers")->callback([&] {
    rc = remote() ? remote_ping(*remote()) : cmd_ping();
  });
  bool status_json = false;
  auto* status_cmd = app.add_subcommand("status", "show the daemon's figures");
  status_cmd->add_flag("--json", status_json, "one JSON object: {\"format\": 1, \"status\": {key: value}}");
  status_cmd->callback([&] {
    if (!server.empty()) {
      std::fprintf(stderr, "fastid: status: not available over the network (ask on the host)\n");
      rc = kError;
      return;
    }
    rc = cmd_status(status_json);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kError;
  }
  return rc;
}
