// The fastid wire format: frame header, opcodes, status codes and the
// primitive encoders/decoders every hop uses (client <-> daemon, daemon <->
// provider worker, network clients). Header-only and libc-only: libfastid,
// which lives inside other people's processes, includes it without pulling in
// the C++ runtime. Nothing here allocates or throws. docs/protocol.md is the
// prose version of this file; keep them in step.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace fastid::proto {

inline constexpr uint8_t kVersion = 1;

// Frame header: 16 bytes, little-endian.
//   0  u8  version       kVersion
//   1  u8  flags         kFlagReply | kFlagTruncated
//   2  u16 opcode        Opcode
//   4  u32 request_id    chosen by the requester, echoed in the reply
//   8  u32 status        WireStatus (0 in requests)
//  12  u32 length        payload bytes that follow the header
inline constexpr size_t kHeaderSize = 16;

// Hard limits. A frame whose length exceeds kMaxPayload closes the connection;
// a request payload above kMaxRequestPayload is answered kTooLarge.
inline constexpr uint32_t kMaxPayload = 1u << 20;         // 1 MiB
inline constexpr uint32_t kMaxRequestPayload = 4096;
inline constexpr uint32_t kMaxNameLength = 256;            // user and group names
inline constexpr uint32_t kMaxFieldLength = 4096;          // gecos, dir, shell
inline constexpr uint32_t kMaxGroupMembers = 65536;
inline constexpr uint32_t kMaxInitgroups = 65536;
inline constexpr uint32_t kMaxPageRecords = 1024;
// Netgroups: a triple's field fits a host or domain name (253) and all three
// fit glibc innetgr()'s fixed 1024-byte buffer, which skips what does not.
inline constexpr uint32_t kMaxNetgroupField = 255;
inline constexpr uint32_t kMaxNetgroupTriples = 16384;  // after flattening
inline constexpr uint32_t kMaxNetgroupUnresolved = 1024;
// SSH keys: an authorized_keys line of a 16384-bit RSA key with options fits.
inline constexpr uint32_t kMaxSshKeys = 64;
inline constexpr uint32_t kMaxSshKeyLength = 8192;
// Authentication: longer passwords are refused at once, never processed (as
// pam_unix bounds them by PAM_MAX_RESP_SIZE); the PAM service name is for logs.
inline constexpr uint32_t kMaxPasswordLength = 512;
inline constexpr uint32_t kMaxServiceLength = 64;

inline constexpr uint8_t kFlagReply = 0x01;
inline constexpr uint8_t kFlagTruncated = 0x02;  // the reply did not fit (UDP)
inline constexpr uint8_t kKnownFlags = kFlagReply | kFlagTruncated;

enum class Opcode : uint16_t {
  kPing = 0x0001,        // -> str server_version
  kStatus = 0x0002,      // -> u32 n, n x (str key, str value)
  kGetpwnam = 0x0010,    // str name -> passwd record
  kGetpwuid = 0x0011,    // u32 uid -> passwd record
  kGetgrnam = 0x0012,    // str name -> group record
  kGetgrgid = 0x0013,    // u32 gid -> group record
  kInitgroups = 0x0014,  // str user -> u32 n, n x u32 gid
  kPwentPage = 0x0015,   // u32 cursor, u32 max -> u32 next, u32 more, u32 n, n x passwd
  kGrentPage = 0x0016,   // u32 cursor, u32 max -> u32 next, u32 more, u32 n, n x group
  kNetgroup = 0x0017,    // str name -> str name, u32 n, n x (str host, str user, str domain),
                         //             u32 m, m x str unresolved nested netgroup
  kSshKeys = 0x0018,     // str user -> str user, u32 n, n x str authorized_keys line
  // Authentication (0x20-0x2F): accepted only on the pam socket, never on a
  // network listener (opcode_is_auth).
  // str user, str password, str service -> u32 AuthResult, str message
  // [, str credential cache name (a success only; proto/ccache_name.h)]
  kAuthenticate = 0x0020,
  kAccount = 0x0021,       // str user, str service -> u32 AuthResult, str message
  // str user, str old password, str new password, str service -> u32 AuthResult,
  // str message. An empty old and new password: a preliminary check only (would
  // a source change this user's password?), nothing is changed.
  kChangePassword = 0x0022,
  // Admin: accepted only on the admin socket, from root.
  kCacheInvalidate = 0x0030,  // u32 map mask (kMapPasswd|kMapGroup|kMapInitgroups) -> str message
  kCacheForget = 0x0031,      // u32 entry kind (kEntryUser|kEntryGroup), str name or decimal id -> str message
  kCacheShow = 0x0032,        // u32 entry kind, str name or decimal id -> u32 n, n x (str key, str value)
  kSetLogLevel = 0x0033,      // u32 level (0 debug, 1 info, 2 warning, 3 error) -> str message
};

