// One request/reply exchange with the daemon. Builds the frame in a zeroed
// buffer, sends it on a pooled connection with MSG_NOSIGNAL, waits for the reply
// with poll() until the deadline, checks the reply header (version, flags,
// opcode, request id, length) and retries once on a fresh connection when a
// pooled one turns out to be stale. Used by one thread, on its stack.
#pragma once

#include <stdint.h>

#include "client/pool.h"
#include "fastid/fastid.h"
#include "proto/wire.h"

namespace fastid::client {

// The reply timeout: $FASTID_TIMEOUT_MS (1..600000) or 5000 ms.
int timeout_ms();

class Call {
 public:
  explicit Call(proto::Opcode op);
  ~Call();  // gives the connection back (healthy unless marked bad)
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // The request payload. Requests are small (a name or an id): kMaxRequest bytes.
  proto::WireWriter& request() { return writer_; }

  // What is asked: the opcode and the request payload bytes (the retry stash's key).
  proto::Opcode opcode() const { return op_; }
  const uint8_t* request_bytes() const { return request_ + proto::kHeaderSize; }
  size_t request_length() const { return writer_.len; }

  // Sends the request and waits for the reply. FASTID_OK: the daemon answered
  // kOk and payload()/length() hold the reply payload; the connection is still
  // held, so that a payload that fails to decode can drop it (bad_payload()).
  // Any other value: the daemon's error status (its message is in
  // fastid_last_message()) or a transport/protocol failure.
  fastid_status run();

  const uint8_t* payload() const { return payload_; }
  uint32_t length() const { return length_; }

  // The payload did not decode: the connection is dropped. Returns FASTID_PROTOCOL_ERROR.
  fastid_status bad_payload(const char* what);

  // A malloc'd copy of the payload that the caller frees (nullptr if out of memory).
  uint8_t* copy_payload() const;

  static constexpr uint32_t kMaxRequest = 512;

 private:
  enum class Io { kOk, kStale, kTimeout, kProtocol, kError };
  Io send_request(int64_t deadline_ns);  // kError: error_ says which status
  Io receive_reply(int64_t deadline_ns);
  void drop();

  proto::Opcode op_;
  uint32_t id_;
  Conn conn_;
  proto::WireWriter writer_;
  const uint8_t* payload_ = nullptr;
  uint32_t length_ = 0;
  uint32_t wire_status_ = 0;
  fastid_status error_ = FASTID_UNAVAILABLE;
  uint8_t* heap_ = nullptr;  // reply frame when it does not fit in small_
  uint8_t request_[proto::kHeaderSize + kMaxRequest] = {};  // zeroed: no stray byte is ever sent
  uint8_t small_[2048];      // receive buffer, never sent
};

}  // namespace fastid::client
