// ReplyFrame: one reply as a stream connection writes it. Most replies are a
// frame of their own; a large lookup answer is this requester's header
// followed by a payload shared, read-only, with every other reply to the
// same record version (shared_replies.h), so that 200 requests for a 650 KB
// group hold one copy of it and cost the loop one encoding (issue 20).
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include "proto/messages.h"

namespace fastid::server {

struct ReplyFrame {
  // The whole frame, or only its header when `shared_payload` is set.
  proto::Bytes bytes;
  std::shared_ptr<const proto::Bytes> shared_payload;

  ReplyFrame() = default;
  ReplyFrame(proto::Bytes whole) : bytes(std::move(whole)) {}  // NOLINT: implicit, every handler's reply
  ReplyFrame(proto::Bytes header, std::shared_ptr<const proto::Bytes> payload)
      : bytes(std::move(header)), shared_payload(std::move(payload)) {}

  std::size_t size() const { return bytes.size() + (shared_payload ? shared_payload->size() : 0); }

  // One buffer of the whole frame (the datagram and nscd paths, whose
  // replies are small or cut anyway).
  proto::Bytes flatten() && {
    if (shared_payload) bytes.insert(bytes.end(), shared_payload->begin(), shared_payload->end());
    shared_payload.reset();
    return std::move(bytes);
  }
};

}  // namespace fastid::server
