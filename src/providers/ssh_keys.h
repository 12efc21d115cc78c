// SSH public keys from a directory: what one value must be before it is
// handed to sshd as an authorized_keys line (AuthorizedKeysCommand). A value
// is one line: optional options, a key type sshd knows, the key's base64
// blob — which must decode and name that same type — and an optional
// comment. Pure functions: safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fastid::providers {

// The value as the line to print (surrounding blanks and one trailing
// newline dropped), or nullopt with *why when it is no key line: longer than
// proto::kMaxSshKeyLength, a control character (a newline would add a
// second line, a second key), an unknown key type, options that do not
// parse, a blob that is not base64 or names another type.
std::optional<std::string> ssh_key_line(std::string_view value, const char** why);

}  // namespace fastid::providers
