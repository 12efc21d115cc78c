// LdapAsyncConnection: libldap's asynchronous searches on one handle (ldap_async_connection.h).
#include "providers/ldap/ldap_async_connection.h"

#include <fcntl.h>
#include <ldap.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "providers/ldap/ldap_provider.h"

namespace fastid::providers {

namespace {

using core::Status;

std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool connection_error(int rc) {
  return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE ||
         rc == LDAP_BUSY;
}

std::string error_text(LDAP* ld, int rc) {
  std::string out = ldap_err2string(rc);
  char* msg = nullptr;
  if (ld != nullptr && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS && msg != nullptr) {
    if (*msg != '\0') out += std::string(" (") + msg + ")";
    ldap_memfree(msg);
  }
  return out;
}

// The entries of one complete search result chain, as the provider reads its own.
std::vector<LdapEntryData> entries_of(LDAP* ld, LDAPMessage* res) {
  std::vector<LdapEntryData> out;
  for (LDAPMessage* e = ldap_first_entry(ld, res); e != nullptr; e = ldap_next_entry(ld, e)) {
    LdapEntryData entry;
    if (char* dn = ldap_get_dn(ld, e)) {
      entry.dn = dn;
      ldap_memfree(dn);
    }
    BerElement* ber = nullptr;
    for (char* a = ldap_first_attribute(ld, e, &ber); a != nullptr; a = ldap_next_attribute(ld, e, ber)) {
      auto& vals = entry.attrs[lowered(a)];
      if (berval** bv = ldap_get_values_len(ld, e, a)) {
        for (int i = 0; bv[i] != nullptr; ++i) vals.emplace_back(bv[i]->bv_val, bv[i]->bv_len);
        ldap_value_free_len(bv);
      }
      ldap_memfree(a);
    }
    if (ber != nullptr) ber_free(ber, 0);
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

core::Result<std::unique_ptr<LdapAsyncConnection>> LdapAsyncConnection::connect(LdapProvider& connector) {
  if (Status st = connector.open(); !st) return core::error(st);
  std::string uri;
  LDAP* ld = connector.release_connection(&uri);
  connector.close();
  if (ld == nullptr) return core::error(Status::unavailable("ldap: no connection after open"));
  int fd = -1;
  if (ldap_get_option(ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS || fd < 0) {
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    return core::error(Status::unavailable("ldap: " + uri + ": the connection has no descriptor"));
  }
  // From here on no call waits for the server: a read that finds half a
  // message (or half a TLS record) returns EAGAIN, which libldap takes as
  // "no message yet"; a write that would wait is refused (send()). The send
  // buffer holds every search outstanding (kMaxOutstanding of them, each a
  // few hundred bytes), so a write waits only on a server that reads nothing.
  const int flags = ::fcntl(fd, F_GETFL);
  const int sndbuf = kSendBuffer;
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0) {
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    return core::error(Status::unavailable("ldap: " + uri + ": cannot make the connection non-blocking"));
  }
  return std::unique_ptr<LdapAsyncConnection>(new LdapAsyncConnection(ld, std::move(uri), fd));
}

LdapAsyncConnection::~LdapAsyncConnection() {
  if (ld_ != nullptr) ldap_unbind_ext_s(ld_, nullptr, nullptr);
}

core::Result<int> LdapAsyncConnection::send(const LdapSearchRequest& r, int size_limit) {
  std::vector<char*> attrs;
  for (const auto& a : r.attrs) attrs.push_back(const_cast<char*>(a.c_str()));
  attrs.push_back(nullptr);
  int msgid = -1;
  int ok = LDAP_SUCCESS;
  ldap_set_option(ld_, LDAP_OPT_RESULT_CODE, &ok);
  const int rc = ldap_search_ext(ld_, r.base.c_str(), r.scope, r.filter.c_str(), attrs.data(), 0, nullptr, nullptr,
                                 nullptr, size_limit, &msgid);
  if (rc != LDAP_SUCCESS) return core::error(Status::unavailable("ldap: " + uri_ + ": search not sent: " + error_text(ld_, rc)));
  // libldap keeps a request it could only partly write (the socket's buffer
  // full: LDAP_BUSY) to finish later and refuses the next one. A server that
  // does not read what fits in kSendBuffer is as good as hung: the caller
  // drops the connection rather than wait for it.
  int after = LDAP_SUCCESS;
  if (ldap_get_option(ld_, LDAP_OPT_RESULT_CODE, &after) == LDAP_OPT_SUCCESS && after == LDAP_BUSY) {
    return core::error(Status::unavailable("ldap: " + uri_ + ": the server reads no more searches"));
  }
  return msgid;
}

core::Result<std::vector<LdapAsyncConnection::Completed>> LdapAsyncConnection::poll() {
  std::vector<Completed> done;
  for (;;) {
    timeval zero{0, 0};
    LDAPMessage* res = nullptr;
    const int type = ldap_result(ld_, LDAP_RES_ANY, LDAP_MSG_ALL, &zero, &res);
    if (type == 0) return done;  // nothing more is complete
    if (type < 0) {
      int err = LDAP_SERVER_DOWN;
      ldap_get_option(ld_, LDAP_OPT_RESULT_CODE, &err);
      if (res != nullptr) ldap_msgfree(res);
      return core::error(Status::unavailable("ldap: " + uri_ + ": " + error_text(ld_, err)));
    }
    Completed c;
    c.msgid = ldap_msgid(res);
    // A complete search chain is returned with the type of its first message:
    // an entry or a reference when it has any (a chain that was already
    // complete in libldap's list), the result otherwise.
    if (type != LDAP_RES_SEARCH_RESULT && type != LDAP_RES_SEARCH_ENTRY && type != LDAP_RES_SEARCH_REFERENCE) {
      // Not ours (an unsolicited notice of disconnection, a stray reply).
      ldap_msgfree(res);
      if (type == LDAP_RES_EXTENDED) return core::error(Status::unavailable("ldap: " + uri_ + ": the server ended the connection"));
      continue;
    }
    int rc = LDAP_OTHER;
    char* matched = nullptr;
    char* text = nullptr;
    if (ldap_parse_result(ld_, res, &rc, &matched, &text, nullptr, nullptr, 0) != LDAP_SUCCESS) rc = LDAP_OTHER;
    std::string why = ldap_err2string(rc);
    if (text != nullptr && *text != '\0') why += std::string(" (") + text + ")";
    if (matched != nullptr) ldap_memfree(matched);
    if (text != nullptr) ldap_memfree(text);
    if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
      c.entries = entries_of(ld_, res);
    } else if (rc == LDAP_NO_SUCH_OBJECT) {
      c.entries = std::vector<LdapEntryData>{};
    } else {
      c.entries = core::error(Status::unavailable("ldap: " + uri_ + ": search failed: " + why));
      if (connection_error(rc)) {
        ldap_msgfree(res);
        return core::error(Status::unavailable("ldap: " + uri_ + ": " + why));
      }
    }
    ldap_msgfree(res);
    done.push_back(std::move(c));
  }
}

}  // namespace fastid::providers
