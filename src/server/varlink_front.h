// The systemd userdb front (docs/varlink.md): io.systemd.UserDatabase over
// Varlink on a Unix stream socket in /run/systemd/userdb/, where nss-systemd,
// userdbctl, homed and logind ask every service they find. One more front end
// of the same lookups: each call becomes model::Queries that pass the gate
// (ListenerClass::kVarlink) and go through Router::lookup, exactly as a lookup
// frame of the nss socket does; only the encoding differs (proto/varlink.h).
// Loop-thread only.
#pragma once

#include <asio/awaitable.hpp>

#include <memory>
#include <string>
#include <vector>

#include "server/server.h"

namespace fastid::server {

struct VarlinkOptions {
  // The socket's file name ("io.fastid"): the `service` every call must name,
  // and the `service` field of every record (nss-systemd refuses a record without it).
  std::string service;
  // Directories whose records are not served here (the `files` providers,
  // unless [varlink] include_files): glibc's `files` answers them already.
  std::vector<std::string> left_out;
  bool enumerate = true;  // false: every enumeration is EnumerationNotSupported
  std::string version;  // org.varlink.service.GetInfo
};

// The request loop of one Varlink connection: NUL-terminated calls, each
// answered in order (a call with `more` by several replies), until the peer
// leaves, sends a message that is not a Varlink call (closed), stalls, idles
// or the server stops.
asio::awaitable<void> serve_varlink_connection(Server& server, std::shared_ptr<Server::Connection> conn,
                                               std::shared_ptr<const VarlinkOptions> options);

}  // namespace fastid::server
