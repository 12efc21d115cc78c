#include "providers/ldap/ldap_provider.h"

#include <fcntl.h>
#include <lber.h>
#include <ldap.h>
#include <netdb.h>
#include <sasl/sasl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <unordered_set>

#include "core/log.h"
#include "core/trace.h"
#include "proto/wire.h"
#include "providers/krb5/keytab_credentials.h"
#include "providers/ldap/ldap_entry.h"
#include "providers/ldap/ldap_membership.h"
#include "providers/ldap/ldap_password.h"
#include "providers/ldap/ldap_values.h"
#include "providers/netgroups.h"

namespace fastid::providers {

using ldap::dn_key;
using ldap::equality_filter;
using ldap::escape_filter_value;
using ldap::first_rdn;
using ldap::invalid_field_reason;
using ldap::invalid_name_reason;
using ldap::parse_days;
using ldap::parse_id;
using ldap::printable;

namespace {

// OR-ed filters are sent in chunks of this many terms: about 30 KB of filter
// each, well below slapd's default limit on an anonymous request (256 KiB),
// and a bounded number of searches (a user in 2,000 groups costs
// ceil(2000 / 500) = 4 per nesting level).
constexpr std::size_t kTermsPerSearch = 500;
// Enumeration cursors share 32 bits with the daemon's backend index (24 left).
constexpr std::uint32_t kMaxCursor = (1u << 24) - 1;

using ldap::lowered;

timeval to_timeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

// A connection failure: the server is gone or never answered; another URI may do.
bool is_connection_error(int rc) {
  return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT ||
         rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY || rc == LDAP_TIMELIMIT_EXCEEDED;
}

std::string diagnostic(LDAP* ld) {
  char* msg = nullptr;
  std::string out;
  if (ld != nullptr && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS &&
      msg != nullptr) {
    out = msg;
    ldap_memfree(msg);
  }
  return out;
}

std::string describe(LDAP* ld, int rc) {
  std::string out = ldap_err2string(rc);
  const std::string diag = diagnostic(ld);
  if (!diag.empty() && diag != "(unknown error code)") out += " (" + printable(diag) + ")";
  return out;
}

// Whether a TCP connection to the URI's host and port opens within `timeout`:
// tells "server down" from "TLS handshake refused" after libldap said only
// "Can't contact LDAP server" for an ldaps:// URI.
bool tcp_reachable(const std::string& uri, std::chrono::milliseconds timeout) {
  LDAPURLDesc* desc = nullptr;
  if (ldap_url_parse(uri.c_str(), &desc) != LDAP_URL_SUCCESS) return false;
  const std::string host = desc->lud_host != nullptr && *desc->lud_host ? desc->lud_host : "localhost";
  const int port = desc->lud_port != 0 ? desc->lud_port
                                       : (std::string_view(desc->lud_scheme) == "ldaps" ? 636 : 389);
  ldap_free_urldesc(desc);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return false;
  bool ok = false;
  for (addrinfo* a = res; a != nullptr && !ok; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return ok;
}

using ldap::Entry;

void unbind(LDAP*& ld) {
  if (ld != nullptr) {
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    ld = nullptr;
  }
}

std::int64_t today_in_days() {
  using namespace std::chrono;
  return duration_cast<days>(system_clock::now().time_since_epoch()).count();
}

std::string date_of_day(std::int64_t day) {
  using namespace std::chrono;
  const year_month_day ymd{sys_days{days{day}}};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

// The SASL interaction of a GSSAPI bind. libldap makes a new SASL context
// for every bind, so the credential (our private ticket cache) can only be
// set here, once the context exists; every prompt (GSSAPI asks for the
// authorization identity) gets its default or nothing.
int gssapi_interact(LDAP* ld, unsigned /*flags*/, void* defaults, void* prompts) {
  if (defaults != nullptr) ldap_set_option(ld, LDAP_OPT_X_SASL_GSS_CREDS, defaults);
  for (auto* in = static_cast<sasl_interact_t*>(prompts); in != nullptr && in->id != SASL_CB_LIST_END; ++in) {
    const char* value = in->defresult != nullptr ? in->defresult : "";
    in->result = value;
    in->len = static_cast<unsigned>(std::strlen(value));
  }
  return LDAP_SUCCESS;
}

}  // namespace

struct LdapProvider::Impl {
  using P = LdapProvider;

  // Statuses say "ldap: ..." (the daemon and the pool add "provider NAME");
  // log lines name the provider themselves.
  static std::string prefix(const P&) { return "ldap: "; }
  static std::string log_prefix(const P& p) { return "ldap provider " + p.options_.name + ": "; }

  static int scope_of(Scope s) {
    switch (s) {
      case Scope::kBase: return LDAP_SCOPE_BASE;
      case Scope::kOne: return LDAP_SCOPE_ONELEVEL;
      case Scope::kSub: return LDAP_SCOPE_SUBTREE;
    }
    return LDAP_SCOPE_SUBTREE;
  }

  // A new handle for `uri` with the options every connection shares, not yet
  // connected (libldap connects on the first operation).
  static Status make_handle(const P& p, const std::string& uri, LDAP*& ld) {
    ld = nullptr;
    int rc = ldap_initialize(&ld, uri.c_str());
    if (rc != LDAP_SUCCESS) {
      return Status::invalid_argument(prefix(p) + "uri " + printable(uri) + ": " + ldap_err2string(rc));
    }
    int version = LDAP_VERSION3;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
    timeval net = to_timeval(p.options_.network_timeout);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net);
    timeval op = to_timeval(p.options_.search_timeout);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op);
    int demand = LDAP_OPT_X_TLS_DEMAND;
    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    if (!p.options_.tls_ca_file.empty()) {
      ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, p.options_.tls_ca_file.c_str());
    }
    int is_server = 0;
    rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server);
    if (rc != LDAP_OPT_SUCCESS) {
      unbind(ld);
      return Status::invalid_argument(prefix(p) + "tls_ca_file " + p.options_.tls_ca_file +
                                      ": cannot be used for TLS: " + ldap_err2string(rc));
    }
    return Status::ok();
  }

  // Connects `ld` (StartTLS if configured) and binds as dn/password.
  // kPermissionDenied: the server refused the credentials or the certificate
  // did not verify; kUnavailable: no answer.
  static Status connect_and_bind(const P& p, const std::string& uri, LDAP* ld, const std::string& dn,
                                 std::string_view password, bool user_bind) {
    const bool ldaps = uri.rfind("ldaps:", 0) == 0;
    const std::string ca = p.options_.tls_ca_file.empty() ? "the system trust store"
                                                          : "tls_ca_file " + p.options_.tls_ca_file;
    if (p.options_.start_tls && !ldaps) {
      int rc = ldap_start_tls_s(ld, nullptr, nullptr);
      if (rc != LDAP_SUCCESS) {
        if (rc == LDAP_CONNECT_ERROR) {
          return Status::permission_denied(prefix(p) + uri + ": StartTLS handshake failed: the "
                                           "server's certificate is not trusted by " + ca +
                                           " (or does not name the host): " + describe(ld, rc));
        }
        if (is_connection_error(rc)) return Status::unavailable(prefix(p) + uri + ": " + describe(ld, rc));
        return Status::permission_denied(prefix(p) + uri + ": StartTLS refused: " + describe(ld, rc));
      }
    }
    if (!user_bind && p.gss_ != nullptr) return gssapi_bind(p, uri, ld);
    berval cred{};
    cred.bv_val = const_cast<char*>(password.data());  // libldap only reads it
    cred.bv_len = password.size();
    int rc = ldap_sasl_bind_s(ld, dn.empty() ? nullptr : dn.c_str(), LDAP_SASL_SIMPLE, &cred,
                              nullptr, nullptr, nullptr);
    if (rc == LDAP_SUCCESS) return Status::ok();
    if (rc == LDAP_INVALID_CREDENTIALS) {
      if (user_bind) return Status::permission_denied(prefix(p) + "password rejected");
      return Status::permission_denied(prefix(p) + uri + ": bind as bind_dn " + printable(dn) +
                                       " rejected: invalid credentials (bind_dn, bind_password or "
                                       "bind_password_file)");
    }
    if (is_connection_error(rc)) {
      if (ldaps && rc == LDAP_SERVER_DOWN && tcp_reachable(uri, p.options_.network_timeout)) {
        return Status::permission_denied(prefix(p) + uri + ": TLS handshake failed: the server's "
                                         "certificate is not trusted by " + ca +
                                         " (or does not name the host)");
      }
      return Status::unavailable(prefix(p) + uri + ": " + describe(ld, rc));
    }
    // A policy refusal (locked account, password policy ...): the server's words.
    return Status::permission_denied(prefix(p) + (user_bind ? "" : uri + ": bind_dn ") +
                                     "bind refused: " + describe(ld, rc));
  }

  // The service account's SASL GSSAPI bind with the provider's own ticket.
  // The server's principal is ldap/<the URI's host> exactly as written
  // (no canonicalisation through DNS, which would name this host for 127.0.0.1).
  static Status gssapi_bind(const P& p, const std::string& uri, LDAP* ld) {
    ldap_set_option(ld, LDAP_OPT_X_SASL_NOCANON, LDAP_OPT_ON);
    const int rc = ldap_sasl_interactive_bind_s(ld, nullptr, "GSSAPI", nullptr, nullptr, LDAP_SASL_QUIET,
                                                gssapi_interact, p.gss_->gss_credential());
    if (rc == LDAP_SUCCESS) return Status::ok();
    const std::string why = describe(ld, rc);
    // The ticket is fine but the service ticket could not be had: the KDC is gone.
    if (is_connection_error(rc) || why.find("Cannot contact any KDC") != std::string::npos) {
      return Status::unavailable(prefix(p) + uri + ": GSSAPI bind: " + why);
    }
    return Status::permission_denied(prefix(p) + uri + ": GSSAPI bind as principal " +
                                     p.gss_->principal_name() + " refused: " + why);
  }

  // The search connection: kept open; on failure each URI is tried in order.
  static Status ensure_connected(P& p) {
    if (p.conn_ != nullptr) return Status::ok();
    if (p.gss_ != nullptr) {
      // A ticket first: without one no URI can be bound to.
      if (Status st = p.gss_->ensure_ticket(); !st) {
        core::log_warning(log_prefix(p) + st.message().substr(prefix(p).size()));
        p.last_error_ = st.message().substr(prefix(p).size());
        return st;
      }
    }
    std::string failures;
    Status worst = Status::ok();
    for (std::size_t i = 0; i < p.options_.uris.size(); ++i) {
      const std::string& uri = p.options_.uris[i];
      LDAP* ld = nullptr;
      Status st = make_handle(p, uri, ld);
      if (st) st = connect_and_bind(p, uri, ld, p.options_.bind_dn, p.password_, false);
      if (st) {
        if (!p.connected_uri_.empty() && p.connected_uri_ != uri) ++p.failovers_;
        if (i > 0) core::log_warning(log_prefix(p) + "connected to " + uri + " (earlier URIs failed)");
        p.conn_ = ld;
        p.connected_uri_ = uri;
        return Status::ok();
      }
      unbind(ld);
      core::log_warning(log_prefix(p) + st.message().substr(prefix(p).size()));
      if (!failures.empty()) failures += "; ";
      failures += st.message().substr(prefix(p).size());
      // A refusal (credentials, CA) is worse news than silence: report it.
      if (worst.ok() || st.code() != core::Code::kUnavailable) worst = st;
    }
    p.connected_uri_.clear();
    p.last_error_ = failures;
    if (worst.code() != core::Code::kUnavailable) return worst;
    return Status::unavailable(prefix(p) + "no URI answered: " + failures);
  }

  static void drop(P& p) {
    unbind(p.conn_);
    ++p.reconnects_;
  }

  // One search. On a connection failure the connection is dropped and, when
  // `retry`, the search is made again on a new connection (the next URI that
  // answers). `cookie` non-null: a paged search (in: the cookie to continue
  // from, "" to start; out: the server's next cookie, "" after the last page).
  static Result<std::vector<Entry>> search(P& p, const std::string& base, Scope scope,
                                           const std::string& filter,
                                           const std::vector<std::string>& attrs,
                                           std::string* cookie = nullptr, bool retry = true) {
    std::vector<char*> attr_ptrs;
    for (const auto& a : attrs) attr_ptrs.push_back(const_cast<char*>(a.c_str()));
    attr_ptrs.push_back(nullptr);
    for (int attempt = 0; attempt < 2; ++attempt) {
      Status st = ensure_connected(p);
      if (!st) return core::error(st);
      LDAPControl* page_ctrl = nullptr;
      if (cookie != nullptr) {
        berval c{};
        c.bv_val = cookie->data();
        c.bv_len = cookie->size();
        int rc = ldap_create_page_control(p.conn_, static_cast<ber_int_t>(p.options_.page_size),
                                          cookie->empty() ? nullptr : &c, 0, &page_ctrl);
        if (rc != LDAP_SUCCESS) {
          return core::error(Status::internal(prefix(p) + "paged results control: " + ldap_err2string(rc)));
        }
      }
      LDAPControl* ctrls[2] = {page_ctrl, nullptr};
      timeval tv = to_timeval(p.options_.search_timeout);
      LDAPMessage* res = nullptr;
      ++p.searches_;
      core::trace_stage_current("search_sent");
      int rc = ldap_search_ext_s(p.conn_, base.c_str(), scope_of(scope), filter.c_str(),
                                 attr_ptrs.data(), 0, page_ctrl ? ctrls : nullptr, nullptr, &tv,
                                 LDAP_NO_LIMIT, &res);
      core::trace_stage_current("search_answered");
      if (page_ctrl != nullptr) ldap_control_free(page_ctrl);
      if (is_connection_error(rc)) {
        const std::string why = describe(p.conn_, rc);
        if (res != nullptr) ldap_msgfree(res);
        core::log_warning(log_prefix(p) + p.connected_uri_ + ": search failed: " + why +
                          "; dropping the connection");
        p.last_error_ = p.connected_uri_ + ": " + why;
        drop(p);
        if (retry && attempt == 0) continue;
        return core::error(Status::unavailable(prefix(p) + "search failed: " + why));
      }
      if (rc == LDAP_NO_SUCH_OBJECT) {
        if (res != nullptr) ldap_msgfree(res);
        if (cookie != nullptr) cookie->clear();
        return std::vector<Entry>{};
      }
      if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
        const std::string why = describe(p.conn_, rc);
        if (res != nullptr) ldap_msgfree(res);
        p.last_error_ = why;
        // Filter and attribute errors come from the configuration; say so.
        return core::error(Status::unavailable(prefix(p) + "search of " + printable(base) + " with " +
                                               printable(filter) + " failed: " + why));
      }
      std::vector<Entry> out;
      for (LDAPMessage* e = ldap_first_entry(p.conn_, res); e != nullptr;
           e = ldap_next_entry(p.conn_, e)) {
        Entry entry;
        if (char* dn = ldap_get_dn(p.conn_, e)) {
          entry.dn = dn;
          ldap_memfree(dn);
        }
        BerElement* ber = nullptr;
        for (char* a = ldap_first_attribute(p.conn_, e, &ber); a != nullptr;
             a = ldap_next_attribute(p.conn_, e, ber)) {
          auto& vals = entry.attrs[lowered(a)];
          if (berval** bv = ldap_get_values_len(p.conn_, e, a)) {
            for (int i = 0; bv[i] != nullptr; ++i) vals.emplace_back(bv[i]->bv_val, bv[i]->bv_len);
            ldap_value_free_len(bv);
          }
          ldap_memfree(a);
        }
        if (ber != nullptr) ber_free(ber, 0);
        out.push_back(std::move(entry));
      }
      if (cookie != nullptr) {
        cookie->clear();
        LDAPControl** sctrls = nullptr;
        int err = 0;
        if (ldap_parse_result(p.conn_, res, &err, nullptr, nullptr, nullptr, &sctrls, 0) == LDAP_SUCCESS &&
            sctrls != nullptr) {
          if (LDAPControl* c = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, sctrls, nullptr)) {
            ber_int_t count = 0;
            berval next{};
            if (ldap_parse_pageresponse_control(p.conn_, c, &count, &next) == LDAP_SUCCESS) {
              if (next.bv_val != nullptr) {
                cookie->assign(next.bv_val, next.bv_len);
                ber_memfree(next.bv_val);
              }
            }
          }
          ldap_controls_free(sctrls);
        }
      }
      ldap_msgfree(res);
      return out;
    }
    return core::error(Status::unavailable(prefix(p) + "search failed"));
  }

  static void skip_entry(P& p, const Entry& e, const std::string& why) {
    ++p.skipped_;
    core::log_warning(log_prefix(p) + "entry " + printable(e.dn) + " skipped: " + why);
  }
  static void reject_entry(P& p, const Entry& e, const std::string& why) {
    ++p.rejected_;
    core::log_warning(log_prefix(p) + "entry " + printable(e.dn) + " rejected: " + why);
  }

  static std::vector<std::string> user_attr_list(const P& p) {
    return {p.ua_.name, p.ua_.uid, p.ua_.gid, p.ua_.gecos, p.ua_.home, p.ua_.shell};
  }
  static std::vector<std::string> group_attr_list(const P& p) {
    std::vector<std::string> out = {p.ga_.name, p.ga_.gid, p.ga_.member_uid};
    if (p.schema_ == Schema::kRfc2307bis) out.push_back(p.ga_.member);
    return out;
  }

  // The mapping itself is ldap_entry.cc's; here what follows from it (a log
  // line and a count for an entry skipped or rejected).
  template <typename T>
  static std::optional<T> served(P& p, const Entry& e, ldap::Mapped<T> m) {
    if (m.outcome == ldap::Outcome::kSkipped) skip_entry(p, e, m.why);
    if (m.outcome == ldap::Outcome::kRejected) reject_entry(p, e, m.why);
    return std::move(m.record);
  }
  static std::optional<User> to_user(P& p, const Entry& e, std::string_view want = {}) {
    return served(p, e, ldap::user_of_entry(p.ua_, e, want));
  }

  // The group's own fields, members not yet resolved.
  static std::optional<Group> to_group_head(P& p, const Entry& e, std::string_view want = {}) {
    return served(p, e, ldap::group_head_of_entry(p.ga_, e, want));
  }

  // Collects member names of one group: memberUid values, member DNs that
  // name a user by their RDN under the user base (no search), and — for the
  // others — one search per nesting level for child groups and one for users
  // whose DN does not carry their name, each with OR-ed RDN terms.
  struct Members {
    std::vector<std::string> names;
    std::unordered_set<std::string> seen;
  };

  static void add_member(P& p, const Entry& group, Members& m, const std::string& name) {
    if (const char* why = invalid_name_reason(name)) {
      ++p.rejected_;
      core::log_warning(log_prefix(p) + "group " + printable(group.dn) + ": member \"" + printable(name) +
                        "\" dropped: " + why);
      return;
    }
    if (m.seen.insert(name).second) m.names.push_back(name);
  }

  // Adds what `e` lists directly; DNs that need a search go to `pending` (key -> DN).
  static void take_direct(P& p, const Entry& e, Members& m, std::map<std::string, std::string>& pending,
                          const std::set<std::string>& visited) {
    if (const auto* uids = e.values(lowered(p.ga_.member_uid))) {
      for (const auto& n : *uids) add_member(p, e, m, n);
    }
    if (p.schema_ != Schema::kRfc2307bis) return;
    const auto* dns = e.values(lowered(p.ga_.member));
    if (dns == nullptr) return;
    const std::string name_attr = lowered(p.ua_.name);
    for (const auto& dn : *dns) {
      auto rdn = first_rdn(dn);
      if (!rdn) {
        ++p.rejected_;
        core::log_warning(log_prefix(p) + "group " + printable(e.dn) + ": member \"" + printable(dn) +
                          "\" is not a DN; dropped");
        continue;
      }
      // Only a value without upper-case letters is taken as the name: DN
      // matching ignores case (initgroups finds "uid=ALICE,…" for alice), the
      // name does not, so such a DN is looked up for the entry's own uid.
      const bool folded = std::none_of(rdn->value.begin(), rdn->value.end(),
                                       [](char c) { return c >= 'A' && c <= 'Z'; });
      if (p.rdn_names_users_ && folded && rdn->attr == name_attr &&
          under(rdn->parent_key, p.user_base_key_, p.user_scope_)) {
        add_member(p, e, m, rdn->value);
        continue;
      }
      auto key = dn_key(dn);
      if (key && !visited.contains(*key)) pending.emplace(*key, dn);
    }
  }

  // Whether an entry whose parent has DN key `parent` is within the scope of
  // a search of `base` (keys as dn_key makes them: RDNs joined by ',', with
  // ',' inside values escaped as "\,").
  static bool under(const std::string& parent, const std::string& base, Scope scope) {
    if (parent == base) return scope != Scope::kBase;
    if (scope != Scope::kSub) return false;
    if (base.empty()) return true;
    if (parent.size() <= base.size() + 1) return false;
    const std::size_t at = parent.size() - base.size() - 1;
    if (parent[at] != ',' || parent.compare(at + 1, std::string::npos, base) != 0) return false;
    std::size_t backslashes = 0;
    for (std::size_t i = at; i > 0 && parent[i - 1] == '\\'; --i) ++backslashes;
    return backslashes % 2 == 0;  // an escaped ',' belongs to a value
  }

  static std::string or_of_rdns(const std::vector<std::pair<std::string, std::string>>& chunk) {
    std::string f = "(|";
    for (const auto& [key, dn] : chunk) {
      auto rdn = first_rdn(dn);
      if (rdn) f += equality_filter(rdn->attr, rdn->value);
    }
    return f + ")";
  }

  // The members of `group` flattened through the groups nested in it, walked
  // by walk_nesting as memberships() walks a user's groups (the same depth,
  // each group once): per level reached, one search of the groups among the
  // member DNs that need one (none at the last level) and one of the users
  // left, in chunks of kTermsPerSearch; a DN resolved once is not searched
  // again within the lookup.
  static Status resolve_members(P& p, const Entry& group, Members& m) {
    std::map<std::string, Entry> groups;  // key -> entry of the groups reached
    const std::string root = dn_key(group.dn).value_or(group.dn);
    groups.emplace(root, group);
    std::set<std::string> not_groups;  // keys searched as groups and users: done
    std::set<std::string> seen;
    auto step = [&](int, const std::vector<ldap::NestNode>& nodes, bool last,
                    const std::set<std::string>& reached) -> Result<std::vector<ldap::NestNode>> {
      std::map<std::string, std::string> pending;  // key -> DN of members that need a search
      for (const auto& n : nodes) take_direct(p, groups.at(n.key), m, pending, reached);
      std::erase_if(pending, [&](const auto& kv) { return not_groups.contains(kv.first); });
      std::vector<ldap::NestNode> next;
      const std::vector<std::pair<std::string, std::string>> all(pending.begin(), pending.end());
      for (std::size_t i = 0; i < all.size(); i += kTermsPerSearch) {
        std::vector<std::pair<std::string, std::string>> chunk(
            all.begin() + static_cast<std::ptrdiff_t>(i),
            all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), i + kTermsPerSearch)));
        std::map<std::string, std::string> rest(chunk.begin(), chunk.end());
        const std::string ors = or_of_rdns(chunk);
        if (!last) {
          auto found = search(p, p.group_base_, p.group_scope_, "(&" + p.options_.group_filter + ors + ")",
                              group_attr_list(p));
          if (!found) return core::error(found.error());
          for (auto& g : *found) {
            auto k = dn_key(g.dn);
            if (!k || !rest.contains(*k)) continue;
            rest.erase(*k);
            next.push_back({*k, g.dn});
            groups.emplace(*k, std::move(g));
          }
        }
        if (rest.empty()) continue;
        auto users = search(p, p.user_base_, p.user_scope_, "(&" + p.options_.user_filter + ors + ")",
                            {p.ua_.name});
        if (!users) return core::error(users.error());
        for (const auto& u : *users) {
          auto k = dn_key(u.dn);
          if (!k || !rest.contains(*k)) continue;
          if (const auto* names = u.values(lowered(p.ua_.name))) add_member(p, group, m, names->front());
        }
        // Searched as a group (unless at the last level) and as a user.
        if (!last) {
          for (const auto& kv : rest) not_groups.insert(kv.first);
        }
      }
      return next;
    };
    const int depth = p.schema_ == Schema::kRfc2307bis ? p.options_.nesting_depth : 0;
    return ldap::walk_nesting({{root, group.dn}}, depth, seen, step);
  }

  static Result<Group> to_group(P& p, const Entry& e, std::string_view want = {}) {
    auto g = to_group_head(p, e, want);
    if (!g) return core::error(Status::not_found(""));
    Members m;
    Status st = resolve_members(p, e, m);
    if (!st) return core::error(st);
    if (m.names.size() > proto::kMaxGroupMembers) {
      reject_entry(p, e, std::to_string(m.names.size()) + " members, more than the protocol carries (" +
                             std::to_string(proto::kMaxGroupMembers) + ")");
      return core::error(Status::not_found(""));
    }
    g->members = std::move(m.names);
    return std::move(*g);
  }

  // The one entry of `entries` that has `want` among its `attr` values
  // (exactly, as a lookup by name matches): nullptr when none does; two or
  // more are ambiguous — the name could stand for either, so it stands for
  // neither (logged with their DNs, answered "not found").
  static Result<const Entry*> only_named(P& p, const std::vector<Entry>& entries, const std::string& attr,
                                         std::string_view want, const char* kind) {
    const Entry* found = nullptr;
    std::string dns;
    int count = 0;
    for (const auto& e : entries) {
      const auto* names = e.values(lowered(attr));
      if (names == nullptr || std::find(names->begin(), names->end(), want) == names->end()) continue;
      if (count++ == 0) found = &e;
      dns += (dns.empty() ? "" : "; ") + printable(e.dn);
    }
    if (count <= 1) return found;
    ++p.ambiguous_;
    core::log_warning(log_prefix(p) + std::to_string(count) + " " + kind + " entries named \"" + printable(want) +
                      "\" (" + dns + "): ambiguous, refused");
    return core::error(Status::not_found(prefix(p) + "ambiguous " + kind + " name: " + std::to_string(count) +
                                         " entries"));
  }

  static Result<User> one_user(P& p, const std::string& term, std::string_view want) {
    auto entries = search(p, p.user_base_, p.user_scope_, "(&" + p.options_.user_filter + term + ")",
                          user_attr_list(p));
    if (!entries) return core::error(entries.error());
    if (!want.empty()) {
      auto only = only_named(p, *entries, p.ua_.name, want, "user");
      if (!only) return core::error(only.error());
      if (*only != nullptr) {
        if (auto u = to_user(p, **only, want)) return std::move(*u);
      }
      return core::error(Status::not_found(prefix(p) + "no such user"));
    }
    for (const auto& e : *entries) {
      if (auto u = to_user(p, e, want)) return std::move(*u);
    }
    return core::error(Status::not_found(prefix(p) + "no such user"));
  }

  static Result<Group> one_group(P& p, const std::string& term, std::string_view want) {
    auto entries = search(p, p.group_base_, p.group_scope_, "(&" + p.options_.group_filter + term + ")",
                          group_attr_list(p));
    if (!entries) return core::error(entries.error());
    if (!want.empty()) {
      auto only = only_named(p, *entries, p.ga_.name, want, "group");
      if (!only) return core::error(only.error());
      if (*only == nullptr) return core::error(Status::not_found(prefix(p) + "no such group"));
      auto g = to_group(p, **only, want);
      if (g || g.error().code() != core::Code::kNotFound) return g;
      return core::error(Status::not_found(prefix(p) + "no such group"));
    }
    for (const auto& e : *entries) {
      auto g = to_group(p, e, want);
      if (g) return g;
      if (g.error().code() != core::Code::kNotFound) return g;
    }
    return core::error(Status::not_found(prefix(p) + "no such group"));
  }

  // The entry of a user by exact name (DN and requested attributes); two
  // entries of that name are ambiguous (not found): nothing binds as either.
  static Result<Entry> user_entry(P& p, std::string_view name, std::vector<std::string> attrs) {
    if (invalid_name_reason(name) != nullptr) return core::error(Status::not_found(prefix(p) + "no such user"));
    attrs.push_back(p.ua_.name);
    auto entries = search(p, p.user_base_, p.user_scope_,
                          "(&" + p.options_.user_filter + equality_filter(p.ua_.name, name) + ")", attrs);
    if (!entries) return core::error(entries.error());
    auto only = only_named(p, *entries, p.ua_.name, name, "user");
    if (!only) return core::error(only.error());
    if (*only == nullptr) return core::error(Status::not_found(prefix(p) + "no such user"));
    return **only;
  }

  // Whether a URI would carry a password in clear: ldap:// without StartTLS.
  static bool cleartext(const P& p, const std::string& uri) {
    return lowered(uri).rfind("ldaps:", 0) != 0 && !p.options_.start_tls;
  }

  template <typename T, typename Convert>
  static Result<Page<T>> walk(P& p, Walk<T>& w, std::uint32_t cursor, std::uint32_t max,
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
};

