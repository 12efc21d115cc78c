// pam_fastid.so: authentication and account checks through fastidd's `pam`
// socket (docs/pam.md). It runs inside login, sshd, su, sudo, screen lockers:
// no C++ runtime, no exceptions, no threads, no signal handlers, no
// allocation but libpam's own (and the kept KRB5CCNAME line, which libpam
// frees with the handle), every fd O_CLOEXEC and above 2, SIGPIPE never
// raised (MSG_NOSIGNAL), poll() with deadlines so that a missing, stopped or
// broken daemon costs at most check_timeout (5 s by default) before
// PAM_AUTHINFO_UNAVAIL.
//
// Before a password is sent, the daemon is checked (pam/daemon_check.h, shared
// with `fastid auth`): the socket must be a socket owned by root, the peer's
// SO_PEERCRED uid must be 0, and it must answer a ping within check_timeout. A password or user name over the protocol's
// limits is refused at once, never sent.
//
// Password changes (chauthtok): the preliminary pass asks the daemon whether
// a source of ours changes the user's password (PAM_IGNORE otherwise: files
// users are pam_unix's) and prompts for the current one; the update pass
// prompts for the new one twice and sends both; the daemon binds as the user.
//
// Kerberos (auth_provider = "krb5"): the ticket cache a successful
// authentication names is checked and exported as KRB5CCNAME by setcred and
// open_session (pam_ccache.cc).
//
// This file: the options, the conversation with the user and the pam_sm_*
// entry points; the exchange with the daemon is pam_daemon.cc.
//
// Options: debug, use_first_pass, try_first_pass, use_authtok, ccache_dir=/abs/dir (default /tmp), socket=/abs/path (default
// FASTID_SOCKET_DIR_DEFAULT/pam, /run/fastid/pam unless moved at build time), timeout=SECONDS (reply deadline for a check, 1..120, default 15),
// check_timeout=SECONDS (connect + ping deadline, 0.1..120 with up to three decimals, default 5).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_PASSWORD
#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "default_paths.h"
#include "pam/module.h"
#include "proto/ccache_name.h"
#include "proto/wire.h"

