// LdapLoopDirectory: an ldap provider's lookups searched by the front worker
// itself, on its event loop (`async_lookups = true`; issue 17). The cold path
// of a pooled lookup crosses two processes (front worker -> provider worker ->
// back), each hop a wake-up and a frame encoded and decoded; here the search
// goes out on the front worker's own LDAP connection with libldap's
// asynchronous API (providers/ldap/ldap_async_connection.h), its descriptor
// watched by the loop, several searches outstanding at once, and the answer
// is made in the same process.
//
// The rules stay the provider's: the lookup runs through the same provider
// chain as in a provider worker (LdapProvider inside CheckedProvider and the
// home/shell rules), whose searches are answered by a hook from what this
// directory fetched: a first run tells which search the provider makes, the
// search is made, and the provider runs again on the entries (a lookup that
// needs more searches — initgroups, rfc2307bis members — goes round once per
// search, up to kMaxRounds). So filters, attributes, ambiguous names, id
// ranges and record checks are those of the pooled provider, in one place.
//
// Everything else goes to the pooled directory behind it: enumeration,
// netgroups, SSH keys, authentication, account checks, password changes,
// probes; and every lookup while the connection is not up. The connection is
// opened (connect, StartTLS, bind: blocking) on a helper thread, at start and
// again after a failure, at most once per reconnect_interval; the loop never
// waits for it. Once handed over its socket is non-blocking: half a message
// (or TLS record) read is "nothing yet", a search the socket takes only part
// of is finished when it is writable again (the loop watches for that;
// meanwhile lookups go to the pool), and at most kMaxOutstanding searches
// are outstanding on it (more lookups go to the pool). A broken
// connection fails its outstanding searches, which are then asked of the pool
// (whose answer, or failure, is the one the stored directory's offline rules
// see). A search that outlives request_timeout (a hung server, or one stalled
// mid-answer) fails kTimeout, as a pooled one would, and the connection is
// dropped. Identical lookups in flight share one search (core::Coalescer).
// Loop-thread only; owned through shared_ptr.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/coalescer.h"
#include "providers/ldap/ldap_async_connection.h"
#include "providers/ldap/ldap_provider.h"
#include "server/directory.h"
#include "server/wrapping_directory.h"

namespace fastid::server {

struct LdapLoopOptions {
  std::chrono::milliseconds reconnect_interval{1000};
  std::chrono::milliseconds search_timeout{0};  // 0: the pool's request_timeout
};

class LdapLoopDirectory final : public WrappingDirectory, public std::enable_shared_from_this<LdapLoopDirectory> {
 public:
  using MakeConnector = std::function<std::unique_ptr<providers::LdapProvider>()>;

  // `chain` answers lookups through `ldap`'s search hook (ldap is inside
  // chain); `make_connector` makes a provider whose open() connects and binds
  // (called on the helper thread); `behind`: the pooled directory.
  LdapLoopDirectory(asio::any_io_executor executor, std::unique_ptr<providers::Provider> chain,
                    providers::LdapProvider* ldap, MakeConnector make_connector, DirectoryPtr behind,
                    LdapLoopOptions options);
  ~LdapLoopDirectory() override;
  LdapLoopDirectory(const LdapLoopDirectory&) = delete;
  LdapLoopDirectory& operator=(const LdapLoopDirectory&) = delete;

  // Starts the first connection (in the background).
  void start();
  void stop() override;

  // name(), request_timeout(), authenticate(), account() and
  // change_password(): the pooled directory's (WrappingDirectory).
  asio::awaitable<core::Result<model::Answer>> lookup(model::Query query) override;
  asio::awaitable<bool> offline(core::Status failure) override;
  asio::awaitable<core::Status> probe() override;
  StatusItems status_items() const override;

  bool connected() const { return conn_ != nullptr; }

 private:
  static constexpr int kMaxRounds = 16;
  struct Pending {
    explicit Pending(asio::any_io_executor ex) : done(std::move(ex)) {}
    asio::steady_timer done;  // cancelled when the answer is in
    std::optional<core::Result<std::vector<providers::LdapEntryData>>> result;
    std::string trace_key;  // the lookup's, when tracing: each wake-up is a stage
  };

  static bool served_here(model::Kind kind);
  asio::awaitable<core::Result<model::Answer>> ask_pool(model::Query q);
  asio::awaitable<core::Result<model::Answer>> resolve(model::Query q);
  asio::awaitable<core::Result<std::vector<providers::LdapEntryData>>> search(providers::LdapSearchRequest request,
                                                                                   std::string trace_key);
  void maybe_connect();
  void connected(std::unique_ptr<providers::LdapAsyncConnection> conn);
  void watch();
  void watch_write();
  void service();
  void drop(const core::Status& why);
  std::chrono::milliseconds timeout() const;

  asio::any_io_executor executor_;
  std::unique_ptr<providers::Provider> chain_;
  providers::LdapProvider* ldap_;
  MakeConnector make_connector_;
  LdapLoopOptions options_;
  std::unique_ptr<providers::LdapAsyncConnection> conn_;
  std::optional<asio::posix::stream_descriptor> watch_;
  std::uint64_t generation_ = 0;  // bumped at each drop: a late handler of an old connection ignores itself
  std::unordered_map<int, std::shared_ptr<Pending>> pending_;
  core::Coalescer<std::string, core::Result<model::Answer>> coalescer_;
  asio::thread_pool connector_{1};  // connect + bind, which block
  bool write_watched_ = false;  // a wait for writability is armed
  bool connecting_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point next_connect_{};
  struct Counters {
    std::uint64_t lookups = 0;     // answered here
    std::uint64_t searches = 0;    // sent on the connection
    std::uint64_t to_pool = 0;     // lookups asked of the pool (not connected, or the connection failed)
    std::uint64_t timeouts = 0;
    std::uint64_t connects = 0;
    std::uint64_t connect_failures = 0;
    std::uint64_t drops = 0;
    std::uint64_t write_waits = 0;  // lookups sent to the pool while a search was partly written
  } counters_;
};

}  // namespace fastid::server
