// libFuzzer target: the line parsers of directory values that are neither
// passwd nor group — a netgroup triple ("(host,user,domain)", netgroup(5) and
// LDAP's nisNetgroupTriple), a netgroup(5) file with nesting flattened
// (parse_netgroup_file, flatten_netgroup), and an SSH public key value
// (ssh_key_line, what sshd's AuthorizedKeysCommand is handed). The first
// byte picks the parser, the rest is the text. What a parser accepts must
// keep its promise: a triple's fields pass the triple rules, a key line is
// one line of at most kMaxSshKeyLength bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "fuzz_input.h"
#include "proto/wire.h"
#include "providers/files/netgroup_file.h"
#include "providers/netgroups.h"
#include "providers/ssh_keys.h"

namespace providers = fastid::providers;

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  fastid::fuzz::Input in(data, size);
  const std::uint8_t which = in.byte() % 3;
  const std::string_view text = in.all();
  const char* why = nullptr;
  if (which == 0) {
    if (auto t = providers::parse_triple(text, &why); t && providers::invalid_triple_reason(*t) != nullptr)
      std::abort();
  } else if (which == 1) {
    const auto file = providers::parse_netgroup_file(text);
    for (const auto& [name, entry] : file.netgroups) {
      if (providers::invalid_netgroup_name_reason(name) != nullptr) std::abort();
      for (const auto& t : entry.triples) {
        if (providers::invalid_triple_reason(t) != nullptr) std::abort();
      }
    }
    providers::NetgroupFetch fetch = [&](const std::vector<std::string>& names) {
      std::map<std::string, providers::NetgroupEntry> out;
      for (const auto& n : names) {
        if (auto it = file.netgroups.find(n); it != file.netgroups.end()) out.emplace(n, it->second);
      }
      return fastid::core::Result<std::map<std::string, providers::NetgroupEntry>>(std::move(out));
    };
    int n = 0;
    for (const auto& [name, entry] : file.netgroups) {
      if (++n > 8) break;
      if (auto flat = providers::flatten_netgroup(name, fetch, {4, 64, 4096}); flat && flat->triples.size() > 4096)
        std::abort();
    }
  } else {
    if (auto line = providers::ssh_key_line(text, &why)) {
      if (line->size() > fastid::proto::kMaxSshKeyLength || line->find('\n') != std::string::npos ||
          line->find('\0') != std::string::npos)
        std::abort();
    }
  }
  return 0;
}
