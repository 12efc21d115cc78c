// libFuzzer target: arbitrary bytes as one frame on a front worker's socket,
// decoded as the connection loop does (src/server/connection_loop.h): the
// header (proto::decode_header), then the payload it announces
// (proto::decode_request; a frame cut short is decoded from what arrived, as
// a peer that stops sending would leave it). Whatever the bytes, decoding
// stays in bounds, and a decoded lookup re-encodes (request_of,
// encode_request) to a frame that decodes to the same query.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "proto/messages.h"
#include "proto/wire.h"

namespace proto = fastid::proto;

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < proto::kHeaderSize) return 0;
  proto::FrameHeader header{};
  if (proto::decode_header(data, &header) != proto::HeaderCheck::kOk) return 0;
  if (header.length > proto::kMaxPayload) std::abort();  // the header check's promise
  const std::size_t have = size - proto::kHeaderSize;
  const std::size_t len = have < header.length ? have : header.length;
  auto request = proto::decode_request(header, std::span<const std::uint8_t>(data + proto::kHeaderSize, len));
  if (!request) {
    if (request.error().status == proto::WireStatus::kOk) std::abort();  // a refusal names a status
    return 0;
  }
  const auto query = proto::query_of(*request);
  if (!query) return 0;
  const proto::Bytes frame = proto::encode_request(proto::request_of(*query, request->request_id));
  proto::FrameHeader again{};
  if (frame.size() < proto::kHeaderSize || proto::decode_header(frame.data(), &again) != proto::HeaderCheck::kOk)
    std::abort();
  auto back = proto::decode_request(
      again, std::span<const std::uint8_t>(frame.data() + proto::kHeaderSize, frame.size() - proto::kHeaderSize));
  if (!back || proto::query_of(*back) != query) std::abort();
  return 0;
}
