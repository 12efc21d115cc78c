// The public C API (include/fastid/fastid.h) on top of Call and unpack.
// Every entry point keeps the caller's errno, resets the thread's message, and
// validates its arguments before any I/O.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>

#include "client/call.h"
#include "client/entry.h"
#include "client/last_message.h"
#include "client/pool.h"
#include "client/retry_stash.h"
#include "client/unpack.h"
#include "fastcache/reader.h"
#include "fastid/fastid.h"
#include "proto/wire.h"

#define FASTID_PUBLIC extern "C" __attribute__((visibility("default")))

using fastid::client::begin;
using fastid::client::Call;
using fastid::client::check_name;
using fastid::client::ErrnoKeeper;
using fastid::client::clear_message;
using fastid::client::GroupView;
using fastid::client::PasswdView;
using fastid::client::set_message;
using fastid::proto::Opcode;
using fastid::proto::WireReader;

struct fastid_enum {
  int kind;
  bool started;      // a page was fetched
  bool more;         // the daemon has pages after the current one
  uint32_t cursor;   // to send for the next page
  uint8_t* page;     // payload of the current page (malloc'd, validated)
  uint32_t page_len;
  size_t pos;        // reader position of the next record in page
  uint32_t left;     // records left in page
};

namespace {

constexpr uint32_t kPageRecords = 256;     // records asked per enumeration page
constexpr uint32_t kMaxStatusPairs = 4096;
constexpr int kMaxEmptyPages = 64;


// The fast cache, consulted before the socket. A constant-initialised global:
// no constructor, no exit handler. Its directory is set once, by the first
// lookup: FASTID_CACHE_DIR (ignored in setuid programs), else the default.
// Maps are trusted when root, this process's user or the user the daemon
// publishes as (client::cache_publisher()) owns them.
// While one thread sets it, the others simply go to the socket.
constinit fastid::fastcache::FastCacheReader g_cache;
std::atomic<int> g_cache_state{0};  // 0 unset, 1 being set, 2 ready

fastid::fastcache::FastCacheReader* cache() {
  int state = g_cache_state.load(std::memory_order_acquire);
  if (state == 2) return &g_cache;
  int expected = 0;
  if (state == 0 && g_cache_state.compare_exchange_strong(expected, 1)) {
    const char* dir = secure_getenv("FASTID_CACHE_DIR");
    g_cache.set_directory(dir != nullptr && *dir != '\0' ? dir : fastid::fastcache::kDefaultCacheDir,
                          fastid::client::cache_publisher());
    g_cache_state.store(2, std::memory_order_release);
    return &g_cache;
  }
  return nullptr;
}

// A cache answer as a status; kMiss is FASTID_UNAVAILABLE here, meaning "ask the daemon".
bool cache_answered(fastid::fastcache::LookupResult r, fastid_status* st) {
  using fastid::fastcache::LookupResult;
  switch (r) {
    case LookupResult::kHit: *st = FASTID_OK; return true;
    case LookupResult::kNegativeHit: *st = FASTID_NOT_FOUND; return true;
    case LookupResult::kErange:
      set_message("buffer too small");
      *st = FASTID_ERANGE;
      return true;
    case LookupResult::kMiss: break;
  }
  return false;
}

bool buffer_ok(const char* buf, size_t buflen) { return buf != nullptr || buflen == 0; }

// A reply payload: from this thread's retry stash when the same request just
// ended in ERANGE (the caller is retrying with a bigger buffer), else from the daemon.
struct Reply {
  const uint8_t* payload = nullptr;
  uint32_t length = 0;
  bool stashed = false;
};

fastid_status get_reply(Call& call, Reply* out) {
  uint32_t n = 0;
  if (const uint8_t* p =
          fastid::client::stash_find(call.opcode(), call.request_bytes(), call.request_length(), &n)) {
    *out = {p, n, true};
    return FASTID_OK;
  }
  fastid_status st = call.run();
  if (st != FASTID_OK) return st;
  *out = {call.payload(), call.length(), false};
  return FASTID_OK;
}

// After the copy: a daemon reply that did not fit is kept for the retry; a
// stashed reply that fitted has done its job.
fastid_status settle(Call& call, const Reply& reply, fastid_status st) {
  if (st == FASTID_ERANGE && !reply.stashed)
    fastid::client::stash_keep(call.opcode(), call.request_bytes(), call.request_length(),
                               reply.payload, reply.length);
  else if (st == FASTID_OK && reply.stashed)
    fastid::client::stash_drop();
  return st;
}

fastid_status bad_reply(Call& call, const Reply& reply, const char* what) {
  if (!reply.stashed) return call.bad_payload(what);
  // Validated before it was stashed, so this is a bug of ours, not the daemon's.
  fastid::client::stash_drop();
  set_message("internal error: stashed reply does not decode: %s", what);
  return FASTID_INTERNAL;
}

fastid_status fetch_passwd(Call& call, const uint32_t* want_uid, struct passwd* pw, char* buf,
                           size_t buflen) {
  Reply reply;
  fastid_status st = get_reply(call, &reply);
  if (st != FASTID_OK) return st;
  WireReader r(reply.payload, reply.length);
  PasswdView v;
  if (!decode_passwd(&r, &v) || !r.at_end()) return bad_reply(call, reply, "passwd record does not decode");
  if (want_uid != nullptr && v.uid != *want_uid) return bad_reply(call, reply, "uid is not the one asked for");
  st = copy_passwd(v, pw, buf, buflen);
  if (st == FASTID_ERANGE) set_message("buffer too small: %zu bytes needed", passwd_size(v));
  return settle(call, reply, st);
}

fastid_status fetch_group(Call& call, const uint32_t* want_gid, struct group* gr, char* buf,
                          size_t buflen) {
  Reply reply;
  fastid_status st = get_reply(call, &reply);
  if (st != FASTID_OK) return st;
  WireReader r(reply.payload, reply.length);
  GroupView v;
  if (!decode_group(&r, &v) || !r.at_end()) return bad_reply(call, reply, "group record does not decode");
  if (want_gid != nullptr && v.gid != *want_gid) return bad_reply(call, reply, "gid is not the one asked for");
  st = copy_group(v, gr, buf, buflen);
  if (st == FASTID_ERANGE) set_message("buffer too small: %zu bytes needed", group_size(v, buf));
  return settle(call, reply, st);
}

// Fetches enumeration pages until one has records. Precondition: e->left == 0.
fastid_status enum_fill(fastid_enum* e) {
  for (int empty = 0;; ++empty) {
    if (e->started && !e->more) {
      set_message("end of enumeration");
      return FASTID_NOT_FOUND;
    }
    if (empty == kMaxEmptyPages) {
      set_message("malformed reply from the daemon: %d empty pages in a row", kMaxEmptyPages);
      return FASTID_PROTOCOL_ERROR;
    }
    bool users = e->kind == FASTID_ENUM_USERS;
    Call call(users ? Opcode::kPwentPage : Opcode::kGrentPage);
    call.request().u32(e->cursor);
    call.request().u32(kPageRecords);
    fastid_status st = call.run();
    if (st != FASTID_OK) return st;
    WireReader r(call.payload(), call.length());
    uint32_t next = r.u32();
    uint32_t more = r.u32();
    uint32_t n = r.u32();
    if (r.bad || more > 1 || n > kPageRecords || n > fastid::proto::kMaxPageRecords)
      return call.bad_payload("page header does not decode");
    if (more && next == e->cursor && e->started) return call.bad_payload("page cursor does not advance");
    size_t first = r.pos;
    for (uint32_t i = 0; i < n; ++i) {
      bool ok;
      if (users) {
        PasswdView v;
        ok = decode_passwd(&r, &v);
      } else {
        GroupView v;
        ok = decode_group(&r, &v);
      }
      if (!ok) return call.bad_payload("page record does not decode");
    }
    if (!r.at_end()) return call.bad_payload("bytes after the page records");
    uint8_t* copy = call.copy_payload();
    if (copy == nullptr) {
      set_message("out of memory for an enumeration page");
      return FASTID_INTERNAL;
    }
    free(e->page);
    e->page = copy;
    e->page_len = call.length();
    e->pos = first;
    e->left = n;
    e->cursor = next;
    e->more = more != 0;
    e->started = true;
    if (n > 0) return FASTID_OK;
  }
}

}  // namespace

