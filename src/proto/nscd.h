// glibc's nscd protocol, version 2, as the daemon speaks it (docs/nscd.md):
// the request header and key glibc's built-in client sends to
// /var/run/nscd/socket, decoded with bounds into a model::Query, and the
// reply records it reads (pw_response_header, gr_response_header,
// initgr_response_header and the strings after them). The same record bytes
// travel over the socket and sit in the shared maps (fastcache/nscd_map.h),
// so they are written once, here. Learnt from glibc's nscd/nscd-client.h;
// our own code. No Asio, no allocation beyond the returned bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/query.h"

namespace fastid::proto::nscd {

inline constexpr std::int32_t kVersion = 2;          // NSCD_VERSION
inline constexpr std::size_t kMaxKeyLength = 1024;   // MAXKEYLEN: glibc never sends more
inline constexpr std::size_t kHeaderSize = 12;       // version, type, key length: three int32

// glibc's request_type numbering (only the values the daemon must know).
enum class RequestType : std::int32_t {
  kGetpwbyname = 0,
  kGetpwbyuid = 1,
  kGetgrbyname = 2,
  kGetgrbygid = 3,
  kGethostbyname = 4,
  kGethostbynamev6 = 5,
  kGethostbyaddr = 6,
  kGethostbyaddrv6 = 7,
  kShutdown = 8,
  kGetstat = 9,
  kInvalidate = 10,
  kGetfdpw = 11,
  kGetfdgr = 12,
  kGetfdhst = 13,
  kGetai = 14,
  kInitgroups = 15,
  kGetservbyname = 16,
  kGetservbyport = 17,
  kGetfdserv = 18,
  kGetnetgrent = 19,
  kInnetgr = 20,
  kGetfdnetgr = 21,
  kLastRequest = 22,
};

// The databases the daemon serves, each with its own shared map; glibc keeps
// initgroups records in the group map.
enum class Database : std::uint8_t { kPasswd, kGroup };
// "passwd" / "group": the key of the GETFDPW / GETFDGR request.
std::string_view database_name(Database db);

struct RequestHeader {
  std::int32_t version = 0;
  std::int32_t type = 0;
  std::int32_t key_length = 0;
};

// Why a header is refused; every refusal closes the connection.
enum class HeaderCheck : std::uint8_t { kOk, kBadVersion, kBadType, kBadKeyLength };
const char* header_check_name(HeaderCheck c);

// The 12 bytes glibc sends first (host byte order: same machine). kOk means
// the version is 2, the type one glibc defines and 1 <= key length <= 1024
// (0 too for GETSTAT and SHUTDOWN, which carry no key).
HeaderCheck decode_header(const std::uint8_t* bytes, RequestHeader* out);

// What a request asks for, once its key is read.
struct Request {
  RequestType type = RequestType::kGetpwbyname;
  // Lookups: the query. GETFDPW/GETFDGR: the database.
  std::optional<model::Query> query;
  std::optional<Database> map;
  // INVALIDATE of "passwd" or "group" (root only; `nscd -i`): the database.
  std::optional<Database> invalidate;
  // GETSTAT (`nscd -g`) and SHUTDOWN (`nscd -K`): root's statistics; a
  // shutdown is refused for everyone (docs/nscd.md).
  bool statistics = false;
  bool shutdown = false;
  std::string key;  // the key as sent, without its terminating NUL
};

// Decodes a request of a valid header: a lookup's key must be one
// NUL-terminated string of key_length bytes with no NUL before its end; an id
// key is 1 to 10 decimal digits no larger than 4294967295 (glibc sends
// uid/gid in decimal); GETSTAT and SHUTDOWN may have no key. nullopt:
// refused (the connection is closed). Types the daemon does not serve (hosts,
// services, netgroups, invalidation of another database) decode with none of
// query, map, invalidate, statistics and shutdown: the caller closes those too,
// which sends glibc on to its NSS modules for that database only.
std::optional<Request> decode_request(const RequestHeader& header, std::span<const std::uint8_t> key);

// The request type under which a query's record is found, and its key as
// glibc sends it (name or decimal id, NUL included).
RequestType request_type_of(model::Kind kind);
std::string key_of(const model::Query& query);
// The map that holds a kind's records (nullopt: pages).
std::optional<Database> database_of(model::Kind kind);

// Reply records: the response header and what follows it, exactly as glibc
// reads them over the socket and from a map's datahead. nullopt: the answer
// cannot be a record (a field over the 32-bit lengths, an answer of another
// kind, a page).
std::optional<std::vector<std::uint8_t>> encode_found(const model::Query& query, const model::Answer& answer);
// found = 0: "no such entry", which glibc takes as final.
std::vector<std::uint8_t> encode_not_found(model::Kind kind);

// Sizes of glibc's response headers (36, 24, 12).
inline constexpr std::size_t kPwHeaderSize = 36;
inline constexpr std::size_t kGrHeaderSize = 24;
inline constexpr std::size_t kInitgrHeaderSize = 12;
std::size_t response_header_size(model::Kind kind);

}  // namespace fastid::proto::nscd
