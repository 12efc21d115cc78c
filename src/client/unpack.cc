#include "client/unpack.h"

#include <string.h>

namespace fastid::client {
namespace {

// A str field of min..max bytes without any byte of `forbidden` (NUL is
// always refused by WireReader::str).
bool read_field(proto::WireReader* r, Field* f, uint32_t min, uint32_t max, const char* forbidden) {
  uint32_t n = 0;
  const char* p = r->str(max, &n);
  if (r->bad || n < min) {
    r->bad = true;
    return false;
  }
  for (const char* c = forbidden; *c != '\0'; ++c) {
    if (memchr(p, *c, n) != nullptr) {
      r->bad = true;
      return false;
    }
  }
  f->p = p;
  f->n = n;
  return true;
}

constexpr const char* kFieldForbidden = ":\n";
constexpr const char* kMemberForbidden = ":,\n";

char* put(char* dst, const Field& f) {
  if (f.n) memcpy(dst, f.p, f.n);
  dst[f.n] = '\0';
  return dst + f.n + 1;
}

}  // namespace

bool decode_passwd(proto::WireReader* r, PasswdView* v) {
  using namespace proto;
  if (!read_field(r, &v->name, 1, kMaxNameLength, kFieldForbidden)) return false;
  if (!read_field(r, &v->passwd, 0, kMaxFieldLength, kFieldForbidden)) return false;
  v->uid = r->u32();
  v->gid = r->u32();
  if (!read_field(r, &v->gecos, 0, kMaxFieldLength, kFieldForbidden)) return false;
  if (!read_field(r, &v->dir, 0, kMaxFieldLength, kFieldForbidden)) return false;
  if (!read_field(r, &v->shell, 0, kMaxFieldLength, kFieldForbidden)) return false;
  return !r->bad;
}

bool decode_group(proto::WireReader* r, GroupView* v) {
  using namespace proto;
  if (!read_field(r, &v->name, 1, kMaxNameLength, kFieldForbidden)) return false;
  if (!read_field(r, &v->passwd, 0, kMaxFieldLength, kFieldForbidden)) return false;
  v->gid = r->u32();
  v->count = r->u32();
  // Each member takes at least 5 bytes (length + one byte): a count the rest
  // of the payload cannot hold is refused before any loop runs.
  if (r->bad || v->count > kMaxGroupMembers || v->count > r->remaining() / 5) {
    r->bad = true;
    return false;
  }
  v->members = r->p + r->pos;
  size_t start = r->pos;
  size_t chars = 0;
  for (uint32_t i = 0; i < v->count; ++i) {
    Field m;
    if (!read_field(r, &m, 1, kMaxNameLength, kMemberForbidden)) return false;
    chars += m.n;
  }
  v->members_len = r->pos - start;
  v->members_chars = chars;
  return true;
}

size_t passwd_size(const PasswdView& v) {
  return size_t{v.name.n} + v.passwd.n + v.gecos.n + v.dir.n + v.shell.n + 5;
}

size_t group_size(const GroupView& v, const char* buf) {
  constexpr size_t kAlign = alignof(char*);
  size_t pad = (kAlign - reinterpret_cast<uintptr_t>(buf) % kAlign) % kAlign;
  return pad + (size_t{v.count} + 1) * sizeof(char*) + v.name.n + 1 + v.passwd.n + 1 +
         v.members_chars + v.count;
}

fastid_status copy_passwd(const PasswdView& v, struct passwd* pw, char* buf, size_t buflen) {
  if (buf == nullptr || buflen < passwd_size(v)) return FASTID_ERANGE;
  char* p = buf;
  pw->pw_name = p;
  p = put(p, v.name);
  pw->pw_passwd = p;
  p = put(p, v.passwd);
  pw->pw_gecos = p;
  p = put(p, v.gecos);
  pw->pw_dir = p;
  p = put(p, v.dir);
  pw->pw_shell = p;
  put(p, v.shell);
  pw->pw_uid = v.uid;
  pw->pw_gid = v.gid;
  return FASTID_OK;
}

fastid_status copy_group(const GroupView& v, struct group* gr, char* buf, size_t buflen) {
  if (buf == nullptr || buflen < group_size(v, buf)) return FASTID_ERANGE;
  constexpr size_t kAlign = alignof(char*);
  size_t pad = (kAlign - reinterpret_cast<uintptr_t>(buf) % kAlign) % kAlign;
  char** mem = reinterpret_cast<char**>(buf + pad);
  char* p = reinterpret_cast<char*>(mem + v.count + 1);
  gr->gr_name = p;
  p = put(p, v.name);
  gr->gr_passwd = p;
  p = put(p, v.passwd);
  proto::WireReader r(v.members, v.members_len);
  for (uint32_t i = 0; i < v.count; ++i) {
    Field m;
    m.p = r.str(proto::kMaxNameLength, &m.n);  // validated by decode_group
    mem[i] = p;
    p = put(p, m);
  }
  mem[v.count] = nullptr;
  gr->gr_mem = mem;
  gr->gr_gid = v.gid;
  return FASTID_OK;
}

}  // namespace fastid::client
