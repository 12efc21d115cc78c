// The entry checks of libfastid's public calls (entry.h).
#include "client/entry.h"

#include <stdlib.h>
#include <string.h>

#include <atomic>

#include "client/last_message.h"
#include "proto/wire.h"

namespace fastid::client {
namespace {

// FASTID_DISABLE=1 turns the library off in this process (read once, with
// secure_getenv: setuid programs ignore it): every call answers
// FASTID_UNAVAILABLE at once, before the fast cache or the socket, so the NSS
// module hands over to the next source. fastidd sets it for itself and all it
// starts: the daemon must never ask itself (its own service user at start,
// with a stale fast cache or a directory answering; a provider worker's own
// lookups, which would wait on the pool they block).
std::atomic<int> g_disabled{0};  // 0 not read yet, 1 enabled, 2 disabled

bool disabled_here() {
  int state = g_disabled.load(std::memory_order_relaxed);
  if (state == 0) {
    const char* v = secure_getenv("FASTID_DISABLE");
    state = v != nullptr && strcmp(v, "1") == 0 ? 2 : 1;
    g_disabled.store(state, std::memory_order_relaxed);
  }
  return state == 2;
}

}  // namespace

fastid_status begin(bool args_ok) {
  clear_message();
  if (!args_ok) {
    set_message("invalid argument");
    return FASTID_INVALID_ARGUMENT;
  }
  if (disabled_here()) {
    set_message("fastid is disabled in this process (FASTID_DISABLE=1)");
    return FASTID_UNAVAILABLE;
  }
  return FASTID_OK;
}

// Checks a name argument: at most kMaxNameLength bytes. Sets *len.
fastid_status check_name(const char* name, size_t* len) {
  *len = strnlen(name, proto::kMaxNameLength + 1);
  if (*len > proto::kMaxNameLength) {
    set_message("name longer than %u bytes", proto::kMaxNameLength);
    return FASTID_INVALID_ARGUMENT;
  }
  return FASTID_OK;
}

}  // namespace fastid::client
