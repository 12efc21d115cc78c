#include "auth/offline_credentials.h"

#include <crypt.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <memory>
#include <vector>

namespace fastid::auth {
namespace {

constexpr std::size_t kMaxFileBytes = std::size_t{64} << 20;

struct Wiped {
  std::string text;
  ~Wiped() { ::explicit_bzero(text.data(), text.size()); }
};

// kNotFound when the file does not exist yet.
core::Status read_file(const std::string& path, Wiped* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT) return core::Status::not_found("no offline credentials file");
    return core::Status(core::Code::kUnavailable,
                        "offline credentials " + path + ": " + ::strerror(e), e);
  }
  struct stat st {};
  // Root-only or not at all: a file others could write would let them log in.
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
      (st.st_mode & 077) != 0 || static_cast<std::size_t>(st.st_size) > kMaxFileBytes) {
    ::close(fd);
    return core::Status::unavailable(
        "offline credentials " + path +
        ": not a regular file of mode 0600 owned by the daemon's user");
  }
  out->text.reserve(static_cast<std::size_t>(st.st_size) + 1);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out->text.size() + static_cast<std::size_t>(n) > out->text.capacity())
      break;  // grew: stop, no realloc
    out->text.append(buf, static_cast<std::size_t>(n));
  }
  ::explicit_bzero(buf, sizeof buf);
  ::close(fd);
  return core::Status::ok();
}

// Holds an exclusive lock on `<file>.lock` for the life of the object: each
// front worker process opens the credentials file itself, and two rewrites
// (read, change, rename) at once would each drop the other's line. The lock
// is on a file of its own because a rename replaces the credentials file.
class CrossProcessLock {
 public:
  explicit CrossProcessLock(const std::string& path) {
    const std::string lock_path = path + ".lock";
    fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) {
      status_ = core::status_from_errno(errno, "open " + lock_path);
      return;
    }
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      status_ = core::status_from_errno(errno, "lock " + lock_path);
      return;
    }
  }
  ~CrossProcessLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  CrossProcessLock(const CrossProcessLock&) = delete;
  CrossProcessLock& operator=(const CrossProcessLock&) = delete;
  const core::Status& status() const { return status_; }

 private:
  int fd_ = -1;
  core::Status status_ = core::Status::ok();
};

// Finds the user's line: hash and time.
bool find_line(std::string_view text, std::string_view user, std::string_view* hash,
               std::int64_t* when) {
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.size() <= user.size() || line.substr(0, user.size()) != user ||
        line[user.size()] != ':')
      continue;
    line.remove_prefix(user.size() + 1);
    const std::size_t colon = line.rfind(':');
    if (colon == std::string_view::npos) continue;
    *hash = line.substr(0, colon);
    std::string_view t = line.substr(colon + 1);
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), *when);
    if (ec != std::errc()) continue;
    return true;
  }
  return false;
}

bool crypt_matches(std::string_view password, std::string_view hash) {
  std::string setting(hash), phrase(password);
  auto data = std::make_unique<crypt_data>();
  ::memset(data.get(), 0, sizeof(crypt_data));
  const char* got = ::crypt_r(phrase.c_str(), setting.c_str(), data.get());
  bool match = false;
  if (got != nullptr && got[0] != '*' && ::strlen(got) == hash.size()) {
    unsigned char diff = 0;
    for (std::size_t i = 0; i < hash.size(); ++i)
      diff |= static_cast<unsigned char>(got[i] ^ hash[i]);
    match = diff == 0;
  }
  ::explicit_bzero(data.get(), sizeof(crypt_data));
  ::explicit_bzero(phrase.data(), phrase.size());
  return match;
}

// A line is usable from its login time up to max_age after it. One dated in
// the future (the clock was set back, or the file was forged) is not: it
// would otherwise stay usable for longer than max_age.
bool usable(std::int64_t when, std::chrono::seconds max_age) {
  const std::int64_t now = ::time(nullptr);
  return when >= 0 && when <= now && now - when <= max_age.count();
}

}  // namespace

core::Status OfflineCredentials::remember(std::string_view user, std::string_view password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  // NULL random bytes: libcrypt reads them from the kernel itself.
  if (::crypt_gensalt_rn("$y$", 0, nullptr, 0, salt, sizeof salt) == nullptr) {
    return core::status_from_errno(errno, "crypt_gensalt for offline credentials");
  }
  std::string phrase(password);
  auto data = std::make_unique<crypt_data>();
  ::memset(data.get(), 0, sizeof(crypt_data));
  const char* hash = ::crypt_r(phrase.c_str(), salt, data.get());
  ::explicit_bzero(phrase.data(), phrase.size());
  if (hash == nullptr || hash[0] == '*') {
    ::explicit_bzero(data.get(), sizeof(crypt_data));
    return core::Status::internal("crypt_r failed for offline credentials");
  }
  std::string line = std::string(user) + ":" + hash + ":" + std::to_string(::time(nullptr)) + "\n";
  ::explicit_bzero(data.get(), sizeof(crypt_data));
  core::Status st = rewrite(user, &line);
  ::explicit_bzero(line.data(), line.size());
  return st;
}

core::Status OfflineCredentials::forget(std::string_view user) { return rewrite(user, nullptr); }

core::Status OfflineCredentials::verify(std::string_view user, std::string_view password) {
  std::lock_guard lock(mu_);
  Wiped file;
  if (core::Status st = read_file(path_, &file); !st) return st;
  std::string_view hash;
  std::int64_t when = 0;
  if (!find_line(file.text, user, &hash, &when))
    return core::Status::not_found("no offline credential");
  if (!usable(when, max_age_))
    return core::Status::not_found("offline credential too old or dated in the future");
  return crypt_matches(password, hash) ? core::Status::ok()
                                       : core::Status::permission_denied("wrong password");
}

bool OfflineCredentials::has(std::string_view user) {
  std::lock_guard lock(mu_);
  Wiped file;
  if (!read_file(path_, &file)) return false;
  std::string_view hash;
  std::int64_t when = 0;
  return find_line(file.text, user, &hash, &when) && usable(when, max_age_);
}

core::Status OfflineCredentials::rewrite(std::string_view user, const std::string* new_line) {
  std::lock_guard lock(mu_);
  const CrossProcessLock others(path_);
  if (!others.status()) return others.status();
  Wiped file;
  core::Status st = read_file(path_, &file);
  if (!st && st.code() != core::Code::kNotFound) return st;
  Wiped next;
  next.text.reserve(file.text.size() + (new_line ? new_line->size() : 0) + 1);
  std::string_view text = file.text;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.empty()) continue;
    if (line.size() > user.size() && line.substr(0, user.size()) == user &&
        line[user.size()] == ':')
      continue;
    next.text.append(line);
    next.text.push_back('\n');
  }
  if (new_line) next.text.append(*new_line);
  std::string tmp = path_ + ".XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return core::status_from_errno(errno, "create " + tmp);
  (void)::fchmod(fd, 0600);
  std::size_t done = 0;
  while (done < next.text.size()) {
    const ssize_t n = ::write(fd, next.text.data() + done, next.text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return core::status_from_errno(e, "write " + tmp);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return core::status_from_errno(e, "write " + tmp);
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return core::status_from_errno(e, "rename to " + path_);
  }
  return core::Status::ok();
}

}  // namespace fastid::auth