// What kCacheForget and kCacheShow name: a user (passwd and initgroups) or a group.
inline constexpr uint32_t kEntryUser = 1;
inline constexpr uint32_t kEntryGroup = 2;

inline constexpr uint32_t kMapPasswd = 1;
inline constexpr uint32_t kMapGroup = 2;
inline constexpr uint32_t kMapInitgroups = 4;
inline constexpr uint32_t kMapAll = kMapPasswd | kMapGroup | kMapInitgroups;

inline bool opcode_known(uint16_t op) {
  switch (static_cast<Opcode>(op)) {
    case Opcode::kPing:
    case Opcode::kStatus:
    case Opcode::kGetpwnam:
    case Opcode::kGetpwuid:
    case Opcode::kGetgrnam:
    case Opcode::kGetgrgid:
    case Opcode::kInitgroups:
    case Opcode::kPwentPage:
    case Opcode::kGrentPage:
    case Opcode::kNetgroup:
    case Opcode::kSshKeys:
    case Opcode::kAuthenticate:
    case Opcode::kAccount:
    case Opcode::kChangePassword:
    case Opcode::kCacheInvalidate:
    case Opcode::kCacheForget:
    case Opcode::kCacheShow:
    case Opcode::kSetLogLevel:
      return true;
  }
  return false;
}

inline bool opcode_is_admin(uint16_t op) { return op >= 0x0030 && op <= 0x003F; }
// The authentication range: requests that carry secrets or answer for them.
inline bool opcode_is_auth(uint16_t op) { return op >= 0x0020 && op <= 0x002F; }

// The answer of kAuthenticate and kAccount (a kOk reply): what the PAM module
// returns to its caller, one PAM code each.
enum class AuthResult : uint32_t {
  kSuccess = 0,          // PAM_SUCCESS
  kUserUnknown = 1,      // PAM_USER_UNKNOWN
  kAuthError = 2,        // PAM_AUTH_ERR: the source rejected the password
  kUnavailable = 3,      // PAM_AUTHINFO_UNAVAIL: no source could answer
  kLocked = 4,           // PAM_MAXTRIES: locked out after failures, or rate-limited
  kPermissionDenied = 5, // PAM_PERM_DENIED: this caller may not ask; account locked
  kAccountExpired = 6,   // PAM_ACCT_EXPIRED
  kPasswordExpired = 7,  // PAM_NEW_AUTHTOK_REQD
  // kChangePassword only (kAuthError there: the old password was rejected):
  kTokenError = 8,       // PAM_AUTHTOK_ERR: the new password was refused (policy)
  kIgnore = 9,           // PAM_IGNORE: the user's source does not change passwords
};
inline constexpr uint32_t kAuthResultMax = 9;

// What the network listeners (TCP, UDP) accept: ping and the lookups of public
// data (0x10-0x1F). Status, authentication and admin requests are refused there.
inline bool opcode_is_public(uint16_t op) {
  return op == static_cast<uint16_t>(Opcode::kPing) || (op >= 0x10 && op <= 0x1F);
}

// Status of a reply. An error reply's payload is one str: a message for humans.
enum class WireStatus : uint32_t {
  kOk = 0,
  kNotFound = 1,        // no such name or id (NSS_STATUS_NOTFOUND)
  kUnavailable = 2,     // backend unreachable; try again (NSS_STATUS_UNAVAIL)
  kBusy = 3,            // overloaded; shed at once, try again
  kTimeout = 4,         // the backend did not answer in time
  kBadRequest = 5,      // the payload could not be decoded
  kUnknownOpcode = 6,
  kTooLarge = 7,        // request payload above kMaxRequestPayload
  kPermissionDenied = 8,
  kInternal = 9,
  kUnsupportedVersion = 10,
};

