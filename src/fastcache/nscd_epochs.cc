// The nscd maps' shared invalidation epochs (nscd_epochs.h).
#include "fastcache/nscd_epochs.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

namespace fastid::fastcache {
namespace {
constexpr std::size_t kPage = 4096;
std::size_t index_of(proto::nscd::Database db) { return db == proto::nscd::Database::kPasswd ? 0 : 1; }
}  // namespace

core::Result<std::shared_ptr<NscdEpochs>> NscdEpochs::create() {
  void* p = ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return core::error(core::status_from_errno(errno, "mmap nscd epochs"));
  // Zero-filled by the kernel: a valid representation of lock-free atomics at 0.
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
  std::shared_ptr<NscdEpochs> e(new NscdEpochs());
  e->epochs_ = static_cast<std::atomic<std::uint64_t>*>(p);
  return e;
}

NscdEpochs::~NscdEpochs() {
  if (epochs_ != nullptr) ::munmap(epochs_, kPage);
}

std::uint64_t NscdEpochs::current(proto::nscd::Database db) const {
  return epochs_[index_of(db)].load(std::memory_order_acquire);
}

std::uint64_t NscdEpochs::advance(proto::nscd::Database db) {
  return epochs_[index_of(db)].fetch_add(1, std::memory_order_acq_rel) + 1;
}

}  // namespace fastid::fastcache
