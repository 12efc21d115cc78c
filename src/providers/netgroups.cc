// Netgroup rules, triple text and the flattening walk (netgroups.h).
#include "providers/netgroups.h"

#include <set>
#include <unordered_set>

#include "providers/record_rules.h"

namespace fastid::providers {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

const char* invalid_netgroup_name_reason(std::string_view name) {
  if (const char* why = invalid_name_reason(name)) return why;
  for (char c : name) {
    if (c == ' ') return "blank in a netgroup name";
  }
  return nullptr;
}

const char* invalid_triple_field_reason(std::string_view field) {
  if (field.size() > 255) return "triple field longer than 255 bytes";
  for (char ch : field) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return "control character in a triple field";
    if (c == ' ') return "blank in a triple field";
    if (c == '(' || c == ')' || c == ',') return "'(', ')' or ',' in a triple field";
  }
  return nullptr;
}

const char* invalid_triple_reason(const model::NetgroupTriple& t) {
  for (const std::string* f : {&t.host, &t.user, &t.domain}) {
    if (const char* why = invalid_triple_field_reason(*f)) return why;
  }
  return nullptr;
}

std::optional<model::NetgroupTriple> parse_triple(std::string_view text, const char** why) {
  text = trim(text);
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') {
    *why = "a triple is not enclosed in parentheses";
    return std::nullopt;
  }
  text = text.substr(1, text.size() - 2);
  std::string_view fields[3];
  for (int i = 0; i < 3; ++i) {
    const std::size_t comma = text.find(',');
    if ((i < 2) != (comma != std::string_view::npos)) {
      *why = "a triple does not have three fields";
      return std::nullopt;
    }
    fields[i] = trim(text.substr(0, comma));
    text = i < 2 ? text.substr(comma + 1) : std::string_view();
  }
  model::NetgroupTriple t{std::string(fields[0]), std::string(fields[1]), std::string(fields[2])};
  if ((*why = invalid_triple_reason(t)) != nullptr) return std::nullopt;
  return t;
}

core::Result<model::Netgroup> flatten_netgroup(const std::string& name, const NetgroupFetch& fetch,
                                               NetgroupLimits limits) {
  model::Netgroup out;
  out.name = name;
  std::set<model::NetgroupTriple> seen_triples;
  std::unordered_set<std::string> seen_names{name};  // each netgroup expanded (or listed) once
  std::vector<std::string> level{name};
  std::size_t expanded = 0;
  for (std::size_t depth = 0; !level.empty(); ++depth) {
    if (depth > limits.max_levels || expanded + level.size() > limits.max_netgroups) {
      // Deeper than this lookup goes: glibc asks for these names itself.
      out.unresolved.insert(out.unresolved.end(), level.begin(), level.end());
      break;
    }
    auto found = fetch(level);
    if (!found) return core::error(found.error());
    if (depth == 0 && !found->contains(name)) return core::error(core::Status::not_found("no such netgroup"));
    std::vector<std::string> next;
    for (const std::string& n : level) {
      auto it = found->find(n);
      if (it == found->end()) {
        out.unresolved.push_back(n);  // another source may hold it
        continue;
      }
      ++expanded;
      for (const auto& t : it->second.triples) {
        if (invalid_triple_reason(t) != nullptr || !seen_triples.insert(t).second) continue;
        if (seen_triples.size() > limits.max_triples) {
          return core::error(core::Status::internal("netgroup \"" + printable(name) + "\" has more than " +
                                                    std::to_string(limits.max_triples) + " triples"));
        }
        out.triples.push_back(t);
      }
      for (const auto& m : it->second.members) {
        if (invalid_netgroup_name_reason(m) != nullptr || !seen_names.insert(m).second) continue;
        next.push_back(m);
      }
    }
    level = std::move(next);
  }
  if (out.unresolved.size() > limits.max_netgroups) {
    return core::error(core::Status::internal("netgroup \"" + printable(name) + "\" names more than " +
                                              std::to_string(limits.max_netgroups) + " nested netgroups"));
  }
  return out;
}

}  // namespace fastid::providers
