// Telling the service manager what fastidd is doing (systemd's Type=notify,
// the protocol of sd_notify(3)) without libsystemd: one datagram of
// "KEY=VALUE\n" lines to the AF_UNIX socket named by NOTIFY_SOCKET, a path or,
// with a leading '@', an abstract address. Without NOTIFY_SOCKET every call does
// nothing. The units in dist/systemd set NotifyAccess=all: with -w N the front
// front workers, children of the main process, send the states themselves.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace fastid::supervisor {

class ServiceNotifier {
 public:
  // Disabled: every call is a no-op.
  ServiceNotifier() = default;
  // `address`: "/path" or "@abstract"; "" disables.
  explicit ServiceNotifier(std::string address) : address_(std::move(address)) {}

  // Takes NOTIFY_SOCKET and removes it from the environment, so that nothing
  // the daemon spawns (provider workers) inherits the right to speak for it.
  // The front workers forked later keep this object's copy.
  static ServiceNotifier from_environment();

  bool enabled() const { return !address_.empty(); }

  // Sends `state` (e.g. "READY=1\nSTATUS=serving") as one datagram.
  core::Status notify(std::string_view state) const;

  // The states fastidd reports. RELOADING=1 carries MONOTONIC_USEC, as
  // Type=notify-reload requires; READY=1 ends a reload as well as a start.
  core::Status ready() const { return notify("READY=1"); }
  core::Status reloading() const;
  core::Status stopping() const { return notify("STOPPING=1"); }

 private:
  std::string address_;
};

}  // namespace fastid::supervisor
