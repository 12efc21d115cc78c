// The credential cache name a successful authentication reply may carry
// (auth_provider = "krb5": the cache the daemon wrote for the user, which
// pam_fastid exports as KRB5CCNAME; docs/kerberos.md). Its shape is checked
// twice: by the daemon before it sends one and by the module before it puts
// one in the login's environment, so that no name with a newline, a space, a
// relative or dot-dot path or an unexpected cache type ever reaches it.
// Header-only and libc-only (the PAM module includes it).
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace fastid::proto {

inline constexpr uint32_t kMaxCcacheNameLength = 256;

namespace ccache_detail {
inline bool path_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == '/';
}
}  // namespace ccache_detail

// "FILE:" and an absolute path of letters, digits, '_', '-', '.' and '/', with
// no empty, "." or ".." component and no trailing '/'; or
// "KEYRING:persistent:" and a decimal uid. At most kMaxCcacheNameLength bytes.
inline bool ccache_name_shape_ok(const char* name, size_t n) {
  if (name == nullptr || n == 0 || n > kMaxCcacheNameLength) return false;
  static constexpr char kFile[] = "FILE:";
  static constexpr char kKeyring[] = "KEYRING:persistent:";
  if (n > sizeof kKeyring - 1 && memcmp(name, kKeyring, sizeof kKeyring - 1) == 0) {
    const size_t digits = n - (sizeof kKeyring - 1);
    if (digits > 10) return false;
    for (size_t i = sizeof kKeyring - 1; i < n; ++i) {
      if (name[i] < '0' || name[i] > '9') return false;
    }
    return true;
  }
  if (n <= sizeof kFile || memcmp(name, kFile, sizeof kFile - 1) != 0) return false;
  const char* path = name + (sizeof kFile - 1);
  const size_t len = n - (sizeof kFile - 1);
  if (path[0] != '/' || path[len - 1] == '/') return false;
  // Each component after a '/': not empty, not "." or "..".
  for (size_t i = 0; i < len; ++i) {
    if (!ccache_detail::path_char(path[i])) return false;
    if (path[i] != '/') continue;
    size_t end = i + 1;
    while (end < len && path[end] != '/') ++end;
    const size_t part = end - (i + 1);
    if (part == 0) return false;
    if (part == 1 && path[i + 1] == '.') return false;
    if (part == 2 && path[i + 1] == '.' && path[i + 2] == '.') return false;
  }
  return true;
}

}  // namespace fastid::proto
