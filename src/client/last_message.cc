#include "client/last_message.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

namespace fastid::client {
namespace {

__thread char t_message[kMaxMessage];

void sanitize() {
  for (char* p = t_message; *p != '\0'; ++p) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c == 0x7f) *p = '?';
  }
}

}  // namespace

void clear_message() { t_message[0] = '\0'; }

void set_message(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(t_message, sizeof t_message, fmt, ap);
  va_end(ap);
  if (n < 0) t_message[0] = '\0';
  sanitize();
}

void set_message_bytes(const char* s, size_t n) {
  if (n > kMaxMessage - 1) n = kMaxMessage - 1;
  if (n) memcpy(t_message, s, n);
  t_message[n] = '\0';
  sanitize();
}

const char* message() { return t_message; }

}  // namespace fastid::client
