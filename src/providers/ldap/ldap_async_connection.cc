// LdapAsyncConnection: libldap's asynchronous searches on one handle (ldap_async_connection.h).
#include "providers/ldap/ldap_async_connection.h"

#include <errno.h>
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

// The entries of a search's message (an entry, or a chain), as the provider reads its own.
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

// The write watcher: a pass-through socket layer above libldap's own (TLS
// included) that records whether the last write was refused for want of
// room. libldap writes a request with one or more writes until it is all out
// or one fails with EAGAIN; the request is then left "writing" inside
// libldap, which is not visible from outside.
int watcher_setup(Sockbuf_IO_Desc* sbiod, void* arg) {
  sbiod->sbiod_pvt = arg;
  return 0;
}
int watcher_remove(Sockbuf_IO_Desc*) { return 0; }
int watcher_ctrl(Sockbuf_IO_Desc* sbiod, int opt, void* arg) { return LBER_SBIOD_CTRL_NEXT(sbiod, opt, arg); }
ber_slen_t watcher_read(Sockbuf_IO_Desc* sbiod, void* buf, ber_len_t len) {
  return LBER_SBIOD_READ_NEXT(sbiod, buf, len);
}
ber_slen_t watcher_write(Sockbuf_IO_Desc* sbiod, void* buf, ber_len_t len) {
  const ber_slen_t n = LBER_SBIOD_WRITE_NEXT(sbiod, buf, len);
  const int err = errno;
  bool* blocked = static_cast<bool*>(sbiod->sbiod_pvt);
  if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK)) {
    *blocked = true;
  } else if (n >= 0 && static_cast<ber_len_t>(n) == len) {
    *blocked = false;
  }
  errno = err;
  return n;
}
int watcher_close(Sockbuf_IO_Desc*) { return 0; }
Sockbuf_IO write_watcher = {watcher_setup, watcher_remove, watcher_ctrl, watcher_read, watcher_write, watcher_close};

}  // namespace

bool LdapAsyncConnection::watch_writes() {
  Sockbuf* sb = nullptr;
  if (ldap_get_option(ld_, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS || sb == nullptr) return false;
  return ber_sockbuf_add_io(sb, &write_watcher, LBER_SBIOD_LEVEL_APPLICATION, &writes_.blocked) == 0;
}

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
  // "no message yet"; a write that finds the socket full leaves the rest of
  // the search to libldap, which writes it from ldap_result once the socket
  // takes it (poll()); a write is left over only while a server reads
  // slower than it is asked.
  const int flags = ::fcntl(fd, F_GETFL);
  const int sndbuf = kSendBuffer;
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0) {
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    return core::error(Status::unavailable("ldap: " + uri + ": cannot make the connection non-blocking"));
  }
  std::unique_ptr<LdapAsyncConnection> conn(new LdapAsyncConnection(ld, std::move(uri), fd));
  if (!conn->watch_writes()) {
    return core::error(Status::unavailable("ldap: " + conn->uri_ + ": cannot watch the connection's writes"));
  }
  return conn;
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
  // libldap keeps a request it could only partly write (the socket's buffer
  // full) to finish later, and refuses the next one with LDAP_BUSY (after
  // one more try at the rest) while it is not all out: that search was not
  // sent, and the connection is fine.
  if (rc == LDAP_BUSY && writes_.blocked) {
    return core::error(Status::busy("ldap: " + uri_ + ": a search is still being written"));
  }
  if (rc != LDAP_SUCCESS) return core::error(Status::unavailable("ldap: " + uri_ + ": search not sent: " + error_text(ld_, rc)));
  return msgid;
}

// One message at a time (LDAP_MSG_ONE), as many as are there: with a zero
// timeout libldap's ldap_result stops after reading one message that does
// not complete what it was asked for, so asking for whole chains
// (LDAP_MSG_ALL) read a search's entry on one wake-up and its result on the
// next, a loop round trip per message. Entries are kept per search here
// until its result arrives.
core::Result<std::vector<LdapAsyncConnection::Completed>> LdapAsyncConnection::poll() {
  std::vector<Completed> done;
  for (;;) {
    timeval zero{0, 0};
    LDAPMessage* msg = nullptr;
    const int type = ldap_result(ld_, LDAP_RES_ANY, LDAP_MSG_ONE, &zero, &msg);
    if (type == 0) return done;  // nothing more is there
    if (type < 0) {
      int err = LDAP_SERVER_DOWN;
      ldap_get_option(ld_, LDAP_OPT_RESULT_CODE, &err);
      if (msg != nullptr) ldap_msgfree(msg);
      return core::error(Status::unavailable("ldap: " + uri_ + ": " + error_text(ld_, err)));
    }
    const int msgid = ldap_msgid(msg);
    if (type == LDAP_RES_SEARCH_ENTRY) {
      auto got = entries_of(ld_, msg);
      ldap_msgfree(msg);
      auto& entries = partial_[msgid];
      for (auto& e : got) entries.push_back(std::move(e));
      continue;
    }
    if (type == LDAP_RES_SEARCH_REFERENCE) {  // not followed, as in the provider
      ldap_msgfree(msg);
      continue;
    }
    if (type != LDAP_RES_SEARCH_RESULT) {
      // Not ours (an unsolicited notice of disconnection, a stray reply).
      ldap_msgfree(msg);
      if (type == LDAP_RES_EXTENDED) return core::error(Status::unavailable("ldap: " + uri_ + ": the server ended the connection"));
      continue;
    }
    Completed c;
    c.msgid = msgid;
    std::vector<LdapEntryData> entries;
    if (auto it = partial_.find(msgid); it != partial_.end()) {
      entries = std::move(it->second);
      partial_.erase(it);
    }
    int rc = LDAP_OTHER;
    char* matched = nullptr;
    char* text = nullptr;
    if (ldap_parse_result(ld_, msg, &rc, &matched, &text, nullptr, nullptr, 0) != LDAP_SUCCESS) rc = LDAP_OTHER;
    std::string why = ldap_err2string(rc);
    if (text != nullptr && *text != '\0') why += std::string(" (") + text + ")";
    if (matched != nullptr) ldap_memfree(matched);
    if (text != nullptr) ldap_memfree(text);
    ldap_msgfree(msg);
    if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
      c.entries = std::move(entries);
    } else if (rc == LDAP_NO_SUCH_OBJECT) {
      c.entries = std::vector<LdapEntryData>{};
    } else {
      if (connection_error(rc)) return core::error(Status::unavailable("ldap: " + uri_ + ": " + why));
      c.entries = core::error(Status::unavailable("ldap: " + uri_ + ": search failed: " + why));
    }
    done.push_back(std::move(c));
  }
}

}  // namespace fastid::providers
