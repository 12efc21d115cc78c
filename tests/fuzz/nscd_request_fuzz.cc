// libFuzzer target: arbitrary bytes as one request on the nscd front's socket
// (proto/nscd.h): the header decoded, then the key as the connection reads it
// (exactly key_length bytes, or fewer when the input ends: a request cut
// short). Whatever the bytes, decoding stays in bounds and a decoded lookup
// round-trips to the key glibc would send for it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "proto/nscd.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace nscd = fastid::proto::nscd;
  if (size < nscd::kHeaderSize) return 0;
  nscd::RequestHeader header;
  if (nscd::decode_header(data, &header) != nscd::HeaderCheck::kOk) return 0;
  const std::size_t want = static_cast<std::size_t>(header.key_length);
  // The header check's promise: a key of 1..kMaxKeyLength bytes, or none for
  // the keyless requests (GETSTAT, SHUTDOWN: `nscd -g`, `nscd -K`).
  const bool keyless = header.type == static_cast<std::int32_t>(nscd::RequestType::kGetstat) ||
                       header.type == static_cast<std::int32_t>(nscd::RequestType::kShutdown);
  if ((want < 1 && !keyless) || want > nscd::kMaxKeyLength) std::abort();
  const std::size_t have = size - nscd::kHeaderSize < want ? size - nscd::kHeaderSize : want;
  auto request = nscd::decode_request(header, std::span<const std::uint8_t>(data + nscd::kHeaderSize, have));
  if (!request || !request->query) return 0;
  // A lookup's key is the one glibc sends for its query.
  const std::string key = nscd::key_of(*request->query);
  if (key.size() != want && request->query->kind != fastid::model::Kind::kUserByUid &&
      request->query->kind != fastid::model::Kind::kGroupByGid) {
    std::abort();
  }
  (void)nscd::encode_not_found(request->query->kind);
  return 0;
}
