// WrappingDirectory: the calls a wrapping directory passes to the one behind it.
#include "core/gcc12_coroutines.h"
#include "server/wrapping_directory.h"

#include <utility>

namespace fastid::server {

WrappingDirectory::WrappingDirectory(DirectoryPtr behind) : behind_(std::move(behind)) {}

// Each call holds the directory behind in a local, alive across the await
// whatever a reload does; each awaitable is built in its own statement, then
// awaited (core/gcc12_coroutines.h, rule 1).
asio::awaitable<core::Result<model::Account>> WrappingDirectory::authenticate(std::string user,
                                                                              core::Secret password,
                                                                              core::Offloader& offloader) {
  DirectoryPtr behind = behind_;
  auto op = behind->authenticate(std::move(user), std::move(password), offloader);
  co_return co_await std::move(op);
}

asio::awaitable<core::Result<model::Account>> WrappingDirectory::account(std::string user,
                                                                         core::Offloader& offloader) {
  DirectoryPtr behind = behind_;
  auto op = behind->account(std::move(user), offloader);
  co_return co_await std::move(op);
}

asio::awaitable<core::Result<model::PasswordChange>> WrappingDirectory::change_password(
    std::string user, core::Secret old_password, core::Secret new_password, core::Offloader& offloader) {
  DirectoryPtr behind = behind_;
  auto op = behind->change_password(std::move(user), std::move(old_password), std::move(new_password), offloader);
  co_return co_await std::move(op);
}

}  // namespace fastid::server
