// TLS on the TCP listeners (tls_listener.h): the OpenSSL server context, the
// key file's checks, and the request loop of connection_loop.h over OpenSSL
// running on the connection's own non-blocking descriptor: when OpenSSL wants
// to read or write, the coroutine waits for the socket with Asio and tries
// again. No Asio ssl::stream: its four 17 KiB buffers per connection would
// make an idle TLS connection cost ~77 KB; this way, with OpenSSL releasing
// its record buffers while idle, it costs ~19 KB (plaintext: ~3.2 KB).
// OpenSSL writes to the socket with write(2): fastidd ignores SIGPIPE (main.cc)
// before the workers exist. The only file of src/server that includes OpenSSL.

// Asio's coroutine frames come from its recycling allocator (aligned_alloc) and
// go back through the frame's own operator delete (free); once the request
// loop's frame is inlined into serve_tls_connection, GCC 12 takes the class
// operator delete for the global one and warns (as in tests/unit/pool_test.cc).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "server/tls_listener.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "core/log.h"
#include "server/connection_loop.h"

namespace fastid::server {

class TlsServerContext {
 public:
  TlsServerContext() : ctx(::SSL_CTX_new(::TLS_server_method())) {}
  ~TlsServerContext() { ::SSL_CTX_free(ctx); }
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;
  SSL_CTX* ctx;
  std::chrono::milliseconds handshake_timeout{5000};
  std::string description;
};

namespace {

using core::Status;
constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
using IoResult = std::tuple<asio::error_code, std::size_t>;

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

// One connection's OpenSSL session, on the connection's descriptor. Every
// call first checks that the watchdog (or a shutdown) has not closed the
// socket: a closed descriptor's number may already belong to a new client.
class TlsSession {
 public:
  TlsSession(Server::Connection& conn, SSL_CTX* ctx) : conn_(conn), ssl_(::SSL_new(ctx)) {
    asio::error_code ignored;
    conn_.socket.non_blocking(true, ignored);
    if (ssl_ != nullptr && ::SSL_set_fd(ssl_, conn_.socket.native_handle()) == 1) {
      ::SSL_set_accept_state(ssl_);
    } else {
      failure = "cannot make a TLS session: " + openssl_errors();
    }
  }
  ~TlsSession() {
    if (ssl_ != nullptr) ::SSL_free(ssl_);  // no close_notify: frames carry their own length
  }
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Runs `op` (SSL_accept, SSL_read, SSL_write on `ssl`) until it returns
  // > 0, waiting for the socket whenever OpenSSL asks. Errors: eof when the
  // peer left, connection_aborted on a TLS error (its reason in `failure`),
  // or the wait's own error when the socket was closed under it.
  template <typename Op>
  asio::awaitable<IoResult> run(Op op) {
    for (;;) {
      if (ssl_ == nullptr || !conn_.socket.is_open()) {
        co_return IoResult{asio::error_code(asio::error::bad_descriptor), 0};
      }
      ERR_clear_error();
      const int r = op(ssl_);
      if (r > 0) co_return IoResult{asio::error_code(), static_cast<std::size_t>(r)};
      const int why = ::SSL_get_error(ssl_, r);
      if (why != SSL_ERROR_WANT_READ && why != SSL_ERROR_WANT_WRITE) {
        const bool left = why == SSL_ERROR_ZERO_RETURN || (why == SSL_ERROR_SYSCALL && ERR_peek_error() == 0);
        failure = left ? "connection closed by the peer" : openssl_errors();
        const asio::error_code ec = left ? asio::error_code(asio::error::eof)
                                         : asio::error_code(asio::error::connection_aborted);
        co_return IoResult{ec, 0};
      }
      auto wait = conn_.socket.async_wait(
          why == SSL_ERROR_WANT_READ ? asio::socket_base::wait_read : asio::socket_base::wait_write, kUseTuple);
      auto [ec] = co_await std::move(wait);
      if (ec) co_return IoResult{ec, 0};
    }
  }

  std::string failure;

 private:
  Server::Connection& conn_;
  SSL* ssl_;
};

// The request loop's transport over a TlsSession. OpenSSL may hold decrypted
// bytes the socket no longer shows, so waiting for a request is a read of
// what is there (into a small scratch buffer), not a poll of the socket. The
// scratch buffer is wiped as soon as its bytes are in the ReadBuffer; other
// reads go straight into the ReadBuffer, which wipes what it gives up.
class TlsTransport {
 public:
  explicit TlsTransport(TlsSession& session) : session_(&session) {}
  // Records go out through OpenSSL in write(): nothing is sent ahead of it.
  std::size_t write_now(asio::const_buffer) { return 0; }
  asio::awaitable<IoResult> wait_request() {
    return session_->run([this](SSL* s) { return ::SSL_read(s, scratch_.data(), static_cast<int>(scratch_.size())); });
  }
  bool take_request(const IoResult& woken, ReadBuffer& in, std::size_t want) {
    if (std::get<0>(woken)) return false;
    const std::size_t n = std::min(std::get<1>(woken), want);
    in.append(scratch_.data(), n);
    ::explicit_bzero(scratch_.data(), scratch_.size());
    return true;
  }
  asio::awaitable<IoResult> read(asio::mutable_buffer b) { return transfer(b.data(), b.size(), false); }
  asio::awaitable<IoResult> write(asio::const_buffer b) {
    return transfer(const_cast<void*>(b.data()), b.size(), true);  // SSL_write only reads it
  }

