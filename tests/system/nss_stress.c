/* nss_stress: many threads making lookups of random dataset users and groups
 * through real glibc (getpwnam_r mostly, some getpwuid_r, getgrnam_r and
 * getgrgid_r), each answer checked field by field against the dataset files.
 *
 *   nss_stress [-s SERVICE] PASSWD GROUP [THREADS=8] [LOOKUPS_PER_THREAD=10000]
 *
 * PASSWD and GROUP are the files scripts/gen-dataset wrote (the daemon serves
 * the same data). Prints the counts; exits 0 only if every lookup found the
 * right record, 1 on any mismatch, miss or error, 3 on bad usage or input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern int __nss_configure_lookup(const char *db, const char *service_line);

struct user {
  char *name, *passwd, *gecos, *dir, *shell;
  unsigned uid, gid;
};
struct grp {
  char *name, *passwd;
  unsigned gid;
  char **members; /* NULL-terminated */
  size_t nmembers;
};

static struct user *users;
static size_t nusers;
static struct grp *groups;
static size_t ngroups;
static long lookups_per_thread = 10000;

static atomic_long n_ok, n_mismatch, n_notfound, n_error;
static atomic_int reports; /* only the first few failures are printed */

/* Splits line at ':' into at most max fields (in place). Returns the count. */
static int split(char *line, char **f, int max) {
  int n = 0;
  f[n++] = line;
  for (char *p = line; *p; ++p) {
    if (*p == ':' && n < max) {
      *p = '\0';
      f[n++] = p + 1;
    }
  }
  return n;
}

static char *slurp_line(FILE *in) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, in);
  if (n < 0) {
    free(line);
    return NULL;
  }
  if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
  return line;
}

static int load(const char *pw_path, const char *gr_path) {
  FILE *in = fopen(pw_path, "r");
  if (in == NULL) {
    perror(pw_path);
    return 0;
  }
  size_t cap = 0;
  for (char *line; (line = slurp_line(in)) != NULL;) {
    char *f[7];
    if (split(line, f, 7) != 7) {
      free(line);
      continue;
    }
    if (nusers == cap) {
      cap = cap ? 2 * cap : 1024;
      users = realloc(users, cap * sizeof *users);
    }
    users[nusers++] = (struct user){f[0], f[1], f[4], f[5], f[6],
                                    (unsigned)strtoul(f[2], NULL, 10), (unsigned)strtoul(f[3], NULL, 10)};
  }
  fclose(in);
  in = fopen(gr_path, "r");
  if (in == NULL) {
    perror(gr_path);
    return 0;
  }
  cap = 0;
  for (char *line; (line = slurp_line(in)) != NULL;) {
    char *f[4];
    if (split(line, f, 4) != 4) {
      free(line);
      continue;
    }
    if (ngroups == cap) {
      cap = cap ? 2 * cap : 1024;
      groups = realloc(groups, cap * sizeof *groups);
    }
    struct grp *g = &groups[ngroups++];
    g->name = f[0];
    g->passwd = f[1];
    g->gid = (unsigned)strtoul(f[2], NULL, 10);
    size_t n = *f[3] ? 1 : 0;
    for (char *p = f[3]; *p; ++p) n += *p == ',';
    g->members = calloc(n + 1, sizeof(char *));
    g->nmembers = n;
    size_t k = 0;
    for (char *tok = strtok(f[3], ","); tok; tok = strtok(NULL, ",")) g->members[k++] = tok;
  }
  fclose(in);
  return nusers > 0 && ngroups > 0;
}

static void report(const char *fmt, const char *a, const char *b) {
  if (atomic_fetch_add(&reports, 1) < 10) fprintf(stderr, fmt, a, b);
}

static int same_user(const struct passwd *pw, const struct user *u) {
  return strcmp(pw->pw_name, u->name) == 0 && strcmp(pw->pw_passwd, u->passwd) == 0 &&
         pw->pw_uid == u->uid && pw->pw_gid == u->gid && strcmp(pw->pw_gecos, u->gecos) == 0 &&
         strcmp(pw->pw_dir, u->dir) == 0 && strcmp(pw->pw_shell, u->shell) == 0;
}

static int same_group(const struct group *gr, const struct grp *g) {
  if (strcmp(gr->gr_name, g->name) != 0 || strcmp(gr->gr_passwd, g->passwd) != 0 || gr->gr_gid != g->gid)
    return 0;
  size_t i = 0;
  for (; gr->gr_mem[i] != NULL; ++i) {
    if (i >= g->nmembers || strcmp(gr->gr_mem[i], g->members[i]) != 0) return 0;
  }
  return i == g->nmembers;
}

