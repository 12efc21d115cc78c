// The files provider's index: parsing passwd(5) and group(5) lines (glibc
// "files" rules, every field checked before it is kept) into the records and
// maps of FilesProvider::Index, and reading those files safely.
#include "providers/files/files_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <unordered_set>

#include "core/log.h"
#include "proto/wire.h"

namespace fastid::providers {
namespace files_detail {
namespace {

// A passwd file of a million users is ~100 MB; past this it is not a passwd
// file, and reading it whole would only exhaust memory.
constexpr std::size_t kMaxFileBytes = std::size_t{256} << 20;
// Malformed lines named in the one warning per file and reload; the rest are counted.
constexpr std::size_t kMaxExamples = 5;
// (uid_t)-1 means "no id" to chown(2) and setreuid(2): never a real id.
constexpr std::uint64_t kMaxId = 0xFFFFFFFEu;

// Names go into passwd/group lines, member lists and log lines: nothing that
// could split a field (':'), a member list (','), a line or a log record
// (control characters), and no blanks, which no tool quotes.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > proto::kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c > 0x20 && c != 0x7f && c != ':' && c != ',';
  });
}

bool valid_field(std::string_view field) {
  if (field.size() > proto::kMaxFieldLength) return false;
  return std::all_of(field.begin(), field.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c != 0x7f;
  });
}

// Decimal digits only: no sign, no blanks, no "0x", within 0..kMaxId.
bool parse_id(std::string_view text, std::uint32_t* out) {
  if (text.empty() || text.size() > 20) return false;
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v > kMaxId) return false;
  *out = static_cast<std::uint32_t>(v);
  return true;
}

// Splits on ':' into exactly `n` fields; false when the count differs.
bool split_fields(std::string_view line, std::string_view* fields, std::size_t n) {
  std::size_t count = 0;
  std::size_t start = 0;
  for (;;) {
    const std::size_t colon = line.find(':', start);
    const std::size_t end = colon == std::string_view::npos ? line.size() : colon;
    if (count == n) return false;
    fields[count++] = line.substr(start, end - start);
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  return count == n;
}

// Calls `parse(line)` for every data line; comments, blank lines and NIS
// compat lines are skipped here. `parse` returns nullptr or a reason.
template <class ParseLine>
void for_each_line(std::string_view text, FileReport& report, ParseLine&& parse) {
  std::size_t number = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++number;
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    if (line[0] == '+' || line[0] == '-') {
      ++report.compat;
      continue;
    }
    if (const char* reason = parse(line)) {
      ++report.malformed;
      if (report.examples.size() < kMaxExamples) report.examples.emplace_back(number, reason);
    }
  }
}

}  // namespace

FileStamp stamp_of(const struct stat& st) {
  return FileStamp{st.st_dev, st.st_ino, st.st_size,
                   static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

Result<FileData> read_file(const std::string& path) {
  // O_NONBLOCK so that a FIFO put in place of the file cannot hang the
  // reload; it is refused as not a regular file right after.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return core::error(core::status_from_errno(errno, "open " + path));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return core::error(core::status_from_errno(errno, "fstat " + path));
  if (!S_ISREG(st.st_mode)) return core::error(Status::invalid_argument(path + ": not a regular file"));
  // The stamp is taken from the descriptor actually read: if the file is
  // replaced while we read, the next changed() sees a different one.
  FileData data{.text = {}, .stamp = stamp_of(st)};
  if (st.st_size > 0) data.text.reserve(std::min<std::size_t>(st.st_size, kMaxFileBytes));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::error(core::status_from_errno(errno, "read " + path));
    }
    if (n == 0) break;
    if (data.text.size() + static_cast<std::size_t>(n) > kMaxFileBytes) {
      return core::error(Status::invalid_argument(path + ": larger than 256 MiB"));
    }
    data.text.append(buf, static_cast<std::size_t>(n));
  }
  return data;
}

