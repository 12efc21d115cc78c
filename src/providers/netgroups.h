// Netgroups from any source: the rules a netgroup name and a triple must pass
// before they are served, the text of one triple ("(host,user,domain)", as in
// netgroup(5) and LDAP's nisNetgroupTriple), and the one walk that flattens
// nested netgroups — breadth first, each netgroup once (a cycle ends where it
// closes), bounded in levels, netgroups and triples — shared by the files and
// LDAP providers so that both nest alike. Pure functions: safe from any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/records.h"

namespace fastid::providers {

// Why a netgroup name cannot be served; nullptr when it can. The rules of
// names (record_rules.h: 1..256 bytes, no ':' ',' control or filter
// metacharacter), and no blank: netgroup(5) separates members by blanks.
const char* invalid_netgroup_name_reason(std::string_view name);
// Why a triple field cannot be served; nullptr when it can. At most 255 bytes
// (a host or domain name; three fit glibc innetgr()'s 1024-byte buffer), no
// blank, control character, '(' ')' or ','. Empty is the wildcard.
const char* invalid_triple_field_reason(std::string_view field);
const char* invalid_triple_reason(const model::NetgroupTriple& triple);

// "(host,user,domain)" with optional blanks around each field; nullopt (and
// *why) when it is not one triple or a field breaks the rules.
std::optional<model::NetgroupTriple> parse_triple(std::string_view text, const char** why);

// One netgroup as its source holds it: its own triples and the names of the
// netgroups it includes.
struct NetgroupEntry {
  std::vector<model::NetgroupTriple> triples;
  std::vector<std::string> members;
};

// The entries of those of `names` the source holds (one call per level; an
// LDAP provider makes it one search).
using NetgroupFetch =
    std::function<core::Result<std::map<std::string, NetgroupEntry>>(const std::vector<std::string>& names)>;

struct NetgroupLimits {
  std::size_t max_levels = 16;       // nesting levels expanded here; deeper ones are left to glibc
  std::size_t max_netgroups = 1024;  // netgroups expanded by one lookup
  std::size_t max_triples = 16384;   // distinct triples in one answer (proto::kMaxNetgroupTriples)
};

// `name` with its nested netgroups flattened: the distinct triples of every
// netgroup reachable from it (first seen first), each netgroup expanded once.
// Nested names the source does not hold, and names past max_levels or
// max_netgroups, are listed in `unresolved` (glibc looks them up itself, with
// its own cycle check); invalid nested names are dropped. kNotFound when the
// source does not hold `name`; kInternal when the triples exceed max_triples
// (an answer cut short could deny what it should allow, or the reverse).
core::Result<model::Netgroup> flatten_netgroup(const std::string& name, const NetgroupFetch& fetch,
                                               NetgroupLimits limits = {});

}  // namespace fastid::providers
