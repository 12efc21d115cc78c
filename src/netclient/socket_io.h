// Blocking-with-a-deadline I/O on non-blocking sockets, shared by NetClient's
// plaintext path and its TLS session: every wait is a poll(2) bounded by the
// caller's deadline, every send is MSG_NOSIGNAL (a peer that leaves is an
// error value, never SIGPIPE in a process that did not ignore it).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace fastid::netclient {

using Clock = std::chrono::steady_clock;

// Waits for `events` (POLLIN, POLLOUT) on fd until the deadline. False on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline);

// Sends all `n` bytes before the deadline (kTimeout) or fails (kUnavailable).
core::Status send_all(int fd, const std::uint8_t* p, std::size_t n, Clock::time_point deadline);

// Receives exactly `n` bytes. kUnavailable with "closed" when the peer closed
// before the first byte, kTimeout when nothing more came before the deadline.
core::Status recv_all(int fd, std::uint8_t* p, std::size_t n, Clock::time_point deadline);

// Receives at least one byte and at most `n` (waiting up to the deadline);
// `*got` is 0 when the peer closed the connection.
core::Status recv_some(int fd, std::uint8_t* p, std::size_t n, std::size_t* got, Clock::time_point deadline);

}  // namespace fastid::netclient