LdapProvider::LdapProvider(Options options) : options_(std::move(options)) {}

LdapProvider::~LdapProvider() { close(); }

Status LdapProvider::check_options() {
  const std::string pre = Impl::prefix(*this);
  if (options_.uris.empty()) return Status::invalid_argument(pre + "uri: at least one URI is required");
  for (const auto& uri : options_.uris) {
    LDAPURLDesc* desc = nullptr;
    const int rc = ldap_url_parse(uri.c_str(), &desc);
    if (rc != LDAP_URL_SUCCESS) {
      return Status::invalid_argument(pre + "uri " + printable(uri) + " is not an LDAP URL");
    }
    const std::string scheme = desc->lud_scheme ? desc->lud_scheme : "";
    ldap_free_urldesc(desc);
    if (scheme != "ldap" && scheme != "ldaps") {
      return Status::invalid_argument(pre + "uri " + printable(uri) + ": scheme must be ldap or ldaps");
    }
  }
  auto check_dn = [&](const char* key, const std::string& dn, bool required) -> Status {
    if (dn.empty()) {
      return required ? Status::invalid_argument(pre + key + ": a DN is required") : Status::ok();
    }
    if (!dn_key(dn)) return Status::invalid_argument(pre + key + " \"" + printable(dn) + "\" is not a DN");
    return Status::ok();
  };
  for (Status st : {check_dn("base", options_.base, true), check_dn("user_base", options_.user_base, false),
                    check_dn("group_base", options_.group_base, false),
                    check_dn("netgroup_base", options_.netgroup_base, false),
                    check_dn("bind_dn", options_.bind_dn, false)}) {
    if (!st) return st;
  }
  user_base_ = options_.user_base.empty() ? options_.base : options_.user_base;
  group_base_ = options_.group_base.empty() ? options_.base : options_.group_base;
  netgroup_base_ = options_.netgroup_base.empty() ? options_.base : options_.netgroup_base;
  user_base_key_ = *dn_key(user_base_);
  group_base_key_ = *dn_key(group_base_);
  auto scope = [&](const char* key, const std::string& text, Scope& out) -> Status {
    if (text == "sub") out = Scope::kSub;
    else if (text == "one") out = Scope::kOne;
    else if (text == "base") out = Scope::kBase;
    else return Status::invalid_argument(pre + key + " \"" + printable(text) + "\": sub, one or base");
    return Status::ok();
  };
  if (Status st = scope("user_scope", options_.user_scope, user_scope_); !st) return st;
  if (Status st = scope("group_scope", options_.group_scope, group_scope_); !st) return st;
  if (options_.schema == "rfc2307") schema_ = Schema::kRfc2307;
  else if (options_.schema == "rfc2307bis") schema_ = Schema::kRfc2307bis;
  else return Status::invalid_argument(pre + "schema \"" + printable(options_.schema) + "\": rfc2307 or rfc2307bis");
  for (const auto& [key, filter] : {std::pair{"user_filter", &options_.user_filter},
                                    std::pair{"group_filter", &options_.group_filter},
                                    std::pair{"netgroup_filter", &options_.netgroup_filter},
                                    std::pair{"access_filter", &options_.access_filter}}) {
    const std::string& f = *filter;
    if (filter == &options_.access_filter && f.empty()) continue;  // optional
    int depth = 0;
    bool balanced = f.size() >= 2 && f.front() == '(' && f.back() == ')';
    for (std::size_t i = 0; balanced && i < f.size(); ++i) {
      if (f[i] == '(') ++depth;
      if (f[i] == ')' && --depth < 0) balanced = false;
      if (depth == 0 && i + 1 < f.size()) balanced = false;
    }
    if (!balanced || depth != 0) {
      return Status::invalid_argument(pre + key + " \"" + printable(f) + "\" is not one parenthesised filter");
    }
  }
  auto attr_ok = [](const std::string& a) {
    if (a.empty()) return false;
    return std::all_of(a.begin(), a.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    });
  };
  ua_ = {};
  for (const auto& pair : options_.user_attributes) {
    auto eq = pair.find('=');
    std::string field = pair.substr(0, eq == std::string::npos ? pair.size() : eq);
    std::string attr = eq == std::string::npos ? "" : pair.substr(eq + 1);
    std::string* slot = field == "name" ? &ua_.name : field == "uid" ? &ua_.uid : field == "gid" ? &ua_.gid
                      : field == "gecos" ? &ua_.gecos : field == "home" ? &ua_.home
                      : field == "shell" ? &ua_.shell : nullptr;
    if (slot == nullptr || !attr_ok(attr)) {
      return Status::invalid_argument(pre + "user_attributes \"" + printable(pair) +
                                      "\": expected field=attribute, field one of name, uid, gid, "
                                      "gecos, home, shell");
    }
    *slot = attr;
  }
  ga_ = {};
  for (const auto& pair : options_.group_attributes) {
    auto eq = pair.find('=');
    std::string field = pair.substr(0, eq == std::string::npos ? pair.size() : eq);
    std::string attr = eq == std::string::npos ? "" : pair.substr(eq + 1);
    std::string* slot = field == "name" ? &ga_.name : field == "gid" ? &ga_.gid
                      : field == "member_uid" ? &ga_.member_uid : field == "member" ? &ga_.member : nullptr;
    if (slot == nullptr || !attr_ok(attr)) {
      return Status::invalid_argument(pre + "group_attributes \"" + printable(pair) +
                                      "\": expected field=attribute, field one of name, gid, "
                                      "member_uid, member");
    }
    *slot = attr;
  }
  if (!options_.tls_ca_file.empty() && ::access(options_.tls_ca_file.c_str(), R_OK) != 0) {
    return Status::invalid_argument(pre + "tls_ca_file " + options_.tls_ca_file + ": " + std::strerror(errno));
  }
  password_.clear();
  if (!options_.bind_password_file.empty()) {
    std::ifstream in(options_.bind_password_file);
    if (!in) {
      return Status::invalid_argument(pre + "bind_password_file " + options_.bind_password_file +
                                      ": cannot be read: " + std::strerror(errno));
    }
    std::getline(in, password_);
  } else {
    password_ = options_.bind_password;
  }
  // A member DN "<name attr>=x,<under the user base>" names user x without a
  // search — unless groups could have such DNs too (same naming attribute in
  // overlapping bases).
  const bool overlap = Impl::under(user_base_key_, group_base_key_, Scope::kSub) ||
                       Impl::under(group_base_key_, user_base_key_, Scope::kSub);
  rdn_names_users_ = lowered(ua_.name) != lowered(ga_.name) || !overlap;
  gss_.reset();
  if (!options_.sasl_mech.empty()) {
    if (options_.sasl_mech != "GSSAPI") {
      return Status::invalid_argument(pre + "sasl_mech \"" + printable(options_.sasl_mech) +
                                      "\": only GSSAPI (or empty: a simple bind)");
    }
    if (!options_.bind_dn.empty()) {
      return Status::invalid_argument(pre + "bind_dn is set with sasl_mech GSSAPI: the identity is "
                                      "the Kerberos principal; leave bind_dn empty");
    }
    gss_ = std::make_unique<krb5::KeytabCredentials>(krb5::KeytabCredentials::Options{
        .keytab = options_.keytab, .principal = options_.principal, .what = pre});
    if (Status st = gss_->check(); !st) {
      gss_.reset();
      return st;
    }
  }
  if (!options_.bind_dn.empty() && password_.empty()) {
    return Status::invalid_argument(pre + "bind_dn is set but the password is empty (bind_password "
                                    "or bind_password_file)");
  }
  checked_ = true;
  return Status::ok();
}

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

