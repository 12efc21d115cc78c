/* A fault injector for storage_faults_system_test, preloaded into fastidd
 * (LD_PRELOAD; never installed): on the process's FASTID_TEST_CUT_AT-th call
 * of LMDB's mdb_get it truncates FASTID_TEST_CUT_PATH (the store's data.mdb)
 * to its two meta pages, then lets LMDB read. That is the window the store's
 * check before each read cannot close: the check has passed, and LMDB is
 * about to read the record's pages through its map, past the new end. A
 * fastidd without its SIGBUS guard dies there. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <lmdb.h>
#include <stdlib.h>
#include <unistd.h>

int mdb_get(MDB_txn* txn, MDB_dbi dbi, MDB_val* key, MDB_val* data) {
  static int (*real)(MDB_txn*, MDB_dbi, MDB_val*, MDB_val*);
  static long calls;
  if (real == NULL) *(void**)&real = dlsym(RTLD_NEXT, "mdb_get");
  const char* path = getenv("FASTID_TEST_CUT_PATH");
  const char* at = getenv("FASTID_TEST_CUT_AT");
  if (path != NULL && at != NULL && __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) == atol(at)) {
    (void)truncate(path, 8192);
  }
  return real(txn, dbi, key, data);
}
