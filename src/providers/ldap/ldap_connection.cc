// The LDAP provider's connections: a libldap handle with the provider's TLS
// and timeout options, StartTLS, simple and GSSAPI binds, the kept search
// connection with failover across the URIs, and one search (paged or not)
// with its entries read out (ldap_provider_impl.h).
#include <lber.h>
#include <ldap.h>
#include <netdb.h>
#include <poll.h>
#include <sasl/sasl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "core/trace.h"
#include "providers/krb5/keytab_credentials.h"
#include "providers/ldap/ldap_bind_policy.h"
#include "providers/ldap/ldap_provider_impl.h"

namespace fastid::providers {

namespace {

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

namespace ldap {

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

std::string describe(LDAP* ld, int rc) {
  std::string out = ldap_err2string(rc);
  const std::string diag = diagnostic(ld);
  if (!diag.empty() && diag != "(unknown error code)") out += " (" + printable(diag) + ")";
  return out;
}

void unbind(LDAP*& ld) {
  if (ld != nullptr) {
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    ld = nullptr;
  }
}

}  // namespace ldap

int LdapProvider::Impl::scope_of(Scope s) {
  switch (s) {
    case Scope::kBase: return LDAP_SCOPE_BASE;
    case Scope::kOne: return LDAP_SCOPE_ONELEVEL;
    case Scope::kSub: return LDAP_SCOPE_SUBTREE;
  }
  return LDAP_SCOPE_SUBTREE;
}

// A new handle for `uri` with the options every connection shares, not yet
// connected (libldap connects on the first operation).
Status LdapProvider::Impl::make_handle(const P& p, const std::string& uri, LDAP*& ld) {
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
Status LdapProvider::Impl::connect_and_bind(const P& p, const std::string& uri, LDAP* ld, const std::string& dn,
                                            std::string_view password, bool user_bind,
                                            ldap::BindPolicyNotice* notice) {
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
  int rc = notice != nullptr
               ? ldap::simple_bind_with_policy(ld, dn, password, p.options_.search_timeout, notice)
               : ldap_sasl_bind_s(ld, dn.empty() ? nullptr : dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr,
                                  nullptr, nullptr);
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
Status LdapProvider::Impl::gssapi_bind(const P& p, const std::string& uri, LDAP* ld) {
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
Status LdapProvider::Impl::ensure_connected(P& p) {
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

void LdapProvider::Impl::drop(P& p) {
  unbind(p.conn_);
  ++p.reconnects_;
}

// One search. On a connection failure the connection is dropped and, when
// `retry`, the search is made again on a new connection (the next URI that
// answers). `cookie` non-null: a paged search (in: the cookie to continue
// from, "" to start; out: the server's next cookie, "" after the last page).
Result<std::vector<Entry>> LdapProvider::Impl::search(P& p, const std::string& base, Scope scope,
                                                      const std::string& filter,
                                                      const std::vector<std::string>& attrs,
                                                      std::string* cookie, bool retry) {
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

// Whether a URI would carry a password in clear: ldap:// without StartTLS.
bool LdapProvider::Impl::cleartext(const P& p, const std::string& uri) {
  return lowered(uri).rfind("ldaps:", 0) != 0 && !p.options_.start_tls;
}

}  // namespace fastid::providers
