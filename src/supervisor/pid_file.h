// PidFile: the daemon's pid file, locked for as long as the daemon runs so
// that a second fastidd on the same file fails at start with a clear message
// instead of silently sharing it. Removed when the owner releases it.
#pragma once

#include <string>

#include "core/status.h"

namespace fastid::supervisor {

class PidFile {
 public:
  PidFile() = default;
  ~PidFile();
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

  // Creates (or takes over a stale) `path`, locks it and writes our pid.
  core::Status acquire(const std::string& path);
  // Rewrites the pid (after daemonizing, the pid changed).
  core::Status update();
  // Unlinks and unlocks; also done by the destructor.
  void release();

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace fastid::supervisor
