// `fastid passwd [USER]`: a user changes their own password through the
// daemon's pam socket (opcode kChangePassword), with what pam_sm_chauthtok
// checks and sends (docs/pam.md).
#pragma once

#include <string>

namespace fastid::cli {

// USER empty: the caller's own name (getpwuid of the real uid). First the
// socket (a socket owned by root) and a preliminary request with no secret:
// does a source of fastid's change this user's password? Then the current
// password and the new one twice, without echo on /dev/tty (one line each
// from stdin when there is no terminal), sent only to a root daemon; the
// daemon lets a caller other than root change only its own password, and
// every source checks the current one. Exit codes as `fastid auth`: 0
// changed, 2 unknown user, 3 refused (wrong current password, the directory's
// policy, locked out, another user's, the two new ones differ), 1 anything
// else (no daemon, an outage, a user whose password fastid does not change).
int cmd_passwd(const std::string& user);

}  // namespace fastid::cli
