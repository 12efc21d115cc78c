#include "providers/files/shadow.h"

#include <crypt.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <memory>
#include <vector>

#include "providers/password_expiry.h"

namespace fastid::providers {
namespace {

constexpr std::size_t kMaxShadowBytes = std::size_t{256} << 20;

// A buffer that is zeroed when it goes: it holds every hash of the file.
struct WipedBuffer {
  std::vector<char> bytes;
  ~WipedBuffer() {
    if (!bytes.empty()) ::explicit_bzero(bytes.data(), bytes.size());
  }
};

core::Status read_whole(const std::string& path, WipedBuffer* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    return core::Status(core::Code::kUnavailable, "shadow file " + path + ": " + ::strerror(e), e);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::size_t>(st.st_size) > kMaxShadowBytes) {
    ::close(fd);
    return core::Status::unavailable("shadow file " + path +
                                     ": not a regular file of at most 256 MiB");
  }
  // Sized once, never grown while it holds hashes: no stale copy on the heap.
  out->bytes.assign(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < out->bytes.size()) {
    const ssize_t n = ::read(fd, out->bytes.data() + done, out->bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return core::Status(core::Code::kUnavailable, "shadow file " + path + ": " + ::strerror(e),
                          e);
    }
    if (n == 0) break;  // shrank while read: what was read is what there is
    done += static_cast<std::size_t>(n);
  }
  out->bytes.resize(done);
  ::close(fd);
  return core::Status::ok();
}

// "" -> -1; digits -> the number; anything else -> false (a malformed line).
bool parse_days(std::string_view text, std::int64_t* out) {
  if (text.empty()) {
    *out = -1;
    return true;
  }
  if (text.size() > 12) return false;
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < 0) return false;
  *out = v;
  return true;
}

// The hash field of the file's first line whose hash is a crypt(3) string
// ("$id$...") of a method libcrypt runs: what checking a password against
// this file costs. A line of an unknown method is skipped: crypt_r refuses
// it at once, and a dummy that costs nothing would tell unknown names apart.
std::string_view first_crypt_hash(std::string_view file) {
  while (!file.empty()) {
    const std::size_t eol = file.find('\n');
    std::string_view line = file.substr(0, eol);
    file = eol == std::string_view::npos ? std::string_view() : file.substr(eol + 1);
    const std::size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    std::string_view hash = line.substr(c1 + 1);
    hash = hash.substr(0, hash.find(':'));
    if (hash.size() <= 3 || hash[0] != '$') continue;
    std::string setting(hash);  // NUL-terminated for crypt_checksalt; zeroed below
    const int verdict = ::crypt_checksalt(setting.c_str());
    ::explicit_bzero(setting.data(), setting.size());
    if (verdict == CRYPT_SALT_OK || verdict == CRYPT_SALT_METHOD_LEGACY) return hash;
  }
  return {};
}

}  // namespace

std::int64_t days_since_epoch() { return static_cast<std::int64_t>(::time(nullptr)) / 86400; }

core::Result<ShadowEntry> find_shadow_entry(const std::string& path, std::string_view user,
                                            core::Secret* cost_like) {
  WipedBuffer file;
  if (core::Status st = read_whole(path, &file); !st) return core::error(st);
  std::string_view rest(file.bytes.data(), file.bytes.size());
  if (cost_like != nullptr) cost_like->assign(first_crypt_hash(rest));
  while (!rest.empty()) {
    const std::size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (line.size() <= user.size() || line.substr(0, user.size()) != user ||
        line[user.size()] != ':')
      continue;
    // name:hash:lastchg:min:max:warn:inactive:expire:reserved
    std::string_view fields[9];
    std::size_t n = 0;
    std::string_view f = line;
    while (n < 9) {
      const std::size_t colon = f.find(':');
      fields[n++] = f.substr(0, colon);
      if (colon == std::string_view::npos) break;
      f = f.substr(colon + 1);
    }
    if (n < 2) continue;
    ShadowEntry e;
    std::int64_t* days[] = {&e.last_change, &e.min_days,      &e.max_days,
                            &e.warn_days,   &e.inactive_days, &e.expire_day};
    bool ok = true;
    for (std::size_t i = 0; i < 6; ++i)
      ok = ok && parse_days(2 + i < n ? fields[2 + i] : "", days[i]);
    if (!ok) continue;  // malformed: as if absent, like glibc's files module
    e.hash.assign(fields[1]);
    return e;
  }
  return core::error(core::Status::not_found("no shadow entry for user " + std::string(user)));
}

