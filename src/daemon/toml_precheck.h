// What fastid refuses in a configuration text before toml++ sees it: input
// that toml++ 3.3 does not reject itself but trips an assertion on (a Debug
// build of fastidd aborts; a release build assumes it cannot happen). Found by
// tests/fuzz/config_fuzz; each case is in tests/fuzz/regression/config.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fastid::daemon {

struct TomlRefusal {
  std::size_t line = 0, column = 0;  // from 1
  std::string why;
};

// The first such place, nullopt when there is none:
//  - a control character (TOML allows only tab and newlines, even in strings);
//  - a table header whose "[" or "[[" is not followed by a key ("[=", "[,");
//  - a non-ASCII character outside a string or comment.
// Every text this refuses is invalid TOML; valid TOML always passes.
std::optional<TomlRefusal> toml_precheck(std::string_view text);

}  // namespace fastid::daemon
