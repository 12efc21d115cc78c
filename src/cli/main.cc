// fastid: the command-line tool for administrators. Lookups go through
// libfastid exactly as the NSS module's do, so what it prints is what every
// process on the host sees. Exit codes follow getent: 0 found, 2 not found,
// 1 any other error.
#include <grp.h>
#include <pwd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cli/auth.h"
#include "cli/passwd.h"
#include "default_paths.h"
#include "fastid/fastid.h"
#include "netclient/net_client.h"
#include "netclient/tls_session.h"
#include "proto/messages.h"
#include "proto/wire.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

constexpr int kFound = 0;
constexpr int kError = 1;
constexpr int kNotFound = 2;

int report(fastid_status st, const std::string& what) {
  if (st == FASTID_NOT_FOUND) {
    std::fprintf(stderr, "fastid: %s: not found\n", what.c_str());
    return kNotFound;
  }
  const char* msg = fastid_last_message();
  std::fprintf(stderr, "fastid: %s: %s%s%s\n", what.c_str(), fastid_strerror(st),
               (msg && *msg) ? ": " : "", (msg && *msg) ? msg : "");
  return kError;
}

// A numeric argument is an id; anything else is a name (as getent does).
bool parse_id(const std::string& text, unsigned long* out) {
  if (text.empty() || text.size() > 10) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  *out = std::strtoul(text.c_str(), nullptr, 10);
  return *out <= 0xffffffffUL;
}

// Calls `lookup` with a growing buffer until it fits (as glibc does).
template <typename Lookup>
fastid_status with_buffer(std::vector<char>& buf, Lookup lookup) {
  buf.resize(1024);
  for (;;) {
    fastid_status st = lookup(buf.data(), buf.size());
    if (st != FASTID_ERANGE || buf.size() >= (1u << 24)) return st;
    buf.resize(buf.size() * 2);
  }
}

void print_passwd(const passwd& pw) {
  std::printf("%s:%s:%u:%u:%s:%s:%s\n", pw.pw_name, pw.pw_passwd, pw.pw_uid, pw.pw_gid, pw.pw_gecos,
              pw.pw_dir, pw.pw_shell);
}

void print_group(const group& gr) {
  std::printf("%s:%s:%u:", gr.gr_name, gr.gr_passwd, gr.gr_gid);
  for (char** m = gr.gr_mem; m && *m; ++m) std::printf("%s%s", m == gr.gr_mem ? "" : ",", *m);
  std::printf("\n");
}

int cmd_user(const std::string& key) {
  passwd pw{};
  std::vector<char> buf;
  unsigned long id;
  fastid_status st = with_buffer(buf, [&](char* b, size_t n) {
    return parse_id(key, &id) ? fastid_getpwuid(static_cast<uid_t>(id), &pw, b, n)
                              : fastid_getpwnam(key.c_str(), &pw, b, n);
  });
  if (st != FASTID_OK) return report(st, "user " + key);
  print_passwd(pw);
  return kFound;
}

int cmd_group(const std::string& key) {
  group gr{};
  std::vector<char> buf;
  unsigned long id;
  fastid_status st = with_buffer(buf, [&](char* b, size_t n) {
    return parse_id(key, &id) ? fastid_getgrgid(static_cast<gid_t>(id), &gr, b, n)
                              : fastid_getgrnam(key.c_str(), &gr, b, n);
  });
  if (st != FASTID_OK) return report(st, "group " + key);
  print_group(gr);
  return kFound;
}

int cmd_groups(const std::string& user) {
  std::vector<gid_t> gids(64);
  for (;;) {
    size_t n = gids.size();
    fastid_status st = fastid_initgroups(user.c_str(), gids.data(), &n);
    if (st == FASTID_ERANGE && n > gids.size()) {
      gids.resize(n);
      continue;
    }
    if (st != FASTID_OK) return report(st, "groups of " + user);
    std::printf("%s:", user.c_str());
    for (size_t i = 0; i < n; ++i) std::printf(" %u", gids[i]);
    std::printf("\n");
    return kFound;
  }
}

int cmd_ping() {
  char version[128] = {};
  fastid_status st = fastid_ping(version, sizeof version);
  if (st != FASTID_OK) return report(st, "ping");
  std::printf("%s\n", version);
  return kFound;
}