#define FASTID_LDAP_READY()                                                         \
  do {                                                                               \
    if (!checked_) {                                                                 \
      if (Status st_ = check_options(); !st_) return core::error(st_);               \
    }                                                                                \
  } while (0)

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

namespace {

// The lock attributes an account check and an authentication read.
const std::vector<std::string> kLockAttrs = {"nsAccountLock", "pwdAccountLockedTime"};
// pwdAccountLockedTime's value for "locked until an administrator unlocks it"
// (draft-behera-ldap-password-policy): no bind can clear it.
constexpr std::string_view kLockedForever = "000001010000Z";

enum class Lock { kNone, kTimed, kPermanent };

// nsAccountLock TRUE (389-ds, FreeIPA): disabled. pwdAccountLockedTime (the
// ppolicy overlay): locked forever, or since a time after which the overlay
// lets the next right password in and removes the attribute.
Lock lock_of(const Entry& e, std::string* why) {
  if (const auto* v = e.values("nsaccountlock")) {
    for (const auto& value : *v) {
      if (lowered(value) == "true") {
        *why = "account disabled in the directory (nsAccountLock)";
        return Lock::kPermanent;
      }
    }
  }
  if (const auto* v = e.values("pwdaccountlockedtime")) {
    if (std::find(v->begin(), v->end(), kLockedForever) != v->end()) {
      *why = "account locked in the directory by an administrator (pwdAccountLockedTime)";
      return Lock::kPermanent;
    }
    *why = "account locked in the directory by its password policy since " + printable(v->front()) +
           " (pwdAccountLockedTime)";
    return Lock::kTimed;
  }
  return Lock::kNone;
}

}  // namespace

