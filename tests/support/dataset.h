// Dataset: a passwd and group file pair parsed into what every answer is
// checked against (scripts/gen-dataset's files, tests/ldap/gen-ldif's
// expected/passwd and expected/group). Written once here for the system,
// LDAP provider and LDAP system suites.
#pragma once

#include <fstream>
#include <map>
#include <set>
#include <string>

#include "support/text.h"

namespace fastid::testing {

struct Dataset {
  std::map<std::string, std::string> passwd_by_name;  // name -> whole line
  std::map<unsigned, std::string> passwd_by_uid;
  std::map<std::string, std::string> group_by_name;
  std::map<unsigned, std::string> group_by_gid;
  std::map<std::string, std::set<unsigned>> groups_of;  // supplementary gids
  std::map<std::string, unsigned> primary_gid;

  Dataset() = default;
  // `dir`/passwd and `dir`/group.
  explicit Dataset(const std::string& dir) { load(dir); }

  void load(const std::string& dir) {
    std::ifstream pw(dir + "/passwd");
    for (std::string line; std::getline(pw, line);) {
      auto f = split(line, ':');
      passwd_by_name[f[0]] = line;
      passwd_by_uid[static_cast<unsigned>(std::stoul(f[2]))] = line;
      primary_gid[f[0]] = static_cast<unsigned>(std::stoul(f[3]));
    }
    std::ifstream gr(dir + "/group");
    for (std::string line; std::getline(gr, line);) {
      auto f = split(line, ':');
      unsigned gid = static_cast<unsigned>(std::stoul(f[2]));
      group_by_name[f[0]] = line;
      group_by_gid[gid] = line;
      if (!f[3].empty()) {
        for (const auto& m : split(f[3], ',')) groups_of[m].insert(gid);
      }
    }
  }
};

}  // namespace fastid::testing
