// NetClient: a synchronous client of fastidd's network listeners (TCP, UDP),
// for the `fastid --server` command and the remote provider (type "fastid"),
// which runs in a provider worker process where blocking is the rule. Not for
// libfastid: the NSS module stays libc-only and speaks to the Unix socket.
//
// One persistent TCP connection to the first upstream that answers; the next
// upstream is tried when one cannot be reached. UDP requests are padded (the
// server's reply may be at most three times the datagram) and a reply marked
// truncated is asked again over TCP. One thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "proto/messages.h"

namespace fastid::netclient {

enum class Transport { kTcp, kUdp };

struct Options {
  std::vector<std::string> servers;  // "HOST:PORT" / "[V6]:PORT", asked in order
  std::chrono::milliseconds timeout{2000};  // per server: connect, send and reply
  std::size_t udp_datagram = 512;           // a UDP request is padded to this many bytes
};

// How the last call was answered (for the CLI's -v and the tests).
struct CallInfo {
  Transport answered_by = Transport::kTcp;
  bool truncated = false;  // UDP said "truncated" and the answer came over TCP
  std::string server;      // the upstream that answered
};

class NetClient {
 public:
  explicit NetClient(Options options);
  ~NetClient();
  NetClient(const NetClient&) = delete;
  NetClient& operator=(const NetClient&) = delete;

  // Sends `request` (its request_id is replaced) and returns the reply frame,
  // whatever its status. Errors: kInvalidArgument for a bad server address,
  // kUnavailable when no upstream could be reached, kTimeout when none
  // answered in time, kCorruption for a reply that breaks the protocol.
  core::Result<proto::Reply> call(proto::Request request, Transport transport);

  const CallInfo& last_call() const { return info_; }

  // One lookup as the provider interface wants it: the upstream's error
  // status becomes the error value (kNotFound, kUnavailable, ...); a reply
  // that does not decode as the query's answer is kCorruption.
  core::Result<model::Answer> lookup(const model::Query& query, Transport t = Transport::kTcp);
  core::Result<std::string> ping(Transport t = Transport::kTcp);

  // Drops the TCP connection (tests; a provider's close()).
  void disconnect();

 private:
  core::Result<proto::Reply> call_tcp(const proto::Bytes& frame, std::uint16_t opcode, std::uint32_t id);
  core::Result<proto::Reply> call_udp(const proto::Bytes& frame, std::uint16_t opcode, std::uint32_t id);

  Options options_;
  int tcp_fd_ = -1;
  std::vector<int> udp_fds_;
  std::vector<std::uint8_t> udp_buf_;  // receive buffer, allocated once  // per server: a connected UDP socket, kept (-1 = none yet)
  std::size_t tcp_server_ = 0;  // index of the connected upstream
  std::uint32_t next_id_ = 1;
  CallInfo info_;
};

}  // namespace fastid::netclient
