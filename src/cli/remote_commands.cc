// The fastid tool's lookups with --server HOST:PORT: a remote fastidd over
// TCP (or UDP first with --udp), through netclient::NetClient.
#include "cli/commands.h"

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cli/auth.h"
#include "default_paths.h"
#include "fastid/fastid.h"
#include "netclient/net_client.h"
#include "netclient/tls_session.h"
#include "proto/messages.h"
#include "proto/wire.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace fastid::cli {

namespace {

int remote_report(const fastid::core::Status& st, const std::string& what) {
  if (st.code() == fastid::core::Code::kNotFound) {
    std::fprintf(stderr, "fastid: %s: not found\n", what.c_str());
    return kNotFound;
  }
  std::fprintf(stderr, "fastid: %s: %s\n", what.c_str(), st.to_string().c_str());
  return kError;
}

void remote_note(const Remote& r) {
  if (!r.verbose) return;
  const auto& info = r.client->last_call();
  std::fprintf(stderr, "fastid: answered by %s over %s%s\n", info.server.c_str(),
               info.answered_by == fastid::netclient::Transport::kUdp ? "udp" : "tcp",
               info.truncated ? " (udp reply truncated, asked again over tcp)" : "");
}

using fastid::model::answer_as;
using fastid::model::Query;

void print_user(const fastid::model::User& u) {
  std::printf("%s:%s:%u:%u:%s:%s:%s\n", u.name.c_str(), u.passwd.c_str(), u.uid, u.gid, u.gecos.c_str(),
              u.dir.c_str(), u.shell.c_str());
}

void print_group_record(const fastid::model::Group& g) {
  std::printf("%s:%s:%u:", g.name.c_str(), g.passwd.c_str(), g.gid);
  for (std::size_t i = 0; i < g.members.size(); ++i) std::printf("%s%s", i ? "," : "", g.members[i].c_str());
  std::printf("\n");
}

}  // namespace

int remote_user(const Remote& r, const std::string& key) {
  unsigned long id;
  auto q = parse_id(key, &id) ? Query::user_by_uid(static_cast<std::uint32_t>(id)) : Query::user_by_name(key);
  auto u = answer_as<fastid::model::User>(r.client->lookup(q, r.transport));
  remote_note(r);
  if (!u) return remote_report(u.error(), "user " + key);
  print_user(*u);
  return kFound;
}

int remote_group(const Remote& r, const std::string& key) {
  unsigned long id;
  auto q = parse_id(key, &id) ? Query::group_by_gid(static_cast<std::uint32_t>(id)) : Query::group_by_name(key);
  auto g = answer_as<fastid::model::Group>(r.client->lookup(q, r.transport));
  remote_note(r);
  if (!g) return remote_report(g.error(), "group " + key);
  print_group_record(*g);
  return kFound;
}

int remote_groups(const Remote& r, const std::string& user) {
  auto gids = answer_as<fastid::model::Gids>(r.client->lookup(Query::initgroups(user), r.transport));
  remote_note(r);
  if (!gids) return remote_report(gids.error(), "groups of " + user);
  std::printf("%s:", user.c_str());
  for (auto g : *gids) std::printf(" %u", g);
  std::printf("\n");
  return kFound;
}

int remote_ping(const Remote& r) {
  auto v = r.client->ping(r.transport);
  remote_note(r);
  if (!v) return remote_report(v.error(), "ping");
  std::printf("%s\n", v->c_str());
  return kFound;
}

int remote_enumerate(const Remote& r, bool users) {
  std::uint32_t cursor = 0;
  for (int pages = 0; pages < 1000000; ++pages) {
    bool more;
    if (users) {
      auto page = answer_as<fastid::model::Page<fastid::model::User>>(r.client->lookup(Query::users_page(cursor, 0)));
      if (!page) return remote_report(page.error(), "users");
      for (const auto& u : page->records) print_user(u);
      more = page->more;
      cursor = page->next_cursor;
    } else {
      auto page = answer_as<fastid::model::Page<fastid::model::Group>>(r.client->lookup(Query::groups_page(cursor, 0)));
      if (!page) return remote_report(page.error(), "groups");
      for (const auto& g : page->records) print_group_record(g);
      more = page->more;
      cursor = page->next_cursor;
    }
    if (!more) return kFound;
  }
  return kError;
}

}  // namespace fastid::cli
