// TLS for the TCP listeners ([listen] tls_cert, tls_key): the server context,
// made once by fastidd's start-up as root — before any front worker drops its
// privileges, so the key file may stay readable by root alone — and inherited
// by every front worker across the fork. With a context, a TCP listener speaks TLS
// only: TLS 1.2 or later, no renegotiation, no compression, a bounded
// handshake, then the same frames, limits and public-only rules as plaintext.
// OpenSSL stays in tls_listener.cc (its headers are heavy).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/status.h"

namespace fastid::server {

struct TlsServerOptions {
  std::string cert_file;  // PEM: the server's certificate, then any intermediates
  std::string key_file;   // PEM: its private key; must not be accessible to every user
  std::chrono::milliseconds handshake_timeout{5000};  // accept to handshake done
};

class TlsServerContext;  // opaque; shared by the listeners and connections of a front worker

// Reads and checks the certificate chain and the key: a key file that every
// user may read or write is refused (kPermissionDenied), so is a key that does
// not match the certificate (kInvalidArgument). Messages name the file.
core::Result<std::shared_ptr<TlsServerContext>> load_tls_server_context(const TlsServerOptions& options);

// "TLSv1.2+ certificate CN=..., expires ..." for the start-up log line.
std::string describe(const TlsServerContext& context);

}  // namespace fastid::server