FASTID_PUBLIC const char* fastid_strerror(fastid_status s) {
  switch (s) {
    case FASTID_OK: return "success";
    case FASTID_NOT_FOUND: return "not found";
    case FASTID_UNAVAILABLE: return "fastid daemon unavailable";
    case FASTID_BUSY: return "fastid daemon busy";
    case FASTID_TIMEOUT: return "timed out waiting for the fastid daemon";
    case FASTID_ERANGE: return "buffer too small";
    case FASTID_PROTOCOL_ERROR: return "malformed reply from the fastid daemon";
    case FASTID_INVALID_ARGUMENT: return "invalid argument";
    case FASTID_PERMISSION_DENIED: return "permission denied";
    case FASTID_INTERNAL: return "internal error";
    case FASTID_TRY_AGAIN: return "directory unavailable, try again later";
  }
  return "unknown fastid status";
}

FASTID_PUBLIC const char* fastid_last_message(void) { return fastid::client::message(); }

FASTID_PUBLIC fastid_status fastid_getpwnam(const char* name, struct passwd* pw, char* buf,
                                            size_t buflen) {
  ErrnoKeeper keep;
  fastid_status st = begin(name != nullptr && pw != nullptr && buffer_ok(buf, buflen));
  size_t len = 0;
  if (st == FASTID_OK) st = check_name(name, &len);
  if (st != FASTID_OK) return st;
  if (auto* c = cache(); c && cache_answered(c->passwd_by_name(name, pw, buf, buflen), &st)) return st;
  Call call(Opcode::kGetpwnam);
  call.request().str(name, len);
  return fetch_passwd(call, nullptr, pw, buf, buflen);
}

