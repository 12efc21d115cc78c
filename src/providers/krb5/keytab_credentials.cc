// KeytabCredentials (keytab_credentials.h): a TGT from a keytab in a private
// MEMORY: cache, refreshed at half its lifetime, handed to GSSAPI.
#include "providers/krb5/keytab_credentials.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "providers/krb5/krb5_util.h"

namespace fastid::providers::krb5 {

using core::Status;

struct KeytabCredentials::Handles {
  Context ctx;
  krb5_keytab keytab = nullptr;
  krb5_principal principal = nullptr;
  krb5_ccache cache = nullptr;
  gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;

  void release_cred() {
    if (cred != GSS_C_NO_CREDENTIAL) {
      OM_uint32 minor = 0;
      gss_release_cred(&minor, &cred);
      cred = GSS_C_NO_CREDENTIAL;
    }
  }
  ~Handles() {
    release_cred();
    if (!ctx.ok()) return;
    // A MEMORY: cache lives until destroyed; destroying it wipes the tickets.
    if (cache != nullptr) krb5_cc_destroy(ctx.get(), cache);
    if (principal != nullptr) krb5_free_principal(ctx.get(), principal);
    if (keytab != nullptr) krb5_kt_close(ctx.get(), keytab);
  }
};

KeytabCredentials::KeytabCredentials(Options options) : options_(std::move(options)) {}
KeytabCredentials::~KeytabCredentials() = default;

Status KeytabCredentials::fail(long code, const std::string& doing) const {
  const auto c = static_cast<krb5_error_code>(code);
  const std::string why = message(h_->ctx.get(), c);
  const std::string& pre = options_.what;
  const std::string who = principal_name_.empty() ? options_.principal : principal_name_;
  if (kdc_unreachable(c)) {
    return Status::unavailable(pre + doing + ": no KDC of the realm answered: " + why);
  }
  switch (code) {
    case KRB5_KT_NOTFOUND:
    case KRB5_KT_KVNONOTFOUND:
      return Status::invalid_argument(pre + "keytab " + options_.keytab + " holds no key for principal " +
                                      who + " (keytab, principal): " + why);
    case KRB5_REALM_UNKNOWN:
      return Status::invalid_argument(pre + doing + ": the realm of principal " + who +
                                      " has no KDC in krb5.conf: " + why);
    case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
      return Status::permission_denied(pre + doing + ": the KDC does not know principal " + who +
                                       " (principal): " + why);
    case KRB5KDC_ERR_PREAUTH_FAILED:
    case KRB5KRB_AP_ERR_BAD_INTEGRITY:
      return Status::permission_denied(pre + doing + ": the KDC refused the key of " + who + " in keytab " +
                                       options_.keytab + " (a stale keytab?): " + why);
    default:
      return Status::permission_denied(pre + doing + " for " + who + ": " + why);
  }
}

Status KeytabCredentials::check() {
  const std::string& pre = options_.what;
  if (options_.keytab.empty()) return Status::invalid_argument(pre + "keytab: a keytab file is required");
  if (::access(options_.keytab.c_str(), R_OK) != 0) {
    return Status::invalid_argument(pre + "keytab " + options_.keytab + ": cannot be read: " +
                                    std::strerror(errno));
  }
  if (h_ == nullptr) h_ = std::make_unique<Handles>();
  if (!h_->ctx.ok()) {
    return Status::internal(pre + "cannot start libkrb5: error " + std::to_string(h_->ctx.init_error()));
  }
  krb5_context ctx = h_->ctx.get();
  if (h_->keytab == nullptr) {
    const std::string name = "FILE:" + options_.keytab;
    if (krb5_error_code rc = krb5_kt_resolve(ctx, name.c_str(), &h_->keytab); rc != 0) {
      return Status::invalid_argument(pre + "keytab " + options_.keytab + ": " + message(ctx, rc));
    }
  }
  if (h_->principal == nullptr) {
    krb5_error_code rc = options_.principal.empty()
                             ? krb5_sname_to_principal(ctx, nullptr, "host", KRB5_NT_SRV_HST, &h_->principal)
                             : krb5_parse_name(ctx, options_.principal.c_str(), &h_->principal);
    if (rc != 0) {
      return Status::invalid_argument(pre + "principal \"" + options_.principal + "\": " + message(ctx, rc));
    }
    char* unparsed = nullptr;
    if (krb5_unparse_name(ctx, h_->principal, &unparsed) == 0) {
      principal_name_ = unparsed;
      krb5_free_unparsed_name(ctx, unparsed);
    }
  }
  return Status::ok();
}

Status KeytabCredentials::ensure_ticket() {
  if (Status st = check(); !st) return st;
  const std::time_t now = std::time(nullptr);
  // Half the lifetime left: fresh enough for a connection made now.
  if (h_->cred != GSS_C_NO_CREDENTIAL && now < start_ + (end_ - start_) / 2) return Status::ok();
  krb5_context ctx = h_->ctx.get();
  krb5_get_init_creds_opt* opt = nullptr;
  if (krb5_error_code rc = krb5_get_init_creds_opt_alloc(ctx, &opt); rc != 0) {
    return fail(rc, "getting a ticket");
  }
  krb5_get_init_creds_opt_set_forwardable(opt, 0);
  krb5_get_init_creds_opt_set_proxiable(opt, 0);
  krb5_creds creds;
  std::memset(&creds, 0, sizeof creds);
  krb5_error_code rc =
      krb5_get_init_creds_keytab(ctx, &creds, h_->principal, h_->keytab, 0, nullptr, opt);
  krb5_get_init_creds_opt_free(ctx, opt);
  if (rc != 0) {
    h_->release_cred();
    return fail(rc, "getting a ticket from keytab " + options_.keytab);
  }
  if (h_->cache == nullptr) rc = krb5_cc_new_unique(ctx, "MEMORY", nullptr, &h_->cache);
  if (rc == 0) rc = krb5_cc_initialize(ctx, h_->cache, h_->principal);  // drops the old tickets
  if (rc == 0) rc = krb5_cc_store_cred(ctx, h_->cache, &creds);
  start_ = creds.times.starttime != 0 ? creds.times.starttime : creds.times.authtime;
  end_ = creds.times.endtime;
  krb5_free_cred_contents(ctx, &creds);
  if (rc != 0) return Status::internal(options_.what + "storing the ticket: " + message(ctx, rc));
  h_->release_cred();
  OM_uint32 minor = 0;
  if (gss_krb5_import_cred(&minor, h_->cache, nullptr, nullptr, &h_->cred) != GSS_S_COMPLETE) {
    h_->cred = GSS_C_NO_CREDENTIAL;
    return Status::internal(options_.what + "GSSAPI cannot use the ticket cache: " +
                            message(ctx, static_cast<krb5_error_code>(minor)));
  }
  ++tickets_obtained_;
  return Status::ok();
}

void* KeytabCredentials::gss_credential() const {
  return h_ == nullptr || h_->cred == GSS_C_NO_CREDENTIAL ? nullptr : static_cast<void*>(h_->cred);
}

std::string KeytabCredentials::cache_name() const {
  if (h_ == nullptr || h_->cache == nullptr) return {};
  char* name = nullptr;
  if (krb5_cc_get_full_name(h_->ctx.get(), h_->cache, &name) != 0) return {};
  std::string out = name;
  krb5_free_string(h_->ctx.get(), name);
  return out;
}

}  // namespace fastid::providers::krb5
