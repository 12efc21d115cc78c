// FilesProvider: answers passwd, group and initgroups from a passwd(5)-format
// and a group(5)-format file, and netgroups from an optional netgroup(5) file,
// with glibc "files" semantics, from an in-memory index.
// The index is immutable once built and replaced whole on reload, so lookups,
// stats() and install() are safe from any thread at once; open, close and
// refresh are called by one thread at a time (the Provider contract).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "providers/provider.h"

namespace fastid::providers {

class FilesProvider final : public Provider {
 public:
  struct Options {
    std::string name = {};                  // "local": logs, status, error messages
    std::string passwd_path = "/etc/passwd";
    std::string group_path = "/etc/group";
    std::string shadow_path = {};           // shadow(5) file for authenticate()/account(); "" = none
    std::string netgroup_path = {};         // netgroup(5) file; "" = no netgroups
  };

  // Both files parsed and indexed, plus what the files were when read
  // (device, inode, size, mtime). Defined in the .cc: callers only pass it on.
  class Index;

  explicit FilesProvider(Options options);
  ~FilesProvider() override;
  FilesProvider(const FilesProvider&) = delete;
  FilesProvider& operator=(const FilesProvider&) = delete;

  const std::string& name() const override { return options_.name; }

  // Loads both files; fails naming the path that cannot be read (the daemon
  // refuses to start on it). Malformed lines never fail it: they are skipped.
  Status open() override;
  // Drops the index: lookups answer kUnavailable until the next open().
  void close() override;
  // Reloads when either file changed (device, inode, size or mtime in ns).
  // A failed reload keeps the previous index in service and returns the error.
  Status refresh() override;

  // From the index. kInitgroups: the gids of the groups listing the user, in
  // group-file order, without repeats; a user is known if it is in the passwd
  // file or listed in any group (local groups may list directory users, as
  // with glibc's files module). Pages: in file order, and an enumeration
  // reads one version of the files from its first page to its last. The
  // cursor names the index it came from (a tag) and a position in it; an
  // index replaced by a reload is kept for kKeepReplaced (at most
  // kMaxReplacedKept of them), so an enumeration that crosses a reload ends
  // on the records it began with, none repeated or skipped. One slower than
  // that fails kUnavailable ("start it again"), never silently. Files of more
  // than 262,143 records have untagged cursors (positions only, as before).
  Result<Answer> lookup(const Query& query) override;

  // Against the shadow file, read at each call (providers/files/shadow.h):
  // kNotFound when the user is in neither the passwd nor the shadow file,
  // kPermissionDenied for a wrong password or a locked hash, kUnavailable
  // when the shadow file cannot be read, kInvalidArgument without one.
  Status authenticate(std::string_view user, std::string_view password) override;
  Result<model::Account> account(std::string_view user) override;
  // Never: a files user's password is the shadow file's, changed by
  // passwd(1) through pam_unix. A known user gets kNotSupported (PAM_IGNORE,
  // so that the next module in the stack changes it), an unknown one kNotFound.
  Result<model::PasswordChange> change_password(std::string_view user, std::string_view old_password,
                                                std::string_view new_password) override;

  // users, groups, malformed and skipped line counts, reloads, last error.
  std::vector<std::pair<std::string, std::string>> stats() const override;
  // The number of successful loads: +1 on open() and on every reload.
  std::uint64_t data_generation() const override;

  // The reload in three steps, for a daemon that reads files on a thread pool
  // and swaps on its event loop (refresh() is the three in a row):
  //   changed()  stat(2) both files and compare with the installed index;
  //   load()     read and parse both files; touches no provider state;
  //   install()  make an index the one lookups see (a pointer swap).
  // changed() and load() may run on any thread; install() too, but two
  // installs racing each other leave whichever came last.
  Result<bool> changed() const;
  Result<std::shared_ptr<const Index>> load() const;
  void install(std::shared_ptr<const Index> index);

 private:
  std::shared_ptr<const Index> current() const {
    std::lock_guard lock(index_mu_);
    return index_;
  }
  Status not_open() const;
  void note_failure(const Status& status);

  const Options options_;
  // A mutex, not std::atomic<std::shared_ptr>: libstdc++ 12's load() releases
  // its internal lock with relaxed order, a race ThreadSanitizer reports, and
  // the mutex is held only to copy the pointer (one refcount increment).
  mutable std::mutex index_mu_;
  std::shared_ptr<const Index> index_;  // null while not open
  // Indexes replaced by reloads, newest last, for enumerations begun on them.
  struct Replaced {
    std::shared_ptr<const Index> index;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Replaced> replaced_;  // guarded by index_mu_
  static constexpr std::chrono::seconds kKeepReplaced{60};
  static constexpr std::size_t kMaxReplacedKept = 2;
  // The index an enumeration cursor's tag names: `current` or a kept one.
  std::shared_ptr<const Index> version(std::uint32_t tag, std::shared_ptr<const Index> current) const;
  std::uint32_t unused_tag(std::uint32_t wanted) const;

  mutable std::mutex mu_;  // guards the reload history below (stats() reads it)
  std::uint64_t reloads_ = 0;
  std::uint64_t failed_reloads_ = 0;
  // crypt_r calls made by authenticate(), dummy ones included: one per call
  // whatever the user (stats "password_checks").
  std::atomic<std::uint64_t> password_checks_{0};
  std::string last_error_;
};

}  // namespace fastid::providers
