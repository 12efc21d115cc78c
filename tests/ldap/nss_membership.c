/* nss_membership: checks through real glibc that memberships agree both ways:
 * for every user that getpwent lists and every group that getgrent lists,
 * getgrouplist(user) contains the group's gid exactly when getgrgid(gid)
 * lists the user. The databases are pointed at one NSS service (default
 * "fastid") as nss_query does.
 *
 *   nss_membership [-s SERVICE] [-n EVERY]   check every EVERY-th user (default 1)
 *
 * Prints "users U groups G pairs P mismatches M" and the first mismatches;
 * exit 0 when M is 0 and U, G > 0, 1 otherwise.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

extern int __nss_configure_lookup(const char *db, const char *service_line);

struct group_copy {
  gid_t gid;
  char **members;
  size_t n;
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int cmp_gid(const void *a, const void *b) {
  gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *service = "fastid";
  long every = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "-s") == 0) service = argv[i + 1];
    else if (strcmp(argv[i], "-n") == 0) every = atol(argv[i + 1]);
  }
  if (every < 1) every = 1;
  __nss_configure_lookup("passwd", service);
  __nss_configure_lookup("group", service);
  __nss_configure_lookup("initgroups", service);

  /* Every group's gid by enumeration, then its members by getgrgid. */
  size_t ngroups = 0, cap = 1024;
  struct group_copy *groups = calloc(cap, sizeof *groups);
  setgrent();
  for (struct group *g; (g = getgrent()) != NULL;) {
    if (ngroups == cap) groups = realloc(groups, (cap *= 2) * sizeof *groups);
    groups[ngroups++].gid = g->gr_gid;
  }
  endgrent();
  for (size_t i = 0; i < ngroups; ++i) {
    struct group *g = getgrgid(groups[i].gid);
    if (g == NULL) {
      printf("getgrgid(%u) failed for an enumerated group\n", (unsigned)groups[i].gid);
      return 1;
    }
    size_t n = 0;
    while (g->gr_mem[n] != NULL) ++n;
    groups[i].members = calloc(n + 1, sizeof(char *));
    for (size_t k = 0; k < n; ++k) groups[i].members[k] = strdup(g->gr_mem[k]);
    groups[i].n = n;
    qsort(groups[i].members, n, sizeof(char *), cmp_str);
  }

  /* Every user by enumeration. */
  size_t nusers = 0, ucap = 16384;
  char **users = calloc(ucap, sizeof(char *));
  gid_t *primary = calloc(ucap, sizeof(gid_t));
  setpwent();
  for (struct passwd *p; (p = getpwent()) != NULL;) {
    if (nusers == ucap) {
      ucap *= 2;
      users = realloc(users, ucap * sizeof(char *));
      primary = realloc(primary, ucap * sizeof(gid_t));
    }
    primary[nusers] = p->pw_gid;
    users[nusers++] = strdup(p->pw_name);
  }
  endpwent();

  long pairs = 0, mismatches = 0, checked = 0;
  int cap_gids = 8192;
  gid_t *gids = malloc((size_t)cap_gids * sizeof(gid_t));
  for (size_t u = 0; u < nusers; u += (size_t)every) {
    int n = cap_gids;
    /* The primary gid is added by getgrouplist itself: use one no group has. */
    if (getgrouplist(users[u], (gid_t)-2, gids, &n) < 0) {
      printf("getgrouplist(%s): more than %d groups\n", users[u], cap_gids);
      return 1;
    }
    qsort(gids, (size_t)n, sizeof(gid_t), cmp_gid);
    ++checked;
    for (size_t i = 0; i < ngroups; ++i) {
      const int in_list = bsearch(&groups[i].gid, gids, (size_t)n, sizeof(gid_t), cmp_gid) != NULL;
      const int listed = bsearch(&users[u], groups[i].members, groups[i].n, sizeof(char *), cmp_str) != NULL;
      ++pairs;
      if (in_list != listed) {
        if (++mismatches <= 10) {
          printf("mismatch: %s: getgrouplist %s %u, getgrgid(%u) %s it\n", users[u],
                 in_list ? "has" : "lacks", (unsigned)groups[i].gid, (unsigned)groups[i].gid,
                 listed ? "lists" : "does not list");
        }
      }
    }
  }
  printf("users %ld groups %zu pairs %ld mismatches %ld\n", checked, ngroups, pairs, mismatches);
  return mismatches == 0 && checked > 0 && ngroups > 0 ? 0 : 1;
}
