// The public calls of the maps beyond passwd and group (include/fastid/fastid.h):
// netgroups and SSH keys. Neither is in the fast cache; both replies are
// validated whole before anything reaches the caller.
#include <stdlib.h>
#include <string.h>

#include "client/call.h"
#include "client/entry.h"
#include "client/last_message.h"
#include "fastid/fastid.h"
#include "proto/wire.h"

#define FASTID_PUBLIC extern "C" __attribute__((visibility("default")))

using fastid::client::begin;
using fastid::client::Call;
using fastid::client::check_name;
using fastid::client::ErrnoKeeper;
using fastid::client::set_message;
using fastid::proto::Opcode;
using fastid::proto::WireReader;
namespace proto = fastid::proto;

namespace {

// Whether the reply's first string is exactly `name` (the one asked for).
bool names(WireReader& r, const char* name, size_t len) {
  uint32_t n = 0;
  const char* s = r.str(proto::kMaxNameLength, &n);
  return !r.bad && n == len && memcmp(s, name, len) == 0;
}

// Walks a netgroup reply: counts the triples and nested names and the bytes
// their strings need (a NUL each; empty fields need none: they are NULL).
bool measure_netgroup(WireReader& r, uint32_t* ntriples, uint32_t* nnested, size_t* bytes) {
  *ntriples = r.u32();
  if (r.bad || *ntriples > proto::kMaxNetgroupTriples) return false;
  for (uint32_t i = 0; i < *ntriples * 3 && !r.bad; ++i) {
    uint32_t n = 0;
    r.str(proto::kMaxNetgroupField, &n);
    if (n > 0) *bytes += n + 1;
  }
  *nnested = r.u32();
  if (r.bad || *nnested > proto::kMaxNetgroupUnresolved) return false;
  for (uint32_t i = 0; i < *nnested && !r.bad; ++i) {
    uint32_t n = 0;
    r.str(proto::kMaxNameLength, &n);
    if (!r.bad && n == 0) return false;
    *bytes += n + 1;
  }
  return r.at_end();
}

const char* take(WireReader& r, uint32_t max, char** strings) {
  uint32_t n = 0;
  const char* s = r.str(max, &n);
  if (n == 0) return nullptr;
  char* out = *strings;
  memcpy(out, s, n);
  out[n] = '\0';
  *strings += n + 1;
  return out;
}

}  // namespace

FASTID_PUBLIC fastid_status fastid_getnetgroup(const char* name, fastid_netgroup** out) {
  ErrnoKeeper keep;
  fastid_status st = begin(name != nullptr && out != nullptr);
  size_t len = 0;
  if (st == FASTID_OK) st = check_name(name, &len);
  if (st != FASTID_OK) return st;
  if (len == 0) return FASTID_NOT_FOUND;
  *out = nullptr;
  Call call(Opcode::kNetgroup);
  call.request().str(name, len);
  st = call.run();
  if (st != FASTID_OK) return st;
  WireReader r(call.payload(), call.length());
  uint32_t ntriples = 0, nnested = 0;
  size_t bytes = 0;
  if (!names(r, name, len)) return call.bad_payload("the netgroup is not the one asked for");
  if (!measure_netgroup(r, &ntriples, &nnested, &bytes)) return call.bad_payload("netgroup does not decode");
  // One block: the header, the triples, the nested names' pointers, the strings.
  const size_t size = sizeof(fastid_netgroup) + ntriples * sizeof(fastid_netgroup_triple) +
                      nnested * sizeof(char*) + bytes;
  auto* ng = static_cast<fastid_netgroup*>(malloc(size));
  if (ng == nullptr) {
    set_message("out of memory");
    return FASTID_INTERNAL;
  }
  auto* triples = reinterpret_cast<fastid_netgroup_triple*>(ng + 1);
  auto* nested = reinterpret_cast<const char**>(triples + ntriples);
  char* strings = reinterpret_cast<char*>(nested + nnested);
  WireReader again(call.payload(), call.length());
  (void)names(again, name, len);
  again.u32();
  for (uint32_t i = 0; i < ntriples; ++i) {
    triples[i].host = take(again, proto::kMaxNetgroupField, &strings);
    triples[i].user = take(again, proto::kMaxNetgroupField, &strings);
    triples[i].domain = take(again, proto::kMaxNetgroupField, &strings);
  }
  again.u32();
  for (uint32_t i = 0; i < nnested; ++i) nested[i] = take(again, proto::kMaxNameLength, &strings);
  ng->ntriples = ntriples;
  ng->triples = triples;
  ng->nnested = nnested;
  ng->nested = nested;
  *out = ng;
  return FASTID_OK;
}

FASTID_PUBLIC void fastid_netgroup_free(fastid_netgroup* netgroup) { free(netgroup); }

FASTID_PUBLIC fastid_status fastid_ssh_keys(const char* user, fastid_ssh_key_cb cb, void* ctx) {
  ErrnoKeeper keep;
  fastid_status st = begin(user != nullptr && cb != nullptr);
  size_t len = 0;
  if (st == FASTID_OK) st = check_name(user, &len);
  if (st != FASTID_OK) return st;
  if (len == 0) return FASTID_NOT_FOUND;
  Call call(Opcode::kSshKeys);
  call.request().str(user, len);
  st = call.run();
  if (st != FASTID_OK) return st;
  // Validate everything first, so that a bad reply makes no callback at all.
  WireReader r(call.payload(), call.length());
  if (!names(r, user, len)) return call.bad_payload("the keys are not of the user asked for");
  const uint32_t n = r.u32();
  if (r.bad || n > proto::kMaxSshKeys) return call.bad_payload("key count does not decode");
  for (uint32_t i = 0; i < n && !r.bad; ++i) {
    uint32_t kl = 0;
    const char* k = r.str(proto::kMaxSshKeyLength, &kl);
    // One line each: a newline would smuggle a second key into authorized_keys.
    for (uint32_t j = 0; j < kl && !r.bad; ++j) {
      const auto c = static_cast<unsigned char>(k[j]);
      if (c < 0x20 || c == 0x7f) r.bad = true;
    }
    if (!r.bad && kl == 0) r.bad = true;
  }
  if (!r.at_end()) return call.bad_payload("keys do not decode");
  char* line = static_cast<char*>(malloc(proto::kMaxSshKeyLength + 1));
  if (line == nullptr) {
    set_message("out of memory");
    return FASTID_INTERNAL;
  }
  WireReader again(call.payload(), call.length());
  (void)names(again, user, len);
  again.u32();
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t kl = 0;
    const char* k = again.str(proto::kMaxSshKeyLength, &kl);
    memcpy(line, k, kl);
    line[kl] = '\0';
    cb(line, ctx);
  }
  free(line);
  return FASTID_OK;
}
