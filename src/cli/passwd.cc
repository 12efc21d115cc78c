// `fastid passwd`: the prompts and the two kChangePassword requests of a
// password change (the preliminary one carries no secret), sent only to a
// root daemon (cli/pam_socket.h). Secrets stay in core::Secret.
#include "cli/passwd.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "cli/pam_socket.h"
#include "proto/wire.h"

namespace fastid::cli {
namespace {

// The name of the real uid, from NSS (fastid's module included, if configured).
std::string own_name() {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return "";
  return pw.pw_name;
}

proto::Request change_request(const std::string& user, std::uint32_t id) {
  proto::Request req;
  req.opcode = proto::Opcode::kChangePassword;
  req.request_id = id;
  req.name = user;
  req.service = "fastid-passwd";
  return req;
}

int fail(const std::string& user, const std::string& why, int code = kPamError) {
  std::fprintf(stderr, "fastid: passwd %s: %s\n", user.c_str(), why.c_str());
  return code;
}

}  // namespace

int cmd_passwd(const std::string& asked) {
  const std::string user = asked.empty() ? own_name() : asked;
  if (user.empty()) return fail("-", "the caller's uid has no name; name the user");
  if (user.size() > proto::kMaxNameLength) {
    return fail("-", "the user name must be 1 to " + std::to_string(proto::kMaxNameLength) + " bytes");
  }
  const std::string path = pam_socket_path();
  // Nobody types a password for a socket it would not be sent to.
  if (auto st = check_pam_socket(path); !st) return fail(user, st.to_string());

  // Whose password is this? No secret yet.
  auto prelim = ask_pam_socket(path, change_request(user, 1));
  if (!prelim) return fail(user, prelim.error().to_string());
  if (prelim->result == proto::AuthResult::kIgnore) {
    return fail(user, "fastid does not change this password" +
                          (prelim->message.empty() ? std::string() : " (" + prelim->message + ")") +
                          "; use passwd(1)");
  }
  if (prelim->result != proto::AuthResult::kSuccess) {
    return fail(user, std::string(proto::auth_result_name(prelim->result)) +
                          (prelim->message.empty() ? "" : ": " + prelim->message),
                pam_exit_code(prelim->result));
  }

  std::printf("Changing the password of %s.\n", user.c_str());
  std::fflush(stdout);
  auto current = read_secret("Current password: ");
  if (!current) return fail(user, current.error().message());
  auto fresh = read_secret("New password: ");
  if (!fresh) return fail(user, fresh.error().message());
  auto again = read_secret("Retype new password: ");
  if (!again) return fail(user, again.error().message());
  if (fresh->view() != again->view()) return fail(user, "the new passwords differ; nothing changed", kPamRejected);
  if (fresh->size() == 0) return fail(user, "no new password given; nothing changed", kPamRejected);

  proto::Request req = change_request(user, 2);
  req.password = std::move(*current);
  req.new_password = std::move(*fresh);
  auto answer = ask_pam_socket(path, req);
  req.password = core::Secret();
  req.new_password = core::Secret();
  if (!answer) return fail(user, answer.error().to_string());
  const std::string said = answer->message.empty() ? "" : ": " + answer->message;
  if (answer->result != proto::AuthResult::kSuccess) {
    return fail(user, std::string(proto::auth_result_name(answer->result)) + said, pam_exit_code(answer->result));
  }
  std::printf("passwd %s: password changed\n", user.c_str());
  return kPamOk;
}

}  // namespace fastid::cli
