// The SIGBUS guard (sigbus_guard.h): a per-thread chain of jump buffers, one
// per guarded region, and the escape the daemon's handler calls.
#include "core/sigbus_guard.h"

#include <setjmp.h>
#include <signal.h>
#include <ucontext.h>

#include <atomic>

namespace fastid::core {

namespace {

struct Frame {
  sigjmp_buf jump;
  Frame* outer;
};

// The innermost guarded region of this thread. Initial-exec TLS: the
// handler's read is a plain thread-pointer-relative load, never a lazy
// allocation (this file is linked into fastidd only; no module dlopens it).
__attribute__((tls_model("initial-exec"))) thread_local Frame* volatile current = nullptr;

std::atomic<std::uint64_t> caught{0};

}  // namespace

namespace sigbus_detail {

// Not inlined (GCC never inlines a function that calls sigsetjmp): its frame
// is the one the jump returns to, alive for as long as body runs.
bool run(void (*body)(void*), void* ctx) noexcept {
  Frame frame;
  frame.outer = current;
  // savemask 0: no sigprocmask call per region (this is on every store read
  // and fast cache write); sigbus_escape restores the interrupted code's mask
  // itself before it jumps.
  if (sigsetjmp(frame.jump, 0) != 0) {
    current = frame.outer;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    return false;
  }
  current = &frame;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  body(ctx);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  current = frame.outer;
  return true;
}

}  // namespace sigbus_detail

void sigbus_escape(const siginfo_t* info, void* ucontext) noexcept {
  Frame* frame = current;
  if (frame == nullptr || info == nullptr) return;
  // Only the kernel's report of a mapped page with no file behind it: a
  // SIGBUS sent by a process (si_code <= 0) or a hardware memory error
  // (BUS_MCEERR_*) is not a damaged file, and kills as before.
  if (info->si_code != BUS_ADRERR && info->si_code != BUS_OBJERR) return;
  caught.fetch_add(1, std::memory_order_relaxed);
  // The mask of the interrupted code (SIGBUS was blocked while this handler
  // runs; the jump does not return through the kernel to unblock it).
  if (ucontext != nullptr) {
    ::pthread_sigmask(SIG_SETMASK, &static_cast<const ucontext_t*>(ucontext)->uc_sigmask, nullptr);
  } else {
    sigset_t bus;
    sigemptyset(&bus);
    sigaddset(&bus, SIGBUS);
    ::pthread_sigmask(SIG_UNBLOCK, &bus, nullptr);
  }
  siglongjmp(frame->jump, 1);
}

std::uint64_t sigbus_caught() noexcept { return caught.load(std::memory_order_relaxed); }

bool sigbus_guard_active() noexcept { return current != nullptr; }

}  // namespace fastid::core
