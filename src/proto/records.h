// Identity records as the daemon, providers and codec see them: one passwd
// entry, one group entry, one page of an enumeration. Plain values; they never
// carry password hashes (passwd is "x" or "*" on the wire).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fastid::proto {

struct User {
  std::string name;
  std::string passwd = "x";
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string gecos;
  std::string dir;
  std::string shell;
  bool operator==(const User&) const = default;
};

struct Group {
  std::string name;
  std::string passwd = "x";
  std::uint32_t gid = 0;
  std::vector<std::string> members;
  bool operator==(const Group&) const = default;
};

// One page of an enumeration. `next_cursor` is opaque to clients: they send it
// back to get the following page. `more` is false on the last page.
template <typename T>
struct Page {
  std::vector<T> records;
  std::uint32_t next_cursor = 0;
  bool more = false;
};

}  // namespace fastid::proto
