// The checks of toml_precheck.h. The header check follows TOML's lexical
// structure just far enough to know where a table header can begin: at the
// start of a line, outside any string, comment or multi-line array.
#include "daemon/toml_precheck.h"

#include <cstdio>
#include <string>
#include <utility>

namespace fastid::daemon {
namespace {

bool key_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '"' || c == '\'';
}

bool blank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::optional<TomlRefusal> toml_precheck(std::string_view text) {
  std::size_t line = 1, line_start = 0;
  auto at = [&](std::size_t i, std::string why) { return TomlRefusal{line, i - line_start + 1, std::move(why)}; };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", c);
      return at(i, std::string("control character ") + hex + " (TOML allows only tab and newlines)");
    }
    if (c == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  // Where a table header may begin: depth 0 (no array or inline table open),
  // outside strings and comments, first thing on its line. And outside
  // strings and comments, only ASCII: TOML's bare keys and values are ASCII,
  // and toml++ reaches __builtin_unreachable on some non-ASCII characters
  // there (U+00A1..U+0499 where it looks for whitespace).
  line = 1;
  line_start = 0;
  int depth = 0;
  std::string open;  // the arrays and inline tables open, innermost last
  bool line_begins = true;
  char previous = '\n';  // the last character read outside strings and comments, blanks aside
  // Past the string that starts at i; the index of its last character.
  auto skip_string = [&](std::size_t i) {
    const char q = text[i];
    const bool multi = text.substr(i, 3) == std::string(3, q);
    const std::size_t n = multi ? 3 : 1;
    std::size_t j = i + n;
    while (j < text.size() && text.substr(j, n) != text.substr(i, n)) {
      // Unclosed on its line: not a string (valid TOML never has one); its
      // bytes are checked like any other.
      if (!multi && text[j] == '\n') return i;
      if (q == '"' && text[j] == '\\' && j + 1 < text.size() && (multi || text[j + 1] != '\n')) ++j;  // an escape
      if (text[j] == '\n') {
        ++line;
        line_start = j + 1;
      }
      ++j;
    }
    if (j >= text.size() && !multi) return i;  // unclosed at the end: the same
    j = j + n - 1;
    // A multi-line string may end with up to two more quotes of its kind.
    while (multi && j + 1 < text.size() && text[j + 1] == q) ++j;
    return j;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      line_start = i + 1;
      line_begins = true;
      continue;
    }
    if (blank(c) || c == '\r') continue;
    const bool first = line_begins;
    line_begins = false;
    const char before = previous;
    previous = c;
    if (static_cast<unsigned char>(c) >= 0x80) return at(i, "a non-ASCII character outside a string or comment");
    if (c == '#') {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
    } else if (c == '"' || c == '\'') {
      // A string begins a key (first on its line, or after a dot of a dotted
      // key) or a value (after `=`, `[`, `,` or `{`); a quote anywhere else
      // (`name = 0""""…`) is not TOML, and this check would read a string
      // where toml++ does not.
      if (!first && before != '=' && before != '[' && before != ',' && before != '{' && before != '.')
        return at(i, "a quote where no key or value can begin");
      i = skip_string(i);
    } else if (c == '[' && first && depth == 0) {
      std::size_t j = i + 1;
      if (j < text.size() && text[j] == '[') ++j;
      while (j < text.size() && blank(text[j])) ++j;
      if (j < text.size() && text[j] != ']' && !key_start(text[j]))
        return at(j, "a table header must start with a key");
      // The key, to its closing bracket: quoted parts skipped, the rest ASCII.
      for (; j < text.size() && text[j] != ']' && text[j] != '\n'; ++j) {
        if (text[j] == '"' || text[j] == '\'') {
          j = skip_string(j);
        } else if (static_cast<unsigned char>(text[j]) >= 0x80) {
          return at(j, "a non-ASCII character outside a string or comment");
        }
      }
      while (j < text.size() && text[j] == ']') ++j;
      i = j - 1;
    } else if (c == '[' || c == '{') {
      // An array or inline table begins a value: after `=`, or as an item
      // (after `[`, `,`, or first on a line inside an array). Anywhere else
      // (`name =0["…`) toml++ reads it as part of a bad value and goes on
      // past what this check would take for a string.
      if (!(first && depth > 0) && before != '=' && before != '[' && before != ',')
        return at(i, std::string("a '") + c + "' where no value can begin");
      open.push_back(c);
      ++depth;
    } else if (c == ']' || c == '}') {
      // Every closing bracket closes the last one opened, of its kind
      // (toml++ asserts on `{ a = [ }`).
      if (open.empty() || open.back() != (c == ']' ? '[' : '{'))
        return at(i, std::string("a '") + c + "' that closes no " + (c == ']' ? "array" : "inline table"));
      open.pop_back();
      --depth;
    }
  }
  return std::nullopt;
}

}  // namespace fastid::daemon