// A JSON string: quotes, backslashes and control characters escaped; bytes
// that are not valid UTF-8 become U+FFFD, so the document always parses.
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else {
      // The length of a well-formed UTF-8 sequence starting here, or 0.
      std::size_t n = (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 && c <= 0xf4 ? 4 : 0;
      bool ok = n > 0 && i + n <= s.size();
      for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      if (ok && n == 3) {
        const auto c1 = static_cast<unsigned char>(s[i + 1]);
        ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);  // overlong, surrogates
      }
      if (ok && n == 4) {
        const auto c1 = static_cast<unsigned char>(s[i + 1]);
        ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
      }
      if (ok) {
        out.append(s, i, n);
        i += n;
      } else {
        out += "\\ufffd";
        ++i;
      }
    }
  }
  return out + "\"";
}

// A value that is a plain decimal number (figures, counters) is a JSON number.
bool json_number(const std::string& v) {
  if (v.empty() || v.size() > 20) return false;
  std::size_t i = v[0] == '-' ? 1 : 0;
  if (i == v.size() || v[i] == '.') return false;
  bool dot = false;
  for (; i < v.size(); ++i) {
    if (v[i] == '.' && !dot && i + 1 < v.size()) dot = true;
    else if (v[i] < '0' || v[i] > '9') return false;
  }
  return !(v.size() > 1 && v[0] == '0' && v[1] != '.');
}

int cmd_status(bool json) {
  if (!json) {
    auto print = [](const char* key, const char* value, void*) { std::printf("%-44s %s\n", key, value); };
    fastid_status st = fastid_daemon_status(print, nullptr);
    if (st != FASTID_OK) return report(st, "status");
    return kFound;
  }
  // docs/operations.md, "Status as JSON": {"format": 1, "status": {key: value}}.
  std::vector<std::pair<std::string, std::string>> items;
  auto collect = [](const char* key, const char* value, void* ctx) {
    static_cast<std::vector<std::pair<std::string, std::string>>*>(ctx)->emplace_back(key, value);
  };
  fastid_status st = fastid_daemon_status(collect, &items);
  if (st != FASTID_OK) return report(st, "status");
  std::string out = "{\"format\": 1, \"status\": {";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += (i ? ", " : "") + json_string(items[i].first) + ": " +
           (json_number(items[i].second) ? items[i].second : json_string(items[i].second));
  }
  out += "}}\n";
  std::fputs(out.c_str(), stdout);
  return kFound;
}

int cmd_enumerate(bool users) {
  fastid_enum* e = nullptr;
  fastid_status st = fastid_enum_open(&e, users ? FASTID_ENUM_USERS : FASTID_ENUM_GROUPS);
  if (st != FASTID_OK) return report(st, users ? "users" : "groups");
  std::vector<char> buf(1 << 16);
  for (;;) {
    passwd pw{};
    group gr{};
    st = users ? fastid_enum_next_user(e, &pw, buf.data(), buf.size())
               : fastid_enum_next_group(e, &gr, buf.data(), buf.size());
    if (st == FASTID_ERANGE && buf.size() < (1u << 24)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (st != FASTID_OK) break;
    users ? print_passwd(pw) : print_group(gr);
  }
  fastid_enum_close(e);
  return st == FASTID_NOT_FOUND ? kFound : report(st, users ? "users" : "groups");
}

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

// ---- netgroups and SSH keys ---------------------------------------------------

// `fastid netgroup NAME`: as `getent netgroup NAME` prints it.
int cmd_netgroup(const std::string& name) {
  fastid_netgroup* ng = nullptr;
  fastid_status st = fastid_getnetgroup(name.c_str(), &ng);
  if (st != FASTID_OK) return report(st, "netgroup " + name);
  std::printf("%-21s", name.c_str());
  auto field = [](const char* f) { return f ? f : ""; };
  for (size_t i = 0; i < ng->ntriples; ++i) {
    const auto& t = ng->triples[i];
    std::printf(" (%s,%s,%s)", field(t.host), field(t.user), field(t.domain));
  }
  for (size_t i = 0; i < ng->nnested; ++i) std::printf(" %s", ng->nested[i]);
  std::printf("\n");
  fastid_netgroup_free(ng);
  return kFound;
}

// sshd runs AuthorizedKeysCommand with the name a client typed: anyone who
// can reach port 22 chooses it. Only a plausible user name is asked about.
bool plausible_user_name(const std::string& name) {
  if (name.empty() || name.size() > fastid::proto::kMaxNameLength || name[0] == '-') return false;
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f || std::strchr(":,/()*\\", c) != nullptr) return false;
  }
  return true;
}