FASTID_PUBLIC fastid_status fastid_getpwuid(uid_t uid, struct passwd* pw, char* buf, size_t buflen) {
  ErrnoKeeper keep;
  fastid_status st = begin(pw != nullptr && buffer_ok(buf, buflen));
  if (st != FASTID_OK) return st;
  if (auto* c = cache(); c && cache_answered(c->passwd_by_uid(uid, pw, buf, buflen), &st)) return st;
  Call call(Opcode::kGetpwuid);
  call.request().u32(uid);
  uint32_t want = uid;
  return fetch_passwd(call, &want, pw, buf, buflen);
}

FASTID_PUBLIC fastid_status fastid_getgrnam(const char* name, struct group* gr, char* buf,
                                            size_t buflen) {
  ErrnoKeeper keep;
  fastid_status st = begin(name != nullptr && gr != nullptr && buffer_ok(buf, buflen));
  size_t len = 0;
  if (st == FASTID_OK) st = check_name(name, &len);
  if (st != FASTID_OK) return st;
  if (auto* c = cache(); c && cache_answered(c->group_by_name(name, gr, buf, buflen), &st)) return st;
  Call call(Opcode::kGetgrnam);
  call.request().str(name, len);
  return fetch_group(call, nullptr, gr, buf, buflen);
}

FASTID_PUBLIC fastid_status fastid_getgrgid(gid_t gid, struct group* gr, char* buf, size_t buflen) {
  ErrnoKeeper keep;
  fastid_status st = begin(gr != nullptr && buffer_ok(buf, buflen));
  if (st != FASTID_OK) return st;
  if (auto* c = cache(); c && cache_answered(c->group_by_gid(gid, gr, buf, buflen), &st)) return st;
  Call call(Opcode::kGetgrgid);
  call.request().u32(gid);
  uint32_t want = gid;
  return fetch_group(call, &want, gr, buf, buflen);
}

FASTID_PUBLIC fastid_status fastid_initgroups(const char* user, gid_t* gids, size_t* ngids) {
  ErrnoKeeper keep;
  fastid_status st = begin(user != nullptr && ngids != nullptr && (gids != nullptr || *ngids == 0));
  size_t len = 0;
  if (st == FASTID_OK) st = check_name(user, &len);
  if (st != FASTID_OK) return st;
  if (auto* c = cache(); c && cache_answered(c->initgroups(user, gids, ngids), &st)) return st;
  Call call(Opcode::kInitgroups);
  call.request().str(user, len);
  Reply reply;
  st = get_reply(call, &reply);
  if (st != FASTID_OK) return st;
  WireReader r(reply.payload, reply.length);
  uint32_t n = r.u32();
  if (r.bad || n > fastid::proto::kMaxInitgroups || r.remaining() != size_t{n} * 4)
    return bad_reply(call, reply, "group list does not decode");
  size_t cap = *ngids;
  for (uint32_t i = 0; i < n && i < cap; ++i) gids[i] = r.u32();
  *ngids = n;
  st = FASTID_OK;
  if (n > cap) {
    set_message("buffer too small: %u groups", n);
    st = FASTID_ERANGE;
  }
  return settle(call, reply, st);
}

FASTID_PUBLIC fastid_status fastid_enum_open(fastid_enum** e, int kind) {
  ErrnoKeeper keep;
  fastid_status st =
      begin(e != nullptr && (kind == FASTID_ENUM_USERS || kind == FASTID_ENUM_GROUPS));
  if (st != FASTID_OK) return st;
  auto* h = static_cast<fastid_enum*>(calloc(1, sizeof(fastid_enum)));
  if (h == nullptr) {
    set_message("out of memory");
    return FASTID_INTERNAL;
  }
  h->kind = kind;
  *e = h;
  return FASTID_OK;
}

