/* nss_bench: load generator for getpwnam_r, getgrgid_r or getgrouplist through glibc,
 * against one NSS service chosen with __nss_configure_lookup ("fastid",
 * "fastidfloor", "files", "sss", ...), or "nscd": nothing configured, so that
 * glibc's built-in nscd client answers (bench/run-nscd-bench).
 *
 *   nss_bench [-s SERVICE] [-o getpwnam|getgrgid|getgrouplist] [-w hot|distinct]
 *             [-t THREADS] [-d SECONDS] [-n OPS] [-u USERS] [-H HOT_USERS]
 *             [-m] [-f NAME_FORMAT] [-g FIRST_GID]
 *
 * Operations: "getpwnam" (default) calls getpwnam_r (the module's getpwnam_r);
 * "getgrgid" calls getgrgid_r of gen-dataset's gids (FIRST_GID, default
 * 200001, and on, over its 1,000 groups); "getgrouplist" calls getgrouplist
 * (the module's initgroups_dyn), with the user's primary gid as gen-dataset
 * assigns it. -m: negative lookups — names ("missing%05u") and gids
 * (FIRST_GID + 500,000 and on) nobody has; a lookup that finds one is the
 * error then. -f: the users' names (a printf format of N, default
 * "user%05u"; e.g. "WBTEST\wbuser%03u" for the winbind fixture).
 *
 * Workloads: "hot" repeats the first HOT_USERS (1,000) users of the dataset
 * (user00001..); "distinct" walks all USERS (10,000) in turn, each thread from
 * its own offset. Runs for SECONDS (default 5) or OPS operations in total.
 * Every call is timed with clock_gettime into a per-thread log-linear
 * histogram (~3% resolution); prints one line:
 *   service=.. op=.. workload=.. threads=.. ops=.. seconds=.. ops_per_sec=.. p50_us=.. p99_us=.. errors=..
 * Exits 1 if any lookup failed or returned nothing (for getgrouplist: no group
 * beyond the primary one, i.e. the module did not know the user).
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
#include <unistd.h>

extern int __nss_configure_lookup(const char *db, const char *service_line);

#define SUB_BITS 5
#define SUB (1u << SUB_BITS)
#define BUCKETS (64 * SUB)

struct thread_state {
  pthread_t tid;
  unsigned index;
  uint64_t ops;
  uint64_t errors;
  uint64_t hist[BUCKETS];
};

static const char *workload = "hot";
static int op_grouplist; /* -o getgrouplist */
static int op_grgid;     /* -o getgrgid */
static int missing;      /* -m: lookups of what does not exist */
static const char *name_format = "user%05u";
static unsigned first_gid = 200001;
static unsigned users = 10000, hot_users = 1000, nthreads = 1;
static double seconds = 5;
static uint64_t total_ops;      /* 0: run for `seconds` */
static atomic_int stop;
static atomic_uint started;

static unsigned bucket_of(uint64_t v) {
  if (v < SUB) return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
  unsigned b = (e - SUB_BITS + 1) * SUB + (unsigned)((v >> (e - SUB_BITS)) - SUB);
  return b < BUCKETS ? b : BUCKETS - 1;
}