struct FrameHeader {
  uint8_t version;
  uint8_t flags;
  uint16_t opcode;
  uint32_t request_id;
  uint32_t status;
  uint32_t length;
};

inline void store_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void store_u32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}
inline uint16_t load_u16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
inline uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

inline void encode_header(const FrameHeader& h, uint8_t out[kHeaderSize]) {
  out[0] = h.version;
  out[1] = h.flags;
  store_u16(out + 2, h.opcode);
  store_u32(out + 4, h.request_id);
  store_u32(out + 8, h.status);
  store_u32(out + 12, h.length);
}

enum class HeaderCheck { kOk, kBadVersion, kBadFlags, kTooLong };

// Decodes and checks a header. kBadVersion, kBadFlags and kTooLong mean the
// stream cannot be trusted any more: the connection is closed.
inline HeaderCheck decode_header(const uint8_t in[kHeaderSize], FrameHeader* h) {
  h->version = in[0];
  h->flags = in[1];
  h->opcode = load_u16(in + 2);
  h->request_id = load_u32(in + 4);
  h->status = load_u32(in + 8);
  h->length = load_u32(in + 12);
  if (h->version != kVersion) return HeaderCheck::kBadVersion;
  if ((h->flags & ~kKnownFlags) != 0) return HeaderCheck::kBadFlags;
  if (h->length > kMaxPayload) return HeaderCheck::kTooLong;
  return HeaderCheck::kOk;
}

// Appends primitives to a caller-owned buffer. Never writes past `cap`: on
// overflow it sets `overflow` and ignores further writes, so a caller checks once.
struct WireWriter {
  uint8_t* buf;
  size_t cap;
  size_t len;
  bool overflow;

  WireWriter(uint8_t* b, size_t c) : buf(b), cap(c), len(0), overflow(false) {}

  bool room(size_t n) {
    if (overflow || cap - len < n) {
      overflow = true;
      return false;
    }
    return true;
  }
  void u32(uint32_t v) {
    if (room(4)) {
      store_u32(buf + len, v);
      len += 4;
    }
  }
  void bytes(const void* p, size_t n) {
    if (room(n)) {
      if (n) memcpy(buf + len, p, n);
      len += n;
    }
  }
  // str: u32 length, then the bytes (no terminating NUL).
  void str(const char* s, size_t n) {
    if (n > 0xffffffffu) {
      overflow = true;
      return;
    }
    if (room(4 + n)) {
      u32(static_cast<uint32_t>(n));
      bytes(s, n);
    }
  }
  void cstr(const char* s) { str(s, strlen(s)); }
};

// Reads primitives from a received payload. Every read is bounds-checked; on
// the first failure `bad` is set and every later read returns zero/empty.
struct WireReader {
  const uint8_t* p;
  size_t len;
  size_t pos;
  bool bad;

  WireReader(const uint8_t* data, size_t n) : p(data), len(n), pos(0), bad(false) {}

  size_t remaining() const { return bad ? 0 : len - pos; }
  bool at_end() const { return !bad && pos == len; }

  uint32_t u32() {
    if (bad || len - pos < 4) {
      bad = true;
      return 0;
    }
    uint32_t v = load_u32(p + pos);
    pos += 4;
    return v;
  }
  // A str of at most `max` bytes that contains no NUL byte (so it can be
  // handed to C as a string). Returns a pointer into the payload, not terminated.
  const char* str(uint32_t max, uint32_t* out_len) {
    uint32_t n = u32();
    if (bad || n > max || len - pos < n || memchr(p + pos, 0, n) != nullptr) {
      bad = true;
      *out_len = 0;
      return "";
    }
    const char* s = reinterpret_cast<const char*>(p + pos);
    pos += n;
    *out_len = n;
    return s;
  }
};

}  // namespace fastid::proto
