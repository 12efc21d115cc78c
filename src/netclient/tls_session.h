// TLS for NetClient (the remote provider and `fastid --server --tls-ca`): a
// client context that trusts the CAs of one PEM file, and a session over a
// connected non-blocking TCP socket that verifies the server's certificate —
// its chain to those CAs and the server's identity: the DNS name the caller
// expects (also sent as SNI) or, without one, the numeric address connected
// to (an IP address entry of the certificate). There is no way to skip the
// verification and no fallback to plaintext.
//
// OpenSSL stays behind this header (only tls_session.cc includes it). The
// session drives OpenSSL through memory buffers and does its own socket I/O
// (socket_io.h): every wait is bounded by the caller's deadline and no write
// can raise SIGPIPE.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "netclient/socket_io.h"

namespace fastid::netclient {

// An OpenSSL client context: TLS 1.2 or later, no renegotiation, peer
// verification on. Immutable once made; shared by the sessions of a client.
class TlsClientContext;

// Loads the CA certificates of `ca_file` (PEM). Errors name the file.
core::Result<std::shared_ptr<const TlsClientContext>> make_tls_client_context(const std::string& ca_file);

class TlsSession {
 public:
  // Performs the handshake over `fd` (connected, non-blocking; not owned, it
  // must outlive the session) before `deadline`. `server_name`: the DNS name
  // the certificate must carry, sent as SNI; empty: the certificate must carry
  // `numeric_host` (the address connected to) as an IP address. kUnavailable
  // with OpenSSL's reason ("certificate verify failed: ...") when the server
  // is not the one expected or does not speak TLS; kTimeout at the deadline.
  static core::Result<std::unique_ptr<TlsSession>> handshake(int fd, const TlsClientContext& context,
                                                             const std::string& server_name,
                                                             const std::string& numeric_host,
                                                             Clock::time_point deadline);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // As send_all/recv_all in socket_io.h, through the TLS session.
  core::Status send_all(const std::uint8_t* p, std::size_t n, Clock::time_point deadline);
  core::Status recv_all(std::uint8_t* p, std::size_t n, Clock::time_point deadline);

 private:
  struct Impl;
  explicit TlsSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastid::netclient
