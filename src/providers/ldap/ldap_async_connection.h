// LdapAsyncConnection: one connected, bound libldap handle driven without
// blocking — libldap's asynchronous API (ldap_search_ext, then ldap_result
// with a zero timeout when the descriptor is readable), so that a caller with
// an event loop (server/ldap_loop_directory.h) watches fd() and keeps several
// searches outstanding on the one connection. Connecting, StartTLS (its
// handshake) and the bind block: connect() is made on a helper thread,
// through an LdapProvider's own open() (the same URIs in order, TLS rules,
// credentials and base checks), and the handle is then handed over with its
// socket made non-blocking, so that no later call waits for the server: half
// a message or half a TLS record read is "nothing complete yet", and a search
// the socket cannot take at once is refused (the caller drops the
// connection). No locks: after connect() returns, one thread at a time uses
// it (the loop's).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "providers/ldap/ldap_search_hook.h"

struct ldap;

namespace fastid::providers {

class LdapProvider;

class LdapAsyncConnection {
 public:
  // Blocking: connector.open() and its search connection taken over.
  // The provider's errors (kUnavailable, kPermissionDenied, kNotFound ...).
  static core::Result<std::unique_ptr<LdapAsyncConnection>> connect(LdapProvider& connector);
  ~LdapAsyncConnection();
  LdapAsyncConnection(const LdapAsyncConnection&) = delete;
  LdapAsyncConnection& operator=(const LdapAsyncConnection&) = delete;

  int fd() const { return fd_; }
  const std::string& uri() const { return uri_; }

  // At most this many searches outstanding on one connection (the caller's
  // bound): their requests always fit in the socket's send buffer.
  static constexpr int kMaxOutstanding = 128;
  static constexpr int kSendBuffer = 256 * 1024;

  // Sends one search (a few hundred bytes); its message id. An error: not
  // sent, or not wholly (a server that reads nothing): drop the connection.
  core::Result<int> send(const LdapSearchRequest& request, int size_limit = 0);

  struct Completed {
    int msgid = 0;
    core::Result<std::vector<LdapEntryData>> entries;  // kUnavailable: the server's error
  };
  // Every search whose answer is complete now, without waiting (libldap's
  // buffered TLS data included). An error: the connection is broken (drop it).
  core::Result<std::vector<Completed>> poll();

 private:
  LdapAsyncConnection(::ldap* ld, std::string uri, int fd) : ld_(ld), uri_(std::move(uri)), fd_(fd) {}
  ::ldap* ld_ = nullptr;
  std::string uri_;
  int fd_ = -1;
};

}  // namespace fastid::providers
