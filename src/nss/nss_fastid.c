/* libnss_fastid.so.2: the glibc NSS module (passwd, group, initgroups) on top
 * of libfastid, linked in statically. It runs inside every process that looks
 * up a user, so it only maps statuses and keeps the enumeration state; all
 * socket handling (pooling, fork, fds, timeouts) is libfastid's.
 *
 * Status mapping (glibc manual, "NSS Modules Interface"):
 *   FASTID_OK                  NSS_STATUS_SUCCESS
 *   FASTID_NOT_FOUND           NSS_STATUS_NOTFOUND  errno ENOENT
 *   FASTID_INVALID_ARGUMENT    NSS_STATUS_NOTFOUND  errno ENOENT (e.g. a name too long to exist)
 *   FASTID_ERANGE              NSS_STATUS_TRYAGAIN  errno ERANGE (glibc retries with a bigger buffer)
 *   FASTID_BUSY, FASTID_TIMEOUT, FASTID_TRY_AGAIN (the daemon's directory is offline and it
 *   holds no stored answer)
 *                              NSS_STATUS_UNAVAIL   errno EAGAIN (transient: the caller sees EAGAIN,
 *                                                   not "no such user")
 *   FASTID_UNAVAILABLE, FASTID_PROTOCOL_ERROR, FASTID_PERMISSION_DENIED, FASTID_INTERNAL
 *                              NSS_STATUS_UNAVAIL   errno ENOENT (service not there: glibc goes on
 *                                                   to the next source, like a missing file)
 * UNAVAIL rather than TRYAGAIN for the transient cases: TRYAGAIN is reserved
 * for ERANGE here, so a slow daemon never makes glibc loop.
 */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "fastid/fastid.h"

/* Check our definitions against glibc's own prototypes. */
nss_getpwnam_r _nss_fastid_getpwnam_r;
nss_getpwuid_r _nss_fastid_getpwuid_r;
nss_getgrnam_r _nss_fastid_getgrnam_r;
nss_getgrgid_r _nss_fastid_getgrgid_r;
nss_initgroups_dyn _nss_fastid_initgroups_dyn;
nss_setpwent _nss_fastid_setpwent;
nss_getpwent_r _nss_fastid_getpwent_r;
nss_endpwent _nss_fastid_endpwent;
nss_setgrent _nss_fastid_setgrent;
nss_getgrent_r _nss_fastid_getgrent_r;
nss_endgrent _nss_fastid_endgrent;

static enum nss_status map_status(fastid_status s, int *errnop) {
  switch (s) {
    case FASTID_OK:
      return NSS_STATUS_SUCCESS;
    case FASTID_NOT_FOUND:
    case FASTID_INVALID_ARGUMENT:
      *errnop = ENOENT;
      return NSS_STATUS_NOTFOUND;
    case FASTID_ERANGE:
      *errnop = ERANGE;
      return NSS_STATUS_TRYAGAIN;
    case FASTID_BUSY:
    case FASTID_TIMEOUT:
    case FASTID_TRY_AGAIN:
      *errnop = EAGAIN;
      return NSS_STATUS_UNAVAIL;
    case FASTID_UNAVAILABLE:
    case FASTID_PROTOCOL_ERROR:
    case FASTID_PERMISSION_DENIED:
    case FASTID_INTERNAL:
      break;
  }
  *errnop = ENOENT;
  return NSS_STATUS_UNAVAIL;
}

enum nss_status _nss_fastid_getpwnam_r(const char *name, struct passwd *pw, char *buf,
                                       size_t buflen, int *errnop) {
  return map_status(fastid_getpwnam(name, pw, buf, buflen), errnop);
}

enum nss_status _nss_fastid_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen,
                                       int *errnop) {
  return map_status(fastid_getpwuid(uid, pw, buf, buflen), errnop);
}

enum nss_status _nss_fastid_getgrnam_r(const char *name, struct group *gr, char *buf,
                                       size_t buflen, int *errnop) {
  return map_status(fastid_getgrnam(name, gr, buf, buflen), errnop);
}

enum nss_status _nss_fastid_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen,
                                       int *errnop) {
  return map_status(fastid_getgrgid(gid, gr, buf, buflen), errnop);
}

/* Appends the user's groups (except `group`, which glibc already has) to
 * *groupsp, growing it with realloc as glibc's own modules do, never past
 * `limit` entries when limit > 0. */