Status LdapProvider::authenticate(std::string_view user, std::string_view password) {
  if (!checked_) {
    if (Status st = check_options(); !st) return st;
  }
  // A simple bind on a fresh connection to the first URI that may carry a
  // password and answers; `tried` tells whether any URI could.
  bool tried = false;
  auto bind_as = [&](const std::string& dn, std::string_view secret) {
    Status last = Status::unavailable(Impl::prefix(*this) + "no URI answered");
    for (const auto& uri : options_.uris) {
      if (!options_.allow_cleartext_passwords && Impl::cleartext(*this, uri)) continue;
      tried = true;
      LDAP* ld = nullptr;
      Status st = Impl::make_handle(*this, uri, ld);
      if (st) st = Impl::connect_and_bind(*this, uri, ld, dn, secret, true);
      unbind(ld);
      last = st;
      if (st || st.code() != core::Code::kUnavailable) break;
    }
    return last;
  };
  auto entry = Impl::user_entry(*this, user, kLockAttrs);
  if (!entry) {
    // A name the directory does not know costs what a wrong password costs —
    // the same connection and one bind, as an entry that cannot exist and with
    // a password that is not the one typed — so that the time to refuse does
    // not tell which names exist.
    if (entry.error().code() == core::Code::kNotFound && !password.empty()) {
      (void)bind_as("cn=fastid-no-such-user," + options_.base, "fastid: no such user");
    }
    return entry.error();
  }
  // An empty password would make a simple bind "unauthenticated" and succeed.
  if (password.empty()) return Status::permission_denied(Impl::prefix(*this) + "empty password");
  std::string why;
  const Lock lock = lock_of(*entry, &why);
  if (lock == Lock::kPermanent) {
    ++locked_refusals_;
    core::log_warning(Impl::log_prefix(*this) + "user \"" + printable(user) + "\" refused: " + why);
    return Status::permission_denied(Impl::prefix(*this) + why);
  }
  const Status last = bind_as(entry->dn, password);
  if (!tried) {
    ++cleartext_refusals_;
    const std::string msg = "refusing to send the password of \"" + printable(user) +
                            "\" over an unencrypted connection (ldap:// without start_tls); use "
                            "ldaps:// or start_tls, or set allow_cleartext_passwords";
    core::log_error(Impl::log_prefix(*this) + msg);
    return Status::unavailable(Impl::prefix(*this) + msg);
  }
  if (!last.ok() || lock == Lock::kNone) return last;
  // A timed lock and a bind the server accepted: with the ppolicy overlay the
  // lock is over and the bind removed it. Still there: nothing enforces it
  // (no overlay on this server), so fastid does.
  auto again = Impl::search(*this, entry->dn, Scope::kBase, "(objectClass=*)", kLockAttrs);
  if (!again) return again.error();
  if (!again->empty() && lock_of(again->front(), &why) != Lock::kNone) {
    ++locked_refusals_;
    core::log_warning(Impl::log_prefix(*this) + "user \"" + printable(user) + "\" refused: " + why);
    return Status::permission_denied(Impl::prefix(*this) + why);
  }
  return Status::ok();
}

