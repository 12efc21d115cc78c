// What `fastid auth` and `fastid passwd` share: the pam socket's path, the
// checks pam_fastid.so makes before a secret leaves the process (a socket
// owned by root, a root process behind it: pam/daemon_check.h), one request
// and its reply, and reading a secret without echo. Secrets live in
// core::Secret; every buffer that held one is zeroed.
#pragma once

#include <string>

#include "core/secret.h"
#include "core/status.h"
#include "proto/messages.h"

namespace fastid::cli {

// Exit codes of the commands that use the pam socket.
inline constexpr int kPamOk = 0;
inline constexpr int kPamError = 1;     // no daemon, an outage, a daemon that is not root, bad input
inline constexpr int kPamUnknown = 2;   // no source knows the user
inline constexpr int kPamRejected = 3;  // a wrong password, locked out, refused

// $FASTID_SOCKET_DIR/pam, or the compiled-in socket directory's.
std::string pam_socket_path();

// The socket file must be a socket owned by root (before a prompt, so that
// nobody types a password that would not be sent).
core::Status check_pam_socket(const std::string& path);

// One request on a fresh connection, sent only after the socket file and the
// peer (SO_PEERCRED uid 0) were checked; the sent frame is zeroed.
core::Result<proto::AuthReply> ask_pam_socket(const std::string& path, const proto::Request& req);

// `prompt` on /dev/tty with echo off, one line read there; with no terminal,
// one line of stdin (no prompt). Longer than the protocol allows: an error,
// never cut. The line buffer is zeroed.
core::Result<core::Secret> read_secret(const char* prompt);

// kPamOk, kPamUnknown, kPamError (unavailable) or kPamRejected.
int pam_exit_code(proto::AuthResult r);

}  // namespace fastid::cli
