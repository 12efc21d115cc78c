// Opening the daemon's Unix stream listeners. The supervisor opens them once,
// before any front worker exists; front workers inherit the descriptors. Every fd is
// O_CLOEXEC and non-blocking (losing an accept race is then EAGAIN, not a hang).
#pragma once

#include <sys/types.h>

#include <string>

#include "core/status.h"

namespace fastid::server {

// Binds and listens on `path` with permissions `mode`. A stale socket file
// left by a daemon that died is replaced; a socket that still answers means
// another fastidd is running, which is an error naming the path.
core::Result<int> open_unix_listener(const std::string& path, mode_t mode, int backlog = 1024);

// Creates `dir` (and its parents) with `mode` if it does not exist.
core::Status ensure_directory(const std::string& dir, mode_t mode);

// Whether a file can be created in `dir` (one is created and removed at
// once, nothing written: a full disk is not a reason to refuse a start). The
// error names `what`, the path and the reason.
core::Status check_writable_directory(const std::string& what, const std::string& dir);

}  // namespace fastid::server
