/* nscd_churn: one reader process of nscd_system_test's churn test. For
 * SECONDS, looks up random users of the dataset PASSWD_FILE through glibc
 * (getpwnam_r and getpwuid_r in turn; no NSS module configured, so glibc's
 * nscd client answers, from the shared map when it holds one) and checks
 * every answer, field by field, against the dataset's line.
 *   nscd_churn PASSWD_FILE SECONDS
 * Prints "lookups=N wrong=W failed=F"; exit 0 only when W and F are 0. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_USERS 100000

static char *lines[MAX_USERS];
static char names[MAX_USERS][64];
static unsigned uids[MAX_USERS];

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  FILE *f = fopen(argv[1], "r");
  if (f == NULL) return 2;
  int n = 0;
  char line[4096];
  while (n < MAX_USERS && fgets(line, sizeof line, f) != NULL) {
    line[strcspn(line, "\n")] = 0;
    lines[n] = strdup(line);
    char *colon = strchr(line, ':');
    if (colon == NULL || colon - line >= 64) return 2;
    memcpy(names[n], line, (size_t)(colon - line));
    names[n][colon - line] = 0;
    uids[n] = (unsigned)strtoul(strchr(colon + 1, ':') + 1, NULL, 10);
    ++n;
  }
  fclose(f);
  if (n == 0) return 2;
  const double end = now() + atof(argv[2]);
  unsigned long lookups = 0, wrong = 0, failed = 0;
  static char buf[65536], got[8192];
  unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
  while (now() < end) {
    int i = (int)(rand_r(&seed) % (unsigned)n);
    struct passwd pw, *r = NULL;
    int rc = (lookups & 1) ? getpwuid_r(uids[i], &pw, buf, sizeof buf, &r)
                           : getpwnam_r(names[i], &pw, buf, sizeof buf, &r);
    ++lookups;
    if (rc != 0 || r == NULL) {
      ++failed;
      continue;
    }
    snprintf(got, sizeof got, "%s:%s:%u:%u:%s:%s:%s", pw.pw_name, pw.pw_passwd, (unsigned)pw.pw_uid,
             (unsigned)pw.pw_gid, pw.pw_gecos, pw.pw_dir, pw.pw_shell);
    if (strcmp(got, lines[i]) != 0) {
      if (wrong < 5) fprintf(stderr, "nscd_churn: wanted %s, got %s\n", lines[i], got);
      ++wrong;
    }
  }
  printf("lookups=%lu wrong=%lu failed=%lu\n", lookups, wrong, failed);
  return wrong == 0 && failed == 0 ? 0 : 1;
}
