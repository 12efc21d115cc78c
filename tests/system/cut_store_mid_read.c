/* A fault injector for storage_faults_system_test, preloaded into fastidd
 * (LD_PRELOAD; never installed): on the process's FASTID_TEST_CUT_AT-th call
 * of LMDB's mdb_get (or of mdb_put, when FASTID_TEST_CUT_IN is "put") it
 * truncates FASTID_TEST_CUT_PATH (the store's data.mdb) to its two meta
 * pages, then lets LMDB go on. That is the window the store's check before
 * each read and write cannot close: the check has passed, and LMDB is about
 * to read the tree's pages through its map, past the new end (a read on the
 * front worker's loop; a write, inside its transaction on the store's writer
 * thread). A fastidd without its SIGBUS guard dies there. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void maybe_cut(const char* call) {
  static long calls;
  const char* path = getenv("FASTID_TEST_CUT_PATH");
  const char* at = getenv("FASTID_TEST_CUT_AT");
  const char* in = getenv("FASTID_TEST_CUT_IN");
  if (path == NULL || at == NULL || strcmp(in != NULL ? in : "get", call) != 0) return;
  if (__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) == atol(at)) (void)truncate(path, 8192);
}

int mdb_get(MDB_txn* txn, MDB_dbi dbi, MDB_val* key, MDB_val* data) {
  static int (*real)(MDB_txn*, MDB_dbi, MDB_val*, MDB_val*);
  if (real == NULL) *(void**)&real = dlsym(RTLD_NEXT, "mdb_get");
  maybe_cut("get");
  return real(txn, dbi, key, data);
}

int mdb_put(MDB_txn* txn, MDB_dbi dbi, MDB_val* key, MDB_val* data, unsigned int flags) {
  static int (*real)(MDB_txn*, MDB_dbi, MDB_val*, MDB_val*, unsigned int);
  if (real == NULL) *(void**)&real = dlsym(RTLD_NEXT, "mdb_put");
  maybe_cut("put");
  return real(txn, dbi, key, data, flags);
}
