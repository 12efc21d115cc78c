// The files provider's index (internal to src/providers/files): what a
// passwd(5) and a group(5) file were when read, their records and the maps
// lookups use, and reading such a file safely (files_index.cc). The provider
// (files_provider.cc) builds one Index per load and replaces it whole.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "providers/files/files_provider.h"
#include "providers/files/netgroup_file.h"

namespace fastid::providers {
namespace files_detail {

// What a file was when it was read: a change in any of these means re-read.
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp stamp_of(const struct stat& st);

struct FileReport {
  std::size_t records = 0;         // well-formed entries
  std::size_t malformed = 0;       // skipped: could not be parsed safely
  std::size_t compat = 0;          // skipped: NIS "+"/"-" lines
  std::size_t duplicates = 0;      // kept, but shadowed by an earlier name or id
  std::vector<std::pair<std::size_t, std::string_view>> examples;  // line, reason
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class V>
using NameMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct FileData {
  std::string text;
  FileStamp stamp;
};

// Reads a regular file whole (at most 256 MiB), with the stamp of the
// descriptor actually read.
Result<FileData> read_file(const std::string& path);

// One warning per file and load naming the first malformed lines; nothing when none.
void warn_malformed(const std::string& provider, const std::string& path, const FileReport& r);

}  // namespace files_detail

class FilesProvider::Index {
 public:
  std::vector<User> users;    // file order: enumeration and the cursor
  std::vector<Group> groups;  // file order
  files_detail::NameMap<std::uint32_t> user_by_name;  // -> position in users; first line wins
  std::unordered_map<std::uint32_t, std::uint32_t> user_by_uid;
  files_detail::NameMap<std::uint32_t> group_by_name;
  std::unordered_map<std::uint32_t, std::uint32_t> group_by_gid;
  files_detail::NameMap<std::vector<std::uint32_t>> gids_by_member;  // initgroups, group-file order
  NetgroupFile netgroups;  // empty without a netgroup file
  files_detail::FileStamp passwd_stamp;
  files_detail::FileStamp group_stamp;
  files_detail::FileStamp netgroup_stamp;
  files_detail::FileReport passwd_report;
  files_detail::FileReport group_report;
  std::int64_t loaded_at = 0;  // unix seconds
  std::uint32_t tag = 1;  // 1..31, in enumeration cursors: unlike the kept indexes' tags

  // Parse one file's text into the records and maps above (files_index.cc);
  // a malformed line is skipped and counted in the file's report.
  void parse_passwd(std::string_view text);
  void parse_group(std::string_view text);
};

}  // namespace fastid::providers
