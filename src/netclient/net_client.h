// NetClient: a synchronous client of fastidd's network listeners (TCP, UDP),
// for the `fastid --server` command and the remote provider (type "fastid"),
// which runs in a provider worker process where blocking is the rule. Not for
// libfastid: the NSS module stays libc-only and speaks to the Unix socket.
//
// One persistent TCP connection to the first upstream that answers; the next
// upstream is tried when one cannot be reached. UDP requests are padded (the
// server's reply may be at most three times the datagram) and a reply marked
// truncated is asked again over TCP. One thread at a time.
//
// With `tls` set every TCP connection is TLS (tls_session.h): the server's
// certificate is verified against the given CAs and its name or address, and
// a server that fails the check is skipped like one that is down — never
// asked in plaintext. UDP is cleartext, so a TLS client refuses it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "proto/messages.h"

namespace fastid::netclient {

enum class Transport { kTcp, kUdp };

class TlsClientContext;  // tls_session.h: make_tls_client_context()
class TlsSession;

struct Options {
  std::vector<std::string> servers;  // "HOST:PORT" / "[V6]:PORT", asked in order
  std::chrono::milliseconds timeout{2000};  // per server: connect, TLS handshake, send and reply
  std::size_t udp_datagram = 512;           // a UDP request is padded to this many bytes
  // TLS on every TCP connection when set; nullptr: plaintext.
  std::shared_ptr<const TlsClientContext> tls = nullptr;
  // The DNS name every server's certificate must carry (and SNI); empty: the
  // certificate must carry the numeric address of the server as listed.
  std::string tls_server_name = {};
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
  // whatever its status. Errors: kInvalidArgument for a bad server address
  // (or UDP asked of a TLS client), kUnavailable when no upstream could be
  // reached or none passed the TLS check, kTimeout when none
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
  // Connects to servers[index] (and does the TLS handshake when configured).
  core::Status connect_tcp(std::size_t index, std::chrono::steady_clock::time_point deadline);
  core::Status send_tcp(const std::uint8_t* p, std::size_t n, std::chrono::steady_clock::time_point deadline);
  core::Status recv_tcp(std::uint8_t* p, std::size_t n, std::chrono::steady_clock::time_point deadline);

  Options options_;
  int tcp_fd_ = -1;
  std::unique_ptr<TlsSession> tls_;  // over tcp_fd_ when options_.tls is set
  std::vector<int> udp_fds_;
  std::vector<std::uint8_t> udp_buf_;  // receive buffer, allocated once  // per server: a connected UDP socket, kept (-1 = none yet)
  std::size_t tcp_server_ = 0;  // index of the connected upstream
  std::uint32_t next_id_ = 1;
  CallInfo info_;
};

}  // namespace fastid::netclient
