// Request tracing: where the time of a lookup goes ([daemon] trace_requests,
// off by default). Each stage of a lookup's way through the daemon — received,
// store read, dispatched to a provider worker, provider started, each directory
// search sent and answered, reply written, store written, published — is one
// line on the log's descriptor, written with one write(2):
//
//   trace <role>[<pid>] <CLOCK_MONOTONIC ns> <stage> <key>
//
// The key is the lookup as model::describe() says it (`user "alice"`), so the
// lines of one lookup can be joined across the front worker and its provider
// worker (CLOCK_MONOTONIC is one clock for every process of the machine).
// bench/run-ldap-bench reads them and prints each stage's median. Lines are
// written whatever the log level: tracing is asked for by its own setting.
// Safe from any thread; costs one relaxed load when off.
#pragma once

#include <atomic>
#include <string_view>

namespace fastid::core {

namespace trace_detail {
extern std::atomic<bool> g_enabled;
}

// Process-wide, set at start-up (and by a reload).
void set_trace_enabled(bool on);
inline bool trace_enabled() { return trace_detail::g_enabled.load(std::memory_order_relaxed); }

// One stage of the lookup named `key`; nothing when tracing is off. Control
// bytes in the key (it may come from a client) are written as '?'.
void trace_stage(std::string_view stage, std::string_view key);

// For a process that serves one lookup at a time (a provider worker): the key
// that trace_stage_current() uses, so that code below the request (a
// provider's searches) needs no key of its own.
void set_trace_key(std::string_view key);
void trace_stage_current(std::string_view stage);

}  // namespace fastid::core
