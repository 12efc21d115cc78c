#include "providers/record_rules.h"

#include <string>

namespace fastid::providers {
namespace {

constexpr char kHex[] = "0123456789abcdef";

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

}  // namespace

const char* invalid_name_reason(std::string_view name, bool qualified) {
  if (name.empty()) return "empty name";
  if (name.size() > 256) return "name longer than 256 bytes";
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == ':') return "':' in a name";
    if (c == ',') return "',' in a name";
    if (c == '\n') return "newline in a name";
    if (c == '\0') return "NUL in a name";
    if (is_control(c)) return "control character in a name";
    if (c == '\\' && qualified) continue;
    if (c == '*' || c == '(' || c == ')' || c == '\\') return "filter metacharacter in a name";
  }
  return nullptr;
}

const char* invalid_field_reason(std::string_view field) {
  if (field.size() > 4096) return "field longer than 4096 bytes";
  for (char ch : field) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == ':') return "':' in a field";
    if (c == '\n') return "newline in a field";
    if (c == '\0') return "NUL in a field";
    if (is_control(c)) return "control character in a field";
  }
  return nullptr;
}

const char* refused_id_reason(std::uint32_t id, IdRange range) {
  if (id == 0) return "id 0 (root) is never taken from a directory";
  if (id == 4294967295u) return "id 4294967295 is (uid_t)-1";
  if (id < range.min_id) return "id below min_id";
  if (id > range.max_id) return "id above max_id";
  return nullptr;
}

std::string printable(std::string_view text) {
  std::string out;
  for (char ch : text.substr(0, 200)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (is_control(c)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  if (text.size() > 200) out += "...";
  return out;
}

}  // namespace fastid::providers
