/* nss_query: one lookup through real glibc, with the passwd, group and
 * initgroups databases pointed at one NSS service (default "fastid", i.e.
 * libnss_fastid.so.2 found through LD_LIBRARY_PATH).
 *
 *   nss_query [-s SERVICE] passwd NAME|UID    getpwnam_r / getpwuid_r, prints a passwd line
 *   nss_query [-s SERVICE] group NAME|GID     getgrnam_r / getgrgid_r, prints a group line
 *   nss_query [-s SERVICE] groups USER        getgrouplist, prints the gids like `id -G`
 *   nss_query [-s SERVICE] pwent | grent      setpwent/getpwent_r/endpwent (or groups), all lines
 *
 * Exit status: 0 found, 2 not found, 1 error (the error is printed on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

extern int __nss_configure_lookup(const char *db, const char *service_line);

static int parse_id(const char *s, unsigned long *out) {
  if (*s < '0' || *s > '9') return 0;
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v > 0xffffffffUL) return 0;
  *out = v;
  return 1;
}

static void print_passwd(const struct passwd *pw) {
  printf("%s:%s:%u:%u:%s:%s:%s\n", pw->pw_name, pw->pw_passwd, (unsigned)pw->pw_uid,
         (unsigned)pw->pw_gid, pw->pw_gecos, pw->pw_dir, pw->pw_shell);
}

static void print_group(const struct group *gr) {
  printf("%s:%s:%u:", gr->gr_name, gr->gr_passwd, (unsigned)gr->gr_gid);
  for (char **m = gr->gr_mem; *m != NULL; ++m) printf("%s%s", m == gr->gr_mem ? "" : ",", *m);
  printf("\n");
}

/* Runs a reentrant lookup with a growing buffer. Returns the exit status. */
#define LOOKUP(call_expr, result, print, what)                                 \
  do {                                                                         \
    size_t len = 1024;                                                         \
    char *buf = NULL;                                                          \
    int rc;                                                                    \
    for (;;) {                                                                 \
      char *nb = realloc(buf, len);                                            \
      if (nb == NULL) {                                                        \
        fprintf(stderr, "nss_query: out of memory\n");                        \
        return 1;                                                              \
      }                                                                        \
      buf = nb;                                                                \
      rc = (call_expr);                                                        \
      if (rc != ERANGE || len > (64u << 20)) break;                            \
      len *= 2;                                                                \
    }                                                                          \
    if (rc != 0) {                                                             \
      fprintf(stderr, "nss_query: %s: %s\n", what, strerror(rc));             \
      free(buf);                                                               \
      return 1;                                                                \
    }                                                                          \
    if (result == NULL) {                                                      \
      free(buf);                                                               \
      return 2;                                                                \
    }                                                                          \
    print(result);                                                             \
    free(buf);                                                                 \
    return 0;                                                                  \
  } while (0)

static int query_passwd(const char *key) {
  struct passwd pw, *res = NULL;
  unsigned long id;
  if (parse_id(key, &id))
    LOOKUP(getpwuid_r((uid_t)id, &pw, buf, len, &res), res, print_passwd, "getpwuid_r");
  else
    LOOKUP(getpwnam_r(key, &pw, buf, len, &res), res, print_passwd, "getpwnam_r");
}

static int query_group(const char *key) {
  struct group gr, *res = NULL;
  unsigned long id;
  if (parse_id(key, &id))
    LOOKUP(getgrgid_r((gid_t)id, &gr, buf, len, &res), res, print_group, "getgrgid_r");
  else
    LOOKUP(getgrnam_r(key, &gr, buf, len, &res), res, print_group, "getgrnam_r");
}

static gid_t primary_gid;
static void keep_gid(const struct passwd *pw) { primary_gid = pw->pw_gid; }

static int primary_group(const char *user) {
  struct passwd pw, *res = NULL;
  LOOKUP(getpwnam_r(user, &pw, buf, len, &res), res, keep_gid, "getpwnam_r");
}

static int query_groups(const char *user) {
  int rc = primary_group(user);
  if (rc != 0) return rc;
  int n = 64;
  gid_t *gids = NULL;
  for (int attempt = 0; attempt < 8; ++attempt) {
    gid_t *ng = realloc(gids, (size_t)n * sizeof *gids);
    if (ng == NULL) {
      free(gids);
      fprintf(stderr, "nss_query: out of memory\n");
      return 1;
    }
    gids = ng;
    int want = n;
    if (getgrouplist(user, primary_gid, gids, &want) >= 0) {
      for (int i = 0; i < want; ++i) printf("%s%u", i ? " " : "", (unsigned)gids[i]);
      printf("\n");
      free(gids);
      return 0;
    }
    n = want > n ? want : 2 * n;
  }
  free(gids);
  fprintf(stderr, "nss_query: getgrouplist: the list keeps growing\n");
  return 1;
}

static int enumerate(int users) {
  size_t len = 4096;
  char *buf = malloc(len);
  int count = 0;
  if (buf == NULL) return 1;
  if (users)
    setpwent();
  else
    setgrent();
  for (;;) {
    int rc;
    if (users) {
      struct passwd pw, *res = NULL;
      rc = getpwent_r(&pw, buf, len, &res);
      if (rc == 0 && res) print_passwd(res);
    } else {
      struct group gr, *res = NULL;
      rc = getgrent_r(&gr, buf, len, &res);
      if (rc == 0 && res) print_group(res);
    }
    if (rc == ERANGE) {
      char *nb = realloc(buf, len * 2);
      if (nb == NULL) break;
      buf = nb;
      len *= 2;
      continue;
    }
    if (rc != 0) break; /* ENOENT: the end */
    ++count;
  }
  if (users)
    endpwent();
  else
    endgrent();
  free(buf);
  return count > 0 ? 0 : 2;
}

static int usage(void) {
  fprintf(stderr,
          "usage: nss_query [-s SERVICE] passwd NAME|UID | group NAME|GID | groups USER | pwent | grent\n");
  return 1;
}

int main(int argc, char **argv) {
  const char *service = "fastid";
  int i = 1;
  if (i + 1 < argc && strcmp(argv[i], "-s") == 0) {
    service = argv[i + 1];
    i += 2;
  }
  if (i >= argc) return usage();
  if (__nss_configure_lookup("passwd", service) != 0 || __nss_configure_lookup("group", service) != 0) {
    fprintf(stderr, "nss_query: __nss_configure_lookup(%s) failed\n", service);
    return 1;
  }
  (void)__nss_configure_lookup("initgroups", service); /* else glibc uses the group database */
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  const char *what = argv[i];
  const char *key = i + 1 < argc ? argv[i + 1] : NULL;
  if (strcmp(what, "pwent") == 0) return enumerate(1);
  if (strcmp(what, "grent") == 0) return enumerate(0);
  if (key == NULL) return usage();
  if (strcmp(what, "passwd") == 0) return query_passwd(key);
  if (strcmp(what, "group") == 0) return query_group(key);
  if (strcmp(what, "groups") == 0) return query_groups(key);
  return usage();
}
