// fastid-provider-worker: one auxiliary process of a provider's pool. It opens
// its own instance of one provider (never a state cloned across fork), then answers
// the daemon's request frames one at a time, calling the provider synchronously.
//
//   fastid-provider-worker --fd 3 --config-fd 4 --provider NAME --parent PID
//
// fd 3 is its end of the socketpair; fd 4 a sealed memfd holding the provider's
// settings (daemon/provider_settings.h: what the daemon validated, as key/value
// text; this process never links the TOML parser). The protocol is
// pool/worker_protocol.h's: a ready frame, then one reply per request, until the
// daemon closes the socket. Started by the pool only; not a tool for people.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/log.h"
#include "providers/unopened_provider.h"
#include "core/text.h"
#include "core/trace.h"
#include "daemon/provider_factory.h"
#include "daemon/provider_settings.h"
#include "pool/worker_protocol.h"
#include "proto/messages.h"

namespace fastid::daemon {
using pool::encode_ready;
using pool::encode_start_failure;
using pool::serve_request;
namespace {

// Exit codes, for the daemon's log ("exited with status 3").
constexpr int kExitUsage = 2;
constexpr int kExitConfig = 3;
constexpr int kExitOpen = 4;
constexpr int kExitProtocol = 5;
constexpr int kExitOrphan = 6;
constexpr int kExitTraced = 7;
// How often a provider that could not be opened at start is tried again.
constexpr std::chrono::seconds kReopenInterval{30};

constexpr std::size_t kMaxConfigBytes = 1 << 20;

struct Args {
  int fd = -1;
  int config_fd = -1;
  int log_level_fd = -1;  // the front workers' shared level page, read-only (optional)
  std::string provider;
  pid_t parent = 0;
};

bool parse_int(std::string_view text, int* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool parse_args(int argc, char** argv, Args* args) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const std::string_view value = argv[i + 1];
    int n = 0;
    if (flag == "--fd" && parse_int(value, &n))
      args->fd = n;
    else if (flag == "--config-fd" && parse_int(value, &n))
      args->config_fd = n;
    else if (flag == "--log-level-fd" && parse_int(value, &n) && n >= 0)
      args->log_level_fd = n;
    else if (flag == "--provider")
      args->provider = value;
    else if (flag == "--parent" && parse_int(value, &n))
      args->parent = n;
    else
      return false;
  }
  return argc % 2 == 1 && args->fd >= 0 && args->config_fd >= 0 && !args->provider.empty() &&
         args->parent > 0;
}

// Reads exactly n bytes; false on end of file or error (errno says which; 0 at EOF).
bool read_exact(int fd, std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = 0;
      return false;
    }
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool write_all(int fd, const proto::Bytes& frame) {
  std::size_t done = 0;
  while (done < frame.size()) {
    // MSG_NOSIGNAL: a daemon that went away is an error to handle, not a signal.
    const ssize_t n = ::send(fd, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

core::Result<std::string> read_config(int fd) {
  std::string text;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(text.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return core::error(core::status_from_errno(errno, "read provider config"));
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes)
      return core::error(core::Status::invalid_argument("provider config too large"));
  }
  return text;
}

int serve(int fd, providers::Provider& provider, std::chrono::milliseconds refresh_interval) {
  auto last_refresh = std::chrono::steady_clock::now();
  proto::Bytes payload;
  for (;;) {
    std::array<std::uint8_t, proto::kHeaderSize> head;
    if (!read_exact(fd, head.data(), head.size())) {
      if (errno == 0) return 0;  // the daemon closed our socket: stop
      core::log_error("provider " + provider.name() + ": reading a request: " + std::strerror(errno));
      return kExitProtocol;
    }
    proto::FrameHeader h;
    if (proto::decode_header(head.data(), &h) != proto::HeaderCheck::kOk) {
      core::log_error("provider " + provider.name() + ": malformed frame header from the daemon");
      return kExitProtocol;
    }
    payload.resize(h.length);
    if (!read_exact(fd, payload.data(), payload.size())) {
      core::log_error("provider " + provider.name() + ": request frame cut short");
      return kExitProtocol;
    }
    // Sources that change (the files provider's) are checked between
    // requests, at most once per refresh_interval, as the daemon does.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_refresh >= refresh_interval) {
      last_refresh = now;
      if (core::Status st = provider.refresh(); !st) {
        core::log_warning("provider " + provider.name() + ": " + st.to_string());
      }
    }
    const auto started = std::chrono::steady_clock::now();
    auto request = proto::decode_request(h, payload);
    if (core::trace_enabled()) {
      const std::optional<model::Query> query = request ? proto::query_of(*request) : std::nullopt;
      core::set_trace_key(query ? model::describe(*query) : std::string());
      core::trace_stage_current("provider_started");
    }
    proto::Bytes reply = request ? serve_request(provider, *request)
                                 : proto::encode_error_reply(h.opcode, h.request_id, request.error().status,
                                                             request.error().message);
    // The request frame of an authentication held a password: gone now.
    if (proto::opcode_is_auth(h.opcode)) ::explicit_bzero(payload.data(), payload.size());
    core::trace_stage_current("provider_replied");
    if (!write_all(fd, reply)) {
      core::log_error("provider " + provider.name() + ": writing a reply: " + std::strerror(errno));
      return kExitProtocol;
    }
    if (core::log_level() == core::LogLevel::kDebug) {
      // No name, no answer: the opcode, the reply's status and the time.
      proto::FrameHeader rh{};
      const bool decoded = reply.size() >= proto::kHeaderSize &&
                           proto::decode_header(reply.data(), &rh) == proto::HeaderCheck::kOk;
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
      core::log_debug("provider " + provider.name() + ": request opcode " + std::to_string(h.opcode) +
                      " answered with status " + (decoded ? std::to_string(rh.status) : std::string("?")) + " in " +
                      std::to_string(us.count()) + " us");
    }
  }
}

// Whether a process is tracing this one ("TracerPid:" of /proc/self/status);
// an error when that cannot be read, as this cannot be checked then.
core::Result<bool> traced() {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return core::error(core::status_from_errno(errno, "open /proc/self/status"));
  char line[256];
  std::optional<bool> out;
  while (!out && std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "TracerPid:", 10) == 0) out = std::strtol(line + 10, nullptr, 10) != 0;
  }
  std::fclose(f);
  if (!out) return core::error(core::Status::internal("no TracerPid line in /proc/self/status"));
  return *out;
}

