// What every public entry point of libfastid does first (api.cc, maps.cc):
// keep the caller's errno, reset the thread's message, check the arguments,
// honour FASTID_DISABLE; and the one check of a name argument.
#pragma once

#include <errno.h>
#include <stddef.h>

#include "fastid/fastid.h"

namespace fastid::client {

// Restores the caller's errno on return: the library's system calls are its own business.
struct ErrnoKeeper {
  int saved = errno;
  ~ErrnoKeeper() { errno = saved; }
};

// Clears the thread's message; FASTID_INVALID_ARGUMENT when !args_ok,
// FASTID_UNAVAILABLE when FASTID_DISABLE=1 turned the library off here.
fastid_status begin(bool args_ok);

// Checks a name argument: at most kMaxNameLength bytes. Sets *len.
fastid_status check_name(const char* name, size_t* len);

}  // namespace fastid::client
