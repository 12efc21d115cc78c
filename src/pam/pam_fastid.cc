// pam_fastid.so: authentication and account checks through fastidd's `pam`
// socket (docs/pam.md). It runs inside login, sshd, su, sudo, screen lockers:
// no C++ runtime, no exceptions, no threads, no signal handlers, no
// allocation but libpam's own (and the kept KRB5CCNAME line, which libpam
// frees with the handle), every fd O_CLOEXEC and above 2, SIGPIPE never
// raised (MSG_NOSIGNAL), poll() with deadlines so that a missing, stopped or
// broken daemon costs at most kCheckMs before PAM_AUTHINFO_UNAVAIL.
//
// Before a password is sent, the daemon is checked (pam/daemon_check.h, shared
// with `fastid auth`): the socket must be a socket owned by root, the peer's
// SO_PEERCRED uid must be 0, and it must answer a ping within kCheckMs. A password or user name over the protocol's
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
// Options: debug, use_first_pass, try_first_pass, use_authtok, ccache_dir=/abs/dir (default /tmp), socket=/abs/path (default
// FASTID_SOCKET_DIR_DEFAULT/pam, /run/fastid/pam unless moved at build time), timeout=SECONDS (reply deadline for a check, 1..120, default 15).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_PASSWORD
#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "default_paths.h"
#include "pam/daemon_check.h"
#include "pam/module.h"
#include "proto/ccache_name.h"
#include "proto/wire.h"

namespace fastid::pam_module {

using fastid::pam::DaemonCheck;
using fastid::proto::AuthResult;
using fastid::proto::FrameHeader;
using fastid::proto::Opcode;

constexpr int kCheckMs = 900;             // connect + ping: the daemon must be alive and root
constexpr uint32_t kMaxReply = 2048;      // an auth reply is a code and a short message


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

static int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Waits for `events` on fd until the deadline; false on timeout or error.
static bool wait_for(int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    return (p.revents & (events | POLLHUP | POLLERR)) != 0;
  }
}

static bool send_all(int fd, const uint8_t* p, size_t n, int64_t deadline) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd, POLLOUT, deadline)) return false;
      continue;
    }
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

static bool recv_all(int fd, uint8_t* p, size_t n, int64_t deadline) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd, POLLIN, deadline)) return false;
      continue;
    }
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// One request frame out, its reply in. The reply must be for this opcode and
// id, status kOk and at most kMaxReply bytes; the payload lands in `payload`.
static bool exchange(int fd, const uint8_t* frame, size_t frame_len, uint16_t opcode, uint32_t id,
              uint8_t* payload, uint32_t* payload_len, int64_t deadline) {
  if (!send_all(fd, frame, frame_len, deadline)) return false;
  uint8_t head[fastid::proto::kHeaderSize];
  if (!recv_all(fd, head, sizeof head, deadline)) return false;
  FrameHeader h;
  if (fastid::proto::decode_header(head, &h) != fastid::proto::HeaderCheck::kOk) return false;
  if ((h.flags & fastid::proto::kFlagReply) == 0 || h.opcode != opcode || h.request_id != id ||
      h.length > kMaxReply) {
    return false;
  }
  if (!recv_all(fd, payload, h.length, deadline)) return false;
  *payload_len = h.length;
  return h.status == static_cast<uint32_t>(fastid::proto::WireStatus::kOk);
}

// Connects and checks the daemon: a root-owned socket, a root peer, a ping
// answered in time. Returns the fd (> 2, O_CLOEXEC) or -1 with the reason logged.
static int connect_daemon(pam_handle_t* pamh, const Options& o) {
  const int64_t deadline = now_ms() + kCheckMs;
  const DaemonCheck file = fastid::pam::check_socket_file(o.socket);
  if (file == DaemonCheck::kNoSocket) {
    pam_syslog(pamh, LOG_ERR, "fastidd socket %s: %s", o.socket, strerror(errno));
    return -1;
  }
  if (file != DaemonCheck::kOk) {
    pam_syslog(pamh, LOG_ERR, "refusing %s: %s", o.socket, fastid::pam::daemon_check_reason(file));
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    pam_syslog(pamh, LOG_ERR, "socket: %s", strerror(errno));
    return -1;
  }
  if (fd <= 2) {
    // A process that closed its standard fds must not get our socket there.
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    if (moved < 0) return -1;
    fd = moved;
  }
  sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, o.socket, strlen(o.socket));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      pam_syslog(pamh, LOG_ERR, "connect %s: %s", o.socket, strerror(errno));
      close(fd);
      return -1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (!wait_for(fd, POLLOUT, deadline) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
        err != 0) {
      pam_syslog(pamh, LOG_ERR, "connect %s: %s", o.socket, err ? strerror(err) : "timed out");
      close(fd);
      return -1;
    }
  }
  if (const DaemonCheck peer = fastid::pam::check_peer(fd); peer != DaemonCheck::kOk) {
    pam_syslog(pamh, LOG_ERR, "refusing %s: %s", o.socket, fastid::pam::daemon_check_reason(peer));
    close(fd);
    return -1;
  }
  uint8_t ping[fastid::proto::kHeaderSize];
  FrameHeader h{fastid::proto::kVersion, 0, static_cast<uint16_t>(Opcode::kPing), 1, 0, 0};
  fastid::proto::encode_header(h, ping);
  uint8_t reply[kMaxReply];
  uint32_t n = 0;
  if (!exchange(fd, ping, sizeof ping, static_cast<uint16_t>(Opcode::kPing), 1, reply, &n,
                deadline)) {
    pam_syslog(pamh, LOG_ERR, "fastidd on %s did not answer within %d ms", o.socket, kCheckMs);
    close(fd);
    return -1;
  }
  return fd;
}

