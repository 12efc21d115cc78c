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
// the socket takes only part of stays in libldap, which writes the rest from
// poll() once the socket is writable again (write_blocked() says when the
// caller should watch for that; meanwhile send() refuses new searches with
// kBusy). No locks: after connect() returns, one thread at a time uses it
// (the loop's).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
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
  // bound). The send buffer is small (the kernel doubles it): a server that
  // reads its searches takes them long before it fills, and one that stops
  // reading leaves little in flight; a search it does not take at once is
  // finished later (write_blocked()).
  static constexpr int kMaxOutstanding = 128;
  static constexpr int kSendBuffer = 8 * 1024;

  // Sends one search (a few hundred bytes); its message id, also when the
  // socket took only part of it (write_blocked(): libldap writes the rest
  // from poll()). kBusy: a search is still partly written, this one was not
  // sent (ask again once write_blocked() is false). Another error: the
  // connection is broken (drop it).
  core::Result<int> send(const LdapSearchRequest& request, int size_limit = 0);

  // A search is partly written: call poll() when the socket is writable.
  bool write_blocked() const { return writes_.blocked; }

  struct Completed {
    int msgid = 0;
    core::Result<std::vector<LdapEntryData>> entries;  // kUnavailable: the server's error
  };
  // Every search whose answer is complete now, without waiting (libldap's
  // buffered TLS data included); first the rest of a partly written search,
  // if the socket takes it. An error: the connection is broken (drop it).
  core::Result<std::vector<Completed>> poll();

 private:
  LdapAsyncConnection(::ldap* ld, std::string uri, int fd) : ld_(ld), uri_(std::move(uri)), fd_(fd) {}
  // What the last write on the socket did, seen by a layer of ours on top of
  // libldap's socket layers (libldap keeps whether a request is partly
  // written to itself): EAGAIN -> blocked, all of it written -> not.
  struct WriteState {
    bool blocked = false;
  };
  bool watch_writes();

  WriteState writes_;
  std::unordered_map<int, std::vector<LdapEntryData>> partial_;  // entries of searches whose result is not in yet
  ::ldap* ld_ = nullptr;
  std::string uri_;
  int fd_ = -1;
};

}  // namespace fastid::providers
