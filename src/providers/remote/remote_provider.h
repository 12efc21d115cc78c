// RemoteProvider (type "fastid"): answers from another fastidd over its TCP
// listener — the site-cache tier, where every node runs fastidd locally and
// all of them share one upstream. Synchronous (NetClient blocks), so it runs
// in the provider pool like any directory client. Public data only: upstreams
// refuse authentication over the network, and so does this provider.
// Answers are checked by CheckedProvider (the registry wraps this in one):
// an upstream is trusted no more than a directory. One thread at a time, as
// the Provider interface says.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "netclient/net_client.h"
#include "providers/provider.h"

namespace fastid::providers {

class RemoteProvider final : public Provider {
 public:
  struct Options {
    std::string name = {};
    std::vector<std::string> servers = {};  // "HOST:PORT", asked in order
    std::chrono::milliseconds timeout{2000};
    std::string tls_ca_file = {};      // set: TLS to every upstream, verified against these CAs
    std::string tls_server_name = {};  // the name the certificates must carry; "": the address
  };

  explicit RemoteProvider(Options options);
  ~RemoteProvider() override;

  const std::string& name() const override { return options_.name; }

  // Checks the addresses and loads the TLS CA file; does not connect (an upstream that is down at start
  // is an outage to ride out, not a misconfiguration).
  Status open() override;
  void close() override;
  Status refresh() override { return Status::ok(); }

  // Asks the upstreams in order. Transport failures become kUnavailable
  // naming the provider; the upstream's own answers (not found, busy, ...)
  // pass through; a page that breaks the paging contract (more records than
  // asked, a cursor that does not advance) is kUnavailable.
  Result<Answer> lookup(const Query& query) override;

 private:
  Options options_;
  std::unique_ptr<netclient::NetClient> client_;
};

}  // namespace fastid::providers
