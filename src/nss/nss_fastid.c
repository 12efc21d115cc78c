/* libnss_fastid.so.2: the glibc NSS module (passwd, group, initgroups, netgroup) on top
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
nss_setnetgrent _nss_fastid_setnetgrent;
nss_getnetgrent_r _nss_fastid_getnetgrent_r;
nss_endnetgrent _nss_fastid_endnetgrent;

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

/* Netgroups. glibc hands every module the state of one netgroup walk as a
 * struct __netgrent, which <nss.h> only declares: its layout is glibc's ABI
 * (inet/netgroup.h, unchanged since glibc 2.1) and is written out here, as
 * every out-of-tree netgroup module must. The module keeps the daemon's whole
 * answer (one fastid_netgroup block) in `data` and its place in `position`;
 * glibc's innetgr() asserts that `data` is NULL again after endnetgrent. */
struct fastid_glibc_name_list;
struct __netgrent {
  enum { triple_val, group_val } type;
  union {
    struct {
      const char *host;
      const char *user;
      const char *domain;
    } triple;
    const char *group;
  } val;
  char *data;
  size_t data_size;
  union {
    char *cursor;
    unsigned long int position;
  };
  int first;
  struct fastid_glibc_name_list *known_groups;
  struct fastid_glibc_name_list *needed_groups;
  void *nip;
};

enum nss_status _nss_fastid_setnetgrent(const char *group, struct __netgrent *result) {
  int ignored = 0;
  fastid_netgroup *ng = NULL;
  fastid_status st = fastid_getnetgroup(group, &ng);
  if (st != FASTID_OK) return map_status(st, &ignored);
  result->data = (char *)ng;
  result->data_size = sizeof *ng;
  result->position = 0;
  return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_fastid_endnetgrent(struct __netgrent *result) {
  fastid_netgroup_free((fastid_netgroup *)result->data);
  result->data = NULL;
  result->data_size = 0;
  result->position = 0;
  return NSS_STATUS_SUCCESS;
}

/* Copies `s` (NULL stays NULL: a wildcard) into the caller's buffer. */
static int put(const char *s, const char **out, char **buf, size_t *left) {
  if (s == NULL) {
    *out = NULL;
    return 1;
  }
  size_t n = strlen(s) + 1;
  if (n > *left) return 0;
  memcpy(*buf, s, n);
  *out = *buf;
  *buf += n;
  *left -= n;
  return 1;
}

/* The triples first, then the nested netgroups the daemon does not hold (glibc
 * looks those up itself, with its own cycle check); NSS_STATUS_RETURN at the
 * end, which tells glibc this netgroup is done. */
enum nss_status _nss_fastid_getnetgrent_r(struct __netgrent *result, char *buffer, size_t buflen,
                                          int *errnop) {
  const fastid_netgroup *ng = (const fastid_netgroup *)result->data;
  if (ng == NULL) return NSS_STATUS_RETURN;
  size_t i = result->position;
  char *p = buffer;
  size_t left = buflen;
  int ok;
  if (i < ng->ntriples) {
    const fastid_netgroup_triple *t = &ng->triples[i];
    ok = put(t->host, &result->val.triple.host, &p, &left) && put(t->user, &result->val.triple.user, &p, &left) &&
         put(t->domain, &result->val.triple.domain, &p, &left);
    result->type = triple_val;
  } else if (i - ng->ntriples < ng->nnested) {
    ok = put(ng->nested[i - ng->ntriples], &result->val.group, &p, &left);
    result->type = group_val;
  } else {
    return NSS_STATUS_RETURN;
  }
  if (!ok) {
    *errnop = ERANGE;
    return NSS_STATUS_TRYAGAIN; /* the same entry again, with a bigger buffer */
  }
  result->position = i + 1;
  return NSS_STATUS_SUCCESS;
}
