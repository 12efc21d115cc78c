// The LDAP provider's options checked and resolved once: URIs, DNs, scopes,
// filters, attribute maps, the schema, the CA and password files, the SASL
// mechanism (LdapProvider::check_options, called by open() and by the first
// call of a provider that was not opened).
#include <ldap.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "providers/krb5/keytab_credentials.h"
#include "providers/ldap/ldap_provider_impl.h"

namespace fastid::providers {

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
                    check_dn("password_policy_dn", options_.password_policy_dn, false),
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

}  // namespace fastid::providers
