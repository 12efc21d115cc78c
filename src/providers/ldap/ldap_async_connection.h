// LdapAsyncConnection: one connected, bound libldap handle driven without
// blocking — libldap's asynchronous API (ldap_search_ext, then ldap_result
// with a zero timeout when the descriptor is readable), so that a caller with
// an event loop (server/ldap_loop_directory.h) watches fd() and keeps several
// searches outstanding on the one connection. Connecting, StartTLS and the
// bind block: connect() is made on a helper thread, through an LdapProvider's
// own open() (the same URIs in order, TLS rules, credentials and base checks),
// and the handle is then handed over. No locks: after connect() returns, one
// thread at a time uses it (the loop's).
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

  // Sends one search (a few hundred bytes on a connected socket); its message id.
  core::Result<int> send(const LdapSearchRequest& request, int size_limit = 0);
  // Forgets a search (its answer, if it comes, is dropped by libldap).
  void abandon(int msgid);

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
