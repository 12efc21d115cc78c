// `fastid auth USER`: checks a password (and then the account) through the
// daemon's pam socket, as pam_fastid.so would, for administrators.
#pragma once

#include <string>

namespace fastid::cli {

// Prompts for the password without echo on /dev/tty (or reads one line from
// stdin when there is no terminal), asks kAuthenticate then kAccount, prints
// the outcome. Like pam_fastid.so it sends nothing to a socket that is not
// root's or whose listener is not root (checked before the prompt, and again
// on each connection). Exit codes: 0 authenticated and account in order, 2 unknown
// user, 3 rejected (wrong password, locked out, account refused), 1 any other error.
int cmd_auth(const std::string& user);

}  // namespace fastid::cli
