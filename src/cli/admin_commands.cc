// The fastid tool's admin commands (cache invalidate, cache show, debug-level):
// requests on the admin socket, root's only, spoken by the tool itself.
#include "cli/commands.h"

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cli/auth.h"
#include "default_paths.h"
#include "fastid/fastid.h"
#include "netclient/net_client.h"
#include "netclient/tls_session.h"
#include "proto/messages.h"
#include "proto/wire.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace fastid::cli {

namespace {

// Admin requests go to the admin socket (root only), which libfastid — made
// for lookups inside other processes — does not talk to: the tool speaks the
// protocol itself, with a plain blocking socket and a receive timeout. The
// reply's payload goes to *payload; an error reply is printed and kError.
int admin_request(fastid::proto::Request req, const std::string& what, std::vector<std::uint8_t>* payload) {
  const char* dir = std::getenv("FASTID_SOCKET_DIR");
  std::string path = std::string(dir && *dir ? dir : FASTID_SOCKET_DIR_DEFAULT) + "/admin";
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof addr.sun_path) {
    std::fprintf(stderr, "fastid: %s: cannot use %s\n", what.c_str(), path.c_str());
    if (fd >= 0) ::close(fd);
    return kError;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    std::fprintf(stderr, "fastid: %s: cannot connect to %s: %s%s\n", what.c_str(), path.c_str(),
                 std::strerror(e), e == EACCES ? " (the admin socket is for root)" : "");
    ::close(fd);
    return kError;
  }
  auto frame = fastid::proto::encode_request(req);
  bool ok = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size());
  std::uint8_t head[fastid::proto::kHeaderSize];
  fastid::proto::FrameHeader h{};
  auto read_exact = [fd](std::uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t r = ::recv(fd, p, n, 0);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  };
  ok = ok && read_exact(head, sizeof head) &&
       fastid::proto::decode_header(head, &h) == fastid::proto::HeaderCheck::kOk;
  if (ok) {
    payload->resize(h.length);
    ok = h.length == 0 || read_exact(payload->data(), h.length);
  }
  ::close(fd);
  if (!ok) {
    std::fprintf(stderr, "fastid: %s: no valid reply from %s\n", what.c_str(), path.c_str());
    return kError;
  }
  auto st = static_cast<fastid::proto::WireStatus>(h.status);
  if (st != fastid::proto::WireStatus::kOk) {
    fastid::proto::WireReader r(payload->data(), payload->size());
    std::uint32_t n = 0;
    const char* msg = r.str(1024, &n);
    std::fprintf(stderr, "fastid: %s: %s: %.*s\n", what.c_str(),
                 std::string(fastid::proto::wire_status_name(st)).c_str(), static_cast<int>(r.bad ? 0 : n),
                 r.bad ? "" : msg);
    return kError;
  }
  return kFound;
}

// An admin request whose reply is one message, printed after `what`.
int admin_message(const fastid::proto::Request& req, const std::string& what) {
  std::vector<std::uint8_t> payload;
  if (int rc = admin_request(req, what, &payload); rc != kFound) return rc;
  fastid::proto::WireReader r(payload.data(), payload.size());
  std::uint32_t n = 0;
  const char* msg = r.str(1024, &n);
  if (r.bad) {
    std::fprintf(stderr, "fastid: %s: malformed reply\n", what.c_str());
    return kError;
  }
  std::printf("%s: %.*s\n", what.c_str(), static_cast<int>(n), msg);
  return kFound;
}

}  // namespace

// `fastid cache invalidate [all|passwd|group|initgroups]` or
// `fastid cache invalidate user|group NAME|ID`.
int cmd_cache_invalidate(const std::string& map, const std::string& key) {
  using namespace fastid::proto;
  Request req;
  req.request_id = 1;
  if (map == "user" || map == "group") {
    if (key.empty()) {
      std::fprintf(stderr, "fastid: cache invalidate %s: which one? (a name or an id)\n", map.c_str());
      return kError;
    }
    req.opcode = Opcode::kCacheForget;
    req.id = map == "user" ? kEntryUser : kEntryGroup;
    req.name = key;
    return admin_message(req, "cache invalidate " + map + " " + key);
  }
  std::uint32_t mask = map == "passwd"       ? kMapPasswd
                       : map == "group"      ? kMapGroup
                       : map == "initgroups" ? kMapInitgroups
                       : map == "all"        ? kMapAll
                                             : 0;
  if (mask == 0 || !key.empty()) {
    std::fprintf(stderr,
                 "fastid: cache invalidate: unknown map \"%s\" (all, passwd, group, initgroups, "
                 "or user|group NAME|ID)\n",
                 map.c_str());
    return kError;
  }
  req.opcode = Opcode::kCacheInvalidate;
  req.id = mask;
  return admin_message(req, "cache invalidate " + map);
}

// `fastid cache show user|group NAME|ID`: one "key value" line per item.
int cmd_cache_show(const std::string& what, const std::string& key) {
  using namespace fastid::proto;
  if (what != "user" && what != "group") {
    std::fprintf(stderr, "fastid: cache show: \"%s\" is neither user nor group\n", what.c_str());
    return kError;
  }
  Request req;
  req.opcode = Opcode::kCacheShow;
  req.request_id = 1;
  req.id = what == "user" ? kEntryUser : kEntryGroup;
  req.name = key;
  std::vector<std::uint8_t> payload;
  const std::string label = "cache show " + what + " " + key;
  if (int rc = admin_request(req, label, &payload); rc != kFound) return rc;
  WireReader r(payload.data(), payload.size());
  std::uint32_t count = r.u32();
  std::vector<std::pair<std::string, std::string>> items;
  for (std::uint32_t i = 0; i < count && !r.bad; ++i) {
    std::uint32_t kn = 0, vn = 0;
    const char* k = r.str(4096, &kn);
    const char* v = r.str(65536, &vn);
    if (!r.bad) items.emplace_back(std::string(k, kn), std::string(v, vn));
  }
  if (r.bad || !r.at_end()) {
    std::fprintf(stderr, "fastid: %s: malformed reply\n", label.c_str());
    return kError;
  }
  for (const auto& [k, v] : items) std::printf("%-44s %s\n", k.c_str(), v.c_str());
  return kFound;
}

// `fastid debug-level LEVEL`: the daemon's log level, in every front worker.
int cmd_debug_level(const std::string& text) {
  static constexpr const char* kLevels[] = {"debug", "info", "warning", "error"};
  std::uint32_t level = 4;
  for (std::uint32_t i = 0; i < 4; ++i) {
    if (text == kLevels[i]) level = i;
  }
  if (level > 3) {
    std::fprintf(stderr, "fastid: debug-level: \"%s\" is not one of debug, info, warning, error\n", text.c_str());
    return kError;
  }
  fastid::proto::Request req;
  req.opcode = fastid::proto::Opcode::kSetLogLevel;
  req.request_id = 1;
  req.id = level;
  return admin_message(req, "debug-level");
}

}  // namespace fastid::cli
