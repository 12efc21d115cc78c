// Writing a fuzz input's pieces as files, for the targets whose parser reads
// a file (the files provider, the offline credentials): one private folder
// under $TMPDIR per target, made once, each file replaced by a new inode.
// Header-only; shared by the targets of tests/fuzz.
#pragma once

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <string_view>

namespace fastid::fuzz {

// A new folder under $TMPDIR (or /tmp); aborts when it cannot be made.
inline std::string private_folder(const char* what) {
  const char* t = getenv("TMPDIR");
  std::string dir = std::string(t && *t ? t : "/tmp") + "/" + what + ".XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) abort();
  return dir;
}

// `text` as the file `path` (mode `mode`), replacing what was there.
inline void write_file(const std::string& path, std::string_view text, mode_t mode = 0644) {
  unlink(path.c_str());
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) abort();
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) abort();
    done += static_cast<size_t>(n);
  }
  fchmod(fd, mode);
  close(fd);
}

}  // namespace fastid::fuzz
