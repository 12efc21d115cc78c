// The fastid tool's commands, one file per way of asking: local_commands.cc
// (lookups through libfastid, as every process makes them), admin_commands.cc
// (the admin socket: cache control, the log level), remote_commands.cc
// (--server: a remote fastidd over TCP or UDP); auth.h has `fastid auth`.
// Each returns the tool's exit code.
#pragma once

#include <grp.h>

#include <string>

#include "fastid/fastid.h"
#include "netclient/net_client.h"

namespace fastid::cli {

// Exit codes, as getent's: found, any other error, not found.
inline constexpr int kFound = 0;
inline constexpr int kError = 1;
inline constexpr int kNotFound = 2;

// A libfastid failure on stderr: kNotFound or kError.
int report(fastid_status st, const std::string& what);
// A numeric argument is an id; anything else is a name (as getent does).
bool parse_id(const std::string& text, unsigned long* out);
// A group line, as getent prints it.
void print_group(const group& gr);

int cmd_user(const std::string& key);
int cmd_group(const std::string& key);
int cmd_groups(const std::string& user);
int cmd_ping();
int cmd_status(bool json);
int cmd_enumerate(bool users);
int cmd_netgroup(const std::string& name);
int cmd_ssh_keys(const std::string& user);

int cmd_cache_invalidate(const std::string& map, const std::string& key);
int cmd_cache_show(const std::string& what, const std::string& key);
int cmd_debug_level(const std::string& text);

// --server HOST:PORT: the client and how to ask.
struct Remote {
  fastid::netclient::NetClient* client;
  fastid::netclient::Transport transport;
  bool verbose;
};
int remote_user(const Remote& r, const std::string& key);
int remote_group(const Remote& r, const std::string& key);
int remote_groups(const Remote& r, const std::string& user);
int remote_ping(const Remote& r);
int remote_enumerate(const Remote& r, bool users);

}  // namespace fastid::cli
