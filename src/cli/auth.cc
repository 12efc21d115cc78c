// `fastid auth`: the password prompt and the two requests on the pam socket,
// sent only to a root daemon (the checks pam_fastid.so makes, pam/daemon_check.h).
#include "cli/auth.h"

#include <cstdio>

#include "cli/pam_socket.h"
#include "proto/wire.h"

namespace fastid::cli {

int cmd_auth(const std::string& user) {
  if (user.empty() || user.size() > proto::kMaxNameLength) {
    std::fprintf(stderr, "fastid: auth: the user name must be 1 to %u bytes\n",
                 proto::kMaxNameLength);
    return kPamError;
  }
  const std::string path = pam_socket_path();
  // Nobody types a password for a socket it would not be sent to.
  if (auto st = check_pam_socket(path); !st) {
    std::fprintf(stderr, "fastid: auth %s: %s\n", user.c_str(), st.to_string().c_str());
    return kPamError;
  }
  auto password = read_secret("Password: ");
  if (!password) {
    std::fprintf(stderr, "fastid: auth %s: %s\n", user.c_str(), password.error().message().c_str());
    return kPamError;
  }
  proto::Request req;
  req.opcode = proto::Opcode::kAuthenticate;
  req.request_id = 1;
  req.name = user;
  req.password = std::move(*password);
  req.service = "fastid-cli";
  auto answer = ask_pam_socket(path, req);
  req.password = core::Secret();
  if (!answer) {
    std::fprintf(stderr, "fastid: auth %s: %s\n", user.c_str(), answer.error().to_string().c_str());
    return kPamError;
  }
  auto print = [&](const char* step, const proto::AuthReply& a) {
    std::printf("%s %s: %s%s%s\n", step, user.c_str(),
                std::string(proto::auth_result_name(a.result)).c_str(),
                a.message.empty() ? "" : ": ", a.message.c_str());
  };
  print("auth", *answer);
  if (answer->result != proto::AuthResult::kSuccess) return pam_exit_code(answer->result);
  proto::Request acct;
  acct.opcode = proto::Opcode::kAccount;
  acct.request_id = 2;
  acct.name = user;
  acct.service = "fastid-cli";
  auto account = ask_pam_socket(path, acct);
  if (!account) {
    std::fprintf(stderr, "fastid: account %s: %s\n", user.c_str(),
                 account.error().to_string().c_str());
    return kPamError;
  }
  print("account", *account);
  return pam_exit_code(account->result);
}

}  // namespace fastid::cli
