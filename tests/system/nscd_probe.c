/* nscd_probe: lookups through glibc's own API and nothing else — no NSS
 * module is configured for it, so whatever answers beyond `files` is glibc's
 * built-in nscd client. For nscd_system_test, also built with -static.
 *
 *   nscd_probe passwd NAME [N]   getpwnam_r N times (default 1); prints the
 *                                last answer as a passwd line; exit 2: not found
 *   nscd_probe uid UID [N]       getpwuid_r, the same
 *   nscd_probe group NAME [N]    getgrnam_r; prints a group line
 *   nscd_probe gid GID [N]       getgrgid_r
 *   nscd_probe groups NAME GID   getgrouplist; prints the gids, space-separated
 * With NSCD_PROBE_WARM=W in the environment, the lookups (passwd, uid,
 * group, gid) write "nscd_probe: hot" to stderr after the first W: under
 * strace, every system call after that line belongs to the hot lookups.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static char buf[1 << 20];

static int print_passwd(const struct passwd* pw) {
  printf("%s:%s:%u:%u:%s:%s:%s\n", pw->pw_name, pw->pw_passwd, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid,
         pw->pw_gecos, pw->pw_dir, pw->pw_shell);
  return 0;
}

static int print_group(const struct group* gr) {
  printf("%s:%s:%u:", gr->gr_name, gr->gr_passwd, (unsigned)gr->gr_gid);
  for (char** m = gr->gr_mem; *m != NULL; ++m) printf("%s%s", m == gr->gr_mem ? "" : ",", *m);
  printf("\n");
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: nscd_probe passwd|uid|group|gid NAME [N] | groups NAME GID\n");
    return 1;
  }
  const char* what = argv[1];
  const char* key = argv[2];
  if (strcmp(what, "groups") == 0) {
    if (argc < 4) return 1;
    gid_t groups[65536];
    int n = 65536;
    if (getgrouplist(key, (gid_t)strtoul(argv[3], NULL, 10), groups, &n) < 0) return 1;
    for (int i = 0; i < n; ++i) printf("%s%u", i ? " " : "", (unsigned)groups[i]);
    printf("\n");
    return 0;
  }
  long times = argc > 3 ? strtol(argv[3], NULL, 10) : 1;
  if (times < 1) times = 1;
  struct passwd pw, *pwr = NULL;
  struct group gr, *grr = NULL;
  int rc = 0;
  const char* warm_env = getenv("NSCD_PROBE_WARM");
  const long warm = warm_env != NULL ? strtol(warm_env, NULL, 10) : -1;
  for (long i = 0; i < times; ++i) {
    if (i == warm && write(2, "nscd_probe: hot\n", 16) != 16) return 1;
    if (strcmp(what, "passwd") == 0) {
      rc = getpwnam_r(key, &pw, buf, sizeof buf, &pwr);
    } else if (strcmp(what, "uid") == 0) {
      rc = getpwuid_r((uid_t)strtoul(key, NULL, 10), &pw, buf, sizeof buf, &pwr);
    } else if (strcmp(what, "group") == 0) {
      rc = getgrnam_r(key, &gr, buf, sizeof buf, &grr);
    } else if (strcmp(what, "gid") == 0) {
      rc = getgrgid_r((gid_t)strtoul(key, NULL, 10), &gr, buf, sizeof buf, &grr);
    } else {
      return 1;
    }
    if (rc != 0) {
      fprintf(stderr, "nscd_probe: %s %s: %s\n", what, key, strerror(rc));
      return 1;
    }
  }
  if (pwr != NULL) return print_passwd(pwr);
  if (grr != NULL) return print_group(grr);
  return 2;
}
