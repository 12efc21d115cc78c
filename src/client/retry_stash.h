// The reply that did not fit: a per-thread copy of the last reply that ended
// in FASTID_ERANGE, so that the caller's retry with a bigger buffer (glibc
// doubles its buffer from 1 KiB on every ERANGE) is answered from memory
// instead of asking the daemon for the whole record again. A 50,000-member
// group (~650 KB) would otherwise cost ~10 full round trips per lookup.
//
// Keyed by opcode + the request payload bytes (the name or id asked for) +
// the pid that stored it; served for at most kStashLifetimeMs after the daemon
// answered, measured with CLOCK_MONOTONIC_COARSE. Freed when used for a
// successful answer, replaced by a newer ERANGE reply, or found expired or
// from another pid (after fork) on the thread's next lookup.
//
// Thread exit: the stash is a plain `__thread` pointer with no destructor. A
// thread_local with a destructor would register a TLS destructor
// (__cxa_thread_atexit) from inside a dlopen'ed NSS module, which pins or
// races the module's unloading and needs the C++ runtime. The cost is at most
// one leaked stash (≤ 1 MiB, the protocol's frame limit) per thread that exits
// between an ERANGE and the retry — glibc always retries, so in practice none.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

namespace fastid::client {

inline constexpr int kStashLifetimeMs = 2000;

// The stashed payload for (op, key) of this process, still within its
// lifetime, or nullptr (*len untouched). An expired or inherited stash is freed.
const uint8_t* stash_find(proto::Opcode op, const uint8_t* key, size_t key_len, uint32_t* len);

// Keeps a copy of an ERANGE reply's validated payload (≤ kMaxPayload),
// replacing this thread's previous stash. Out of memory: nothing is kept.
void stash_keep(proto::Opcode op, const uint8_t* key, size_t key_len, const uint8_t* payload,
                uint32_t len);

// Frees this thread's stash (after it answered a retry successfully).
void stash_drop();

// Tests only: the lifetime in ms (0 restores kStashLifetimeMs), and whether this thread holds a stash.
void stash_debug_set_lifetime_ms(int ms);
bool stash_debug_held();

}  // namespace fastid::client