Result<model::PasswordChange> LdapProvider::change_password(std::string_view user, std::string_view old_password,
                                                             std::string_view new_password) {
  using model::PasswordChange;
  using model::PasswordChangeVerdict;
  if (!checked_) {
    if (Status st = check_options(); !st) return core::error(st);
  }
  auto entry = Impl::user_entry(*this, user, kLockAttrs);
  if (!entry) return core::error(entry.error());
  if (old_password.empty() && new_password.empty()) return PasswordChange{};  // preliminary: ours
  // An empty password would make the bind "unauthenticated" and succeed.
  if (old_password.empty()) return PasswordChange{PasswordChangeVerdict::kOldPasswordRejected, "no current password"};
  if (new_password.empty()) return PasswordChange{PasswordChangeVerdict::kNewPasswordRefused, "the new password is empty"};
  std::string why;
  if (lock_of(*entry, &why) == Lock::kPermanent) {
    ++locked_refusals_;
    core::log_warning(Impl::log_prefix(*this) + "password change of "" + printable(user) + "" refused: " + why);
    return PasswordChange{PasswordChangeVerdict::kDenied, why};
  }
  bool tried = false;
  Status last = Status::unavailable(Impl::prefix(*this) + "no URI answered");
  for (const auto& uri : options_.uris) {
    if (!options_.allow_cleartext_passwords && Impl::cleartext(*this, uri)) continue;
    tried = true;
    LDAP* ld = nullptr;
    Status st = Impl::make_handle(*this, uri, ld);
    if (st) st = Impl::connect_and_bind(*this, uri, ld, entry->dn, old_password, true);
    if (!st) {
      unbind(ld);
      last = st;
      if (st.code() == core::Code::kUnavailable) continue;
      if (st.code() != core::Code::kPermissionDenied) return core::error(st);
      core::log_warning(Impl::log_prefix(*this) + "password change of \"" + printable(user) +
                        "\" refused: the current password did not bind (" + st.message() + ")");
      return PasswordChange{PasswordChangeVerdict::kOldPasswordRejected, "the current password is not right"};
    }
    // Bound as the user: the operation names no entry, so it can change no
    // password but the bound user's own.
    auto changed = ldap::modify_own_password(ld, old_password, new_password, options_.search_timeout);
    unbind(ld);
    if (!changed) return changed;
    if (changed->verdict == PasswordChangeVerdict::kChanged) {
      ++password_changes_;
      core::log_info(Impl::log_prefix(*this) + "password of \"" + printable(user) + "\" changed");
    } else {
      core::log_warning(Impl::log_prefix(*this) + "password change of \"" + printable(user) +
                        "\" refused by the directory: " + changed->message);
    }
    return changed;
  }
  if (!tried) {
    ++cleartext_refusals_;
    const std::string msg = "refusing to send the passwords of \"" + printable(user) +
                            "\" over an unencrypted connection (ldap:// without start_tls); use "
                            "ldaps:// or start_tls, or set allow_cleartext_passwords";
    core::log_error(Impl::log_prefix(*this) + msg);
    return core::error(Status::unavailable(Impl::prefix(*this) + msg));
  }
  return core::error(last);
}

