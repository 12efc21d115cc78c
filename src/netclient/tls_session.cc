// NetClient's TLS (tls_session.h): OpenSSL driven through two memory BIOs —
// OpenSSL encrypts into one and decrypts from the other, and this file moves
// the bytes between them and the socket with deadline-bounded, SIGPIPE-free
// calls (socket_io.h). The only netclient file that includes OpenSSL.
#include "netclient/tls_session.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "core/tls/tls_context.h"

namespace fastid::netclient {

using core::openssl_errors;
using core::Status;

class TlsClientContext {
 public:
  explicit TlsClientContext(core::SslCtxPtr ctx) : ctx_(std::move(ctx)) {}
  SSL_CTX* get() const { return ctx_.get(); }

 private:
  core::SslCtxPtr ctx_;
};

namespace {

bool is_ip_literal(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

}  // namespace

core::Result<std::shared_ptr<const TlsClientContext>> make_tls_client_context(const std::string& ca_file) {
  if (::access(ca_file.c_str(), R_OK) != 0) {
    return core::error(Status::invalid_argument("tls_ca_file " + ca_file + ": " + std::strerror(errno)));
  }
  // An EOF without close_notify is an ordinary "closed" (every message is
  // framed with its length: a cut is seen by the framing).
  auto made = core::new_tls_context(core::TlsRole::kClient, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (!made) return core::error(made.error());
  auto context = std::make_shared<TlsClientContext>(std::move(*made));  // frees it on every path
  SSL_CTX* ctx = context->get();
  ::SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // Only the CAs of this file, never the system's trust store: an upstream is
  // a server of the site, signed by the site's CA.
  if (::SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return core::error(Status::invalid_argument("tls_ca_file " + ca_file + ": no CA certificate loaded: " +
                                                openssl_errors()));
  }
  return std::shared_ptr<const TlsClientContext>(std::move(context));
}

struct TlsSession::Impl {
  int fd = -1;
  SSL* ssl = nullptr;
  BIO* from_peer = nullptr;  // owned by ssl: what the socket delivered, for OpenSSL to decrypt
  BIO* to_peer = nullptr;    // owned by ssl: what OpenSSL wants sent

  ~Impl() {
    if (ssl != nullptr) ::SSL_free(ssl);
  }

  // Sends everything OpenSSL has queued for the peer.
  Status flush(Clock::time_point deadline) {
    std::array<std::uint8_t, 16384> buf;
    while (BIO_ctrl_pending(to_peer) > 0) {
      const int n = ::BIO_read(to_peer, buf.data(), static_cast<int>(buf.size()));
      if (n <= 0) break;
      if (Status st = netclient::send_all(fd, buf.data(), static_cast<std::size_t>(n), deadline); !st) return st;
    }
    return Status::ok();
  }

  // Hands OpenSSL what the socket has (waiting for at least one byte).
  Status fill(Clock::time_point deadline) {
    std::array<std::uint8_t, 16384> buf;
    std::size_t got = 0;
    if (Status st = recv_some(fd, buf.data(), buf.size(), &got, deadline); !st) return st;
    if (got == 0) return Status::unavailable("closed");
    ::BIO_write(from_peer, buf.data(), static_cast<int>(got));
    return Status::ok();
  }

  // Why the last OpenSSL call failed: the certificate check's verdict when
  // there is one, else OpenSSL's error queue.
  std::string failure() {
    const long verdict = ::SSL_get_verify_result(ssl);
    if (verdict != X509_V_OK) {
      ERR_clear_error();
      return std::string("certificate verify failed: ") + ::X509_verify_cert_error_string(verdict);
    }
    return openssl_errors();
  }

  // Runs `op` (SSL_connect, SSL_read, SSL_write) until it makes progress,
  // moving bytes between OpenSSL and the socket as it asks.
  template <typename Op>
  core::Result<int> drive(Op op, Clock::time_point deadline) {
    for (;;) {
      ERR_clear_error();
      const int r = op(ssl);
      const int why = r > 0 ? SSL_ERROR_NONE : ::SSL_get_error(ssl, r);
      if (Status st = flush(deadline); !st) return core::error(st);
      if (r > 0) return r;
      switch (why) {
        case SSL_ERROR_WANT_READ:
          if (Status st = fill(deadline); !st) return core::error(st);
          continue;
        case SSL_ERROR_WANT_WRITE:
          continue;  // the memory BIO was just emptied
        case SSL_ERROR_ZERO_RETURN:
          return core::error(Status::unavailable("closed"));
        default:
          return core::error(Status::unavailable(failure()));
      }
    }
  }
};

TlsSession::TlsSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsSession::~TlsSession() = default;

core::Result<std::unique_ptr<TlsSession>> TlsSession::handshake(int fd, const TlsClientContext& context,
                                                                const std::string& server_name,
                                                                const std::string& numeric_host,
                                                                Clock::time_point deadline) {
  ERR_clear_error();
  auto impl = std::make_unique<Impl>();
  impl->fd = fd;
  impl->ssl = ::SSL_new(context.get());
  impl->from_peer = ::BIO_new(::BIO_s_mem());
  impl->to_peer = ::BIO_new(::BIO_s_mem());
  if (impl->ssl == nullptr || impl->from_peer == nullptr || impl->to_peer == nullptr) {
    ::BIO_free(impl->from_peer);
    ::BIO_free(impl->to_peer);
    return core::error(Status::internal("TLS session: " + openssl_errors()));
  }
  ::SSL_set_bio(impl->ssl, impl->from_peer, impl->to_peer);
  ::SSL_set_connect_state(impl->ssl);
  // Who the server must be: a DNS name (sent as SNI too) or an IP address.
  const std::string& expected = server_name.empty() ? numeric_host : server_name;
  bool named = false;
  if (is_ip_literal(expected)) {
    named = ::X509_VERIFY_PARAM_set1_ip_asc(::SSL_get0_param(impl->ssl), expected.c_str()) == 1;
  } else {
    ::SSL_set_hostflags(impl->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    named = ::SSL_set1_host(impl->ssl, expected.c_str()) == 1 &&
            ::SSL_set_tlsext_host_name(impl->ssl, expected.c_str()) == 1;
  }
  if (!named) {
    return core::error(Status::invalid_argument("TLS: cannot expect server name \"" + expected + "\": " +
                                                openssl_errors()));
  }
  auto done = impl->drive([](SSL* s) { return ::SSL_connect(s); }, deadline);
  if (!done) {
    return core::error(Status(done.error().code(), "TLS handshake (expecting " + expected +
                                                       "): " + done.error().message()));
  }
  return std::unique_ptr<TlsSession>(new TlsSession(std::move(impl)));
}

Status TlsSession::send_all(const std::uint8_t* p, std::size_t n, Clock::time_point deadline) {
  while (n > 0) {
    const int chunk = static_cast<int>(std::min<std::size_t>(n, 1 << 20));
    auto w = impl_->drive([&](SSL* s) { return ::SSL_write(s, p, chunk); }, deadline);
    if (!w) return w.error();
    p += *w;
    n -= static_cast<std::size_t>(*w);
  }
  return Status::ok();
}

Status TlsSession::recv_all(std::uint8_t* p, std::size_t n, Clock::time_point deadline) {
  std::size_t have = 0;
  while (have < n) {
    const int chunk = static_cast<int>(std::min<std::size_t>(n - have, 1 << 20));
    auto r = impl_->drive([&](SSL* s) { return ::SSL_read(s, p + have, chunk); }, deadline);
    if (!r) {
      if (r.error().code() == core::Code::kUnavailable && r.error().message() == "closed" && have > 0) {
        return Status::unavailable("connection closed inside a frame");
      }
      return r.error();
    }
    have += static_cast<std::size_t>(*r);
  }
  return Status::ok();
}

}  // namespace fastid::netclient
