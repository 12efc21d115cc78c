// The metrics listener's HTTP/1.x request head reader (http_request.h).
#include "server/http_request.h"

namespace fastid::server {
namespace {

bool is_token_upper(char c) { return c >= 'A' && c <= 'Z'; }
// Visible ASCII: what a request target may hold (no space, no control, no 8-bit).
bool is_visible(char c) { return c > 0x20 && c < 0x7f; }

}  // namespace

HttpParse parse_http_request_head(std::string_view bytes, std::size_t limit, HttpRequestHead* head) {
  if (bytes.size() > limit) bytes = bytes.substr(0, limit);
  // The head ends at the first empty line (CRLF CRLF; a bare LF is taken too).
  std::size_t end = std::string_view::npos;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\n') continue;
    if (i + 1 < bytes.size() && bytes[i + 1] == '\n') {
      end = i + 2;
      break;
    }
    if (i + 2 < bytes.size() && bytes[i + 1] == '\r' && bytes[i + 2] == '\n') {
      end = i + 3;
      break;
    }
  }
  // Garbage is told at once, not after `limit` bytes: the request line must
  // look like one as soon as its first bytes are in.
  const std::size_t first_nl = bytes.find('\n');
  const std::string_view start = bytes.substr(0, first_nl);
  for (std::size_t i = 0; i < start.size() && i <= kHttpMaxMethod; ++i) {
    if (start[i] == ' ') break;
    if (!is_token_upper(start[i])) return HttpParse::kBad;
    if (i == kHttpMaxMethod) return HttpParse::kBad;
  }
  if (end == std::string_view::npos) {
    if (first_nl == std::string_view::npos && start.size() > kHttpMaxMethod + kHttpMaxTarget + 12) return HttpParse::kBad;
    return bytes.size() >= limit ? HttpParse::kTooLarge : HttpParse::kIncomplete;
  }
  std::string_view rest = bytes.substr(0, end);
  std::size_t lines = 0;
  bool first = true;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = rest.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      first = false;
      const std::size_t sp1 = line.find(' ');
      if (sp1 == std::string_view::npos || sp1 == 0 || sp1 > kHttpMaxMethod) return HttpParse::kBad;
      const std::size_t sp2 = line.find(' ', sp1 + 1);
      if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return HttpParse::kBad;
      const std::string_view method = line.substr(0, sp1);
      const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      const std::string_view version = line.substr(sp2 + 1);
      for (char c : method) {
        if (!is_token_upper(c)) return HttpParse::kBad;
      }
      if (target.size() > kHttpMaxTarget) return HttpParse::kBad;
      for (char c : target) {
        if (!is_visible(c)) return HttpParse::kBad;
      }
      if (version != "HTTP/1.1" && version != "HTTP/1.0") return HttpParse::kBad;
      head->method = std::string(method);
      head->target = std::string(target);
      head->path = std::string(target.substr(0, target.find('?')));
      continue;
    }
    if (line.empty()) break;  // the blank line that ends the head
    if (++lines > kHttpMaxHeaders) return HttpParse::kBad;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return HttpParse::kBad;
    for (char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return HttpParse::kBad;
    }
  }
  return HttpParse::kDone;
}

std::string http_response(int status, std::string_view reason, std::string_view content_type, std::string_view body,
                          std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out.append(reason);
  out += "\r\nContent-Type: ";
  out.append(content_type);
  out += "\r\nContent-Length: " + std::to_string(body.size());
  out += "\r\nConnection: close\r\n";
  out.append(extra_headers);
  out += "\r\n";
  out.append(body);
  return out;
}

}  // namespace fastid::server
