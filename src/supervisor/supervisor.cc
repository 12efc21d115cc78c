#include "supervisor/supervisor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "core/log.h"

namespace fastid::supervisor {
namespace {

using Clock = std::chrono::steady_clock;

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "stopped";
}

sigset_t supervised_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD}) sigaddset(&set, s);
  return set;
}

}  // namespace

Supervisor::Supervisor(SupervisorOptions options, std::function<int(int)> run_front_worker)
    : options_(options), run_front_worker_(std::move(run_front_worker)) {}

std::vector<pid_t> Supervisor::front_worker_pids() const {
  std::vector<pid_t> out;
  for (pid_t p : pids_) {
    if (p > 0) out.push_back(p);
  }
  return out;
}

pid_t Supervisor::spawn(int index) {
  pid_t pid = ::fork();
  if (pid < 0) {
    core::log_error(std::string("fork front worker: ") + std::strerror(errno));
    return -1;
  }
  if (pid == 0) {
    // A front worker dies with its supervisor: nothing may serve unsupervised.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() == 1) ::_exit(1);  // the supervisor died before prctl
    // SIGHUP and SIGUSR1 stay blocked: the front worker unblocks them once it can
    // handle them; a reload or reopen forwarded while it starts waits for
    // that instead of killing it.
    sigset_t set = supervised_signals();
    sigdelset(&set, SIGHUP);
    sigdelset(&set, SIGUSR1);
    ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
    core::set_log_role("front-worker" + std::to_string(index));
    ::_exit(run_front_worker_(index));
  }
  return pid;
}

void Supervisor::forward(int signo) {
  for (pid_t p : pids_) {
    if (p > 0) ::kill(p, signo);
  }
}

int Supervisor::stop_all(int exit_code) {
  forward(SIGTERM);
  // The front workers finish their requests in flight within the grace period; a
  // second more, then whatever is left is killed so that stop always ends.
  auto until = Clock::now() + options_.shutdown_grace + std::chrono::seconds(1);
  for (;;) {
    bool any = false;
    for (pid_t& p : pids_) {
      if (p <= 0) continue;
      int status;
      pid_t r = ::waitpid(p, &status, WNOHANG);
      if (r == p || (r < 0 && errno == ECHILD)) {
        p = 0;
      } else {
        any = true;
      }
    }
    if (!any) break;
    if (Clock::now() >= until) {
      core::log_warning("front workers did not stop within the grace period: killing them");
      forward(SIGKILL);
      for (pid_t& p : pids_) {
        if (p > 0) ::waitpid(p, nullptr, 0);
        p = 0;
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return exit_code;
}

int Supervisor::run() {
  core::set_log_role("supervisor");
  // Signals are taken synchronously (sigtimedwait) rather than by handlers:
  // the supervisor has nothing else to do, and no handler can race a fork.
  sigset_t set = supervised_signals();
  ::sigprocmask(SIG_BLOCK, &set, nullptr);

  pids_.assign(static_cast<size_t>(options_.front_workers), 0);
  for (int i = 0; i < options_.front_workers; ++i) {
    pids_[static_cast<size_t>(i)] = spawn(i);
    if (pids_[static_cast<size_t>(i)] < 0) return stop_all(1);
  }
  core::log_info("started " + std::to_string(options_.front_workers) + " front worker(s)");

  // Front workers waiting to be restarted, with the time they may be.
  std::vector<Clock::time_point> restart_at(pids_.size(), Clock::time_point::max());
  for (;;) {
    timespec timeout{0, 100 * 1000 * 1000};  // wakes to run paced restarts
    siginfo_t info;
    int signo = ::sigtimedwait(&set, &info, &timeout);
    if (signo == SIGTERM || signo == SIGINT) {
      core::log_info(std::string("received ") + strsignal(signo) + ": stopping the front workers");
      return stop_all(0);
    }
    if (signo == SIGHUP) {
      core::log_info("received SIGHUP: front workers reload their configuration");
      forward(SIGHUP);
      continue;
    }
    if (signo == SIGUSR1) {
      // logrotate: every process reopens the log file for itself (each has
      // its own descriptor table).
      if (std::string err = core::reopen_log_file(); !err.empty()) {
        core::log_warning("SIGUSR1: " + err);
      } else {
        core::log_info("received SIGUSR1: log file reopened");
      }
      forward(SIGUSR1);
      continue;
    }
    // SIGCHLD or a timeout: reap, then restart what is due.
    for (size_t i = 0; i < pids_.size(); ++i) {
      if (pids_[i] <= 0) continue;
      int status;
      if (::waitpid(pids_[i], &status, WNOHANG) != pids_[i]) continue;
      core::log_warning("front worker " + std::to_string(i) + " (pid " + std::to_string(pids_[i]) + ") " +
                        describe(status));
      if (options_.front_worker_reaped) options_.front_worker_reaped(pids_[i]);
      pids_[i] = 0;
      if (options_.figures) options_.figures->clear(static_cast<int>(i));
      if (options_.on_front_worker_exit == OnFrontWorkerExit::kExit) {
        core::log_error("on_worker_exit = \"exit\": stopping everything");
        return stop_all(1);
      }
      // A crash loop means the next front worker will die too: stop, with a
      // non-zero exit, so that the service manager restarts the whole.
      auto now = Clock::now();
      deaths_.push_back(now);
      while (!deaths_.empty() && now - deaths_.front() > options_.crash_window) {
        deaths_.erase(deaths_.begin());
      }
      if (static_cast<int>(deaths_.size()) >= options_.crash_limit) {
        core::log_error("front workers are crashing in a loop (" + std::to_string(deaths_.size()) +
                        " deaths within the crash window): stopping everything");
        return stop_all(1);
      }
      // Paced: the first replacement at once, then 200 ms more per recent death.
      restart_at[i] = now + std::chrono::milliseconds(200) * (deaths_.size() - 1);
    }
    auto now = Clock::now();
    for (size_t i = 0; i < pids_.size(); ++i) {
      if (pids_[i] == 0 && restart_at[i] <= now) {
        restart_at[i] = Clock::time_point::max();
        pids_[i] = spawn(static_cast<int>(i));
        if (pids_[i] < 0) return stop_all(1);
        core::log_info("front worker " + std::to_string(i) + " replaced (pid " + std::to_string(pids_[i]) + ")");
      }
    }
  }
}

}  // namespace fastid::supervisor
