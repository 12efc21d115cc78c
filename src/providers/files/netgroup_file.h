// The netgroup(5) file of the files provider (/etc/netgroup format): one
// netgroup a line, "name member member ...", each member a triple
// "(host,user,domain)" or the name of another netgroup; a backslash at the end
// of a line continues it, '#' starts a comment. A line that breaks the rules
// (providers/netgroups.h) is skipped whole and reported, never half-served.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "providers/netgroups.h"

namespace fastid::providers {

struct NetgroupFile {
  std::map<std::string, NetgroupEntry> netgroups;  // the first line of a name wins
  std::size_t malformed = 0;
  std::vector<std::pair<std::size_t, std::string>> examples;  // line number, reason (the first few)
};

NetgroupFile parse_netgroup_file(std::string_view text);

}  // namespace fastid::providers
