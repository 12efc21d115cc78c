// The fastid tool's lookups through libfastid, exactly as the NSS module makes
// them (user, group, groups, netgroup, ssh-keys, users, groups, ping, status):
// what they print is what every process on the host sees.
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

}  // namespace

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

}  // namespace fastid::cli
