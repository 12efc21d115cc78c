#include "supervisor/daemonize.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace fastid::supervisor {

core::Status Daemonizer::detach(bool keep_stderr) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return core::status_from_errno(errno, "pipe");
  pid_t pid = ::fork();
  if (pid < 0) return core::status_from_errno(errno, "fork");
  if (pid > 0) {
    // The original process: wait for the daemon's word, then leave.
    ::close(pipefd[1]);
    char c = 0;
    ssize_t n;
    do {
      n = ::read(pipefd[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    int status = 0;
    ::waitpid(pid, &status, 0);  // the intermediate child exits at once
    ::_exit(n == 1 && c == 'R' ? 0 : 1);
  }
  ::close(pipefd[0]);
  if (::setsid() < 0) return core::status_from_errno(errno, "setsid");
  pid = ::fork();  // not a session leader: can never reacquire a terminal
  if (pid < 0) return core::status_from_errno(errno, "fork");
  if (pid > 0) ::_exit(0);
  if (::chdir("/") != 0) return core::status_from_errno(errno, "chdir /");
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    if (!keep_stderr) ::dup2(null, 2);
    if (null > 2) ::close(null);
  }
  ready_fd_ = pipefd[1];
  return core::Status::ok();
}

void Daemonizer::notify_ready() {
  if (ready_fd_ < 0) return;
  char c = 'R';
  ssize_t n;
  do {
    n = ::write(ready_fd_, &c, 1);
  } while (n < 0 && errno == EINTR);
  ::close(ready_fd_);
  ready_fd_ = -1;
}

}  // namespace fastid::supervisor
