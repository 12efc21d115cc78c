// Trusted directories: the daemon (root) creates sockets in socket_dir and
// hands state_dir to the service user. Whoever can write to one of these
// directories, or to any directory on the way to them, can swap what root
// then opens, chowns or binds for something of their choosing. The daemon
// therefore refuses, at start and in --check-config, a directory that
// anybody but root (or the daemon's own user) could change.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/status.h"

namespace fastid::supervisor {

// Checks `path`, following symbolic links component by component:
//  - every directory on the way (and every symbolic link's directory) is
//    owned by root or by the calling process's euid, and is writable by its
//    owner only, or carries the sticky bit (/tmp);
//  - the directory itself is owned by one of `owners` (root and the euid are
//    always allowed) and is writable by its owner only.
// A missing tail is accepted when `may_be_missing` (the daemon creates it,
// as root, mode 0755). `what` names the setting in errors ("[daemon] state_dir").
core::Status check_trusted_directory(const std::string& what, const std::string& path,
                                     const std::vector<uid_t>& owners, bool may_be_missing);

// The same check for the directory itself, on an open descriptor (after the
// walk above: what was checked is what is open).
core::Status check_trusted_fd(const std::string& what, const std::string& path, int fd,
                              const std::vector<uid_t>& owners);

}  // namespace fastid::supervisor
