/* ldap_direct_bench: the limit for fastid's cold LDAP lookups — the same
 * search a cold getpwnam makes the LDAP provider issue, straight from libldap
 * against the same slapd, with nothing in between (no glibc, no daemon, no pool).
 *
 *   ldap_direct_bench -H URI -b BASE [-D BIND_DN -y PASSWORD_FILE] [-t THREADS] [-u USERS]
 *
 * Each thread opens its own connection (bound like the provider's service
 * connection), then looks up its share of user00001..userUSERS once each:
 * (&(objectClass=posixAccount)(uid=NAME)) for uid, uidNumber, gidNumber,
 * gecos, homeDirectory, loginShell, reading every value as the provider does.
 * Prints: threads=.. ops=.. seconds=.. ops_per_sec=.. errors=..
 */
#define _GNU_SOURCE
#include <lber.h>
#include <ldap.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *uri, *base, *bind_dn;
static char password[256];
static unsigned users = 10000, nthreads = 1;

struct thread_state {
  pthread_t tid;
  unsigned index;
  uint64_t ops, errors;
};

static void *run(void *arg) {
  struct thread_state *st = arg;
  LDAP *ld = NULL;
  if (ldap_initialize(&ld, uri) != LDAP_SUCCESS) {
    st->errors = 1;
    return NULL;
  }
  int version = LDAP_VERSION3;
  ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
  struct berval cred = {strlen(password), password};
  if (ldap_sasl_bind_s(ld, bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL) != LDAP_SUCCESS) {
    st->errors = 1;
    ldap_unbind_ext_s(ld, NULL, NULL);
    return NULL;
  }
  char *attrs[] = {"uid", "uidNumber", "gidNumber", "gecos", "homeDirectory", "loginShell", NULL};
  unsigned from = (unsigned)((uint64_t)st->index * users / nthreads);
  unsigned to = (unsigned)((uint64_t)(st->index + 1) * users / nthreads);
  for (unsigned i = from; i < to; ++i) {
    char filter[128];
    snprintf(filter, sizeof filter, "(&(objectClass=posixAccount)(uid=user%05u))", i + 1);
    LDAPMessage *res = NULL;
    struct timeval tv = {10, 0};
    int rc = ldap_search_ext_s(ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL, &tv,
                               LDAP_NO_LIMIT, &res);
    int found = 0;
    if (rc == LDAP_SUCCESS) {
      for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL; e = ldap_next_entry(ld, e)) {
        for (char **a = attrs; *a != NULL; ++a) {
          struct berval **v = ldap_get_values_len(ld, e, *a);
          if (v != NULL) {
            found += v[0]->bv_len > 0;
            ldap_value_free_len(v);
          }
        }
      }
    }
    if (res != NULL) ldap_msgfree(res);
    if (found < 3) st->errors++;
    st->ops++;
  }
  ldap_unbind_ext_s(ld, NULL, NULL);
  return NULL;
}

int main(int argc, char **argv) {
  const char *pwfile = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "-H")) uri = argv[i + 1];
    else if (!strcmp(argv[i], "-b")) base = argv[i + 1];
    else if (!strcmp(argv[i], "-D")) bind_dn = argv[i + 1];
    else if (!strcmp(argv[i], "-y")) pwfile = argv[i + 1];
    else if (!strcmp(argv[i], "-t")) nthreads = (unsigned)atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "-u")) users = (unsigned)atoi(argv[i + 1]);
  }
  if (uri == NULL || base == NULL || nthreads < 1 || nthreads > 64) {
    fprintf(stderr, "usage: ldap_direct_bench -H URI -b BASE [-D DN -y PWFILE] [-t N] [-u USERS]\n");
    return 2;
  }
  if (pwfile != NULL) {
    FILE *f = fopen(pwfile, "re");
    if (f == NULL || fgets(password, sizeof password, f) == NULL) {
      fprintf(stderr, "ldap_direct_bench: cannot read %s\n", pwfile);
      return 2;
    }
    fclose(f);
    password[strcspn(password, "\n")] = '\0';
  }
  struct thread_state *ts = calloc(nthreads, sizeof *ts);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (unsigned t = 0; t < nthreads; ++t) {
    ts[t].index = t;
    pthread_create(&ts[t].tid, NULL, run, &ts[t]);
  }
  uint64_t ops = 0, errors = 0;
  for (unsigned t = 0; t < nthreads; ++t) {
    pthread_join(ts[t].tid, NULL);
    ops += ts[t].ops;
    errors += ts[t].errors;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  printf("threads=%u ops=%llu seconds=%.3f ops_per_sec=%.0f errors=%llu\n", nthreads,
         (unsigned long long)ops, secs, (double)ops / secs, (unsigned long long)errors);
  return errors == 0 && ops == users ? 0 : 1;
}
