// The fast cache record format, written once for the writer (fastidd) and
// the reader (libfastid): the layout of a record in the ring, how the writer
// encodes one in private memory, and how either side decodes and bounds-checks
// a record it finds in a mapping. Header-only and libc-only, like layout.h
// (which has the file's header, index and ring); docs/fastcache.md is the
// prose version: keep them in step.
#pragma once

#include <stdint.h>
#include <string.h>

#include "fastcache/layout.h"

namespace fastid::fastcache {

// ---- Layout (8-byte aligned; a record never straddles the end of the ring) ----------
//  0 u8  type      kRecPasswd / kRecGroup / kRecInitgroups / kRecPad
//  1 u8  flags     kFlagNegativeByName | kFlagNegativeById
//  2 u16 reserved  0
//  4 u32 length    bytes of the whole record, multiple of 8
//  8 u64 expires   CLOCK_REALTIME ns; at or after it the record is a miss
// 16 u32 id        uid (passwd), gid (group), 0 (initgroups); negative by
//                  name: the by-name index slot it was published in (so that
//                  the writer can remove the entry when the record expires)
// 20 u32 gid       passwd: primary gid; else 0
// 24 u32 count     group: members; initgroups: gids; passwd: 0
// 28 u32 strings   bytes of the string area, every NUL included
// 32 u16 len0      bytes of the first string (the name), NUL excluded
// 34 u16 len1      passwd, group: the passwd field's bytes; else 0
// 36 u16 len2      passwd: gecos bytes; else 0
// 38 u16 len3      passwd: dir bytes; else 0 (a passwd's shell is the rest)
// 40 string area   NUL-terminated strings, zero-padded to 8:
//                  passwd: name, passwd, gecos, dir, shell
//                  group:  name, passwd, member...
//                  initgroups: name
//                  negative by name: the name's NameDigest (lo, hi; 16
//                  bytes, len0 = 0), never the name; negative by id: nothing
//    then (initgroups only) count x u32 gid, zero-padded to 8.
// A pad record (type kRecPad, length = the rest of the ring) fills the end of a
// lap that the next record did not fit in; the rest of it is zeroed.
// A dead record (type kRecDead, same length) is one the writer scrubbed (an
// expired or replaced negative record): every word after the first is zero.
inline constexpr uint8_t kRecPasswd = 1;
inline constexpr uint8_t kRecGroup = 2;
inline constexpr uint8_t kRecInitgroups = 3;
inline constexpr uint8_t kRecPad = 0x7f;
inline constexpr uint8_t kRecDead = 0x7e;
inline constexpr uint8_t kFlagNegativeByName = 0x01;
inline constexpr uint8_t kFlagNegativeById = 0x02;

inline uint8_t record_type(MapKind k) { return static_cast<uint8_t>(k); }

// Byte offsets of the header's fields (the table above).
inline constexpr uint64_t kRecOffType = 0;      // u8
inline constexpr uint64_t kRecOffFlags = 1;     // u8
inline constexpr uint64_t kRecOffLength = 4;    // u32
inline constexpr uint64_t kRecOffExpires = 8;   // u64
inline constexpr uint64_t kRecOffId = 16;       // u32 (negative by name: its by-name index slot)
inline constexpr uint64_t kRecOffGid = 20;      // u32
inline constexpr uint64_t kRecOffCount = 24;    // u32
inline constexpr uint64_t kRecOffStrings = 28;  // u32
inline constexpr uint64_t kRecOffLengths = 32;  // u16 x 4: len0..len3
inline constexpr int kRecLengths = 4;

// Bytes of a record whose string area holds `strings` bytes (every NUL
// included) followed by `ngids` gids.
inline constexpr uint64_t record_length(uint64_t strings, uint64_t ngids) {
  return kRecordHeaderSize + pad8(strings) + pad8(ngids * 4);
}
// Where a record's gids start: after the string area, padded to 8.
inline constexpr uint64_t record_gids_offset(uint64_t strings) { return kRecordHeaderSize + pad8(strings); }

// ---- Encoding (the writer, into private memory) -------------------------------------

// A record's header fields, as the writer fills them in.
struct RecordFields {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t length = 0;
  uint64_t expires = 0;
  uint32_t id = 0;
  uint32_t gid = 0;
  uint32_t count = 0;
  uint32_t strings = 0;
  uint16_t lengths[kRecLengths] = {};  // name, passwd, gecos, dir: readers find the fields without a scan
};

inline void encode_u32(unsigned char* record, uint64_t off, uint32_t v) { memcpy(record + off, &v, 4); }
inline void encode_u64(unsigned char* record, uint64_t off, uint64_t v) { memcpy(record + off, &v, 8); }

// Writes the header into the first kRecordHeaderSize bytes of `record` (zeroed
// by the caller: the reserved bytes stay 0).
inline void encode_record_header(unsigned char* record, const RecordFields& f) {
  record[kRecOffType] = f.type;
  record[kRecOffFlags] = f.flags;
  encode_u32(record, kRecOffLength, f.length);
  encode_u64(record, kRecOffExpires, f.expires);
  encode_u32(record, kRecOffId, f.id);
  encode_u32(record, kRecOffGid, f.gid);
  encode_u32(record, kRecOffCount, f.count);
  encode_u32(record, kRecOffStrings, f.strings);
  for (int i = 0; i < kRecLengths; ++i) memcpy(record + kRecOffLengths + 2 * i, &f.lengths[i], 2);
}

// ---- Decoding (either side, from a mapping) -----------------------------------------

// The first word of a record: type, flags and length. The writer stores it
// alone for pad and dead records, and first for every record (a writer that
// dies after it leaves a record the next one can step over).
inline uint64_t record_first_word(uint8_t type, uint8_t flags, uint64_t length) {
  return uint64_t{type} | (uint64_t{flags} << 8) | (length << 32);
}
inline uint8_t first_word_type(uint64_t w0) { return static_cast<uint8_t>(w0); }
inline uint8_t first_word_flags(uint64_t w0) { return static_cast<uint8_t>(w0 >> 8); }
inline uint64_t first_word_length(uint64_t w0) { return hi32(w0); }

// A record's header as copied from a mapping (nothing in it trusted yet).
struct RecordHeader {
  uint64_t w0;  // the first word as loaded: a reader loads it again to detect a scrub
  uint8_t type, flags;
  uint64_t length, expires;
  uint32_t id, gid;
  uint64_t count, strings;
  uint64_t name_len, len1, len2, len3;
};

// The header's five words, each an 8-byte relaxed atomic load.
inline RecordHeader read_record_header(const unsigned char* rec) {
  uint64_t w0 = load_relaxed(rec, 0), w1 = load_relaxed(rec, 8), w2 = load_relaxed(rec, 16),
           w3 = load_relaxed(rec, 24), w4 = load_relaxed(rec, 32);
  RecordHeader h;
  h.w0 = w0;
  h.type = first_word_type(w0);
  h.flags = first_word_flags(w0);
  h.length = first_word_length(w0);
  h.expires = w1;
  h.id = lo32(w2);
  h.gid = hi32(w2);
  h.count = lo32(w3);
  h.strings = hi32(w3);
  h.name_len = w4 & 0xffff;
  h.len1 = (w4 >> 16) & 0xffff;
  h.len2 = (w4 >> 32) & 0xffff;
  h.len3 = w4 >> 48;
  return h;
}

// Whether a record of `length` bytes at ring offset `off` (off <= data_size)
// lies within the ring: at least a header, whole words.
inline bool record_span_ok(uint64_t length, uint64_t off, uint64_t data_size) {
  return length >= kRecordHeaderSize && length % 8 == 0 && length <= data_size - off;
}

// The bounds every record read from a mapping must keep before any of its
// fields is used (its type is the caller's check): its span in the ring, the
// file's max_record, the format's limits, and a string area plus `extra`
// bytes after it (the gids a reader will copy) inside the record.
inline bool record_header_ok(const RecordHeader& h, const MapParams& p, uint64_t off, uint64_t extra) {
  return record_span_ok(h.length, off, p.data_size) && h.length <= p.max_record && h.count <= kMaxCount &&
         h.name_len <= kMaxNameLength && h.strings <= h.length - kRecordHeaderSize &&
         pad8(h.strings) + extra <= h.length - kRecordHeaderSize;
}

inline bool record_negative(const RecordHeader& h) {
  return (h.flags & (kFlagNegativeByName | kFlagNegativeById)) != 0;
}
// Whether the record answers a lookup of `id` (a negative by name never does).
inline bool record_has_id(const RecordHeader& h, uint32_t id) {
  return h.id == id && (h.flags & kFlagNegativeByName) == 0;
}
// Whether a negative by-name record (string area at `str`, in a mapping)
// holds the digest `d`: it holds the name's digest, never the name.
inline bool record_has_digest(const RecordHeader& h, const unsigned char* str, const NameDigest& d) {
  return h.strings == kNameDigestSize && load_relaxed(str, 0) == d.lo && load_relaxed(str, 8) == d.hi;
}
// Whether a positive record may be named by `name_len` bytes: then its first
// name_len + 1 bytes of strings are compared with the name and its NUL.
inline bool record_may_have_name(const RecordHeader& h, uint64_t name_len) {
  return h.name_len == name_len && h.strings > h.name_len && (h.flags & kFlagNegativeById) == 0;
}

}  // namespace fastid::fastcache
