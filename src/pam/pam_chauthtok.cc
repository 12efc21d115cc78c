// pam_fastid.so, password changes (pam_sm_chauthtok; docs/pam.md): the
// preliminary pass asks the daemon, with no secret, whether a source of
// fastid's changes the user's password (PAM_IGNORE otherwise: files users are
// pam_unix's) and prompts for the current one; the update pass prompts for the
// new one twice (or takes PAM_AUTHTOK with use_authtok) and sends both. The
// daemon binds as the user; nothing here can change another user's password.
// Every answer of the conversation is zeroed once used.
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "pam/module.h"

namespace fastid::pam_module {

using fastid::proto::Opcode;

namespace {

// pam_set_data key: the preliminary pass found that no source of ours
// changes this user's password, so the update pass ignores it too.
constexpr const char* kNotOurs = "fastid_chauthtok_not_ours";

bool too_long(const char* password) {
  return strnlen(password, fastid::proto::kMaxPasswordLength + 1) > fastid::proto::kMaxPasswordLength;
}

// PAM_PRELIM_CHECK: is the daemon there, and does a source of ours change
// this user's password (no secret sent)? Then the current password, asked
// now as pam_unix does, kept as PAM_OLDAUTHTOK for the update pass.
int prelim_check(pam_handle_t* pamh, int flags, const Options& o, const char* user) {
  char message[1025];
  int rc = ask(pamh, o, Opcode::kChangePassword, user, "", "", message, sizeof message);
  if (rc == PAM_IGNORE) {
    (void)pam_set_data(pamh, kNotOurs, const_cast<char*>(kNotOurs), nullptr);
    if (o.debug) pam_syslog(pamh, LOG_DEBUG, "chauthtok %s: %s", user, message);
    return PAM_IGNORE;
  }
  if (rc != PAM_SUCCESS) {
    tell(pamh, flags, PAM_ERROR_MSG, message);
    // No daemon: "the preliminary check was unsuccessful" in chauthtok's words.
    return rc == PAM_AUTHINFO_UNAVAIL ? PAM_TRY_AGAIN : rc;
  }
  const void* old_token = nullptr;
  if (o.use_first_pass || o.try_first_pass) (void)pam_get_item(pamh, PAM_OLDAUTHTOK, &old_token);
  if (old_token != nullptr) return PAM_SUCCESS;
  if (o.use_first_pass) return PAM_AUTHTOK_RECOVERY_ERR;
  rc = prompt_password(pamh, PAM_OLDAUTHTOK, "Current password: ");
  if (rc != PAM_SUCCESS) return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_AUTHTOK_RECOVERY_ERR;
  return PAM_SUCCESS;
}

// The new password, twice, unless use_authtok takes an earlier module's;
// it becomes PAM_AUTHTOK. PAM_SUCCESS with *token set, or a PAM error.
int new_password(pam_handle_t* pamh, int flags, const Options& o, const void** token) {
  *token = nullptr;
  if (o.use_authtok) {
    if (pam_get_item(pamh, PAM_AUTHTOK, token) != PAM_SUCCESS || *token == nullptr) return PAM_AUTHTOK_ERR;
    return PAM_SUCCESS;
  }
  pam_response* first = nullptr;
  int rc = ask_hidden(pamh, "New password: ", &first);
  if (rc != PAM_SUCCESS) return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_AUTHTOK_ERR;
  pam_response* again = nullptr;
  rc = ask_hidden(pamh, "Retype new password: ", &again);
  if (rc != PAM_SUCCESS) {
    drop_answer(first);
    return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_AUTHTOK_ERR;
  }
  const bool same = strcmp(first[0].resp, again[0].resp) == 0;
  if (same) rc = pam_set_item(pamh, PAM_AUTHTOK, first[0].resp);
  drop_answer(first);
  drop_answer(again);
  if (!same) {
    tell(pamh, flags, PAM_ERROR_MSG, "Sorry, passwords do not match.");
    return PAM_AUTHTOK_ERR;
  }
  if (rc != PAM_SUCCESS) return rc;
  if (pam_get_item(pamh, PAM_AUTHTOK, token) != PAM_SUCCESS || *token == nullptr) return PAM_AUTHTOK_ERR;
  return PAM_SUCCESS;
}

// pam_sm_chauthtok: the preliminary pass, then the update pass that sends the
// current and the new password to the daemon, which changes it in the
// user's directory bound as the user (never as anyone else).
}  // namespace

int change_password(pam_handle_t* pamh, int flags, const Options& o) {
  const char* user = nullptr;
  int rc = get_user(pamh, &user);
  if (rc != PAM_SUCCESS) return rc;
  if ((flags & PAM_PRELIM_CHECK) != 0) {
    rc = prelim_check(pamh, flags, o, user);
    if (o.debug) pam_syslog(pamh, LOG_DEBUG, "chauthtok %s (preliminary): %s", user, pam_strerror(pamh, rc));
    return rc;
  }
  if ((flags & PAM_UPDATE_AUTHTOK) == 0) return PAM_SERVICE_ERR;
  const void* not_ours = nullptr;
  if (pam_get_data(pamh, kNotOurs, &not_ours) == PAM_SUCCESS && not_ours != nullptr) return PAM_IGNORE;
  const void* old_token = nullptr;
  if (pam_get_item(pamh, PAM_OLDAUTHTOK, &old_token) != PAM_SUCCESS || old_token == nullptr) {
    return PAM_AUTHTOK_RECOVERY_ERR;
  }
  const void* new_token = nullptr;
  rc = new_password(pamh, flags, o, &new_token);
  if (rc != PAM_SUCCESS) return rc;
  const char* old_pw = static_cast<const char*>(old_token);
  const char* new_pw = static_cast<const char*>(new_token);
  if (too_long(old_pw)) return PAM_PERM_DENIED;
  if (too_long(new_pw)) {
    tell(pamh, flags, PAM_ERROR_MSG, "The new password is too long.");
    return PAM_AUTHTOK_ERR;
  }
  if (new_pw[0] == '\0') {
    tell(pamh, flags, PAM_ERROR_MSG, "No password given.");
    return PAM_AUTHTOK_ERR;
  }
  char message[1025];
  rc = ask(pamh, o, Opcode::kChangePassword, user, old_pw, new_pw, message, sizeof message);
  if (rc == PAM_SUCCESS) {
    tell(pamh, flags, PAM_TEXT_INFO, message);
  } else if (rc != PAM_IGNORE) {
    tell(pamh, flags, PAM_ERROR_MSG, message);
  }
  if (o.debug) pam_syslog(pamh, LOG_DEBUG, "chauthtok %s: %s", user, pam_strerror(pamh, rc));
  return rc;
}

}  // namespace fastid::pam_module