// `fastid ssh-keys USER`, for sshd's AuthorizedKeysCommand: the user's keys
// on stdout, one line each; nothing on stdout otherwise. Exit 0 with the
// keys (none is still 0), 2 for an unknown user, 1 for a refused name or any
// failure — sshd then lets no key in from this command.
int cmd_ssh_keys(const std::string& user) {
  if (!plausible_user_name(user)) {
    std::fprintf(stderr, "fastid: ssh-keys: not a user name\n");
    return kError;
  }
  fastid_status st = fastid_ssh_keys(
      user.c_str(), [](const char* line, void*) { std::printf("%s\n", line); }, nullptr);
  if (st != FASTID_OK) return report(st, "ssh keys of " + user);
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "fastid: ssh-keys: cannot write the keys: %s\n", std::strerror(errno));
    return kError;
  }
  return kFound;
}

// ---- --server HOST:PORT: a remote fastidd over TCP (or UDP with --udp) ------

struct Remote {
  fastid::netclient::NetClient* client;
  fastid::netclient::Transport transport;
  bool verbose;
};

int remote_report(const fastid::core::Status& st, const std::string& what) {
  if (st.code() == fastid::core::Code::kNotFound) {
    std::fprintf(stderr, "fastid: %s: not found\n", what.c_str());
    return kNotFound;
  }
  std::fprintf(stderr, "fastid: %s: %s\n", what.c_str(), st.to_string().c_str());
  return kError;
}

void remote_note(const Remote& r) {
  if (!r.verbose) return;
  const auto& info = r.client->last_call();
  std::fprintf(stderr, "fastid: answered by %s over %s%s\n", info.server.c_str(),
               info.answered_by == fastid::netclient::Transport::kUdp ? "udp" : "tcp",
               info.truncated ? " (udp reply truncated, asked again over tcp)" : "");
}

using fastid::model::answer_as;
using fastid::model::Query;

void print_user(const fastid::model::User& u) {
  std::printf("%s:%s:%u:%u:%s:%s:%s\n", u.name.c_str(), u.passwd.c_str(), u.uid, u.gid, u.gecos.c_str(),
              u.dir.c_str(), u.shell.c_str());
}

void print_group_record(const fastid::model::Group& g) {
  std::printf("%s:%s:%u:", g.name.c_str(), g.passwd.c_str(), g.gid);
  for (std::size_t i = 0; i < g.members.size(); ++i) std::printf("%s%s", i ? "," : "", g.members[i].c_str());
  std::printf("\n");
}

int remote_user(const Remote& r, const std::string& key) {
  unsigned long id;
  auto q = parse_id(key, &id) ? Query::user_by_uid(static_cast<std::uint32_t>(id)) : Query::user_by_name(key);
  auto u = answer_as<fastid::model::User>(r.client->lookup(q, r.transport));
  remote_note(r);
  if (!u) return remote_report(u.error(), "user " + key);
  print_user(*u);
  return kFound;
}

int remote_group(const Remote& r, const std::string& key) {
  unsigned long id;
  auto q = parse_id(key, &id) ? Query::group_by_gid(static_cast<std::uint32_t>(id)) : Query::group_by_name(key);
  auto g = answer_as<fastid::model::Group>(r.client->lookup(q, r.transport));
  remote_note(r);
  if (!g) return remote_report(g.error(), "group " + key);
  print_group_record(*g);
  return kFound;
}

int remote_groups(const Remote& r, const std::string& user) {
  auto gids = answer_as<fastid::model::Gids>(r.client->lookup(Query::initgroups(user), r.transport));
  remote_note(r);
  if (!gids) return remote_report(gids.error(), "groups of " + user);
  std::printf("%s:", user.c_str());
  for (auto g : *gids) std::printf(" %u", g);
  std::printf("\n");
  return kFound;
}

