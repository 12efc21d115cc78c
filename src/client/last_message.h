// The thread-local "why did the last call fail" text behind fastid_last_message().
// Plain __thread storage (no constructor, no destructor, no C++ runtime); every
// writer truncates and replaces control characters, so the text is always printable.
#pragma once

#include <stddef.h>

namespace fastid::client {

inline constexpr size_t kMaxMessage = 1025;  // the daemon sends at most 1024 bytes; + NUL

void clear_message();
// printf-style; the result is sanitized like set_message_bytes.
void set_message(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Copies n bytes from an untrusted source (the daemon's error string).
void set_message_bytes(const char* s, size_t n);
const char* message();

}  // namespace fastid::client
