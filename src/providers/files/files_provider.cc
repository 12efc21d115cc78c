#include "providers/files/files_provider.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <functional>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "core/log.h"
#include "proto/wire.h"
#include "providers/files/netgroup_file.h"
#include "providers/files/shadow.h"

namespace fastid::providers {
namespace {

// A passwd file of a million users is ~100 MB; past this it is not a passwd
// file, and reading it whole would only exhaust memory.
constexpr std::size_t kMaxFileBytes = std::size_t{256} << 20;
// Malformed lines named in the one warning per file and reload; the rest are counted.
constexpr std::size_t kMaxExamples = 5;
// (uid_t)-1 means "no id" to chown(2) and setreuid(2): never a real id.
constexpr std::uint64_t kMaxId = 0xFFFFFFFEu;

// What a file was when it was read: a change in any of these means re-read.
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp stamp_of(const struct stat& st) {
  return FileStamp{st.st_dev, st.st_ino, st.st_size,
                   static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

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

struct FileData {
  std::string text;
  FileStamp stamp;
};

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


// An enumeration cursor: the provider has the low 24 bits (the top byte is
// the directory's, server/nss_handler.cc). Tagged: bit 23, the index's tag
// (1..31) in bits 18-22 and the position in bits 0-17. Untagged (the first
// page, 0, and every page of a file of more than kCursorPositions records):
// a position in the current index.
constexpr std::uint32_t kCursorTagged = 1u << 23;
constexpr int kCursorTagShift = 18;
constexpr std::uint32_t kCursorTags = 31;
constexpr std::uint32_t kCursorPositions = (1u << kCursorTagShift) - 1;

template <class T>
Result<Page<T>> page_of(const std::vector<T>& records, std::uint32_t position, std::uint32_t max, std::uint32_t tag) {
  if (max == 0) return core::error(Status::invalid_argument("page size must be at least 1"));
  Page<T> page;
  const std::size_t begin = std::min<std::size_t>(position, records.size());
  const std::size_t end = std::min<std::size_t>(records.size(), begin + max);
  page.records.assign(records.begin() + static_cast<std::ptrdiff_t>(begin),
                      records.begin() + static_cast<std::ptrdiff_t>(end));
  page.next_cursor = static_cast<std::uint32_t>(end);
  if (records.size() <= kCursorPositions) page.next_cursor |= kCursorTagged | (tag << kCursorTagShift);
  page.more = end < records.size();
  return page;
}

}  // namespace

class FilesProvider::Index {
 public:
  std::vector<User> users;    // file order: enumeration and the cursor
  std::vector<Group> groups;  // file order
  NameMap<std::uint32_t> user_by_name;  // -> position in users; first line wins
  std::unordered_map<std::uint32_t, std::uint32_t> user_by_uid;
  NameMap<std::uint32_t> group_by_name;
  std::unordered_map<std::uint32_t, std::uint32_t> group_by_gid;
  NameMap<std::vector<std::uint32_t>> gids_by_member;  // initgroups, group-file order
  NetgroupFile netgroups;  // empty without a netgroup file
  FileStamp passwd_stamp;
  FileStamp group_stamp;
  FileStamp netgroup_stamp;
  FileReport passwd_report;
  FileReport group_report;
  std::int64_t loaded_at = 0;  // unix seconds
  std::uint32_t tag = 1;  // 1..31, in enumeration cursors: unlike the kept indexes' tags

  void parse_passwd(std::string_view text) {
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

  void parse_group(std::string_view text) {
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
};

FilesProvider::FilesProvider(Options options) : options_(std::move(options)) {}
FilesProvider::~FilesProvider() = default;

Status FilesProvider::not_open() const {
  return Status::unavailable("provider " + options_.name + " is not open");
}

void FilesProvider::note_failure(const Status& status) {
  bool first_time = false;
  {
    std::lock_guard lock(mu_);
    ++failed_reloads_;
    first_time = last_error_ != status.to_string();
    last_error_ = status.to_string();
  }
  // Refresh runs every second or so: say it once per distinct error, not each time.
  if (first_time) core::log_warning(status.message() + "; reload failed, keeping the previous data");
}

Status FilesProvider::open() {
  auto index = load();
  if (!index) return index.error();
  install(std::move(*index));
  std::lock_guard lock(mu_);
  ++reloads_;
  last_error_.clear();
  return Status::ok();
}

void FilesProvider::close() { install(nullptr); }

Status FilesProvider::refresh() {
  if (!current()) return not_open();
  auto changed_now = changed();
  if (!changed_now) {
    note_failure(changed_now.error());
    return changed_now.error();
  }
  if (!*changed_now) return Status::ok();
  auto index = load();
  if (!index) {
    note_failure(index.error());
    return index.error();
  }
  const std::size_t users = (*index)->users.size(), groups = (*index)->groups.size();
  install(std::move(*index));
  {
    std::lock_guard lock(mu_);
    ++reloads_;
    last_error_.clear();
  }
  core::log_info("provider " + options_.name + ": reloaded " + std::to_string(users) + " users, " +
                 std::to_string(groups) + " groups");
  return Status::ok();
}

Result<bool> FilesProvider::changed() const {
  auto index = current();
  struct stat st;
  if (::stat(options_.passwd_path.c_str(), &st) != 0) {
    return core::error(core::status_from_errno(errno, "stat " + options_.passwd_path)
                           .with_context("provider " + options_.name));
  }
  const FileStamp passwd = stamp_of(st);
  if (::stat(options_.group_path.c_str(), &st) != 0) {
    return core::error(core::status_from_errno(errno, "stat " + options_.group_path)
                           .with_context("provider " + options_.name));
  }
  const FileStamp group = stamp_of(st);
  FileStamp netgroup;
  if (!options_.netgroup_path.empty()) {
    if (::stat(options_.netgroup_path.c_str(), &st) != 0) {
      return core::error(core::status_from_errno(errno, "stat " + options_.netgroup_path)
                             .with_context("provider " + options_.name));
    }
    netgroup = stamp_of(st);
  }
  return !index || !(index->passwd_stamp == passwd) || !(index->group_stamp == group) ||
         !(index->netgroup_stamp == netgroup);
}

Result<std::shared_ptr<const FilesProvider::Index>> FilesProvider::load() const {
  const std::string context = "provider " + options_.name;
  auto passwd = read_file(options_.passwd_path);
  if (!passwd) return core::error(passwd.error().with_context(context));
  auto group = read_file(options_.group_path);
  if (!group) return core::error(group.error().with_context(context));

  auto index = std::make_shared<Index>();
  index->passwd_stamp = passwd->stamp;
  index->group_stamp = group->stamp;
  index->parse_passwd(passwd->text);
  index->parse_group(group->text);
  if (!options_.netgroup_path.empty()) {
    auto netgroup = read_file(options_.netgroup_path);
    if (!netgroup) return core::error(netgroup.error().with_context(context));
    index->netgroup_stamp = netgroup->stamp;
    index->netgroups = parse_netgroup_file(netgroup->text);
    FileReport report;
    report.malformed = index->netgroups.malformed;
    for (const auto& [line, why] : index->netgroups.examples) report.examples.emplace_back(line, why);
    warn_malformed(options_.name, options_.netgroup_path, report);
  }
  // From the files' stamps, so that front workers that read the same files
  // tag them alike (a page may go to another worker), unless in use.
  const std::size_t h = std::hash<std::string_view>{}(std::string_view(
      reinterpret_cast<const char*>(&index->passwd_stamp), sizeof index->passwd_stamp)) ^
                        (std::hash<std::string_view>{}(std::string_view(
                             reinterpret_cast<const char*>(&index->group_stamp), sizeof index->group_stamp)) *
                         31);
  index->tag = unused_tag(1 + static_cast<std::uint32_t>(h % kCursorTags));
  index->loaded_at = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  warn_malformed(options_.name, options_.passwd_path, index->passwd_report);
  warn_malformed(options_.name, options_.group_path, index->group_report);
  return std::shared_ptr<const Index>(std::move(index));
}

void FilesProvider::install(std::shared_ptr<const Index> index) {
  // Old indexes are released outside the lock: freeing 10,000 records must
  // not hold up a lookup on another thread.
  std::vector<Replaced> expired;
  {
    std::lock_guard lock(index_mu_);
    const auto now = std::chrono::steady_clock::now();
    index_.swap(index);
    if (index && index_) replaced_.push_back({std::move(index), now});  // kept for enumerations under way
    if (!index_) replaced_.swap(expired);                                // closed: nothing to page through
    while (!replaced_.empty() &&
           (replaced_.size() > kMaxReplacedKept || now - replaced_.front().at > kKeepReplaced)) {
      expired.push_back(std::move(replaced_.front()));
      replaced_.erase(replaced_.begin());
    }
  }
}

std::shared_ptr<const FilesProvider::Index> FilesProvider::version(std::uint32_t tag,
                                                                   std::shared_ptr<const Index> current) const {
  if (current && current->tag == tag) return current;
  std::lock_guard lock(index_mu_);
  const auto now = std::chrono::steady_clock::now();
  for (const auto& r : replaced_) {
    if (r.index->tag == tag && now - r.at <= kKeepReplaced) return r.index;
  }
  return nullptr;
}

std::uint32_t FilesProvider::unused_tag(std::uint32_t wanted) const {
  std::lock_guard lock(index_mu_);
  auto in_use = [&](std::uint32_t t) {
    if (index_ && index_->tag == t) return true;
    for (const auto& r : replaced_) {
      if (r.index->tag == t) return true;
    }
    return false;
  };
  for (std::uint32_t i = 0; i < kCursorTags && in_use(wanted); ++i) wanted = wanted % kCursorTags + 1;
  return wanted;
}

Result<Answer> FilesProvider::lookup(const Query& q) {
  auto index = current();
  if (!index) return core::error(not_open());
  // Finds `key` in one of the index's maps: the position of its record.
  auto find = [](const auto& map, const auto& key) -> std::optional<std::uint32_t> {
    auto it = map.find(key);
    if (it == map.end()) return std::nullopt;
    return it->second;
  };
  std::optional<std::uint32_t> pos;
  switch (q.kind) {
    case model::Kind::kUserByName:
      if ((pos = find(index->user_by_name, std::string_view(q.name)))) return index->users[*pos];
      break;
    case model::Kind::kUserByUid:
      if ((pos = find(index->user_by_uid, q.id))) return index->users[*pos];
      break;
    case model::Kind::kGroupByName:
      if ((pos = find(index->group_by_name, std::string_view(q.name)))) return index->groups[*pos];
      break;
    case model::Kind::kGroupByGid:
      if ((pos = find(index->group_by_gid, q.id))) return index->groups[*pos];
      break;
    case model::Kind::kInitgroups: {
      auto it = index->gids_by_member.find(std::string_view(q.name));
      if (it != index->gids_by_member.end()) return it->second;
      if (index->user_by_name.contains(std::string_view(q.name))) return model::Gids{};
      break;
    }
    case model::Kind::kUsersPage:
    case model::Kind::kGroupsPage: {
      std::shared_ptr<const Index> from = index;
      std::uint32_t position = q.cursor;
      if ((q.cursor & kCursorTagged) != 0) {
        from = version((q.cursor >> kCursorTagShift) & kCursorTags, index);
        if (!from) {
          return core::error(Status::unavailable(
              "provider " + options_.name +
              ": an enumeration that began before the files were reloaded, on a version no longer kept: "
              "start it again"));
        }
        position = q.cursor & kCursorPositions;
      }
      if (q.kind == model::Kind::kUsersPage) return page_of(from->users, position, q.max, from->tag);
      return page_of(from->groups, position, q.max, from->tag);
    }
    case model::Kind::kNetgroup:
      return flatten_netgroup(q.name, [&](const std::vector<std::string>& names) {
        std::map<std::string, NetgroupEntry> found;
        for (const auto& n : names) {
          if (auto it = index->netgroups.netgroups.find(n); it != index->netgroups.netgroups.end()) found.insert(*it);
        }
        return core::Result<std::map<std::string, NetgroupEntry>>(std::move(found));
      });
    case model::Kind::kSshKeys:
      break;  // keys come from directories
  }
  return core::error(Status::not_found(model::describe(q)));
}

std::uint64_t FilesProvider::data_generation() const {
  std::lock_guard lock(mu_);
  return reloads_;
}

std::vector<std::pair<std::string, std::string>> FilesProvider::stats() const {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](std::string key, auto value) {
    if constexpr (std::is_convertible_v<decltype(value), std::string>) {
      out.emplace_back(std::move(key), std::string(value));
    } else {
      out.emplace_back(std::move(key), std::to_string(value));
    }
  };
  add("type", "files");
  add("passwd", options_.passwd_path);
  add("group", options_.group_path);
  auto index = current();
  add("open", index ? "yes" : "no");
  if (index) {
    add("users", index->users.size());
    add("groups", index->groups.size());
    add("passwd_malformed_lines", index->passwd_report.malformed);
    add("group_malformed_lines", index->group_report.malformed);
    add("passwd_compat_lines_skipped", index->passwd_report.compat);
    add("group_compat_lines_skipped", index->group_report.compat);
    add("passwd_duplicates", index->passwd_report.duplicates);
    add("group_duplicates", index->group_report.duplicates);
    add("loaded_at", index->loaded_at);
  }
  std::lock_guard lock(mu_);
  add("loads", reloads_);
  add("failed_reloads", failed_reloads_);
  add("password_checks", password_checks_.load(std::memory_order_relaxed));
  add("last_error", last_error_);
  return out;
}

Status FilesProvider::authenticate(std::string_view user, std::string_view password) {
  if (options_.shadow_path.empty()) return Status::invalid_argument(name() + ": no shadow file configured");
  // The same work for every name — the shadow file read, one crypt_r — so
  // the time to refuse does not tell which users exist.
  auto known = user_by_name(user);
  // The dummy check of an unknown or locked name copies the cost of the file's
  // own hashes (shadow.h): a fixed yescrypt against a file of SHA-512 hashes
  // took 16 MiB and longer to refuse a name the file lacks than to check one
  // it has (every LDAP user's authentication passes here first).
  core::Secret cost_like;
  auto entry = find_shadow_entry(options_.shadow_path, user, &cost_like);
  if (!entry && entry.error().code() != core::Code::kNotFound) return entry.error();  // unreadable
  // Counted where crypt_r runs (shadow.cc), not here: a path that skipped
  // the crypt would show as a smaller figure (pam_security_system_test).
  const std::uint64_t crypts_before = crypt_calls_on_this_thread();
  auto counted = [&](Status st) {
    password_checks_.fetch_add(crypt_calls_on_this_thread() - crypts_before, std::memory_order_relaxed);
    return st;
  };
  if (!known || !entry) {
    dummy_password_check(password, cost_like.view());
    return counted(!known ? known.error() : entry.error());
  }
  return counted(check_shadow_password(*entry, password, cost_like.view()));
}

Result<model::Account> FilesProvider::account(std::string_view user) {
  if (options_.shadow_path.empty()) {
    return core::error(Status::invalid_argument(name() + ": no shadow file configured"));
  }
  auto known = user_by_name(user);
  if (!known) return core::error(known.error());
  auto entry = find_shadow_entry(options_.shadow_path, user);
  if (!entry) return core::error(entry.error());
  return shadow_account_verdict(*entry, days_since_epoch());
}

Result<model::PasswordChange> FilesProvider::change_password(std::string_view user, std::string_view,
                                                             std::string_view) {
  auto known = user_by_name(user);
  if (!known) return core::error(known.error());
  return model::PasswordChange{model::PasswordChangeVerdict::kNotSupported,
                               "provider " + name() +
                                   " (files) does not change passwords: passwd(1) through pam_unix does"};
}

}  // namespace fastid::providers
