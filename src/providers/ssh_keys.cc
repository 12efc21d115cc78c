// SSH key line checks (ssh_keys.h).
#include "providers/ssh_keys.h"

#include <array>
#include <cstdint>
#include <vector>

#include "proto/wire.h"

namespace fastid::providers {
namespace {

constexpr std::array<std::string_view, 14> kKeyTypes = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
};

bool known_type(std::string_view t) {
  for (auto k : kKeyTypes) {
    if (k == t) return true;
  }
  return false;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// The whole blob, or nullopt when it is not canonical base64.
std::optional<std::string> decode_base64(std::string_view b64) {
  if (b64.empty() || b64.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(b64.size() / 4 * 3);
  std::size_t pad = 0;
  for (std::size_t i = 0; i < b64.size(); i += 4) {
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = b64[i + j];
      if (c == '=') {
        // Padding only at the very end, at most two.
        if (i + 4 != b64.size() || j < 2) return std::nullopt;
        ++pad;
        v <<= 6;
        continue;
      }
      if (pad > 0) return std::nullopt;
      const int d = base64_value(c);
      if (d < 0) return std::nullopt;
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out.push_back(static_cast<char>(v >> 16));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

// The blob as SSH wire strings (RFC 4251: u32 length, bytes); nullopt when
// a length runs past the end.
std::optional<std::vector<std::string_view>> ssh_strings(std::string_view blob) {
  std::vector<std::string_view> out;
  while (!blob.empty()) {
    if (blob.size() < 4) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
    const std::uint32_t n = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
    if (n > blob.size() - 4) return std::nullopt;
    out.push_back(blob.substr(4, n));
    blob.remove_prefix(4 + n);
  }
  return out;
}

// Options end at the first blank outside double quotes; a backslash inside
// quotes escapes the next character (sshd's rules).
std::optional<std::size_t> options_end(std::string_view line) {
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '\\' && i + 1 < line.size()) {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ' ' && !quoted) {
      return i;
    }
  }
  return std::nullopt;  // unterminated quote, or nothing after the options
}

}  // namespace

std::optional<std::string> ssh_key_line(std::string_view value, const char** why) {
  if (value.ends_with("\r\n")) value.remove_suffix(2);
  else if (value.ends_with('\n')) value.remove_suffix(1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return *why = "empty", std::nullopt;
  if (value.size() > proto::kMaxSshKeyLength) return *why = "longer than 8192 bytes", std::nullopt;
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return *why = "a control character (a newline would start another key)", std::nullopt;
  }
  std::string_view rest = value;
  std::string_view type = rest.substr(0, rest.find(' '));
  if (!known_type(type)) {
    auto end = options_end(rest);
    if (!end || *end == 0) return *why = "not a key type sshd knows, nor options before one", std::nullopt;
    rest.remove_prefix(*end);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    type = rest.substr(0, rest.find(' '));
    if (!known_type(type)) return *why = "no key type sshd knows after the options", std::nullopt;
  }
  rest.remove_prefix(type.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const std::string_view blob = rest.substr(0, rest.find(' '));
  auto decoded = decode_base64(blob);
  if (!decoded) return *why = "the key is not base64", std::nullopt;
  // A plain key is its type and its fields, all SSH strings, nothing left
  // over (an ed25519 key: one of 32 bytes); a certificate holds integers
  // too, so only its type is checked here and sshd parses the rest.
  const bool certificate = type.find("-cert-") != std::string_view::npos;
  if (certificate) {
    auto head = ssh_strings(std::string_view(*decoded).substr(0, 4 + type.size()));
    if (!head || head->size() != 1 || head->front() != type) {
      return *why = "the key blob is not of the type the line names", std::nullopt;
    }
  } else {
    auto fields = ssh_strings(*decoded);
    if (!fields || fields->size() < 2) return *why = "the key blob does not hold a key", std::nullopt;
    if (fields->front() != type) return *why = "the key blob is not of the type the line names", std::nullopt;
    if (type == "ssh-ed25519" && (fields->size() != 2 || (*fields)[1].size() != 32)) {
      return *why = "the key blob does not hold a key", std::nullopt;
    }
  }
  return std::string(value);
}

}  // namespace fastid::providers
