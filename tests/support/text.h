// Small text helpers the test suites share (dataset lines, `fastid status`
// output): written once here.
#pragma once

#include <string>
#include <vector>

namespace fastid::testing {

// `s` cut at every `sep`; empty fields kept ("a::b" is {"a", "", "b"}).
inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace fastid::testing
