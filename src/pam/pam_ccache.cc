// pam_fastid.so, the login's Kerberos ticket (auth_provider = "krb5";
// docs/kerberos.md): a successful authentication's reply may name the
// credential cache the daemon wrote for the user. The name is kept
// (pam_set_data) only after the module has checked it itself — the shape
// (proto/ccache_name.h: no newline, space or dot-dot, FILE: or
// KEYRING:persistent:), a FILE: cache directly in the directory the service
// file allows (`ccache_dir=`, default /tmp, %U the uid) and there a regular
// file of the user's own, mode 0600 or stricter, with one link; a KEYRING the
// user's own uid — and pam_sm_setcred / pam_sm_open_session put it in the PAM
// environment as KRB5CCNAME, as pam_krb5 and pam_sss do. Whatever the daemon
// (or a provider worker behind it) says, the session never gets an
// environment line of its choosing, nor another user's or root's file as its
// ticket. libc and libpam only; the kept text is one malloc'd string that
// libpam frees with the handle.
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "pam/module.h"
#include "proto/ccache_name.h"

namespace fastid::pam_module {

namespace {

// pam_set_data key: "KRB5CCNAME=<name>", ready for pam_putenv.
constexpr const char* kCcacheData = "fastid_krb5ccname";
constexpr char kVariable[] = "KRB5CCNAME=";

void free_text(pam_handle_t*, void* data, int) { free(data); }

// The user's uid, from NSS (the name PAM authenticated).
bool uid_of(const char* user, uid_t* uid) {
  passwd pw;
  passwd* found = nullptr;
  char buf[8192];
  if (getpwnam_r(user, &pw, buf, sizeof buf, &found) != 0 || found == nullptr) return false;
  *uid = found->pw_uid;
  return true;
}

// `dir` with %U as the uid, into out; false when it does not fit.
bool expand_dir(const char* dir, uid_t uid, char* out, size_t cap) {
  size_t n = 0;
  for (const char* p = dir; *p != '\0'; ++p) {
    if (p[0] == '%' && p[1] == 'U') {
      const int w = snprintf(out + n, cap - n, "%u", static_cast<unsigned>(uid));
      if (w < 0 || static_cast<size_t>(w) >= cap - n) return false;
      n += static_cast<size_t>(w);
      ++p;
      continue;
    }
    if (n + 1 >= cap) return false;
    out[n++] = *p;
  }
  // "/tmp/" and "/tmp" are the same directory.
  while (n > 1 && out[n - 1] == '/') --n;
  out[n] = '\0';
  return true;
}

// Why `name` is not a cache this user's session may be given; nullptr when it is.
const char* refusal(const Options& o, const char* user, const char* name, size_t len) {
  if (!proto::ccache_name_shape_ok(name, len)) return "not a plain FILE: or KEYRING:persistent: name";
  uid_t uid = 0;
  if (!uid_of(user, &uid)) return "the user's uid cannot be found";
  static constexpr char kKeyring[] = "KEYRING:persistent:";
  if (strncmp(name, kKeyring, sizeof kKeyring - 1) == 0) {
    char mine[32];
    snprintf(mine, sizeof mine, "%u", static_cast<unsigned>(uid));
    return strcmp(name + sizeof kKeyring - 1, mine) == 0 ? nullptr : "a keyring of another uid";
  }
  const char* path = name + 5;  // after "FILE:"
  const char* slash = strrchr(path, '/');
  char expected[proto::kMaxCcacheNameLength + 1];
  if (!expand_dir(o.ccache_dir, uid, expected, sizeof expected)) return "ccache_dir too long";
  const size_t dir_len = slash == path ? 1 : static_cast<size_t>(slash - path);
  if (strlen(expected) != dir_len || strncmp(expected, path, dir_len) != 0) return "not in ccache_dir";
  struct stat st;
  if (lstat(path, &st) != 0) return "no such file";
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (st.st_uid != uid) return "not the user's file";
  if ((st.st_mode & 077) != 0) return "readable or writable by others";
  if (st.st_nlink != 1) return "a file with other links";
  return nullptr;
}

}  // namespace

void keep_ccache(pam_handle_t* pamh, const Options& o, const char* user, const char* name, size_t len) {
  // A new authentication's cache, or none: never the last login's.
  (void)pam_set_data(pamh, kCcacheData, nullptr, nullptr);
  if (len == 0) return;
  if (const char* why = refusal(o, user, name, len)) {
    pam_syslog(pamh, LOG_ERR, "credential cache named by fastidd for user %s refused: %s", user, why);
    return;
  }
  char* line = static_cast<char*>(malloc(sizeof kVariable + len));
  if (line == nullptr) return;
  memcpy(line, kVariable, sizeof kVariable - 1);
  memcpy(line + sizeof kVariable - 1, name, len);
  line[sizeof kVariable - 1 + len] = '\0';
  if (pam_set_data(pamh, kCcacheData, line, free_text) != PAM_SUCCESS) free(line);
  if (o.debug) pam_syslog(pamh, LOG_DEBUG, "user %s: %s kept for the session", user, line);
}

bool export_ccache(pam_handle_t* pamh, const Options& o) {
  const void* line = nullptr;
  if (pam_get_data(pamh, kCcacheData, &line) != PAM_SUCCESS || line == nullptr) return false;
  const int rc = pam_putenv(pamh, static_cast<const char*>(line));
  if (rc != PAM_SUCCESS) {
    pam_syslog(pamh, LOG_ERR, "pam_putenv KRB5CCNAME: %s", pam_strerror(pamh, rc));
    return false;
  }
  if (o.debug) pam_syslog(pamh, LOG_DEBUG, "%s", static_cast<const char*>(line));
  return true;
}

}  // namespace fastid::pam_module
