/* pam_bench: pam_start + pam_authenticate + pam_end in a loop through real
 * libpam for one service and user, the password given by a conversation;
 * prints authentications per second, p50 and p99 in microseconds.
 *
 *   pam_bench SERVICE USER PASSWORD SECONDS
 *   pam_bench --hash PREFIX PASSWORD      print a libcrypt hash ("$y$", "$6$", "$2b$")
 *
 * bench/run-pam-bench drives it against pam_fastid.so and pam_unix.so over the
 * same hashes (docs/benchmarks.md). */
#include <crypt.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char* password;

static int conv(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
  (void)data;
  struct pam_response* r = calloc((size_t)n, sizeof *r);
  if (r == NULL) return PAM_BUF_ERR;
  for (int i = 0; i < n; ++i) {
    if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
      r[i].resp = strdup(password);
    }
  }
  *resp = r;
  return PAM_SUCCESS;
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "--hash") == 0) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data data;
    memset(&data, 0, sizeof data);
    if (crypt_gensalt_rn(argv[2], 0, NULL, 0, salt, sizeof salt) == NULL) return 1;
    const char* h = crypt_r(argv[3], salt, &data);
    if (h == NULL || h[0] == '*') return 1;
    puts(h);
    return 0;
  }
  if (argc != 5) {
    fprintf(stderr, "usage: pam_bench SERVICE USER PASSWORD SECONDS | --hash PREFIX PASSWORD\n");
    return 2;
  }
  password = argv[3];
  const double seconds = atof(argv[4]);
  size_t cap = 1 << 20, n = 0;
  double* lat = malloc(cap * sizeof *lat);
  if (lat == NULL) return 2;
  const double start = now_us(), end = start + seconds * 1e6;
  struct pam_conv c = {conv, NULL};
  while (n < cap) {
    const double t0 = now_us();
    if (t0 >= end) break;
    pam_handle_t* pamh = NULL;
    int rc = pam_start(argv[1], argv[2], &c, &pamh);
    if (rc == PAM_SUCCESS) rc = pam_authenticate(pamh, PAM_SILENT);
    if (pamh) pam_end(pamh, rc);
    if (rc != PAM_SUCCESS) {
      fprintf(stderr, "pam_bench: %s for %s: error %d\n", argv[1], argv[2], rc);
      return 1;
    }
    lat[n++] = now_us() - t0;
  }
  const double elapsed = (now_us() - start) / 1e6;
  qsort(lat, n, sizeof *lat, cmp);
  printf("%.0f %.0f %.0f\n", (double)n / elapsed, lat[n / 2], lat[(n * 99) / 100]);
  free(lat);
  return 0;
}
