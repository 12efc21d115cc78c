#include "client/retry_stash.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/call.h"

namespace fastid::client {
namespace {

struct Stash {
  pid_t pid;
  uint16_t op;
  uint32_t key_len;
  uint32_t len;
  int64_t expires_ns;  // CLOCK_MONOTONIC_COARSE
  uint8_t key[Call::kMaxRequest];
  uint8_t payload[];   // len bytes
};

// See the header: plain TLS pointer, no destructor, on purpose.
__thread Stash* t_stash = nullptr;

int g_lifetime_ms = kStashLifetimeMs;  // tests only change it

int64_t coarse_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

void stash_drop() {
  free(t_stash);
  t_stash = nullptr;
}

const uint8_t* stash_find(proto::Opcode op, const uint8_t* key, size_t key_len, uint32_t* len) {
  Stash* s = t_stash;
  if (s == nullptr) return nullptr;  // the common case costs one TLS load
  // A child of fork() inherits the parent thread's stash: never used there.
  // The clock check bounds how stale a retry's answer can be.
  if (s->pid != getpid() || coarse_now_ns() >= s->expires_ns) {
    stash_drop();
    return nullptr;
  }
  if (s->op != static_cast<uint16_t>(op) || s->key_len != key_len || memcmp(s->key, key, key_len) != 0)
    return nullptr;  // another lookup in between: kept for the retry that may follow
  *len = s->len;
  return s->payload;
}

void stash_keep(proto::Opcode op, const uint8_t* key, size_t key_len, const uint8_t* payload,
                uint32_t len) {
  stash_drop();
  if (key_len > sizeof(Stash::key) || len > proto::kMaxPayload) return;
  auto* s = static_cast<Stash*>(malloc(sizeof(Stash) + len));
  if (s == nullptr) return;  // the retry asks the daemon again, as without a stash
  s->pid = getpid();
  s->op = static_cast<uint16_t>(op);
  s->key_len = static_cast<uint32_t>(key_len);
  s->len = len;
  s->expires_ns = coarse_now_ns() + static_cast<int64_t>(__atomic_load_n(&g_lifetime_ms, __ATOMIC_RELAXED)) * 1000000;
  memcpy(s->key, key, key_len);
  if (len) memcpy(s->payload, payload, len);
  t_stash = s;
}

void stash_debug_set_lifetime_ms(int ms) {
  __atomic_store_n(&g_lifetime_ms, ms > 0 ? ms : kStashLifetimeMs, __ATOMIC_RELAXED);
}

bool stash_debug_held() { return t_stash != nullptr; }

}  // namespace fastid::client
