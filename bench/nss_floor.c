/* libnss_fastidfloor.so.2: the floor of any glibc NSS module, for nss_bench.
 *
 * It answers at once, touching no file, socket or shared memory, so that
 * `nss_bench -s fastidfloor` measures glibc's NSS dispatch (plus the copy any
 * module must make into the caller's buffer) and nothing else. fastid's fast
 * cache hit is compared against it (issue 3: "within 1.2x of a trivial
 * module").
 *
 *   getpwnam_r      every name exists: a fixed record carrying the name
 *   initgroups_dyn  every user is in the same FLOOR_NGROUPS groups
 *
 * Only _nss_fastidfloor_* are exported (hidden visibility by default, see
 * bench/CMakeLists.txt), like libnss_fastid.so.2.
 */
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define FLOOR_EXPORT __attribute__((visibility("default")))

/* Check the definitions against glibc's own prototypes. */
nss_getpwnam_r _nss_fastidfloor_getpwnam_r;
nss_initgroups_dyn _nss_fastidfloor_initgroups_dyn;

/* Constant fields. The strings are about the size of a real record's
 * (gen-dataset: "User N;ck=...", "/home/userNNNNN") so that the copy costs
 * what fastid's copy costs; the ids are arbitrary. */
#define FLOOR_UID 4242
#define FLOOR_GID 4242
static const char floor_passwd[] = "x";
static const char floor_gecos[] = "fastid floor;ck=0000000000";
static const char floor_dir[] = "/home/fastidfloor";
static const char floor_shell[] = "/bin/sh";

/* Same number of supplementary groups as gen-dataset gives each user (3), so
 * getgrouplist returns as many gids as it does through fastid. */
static const gid_t floor_groups[] = {4243, 4244, 4245};
#define FLOOR_NGROUPS (sizeof floor_groups / sizeof floor_groups[0])

/* Copies s (with its NUL) to *p if it fits before end; returns the copy or
 * NULL when the buffer is too small. */
static char *put(char **p, const char *end, const char *s, size_t len) {
  if ((size_t)(end - *p) < len + 1) return NULL;
  char *dst = *p;
  memcpy(dst, s, len + 1);
  *p += len + 1;
  return dst;
}

FLOOR_EXPORT enum nss_status _nss_fastidfloor_getpwnam_r(const char *name, struct passwd *pw,
                                                         char *buf, size_t buflen, int *errnop) {
  char *p = buf;
  const char *end = buf + buflen;
  /* All fields are placed before any is stored in *pw: on ERANGE glibc
   * retries with a bigger buffer and *pw must not point into the old one. */
  char *n = put(&p, end, name, strlen(name));
  char *pass = n ? put(&p, end, floor_passwd, sizeof floor_passwd - 1) : NULL;
  char *gecos = pass ? put(&p, end, floor_gecos, sizeof floor_gecos - 1) : NULL;
  char *dir = gecos ? put(&p, end, floor_dir, sizeof floor_dir - 1) : NULL;
  char *shell = dir ? put(&p, end, floor_shell, sizeof floor_shell - 1) : NULL;
  if (shell == NULL) {
    *errnop = ERANGE;
    return NSS_STATUS_TRYAGAIN; /* glibc's contract for "buffer too small" */
  }
  pw->pw_name = n;
  pw->pw_passwd = pass;
  pw->pw_uid = FLOOR_UID;
  pw->pw_gid = FLOOR_GID;
  pw->pw_gecos = gecos;
  pw->pw_dir = dir;
  pw->pw_shell = shell;
  return NSS_STATUS_SUCCESS;
}

/* Appends the fixed groups (except `group`, which glibc already put first) to
 * *groupsp, growing it with realloc as glibc's own modules do and never past
 * `limit` entries when limit > 0; the same contract libnss_fastid follows,
 * so both pay the same glibc-side costs. */
FLOOR_EXPORT enum nss_status _nss_fastidfloor_initgroups_dyn(const char *user, gid_t group,
                                                             long int *start, long int *size,
                                                             gid_t **groupsp, long int limit,
                                                             int *errnop) {
  (void)user;
  for (size_t i = 0; i < FLOOR_NGROUPS; ++i) {
    gid_t g = floor_groups[i];
    if (g == group) continue;
    if (*start == *size) {
      if (limit > 0 && *size >= limit) break; /* glibc's limit reached: stop quietly */
      long int newsize = *size > 0 ? 2 * *size : 16;
      if (limit > 0 && newsize > limit) newsize = limit;
      gid_t *grown = realloc(*groupsp, (size_t)newsize * sizeof **groupsp);
      if (grown == NULL) {
        *errnop = ENOMEM;
        return NSS_STATUS_TRYAGAIN;
      }
      *groupsp = grown;
      *size = newsize;
    }
    (*groupsp)[(*start)++] = g;
  }
  return NSS_STATUS_SUCCESS;
}
