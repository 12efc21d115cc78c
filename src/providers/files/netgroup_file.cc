// Parsing the netgroup(5) file (netgroup_file.h).
#include "providers/files/netgroup_file.h"

namespace fastid::providers {
namespace {

constexpr std::size_t kMaxExamples = 5;
// A line of more members than one answer may carry is not a netgroup file.
constexpr std::size_t kMaxMembersPerLine = 16384;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Parses one logical line into `entry`; nullptr or why it is malformed.
const char* parse_line(std::string_view line, std::string* name, NetgroupEntry* entry) {
  std::size_t pos = 0;
  auto skip_blanks = [&] {
    while (pos < line.size() && is_blank(line[pos])) ++pos;
  };
  skip_blanks();
  std::size_t end = pos;
  while (end < line.size() && !is_blank(line[end])) ++end;
  *name = std::string(line.substr(pos, end - pos));
  if (const char* why = invalid_netgroup_name_reason(*name)) return why;
  pos = end;
  for (;;) {
    skip_blanks();
    if (pos >= line.size()) break;
    if (entry->triples.size() + entry->members.size() >= kMaxMembersPerLine) return "too many members";
    if (line[pos] == '(') {
      const std::size_t close = line.find(')', pos);
      if (close == std::string_view::npos) return "a triple without ')'";
      const char* why = nullptr;
      auto t = parse_triple(line.substr(pos, close + 1 - pos), &why);
      if (!t) return why;
      entry->triples.push_back(std::move(*t));
      pos = close + 1;
      continue;
    }
    end = pos;
    while (end < line.size() && !is_blank(line[end])) ++end;
    const std::string_view member = line.substr(pos, end - pos);
    if (const char* why = invalid_netgroup_name_reason(member)) return why;
    entry->members.emplace_back(member);
    pos = end;
  }
  return nullptr;
}

}  // namespace

NetgroupFile parse_netgroup_file(std::string_view text) {
  NetgroupFile out;
  std::string logical;
  std::size_t number = 0, first_number = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++number;
    if (logical.empty()) first_number = number;
    const bool continued = line.ends_with('\\');
    if (continued) line.remove_suffix(1);
    logical.append(line);
    if (continued && pos < text.size()) {
      logical.push_back(' ');
      continue;
    }
    std::string_view whole = logical;
    if (const std::size_t hash = whole.find('#'); hash != std::string_view::npos) whole = whole.substr(0, hash);
    if (whole.find_first_not_of(" \t") != std::string_view::npos) {
      std::string name;
      NetgroupEntry entry;
      if (const char* why = parse_line(whole, &name, &entry)) {
        ++out.malformed;
        if (out.examples.size() < kMaxExamples) out.examples.emplace_back(first_number, why);
      } else {
        out.netgroups.try_emplace(std::move(name), std::move(entry));
      }
    }
    logical.clear();
  }
  return out;
}

}  // namespace fastid::providers
