// A user's credential cache file, created by a root process in a directory
// others may write to (/tmp) without giving anyone a way to redirect it.
// The pattern ("FILE:/tmp/krb5cc_%U_XXXXXX", krb5_ccache) names a directory
// and a file name: %U is the uid, the trailing XXXXXX six random characters.
// Every directory from / down is opened with O_NOFOLLOW (no symbolic link
// anywhere on the path) and must be owned by root or the user and not be
// writable by others unless sticky, so nobody can swap it for another; the
// file is created in it with openat(O_CREAT|O_EXCL|O_NOFOLLOW), mode 0600, and
// written through that descriptor only, then given to the user with fchown.
// libkrb5 never writes a FILE: cache through a descriptor, so it writes into
// a private 0700 directory of root's and the bytes are copied over.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace fastid::providers::krb5 {

// The directory and file name template of `pattern` for `uid`, checked
// (FILE:, absolute, XXXXXX at the end), or the user's persistent kernel
// keyring ("KEYRING:persistent:%U", which libkrb5 writes itself: keyring
// caches have no path anyone could redirect): kInvalidArgument otherwise.
struct CachePath {
  std::string dir;
  std::string name_template;
  std::string keyring = {};  // "KEYRING:persistent:1000"; dir and name_template empty then
};
core::Result<CachePath> parse_cache_pattern(std::string_view pattern, unsigned uid);

// Creates the user's file (see above) holding `contents`; returns "FILE:<path>".
core::Result<std::string> create_user_cache(const CachePath& where, std::string_view contents, unsigned uid,
                                            unsigned gid);

}  // namespace fastid::providers::krb5
