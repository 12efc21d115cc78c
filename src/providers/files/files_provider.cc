// FilesProvider: loading and reloading the index (files_index.h), lookups,
// enumeration pages and authentication against the shadow file.
#include "providers/files/files_provider.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>

#include "core/log.h"
#include "providers/files/files_index.h"
#include "providers/files/netgroup_file.h"
#include "providers/files/shadow.h"

namespace fastid::providers {

using namespace files_detail;

namespace {

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
