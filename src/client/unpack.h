// Passwd and group records: decoded from a reply payload into views, then
// copied into a caller's struct and buffer the way glibc's *_r functions do.
// Decoding checks everything before anything is copied: lengths within the
// wire limits, no NUL, no ':' or newline (nor ',' in member names), counts
// within limits. Views point into the payload and live as long as it does.
#pragma once

#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdint.h>

#include "fastid/fastid.h"
#include "proto/wire.h"

namespace fastid::client {

struct Field {
  const char* p = "";
  uint32_t n = 0;
};

struct PasswdView {
  Field name, passwd, gecos, dir, shell;
  uint32_t uid = 0, gid = 0;
};

struct GroupView {
  Field name, passwd;
  uint32_t gid = 0;
  uint32_t count = 0;               // members
  const uint8_t* members = nullptr; // count x str, already validated
  size_t members_len = 0;           // bytes of that encoding
  size_t members_chars = 0;         // sum of the member name lengths
};

// Reads one record at r's position. False (and r->bad) if it does not decode.
bool decode_passwd(proto::WireReader* r, PasswdView* v);
bool decode_group(proto::WireReader* r, GroupView* v);

// Copies into the caller's struct and buffer. FASTID_ERANGE if buf is too small
// (exactly the needed size works; gr_mem is aligned for char* inside buf).
fastid_status copy_passwd(const PasswdView& v, struct passwd* pw, char* buf, size_t buflen);
fastid_status copy_group(const GroupView& v, struct group* gr, char* buf, size_t buflen);

// Bytes copy_passwd / copy_group need for this record with this buffer address.
size_t passwd_size(const PasswdView& v);
size_t group_size(const GroupView& v, const char* buf);

}  // namespace fastid::client
