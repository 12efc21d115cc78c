// new_tls_context() and openssl_errors() (tls_context.h).
#include "core/tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace fastid::core {

void SslCtxFree::operator()(ssl_ctx_st* ctx) const noexcept { ::SSL_CTX_free(ctx); }

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ::ERR_get_error()) {
    char buf[256];
    ::ERR_error_string_n(e, buf, sizeof buf);
    out += out.empty() ? "" : "; ";
    out += buf;
  }
  return out.empty() ? "TLS error" : out;
}

Result<SslCtxPtr> new_tls_context(TlsRole role, std::uint64_t extra_options) {
  ::ERR_clear_error();
  SslCtxPtr ctx(::SSL_CTX_new(role == TlsRole::kServer ? ::TLS_server_method() : ::TLS_client_method()));
  if (!ctx) return error(Status::internal("TLS context: " + openssl_errors()));
  ::SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Renegotiation would let a peer restart the handshake mid-stream (and cost
  // the server a handshake per request); compression leaks plaintext lengths.
  ::SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | extra_options);
  return ctx;
}

}  // namespace fastid::core
