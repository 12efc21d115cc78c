/* wbc_direct_bench: the limit for fastid's cold winbind lookups — the call a
 * cold getpwnam makes the winbind provider issue, wbcCtxGetpwnam, straight
 * from libwbclient against the same winbindd, with nothing in between (no
 * glibc, no daemon, no pool).
 *
 *   wbc_direct_bench [-t THREADS] [-u USERS] [-d SECONDS] [-f NAME_FORMAT]
 *
 * Each thread has its own wbcContext (wbcCtxCreate, as each provider worker
 * process has) and looks up users 1..USERS in turn (NAME_FORMAT, default
 * "WBTEST\\wbuser%03u") for SECONDS. libwbclient finds winbindd at its
 * compiled-in /run/samba/winbindd (bench/run-winbind-bench binds the
 * fixture's socket there in a private mount namespace).
 * Prints: threads=.. ops=.. seconds=.. ops_per_sec=.. errors=..
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/* wbclient.h needs the three above first. */
#include <samba-4.0/wbclient.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *name_format = "WBTEST\\wbuser%03u";
static unsigned users = 200, nthreads = 1;
static double seconds = 5;
static atomic_int stop;

struct thread_state {
  pthread_t tid;
  unsigned index;
  uint64_t ops, errors;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg) {
  struct thread_state *st = arg;
  struct wbcContext *ctx = wbcCtxCreate();
  if (ctx == NULL) {
    st->errors = 1;
    return NULL;
  }
  char name[64];
  for (unsigned i = st->index; !atomic_load_explicit(&stop, memory_order_relaxed); ++i) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(name, sizeof name, name_format, i % users + 1);
#pragma GCC diagnostic pop
    struct passwd *pw = NULL;
    wbcErr err = wbcCtxGetpwnam(ctx, name, &pw);
    if (!WBC_ERROR_IS_OK(err) || pw == NULL) {
      if (st->errors++ == 0) fprintf(stderr, "wbc_direct_bench: %s: %s\n", name, wbcErrorString(err));
    }
    if (pw != NULL) wbcFreeMemory(pw);
    st->ops++;
  }
  wbcCtxFree(ctx);
  return NULL;
}

int main(int argc, char **argv) {
  int c;
  while ((c = getopt(argc, argv, "t:u:d:f:")) != -1) {
    switch (c) {
      case 't': nthreads = (unsigned)strtoul(optarg, NULL, 10); break;
      case 'u': users = (unsigned)strtoul(optarg, NULL, 10); break;
      case 'd': seconds = strtod(optarg, NULL); break;
      case 'f': name_format = optarg; break;
      default:
        fprintf(stderr, "usage: wbc_direct_bench [-t THREADS] [-u USERS] [-d SECONDS] [-f FORMAT]\n");
        return 2;
    }
  }
  if (nthreads < 1 || nthreads > 256 || users < 1 || seconds <= 0) return 2;
  struct thread_state *ts = calloc(nthreads, sizeof *ts);
  if (ts == NULL) return 2;
  const double t0 = now_s();
  for (unsigned t = 0; t < nthreads; ++t) {
    ts[t].index = t * (users / nthreads);
    if (pthread_create(&ts[t].tid, NULL, run, &ts[t]) != 0) return 2;
  }
  struct timespec d = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
  while (nanosleep(&d, &d) != 0) {
  }
  atomic_store(&stop, 1);
  uint64_t ops = 0, errors = 0;
  for (unsigned t = 0; t < nthreads; ++t) {
    pthread_join(ts[t].tid, NULL);
    ops += ts[t].ops;
    errors += ts[t].errors;
  }
  const double secs = now_s() - t0;
  printf("threads=%u ops=%llu seconds=%.3f ops_per_sec=%.0f errors=%llu\n", nthreads, (unsigned long long)ops, secs,
         (double)ops / secs, (unsigned long long)errors);
  free(ts);
  return errors == 0 && ops > 0 ? 0 : 1;
}
