// core/sigbus_guard.h: a SIGBUS from touching a file cut short under its
// map ends a guarded region (the guard returns false) in a process whose
// handler calls sigbus_escape() — this test installs one as fastidd does
// (daemon/sigbus_handler.cc) — and kills the process anywhere else, and in a
// process with no such handler (the client library and modules install none).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "core/sigbus_guard.h"

namespace fastid::core {
namespace {

void escape_or_die(int signo, siginfo_t* info, void* uc) {
  sigbus_escape(info, uc);
  signal(signo, SIG_DFL);
  raise(signo);
}

void install() {
  struct sigaction sa {};
  sa.sa_sigaction = escape_or_die;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGBUS, &sa, nullptr), 0);
}

// A 4-page file mapped shared, then cut to one page: pages 1..3 are SIGBUS.
struct CutMap {
  CutMap() {
    char path[] = "/tmp/sigbus-guard-XXXXXX";
    fd = mkstemp(path);
    unlink(path);
    EXPECT_EQ(ftruncate(fd, 4 * 4096), 0);
    base = static_cast<unsigned char*>(mmap(nullptr, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    EXPECT_NE(base, MAP_FAILED);
    EXPECT_EQ(ftruncate(fd, 4096), 0);
  }
  ~CutMap() {
    munmap(base, 4 * 4096);
    close(fd);
  }
  int fd = -1;
  unsigned char* base = nullptr;
};

// Runs `child` in a fork; its wait status.
template <typename F>
int in_child(F child) {
  pid_t pid = fork();
  if (pid == 0) {
    child();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(SigbusGuardTest, ATouchPastTheEndInsideAGuardReturnsFalseAndTheThreadGoesOn) {
  const int status = in_child([] {
    install();
    CutMap m;
    volatile unsigned char sink = 0;
    bool ok = sigbus_guarded([&] { sink = m.base[0]; });  // the page still backed
    if (!ok) _exit(10);
    for (int i = 0; i < 100; ++i) {  // again and again: the mask is restored each time
      bool faulted = !sigbus_guarded([&] { m.base[2 * 4096 + i] = 1; });
      if (!faulted) _exit(11);
      if (sigbus_guard_active()) _exit(12);
    }
    // Nested: the inner guard catches, the outer goes on.
    bool inner = true;
    bool outer = sigbus_guarded([&] { inner = sigbus_guarded([&] { sink = m.base[3 * 4096]; }); });
    if (!outer || inner) _exit(13);
    if (sigbus_caught() != 101) _exit(14);
    (void)sink;
  });
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SigbusGuardTest, ATouchPastTheEndOutsideAnyGuardStillKills) {
  const int status = in_child([] {
    install();
    CutMap m;
    m.base[2 * 4096] = 1;
  });
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGBUS);
}

TEST(SigbusGuardTest, ASigbusSentByAnotherProcessInsideAGuardStillKills) {
  const int status = in_child([] {
    install();
    (void)sigbus_guarded([] { kill(getpid(), SIGBUS); });
  });
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGBUS);
}

TEST(SigbusGuardTest, WithoutTheDaemonsHandlerAGuardedTouchKillsAsBefore) {
  const int status = in_child([] {
    CutMap m;
    (void)sigbus_guarded([&] { m.base[2 * 4096] = 1; });
  });
#ifdef __SANITIZE_ADDRESS__
  // ASan's own SIGBUS handler reports it and exits non-zero instead.
  if (WIFEXITED(status)) {
    EXPECT_NE(WEXITSTATUS(status), 0);
    return;
  }
#endif
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGBUS);
}

}  // namespace
}  // namespace fastid::core