static int pam_code(AuthResult r) {
  switch (r) {
    case AuthResult::kSuccess:
      return PAM_SUCCESS;
    case AuthResult::kUserUnknown:
      return PAM_USER_UNKNOWN;
    case AuthResult::kAuthError:
      return PAM_AUTH_ERR;
    case AuthResult::kUnavailable:
      return PAM_AUTHINFO_UNAVAIL;
    case AuthResult::kLocked:
      return PAM_MAXTRIES;
    case AuthResult::kPermissionDenied:
      return PAM_PERM_DENIED;
    case AuthResult::kAccountExpired:
      return PAM_ACCT_EXPIRED;
    case AuthResult::kPasswordExpired:
      return PAM_NEW_AUTHTOK_REQD;
    case AuthResult::kTokenError:
      return PAM_AUTHTOK_ERR;
    case AuthResult::kIgnore:
      return PAM_IGNORE;
  }
  return PAM_AUTHINFO_UNAVAIL;
}

// A password change's answer, in the codes pam_sm_chauthtok(3) lists.
static int chauthtok_code(AuthResult r) {
  switch (r) {
    case AuthResult::kSuccess:
      return PAM_SUCCESS;
    case AuthResult::kUserUnknown:
      return PAM_USER_UNKNOWN;
    case AuthResult::kAuthError:         // the current password is wrong
    case AuthResult::kPermissionDenied:  // another user's, or a locked account
    case AuthResult::kLocked:
      return PAM_PERM_DENIED;
    case AuthResult::kTokenError:
      return PAM_AUTHTOK_ERR;
    case AuthResult::kIgnore:
      return PAM_IGNORE;
    case AuthResult::kUnavailable:
    case AuthResult::kAccountExpired:
    case AuthResult::kPasswordExpired:
      break;
  }
  return PAM_TRY_AGAIN;
}

// Sends one auth request (user, optional password, service) and maps the
// answer. `message` receives the daemon's message (NUL-terminated, may be empty).
int ask(pam_handle_t* pamh, const Options& o, Opcode op, const char* user, const char* password,
        const char* new_password, char* message, size_t message_cap, char* ccache, size_t ccache_cap) {
  message[0] = '\0';
  if (ccache != nullptr && ccache_cap > 0) ccache[0] = '\0';
  const void* service_item = nullptr;
  const char* service = "";
  if (pam_get_item(pamh, PAM_SERVICE, &service_item) == PAM_SUCCESS && service_item != nullptr) {
    service = static_cast<const char*>(service_item);
  }
  size_t service_len = strnlen(service, fastid::proto::kMaxServiceLength + 1);
  if (service_len > fastid::proto::kMaxServiceLength)
    service_len = fastid::proto::kMaxServiceLength;

  int fd = connect_daemon(pamh, o);
  if (fd < 0) return PAM_AUTHINFO_UNAVAIL;

  // Header + user + two passwords + service, each bounded before we got here.
  uint8_t frame[fastid::proto::kHeaderSize + 16 + fastid::proto::kMaxNameLength +
                2 * fastid::proto::kMaxPasswordLength + fastid::proto::kMaxServiceLength];
  memset(frame, 0, sizeof frame);
  fastid::proto::WireWriter w(frame + fastid::proto::kHeaderSize,
                              sizeof frame - fastid::proto::kHeaderSize);
  w.cstr(user);
  if (op != Opcode::kAccount) w.cstr(password);
  if (op == Opcode::kChangePassword) w.cstr(new_password);
  w.str(service, service_len);
  const uint32_t id = 2;
  FrameHeader h{fastid::proto::kVersion,     0, static_cast<uint16_t>(op), id, 0,
                static_cast<uint32_t>(w.len)};
  fastid::proto::encode_header(h, frame);
  uint8_t reply[kMaxReply];
  uint32_t n = 0;
  bool ok =
      !w.overflow && exchange(fd, frame, fastid::proto::kHeaderSize + w.len,
                              static_cast<uint16_t>(op), id, reply, &n, now_ms() + o.timeout_ms);
  explicit_bzero(frame, sizeof frame);
  close(fd);
  if (!ok) {
    pam_syslog(pamh, LOG_ERR, "no usable answer from fastidd for user %s", user);
    return PAM_AUTHINFO_UNAVAIL;
  }
  fastid::proto::WireReader r(reply, n);
  uint32_t code = r.u32();
  uint32_t mlen = 0;
  const char* m = r.str(1024, &mlen);
  // A success of kAuthenticate may name the user's credential cache.
  uint32_t clen = 0;
  const char* c = nullptr;
  if (!r.bad && !r.at_end() && op == Opcode::kAuthenticate) c = r.str(fastid::proto::kMaxCcacheNameLength, &clen);
  if (r.bad || !r.at_end() || code > fastid::proto::kAuthResultMax) {
    pam_syslog(pamh, LOG_ERR, "malformed answer from fastidd for user %s", user);
    return PAM_AUTHINFO_UNAVAIL;
  }
  if (mlen >= message_cap) mlen = static_cast<uint32_t>(message_cap - 1);
  // Only printable text reaches the user's terminal.
  for (uint32_t i = 0; i < mlen; ++i) {
    unsigned char c = static_cast<unsigned char>(m[i]);
    message[i] = (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  message[mlen] = '\0';
  if (c != nullptr && ccache != nullptr && clen < ccache_cap && code == 0) {
    memcpy(ccache, c, clen);
    ccache[clen] = '\0';
  }
  return op == Opcode::kChangePassword ? chauthtok_code(static_cast<AuthResult>(code))
                                       : pam_code(static_cast<AuthResult>(code));
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
