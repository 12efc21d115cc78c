/* innetgr_query: reads "NETGROUP HOST USER DOMAIN" lines ("*" = NULL) from
 * stdin and prints innetgr(3)'s answer, 1 or 0, one line each: glibc's own
 * netgroup walk (setnetgrent/getnetgrent_r/endnetgrent of every source in
 * /etc/nsswitch.conf, nested netgroups, its cycle check) as any program sees it. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

static const char *arg(const char *s) { return strcmp(s, "*") == 0 ? NULL : s; }

int main(void) {
  char line[4096], ng[1024], host[1024], user[1024], domain[1024];
  while (fgets(line, sizeof line, stdin) != NULL) {
    if (sscanf(line, "%1023s %1023s %1023s %1023s", ng, host, user, domain) != 4) {
      fprintf(stderr, "innetgr_query: bad line: %s", line);
      return 1;
    }
    printf("%d\n", innetgr(ng, arg(host), arg(user), arg(domain)) ? 1 : 0);
  }
  return fflush(stdout) == 0 ? 0 : 1;
}
