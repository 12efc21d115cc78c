// Directory: something that answers queries — one configured provider as the
// request handlers ask it, asynchronously (co_await). Three kinds:
//   in-process  a provider that never blocks, called on the loop (files);
//   pooled      a provider in its pool of provider worker processes (src/pool);
//   stored      the persistent store in front of another directory, with its
//               offline mode (stored_directory.h).
// A request in flight holds the directories it started with (shared_ptr), so
// a reload never pulls a provider out from under it. Loop-thread only.
#pragma once

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/offload.h"
#include "core/secret.h"
#include "core/status.h"
#include "model/query.h"

namespace fastid::providers {
class Provider;
}
namespace fastid::pool {
class ProviderPool;
}

namespace fastid::server {

using StatusItems = std::vector<std::pair<std::string, std::string>>;

class Directory {
 public:
  virtual ~Directory() = default;

  // The configured name ("local", "corp").
  virtual const std::string& name() const = 0;

  // The answer of the query's kind, or the error: kNotFound (no such entry),
  // kUnavailable, kTimeout, kBusy ... Errors name the provider.
  virtual asio::awaitable<core::Result<model::Answer>> lookup(model::Query query) = 0;

  // Authentication and the account check (providers::Provider's codes). An
  // in-process provider runs them on `offloader` (crypt is slow by design); a
  // pooled one in its provider worker. The password is zeroed wherever it went.
  // authenticate: ok with the account's verdict as the source saw it while
  // checking the password (Provider::authenticate_verdict; kOk mostly).
  virtual asio::awaitable<core::Result<model::Account>> authenticate(std::string user, core::Secret password,
                                                                     core::Offloader& offloader) = 0;
  virtual asio::awaitable<core::Result<model::Account>> account(std::string user,
                                                                core::Offloader& offloader) = 0;

  // A password change (providers::Provider::change_password's verdicts and
  // codes; both passwords empty: a preliminary check). Never retried, never
  // stored; the passwords are zeroed wherever they went.
  virtual asio::awaitable<core::Result<model::PasswordChange>> change_password(std::string user,
                                                                               core::Secret old_password,
                                                                               core::Secret new_password,
                                                                               core::Offloader& offloader) {
    (void)user;
    (void)old_password;
    (void)new_password;
    (void)offloader;
    co_return core::error(core::Status::invalid_argument(name() + ": does not change passwords"));
  }

  // After authenticate() or account() failed with `failure` (neither an
  // answer nor "no such user"): whether the directory is offline, so that
  // offline credentials may stand in for it. In-process: its own kUnavailable
  // (its files cannot be read; it has no queue for anyone to fill). Pooled: a
  // probe, when `failure` may mean an outage. Stored: its offline state, or a
  // probe that settles it. Busy or an internal error is never an outage:
  // offline credentials must not be reachable by filling a pool.
  virtual asio::awaitable<bool> offline(core::Status failure) = 0;
  // Whether the source can be reached: a lookup any reachable provider answers
  // at once (uid 0; "no such uid" counts as an answer). ok: reachable;
  // kUnavailable or kTimeout: it could not answer; anything else (kBusy): no
  // verdict. Pooled, it waits in the authentication queue, so that lookups
  // filling the pool cannot make it fail and fake an outage.
  virtual asio::awaitable<core::Status> probe() = 0;
  // The longest one call may wait for a provider worker, and again for its answer
  // (the pool's request_timeout); 0 for a provider called in this process.
  virtual std::chrono::milliseconds request_timeout() const { return std::chrono::milliseconds(0); }

  // Re-reads sources that changed (an in-process provider's refresh(); the
  // others re-read in their own processes). A failure keeps the old data.
  virtual core::Status refresh() { return core::Status::ok(); }
  // Changes whenever what this directory answers from may have changed (0:
  // it cannot tell); the daemon then invalidates the fast cache.
  virtual std::uint64_t data_generation() const { return 0; }
  // Changes whenever this directory's answer to `query` may change (0: it
  // cannot tell): what a large answer shared between requests is keyed on
  // (shared_replies.h). By default the data generation; a stored directory
  // gives the stamp of the record it would answer now (stored_directory.h).
  virtual std::uint64_t answer_version(const model::Query& query) {
    (void)query;
    return data_generation();
  }
  // Ends what it runs in the background (timers, provider worker processes); lookups
  // in flight finish.
  virtual void stop() = 0;

  // Figures for `fastid status` that need no I/O.
  virtual StatusItems status_items() const = 0;
};

using DirectoryPtr = std::shared_ptr<Directory>;
using Directories = std::vector<DirectoryPtr>;

// The source could not answer at all (kUnavailable, kTimeout), as opposed
// to "no such entry", a busy pool or an internal error: only these may mean
// it is offline.
bool means_offline(const core::Status& st);

// An opened provider called on the loop.
DirectoryPtr in_process_directory(std::shared_ptr<providers::Provider> provider);
// A started pool of provider worker processes running one provider.
DirectoryPtr pooled_directory(std::shared_ptr<pool::ProviderPool> pool);

}  // namespace fastid::server