void warn_malformed(const std::string& provider, const std::string& path, const FileReport& r) {
  if (r.malformed == 0) return;
  std::string msg = "provider " + provider + ": " + path + ": skipped " + std::to_string(r.malformed) +
                    " malformed line" + (r.malformed == 1 ? "" : "s") + " (";
  for (std::size_t i = 0; i < r.examples.size(); ++i) {
    if (i > 0) msg += "; ";
    msg += path + ":" + std::to_string(r.examples[i].first) + ": " + std::string(r.examples[i].second);
  }
  if (r.malformed > r.examples.size()) msg += "; and " + std::to_string(r.malformed - r.examples.size()) + " more";
  msg += ")";
  core::log_warning(msg);
}

}  // namespace files_detail

using namespace files_detail;

void FilesProvider::Index::parse_passwd(std::string_view text) {
  for_each_line(text, passwd_report, [&](std::string_view line) -> const char* {
    std::string_view f[7];  // name:passwd:uid:gid:gecos:dir:shell
    if (!split_fields(line, f, 7)) return "wrong number of fields (expected 7)";
    if (f[0].empty()) return "empty name";
    if (!valid_name(f[0])) return "name too long or has a character not allowed in names";
    User user;
    if (!parse_id(f[2], &user.uid)) return "uid is not a number from 0 to 4294967294";
    if (!parse_id(f[3], &user.gid)) return "gid is not a number from 0 to 4294967294";
    for (int i : {1, 4, 5, 6}) {
      if (!valid_field(f[i])) return "field too long or has a control character";
    }
    user.name = f[0];
    user.passwd = "x";  // whatever the file holds, a hash never leaves here
    user.gecos = f[4];
    user.dir = f[5];
    user.shell = f[6];
    const auto pos = static_cast<std::uint32_t>(users.size());
    const bool new_name = user_by_name.try_emplace(user.name, pos).second;
    const bool new_uid = user_by_uid.try_emplace(user.uid, pos).second;
    if (!new_name || !new_uid) ++passwd_report.duplicates;
    users.push_back(std::move(user));
    ++passwd_report.records;
    return nullptr;
  });
}

void FilesProvider::Index::parse_group(std::string_view text) {
  for_each_line(text, group_report, [&](std::string_view line) -> const char* {
    std::string_view f[4];  // name:passwd:gid:member,member
    if (!split_fields(line, f, 4)) return "wrong number of fields (expected 4)";
    if (f[0].empty()) return "empty name";
    if (!valid_name(f[0])) return "name too long or has a character not allowed in names";
    Group group;
    if (!parse_id(f[2], &group.gid)) return "gid is not a number from 0 to 4294967294";
    if (!valid_field(f[1])) return "field too long or has a control character";
    std::string_view members = f[3];
    while (!members.empty()) {
      const std::size_t comma = members.find(',');
      const std::string_view m = members.substr(0, comma);
      members = comma == std::string_view::npos ? std::string_view() : members.substr(comma + 1);
      if (m.empty()) continue;  // "a,,b" and a trailing comma: nothing to list
      if (!valid_name(m)) return "member name too long or has a character not allowed in names";
      if (group.members.size() >= proto::kMaxGroupMembers) return "too many members";
      group.members.emplace_back(m);
    }
    group.name = f[0];
    group.passwd = "x";
    const auto pos = static_cast<std::uint32_t>(groups.size());
    const bool new_name = group_by_name.try_emplace(group.name, pos).second;
    const bool new_gid = group_by_gid.try_emplace(group.gid, pos).second;
    if (!new_name || !new_gid) ++group_report.duplicates;
    for (const std::string& m : group.members) gids_by_member[m].push_back(group.gid);
    groups.push_back(std::move(group));
    ++group_report.records;
    return nullptr;
  });
  // A member listed twice in one group, or two lines with one gid, must
  // not give the same gid twice; first occurrence keeps its place.
  for (auto& [member, gids] : gids_by_member) {
    if (gids.size() < 2) continue;
    std::unordered_set<std::uint32_t> seen;
    std::erase_if(gids, [&](std::uint32_t gid) { return !seen.insert(gid).second; });
  }
}

}  // namespace fastid::providers