static uint64_t bucket_value(unsigned b) { /* lower bound of the bucket, in ns */
  if (b < SUB) return b;
  unsigned e = b / SUB + SUB_BITS - 1;
  return (uint64_t)(b % SUB + SUB) << (e - SUB_BITS);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* gen-dataset's primary gid of user N (1-based): 200000 + (N-1) % GROUPS + 1,
 * with its default 1,000 groups. Only its position in the answer depends on
 * it (glibc puts it first, modules skip it), not the work. */
#define DATASET_GID_BASE 200000u
#define DATASET_GROUPS 1000u

/* One lookup of user N (1-based); returns 0 or an errno-style code, ENOENT
 * for "not found". */
static int lookup(unsigned n, const char *name, char *buf, size_t buflen) {
  if (op_grgid) {
    struct group gr, *res;
    gid_t gid = missing ? first_gid + 500000u + n : first_gid + (n - 1) % DATASET_GROUPS;
    int rc = getgrgid_r(gid, &gr, buf, buflen, &res);
    if (rc != 0) return rc;
    return res != NULL ? 0 : ENOENT;
  }
  if (op_grouplist) {
    gid_t groups[64];
    int ngroups = (int)(sizeof groups / sizeof groups[0]);
    int got = getgrouplist(name, DATASET_GID_BASE + (n - 1) % DATASET_GROUPS + 1, groups, &ngroups);
    /* -1: more than 64 groups, not expected of the dataset; 1: only the
     * primary gid we passed, i.e. no module answered for the user. */
    if (got < 0) return ERANGE;
    return got > 1 ? 0 : ENOENT;
  }
  struct passwd pw, *res;
  int rc = getpwnam_r(name, &pw, buf, buflen, &res);
  if (rc != 0) return rc;
  return res != NULL ? 0 : ENOENT;
}

static void *worker(void *arg) {
  struct thread_state *st = arg;
  char buf[4096], name[64];
  int distinct = strcmp(workload, "distinct") == 0;
  unsigned span = distinct ? users : hot_users;
  unsigned i = (unsigned)((uint64_t)st->index * span / nthreads);
  uint64_t quota = total_ops ? (total_ops + nthreads - 1 - st->index) / nthreads : UINT64_MAX;
  atomic_fetch_add(&started, 1);
  while (atomic_load_explicit(&started, memory_order_acquire) < nthreads) {
  }
  while (st->ops < quota && !atomic_load_explicit(&stop, memory_order_relaxed)) {
    unsigned n = i % span + 1;
    if (missing) {
      snprintf(name, sizeof name, "missing%05u", n);
    } else {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
      snprintf(name, sizeof name, name_format, n);
#pragma GCC diagnostic pop
    }
    i += distinct ? 1 : 7; /* hot: a stride that visits all 1,000 in a mixed order */
    uint64_t t0 = now_ns();
    int rc = lookup(n, name, buf, sizeof buf);
    uint64_t t1 = now_ns();
    /* -m: "not found" is the right answer, anything else an error. */
    if (missing) rc = rc == ENOENT ? 0 : rc == 0 ? EEXIST : rc;
    if (rc != 0) {
      if (st->errors++ == 0)
        fprintf(stderr, "nss_bench: %s(%s): %s\n", op_grouplist ? "getgrouplist" : op_grgid ? "getgrgid_r" : "getpwnam_r",
                name, rc == ENOENT ? "not found" : rc == EEXIST ? "found, expected none" : strerror(rc));
    }
    st->hist[bucket_of(t1 - t0)]++;
    st->ops++;
  }
  return NULL;
}

static double percentile(const uint64_t *hist, uint64_t n, double p) {
  uint64_t want = (uint64_t)(p * (double)n);
  if (want >= n) want = n - 1;
  uint64_t seen = 0;
  for (unsigned b = 0; b < BUCKETS; ++b) {
    seen += hist[b];
    if (seen > want) {
      /* middle of the bucket */
      double lo = (double)bucket_value(b), hi = (double)bucket_value(b + 1);
      return (lo + hi) / 2 / 1000.0;
    }
  }
  return 0;
}

static int usage(void) {
  fprintf(stderr, "usage: nss_bench [-s SERVICE] [-o getpwnam|getgrgid|getgrouplist] [-w hot|distinct] [-m] [-f FORMAT] [-g GID] "
                  "[-t THREADS] [-d SECONDS] [-n OPS] [-u USERS] [-H HOT_USERS]\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *service = "fastid", *op = "getpwnam";
  int c;
  while ((c = getopt(argc, argv, "s:o:w:t:d:n:u:H:mf:g:")) != -1) {
    switch (c) {
      case 's': service = optarg; break;
      case 'o': op = optarg; break;
      case 'w': workload = optarg; break;
      case 't': nthreads = (unsigned)strtoul(optarg, NULL, 10); break;
      case 'd': seconds = strtod(optarg, NULL); break;
      case 'n': total_ops = strtoull(optarg, NULL, 10); break;
      case 'u': users = (unsigned)strtoul(optarg, NULL, 10); break;
      case 'H': hot_users = (unsigned)strtoul(optarg, NULL, 10); break;
      case 'm': missing = 1; break;
      case 'f': name_format = optarg; break;
      case 'g': first_gid = (unsigned)strtoul(optarg, NULL, 10); break;
      default: return usage();
    }
  }
  if (nthreads < 1 || nthreads > 1024 || users < 1 || hot_users < 1 || seconds <= 0 ||
      (strcmp(workload, "hot") != 0 && strcmp(workload, "distinct") != 0) ||
      (strcmp(op, "getpwnam") != 0 && strcmp(op, "getgrgid") != 0 && strcmp(op, "getgrouplist") != 0) ||
      (missing && strcmp(op, "getgrouplist") == 0))
    return usage();
  op_grouplist = strcmp(op, "getgrouplist") == 0;
  op_grgid = strcmp(op, "getgrgid") == 0;
  if (hot_users > users) hot_users = users;
  /* getgrouplist reads the "initgroups" database. "group" is configured too:
   * glibc consults nscd for getgrouplist unless "group" was configured this
   * way (every 100th call it would retry nscd's socket), and getgrouplist
   * falls back to "group" if the module has no initgroups_dyn. */
  static const char *const pw_dbs[] = {"passwd", NULL};
  static const char *const gr_dbs[] = {"group", NULL};
  static const char *const gl_dbs[] = {"initgroups", "group", NULL};
  /* "nscd": configure nothing. glibc then asks the nscd socket first (its
   * built-in client, the shared map when it gets one) and nsswitch.conf after:
   * run it where /var/run/nscd/socket is the daemon to measure. */
  const int via_nscd = strcmp(service, "nscd") == 0;
  for (const char *const *db = op_grouplist ? gl_dbs : op_grgid ? gr_dbs : pw_dbs; !via_nscd && *db != NULL; ++db) {
    if (__nss_configure_lookup(*db, service) != 0) {
      fprintf(stderr, "nss_bench: __nss_configure_lookup(%s, %s) failed\n", *db, service);
      return 2;
    }
  }
  struct thread_state *ts = calloc(nthreads, sizeof *ts);
  if (ts == NULL) return 2;
  uint64_t t0 = now_ns();
  for (unsigned t = 0; t < nthreads; ++t) {
    ts[t].index = t;
    if (pthread_create(&ts[t].tid, NULL, worker, &ts[t]) != 0) {
      fprintf(stderr, "nss_bench: pthread_create failed\n");
      return 2;
    }
  }
  if (total_ops == 0) {
    struct timespec d = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&d, &d) != 0 && errno == EINTR) {
    }
    atomic_store(&stop, 1);
  }
  for (unsigned t = 0; t < nthreads; ++t) pthread_join(ts[t].tid, NULL);
  double secs = (double)(now_ns() - t0) / 1e9;

  static uint64_t hist[BUCKETS];
  uint64_t ops = 0, errors = 0;
  for (unsigned t = 0; t < nthreads; ++t) {
    ops += ts[t].ops;
    errors += ts[t].errors;
    for (unsigned b = 0; b < BUCKETS; ++b) hist[b] += ts[t].hist[b];
  }
  printf("service=%s op=%s%s workload=%s threads=%u ops=%llu seconds=%.2f ops_per_sec=%.0f p50_us=%.2f "
         "p99_us=%.2f errors=%llu\n",
         service, op, missing ? "-missing" : "", workload, nthreads, (unsigned long long)ops, secs, ops ? (double)ops / secs : 0.0,
         ops ? percentile(hist, ops, 0.50) : 0.0, ops ? percentile(hist, ops, 0.99) : 0.0,
         (unsigned long long)errors);
  free(ts);
  return errors == 0 && ops > 0 ? 0 : 1;
}