int run(int argc, char** argv) {
  // exec made this process dumpable again (its parent was not): until the
  // flag is cleared, any process of the same user may ptrace it, and what it
  // will hold (directory credentials, passwords) is worth reading. First
  // thing, then: no core files, no new tracer. One that attached in the
  // window before this line is still there: refuse to run under it.
  ::prctl(PR_SET_DUMPABLE, 0);
  core::set_log_role("provider-worker");
  if (auto t = traced(); !t || *t) {
    core::log_error(t ? std::string("refusing to run: another process is tracing this worker")
                      : "refusing to run: " + t.error().to_string());
    return kExitTraced;
  }
  Args args;
  if (!parse_args(argc, argv, &args)) {
    core::log_error(
        "usage: fastid-provider-worker --fd N --config-fd N [--log-level-fd N] --provider NAME --parent PID "
        "(started by fastidd's provider pool)");
    return kExitUsage;
  }
  // Die with the daemon. If it died before this line, we were re-parented
  // already and the signal will never come: leave now.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != args.parent) return kExitOrphan;
  // The pool starts this process with every signal at its default (exec would
  // keep fastidd's SIG_IGN), and libldap writes to its LDAP socket with plain
  // write(2): the UnbindRequest that drops a connection whose server went
  // away (a restarted slapd) raised SIGPIPE and killed the worker before the
  // search could be retried on a new connection, at its first request after
  // the restart however late (an authentication, never retried, answered
  // PAM_AUTHINFO_UNAVAIL: docs/reliability.md "make soak DURATION=30m").
  // A peer gone is an error value here, as in fastidd.
  ::signal(SIGPIPE, SIG_IGN);

  auto text = read_config(args.config_fd);
  ::close(args.config_fd);
  if (!text) {
    core::log_error("provider " + args.provider + ": " + text.error().to_string());
    (void)write_all(args.fd, encode_start_failure(text.error()));
    return kExitConfig;
  }
  auto settings = decode_provider_settings(*text);
  // The text held the provider's secrets (a bind password): gone now.
  ::explicit_bzero(text->data(), text->size());
  if (settings) {
    core::set_log_level(settings->log_level);
    core::set_trace_enabled(settings->trace_requests);
  }
  // From here on the level is the front workers' (`fastid debug-level` reaches
  // this process at once): their shared page, mapped read-only.
  if (args.log_level_fd >= 0) {
    if (!core::follow_log_level(args.log_level_fd)) {
      core::log_warning("provider " + args.provider + ": cannot follow the daemon's log level: " +
                        std::strerror(errno));
    }
    ::close(args.log_level_fd);
  }
  if (!settings || settings->provider.name != args.provider) {
    const core::Status st =
        settings ? core::Status::invalid_argument("provider " + args.provider + ": its settings name provider " +
                                                  core::quote(settings->provider.name))
                 : settings.error().with_context("provider " + args.provider);
    core::log_error(st.to_string());
    (void)write_all(args.fd, encode_start_failure(st));
    return kExitConfig;
  }
  const ProviderConfig* mine = &settings->provider;

  auto made = make_provider(*mine);
  // Providers name themselves in their errors ("provider corp: ...").
  const core::Status opened = made ? (*made)->open() : made.error();
  // kUnavailable: the backend did not answer (a directory that is down). The
  // daemon's start-up check already decided whether that may start; a worker
  // serves anyway and its provider connects again on each call.
  if (!made) {
    core::log_error(made.error().to_string());
    (void)write_all(args.fd, encode_start_failure(made.error()));
    return kExitOpen;
  }
  std::unique_ptr<providers::Provider> provider = std::move(*made);
  if (!opened && opened.code() == core::Code::kUnavailable) {
    core::log_warning(opened.to_string());
  } else if (!opened && !may_start_unopened(*mine)) {
    core::log_error(opened.to_string());
    (void)write_all(args.fd, encode_start_failure(opened));
    return kExitOpen;
  } else if (!opened) {
    // A setting the directory refuses (a base that does not exist, a wrong
    // password, a CA that does not verify it): the daemon started anyway
    // (check_providers_at_start said so loudly); its names are "try again",
    // and the provider is opened again now and then (unopened_provider.h).
    core::log_error(opened.to_string() + ": answering \"unavailable\" until it can be opened");
    provider = std::make_unique<providers::UnopenedProvider>(std::move(provider), opened, kReopenInterval);
  }
  if (!write_all(args.fd, encode_ready("fastid-provider-worker " FASTID_VERSION))) return kExitProtocol;
  core::log_debug("provider " + args.provider + ": worker ready");
  const int code = serve(args.fd, *provider, mine->refresh_interval);
  provider->close();
  return code;
}

}  // namespace
}  // namespace fastid::daemon

int main(int argc, char** argv) { return fastid::daemon::run(argc, argv); }