int remote_ping(const Remote& r) {
  auto v = r.client->ping(r.transport);
  remote_note(r);
  if (!v) return remote_report(v.error(), "ping");
  std::printf("%s\n", v->c_str());
  return kFound;
}

int remote_enumerate(const Remote& r, bool users) {
  std::uint32_t cursor = 0;
  for (int pages = 0; pages < 1000000; ++pages) {
    bool more;
    if (users) {
      auto page = answer_as<fastid::model::Page<fastid::model::User>>(r.client->lookup(Query::users_page(cursor, 0)));
      if (!page) return remote_report(page.error(), "users");
      for (const auto& u : page->records) print_user(u);
      more = page->more;
      cursor = page->next_cursor;
    } else {
      auto page = answer_as<fastid::model::Page<fastid::model::Group>>(r.client->lookup(Query::groups_page(cursor, 0)));
      if (!page) return remote_report(page.error(), "groups");
      for (const auto& g : page->records) print_group_record(g);
      more = page->more;
      cursor = page->next_cursor;
    }
    if (!more) return kFound;
  }
  return kError;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fastid — query and control the fastid identity daemon"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "fastid " FASTID_VERSION);
  std::string key;
  int rc = kError;
  std::string server;
  bool udp = false;
  bool verbose = false;
  int timeout_ms = 2000;
  std::string tls_ca;
  std::string tls_server_name;
  auto* server_option = app.add_option("-s,--server", server,
                 "ask a remote fastidd over its TCP listener, HOST:PORT or [V6]:PORT (lookups and ping)");
  auto* udp_flag = app.add_flag("--udp", udp, "with --server: ask over UDP first; a truncated answer is asked again over TCP");
  app.add_flag("-v,--verbose", verbose, "with --server: say which server and transport answered");
  app.add_option("--timeout-ms", timeout_ms, "with --server: per-server timeout")->check(CLI::Range(1, 600000));
  auto* tls_ca_option =
      app.add_option("--tls-ca", tls_ca,
                     "with --server: speak TLS, verifying the server's certificate against the CAs of this "
                     "PEM file and its address (or --tls-server-name); UDP is then refused (cleartext)")
          ->needs(server_option)
          ->excludes(udp_flag);
  app.add_option("--tls-server-name", tls_server_name,
                 "with --tls-ca: the DNS name the server's certificate must carry (also sent as SNI)")
      ->needs(tls_ca_option);
  // With --server, lookups go to a remote fastidd; built on first use, after
  // the options are parsed (the subcommand callbacks run after them).
  std::unique_ptr<fastid::netclient::NetClient> net;
  Remote remote_state{};
  auto remote = [&]() -> Remote* {
    if (server.empty()) return nullptr;
    if (!net) {
      std::shared_ptr<const fastid::netclient::TlsClientContext> tls;
      if (!tls_ca.empty()) {
        auto context = fastid::netclient::make_tls_client_context(tls_ca);
        if (!context) {
          std::fprintf(stderr, "fastid: --tls-ca: %s\n", context.error().to_string().c_str());
          std::exit(kError);  // never on to the local daemon, never plaintext
        }
        tls = std::move(*context);
      }
      net = std::make_unique<fastid::netclient::NetClient>(
          fastid::netclient::Options{.servers = {server},
                                     .timeout = std::chrono::milliseconds(timeout_ms),
                                     .tls = std::move(tls),
                                     .tls_server_name = tls_server_name});
      remote_state = Remote{net.get(),
                            udp ? fastid::netclient::Transport::kUdp : fastid::netclient::Transport::kTcp,
                            verbose};
    }
    return &remote_state;
  };

  auto* user = app.add_subcommand("user", "show a user by name or uid (passwd line)");
  user->add_option("NAME|UID", key)->required();
  user->callback([&] { rc = remote() ? remote_user(*remote(), key) : cmd_user(key); });

  auto* grp = app.add_subcommand("group", "show a group by name or gid (group line)");
  grp->add_option("NAME|GID", key)->required();
  grp->callback([&] { rc = remote() ? remote_group(*remote(), key) : cmd_group(key); });

  auto* groups = app.add_subcommand("groups", "list a user's supplementary group ids");
  groups->add_option("USER", key)->required();
  groups->callback([&] { rc = remote() ? remote_groups(*remote(), key) : cmd_groups(key); });

  auto* netgroup = app.add_subcommand("netgroup", "show a netgroup's triples, nested netgroups flattened");
  netgroup->add_option("NAME", key)->required();
  netgroup->callback([&] { rc = cmd_netgroup(key); });

  auto* ssh_keys = app.add_subcommand(
      "ssh-keys", "print USER's SSH public keys from the directory (sshd AuthorizedKeysCommand; docs/ssh.md)");
  ssh_keys->add_option("USER", key)->required();
  ssh_keys->callback([&] {
    if (!server.empty()) {
      std::fprintf(stderr, "fastid: ssh-keys: asked of the local daemon only\n");
      rc = kError;
      return;
    }
    rc = cmd_ssh_keys(key);
  });

  auto* users = app.add_subcommand("users", "enumerate every user");
  users->callback([&] { rc = remote() ? remote_enumerate(*remote(), true) : cmd_enumerate(true); });
  auto* allgroups = app.add_subcommand("all-groups", "enumerate every group");
  allgroups->callback([&] { rc = remote() ? remote_enumerate(*remote(), false) : cmd_enumerate(false); });

  std::string map = "all";
  std::string entry_key;
  auto* cache = app.add_subcommand("cache", "cache control: the store and the fast cache (root)");
  cache->require_subcommand(1);
  auto* inval = cache->add_subcommand(
      "invalidate", "drop cached answers (store and fast cache): the next lookup asks the directory");
  inval->add_option("MAP", map, "all (default), passwd, group, initgroups; or user or group, then NAME|ID");
  inval->add_option("NAME|ID", entry_key, "with user or group: the one entry to drop");
  inval->callback([&] { rc = cmd_cache_invalidate(map, entry_key); });
  std::string show_what;
  auto* show = cache->add_subcommand("show", "print what is cached for a user or group, and until when");
  show->add_option("WHAT", show_what, "user or group")->required();
  show->add_option("NAME|ID", entry_key)->required();
  show->callback([&] { rc = cmd_cache_show(show_what, entry_key); });

  std::string level_text;
  auto* debug_level = app.add_subcommand("debug-level", "set the daemon's log level at run time, in every front worker (root)");
  debug_level->add_option("LEVEL", level_text, "debug, info, warning or error")->required();
  debug_level->callback([&] { rc = cmd_debug_level(level_text); });

  auto* auth = app.add_subcommand("auth", "check USER's password (prompted without echo) and account through the pam socket");
  auth->add_option("USER", key)->required();
  auth->callback([&] {
    if (!server.empty()) {
      std::fprintf(stderr, "fastid: auth: never over the network (passwords go to the local pam socket)\n");
      rc = kError;
      return;
    }
    rc = fastid::cli::cmd_auth(key);
  });

  std::string passwd_user;
  auto* passwd = app.add_subcommand(
      "passwd", "change your password in the directory (prompted without echo) through the pam socket");
  passwd->add_option("USER", passwd_user, "whose password (default: yours; root may name anyone, and needs the current password too)");
  passwd->callback([&] {
    if (!server.empty()) {
      std::fprintf(stderr, "fastid: passwd: never over the network (passwords go to the local pam socket)\n");
      rc = kError;
      return;
    }
    rc = fastid::cli::cmd_passwd(passwd_user);
  });

  app.add_subcommand("ping", "check that fastidd answers")->callback([&] {
    rc = remote() ? remote_ping(*remote()) : cmd_ping();
  });
  bool status_json = false;
  auto* status_cmd = app.add_subcommand("status", "show the daemon's figures");
  status_cmd->add_flag("--json", status_json, "one JSON object: {\"format\": 1, \"status\": {key: value}}");
  status_cmd->callback([&] {
    if (!server.empty()) {
      std::fprintf(stderr, "fastid: status: not available over the network (ask on the host)\n");
      rc = kError;
      return;
    }
    rc = cmd_status(status_json);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kError;
  }
  return rc;
}
