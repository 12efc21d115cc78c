// The reply to glibc's GETSTAT (`nscd -g`): nscd's `struct statdata`, filled
// with fastid's own figures, byte for byte as Debian 12's nscd reads it
// (glibc 2.36, built with SELinux: version 0x01020001, 768 bytes on x86-64;
// docs/nscd.md "Statistics"). `nscd -g` reads exactly that many bytes and
// refuses any other version, so the layout is fixed here and checked in
// tests/unit/nscd_test.cc. Learnt from glibc's nscd/nscd_stat.c; our own code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastid::proto::nscd {

// glibc's STATDATA_VERSION with its SELinux flag (Debian's and Fedora's nscd).
inline constexpr std::uint32_t kStatisticsVersion = 0x01020000u | 0x0001u;
inline constexpr std::size_t kStatisticsDatabases = 5;  // glibc's lastdb: passwd, group, hosts, services, netgroup
inline constexpr std::size_t kDatabaseStatisticsSize = 136;  // sizeof (struct dbstat)
inline constexpr std::size_t kStatisticsSize = 768;          // sizeof (struct statdata)

// One database's figures as `nscd -g` prints them.
struct DatabaseStatistics {
  bool enabled = false;
  bool shared = false;              // a map is handed out
  std::uint64_t buckets = 0;        // "suggested size"
  std::uint64_t positive_ttl_s = 0;
  std::uint64_t negative_ttl_s = 0;
  std::uint64_t entries = 0;        // keys in the current map
  std::uint64_t data_size = 0;      // the current map's data area
  std::uint64_t data_used = 0;
  std::uint64_t positive_answers = 0;  // answered on the socket: "cache hits on positive entries"
  std::uint64_t negative_answers = 0;  //   "... on negative entries"
  std::uint64_t failed = 0;            // records that fit in no map: "memory allocations failed"
};

struct Statistics {
  std::int64_t runtime_s = 0;
  std::uint32_t reloads = 0;
  std::int32_t threads = 1;
  DatabaseStatistics passwd, group;  // hosts, services and netgroup: disabled
};

// kStatisticsSize bytes, host order (the peer is on this machine).
std::vector<std::uint8_t> encode_statistics(const Statistics& s);

}  // namespace fastid::proto::nscd
