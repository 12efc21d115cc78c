// libFuzzer target: the client library's reply decoding, end to end. libfastid
// (src/client) is pointed at a socket of ours (FASTID_SOCKET_DIR; no fast
// cache), whose server thread answers each request frame with the input's
// bytes and closes. Input: one byte choosing the call (getpwnam, getpwuid,
// getgrnam, getgrgid, initgroups, enumeration of users or groups, netgroup,
// SSH keys, ping, status), one byte of patch bits (1: the header's version,
// reply flag, opcode and request id are made the ones the client expects, so
// that the payload is what gets tested; 2: the length is made the payload's),
// then the reply frame. The library runs inside every process that resolves
// a name: whatever the daemon's socket says, it must fail cleanly
// (ASan/UBSan), never write past the caller's buffer (small buffers are used
// on purpose), and what it returns must be NUL-terminated and in the buffer.
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fastid/fastid.h"
#include "fuzz_files.h"
#include "fuzz_input.h"
#include "proto/wire.h"

namespace proto = fastid::proto;

namespace {

std::mutex g_mu;
std::vector<std::uint8_t> g_reply;  // the frame to answer with
std::uint8_t g_patch = 0;

bool read_exactly(int fd, std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t got = read(fd, p, n);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

void serve(int listener) {
  for (;;) {
    const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::uint8_t head[proto::kHeaderSize];
    proto::FrameHeader h{};
    if (read_exactly(fd, head, sizeof head) && proto::decode_header(head, &h) == proto::HeaderCheck::kOk &&
        h.length <= proto::kMaxRequestPayload) {
      std::vector<std::uint8_t> body(h.length);
      if (read_exactly(fd, body.data(), body.size())) {
        std::vector<std::uint8_t> out;
        {
          std::lock_guard lock(g_mu);
          out = g_reply;
          if (out.size() >= proto::kHeaderSize) {
            if (g_patch & 1) {
              out[0] = proto::kVersion;
              out[1] = proto::kFlagReply;
              proto::store_u16(out.data() + 2, h.opcode);
              proto::store_u32(out.data() + 4, h.request_id);
            }
            if (g_patch & 2) proto::store_u32(out.data() + 12, static_cast<std::uint32_t>(out.size() - proto::kHeaderSize));
          }
        }
        std::size_t done = 0;
        while (done < out.size()) {
          const ssize_t n = send(fd, out.data() + done, out.size() - done, MSG_NOSIGNAL);
          if (n <= 0) break;
          done += static_cast<std::size_t>(n);
        }
      }
    }
    close(fd);
  }
}

// A returned string must end inside the caller's buffer.
void in_buffer(const char* s, const char* buf, std::size_t len) {
  if (s == nullptr) return;
  if (s < buf || s >= buf + len) abort();
  if (memchr(s, '\0', static_cast<std::size_t>(buf + len - s)) == nullptr) abort();
}

void check_passwd(const passwd& pw, const char* buf, std::size_t len) {
  for (const char* s : {pw.pw_name, pw.pw_passwd, pw.pw_gecos, pw.pw_dir, pw.pw_shell}) in_buffer(s, buf, len);
}

void check_group(const group& gr, const char* buf, std::size_t len) {
  in_buffer(gr.gr_name, buf, len);
  in_buffer(gr.gr_passwd, buf, len);
  if (gr.gr_mem == nullptr) return;
  if (reinterpret_cast<const char*>(gr.gr_mem) < buf || reinterpret_cast<const char*>(gr.gr_mem) >= buf + len) abort();
  for (char** m = gr.gr_mem; *m != nullptr; ++m) in_buffer(*m, buf, len);
}

void count_key(const char* line, void* ctx) {
  if (line == nullptr) abort();
  *static_cast<std::size_t*>(ctx) += strlen(line);
}

void count_pair(const char* key, const char* value, void* ctx) {
  if (key == nullptr || value == nullptr) abort();
  *static_cast<std::size_t*>(ctx) += strlen(key) + strlen(value);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string dir = fastid::fuzz::private_folder("client_fuzz");
  setenv("FASTID_SOCKET_DIR", dir.c_str(), 1);
  setenv("FASTID_CACHE_DIR", (dir + "/no-cache").c_str(), 1);
  setenv("FASTID_TIMEOUT_MS", "2000", 1);
  const int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  const std::string path = dir + "/nss";
  if (listener < 0 || path.size() >= sizeof sa.sun_path) abort();
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  if (bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(listener, 16) != 0) abort();
  std::thread(serve, listener).detach();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 256 * 1024) return 0;
  fastid::fuzz::Input in(data, size);
  const std::uint8_t call = in.byte();
  {
    std::lock_guard lock(g_mu);
    g_patch = in.byte();
    g_reply.assign(in.data(), in.data() + in.size());
  }
  // Small buffers on purpose: the ERANGE paths, and ASan sees any byte past them.
  const std::size_t len = 16 + (call >> 4) * 61;
  std::vector<char> buf(len);
  passwd pw{};
  group gr{};
  switch (call % 11) {
    case 0:
      if (fastid_getpwnam("alice", &pw, buf.data(), len) == FASTID_OK) check_passwd(pw, buf.data(), len);
      break;
    case 1:
      if (fastid_getpwuid(1000, &pw, buf.data(), len) == FASTID_OK) check_passwd(pw, buf.data(), len);
      break;
    case 2:
      if (fastid_getgrnam("staff", &gr, buf.data(), len) == FASTID_OK) check_group(gr, buf.data(), len);
      break;
    case 3:
      if (fastid_getgrgid(50, &gr, buf.data(), len) == FASTID_OK) check_group(gr, buf.data(), len);
      break;
    case 4: {
      gid_t gids[8];
      std::size_t n = call & 0x10 ? 8 : 0;
      (void)fastid_initgroups("alice", n ? gids : nullptr, &n);
      break;
    }
    case 5:
    case 6: {
      fastid_enum* e = nullptr;
      if (fastid_enum_open(&e, call % 11 == 5 ? FASTID_ENUM_USERS : FASTID_ENUM_GROUPS) != FASTID_OK) break;
      for (int i = 0; i < 8; ++i) {
        fastid_status st = call % 11 == 5 ? fastid_enum_next_user(e, &pw, buf.data(), len)
                                          : fastid_enum_next_group(e, &gr, buf.data(), len);
        if (st != FASTID_OK) break;
        if (call % 11 == 5) check_passwd(pw, buf.data(), len);
        else check_group(gr, buf.data(), len);
      }
      fastid_enum_close(e);
      break;
    }
    case 7: {
      fastid_netgroup* ng = nullptr;
      if (fastid_getnetgroup("hosts", &ng) != FASTID_OK) break;
      std::size_t total = 0;  // every string readable (ASan checks each byte strlen reads)
      for (std::size_t i = 0; i < ng->ntriples; ++i) {
        for (const char* s : {ng->triples[i].host, ng->triples[i].user, ng->triples[i].domain}) total += s ? strlen(s) : 0;
      }
      for (std::size_t i = 0; i < ng->nnested; ++i) total += strlen(ng->nested[i]);
      fastid_netgroup_free(ng);
      break;
    }
    case 8: {
      std::size_t total = 0;
      (void)fastid_ssh_keys("alice", count_key, &total);
      break;
    }
    case 9: {
      char version[32];
      if (fastid_ping(version, call & 0x10 ? sizeof version : 4) == FASTID_OK && memchr(version, '\0', sizeof version) == nullptr)
        abort();
      break;
    }
    default: {
      std::size_t total = 0;
      (void)fastid_daemon_status(count_pair, &total);
      break;
    }
  }
  return 0;
}
