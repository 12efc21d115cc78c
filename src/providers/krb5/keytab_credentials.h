// KeytabCredentials: a provider's own Kerberos identity, from a keytab. It
// gets a TGT for `principal` with the keytab's key (an AS exchange with the
// KDC, as `kinit -k` does) into a MEMORY: credential cache private to this
// instance — never a file, never a cache another process could open or swap —
// and gets a fresh one when half of the ticket's lifetime has passed, so a
// connection made at any time binds with a valid ticket. The LDAP provider
// hands gss_credential() to its SASL GSSAPI binds. One per provider instance
// (so one per provider worker process); not thread-safe.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>

#include "core/status.h"

namespace fastid::providers::krb5 {

class KeytabCredentials {
 public:
  struct Options {
    std::string keytab = {};     // a path; required
    std::string principal = {};  // "" = the host principal (host/<this host's name>)
    std::string what = {};       // prefixes every message ("ldap: ")
  };

  explicit KeytabCredentials(Options options);
  ~KeytabCredentials();
  KeytabCredentials(const KeytabCredentials&) = delete;
  KeytabCredentials& operator=(const KeytabCredentials&) = delete;

  // The keytab can be read and the principal parses: kInvalidArgument naming
  // the key otherwise. No KDC is asked.
  core::Status check();

  // A TGT that has not yet lived half its lifetime, getting a new one from
  // the KDC when needed. kInvalidArgument: the keytab is unreadable or holds
  // no key for the principal, the realm has no KDC configured;
  // kPermissionDenied: the KDC refused (unknown principal, a keytab whose key
  // the KDC no longer has); kUnavailable: no KDC of the realm answered (the
  // directory is then offline, like any unreachable one).
  core::Status ensure_ticket();

  // A gss_cred_id_t (as void*) on the private cache, for
  // LDAP_OPT_X_SASL_GSS_CREDS; null before a successful ensure_ticket().
  void* gss_credential() const;

  // The principal as the KDC knows it ("fastid/localhost@FASTID.TEST"); "" before check().
  const std::string& principal_name() const { return principal_name_; }
  // The cache's name (MEMORY:...), for tests that check it is private.
  std::string cache_name() const;
  std::uint64_t tickets_obtained() const { return tickets_obtained_; }
  std::time_t ticket_end() const { return end_; }

 private:
  struct Handles;  // libkrb5 and GSSAPI handles, kept out of this header
  core::Status fail(long code, const std::string& doing) const;

  Options options_;
  std::unique_ptr<Handles> h_;
  std::string principal_name_;
  std::uint64_t tickets_obtained_ = 0;
  std::time_t start_ = 0, end_ = 0;
};

}  // namespace fastid::providers::krb5
