// The metrics listener: one HTTP/1.x request per connection, answered and
// closed. Prometheus (or curl) sends `GET /metrics`; the head must arrive
// whole within the stall timeout counted from the accept — a peer that
// dribbles bytes (slowloris) gains nothing by sending them — and within
// kMetricsRequestLimit bytes (431 past it). A request that is not HTTP/1.x is
// answered 400, any method but GET 405, any path but /metrics 404; then the
// connection closes. The scrape itself passes the gate (gate.h) as
// Route::kMetrics on ListenerClass::kMetrics, and the document is the router's
// (Router::metrics: every front worker's figures, metrics_exposition.h).
// Budgets and the per-address cap are the server's (Server::admit).

// Asio's coroutine frames come from its recycling allocator (aligned_alloc) and
// go back through the frame's own operator delete (free); GCC 12 warns falsely
// once both are inlined (see nss_handler.cc).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <sys/socket.h>

#include <array>
#include <string>

#include "server/connection.h"
#include "server/http_request.h"
#include "server/prometheus_text.h"

namespace fastid::server {
namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;

// A scraper's request head is a few hundred bytes.
constexpr std::size_t kMetricsRequestLimit = 4096;
constexpr std::string_view kPlain = "text/plain; charset=utf-8";

}  // namespace

asio::awaitable<void> serve_metrics_connection(Server& server, std::shared_ptr<Server::Connection> conn) {
  ServerStats& stats = server.mutable_stats();
  // The whole head within the stall timeout from now, however it is dribbled.
  conn->set_deadline(Clock::now() + server.limits().stall_timeout);
  std::string received;
  std::array<char, 1024> chunk;
  HttpRequestHead head;
  HttpParse parsed = HttpParse::kIncomplete;
  while (parsed == HttpParse::kIncomplete) {
    const std::size_t room = std::min(chunk.size(), kMetricsRequestLimit - received.size());
    auto read = conn->socket.async_read_some(asio::buffer(chunk.data(), room), kUseTuple);
    auto [ec, n] = co_await std::move(read);
    if (ec) break;
    received.append(chunk.data(), n);
    parsed = parse_http_request_head(received, kMetricsRequestLimit, &head);
  }
  std::string response;
  if (parsed == HttpParse::kIncomplete) {
    // The peer left or the deadline passed: nothing to answer.
    if (conn->timed_out || !received.empty()) ++stats.closed_protocol;
  } else if (parsed == HttpParse::kTooLarge) {
    ++stats.metrics_bad_requests;
    response = http_response(431, "Request Header Fields Too Large", kPlain, "request head too large\n");
  } else if (parsed == HttpParse::kBad) {
    ++stats.metrics_bad_requests;
    response = http_response(400, "Bad Request", kPlain, "not an HTTP/1.x request\n");
  } else if (head.path != "/metrics") {
    ++stats.metrics_bad_requests;
    response = http_response(404, "Not Found", kPlain, "only /metrics is served here\n");
  } else if (head.method != "GET") {
    ++stats.metrics_bad_requests;
    response = http_response(405, "Method Not Allowed", kPlain, "only GET\n", "Allow: GET\r\n");
  } else if (server.admit_request(ListenerClass::kMetrics, false, Route::kMetrics) != Rejection::kNone) {
    response = http_response(403, "Forbidden", kPlain, "refused\n");
  } else {
    ++stats.requests;
    ++stats.metrics_scrapes;
    conn->busy = true;
    response = http_response(200, "OK", kPrometheusContentType, server.router().metrics());
  }
  if (!response.empty() && conn->socket.is_open() && !server.stopping()) {
    conn->busy = true;
    conn->set_deadline(Clock::now() + server.limits().stall_timeout);
    auto write = asio::async_write(conn->socket, asio::buffer(response), kUseTuple);
    auto [werr, wn] = co_await std::move(write);
    if (werr && conn->timed_out) ++stats.closed_protocol;
    if (!werr) {
      // Whatever else the peer sent is not read: say we are done writing first,
      // so that closing with unread bytes does not reset the answer away.
      ::shutdown(conn->socket.native_handle(), SHUT_WR);
    }
  }
  conn->busy = false;
  conn->close();
  server.on_connection_closed(conn->id);
}

}  // namespace fastid::server
