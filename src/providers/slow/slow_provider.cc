#include "providers/slow/slow_provider.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include "core/log.h"

namespace fastid::providers {
namespace {

constexpr std::uint32_t kFirstUid = 100000;
constexpr std::uint32_t kFirstGid = 200000;

// The checksum gen-dataset puts in the gecos field (djb2, modulo 2^32), so that
// readers can verify that a record was copied whole.
std::uint32_t checksum(std::string_view text) {
  std::uint64_t h = 5381;
  for (char c : text) h = (h * 33 + static_cast<unsigned char>(c)) % 4294967296ull;
  return static_cast<std::uint32_t>(h);
}

std::string numbered(const char* prefix, int width, std::uint32_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%0*u", prefix, width, n);
  return buf;
}

// The index n when `name` is exactly prefix + n printed with `width` digits
// (so "user1" and "user000001" are not user00001), else 0.
std::uint32_t parse_numbered(std::string_view name, std::string_view prefix, int width, std::uint32_t count) {
  if (!name.starts_with(prefix)) return 0;
  const std::string_view digits = name.substr(prefix.size());
  std::uint32_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || n == 0 || n > count) return 0;
  if (numbered(std::string(prefix).c_str(), width, n) != name) return 0;
  return n;
}

bool listed(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

SlowProvider::SlowProvider(Options options) : options_(std::move(options)) {}

SlowProvider::~SlowProvider() = default;

Status SlowProvider::open() {
  if (options_.groups == 0) {
    return Status::invalid_argument("provider " + options_.name + ": groups must be at least 1");
  }
  members_.assign(options_.groups, {});
  // Users are visited in uid order, so every member list is in uid order, as
  // gen-dataset appends them.
  for (std::uint32_t i = 1; i <= options_.users; ++i) {
    for (std::uint32_t g : groups_of(i)) members_[g - 1].push_back(i);
  }
  open_ = true;
  return Status::ok();
}

void SlowProvider::close() {
  open_ = false;
  members_.clear();
}

Status SlowProvider::not_open() const {
  return Status::unavailable("provider " + options_.name + " is not open");
}

// gen-dataset's choice of supplementary groups: kGroupsPerUser distinct groups
// spread over the range by a fixed formula (fewer when there are fewer groups).
std::vector<std::uint32_t> SlowProvider::groups_of(std::uint32_t i) const {
  std::vector<std::uint32_t> out;
  const std::uint64_t count = options_.groups;
  for (std::uint64_t k = 1; out.size() < kGroupsPerUser && k <= count; ++k) {
    const auto g = static_cast<std::uint32_t>((std::uint64_t{i} * 7 + k * 131) % count + 1);
    if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::uint32_t SlowProvider::user_index(std::string_view name) const {
  return parse_numbered(name, "user", 5, options_.users);
}

std::uint32_t SlowProvider::group_index(std::string_view name) const {
  return parse_numbered(name, "group", 4, options_.groups);
}

User SlowProvider::make_user(std::uint32_t i) const {
  User u;
  u.name = numbered("user", 5, i);
  u.uid = kFirstUid + i;
  u.gid = kFirstGid + (i - 1) % options_.groups + 1;
  u.dir = "/home/" + u.name;
  u.shell = "/bin/sh";
  const std::string body =
      u.name + ":" + std::to_string(u.uid) + ":" + std::to_string(u.gid) + ":" + u.dir + ":" + u.shell;
  u.gecos = "User " + std::to_string(i) + ";ck=" + std::to_string(checksum(body));
  return u;
}

Group SlowProvider::make_group(std::uint32_t g) const {
  Group out;
  out.name = numbered("group", 4, g);
  out.gid = kFirstGid + g;
  out.members.reserve(members_[g - 1].size());
  for (std::uint32_t i : members_[g - 1]) out.members.push_back(numbered("user", 5, i));
  return out;
}

Status SlowProvider::behave(std::string_view name) {
  calls_.fetch_add(1, std::memory_order_relaxed);
  if (!options_.down_file.empty() && ::access(options_.down_file.c_str(), F_OK) == 0) {
    return Status::unavailable("provider " + options_.name + " is down (" + options_.down_file + " exists)");
  }
  if (!name.empty() && listed(options_.crash_names, name)) {
    core::log_warning("provider " + options_.name + ": " + std::string(name) +
                      " is in crash_names: aborting this process");
    std::abort();
  }
  if (!name.empty() && listed(options_.hang_names, name)) {
    // A backend that never answers: only a kill ends this call.
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  const bool slow = !name.empty() && listed(options_.slow_names, name);
  const auto pause = slow ? options_.slow_delay : options_.delay;
  if (pause.count() > 0) std::this_thread::sleep_for(pause);
  return Status::ok();
}

namespace {

// Records [cursor, cursor + max) of `count`, made by make(1-based index).
template <typename T, typename Make>
Page<T> page_of(std::uint32_t count, const Query& q, Make make) {
  Page<T> page;
  const std::uint64_t end = std::min<std::uint64_t>(std::uint64_t{q.cursor} + q.max, count);
  for (std::uint64_t i = q.cursor; i < end; ++i) page.records.push_back(make(static_cast<std::uint32_t>(i + 1)));
  page.next_cursor = static_cast<std::uint32_t>(std::max<std::uint64_t>(end, q.cursor));
  page.more = page.next_cursor < count;
  return page;
}

}  // namespace

Result<Answer> SlowProvider::lookup(const Query& q) {
  using model::Kind;
  if (!open_) return core::error(not_open());
  // The generated dataset has no SSH keys; each user has a netgroup
  // "ng-NAME" of one triple (,NAME,), so that tests can ask for many.
  if (q.kind == Kind::kSshKeys) return core::error(Status::not_found(model::describe(q)));
  if (q.kind == Kind::kNetgroup) {
    const std::string user = q.name.rfind("ng-", 0) == 0 ? q.name.substr(3) : std::string();
    if (Status st = behave(user); !st) return core::error(st);
    if (user.empty() || user_index(user) == 0) return core::error(Status::not_found(model::describe(q)));
    return model::Netgroup{q.name, {{"", user, ""}}, {}};
  }
  const bool group = q.kind == Kind::kGroupByName || q.kind == Kind::kGroupByGid || q.kind == Kind::kGroupsPage;
  // The 1-based dataset index the query names (0: none), and the name it is
  // judged by (a by-id lookup by the name it resolves to; a page by none).
  std::uint32_t i = 0;
  if (model::keyed_by_name(q.kind)) {
    i = group ? group_index(q.name) : user_index(q.name);
  } else if (q.kind == Kind::kUserByUid && q.id > kFirstUid && q.id - kFirstUid <= options_.users) {
    i = q.id - kFirstUid;
  } else if (q.kind == Kind::kGroupByGid && q.id > kFirstGid && q.id - kFirstGid <= options_.groups) {
    i = q.id - kFirstGid;
  }
  const std::string judged = model::keyed_by_name(q.kind) ? q.name
                             : i == 0                     ? std::string()
                             : group                      ? numbered("group", 4, i)
                                                          : numbered("user", 5, i);
  if (Status st = behave(judged); !st) return core::error(st);
  auto user = [this](std::uint32_t n) { return make_user(n); };
  auto grp = [this](std::uint32_t n) { return make_group(n); };
  switch (q.kind) {
    case Kind::kUsersPage:
      return page_of<User>(options_.users, q, user);
    case Kind::kGroupsPage:
      return page_of<Group>(options_.groups, q, grp);
    default:
      break;
  }
  if (i == 0) return core::error(Status::not_found(model::describe(q)));
  if (q.kind == Kind::kInitgroups) {
    model::Gids gids;
    for (std::uint32_t g : groups_of(i)) gids.push_back(kFirstGid + g);
    return gids;
  }
  if (group) return make_group(i);
  return make_user(i);
}

std::vector<std::pair<std::string, std::string>> SlowProvider::stats() const {
  return {{"users", std::to_string(options_.users)},
          {"groups", std::to_string(options_.groups)},
          {"calls", std::to_string(calls())}};
}

Status SlowProvider::authenticate(std::string_view user, std::string_view password) {
  if (!open_) return not_open();
  if (!options_.call_log.empty()) {
    const int fd = ::open(options_.call_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
      const std::string line = "authenticate " + std::string(user.substr(0, 256)) + "\n";
      (void)!::write(fd, line.data(), line.size());  // one write: whole lines from every process
      ::close(fd);
    }
  }
  if (Status st = behave(user); !st) return st;
  if (user_index(user) == 0) return Status::not_found("user " + std::string(user));
  if (!password_matches(user, password)) return Status::permission_denied("wrong password");
  return Status::ok();
}

Result<model::Account> SlowProvider::account(std::string_view user) {
  if (!open_) return core::error(not_open());
  if (Status st = behave(user); !st) return core::error(st);
  if (user_index(user) == 0) return core::error(Status::not_found("user " + std::string(user)));
  if (listed(options_.expired_names, user)) {
    return model::Account{model::AccountVerdict::kExpired, "account expired (expired_names)"};
  }
  return model::Account{};
}

bool SlowProvider::password_matches(std::string_view user, std::string_view password) const {
  if (options_.password.empty() || user_index(user) == 0) return false;
  // Every byte compared whatever the first difference, so the time taken
  // does not tell how much of a guess was right.
  const std::string& want = options_.password;
  unsigned diff = want.size() == password.size() ? 0u : 1u;
  for (std::size_t k = 0; k < want.size(); ++k) {
    const char got = k < password.size() ? password[k] : '\0';
    diff |= static_cast<unsigned char>(want[k] ^ got);
  }
  return diff == 0;
}

}  // namespace fastid::providers
