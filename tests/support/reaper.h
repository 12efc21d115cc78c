// Reaper: runs a command when the test process dies without saying goodbye —
// an assertion that aborted, a crash, ctest's timeout kill — so that a server
// the test started in the background (slapd, started by its fixture script
// with setsid, is not our child) never outlives the test. A small guardian
// child waits on a pipe whose only writer is the test; end of file without
// the goodbye byte means the test is gone, and the guardian runs the command.
// A fixture makes one when it starts a server and destroys it (the goodbye)
// after stopping that server itself.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace fastid::testing {

class Reaper {
 public:
  explicit Reaper(const std::string& command) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    guardian_ = ::fork();
    if (guardian_ == 0) {
      ::close(fds[1]);
      // Out of the test's process group and session: a kill of the test's
      // group must not take the guardian with it.
      ::setsid();
      char byte = 0;
      ssize_t n;
      while ((n = ::read(fds[0], &byte, 1)) < 0) {
      }
      if (n == 1) ::_exit(0);  // goodbye: the fixture stopped its server itself
      ::execv("/bin/sh", const_cast<char* const*>(argv));
      ::_exit(127);
    }
    ::close(fds[0]);
    write_end_ = fds[1];
  }
  ~Reaper() {
    if (write_end_ >= 0) {
      const char bye = 1;
      (void)!::write(write_end_, &bye, 1);
      ::close(write_end_);
    }
    if (guardian_ > 0) ::waitpid(guardian_, nullptr, 0);
  }
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

 private:
  pid_t guardian_ = -1;
  int write_end_ = -1;
};

}  // namespace fastid::testing