model::Account LdapProvider::account_verdict(std::int64_t today, std::int64_t last_change,
                                             std::int64_t max_days, std::int64_t inactive,
                                             std::int64_t expire) {
  using model::AccountVerdict;
  if (expire >= 0 && today >= expire) {
    return {AccountVerdict::kExpired, "account expired on " + date_of_day(expire)};
  }
  if (last_change == 0) return {AccountVerdict::kPasswordExpired, "password change required"};
  if (last_change > 0 && max_days >= 0) {
    const std::int64_t age = today - last_change;
    if (inactive >= 0 && age > max_days + inactive) {
      return {AccountVerdict::kExpired, "account inactive since " + date_of_day(last_change + max_days + inactive)};
    }
    if (age > max_days) {
      return {AccountVerdict::kPasswordExpired, "password expired on " + date_of_day(last_change + max_days)};
    }
  }
  return {};
}

Result<model::Account> LdapProvider::account(std::string_view user) {
  FASTID_LDAP_READY();
  std::vector<std::string> attrs = {"shadowLastChange", "shadowMax", "shadowInactive", "shadowExpire", "pwdReset"};
  attrs.insert(attrs.end(), kLockAttrs.begin(), kLockAttrs.end());
  auto entry = Impl::user_entry(*this, user, std::move(attrs));
  if (!entry) return core::error(entry.error());
  // A lock, timed or not, denies: a lock the overlay would lift at the next
  // right password still stands for logins without one (SSH keys) until then.
  if (std::string why; lock_of(*entry, &why) != Lock::kNone) {
    return model::Account{model::AccountVerdict::kDenied, why};
  }
  if (!options_.access_filter.empty()) {
    // The entry itself, read again with the filter: no match, no login.
    auto match = Impl::search(*this, entry->dn, Scope::kBase, options_.access_filter, {"1.1"});
    if (!match) return core::error(match.error());
    if (match->empty()) {
      core::log_warning(Impl::log_prefix(*this) + "user \"" + printable(user) + "\" refused: entry does not match access_filter " +
                        printable(options_.access_filter));
      return model::Account{model::AccountVerdict::kDenied, "access denied by access_filter"};
    }
  }
  // ppolicy: an administrator reset the password; the user must choose a new
  // one (the overlay clears the flag when the user changes it).
  if (lowered(entry->first("pwdreset")) == "true") {
    return model::Account{model::AccountVerdict::kPasswordExpired, "password reset by an administrator: change it now"};
  }
  auto field = [&](const char* attr) -> std::int64_t {
    const std::string v = entry->first(lowered(attr));
    auto d = parse_days(v);
    return d ? *d : -1;
  };
  const std::int64_t today = today_for_test_ ? *today_for_test_ : today_in_days();
  return account_verdict(today, field("shadowLastChange"), field("shadowMax"), field("shadowInactive"),
                         field("shadowExpire"));
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
