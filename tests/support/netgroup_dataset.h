// The netgroup dataset of the netgroup tests (files and LDAP): nesting three
// deep, a cycle of two that also includes another netgroup, a netgroup
// naming one nobody holds, wildcards and "-". Written as a netgroup(5) file
// or as nisNetgroup LDIF, and the expected answers computed from the same
// table by an independent walk: the flattened triples of each netgroup, and
// innetgr() by glibc's matching rules (host and domain ignore case, user does
// not, an empty field or argument matches anything). Also the helpers that
// run glibc programs in a mount namespace with the test's own nsswitch.conf.
#pragma once

#include <strings.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "support/daemon_fixture.h"

namespace fastid::testing {

struct NetgroupDef {
  std::string name;
  std::vector<std::string> members;  // "(host,user,domain)" or a netgroup's name
};

inline const std::vector<NetgroupDef>& netgroup_defs() {
  static const std::vector<NetgroupDef> defs = {
      {"ng-hosts", {"(alpha.example,,)", "(beta.example,,)"}},
      {"ng-users", {"(,alice,)", "(,bob,fastid.test)"}},
      {"ng-all", {"ng-hosts", "ng-users", "(-,carol,)"}},
      {"ng-cycle-a", {"(a-host,,)", "ng-cycle-b"}},
      {"ng-cycle-b", {"(b-host,dave,)", "ng-cycle-a", "ng-all"}},
      {"ng-chain1", {"ng-chain2"}},
      {"ng-chain2", {"ng-chain3"}},
      {"ng-chain3", {"(deep.example,erin,)"}},
      {"ng-missing", {"ng-nowhere", "(x-host,,)"}},
  };
  return defs;
}

inline std::string netgroup_file_text() {
  std::string out = "# netgroup(5) test dataset\n";
  for (const auto& d : netgroup_defs()) {
    out += d.name;
    for (const auto& m : d.members) out += " " + m;
    out += "\n";
  }
  return out;
}

// nisNetgroup entries under ou=netgroups,BASE (the ou included).
inline std::string netgroup_ldif(const std::string& base) {
  std::string out = "dn: ou=netgroups," + base + "\nobjectClass: organizationalUnit\nou: netgroups\n\n";
  for (const auto& d : netgroup_defs()) {
    out += "dn: cn=" + d.name + ",ou=netgroups," + base + "\nobjectClass: nisNetgroup\ncn: " + d.name + "\n";
    for (const auto& m : d.members) {
      out += (m[0] == '(' ? "nisNetgroupTriple: " : "memberNisNetgroup: ") + m + "\n";
    }
    out += "\n";
  }
  return out;
}

using Triple = std::vector<std::string>;  // host, user, domain ("" = any)

inline Triple triple_of(const std::string& text) {
  Triple t;
  std::string inner = text.substr(1, text.size() - 2);
  size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    size_t comma = inner.find(',', start);
    std::string f = inner.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    // getent prints a wildcard host as " ".
    while (!f.empty() && f.back() == ' ') f.pop_back();
    while (!f.empty() && f.front() == ' ') f.erase(0, 1);
    t.push_back(f);
    start = comma + 1;
  }
  return t;
}

// Every triple reachable from `name` (a visited set ends cycles).
inline std::set<Triple> expected_triples(const std::string& name) {
  std::set<Triple> out;
  std::set<std::string> seen;
  std::function<void(const std::string&)> visit = [&](const std::string& n) {
    if (!seen.insert(n).second) return;
    for (const auto& d : netgroup_defs()) {
      if (d.name != n) continue;
      for (const auto& m : d.members) {
        if (m[0] == '(') out.insert(triple_of(m));
        else visit(m);
      }
    }
  };
  visit(name);
  return out;
}

// The triples of `getent netgroup` output ("NAME (h,u,d) (h,u,d)").
inline std::set<Triple> parse_getent_netgroup(const std::string& out) {
  std::set<Triple> t;
  for (size_t open = out.find('('); open != std::string::npos; open = out.find('(', open + 1)) {
    size_t close = out.find(')', open);
    if (close == std::string::npos) break;
    t.insert(triple_of(out.substr(open, close - open + 1)));
  }
  return t;
}

// innetgr(3) by glibc's rules, over the expected triples; "*" = NULL.
inline bool expected_innetgr(const std::string& ng, const std::string& host, const std::string& user,
                             const std::string& domain) {
  for (const auto& t : expected_triples(ng)) {
    const bool h = host == "*" || t[0].empty() || ::strcasecmp(t[0].c_str(), host.c_str()) == 0;
    const bool u = user == "*" || t[1].empty() || t[1] == user;
    const bool d = domain == "*" || t[2].empty() || ::strcasecmp(t[2].c_str(), domain.c_str()) == 0;
    if (h && u && d) return true;
  }
  return false;
}

// The queries the tests ask innetgr(): every netgroup (and one that does not
// exist) with hosts, users and domains that match and that do not.
inline std::vector<std::string> innetgr_queries() {
  std::vector<std::string> names = {"ng-nosuch"};
  for (const auto& d : netgroup_defs()) names.push_back(d.name);
  std::vector<std::string> out;
  for (const auto& n : names) {
    for (const char* h : {"*", "alpha.example", "ALPHA.Example", "a-host", "b-host", "deep.example", "x-host",
                          "-", "nohost"}) {
      for (const char* u : {"*", "alice", "Alice", "carol", "dave", "erin", "nobody"}) {
        for (const char* d : {"*", "fastid.test", "FASTID.TEST", "other.test"}) {
          out.push_back(n + " " + h + " " + u + " " + d);
        }
      }
    }
  }
  return out;
}

// Runs `command` with the daemon's environment in a private mount namespace
// where d.dir()/nsswitch.conf (written from `nsswitch`) is /etc/nsswitch.conf:
// glibc programs without -s, as every process on a host would ask.
inline CommandResult with_nsswitch(const Daemon& d, const std::string& nsswitch, const std::string& command) {
  write_file(d.dir() + "/nsswitch.conf", nsswitch);
  return run("unshare -m sh -c 'mount --bind " + d.dir() + "/nsswitch.conf /etc/nsswitch.conf && exec env " +
             d.env() + command + "' 2>&1");
}

// innetgr() for every query, through tests/system/innetgr_query in the
// namespace; the answers ("1"/"0") in order.
inline std::vector<std::string> ask_innetgr(const Daemon& d, const std::vector<std::string>& queries) {
  std::string in;
  for (const auto& q : queries) in += q + "\n";
  write_file(d.dir() + "/innetgr.in", in);
  CommandResult r = with_nsswitch(d, "netgroup: fastid\n", bin_dir() + "/innetgr_query < " + d.dir() + "/innetgr.in");
  auto lines = split(r.out, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // after the last newline
  return lines;
}

}  // namespace fastid::testing
