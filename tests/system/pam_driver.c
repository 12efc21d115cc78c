/* pam_driver: runs PAM steps for one user through real libpam, with a
 * conversation that answers the password prompt with the whole of stdin (any
 * length: pamtester's conversation cuts at 512 bytes, and the tests need to
 * send 64 KiB). Plain C on libpam alone.
 *
 *   pam_driver SERVICE USER STEP...   STEP: authenticate | acct_mgmt
 *
 * Prints "STEP: <pam_strerror> (<code>)" and "prompts: N" (how often the module
 * asked); exits 0 when every step succeeded, else the first failing PAM code. */
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char* password;
static int prompts;

static int conv(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
  (void)data;
  struct pam_response* r = calloc((size_t)n, sizeof *r);
  if (r == NULL) return PAM_BUF_ERR;
  for (int i = 0; i < n; ++i) {
    if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
      ++prompts;
      r[i].resp = strdup(password);
    } else {
      fprintf(stderr, "message: %s\n", msg[i]->msg);
    }
  }
  *resp = r;
  return PAM_SUCCESS;
}

int main(int argc, char** argv) {
  const int first = 1;
  if (argc - first < 3) {
    fprintf(stderr, "usage: pam_driver SERVICE USER STEP...\n");
    return 99;
  }
  size_t cap = 1 << 20, len = 0;
  password = malloc(cap + 1);
  if (password == NULL) return 99;
  ssize_t n;
  while (len < cap && (n = read(0, password + len, cap - len)) > 0) len += (size_t)n;
  if (len > 0 && password[len - 1] == '\n') --len;
  password[len] = '\0';

  struct pam_conv c = {conv, NULL};
  pam_handle_t* pamh = NULL;
  int rc = pam_start(argv[first], argv[first + 1], &c, &pamh);
  if (rc != PAM_SUCCESS) {
    fprintf(stderr, "pam_start: %d\n", rc);
    return 98;
  }
  int result = 0;
  for (int i = first + 2; i < argc; ++i) {
    if (strcmp(argv[i], "authenticate") == 0) {
      rc = pam_authenticate(pamh, 0);
    } else if (strcmp(argv[i], "acct_mgmt") == 0) {
      rc = pam_acct_mgmt(pamh, 0);
    } else {
      fprintf(stderr, "unknown step %s\n", argv[i]);
      return 99;
    }
    printf("%s: %s (%d)\n", argv[i], pam_strerror(pamh, rc), rc);
    if (rc != PAM_SUCCESS && result == 0) result = rc;
    if (rc != PAM_SUCCESS) break;
  }
  printf("prompts: %d\n", prompts);
  pam_end(pamh, rc);
  memset(password, 0, len);
  free(password);
  return result;
}