FASTID_PUBLIC fastid_status fastid_enum_next_user(fastid_enum* e, struct passwd* pw, char* buf,
                                                  size_t buflen) {
  ErrnoKeeper keep;
  fastid_status st = begin(e != nullptr && e->kind == FASTID_ENUM_USERS && pw != nullptr &&
                           buffer_ok(buf, buflen));
  if (st == FASTID_OK && e->left == 0) st = enum_fill(e);
  if (st != FASTID_OK) return st;
  WireReader r(e->page, e->page_len);
  r.pos = e->pos;
  PasswdView v;
  if (!decode_passwd(&r, &v)) return FASTID_INTERNAL;  // validated when the page came
  st = copy_passwd(v, pw, buf, buflen);
  if (st == FASTID_ERANGE) {
    set_message("buffer too small: %zu bytes needed", passwd_size(v));
    return st;  // same record next time
  }
  e->pos = r.pos;
  e->left--;
  return FASTID_OK;
}

FASTID_PUBLIC fastid_status fastid_enum_next_group(fastid_enum* e, struct group* gr, char* buf,
                                                   size_t buflen) {
  ErrnoKeeper keep;
  fastid_status st = begin(e != nullptr && e->kind == FASTID_ENUM_GROUPS && gr != nullptr &&
                           buffer_ok(buf, buflen));
  if (st == FASTID_OK && e->left == 0) st = enum_fill(e);
  if (st != FASTID_OK) return st;
  WireReader r(e->page, e->page_len);
  r.pos = e->pos;
  GroupView v;
  if (!decode_group(&r, &v)) return FASTID_INTERNAL;  // validated when the page came
  st = copy_group(v, gr, buf, buflen);
  if (st == FASTID_ERANGE) {
    set_message("buffer too small: %zu bytes needed", group_size(v, buf));
    return st;
  }
  e->pos = r.pos;
  e->left--;
  return FASTID_OK;
}

FASTID_PUBLIC void fastid_enum_close(fastid_enum* e) {
  if (e == nullptr) return;
  ErrnoKeeper keep;
  free(e->page);
  free(e);
}

FASTID_PUBLIC fastid_status fastid_ping(char* version, size_t len) {
  ErrnoKeeper keep;
  fastid_status st = begin(version != nullptr || len == 0);
  if (st != FASTID_OK) return st;
  Call call(Opcode::kPing);
  st = call.run();
  if (st != FASTID_OK) return st;
  WireReader r(call.payload(), call.length());
  uint32_t n = 0;
  const char* s = r.str(fastid::proto::kMaxFieldLength, &n);
  if (!r.at_end()) return call.bad_payload("version does not decode");
  if (version == nullptr) return FASTID_OK;
  if (len < size_t{n} + 1) {
    set_message("buffer too small: %u bytes needed", n + 1);
    return FASTID_ERANGE;
  }
  memcpy(version, s, n);
  version[n] = '\0';
  return FASTID_OK;
}

FASTID_PUBLIC fastid_status fastid_daemon_status(fastid_status_cb cb, void* ctx) {
  ErrnoKeeper keep;
  fastid_status st = begin(cb != nullptr);
  if (st != FASTID_OK) return st;
  Call call(Opcode::kStatus);
  st = call.run();
  if (st != FASTID_OK) return st;
  using fastid::proto::kMaxFieldLength;
  // Validate everything first, so that a bad reply makes no callback at all.
  WireReader r(call.payload(), call.length());
  uint32_t n = r.u32();
  if (r.bad || n > kMaxStatusPairs) return call.bad_payload("status count does not decode");
  for (uint32_t i = 0; i < n && !r.bad; ++i) {
    uint32_t kl = 0, vl = 0;
    r.str(kMaxFieldLength, &kl);
    r.str(kMaxFieldLength, &vl);
  }
  if (!r.at_end()) return call.bad_payload("status pairs do not decode");
  char* key = static_cast<char*>(malloc(2 * (kMaxFieldLength + 1)));
  if (key == nullptr) {
    set_message("out of memory");
    return FASTID_INTERNAL;
  }
  char* value = key + kMaxFieldLength + 1;
  WireReader again(call.payload(), call.length());
  again.u32();
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t kl = 0, vl = 0;
    const char* k = again.str(kMaxFieldLength, &kl);
    const char* v = again.str(kMaxFieldLength, &vl);
    memcpy(key, k, kl);
    key[kl] = '\0';
    memcpy(value, v, vl);
    value[vl] = '\0';
    cb(key, value, ctx);
  }
  free(key);
  return FASTID_OK;
}
