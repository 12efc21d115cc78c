/* libfastid: the stable public C API of the fastid client library.
 *
 * Every call talks to the fastid daemon over its Unix lookup socket
 * ($FASTID_SOCKET_DIR/nss, default /run/fastid/nss) and copies the answer into
 * buffers the caller owns. The library runs inside other people's processes:
 * it uses libc only, starts no thread, installs no signal handler or exit hook,
 * opens its descriptors close-on-exec and never as 0-2, never raises SIGPIPE,
 * and drops connections inherited across fork(). All functions are thread-safe
 * (a fastid_enum handle is used by one thread at a time). docs/client.md has
 * the rules in prose.
 *
 * ABI: append-only. Enumerator values and function signatures never change.
 */
#ifndef FASTID_FASTID_H
#define FASTID_FASTID_H

#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fastid_status {
  FASTID_OK = 0,
  FASTID_NOT_FOUND,           /* no such name or id; also the end of an enumeration */
  FASTID_UNAVAILABLE,         /* daemon not running or unreachable */
  FASTID_BUSY,                /* the daemon is overloaded and shed the request; try again */
  FASTID_TIMEOUT,             /* no answer within the timeout ($FASTID_TIMEOUT_MS, default 5000) */
  FASTID_ERANGE,              /* the caller's buffer is too small; retry with a bigger one */
  FASTID_PROTOCOL_ERROR,      /* the daemon's reply was malformed (the connection was dropped) */
  FASTID_INVALID_ARGUMENT,    /* NULL pointer, name too long, wrong enumeration kind, ... */
  FASTID_PERMISSION_DENIED,   /* the daemon refused the caller */
  FASTID_INTERNAL,            /* out of memory or descriptors, or a daemon-side bug */
  FASTID_TRY_AGAIN            /* the daemon answered that its directory cannot answer now and it
                                 holds no stored answer (offline): try again later */
} fastid_status;

/* A static English description of a status ("not found", ...). Never NULL. */
const char *fastid_strerror(fastid_status s);

/* Lookups. On FASTID_OK every pointer in *pw / *gr points into buf (the
 * member array of a group is aligned for char*). FASTID_ERANGE: buf is too small
 * and nothing in *pw / *gr is meaningful. */
fastid_status fastid_getpwnam(const char *name, struct passwd *pw, char *buf, size_t buflen);
fastid_status fastid_getpwuid(uid_t uid, struct passwd *pw, char *buf, size_t buflen);
fastid_status fastid_getgrnam(const char *name, struct group *gr, char *buf, size_t buflen);
fastid_status fastid_getgrgid(gid_t gid, struct group *gr, char *buf, size_t buflen);

/* The group ids the daemon lists for `user`.
 * in: *ngids = capacity of gids (gids may be NULL when it is 0);
 * out: *ngids = number of groups the user has; FASTID_ERANGE if that exceeded
 * the capacity (the first `capacity` gids were still written). */
fastid_status fastid_initgroups(const char *user, gid_t *gids, size_t *ngids);

/* Paged enumeration of all users or all groups. fastid_enum_open does no I/O;
 * each next call returns one record, fetching a page from the daemon when
 * needed, and FASTID_NOT_FOUND at the end. On FASTID_ERANGE the position does
 * not move: call again with a bigger buffer to get the same record. */
typedef struct fastid_enum fastid_enum;
enum { FASTID_ENUM_USERS = 1, FASTID_ENUM_GROUPS = 2 };
fastid_status fastid_enum_open(fastid_enum **e, int kind /* FASTID_ENUM_USERS or FASTID_ENUM_GROUPS */);
fastid_status fastid_enum_next_user(fastid_enum *e, struct passwd *pw, char *buf, size_t buflen);
fastid_status fastid_enum_next_group(fastid_enum *e, struct group *gr, char *buf, size_t buflen);
void fastid_enum_close(fastid_enum *e); /* NULL is allowed */

/* Netgroups (netgroup(5)): the triples of netgroup `name`, with the nested
 * netgroups the daemon holds flattened in (each once; cycles end where they
 * close). On FASTID_OK *out is one malloc'd block to give back with
 * fastid_netgroup_free(): a NULL field of a triple is a wildcard; `nested`
 * names netgroups it includes that the daemon does not hold (glibc looks them
 * up in the other sources). */
typedef struct fastid_netgroup_triple {
  const char *host;
  const char *user;
  const char *domain;
} fastid_netgroup_triple;
typedef struct fastid_netgroup {
  size_t ntriples;
  const fastid_netgroup_triple *triples;
  size_t nnested;
  const char *const *nested;
} fastid_netgroup;
fastid_status fastid_getnetgroup(const char *name, fastid_netgroup **out);
void fastid_netgroup_free(fastid_netgroup *netgroup); /* NULL is allowed */

/* The SSH public keys of exactly `user` (authorized_keys lines, for sshd's
 * AuthorizedKeysCommand): cb(line, ctx) once per key, only after the whole
 * reply was validated; a user without keys makes no call. The line is valid
 * during the callback only. */
typedef void (*fastid_ssh_key_cb)(const char *line, void *ctx);
fastid_status fastid_ssh_keys(const char *user, fastid_ssh_key_cb cb, void *ctx);

/* Checks that the daemon answers; copies its version string (NUL-terminated)
 * into `version` when version != NULL (FASTID_ERANGE if len is too small). */
fastid_status fastid_ping(char *version, size_t len);

/* Asks the daemon for its status and calls cb(key, value, ctx) once per pair,
 * in the daemon's order, only after the whole reply was validated. The strings
 * are valid during the callback only. */
typedef void (*fastid_status_cb)(const char *key, const char *value, void *ctx);
fastid_status fastid_daemon_status(fastid_status_cb cb, void *ctx);

/* Why the last call on this thread failed: the message the daemon sent with
 * its error reply, or the client's own explanation (e.g. "cannot connect to
 * /run/fastid/nss: No such file or directory"); "" after a success. Valid until
 * the next fastid_* call on this thread. Control characters are replaced by '?'. */
const char *fastid_last_message(void);

#ifdef __cplusplus
}
#endif

#endif /* FASTID_FASTID_H */
