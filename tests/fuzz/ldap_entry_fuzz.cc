// libFuzzer target: the LDAP provider's mapping of a directory entry to a
// record (providers/ldap/ldap_entry.h), with the entry as an attribute list:
// the input is LDIF-like lines "attribute: value" (the first line is the DN;
// names are lower-cased as the provider does; values are taken raw, so any
// byte a server could send is there). The entry is mapped as a user and as a
// group, under the default attribute names and under the `want` of a lookup
// by name. A mapped record must be one the wire can carry (proto::put_user
// and get_user give it back) with no field that could split a passwd line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "proto/messages.h"
#include "proto/wire.h"
#include "providers/ldap/ldap_entry.h"

namespace ldap = fastid::providers::ldap;
namespace proto = fastid::proto;

namespace {

bool field_ok(const std::string& f) {
  for (char c : f) {
    if (c == ':' || c == '\n' || c == '\0') return false;
  }
  return true;
}

void check_user(const fastid::model::User& u) {
  if (u.name.empty() || !field_ok(u.name) || !field_ok(u.gecos) || !field_ok(u.dir) || !field_ok(u.shell) ||
      u.uid == 4294967295u || u.gid == 4294967295u)
    std::abort();
  std::vector<std::uint8_t> buf(64 * 1024);
  proto::WireWriter w(buf.data(), buf.size());
  proto::put_user(w, u);
  proto::WireReader r(buf.data(), w.len);
  fastid::model::User back;
  if (!proto::get_user(r, &back) || !(back == u)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  fastid::fuzz::Input in(data, size);
  ldap::Entry e;
  e.dn = std::string(in.text_until('\n'));
  std::string want;
  for (std::string_view line : fastid::fuzz::lines_of(in.all())) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    const std::string attr = ldap::lowered(line.substr(0, colon));
    e.attrs[attr].emplace_back(value);
    if (want.empty() && (attr == "uid" || attr == "cn") && e.attrs[attr].size() == 2) want = std::string(value);
  }
  for (std::string_view w : {std::string_view(), std::string_view(want)}) {
    auto u = ldap::user_of_entry(ldap::UserAttributes{}, e, w);
    if ((u.outcome == ldap::Outcome::kMapped) != u.record.has_value()) std::abort();
    if (u.record) {
      check_user(*u.record);
      if (!w.empty() && u.record->name != w) std::abort();
    }
    auto g = ldap::group_head_of_entry(ldap::GroupAttributes{}, e, w);
    if ((g.outcome == ldap::Outcome::kMapped) != g.record.has_value()) std::abort();
    if (g.record && (g.record->name.empty() || !field_ok(g.record->name) || g.record->gid == 4294967295u))
      std::abort();
  }
  // Overridden attribute names, as `user_attributes` sets them (the same attribute twice).
  ldap::UserAttributes a;
  a.gecos = "cn";
  a.home = "uid";
  if (auto u = ldap::user_of_entry(a, e); u.record) check_user(*u.record);
  return 0;
}
