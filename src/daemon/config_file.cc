// load_config and find_config: which configuration file is read, and reading
// it off the disk safely (a regular file, of bounded size) before parse_config
// (config.cc) checks its text.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "daemon/config.h"
#include "daemon/settings.h"

namespace fastid::daemon {
namespace {

// A config file is a page of text; anything much larger is a mistake (or a
// device), and reading it whole must stay cheap.
constexpr std::size_t kMaxConfigBytes = 1 << 20;

}  // namespace

Result<Config> load_config(const std::string& path) {
  // O_NONBLOCK: a FIFO named as config must not hang start-up; it is refused
  // below as not a regular file. Regular files ignore the flag.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return core::error(core::status_from_errno(errno, "config file " + path));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return core::error(core::status_from_errno(errno, "config file " + path));
  if (!S_ISREG(st.st_mode)) {
    return core::error(Status::invalid_argument("config file " + path + ": not a regular file"));
  }
  std::string text;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::error(core::status_from_errno(errno, "config file " + path));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      return core::error(Status::invalid_argument("config file " + path + ": larger than " +
                                                  format_size(kMaxConfigBytes)));
    }
  }
  return parse_config(text, path);
}

Result<Config> find_config(std::string_view explicit_path) {
  if (!explicit_path.empty()) return load_config(std::string(explicit_path));
  // The default path, then the one earlier versions read. Only a file that is
  // truly absent means "look further": one we may not read must not be
  // replaced silently by something else.
  for (std::string_view candidate : {kDefaultConfigPath, kLegacyConfigPath}) {
    const std::string path(candidate);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return load_config(path);
    if (errno != ENOENT) return core::error(core::status_from_errno(errno, "config file " + path));
  }
  return default_config();
}

}  // namespace fastid::daemon