namespace {
thread_local std::uint64_t t_crypt_calls = 0;
}  // namespace

std::uint64_t crypt_calls_on_this_thread() { return t_crypt_calls; }

void dummy_password_check(std::string_view password, std::string_view cost_like) {
  // Without a hash of the file to copy: crypt_gensalt with NULL random bytes
  // reads them from the kernel; a default-cost yescrypt setting, as most
  // shadow files hold today.
  static const std::string fallback = [] {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    const char* s = ::crypt_gensalt_rn("$y$", 0, nullptr, 0, salt, sizeof salt);
    return std::string(s != nullptr ? s : "$y$j9T$0123456789abcdef$");
  }();
  // A hash of the file is a setting crypt_r takes as it is (it reads the
  // method, cost and salt, not the rest): the same work as that user's check.
  // A private copy, zeroed afterwards, like the entry's own in check_shadow_password.
  std::string setting(cost_like.size() > 3 && cost_like[0] == '$' ? cost_like : std::string_view(fallback));
  std::string phrase(password);
  auto data = std::make_unique<crypt_data>();
  ::memset(data.get(), 0, sizeof(crypt_data));
  ++t_crypt_calls;
  (void)::crypt_r(phrase.c_str(), setting.c_str(), data.get());
  ::explicit_bzero(data.get(), sizeof(crypt_data));
  ::explicit_bzero(phrase.data(), phrase.size());
  ::explicit_bzero(setting.data(), setting.size());
}

core::Status check_shadow_password(const ShadowEntry& entry, std::string_view password,
                                   std::string_view cost_like) {
  const std::string_view hash = entry.hash.view();
  if (hash.empty() || hash[0] == '!' || hash[0] == '*') {
    dummy_password_check(password, cost_like);
    return core::Status::permission_denied(hash.empty() ? "the account has no password"
                                                        : "password login is locked");
  }
  // crypt_r wants NUL-terminated strings: private copies, zeroed afterwards.
  std::string setting(hash);
  std::string phrase(password);
  auto data = std::make_unique<crypt_data>();
  ::memset(data.get(), 0, sizeof(crypt_data));
  ++t_crypt_calls;
  const char* got = ::crypt_r(phrase.c_str(), setting.c_str(), data.get());
  bool match = false;
  if (got != nullptr && got[0] != '*') {
    const std::size_t n = ::strlen(got);
    if (n == hash.size()) {
      unsigned char diff = 0;
      for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(got[i] ^ hash[i]);
      match = diff == 0;
    }
  }
  ::explicit_bzero(data.get(), sizeof(crypt_data));
  ::explicit_bzero(phrase.data(), phrase.size());
  ::explicit_bzero(setting.data(), setting.size());
  if (got == nullptr || got[0] == '*') {
    // An unknown or malformed hash method: the file is wrong, not the user.
    return core::Status::permission_denied("the stored hash is not one libcrypt accepts");
  }
  return match ? core::Status::ok() : core::Status::permission_denied("wrong password");
}

namespace {
// "2026-01-01" for a day number of the shadow file.
std::string day_text(std::int64_t day) {
  const time_t t = static_cast<time_t>(day) * 86400;
  struct tm tm {};
  char buf[32];
  if (::gmtime_r(&t, &tm) == nullptr || ::strftime(buf, sizeof buf, "%Y-%m-%d", &tm) == 0) {
    return "day " + std::to_string(day);
  }
  return buf;
}
}  // namespace

model::Account shadow_account_verdict(const ShadowEntry& e, std::int64_t today) {
  using model::AccountVerdict;
  if (e.expire_day >= 0 && today >= e.expire_day) {
    return {AccountVerdict::kExpired, "the account expired on " + day_text(e.expire_day)};
  }
  if (e.last_change == 0) return {AccountVerdict::kPasswordExpired, "the password must be changed"};
  if (e.last_change > 0 && e.max_days >= 0) {
    if (e.inactive_days >= 0 && today >= e.last_change + e.max_days + e.inactive_days) {
      return {AccountVerdict::kExpired, "the password expired and the account is inactive"};
    }
    if (today > e.last_change + e.max_days) {
      return {AccountVerdict::kPasswordExpired, "the password has expired"};
    }
  }
  // In order; inside the warning period the user is told (PAM_TEXT_INFO).
  if (auto left = shadow_days_to_expiry(today, e.last_change, e.max_days, e.warn_days)) {
    return {AccountVerdict::kOk, expiry_warning(*left)};
  }
  return {};
}

}  // namespace fastid::providers