static void count(int rc, int found, int matches, const char *what, const char *key) {
  if (rc != 0) {
    atomic_fetch_add(&n_error, 1);
    report("nss_stress: %s %s: error\n", what, key);
  } else if (!found) {
    atomic_fetch_add(&n_notfound, 1);
    report("nss_stress: %s %s: not found\n", what, key);
  } else if (!matches) {
    atomic_fetch_add(&n_mismatch, 1);
    report("nss_stress: %s %s: wrong answer\n", what, key);
  } else {
    atomic_fetch_add(&n_ok, 1);
  }
}

static void *worker(void *arg) {
  uint64_t x = 0x9E3779B97F4A7C15ull * ((uintptr_t)arg + 1); /* xorshift64 state */
  size_t len = 1024, glen = 16384;
  char *buf = malloc(len), *gbuf = malloc(glen);
  for (long i = 0; i < lookups_per_thread; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    unsigned kind = (unsigned)(x % 20);
    int rc;
    if (kind < 18) {
      const struct user *u = &users[(x >> 8) % nusers];
      struct passwd pw, *res = NULL;
      char key[16];
      for (;;) {
        if (kind < 16) {
          rc = getpwnam_r(u->name, &pw, buf, len, &res);
        } else {
          rc = getpwuid_r(u->uid, &pw, buf, len, &res);
        }
        if (rc != ERANGE) break;
        len *= 2;
        buf = realloc(buf, len);
      }
      snprintf(key, sizeof key, "%u", u->uid);
      count(rc, res != NULL, res != NULL && same_user(res, u), kind < 16 ? "getpwnam_r" : "getpwuid_r",
            kind < 16 ? u->name : key);
    } else {
      const struct grp *g = &groups[(x >> 8) % ngroups];
      struct group gr, *res = NULL;
      for (;;) {
        rc = kind == 18 ? getgrnam_r(g->name, &gr, gbuf, glen, &res)
                        : getgrgid_r(g->gid, &gr, gbuf, glen, &res);
        if (rc != ERANGE) break;
        glen *= 2;
        gbuf = realloc(gbuf, glen);
      }
      count(rc, res != NULL, res != NULL && same_group(res, g), kind == 18 ? "getgrnam_r" : "getgrgid_r",
            g->name);
    }
  }
  free(buf);
  free(gbuf);
  return NULL;
}

int main(int argc, char **argv) {
  const char *service = "fastid";
  int i = 1;
  if (i + 1 < argc && strcmp(argv[i], "-s") == 0) {
    service = argv[i + 1];
    i += 2;
  }
  if (argc - i < 2) {
    fprintf(stderr, "usage: nss_stress [-s SERVICE] PASSWD GROUP [THREADS] [LOOKUPS_PER_THREAD]\n");
    return 3;
  }
  long threads = argc - i > 2 ? strtol(argv[i + 2], NULL, 10) : 8;
  if (argc - i > 3) lookups_per_thread = strtol(argv[i + 3], NULL, 10);
  if (threads < 1 || threads > 4096 || lookups_per_thread < 1) {
    fprintf(stderr, "nss_stress: bad thread or lookup count\n");
    return 3;
  }
  if (!load(argv[i], argv[i + 1])) {
    fprintf(stderr, "nss_stress: cannot load the dataset\n");
    return 3;
  }
  if (__nss_configure_lookup("passwd", service) != 0 || __nss_configure_lookup("group", service) != 0) {
    fprintf(stderr, "nss_stress: __nss_configure_lookup(%s) failed\n", service);
    return 3;
  }
  /* One lookup of each map's kind before the threads start: libfastid maps a
   * fast cache file on a process's first lookup of its kind, and while one
   * thread maps it the others do not wait but ask the daemon. Threads that
   * all start at once would otherwise send a few of their first lookups to
   * the socket (nss_system_test asserts that none reaches it). */
  {
    struct passwd pw, *pres = NULL;
    struct group gr, *gres = NULL;
    char b[16384];
    (void)getpwnam_r(users[0].name, &pw, b, sizeof b, &pres);
    (void)getgrnam_r(groups[0].name, &gr, b, sizeof b, &gres);
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pthread_t *tids = calloc((size_t)threads, sizeof *tids);
  for (long t = 0; t < threads; ++t) {
    if (pthread_create(&tids[t], NULL, worker, (void *)(uintptr_t)t) != 0) {
      fprintf(stderr, "nss_stress: pthread_create failed\n");
      return 3;
    }
  }
  for (long t = 0; t < threads; ++t) pthread_join(tids[t], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  long total = threads * lookups_per_thread;
  printf("nss_stress: service=%s users=%zu groups=%zu threads=%ld lookups=%ld ok=%ld mismatch=%ld "
         "notfound=%ld error=%ld seconds=%.2f rate=%.0f/s\n",
         service, nusers, ngroups, threads, total, atomic_load(&n_ok), atomic_load(&n_mismatch),
         atomic_load(&n_notfound), atomic_load(&n_error), secs, secs > 0 ? (double)total / secs : 0.0);
  return atomic_load(&n_ok) == total ? 0 : 1;
}