 private:
  // The whole buffer, in as many records as it takes.
  asio::awaitable<IoResult> transfer(void* data, std::size_t size, bool writing) {
    auto* p = static_cast<std::uint8_t*>(data);
    std::size_t done = 0;
    while (done < size) {
      const int chunk = static_cast<int>(std::min<std::size_t>(size - done, 1 << 20));
      std::uint8_t* at = p + done;
      auto step = session_->run([at, chunk, writing](SSL* s) {
        return writing ? ::SSL_write(s, at, chunk) : ::SSL_read(s, at, chunk);
      });
      auto [ec, n] = co_await std::move(step);
      if (ec) co_return IoResult{ec, done};
      done += n;
    }
    co_return IoResult{asio::error_code(), done};
  }

  TlsSession* session_;
  std::array<std::uint8_t, 1024> scratch_{};
};

}  // namespace

core::Result<std::shared_ptr<TlsServerContext>> load_tls_server_context(const TlsServerOptions& options) {
  ERR_clear_error();
  auto tls = std::make_shared<TlsServerContext>();
  if (tls->ctx == nullptr) return core::error(Status::internal("TLS context: " + openssl_errors()));
  tls->handshake_timeout = options.handshake_timeout;
  SSL_CTX* ctx = tls->ctx;
  ::SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // SSL_OP_CLEANSE_PLAINTEXT: OpenSSL decrypts records in place in its read
  // buffer and by default leaves the plaintext there until overwritten or
  // freed; with it, delivered bytes are cleansed at once and the buffers when
  // released (SSL_MODE_RELEASE_BUFFERS, SSL_free). A frame sent over TLS may
  // carry a password even though the network refuses auth requests.
  ::SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_CLEANSE_PLAINTEXT);
  // Idle connections give their record buffers back; no server-side session
  // cache a stream of peers could grow (TLS 1.3 resumes with tickets).
  ::SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  ::SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

  if (::SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
    return core::error(Status::invalid_argument("tls_cert " + options.cert_file + ": " + openssl_errors()));
  }
  auto key = read_key_file(options.key_file);
  if (!key) return core::error(key.error());
  EVP_PKEY* pkey = nullptr;
  if (BIO* b = ::BIO_new_mem_buf(key->data(), static_cast<int>(key->size()))) {
    pkey = ::PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
    ::BIO_free(b);
  }
  ::explicit_bzero(key->data(), key->size());
  const bool used = pkey != nullptr && ::SSL_CTX_use_PrivateKey(tls->ctx, pkey) == 1;
  ::EVP_PKEY_free(pkey);
  if (!used) return core::error(Status::invalid_argument("tls_key " + options.key_file + ": " + openssl_errors()));
  if (::SSL_CTX_check_private_key(ctx) != 1) {
    return core::error(Status::invalid_argument("tls_key " + options.key_file + " does not match tls_cert " +
                                                options.cert_file + ": " + openssl_errors()));
  }
  tls->description = describe_certificate(ctx);
  return tls;
}

std::string describe(const TlsServerContext& context) { return context.description; }

asio::awaitable<void> serve_tls_connection(Server& server, std::shared_ptr<Server::Connection> conn,
                                           std::shared_ptr<TlsServerContext> tls) {
  TlsSession session(*conn, tls->ctx);
  // The handshake's own deadline: a peer that connects and stalls (or
  // trickles a hello) is closed by the watchdog when it passes. Not busy: a
  // graceful stop closes it at once.
  conn->set_deadline(std::chrono::steady_clock::now() + tls->handshake_timeout);
  auto handshake = session.run([](SSL* s) { return ::SSL_accept(s); });
  auto [ec, ignored] = co_await std::move(handshake);
  if (ec) {
    // Plaintext clients, other protocols, certificates the peer rejects,
    // stalls: routine on a public port, so not above debug.
    core::log_debug("TLS handshake failed: " +
                    (conn->timed_out ? std::string("timed out") : session.failure.empty() ? ec.message() : session.failure));
    ++server.mutable_stats().closed_protocol;
    conn->close();
    server.on_connection_closed(conn->id);
    co_return;
  }
  auto loop = serve_requests(server, conn, TlsTransport(session));
  co_await std::move(loop);
}

}  // namespace fastid::server
