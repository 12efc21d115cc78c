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
#include <string>
#include <vector>

#include "fastid/fastid.h"

namespace {

constexpr int kFound = 0;
constexpr int kError = 1;
constexpr int kNotFound = 2;

int report(fastid_status st, const std::string& what) {
  if (st == FASTID_NOT_FOUND) {
    std::fprintf(stderr, "fastid: %s: not found\n", what.c_str());
    return kNotFound;
  }
  const char* msg = fastid_last_message();
  std::fprintf(stderr, "fastid: %s: %s%s%s\n", what.c_str(), fastid_strerror(st),
               (msg && *msg) ? ": " : "", (msg && *msg) ? msg : "");
  return kError;
}

// A numeric argument is an id; anything else is a name (as getent does).
bool parse_id(const std::string& text, unsigned long* out) {
  if (text.empty() || text.size() > 10) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  *out = std::strtoul(text.c_str(), nullptr, 10);
  return *out <= 0xffffffffUL;
}

// Calls `lookup` with a growing buffer until it fits (as glibc does).
template <typename Lookup>
fastid_status with_buffer(std::vector<char>& buf, Lookup lookup) {
  buf.resize(1024);
  for (;;) {
    fastid_status st = lookup(buf.data(), buf.size());
    if (st != FASTID_ERANGE || buf.size() >= (1u << 24)) return st;
    buf.resize(buf.size() * 2);
  }
}

void print_passwd(const passwd& pw) {
  std::printf("%s:%s:%u:%u:%s:%s:%s\n", pw.pw_name, pw.pw_passwd, pw.pw_uid, pw.pw_gid, pw.pw_gecos,
              pw.pw_dir, pw.pw_shell);
}

void print_group(const group& gr) {
  std::printf("%s:%s:%u:", gr.gr_name, gr.gr_passwd, gr.gr_gid);
  for (char** m = gr.gr_mem; m && *m; ++m) std::printf("%s%s", m == gr.gr_mem ? "" : ",", *m);
  std::printf("\n");
}

int cmd_user(const std::string& key) {
  passwd pw{};
  std::vector<char> buf;
  unsigned long id;
  fastid_status st = with_buffer(buf, [&](char* b, size_t n) {
    return parse_id(key, &id) ? fastid_getpwuid(static_cast<uid_t>(id), &pw, b, n)
                              : fastid_getpwnam(key.c_str(), &pw, b, n);
  });
  if (st != FASTID_OK) return report(st, "user " + key);
  print_passwd(pw);
  return kFound;
}

int cmd_group(const std::string& key) {
  group gr{};
  std::vector<char> buf;
  unsigned long id;
  fastid_status st = with_buffer(buf, [&](char* b, size_t n) {
    return parse_id(key, &id) ? fastid_getgrgid(static_cast<gid_t>(id), &gr, b, n)
                              : fastid_getgrnam(key.c_str(), &gr, b, n);
  });
  if (st != FASTID_OK) return report(st, "group " + key);
  print_group(gr);
  return kFound;
}

int cmd_groups(const std::string& user) {
  std::vector<gid_t> gids(64);
  for (;;) {
    size_t n = gids.size();
    fastid_status st = fastid_initgroups(user.c_str(), gids.data(), &n);
    if (st == FASTID_ERANGE && n > gids.size()) {
      gids.resize(n);
      continue;
    }
    if (st != FASTID_OK) return report(st, "groups of " + user);
    std::printf("%s:", user.c_str());
    for (size_t i = 0; i < n; ++i) std::printf(" %u", gids[i]);
    std::printf("\n");
    return kFound;
  }
}

int cmd_ping() {
  char version[128] = {};
  fastid_status st = fastid_ping(version, sizeof version);
  if (st != FASTID_OK) return report(st, "ping");
  std::printf("%s\n", version);
  return kFound;
}

int cmd_status() {
  auto print = [](const char* key, const char* value, void*) { std::printf("%-44s %s\n", key, value); };
  fastid_status st = fastid_daemon_status(print, nullptr);
  if (st != FASTID_OK) return report(st, "status");
  return kFound;
}

int cmd_enumerate(bool users) {
  fastid_enum* e = nullptr;
  fastid_status st = fastid_enum_open(&e, users ? FASTID_ENUM_USERS : FASTID_ENUM_GROUPS);
  if (st != FASTID_OK) return report(st, users ? "users" : "groups");
  std::vector<char> buf(1 << 16);
  for (;;) {
    passwd pw{};
    group gr{};
    st = users ? fastid_enum_next_user(e, &pw, buf.data(), buf.size())
               : fastid_enum_next_group(e, &gr, buf.data(), buf.size());
    if (st == FASTID_ERANGE && buf.size() < (1u << 24)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (st != FASTID_OK) break;
    users ? print_passwd(pw) : print_group(gr);
  }
  fastid_enum_close(e);
  return st == FASTID_NOT_FOUND ? kFound : report(st, users ? "users" : "groups");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fastid — query and control the fastid identity daemon"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "fastid " FASTID_VERSION);
  std::string key;
  int rc = kError;

  auto* user = app.add_subcommand("user", "show a user by name or uid (passwd line)");
  user->add_option("NAME|UID", key)->required();
  user->callback([&] { rc = cmd_user(key); });

  auto* grp = app.add_subcommand("group", "show a group by name or gid (group line)");
  grp->add_option("NAME|GID", key)->required();
  grp->callback([&] { rc = cmd_group(key); });

  auto* groups = app.add_subcommand("groups", "list a user's supplementary group ids");
  groups->add_option("USER", key)->required();
  groups->callback([&] { rc = cmd_groups(key); });

  auto* users = app.add_subcommand("users", "enumerate every user");
  users->callback([&] { rc = cmd_enumerate(true); });
  auto* allgroups = app.add_subcommand("all-groups", "enumerate every group");
  allgroups->callback([&] { rc = cmd_enumerate(false); });

  app.add_subcommand("ping", "check that fastidd answers")->callback([&] { rc = cmd_ping(); });
  app.add_subcommand("status", "show the daemon's figures")->callback([&] { rc = cmd_status(); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kError;
  }
  return rc;
}
