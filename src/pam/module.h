// What the files of pam_fastid.so share (pam_fastid.cc: options, the
// conversation, authentication and account checks; pam_daemon.cc: the daemon
// exchange; pam_chauthtok.cc: password changes; pam_ccache.cc: the Kerberos
// cache). Inside the module only: hidden, never exported (the version
// script exports pam_sm_* alone). libc and libpam only.
#pragma once

#include <stddef.h>

#include <security/pam_modules.h>

#include "default_paths.h"
#include "proto/wire.h"

namespace fastid::pam_module {

inline constexpr const char* kDefaultSocket = FASTID_SOCKET_DIR_DEFAULT "/pam";
inline constexpr int kDefaultTimeoutMs = 15000;  // a check may wait on a directory (bind, crypt)
// Connect + ping: how long a daemon that is alive may take to be scheduled and
// answer before the login gives up with PAM_AUTHINFO_UNAVAIL (a stopped or
// hung one costs this much; a missing one nothing). It was a fixed 900 ms,
// which a loaded host missed: logins failed with a live daemon (make test at
// load 20, a login under memcheck; docs/reliability.md). check_timeout= sets it.
inline constexpr int kDefaultCheckMs = 5000;
inline constexpr int kMinCheckMs = 100;
inline constexpr int kMaxCheckMs = 120000;

struct Options {
  bool debug = false;
  bool use_first_pass = false;
  bool try_first_pass = false;
  bool use_authtok = false;  // chauthtok: the new password is an earlier module's (pam_pwquality)
  const char* socket = kDefaultSocket;
  int timeout_ms = kDefaultTimeoutMs;
  int check_ms = kDefaultCheckMs;  // connect + ping deadline (check_timeout=)
  // The directory a FILE: credential cache from the daemon must be in (%U: the
  // uid), matching the daemon's krb5_ccache; pam_ccache.cc.
  const char* ccache_dir = "/tmp";
};

// One request to the daemon (after its checks: a root socket, a root peer, a
// ping in time): the user, a password (kAuthenticate; the current one for
// kChangePassword), the new password (kChangePassword), the PAM service. The
// answer as a PAM code; `message` receives the daemon's printable message, and
// `ccache` (if given) the credential cache a successful kAuthenticate named
// (unchecked: keep_ccache checks it), NUL-terminated, "" for none.
int ask(pam_handle_t* pamh, const Options& o, proto::Opcode op, const char* user, const char* password,
        const char* new_password, char* message, size_t message_cap, char* ccache = nullptr,
        size_t ccache_cap = 0);
// Connects to the daemon and checks it (a root-owned socket, a root peer, a
// ping in time): the fd (> 2, O_CLOEXEC), or -1 with the reason logged.
int connect_daemon(pam_handle_t* pamh, const Options& o);
// The user name, checked against the protocol's limit.
int get_user(pam_handle_t* pamh, const char** user);
// One prompt without echo; on PAM_SUCCESS *resp holds the answer, which
// drop_answer() zeroes and frees.
int ask_hidden(pam_handle_t* pamh, const char* prompt, pam_response** resp);
void drop_answer(pam_response* resp);
// A prompt whose answer becomes `item` (PAM_AUTHTOK, PAM_OLDAUTHTOK); our copy zeroed.
int prompt_password(pam_handle_t* pamh, int item = PAM_AUTHTOK, const char* prompt = "Password: ");
// A message to the user unless PAM_SILENT or empty.
void tell(pam_handle_t* pamh, int flags, int style, const char* text);

// The login's Kerberos cache (pam_ccache.cc): keep_ccache checks the name a
// successful authentication's reply carried and keeps it (or drops the last
// one: `len` 0); export_ccache puts it in the PAM environment as KRB5CCNAME
// (pam_sm_setcred, pam_sm_open_session); false when there is none.
void keep_ccache(pam_handle_t* pamh, const Options& o, const char* user, const char* name, size_t len);
bool export_ccache(pam_handle_t* pamh, const Options& o);

// pam_sm_chauthtok's work (pam_chauthtok.cc).
int change_password(pam_handle_t* pamh, int flags, const Options& o);

}  // namespace fastid::pam_module
