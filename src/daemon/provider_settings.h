// Provider settings for a provider worker: one validated [[provider]] and the
// log level, as key/value text that travels in the sealed memfd the pool
// hands each fastid-provider-worker. The pool never looks inside; the worker
// decodes it with the settings table alone, so it never links the TOML parser.
//
//   fastid-provider-settings 1
//   log_level=info
//   trace_requests=false   ([daemon] trace_requests: core/trace.h)
//   KEY=VALUE            one line per provider setting that applies to its type
//
// Values are in the setting's own syntax (setting_text); a string list is its
// items, each followed by ','. In every value '\' is written "\\", a newline
// "\n" and ',' "\,".
#pragma once

#include <string>
#include <string_view>

#include "core/log.h"
#include "core/status.h"
#include "daemon/config.h"

namespace fastid::daemon {

struct ProviderSettings {
  ProviderConfig provider;  // its `pool` member keeps the defaults: pools are the daemon's
  core::LogLevel log_level = core::LogLevel::kInfo;
  bool trace_requests = false;
};

std::string encode_provider_settings(const ProviderConfig& provider, core::LogLevel log_level,
                                     bool trace_requests = false);

// Every value is checked again against the settings table (the text crossed a
// process boundary). Errors are kInvalidArgument naming the line and key.
Result<ProviderSettings> decode_provider_settings(std::string_view text);

}  // namespace fastid::daemon
