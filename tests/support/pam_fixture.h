// The PAM test fixture shared by the PAM system tests: a real fastidd with a
// shadow file of yescrypt, SHA-512 and bcrypt hashes made here with libcrypt,
// PAM service files for pam_fastid.so, and pamtester / pam_driver run in a
// private mount namespace (unshare -m) where /etc/pam.d and
// /etc/nsswitch.conf are the test's own (the real ones are never touched).
#pragma once

#include <crypt.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

#include "support/daemon_fixture.h"

namespace fastid::testing {

constexpr const char* kWrong = "Wrong-guess.0";

// Salted hash of `password` with libcrypt's method `prefix` ("$y$", "$6$", "$2b$").
inline std::string hash_of(const std::string& password, const char* prefix) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(prefix, 0, nullptr, 0, salt, sizeof salt) == nullptr) std::abort();
  crypt_data data{};
  const char* h = crypt_r(password.c_str(), salt, &data);
  if (h == nullptr || h[0] == '*') std::abort();
  return h;
}

inline std::int64_t today() { return static_cast<std::int64_t>(::time(nullptr)) / 86400; }

// A daemon with a shadow file and PAM service files for it. `pam_section`
// follows "[pam]" in its config.
class PamDaemon : public Daemon {
 public:
  explicit PamDaemon(const std::string& pam_section) : Daemon(50, 5) {
    // The test's folder is mkdtemp's 0700: unprivileged callers must reach the socket.
    ::chmod(dir().c_str(), 0755);
    const std::string t = std::to_string(today() - 10);
    std::string shadow;
    shadow += "user00001:" + hash_of("Yes-crypt.pw1", "$y$") + ":" + t + ":0:99999:7:::\n";
    shadow += "user00002:" + hash_of("Sha512-pw.two", "$6$") + ":" + t + ":0:99999:7:::\n";
    shadow += "user00003:" + hash_of("Bcrypt-pw.three", "$2b$") + ":" + t + ":0:99999:7:::\n";
    shadow += "user00004:" + hash_of("Expired-pw.4", "$y$") + ":" + t +
              ":0:99999:7::" + std::to_string(today() - 1) + ":\n";
    shadow += "user00005:" + hash_of("Change-me.pw5", "$y$") + ":0:0:99999:7:::\n";
    shadow += "user00006:!" + hash_of("Locked-pw.6", "$y$") + ":" + t + ":0:99999:7:::\n";
    shadow += "user00007:" + hash_of("Lockout-pw.7", "$y$") + ":" + t + ":0:99999:7:::\n";
    shadow += "user00008:" + hash_of("Caller-pw.8", "$y$") + ":" + t + ":0:99999:7:::\n";
    shadow += "user00009:" + hash_of("Rate-pw.9", "$y$") + ":" + t + ":0:99999:7:::\n";
    write_file(shadow_path(), shadow);
    ::chmod(shadow_path().c_str(), 0600);
    write_config(default_config_text() + "shadow = \"" + shadow_path() + "\"\n\n[pam]\n" +
                 pam_section);

    fs::create_directories(dir() + "/pam.d");
    const std::string module = lib_dir() + "/pam_fastid.so";
    const std::string sock = "socket=" + socket_dir() + "/pam";
    // Its reply deadline is the module's default (15 s), times
    // FASTID_TEST_TIME_SCALE up to the module's longest (120 s): a memcheck'd
    // provider worker's first answer takes longer than 15 s.
    const std::string scaled_deadline =
        time_scale() > 1 ? " timeout=" + std::to_string(std::min(15 * time_scale(), 120)) : "";
    service("fastid-test", module + " " + sock + scaled_deadline);
    service("fastid-first-only", module + " use_first_pass " + sock);
    service("fastid-try-only", module + " try_first_pass " + sock);
    // PAM_AUTHTOK can be set by modules only: pam_unix (which fails for these
    // users, who are not in /etc/shadow) prompts and leaves it for us.
    const std::string unix_first = "auth optional pam_unix.so nodelay\n";
    write_file(dir() + "/pam.d/fastid-first",
               unix_first + "auth required " + module + " use_first_pass " + sock + "\n");
    write_file(dir() + "/pam.d/fastid-try",
               unix_first + "auth required " + module + " try_first_pass " + sock + "\n");
    write_file(dir() + "/pam.d/fastid-again",
               unix_first + "auth required " + module + " " + sock + "\n");
    // A reply deadline of 120 s (the module's longest): a check that must end
    // sooner asserts far below it, so a wait on it cannot pass for speed.
    service("fastid-patient", module + " " + sock + " timeout=120");
    service("fastid-down", module + " socket=" + dir() + "/down/pam timeout=120");
    service("fastid-stale", module + " socket=" + dir() + "/stale/pam timeout=120");
    service("fastid-fake", module + " socket=" + dir() + "/fake/pam");
    // getpwnam in the namespace (libpam, pamtester) also asks fastid.
    write_file(dir() + "/nsswitch.conf",
               "passwd: files fastid\ngroup: files fastid\nshadow: files\n");
  }

  std::string shadow_path() const { return dir() + "/data/shadow"; }

  void service(const std::string& name, const std::string& module_line) {
    write_file(dir() + "/pam.d/" + name,
               "auth required " + module_line + "\naccount required " + module_line + "\n");
  }

  // Runs `program` (pamtester or pam_driver) in a private mount namespace
  // where /etc/pam.d and /etc/nsswitch.conf are this test's, as root or as
  // `uid`; `input` is its stdin (in_pam_namespace, support/daemon_fixture.h).
  CommandResult in_namespace(const std::string& program, const std::string& input,
                             int uid = 0) const {
    return in_pam_namespace(*this, program, input, uid);
  }

  CommandResult pamtester(const std::string& service, const std::string& user,
                          const std::string& password, const std::string& steps = "authenticate",
                          int uid = 0) const {
    return in_namespace(client_wrapper() + "pamtester " + service + " " + user + " " + steps, password + "\n",
                        uid);
  }

  CommandResult driver(const std::string& args, const std::string& password, int uid = 0) const {
    return in_namespace(bin_dir() + "/pam_driver " + args, password, uid);
  }
};

// The address of a Unix socket file; the tests' paths are far below sun_path's size.
inline sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  return addr;
}

inline bool has(const CommandResult& r, const std::string& text) {
  return r.out.find(text) != std::string::npos;
}

constexpr const char* kSuccess = "successfully authenticated";
constexpr const char* kAuthErr = "Authentication failure";
constexpr const char* kUnknown = "User not known to the underlying authentication module";
constexpr const char* kUnavail = "Authentication service cannot retrieve authentication info";
constexpr const char* kExpired = "User account has expired";
constexpr const char* kNewToken = "Authentication token is no longer valid; new one required";
constexpr const char* kDenied = "Permission denied";
constexpr const char* kMaxTries = "Have exhausted maximum number of retries for service";

}  // namespace fastid::testing