namespace fastid::pam_module {

using fastid::proto::Opcode;

// "5", "0.9", "2.25": seconds with up to three decimals, as milliseconds;
// -1 for anything else. Not strtod: the application's locale may spell the
// decimal point otherwise.
static long parse_millis(const char* s) {
  long ms = 0;
  const char* c = s;
  if (*c < '0' || *c > '9') return -1;
  for (; *c >= '0' && *c <= '9'; ++c) {
    ms = ms * 10 + (*c - '0');
    if (ms > 1000000) return -1;
  }
  ms *= 1000;
  if (*c == '.') {
    ++c;
    long scale = 100;
    if (*c < '0' || *c > '9') return -1;
    for (; *c >= '0' && *c <= '9'; ++c) {
      if (scale == 0) return -1;  // a fourth decimal
      ms += (*c - '0') * scale;
      scale /= 10;
    }
  }
  return *c == '\0' ? ms : -1;
}

static Options parse_options(pam_handle_t* pamh, int argc, const char** argv) {
  Options o;
  for (int i = 0; i < argc; ++i) {
    const char* a = argv[i];
    if (strcmp(a, "debug") == 0) {
      o.debug = true;
    } else if (strcmp(a, "use_first_pass") == 0) {
      o.use_first_pass = true;
    } else if (strcmp(a, "try_first_pass") == 0) {
      o.try_first_pass = true;
    } else if (strcmp(a, "use_authtok") == 0) {
      o.use_authtok = true;
    } else if (strncmp(a, "socket=", 7) == 0 && a[7] == '/' &&
               strlen(a + 7) < sizeof(sockaddr_un::sun_path)) {
      o.socket = a + 7;
    } else if (strncmp(a, "ccache_dir=", 11) == 0 && a[11] == '/' &&
               strlen(a + 11) <= fastid::proto::kMaxCcacheNameLength) {
      o.ccache_dir = a + 11;
    } else if (strncmp(a, "check_timeout=", 14) == 0) {
      const long ms = parse_millis(a + 14);
      if (ms >= kMinCheckMs && ms <= kMaxCheckMs) {
        o.check_ms = static_cast<int>(ms);
      } else {
        pam_syslog(pamh, LOG_ERR, "ignoring option %s: check_timeout is 0.1..120 seconds", a);
      }
    } else if (strncmp(a, "timeout=", 8) == 0) {
      char* end = nullptr;
      long s = strtol(a + 8, &end, 10);
      if (end != a + 8 && *end == '\0' && s >= 1 && s <= 120) {
        o.timeout_ms = static_cast<int>(s * 1000);
      } else {
        pam_syslog(pamh, LOG_ERR, "ignoring option %s: timeout is 1..120 seconds", a);
      }
    } else {
      pam_syslog(pamh, LOG_ERR, "ignoring unknown option %s", a);
    }
  }
  return o;
}


// The user name, checked against the protocol's limit.
int get_user(pam_handle_t* pamh, const char** user) {
  int rc = pam_get_user(pamh, user, nullptr);
  if (rc != PAM_SUCCESS) return rc;
  if (*user == nullptr || **user == '\0') return PAM_USER_UNKNOWN;
  if (strnlen(*user, fastid::proto::kMaxNameLength + 1) > fastid::proto::kMaxNameLength) {
    pam_syslog(pamh, LOG_NOTICE, "user name longer than %u bytes refused",
               fastid::proto::kMaxNameLength);
    return PAM_USER_UNKNOWN;
  }
  return PAM_SUCCESS;
}

// Frees a conversation's answer, its text zeroed first.
void drop_answer(pam_response* resp) {
  if (resp == nullptr) return;
  if (resp[0].resp != nullptr) {
    explicit_bzero(resp[0].resp, strlen(resp[0].resp));
    free(resp[0].resp);
  }
  free(resp);
}

// One prompt without echo through the application's conversation; on
// PAM_SUCCESS *resp holds the answer (drop_answer() frees it).
int ask_hidden(pam_handle_t* pamh, const char* prompt, pam_response** resp) {
  *resp = nullptr;
  const void* item = nullptr;
  if (pam_get_item(pamh, PAM_CONV, &item) != PAM_SUCCESS || item == nullptr) return PAM_CONV_ERR;
  const pam_conv* conv = static_cast<const pam_conv*>(item);
  if (conv->conv == nullptr) return PAM_CONV_ERR;
  pam_message msg;
  msg.msg_style = PAM_PROMPT_ECHO_OFF;
  msg.msg = prompt;
  const pam_message* msgs[1] = {&msg};
  int rc = conv->conv(1, msgs, resp, conv->appdata_ptr);
  if (rc != PAM_SUCCESS) {
    drop_answer(*resp);
    *resp = nullptr;
    return rc;
  }
  if (*resp == nullptr) return PAM_CONV_ERR;
  if ((*resp)[0].resp == nullptr) {
    drop_answer(*resp);
    *resp = nullptr;
    return PAM_CONV_ERR;
  }
  return PAM_SUCCESS;
}

// Asks the user through the application's conversation, without echo. The
// answer becomes `item` (PAM_AUTHTOK or PAM_OLDAUTHTOK, for modules stacked
// after us); our copy is zeroed.
int prompt_password(pam_handle_t* pamh, int item, const char* prompt) {
  pam_response* resp = nullptr;
  int rc = ask_hidden(pamh, prompt, &resp);
  if (rc != PAM_SUCCESS) return rc;
  rc = pam_set_item(pamh, item, resp[0].resp);
  drop_answer(resp);
  return rc;
}

void tell(pam_handle_t* pamh, int flags, int style, const char* text) {
  if ((flags & PAM_SILENT) != 0 || text[0] == '\0') return;
  pam_prompt(pamh, style, nullptr, "%s", text);
}

// pam_set_data key: authentication's account verdict for acct_mgmt
// (PAM_ACCT_EXPIRED or PAM_NEW_AUTHTOK_REQD as the data pointer's value).
constexpr const char* kAccountVerdict = "fastid_account_verdict";
// pam_set_data key: a digest of the words authentication showed the user (an
// expiry warning from the directory's bind), so that acct_mgmt does not show
// the same words twice. The value is the digest itself: nothing allocated.
constexpr const char* kShown = "fastid_shown";

static uintptr_t digest(const char* text) {
  uintptr_t h = 1469598103934665603u & UINTPTR_MAX;  // FNV-1a
  for (const char* c = text; *c != '\0'; ++c) h = (h ^ static_cast<unsigned char>(*c)) * 1099511628211u;
  return h | 1;  // never null: null means "nothing shown"
}

}  // namespace fastid::pam_module

using namespace fastid::pam_module;

