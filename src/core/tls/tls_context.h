// The OpenSSL context set-up both ends of fastid's TLS share: the server side
// of the TCP listeners (server/tls_listener.cc) and the client side of
// NetClient (netclient/tls_session.cc) start from one new_tls_context(), so
// the protocol floor and the options every session needs are written once.
// A library of its own (fastid_core_tls), so that only those two link
// OpenSSL; this header names no OpenSSL type beyond a forward declaration.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace fastid::core {

struct SslCtxFree {
  void operator()(ssl_ctx_st* ctx) const noexcept;
};
// An owned SSL_CTX, freed with SSL_CTX_free.
using SslCtxPtr = std::unique_ptr<ssl_ctx_st, SslCtxFree>;

enum class TlsRole { kClient, kServer };

// A new context for `role` with what every fastid session requires: TLS 1.2
// at least, no renegotiation, no compression; `extra_options` (SSL_OP_* bits)
// are added to those. kInternal naming OpenSSL's errors when OpenSSL cannot
// make one. OpenSSL's error queue is cleared first.
Result<SslCtxPtr> new_tls_context(TlsRole role, std::uint64_t extra_options = 0);

// OpenSSL's error queue as one line ("TLS error" when it is empty); the queue
// is left empty.
std::string openssl_errors();

}  // namespace fastid::core
