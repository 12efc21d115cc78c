// libFuzzer target: the offline credentials file (auth/offline_credentials.h)
// as the daemon reads it: "user:hash:seconds" lines, here arbitrary bytes in
// a file of mode 0600. has() and verify() look a user up in it, and forget()
// rewrites it without that user; the rewrite must keep every other line and
// drop the user's. The hash is checked with crypt(3) only when its scheme has
// no cost parameter (a slow hash in root's own file is no attack, and would
// only slow the fuzzer down).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "auth/offline_credentials.h"
#include "fuzz_files.h"
#include "fuzz_input.h"

namespace {

std::string g_dir;

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool cheap_hash(std::string_view line) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return true;
  std::string_view hash = line.substr(colon + 1);
  return !hash.starts_with("$") || hash.starts_with("$1$");  // DES and MD5 have no cost parameter
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_dir = fastid::fuzz::private_folder("offline_fuzz");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  fastid::fuzz::Input in(data, size);
  const std::string user(in.text_until('\0'));
  const std::string password(in.text_until('\0'));
  const std::string_view text = in.all();
  const std::string path = g_dir + "/offline";
  fastid::fuzz::write_file(path, text, 0600);
  fastid::auth::OfflineCredentials creds(path, std::chrono::seconds(100LL * 365 * 86400));
  (void)creds.has(user);
  bool all_cheap = true;
  for (std::string_view line : fastid::fuzz::lines_of(text)) all_cheap = all_cheap && cheap_hash(line);
  if (all_cheap) (void)creds.verify(user, password);
  if (user.empty() || user.find('\n') != std::string::npos) return 0;
  if (!creds.forget(user)) std::abort();
  // Every line but the user's (and blank ones) is kept, in order.
  std::string expected;
  for (std::string_view line : fastid::fuzz::lines_of(text)) {
    if (line.empty() || (line.size() > user.size() && line.starts_with(user) && line[user.size()] == ':')) continue;
    expected.append(line).push_back('\n');
  }
  if (read_all(path) != expected) std::abort();
  if (creds.has(user)) std::abort();
  return 0;
}
