// A bounded reader of one HTTP/1.x request head, for the metrics listener
// (metrics_connection.cc). It takes the bytes received so far and says
// whether the head is complete, malformed or too large; it never allocates
// more than the head it returns, never reads past `limit`, and accepts only
// what a scraper sends: `METHOD SP TARGET SP HTTP/1.0|1.1 CRLF`, header lines
// with a colon, an empty line. Pure; no Asio.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fastid::server {

struct HttpRequestHead {
  std::string method;  // "GET"
  std::string target;  // "/metrics?x=y"
  std::string path;    // the target up to '?': "/metrics"
};

enum class HttpParse : unsigned char {
  kIncomplete,  // no blank line yet, and fewer than `limit` bytes
  kDone,        // *head filled
  kBad,         // not an HTTP/1.x request head
  kTooLarge,    // `limit` bytes and still no blank line
};

// Limits of the pieces, whatever the whole head's limit.
inline constexpr std::size_t kHttpMaxMethod = 16;
inline constexpr std::size_t kHttpMaxTarget = 1024;
inline constexpr std::size_t kHttpMaxHeaders = 64;

HttpParse parse_http_request_head(std::string_view bytes, std::size_t limit, HttpRequestHead* head);

// A whole response: status line, Content-Type, Content-Length, Connection:
// close (and Allow for 405), the body. HEAD-less: the body is always sent.
std::string http_response(int status, std::string_view reason, std::string_view content_type, std::string_view body,
                          std::string_view extra_headers = {});

}  // namespace fastid::server
