// check_name_options() (name_options.h).
#include "providers/name_options.h"

namespace fastid::providers {

core::Status check_name_options(const NameOptions& names, std::string_view provider) {
  const std::string p = "provider " + std::string(provider) + ": ";
  const std::string& s = names.separator;
  if (s.size() != 1 || (s[0] != '\\' && s[0] != '/' && s[0] != '+' && s[0] != '@')) {
    return core::Status::invalid_argument(p + "separator: must be one of \\, /, + or @, got \"" + s + "\"");
  }
  for (char c : names.default_domain) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_';
    if (!ok) {
      return core::Status::invalid_argument(p + "default_domain: \"" + names.default_domain +
                                            "\" is not a domain name");
    }
  }
  return core::Status::ok();
}

}  // namespace fastid::providers
