/* clock_probe: a long-lived client of the fast cache for clock_jump_system_test.
 * It looks NAME up once through glibc (passwd pointed at "fastid"), waits for
 * GO_FILE to appear, then looks NAME up COUNT times, 100 ms apart (monotonic
 * sleeps), and prints how many were found. A process like sshd or crond that
 * asked before the daemon's maps existed must find them once they do, even
 * when the wall clock was set back meanwhile.
 *
 *   clock_probe NAME GO_FILE COUNT
 *
 * Exit status: 0 after the lookups, 1 on bad arguments or no GO_FILE in 60 s.
 */
#define _GNU_SOURCE
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

extern int __nss_configure_lookup(const char *db, const char *service_line);

static int found(const char *name) {
  struct passwd pw, *res = NULL;
  char buf[4096];
  return getpwnam_r(name, &pw, buf, sizeof buf, &res) == 0 && res != NULL;
}

static void pause_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  clock_nanosleep(CLOCK_MONOTONIC, 0, &t, NULL);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: clock_probe NAME GO_FILE COUNT\n");
    return 1;
  }
  const int count = atoi(argv[3]);
  __nss_configure_lookup("passwd", "fastid");
  printf("before: %s\n", found(argv[1]) ? "found" : "not found");
  fflush(stdout);
  int waited = 0;
  while (access(argv[2], F_OK) != 0) {
    if (++waited > 6000) return 1;
    pause_ms(10);
  }
  int hits = 0;
  for (int i = 0; i < count; ++i) {
    hits += found(argv[1]);
    pause_ms(100);
  }
  printf("found %d of %d\n", hits, count);
  return 0;
}
