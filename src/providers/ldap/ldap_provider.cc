// The LdapProvider's Provider methods (ldap_provider.h): open, close, the
// lookups of every kind with paged enumeration, initgroups through nested
// groups, netgroups, SSH keys and the stats. Its connections, entry
// mapping, option checks and authentication live in the files that
// ldap_provider_impl.h lists.
#include "providers/ldap/ldap_provider.h"

#include <ldap.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include "core/log.h"
#include "proto/wire.h"
#include "providers/krb5/keytab_credentials.h"
#include "providers/ldap/ldap_membership.h"
#include "providers/ldap/ldap_provider_impl.h"
#include "providers/netgroups.h"

namespace fastid::providers {

namespace {

// Enumeration cursors share 32 bits with the daemon's backend index (24 left).
constexpr std::uint32_t kMaxCursor = (1u << 24) - 1;

}  // namespace

template <typename T, typename Convert>
Result<Page<T>> LdapProvider::Impl::walk(P& p, Walk<T>& w, std::uint32_t cursor, std::uint32_t max,
                                         const std::string& base, Scope scope, const std::string& filter,
                                         const std::vector<std::string>& attrs, Convert convert) {
  if (max == 0) max = 1;
  if (!w.active || cursor != w.offset || cursor == 0) {
    w = Walk<T>{};
    w.active = true;
    w.offset = cursor;
    w.skip = cursor;
  }
  int restarts = 0;
  while (w.buffered.size() < max && !w.done) {
    const bool continuing = !w.cookie.empty();
    auto entries = search(p, base, scope, filter, attrs, &w.cookie, /*retry=*/!continuing);
    if (!entries) {
      // The connection or the server's paging state is gone: start a new
      // paged search and skip what was handed out (once per page request).
      if (continuing && restarts++ == 0) {
        core::log_info(log_prefix(p) + "enumeration restarted at record " + std::to_string(w.offset) +
                       ": " + entries.error().message());
        w.cookie.clear();
        w.buffered.clear();
        w.skip = w.offset;
        continue;
      }
      w.active = false;
      return core::error(entries.error());
    }
    for (const auto& e : *entries) {
      auto r = convert(e);
      if (!r) {
        if (r.error().code() == core::Code::kNotFound) continue;  // skipped or rejected, logged
        w.active = false;
        return core::error(r.error());
      }
      if (w.skip > 0) {
        --w.skip;
        continue;
      }
      w.buffered.push_back(std::move(*r));
    }
    if (w.cookie.empty()) w.done = true;
  }
  Page<T> out;
  while (!w.buffered.empty() && out.records.size() < max) {
    out.records.push_back(std::move(w.buffered.front()));
    w.buffered.pop_front();
  }
  w.offset += static_cast<std::uint32_t>(out.records.size());
  if (w.offset > kMaxCursor) {
    w.active = false;
    return core::error(Status::invalid_argument(prefix(p) + "enumeration longer than " +
                                                std::to_string(kMaxCursor) + " records"));
  }
  out.next_cursor = w.offset;
  out.more = !w.buffered.empty() || !w.done;
  if (!out.more) w.active = false;
  return out;
}

LdapProvider::LdapProvider(Options options) : options_(std::move(options)) {}

LdapProvider::~LdapProvider() { close(); }

Status LdapProvider::open() {
  close();
  if (Status st = check_options(); !st) return st;
  warn_cleartext();  // before connecting: a directory that is down changes nothing
  if (Status st = Impl::ensure_connected(*this); !st) return st;
  // The bases must exist: a typo there would make every lookup "not found".
  std::set<std::string> bases = {options_.base, user_base_, group_base_};
  for (const auto& base : bases) {
    LDAPMessage* res = nullptr;
    timeval tv = to_timeval(options_.search_timeout);
    char no_attrs[] = "1.1";
    char* attrs[] = {no_attrs, nullptr};
    ++searches_;
    const int rc = ldap_search_ext_s(conn_, base.c_str(), LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
                                     nullptr, nullptr, &tv, 1, &res);
    if (res != nullptr) ldap_msgfree(res);
    if (rc == LDAP_NO_SUCH_OBJECT) {
      const std::string key = base == options_.base ? "base" : base == user_base_ ? "user_base" : "group_base";
      return Status::not_found(Impl::prefix(*this) + key + " " + printable(base) + " does not exist on " +
                               connected_uri_);
    }
    if (rc != LDAP_SUCCESS) {
      const std::string why = describe(conn_, rc);
      Impl::drop(*this);
      if (is_connection_error(rc)) return Status::unavailable(Impl::prefix(*this) + "reading base: " + why);
      return Status::permission_denied(Impl::prefix(*this) + "base " + printable(base) + " cannot be read: " + why);
    }
  }
  core::log_info(Impl::log_prefix(*this) + "connected to " + connected_uri_ + " (" + options_.schema + ")");
  return Status::ok();
}

// Said at every open (daemon start, each pool worker): a provider that can
// send a password in clear is worth a warning each time.
void LdapProvider::warn_cleartext() const {
  std::string plain;
  for (const auto& uri : options_.uris) {
    if (Impl::cleartext(*this, uri)) plain += (plain.empty() ? "" : ", ") + uri;
  }
  if (plain.empty()) return;
  if (!options_.bind_dn.empty()) {
    core::log_warning(Impl::log_prefix(*this) + "the password of bind_dn goes in clear to " + plain +
                      " (no TLS: use ldaps:// or start_tls)");
  }
  if (options_.allow_cleartext_passwords) {
    core::log_warning(Impl::log_prefix(*this) + "allow_cleartext_passwords: users' passwords go in clear to " +
                      plain + " when they authenticate");
  } else {
    core::log_warning(Impl::log_prefix(*this) + "authentication will not use " + plain +
                      " (no TLS; allow_cleartext_passwords is off)");
  }
}

void LdapProvider::close() {
  unbind(conn_);
  gss_.reset();  // destroys the private ticket cache
  connected_uri_.clear();
  user_walk_ = {};
  group_walk_ = {};
  std::fill(password_.begin(), password_.end(), '\0');
  password_.clear();
  checked_ = false;
}

Result<Answer> LdapProvider::lookup(const Query& q) {
  using model::Kind;
  FASTID_LDAP_READY();
  switch (q.kind) {
    case Kind::kUserByName:
      if (invalid_name_reason(q.name) != nullptr) return core::error(Status::not_found(Impl::prefix(*this) + "no such user"));
      return Impl::one_user(*this, equality_filter(ua_.name, q.name), q.name);
    case Kind::kUserByUid:
      return Impl::one_user(*this, equality_filter(ua_.uid, std::to_string(q.id)), {});
    case Kind::kGroupByName:
      if (invalid_name_reason(q.name) != nullptr) return core::error(Status::not_found(Impl::prefix(*this) + "no such group"));
      return Impl::one_group(*this, equality_filter(ga_.name, q.name), q.name);
    case Kind::kGroupByGid:
      return Impl::one_group(*this, equality_filter(ga_.gid, std::to_string(q.id)), {});
    case Kind::kInitgroups:
      return memberships(q.name);
    case Kind::kUsersPage:
      return Impl::walk<User>(*this, user_walk_, q.cursor, q.max, user_base_, user_scope_, options_.user_filter,
                              Impl::user_attr_list(*this), [this](const Entry& e) -> Result<User> {
                                auto u = Impl::to_user(*this, e);
                                if (!u) return core::error(Status::not_found(""));
                                return std::move(*u);
                              });
    case Kind::kGroupsPage:
      return Impl::walk<Group>(*this, group_walk_, q.cursor, q.max, group_base_, group_scope_, options_.group_filter,
                               Impl::group_attr_list(*this),
                               [this](const Entry& e) -> Result<Group> { return Impl::to_group(*this, e); });
    case Kind::kNetgroup: {
      auto ng = netgroup(q.name);
      if (!ng) return core::error(ng.error());
      return Answer(std::move(*ng));
    }
    case Kind::kSshKeys: {
      auto keys = ssh_keys(q.name);
      if (!keys) return core::error(keys.error());
      return Answer(std::move(*keys));
    }
  }
  return core::error(Status::invalid_argument(Impl::prefix(*this) + "unknown lookup kind"));
}

Result<model::Gids> LdapProvider::memberships(std::string_view user) {
  FASTID_LDAP_READY();
  auto entry = Impl::user_entry(*this, user, {});
  if (!entry) return core::error(entry.error());
  const bool bis = schema_ == Schema::kRfc2307bis;
  std::string term = equality_filter(ga_.member_uid, user);
  if (bis) term = "(|" + term + equality_filter(ga_.member, entry->dn) + ")";
  std::vector<std::uint32_t> gids;
  std::set<std::uint32_t> have;
  std::map<std::string, Entry> groups;  // key -> entry of the groups found
  const std::vector<std::string> attrs = {ga_.name, ga_.gid};
  auto nodes_of = [&](std::vector<Entry>& found) {
    std::vector<ldap::NestNode> out;
    for (auto& g : found) {
      auto k = dn_key(g.dn);
      if (!k) continue;
      out.push_back({*k, g.dn});
      groups.emplace(*k, std::move(g));
    }
    return out;
  };
  auto direct = Impl::search(*this, group_base_, group_scope_, "(&" + options_.group_filter + term + ")", attrs);
  if (!direct) return core::error(direct.error());
  std::set<std::string> seen;
  if (auto k = dn_key(entry->dn)) seen.insert(*k);
  // The user's groups are level 0; each level up is one search (in chunks)
  // for the groups that list the level's DNs as members.
  auto step = [&](int, const std::vector<ldap::NestNode>& nodes, bool last,
                  const std::set<std::string>&) -> Result<std::vector<ldap::NestNode>> {
    for (const auto& n : nodes) {
      // An invalid group is not served, but its parents still count (as
      // group_by_gid of a parent lists this group's members).
      auto head = Impl::to_group_head(*this, groups.at(n.key));
      if (head && have.insert(head->gid).second) gids.push_back(head->gid);
    }
    std::vector<Entry> parents;
    for (std::size_t i = 0; !last && i < nodes.size(); i += kTermsPerSearch) {
      std::string ors = "(|";
      for (std::size_t j = i; j < std::min(nodes.size(), i + kTermsPerSearch); ++j) {
        ors += equality_filter(ga_.member, nodes[j].dn);
      }
      ors += ")";
      auto found = Impl::search(*this, group_base_, group_scope_, "(&" + options_.group_filter + ors + ")", attrs);
      if (!found) return core::error(found.error());
      std::move(found->begin(), found->end(), std::back_inserter(parents));
    }
    return nodes_of(parents);
  };
  if (Status st = ldap::walk_nesting(nodes_of(*direct), bis ? options_.nesting_depth : 0, seen, step); !st) {
    return core::error(st);
  }
  if (gids.size() > proto::kMaxInitgroups) {
    return core::error(Status::invalid_argument(Impl::prefix(*this) + "user in " + std::to_string(gids.size()) +
                                                " groups, more than the protocol carries (" +
                                                std::to_string(proto::kMaxInitgroups) + ")"));
  }
  return gids;
}

Result<model::Netgroup> LdapProvider::netgroup(const std::string& name) {
  if (invalid_netgroup_name_reason(name) != nullptr) {
    return core::error(Status::not_found(Impl::prefix(*this) + "no such netgroup"));
  }
  static const std::string kName = "cn", kTriple = "nisnetgrouptriple", kMember = "membernisnetgroup";
  const std::vector<std::string> attrs = {"cn", "nisNetgroupTriple", "memberNisNetgroup"};
  auto fetch = [&](const std::vector<std::string>& names) -> Result<std::map<std::string, NetgroupEntry>> {
    std::map<std::string, NetgroupEntry> out;
    for (std::size_t from = 0; from < names.size(); from += kTermsPerSearch) {
      std::string any;
      for (std::size_t i = from; i < names.size() && i < from + kTermsPerSearch; ++i) any += equality_filter("cn", names[i]);
      auto entries = Impl::search(*this, netgroup_base_, Scope::kSub, "(&" + options_.netgroup_filter + "(|" + any + "))", attrs);
      if (!entries) return core::error(entries.error());
      for (std::size_t i = from; i < names.size() && i < from + kTermsPerSearch; ++i) {
        // Exactly that name (cn matching ignores case), and one entry of it.
        auto only = Impl::only_named(*this, *entries, kName, names[i], "netgroup");
        if (!only || *only == nullptr) continue;
        const Entry& e = **only;
        NetgroupEntry ng;
        if (const auto* triples = e.values(kTriple)) {
          for (const auto& text : *triples) {
            const char* why = nullptr;
            if (auto t = parse_triple(text, &why)) {
              ng.triples.push_back(std::move(*t));
            } else {
              Impl::reject_entry(*this, e, std::string(why) + " (nisNetgroupTriple \"" + printable(text) + "\"; that triple only)");
            }
          }
        }
        if (const auto* members = e.values(kMember)) ng.members = *members;
        out.emplace(names[i], std::move(ng));
      }
    }
    return out;
  };
  return flatten_netgroup(name, fetch);
}

Result<model::SshKeys> LdapProvider::ssh_keys(std::string_view user) {
  if (options_.ssh_key_attribute.empty()) return core::error(Status::not_found(Impl::prefix(*this) + "no SSH keys"));
  auto entry = Impl::user_entry(*this, user, {options_.ssh_key_attribute});
  if (!entry) return core::error(entry.error());
  model::SshKeys keys{std::string(user), {}};
  if (const auto* values = entry->values(lowered(options_.ssh_key_attribute))) keys.keys = *values;
  return keys;
}

std::vector<std::pair<std::string, std::string>> LdapProvider::stats() const {
  return {
      {"connected_uri", connected_uri_.empty() ? "-" : connected_uri_},
      {"tickets_obtained", std::to_string(gss_ != nullptr ? gss_->tickets_obtained() : 0)},
      {"searches", std::to_string(searches_)},
      {"reconnects", std::to_string(reconnects_)},
      {"failovers", std::to_string(failovers_)},
      {"entries_rejected", std::to_string(rejected_)},
      {"entries_skipped", std::to_string(skipped_)},
      {"ambiguous_names", std::to_string(ambiguous_)},
      {"cleartext_refusals", std::to_string(cleartext_refusals_)},
      {"locked_refusals", std::to_string(locked_refusals_)},
      {"password_changes", std::to_string(password_changes_)},
      {"last_error", last_error_.empty() ? "-" : last_error_},
  };
}

}  // namespace fastid::providers
