// NameOptions: how a provider whose directory has domains writes and compares
// its names — the separator between domain and user in answers, the default
// domain whose names are answered short, whether users compare with case.
// One struct, so that the provider settings `separator`, `default_domain`
// and `case_sensitive` mean one thing for every provider that reads them
// (winbind today; a directory provider that serves qualified names takes the
// same struct) and are checked by one function.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace fastid::providers {

struct NameOptions {
  std::string separator = "\\";  // one character: '\\', '/', '+' or '@'
  std::string default_domain = {};  // "" = every name qualified
  bool case_sensitive = false;

  // The separator as a character; valid once check() passed.
  char separator_char() const { return separator.empty() ? '\\' : separator[0]; }
};

// kInvalidArgument naming the key ("provider NAME: separator: ...") when the
// separator is not one of \, /, + or @, or the default domain is not a
// domain name (letters, digits, '.', '-', '_').
core::Status check_name_options(const NameOptions& names, std::string_view provider);

}  // namespace fastid::providers
