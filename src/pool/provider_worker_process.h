// Starting, signalling and reaping one provider worker process: fork+exec by
// posix_spawn (never a bare fork of the multi-threaded daemon), with a socketpair
// and the provider's configuration handed over as inherited descriptors.
// Plain functions over pids and descriptors; the caller owns what they return.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "core/status.h"

namespace fastid::pool {

struct ProviderWorkerCommand {
  std::string path;         // the fastid-provider-worker executable
  std::string provider;     // the provider's name: argv and logs
  std::string settings;     // the provider's settings, opaque here (written to a sealed memfd)
};

// A running child and the daemon's ends of it. The caller owns both
// descriptors and must reap `pid` exactly once (reap_if_exited).
struct SpawnedProviderWorker {
  pid_t pid = -1;
  int socket_fd = -1;  // stream socket to the worker, close-on-exec
  int pidfd = -1;      // readable once the child exits; -1 where the kernel has no pidfd_open
};

// Starts `command.path` with its socket end as fd 3 and the configuration as a
// sealed memfd on fd 4, stdin on /dev/null, stdout and stderr shared with the
// daemon (the log), every other descriptor closed, signals at their defaults and
// unblocked, in a process group of its own (a terminal's ^C reaches the daemon,
// which then stops its workers in order). The worker sets PR_SET_PDEATHSIG itself,
// which ties it to the calling thread: call this on the loop thread.
// kUnavailable naming the path and errno when the process cannot start.
core::Result<SpawnedProviderWorker> spawn_provider_worker(const ProviderWorkerCommand& command);

// Sends `signo` to a child, through its pidfd when there is one. Only for a
// child not reaped yet: a reaped pid may belong to someone else by now.
void signal_provider_worker(pid_t pid, int pidfd, int signo);

// The child's wait status once it has exited (reaping it), nullopt while it
// runs. A child that some other code already reaped (ECHILD) reports -1.
std::optional<int> reap_if_exited(pid_t pid);

// "exited with status 1", "killed by signal 9 (Killed)", "already reaped".
std::string describe_exit(int wait_status);

// The fastid-provider-worker to run: the installed one (FASTID_PROVIDER_WORKER_PATH,
// under libexecdir, compiled in), or in a build tree (FASTID_BUILD_TREE_MARKER
// beside the running executable) the one built beside it. default_paths.h.
std::string default_provider_worker_path();

}  // namespace fastid::pool