enum nss_status _nss_fastid_initgroups_dyn(const char *user, gid_t group, long int *start,
                                           long int *size, gid_t **groupsp, long int limit,
                                           int *errnop) {
  gid_t local[256];
  gid_t *gids = local;
  size_t cap = sizeof local / sizeof local[0];
  size_t n = cap;
  fastid_status st = fastid_initgroups(user, gids, &n);
  /* More groups than fit: ask again with room for all (bounded: the list may grow meanwhile). */
  for (int attempt = 0; st == FASTID_ERANGE && attempt < 3; ++attempt) {
    if (gids != local) free(gids);
    cap = n + 16;
    gids = malloc(cap * sizeof *gids);
    if (gids == NULL) {
      *errnop = ENOMEM;
      return NSS_STATUS_TRYAGAIN;
    }
    n = cap;
    st = fastid_initgroups(user, gids, &n);
  }
  if (st == FASTID_ERANGE) st = FASTID_UNAVAILABLE;
  if (st != FASTID_OK) {
    if (gids != local) free(gids);
    return map_status(st, errnop);
  }

  enum nss_status ret = NSS_STATUS_SUCCESS;
  /* Duplicates are dropped while the list is small; glibc also removes
   * duplicates across modules itself. */
  int dedup = *start + (long int)n <= 4096;
  for (size_t i = 0; i < n; ++i) {
    gid_t g = gids[i];
    if (g == group) continue;
    if (dedup) {
      long int k = 0;
      while (k < *start && (*groupsp)[k] != g) ++k;
      if (k < *start) continue;
    }
    if (*start == *size) {
      if (limit > 0 && *size >= limit) break; /* glibc's limit reached: stop quietly */
      long int newsize = *size > 0 ? 2 * *size : 16;
      if (limit > 0 && newsize > limit) newsize = limit;
      gid_t *grown = realloc(*groupsp, (size_t)newsize * sizeof **groupsp);
      if (grown == NULL) {
        *errnop = ENOMEM;
        ret = NSS_STATUS_TRYAGAIN;
        break;
      }
      *groupsp = grown;
      *size = newsize;
    }
    (*groupsp)[(*start)++] = g;
  }
  if (gids != local) free(gids);
  return ret;
}

/* Enumeration: one cursor per map for the whole process, as glibc expects;
 * glibc serialises set/get/end itself, the mutex guards against direct callers. */
static pthread_mutex_t pw_lock = PTHREAD_MUTEX_INITIALIZER;
static fastid_enum *pw_enum;
static pthread_mutex_t gr_lock = PTHREAD_MUTEX_INITIALIZER;
static fastid_enum *gr_enum;

static void restart(pthread_mutex_t *lock, fastid_enum **e) {
  pthread_mutex_lock(lock);
  fastid_enum_close(*e);
  *e = NULL;
  pthread_mutex_unlock(lock);
}

enum nss_status _nss_fastid_setpwent(int stayopen) {
  (void)stayopen;
  restart(&pw_lock, &pw_enum); /* the next getpwent_r opens a fresh enumeration */
  return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_fastid_endpwent(void) {
  restart(&pw_lock, &pw_enum);
  return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_fastid_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop) {
  pthread_mutex_lock(&pw_lock);
  fastid_status st = FASTID_OK;
  if (pw_enum == NULL) st = fastid_enum_open(&pw_enum, FASTID_ENUM_USERS);
  if (st == FASTID_OK) st = fastid_enum_next_user(pw_enum, pw, buf, buflen);
  pthread_mutex_unlock(&pw_lock);
  return map_status(st, errnop);
}

enum nss_status _nss_fastid_setgrent(int stayopen) {
  (void)stayopen;
  restart(&gr_lock, &gr_enum);
  return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_fastid_endgrent(void) {
  restart(&gr_lock, &gr_enum);
  return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_fastid_getgrent_r(struct group *gr, char *buf, size_t buflen, int *errnop) {
  pthread_mutex_lock(&gr_lock);
  fastid_status st = FASTID_OK;
  if (gr_enum == NULL) st = fastid_enum_open(&gr_enum, FASTID_ENUM_GROUPS);
  if (st == FASTID_OK) st = fastid_enum_next_group(gr_enum, gr, buf, buflen);
  pthread_mutex_unlock(&gr_lock);
  return map_status(st, errnop);
}
