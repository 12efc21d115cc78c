// TLS on the TCP listeners (tls_listener.h): the OpenSSL server context, the
// key file's checks, and the request loop of connection_loop.h over an Asio
// ssl::stream. The only file of src/server that includes OpenSSL or
// asio/ssl.hpp.

// Asio's coroutine frames come from its recycling allocator (aligned_alloc) and
// go back through the frame's own operator delete (free); once the request
// loop's frame is inlined into serve_tls_connection, GCC 12 takes the class
// operator delete for the global one and warns (as in tests/unit/pool_test.cc).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "server/tls_listener.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/ssl.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/log.h"
#include "server/connection_loop.h"

namespace fastid::server {

class TlsServerContext {
 public:
  TlsServerContext() : context(asio::ssl::context::tls_server) {}
  asio::ssl::context context;
  std::chrono::milliseconds handshake_timeout{5000};
  std::string description;
};

namespace {

using core::Status;
constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
using TlsStream = asio::ssl::stream<asio::generic::stream_protocol::socket&>;

constexpr std::size_t kMaxKeyFile = 1 << 20;

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += out.empty() ? "" : "; ";
    out += buf;
  }
  return out.empty() ? "TLS error" : out;
}

// The key file's bytes, read through one descriptor that was checked: a
// regular file that not every user may read or write. The caller wipes them.
core::Result<std::vector<char>> read_key_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return core::error(core::status_from_errno(errno, "tls_key " + path));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return core::error(Status::invalid_argument("tls_key " + path + ": not a regular file"));
  }
  if ((st.st_mode & S_IRWXO) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return core::error(Status::permission_denied("tls_key " + path + ": the private key is accessible to every user (mode " +
                                                 mode + "); chmod o-rwx it (0600 or 0640)"));
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxKeyFile) {
    ::close(fd);
    return core::error(Status::invalid_argument("tls_key " + path + ": over 1 MiB, not a key"));
  }
  std::vector<char> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t have = 0;
  while (have < bytes.size()) {
    ssize_t r = ::read(fd, bytes.data() + have, bytes.size() - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    have += static_cast<std::size_t>(r);
  }
  ::close(fd);
  bytes.resize(have);
  return bytes;
}

std::string describe_certificate(SSL_CTX* ctx) {
  X509* cert = ::SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr) return "?";
  char subject[256] = {};
  ::X509_NAME_oneline(::X509_get_subject_name(cert), subject, sizeof subject);
  std::string out = subject;
  if (BIO* b = ::BIO_new(::BIO_s_mem())) {
    if (::ASN1_TIME_print(b, ::X509_get0_notAfter(cert)) == 1) {
      char* text = nullptr;
      long n = BIO_get_mem_data(b, &text);
      out += ", expires " + std::string(text, static_cast<std::size_t>(n));
    }
    ::BIO_free(b);
  }
  return out;
}

// The TLS stream, for the request loop. Reads go through OpenSSL, which may
// hold decrypted bytes the socket no longer shows, so a wait for a request is
// a read of what is there (up to a small scratch buffer), not a poll.
class TlsTransport {
 public:
  explicit TlsTransport(TlsStream& stream) : stream_(stream) {}
  auto wait_request() { return stream_.async_read_some(asio::buffer(scratch_), kUseTuple); }
  bool take_request(const std::tuple<asio::error_code, std::size_t>& woken, std::vector<std::uint8_t>& in,
                    std::size_t want) {
    if (std::get<0>(woken)) return false;
    const std::size_t n = std::min(std::get<1>(woken), want);
    const std::size_t have = in.size();
    grow_wiping(in, have + n);
    std::memcpy(in.data() + have, scratch_.data(), n);
    return true;
  }
  auto read(asio::mutable_buffer b) { return asio::async_read(stream_, b, kUseTuple); }
  auto write(asio::const_buffer b) { return asio::async_write(stream_, b, kUseTuple); }

 private:
  TlsStream& stream_;
  std::array<std::uint8_t, 1024> scratch_{};
};

}  // namespace

core::Result<std::shared_ptr<TlsServerContext>> load_tls_server_context(const TlsServerOptions& options) {
  auto tls = std::make_shared<TlsServerContext>();
  tls->handshake_timeout = options.handshake_timeout;
  SSL_CTX* ctx = tls->context.native_handle();
  ERR_clear_error();
  ::SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  ::SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle connections give their record buffers back; no server-side session
  // cache a stream of peers could grow (TLS 1.3 resumes with tickets).
  ::SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  ::SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

  if (::SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
    return core::error(Status::invalid_argument("tls_cert " + options.cert_file + ": " + openssl_errors()));
  }
  auto key = read_key_file(options.key_file);
  if (!key) return core::error(key.error());
  asio::error_code ec;
  tls->context.use_private_key(asio::buffer(key->data(), key->size()), asio::ssl::context::pem, ec);
  ::explicit_bzero(key->data(), key->size());
  if (ec) return core::error(Status::invalid_argument("tls_key " + options.key_file + ": " + ec.message()));
  if (::SSL_CTX_check_private_key(ctx) != 1) {
    return core::error(Status::invalid_argument("tls_key " + options.key_file + " does not match tls_cert " +
                                                options.cert_file + ": " + openssl_errors()));
  }
  tls->description = describe_certificate(ctx);
  return tls;
}

std::string describe(const TlsServerContext& context) { return context.description; }

asio::awaitable<void> serve_tls_connection(Server& server, std::shared_ptr<Server::Connection> conn,
                                           NssHandler& handler, std::shared_ptr<TlsServerContext> tls) {
  TlsStream stream(conn->socket, tls->context);
  // The handshake's own deadline: a peer that connects and stalls (or
  // trickles a hello) is closed by the watchdog when it passes. Not busy: a
  // graceful stop closes it at once.
  conn->set_deadline(std::chrono::steady_clock::now() + tls->handshake_timeout);
  auto handshake = stream.async_handshake(asio::ssl::stream_base::server, kUseTuple);
  auto [ec] = co_await std::move(handshake);
  if (ec) {
    // Plaintext clients, other protocols, bad certificates on the peer's
    // side, stalls: routine on a public port, so not above debug.
    core::log_debug("TLS handshake failed" + std::string(conn->timed_out ? " (timed out)" : "") + ": " +
                    ec.message());
    ++server.mutable_stats().closed_protocol;
    conn->close();
    server.on_connection_closed(conn->id);
    co_return;
  }
  auto loop = serve_requests(server, conn, handler, TlsTransport(stream));
  co_await std::move(loop);
}

}  // namespace fastid::server