extern "C" {

__attribute__((visibility("default"))) int pam_sm_authenticate(pam_handle_t* pamh, int flags,
                                                               int argc, const char** argv) {
  const Options o = parse_options(pamh, argc, argv);
  const char* user = nullptr;
  int rc = get_user(pamh, &user);
  if (rc != PAM_SUCCESS) return rc;

  const void* token = nullptr;
  if (o.use_first_pass || o.try_first_pass) (void)pam_get_item(pamh, PAM_AUTHTOK, &token);
  if (token == nullptr) {
    if (o.use_first_pass) {
      if (o.debug)
        pam_syslog(pamh, LOG_DEBUG, "use_first_pass: no password from an earlier module");
      return PAM_AUTH_ERR;
    }
    // The daemon first: no prompt for a password nobody can check.
    int fd = connect_daemon(pamh, o);
    if (fd < 0) return PAM_AUTHINFO_UNAVAIL;
    close(fd);
    rc = prompt_password(pamh);
    if (rc != PAM_SUCCESS) return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : rc;
    if (pam_get_item(pamh, PAM_AUTHTOK, &token) != PAM_SUCCESS || token == nullptr)
      return PAM_AUTH_ERR;
  }
  const char* password = static_cast<const char*>(token);
  if (strnlen(password, fastid::proto::kMaxPasswordLength + 1) >
      fastid::proto::kMaxPasswordLength) {
    pam_syslog(pamh, LOG_NOTICE, "password for user %s longer than %u bytes refused", user,
               fastid::proto::kMaxPasswordLength);
    return PAM_AUTH_ERR;
  }
  char message[1025];
  char ccache[fastid::proto::kMaxCcacheNameLength + 1];
  rc = ask(pamh, o, Opcode::kAuthenticate, user, password, nullptr, message, sizeof message, ccache,
           sizeof ccache);
  if (rc == PAM_SUCCESS) keep_ccache(pamh, o, user, ccache, strlen(ccache));
  if (rc == PAM_ACCT_EXPIRED || rc == PAM_NEW_AUTHTOK_REQD) {
    // The password is right; the source said (only while checking it, as
    // winbind does) that the account has expired or the password must be
    // changed. That is the account check's answer, as pam_unix gives it.
    (void)pam_set_data(pamh, kAccountVerdict, reinterpret_cast<void*>(static_cast<intptr_t>(rc)), nullptr);
    tell(pamh, flags, PAM_TEXT_INFO, message);  // the source's words (ppolicy: grace logins left)
    if (o.debug) pam_syslog(pamh, LOG_DEBUG, "authenticate %s: %s deferred to acct_mgmt", user, pam_strerror(pamh, rc));
    return PAM_SUCCESS;
  }
  if (rc == PAM_MAXTRIES) tell(pamh, flags, PAM_ERROR_MSG, message);
  if (rc == PAM_SUCCESS && message[0] != '\0') {
    tell(pamh, flags, PAM_TEXT_INFO, message);
    (void)pam_set_data(pamh, kShown, reinterpret_cast<void*>(digest(message)), nullptr);
  }
  if (o.debug) pam_syslog(pamh, LOG_DEBUG, "authenticate %s: %s", user, pam_strerror(pamh, rc));
  return rc;
}

// The Kerberos ticket the daemon left for this login (auth_provider = "krb5")
// becomes the session's KRB5CCNAME; fastid grants no other credentials.
__attribute__((visibility("default"))) int pam_sm_setcred(pam_handle_t* pamh, int flags, int argc,
                                                          const char** argv) {
  if ((flags & PAM_DELETE_CRED) == 0) (void)export_ccache(pamh, parse_options(pamh, argc, argv));
  return PAM_SUCCESS;
}

__attribute__((visibility("default"))) int pam_sm_acct_mgmt(pam_handle_t* pamh, int flags, int argc,
                                                            const char** argv) {
  const Options o = parse_options(pamh, argc, argv);
  const char* user = nullptr;
  int rc = get_user(pamh, &user);
  if (rc != PAM_SUCCESS) return rc;
  char message[1025];
  rc = ask(pamh, o, Opcode::kAccount, user, nullptr, nullptr, message, sizeof message);
  const void* deferred = nullptr;
  if (rc == PAM_SUCCESS && pam_get_data(pamh, kAccountVerdict, &deferred) == PAM_SUCCESS && deferred != nullptr) {
    rc = static_cast<int>(reinterpret_cast<intptr_t>(deferred));
    snprintf(message, sizeof message, "%s",
             rc == PAM_NEW_AUTHTOK_REQD ? "Your password has expired; you must change it now."
                                        : "Your account has expired.");
  }
  // In order, the daemon's words are a warning (the password expires soon),
  // shown as pam_unix shows its own; otherwise the reason of the refusal.
  const void* shown = nullptr;
  const bool said_already = rc == PAM_SUCCESS && pam_get_data(pamh, kShown, &shown) == PAM_SUCCESS &&
                            reinterpret_cast<uintptr_t>(shown) == digest(message);
  if (!said_already) tell(pamh, flags, rc == PAM_SUCCESS ? PAM_TEXT_INFO : PAM_ERROR_MSG, message);
  if (o.debug) pam_syslog(pamh, LOG_DEBUG, "account %s: %s", user, pam_strerror(pamh, rc));
  return rc;
}

__attribute__((visibility("default"))) int pam_sm_chauthtok(pam_handle_t* pamh, int flags, int argc,
                                                            const char** argv) {
  const Options o = parse_options(pamh, argc, argv);
  return change_password(pamh, flags, o);
}

// Applications that open the session without setcred (or in another order)
// get KRB5CCNAME too.
__attribute__((visibility("default"))) int pam_sm_open_session(pam_handle_t* pamh, int, int argc,
                                                               const char** argv) {
  return export_ccache(pamh, parse_options(pamh, argc, argv)) ? PAM_SUCCESS : PAM_IGNORE;
}

__attribute__((visibility("default"))) int pam_sm_close_session(pam_handle_t*, int, int,
                                                                const char**) {
  return PAM_IGNORE;
}

}  // extern "C"
