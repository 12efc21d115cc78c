#include "providers/ldap/ldap_values.h"

#include <ldap.h>

#include <charconv>

namespace fastid::providers::ldap {
namespace {

constexpr char kHex[] = "0123456789abcdef";

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// Appends one RDN's pairs as "type=value+type=value", lower-cased; values
// keep every byte (escapes already resolved by ldap_str2dn), with ',', '+',
// '=' and '\\' escaped again so that keys of different DNs never collide.
void append_rdn(std::string& out, LDAPRDN rdn) {
  for (int j = 0; rdn[j] != nullptr; ++j) {
    if (j > 0) out += '+';
    const LDAPAVA* ava = rdn[j];
    out += lowered(std::string_view(ava->la_attr.bv_val, ava->la_attr.bv_len));
    out += '=';
    for (ber_len_t k = 0; k < ava->la_value.bv_len; ++k) {
      const char c = lower(ava->la_value.bv_val[k]);
      if (c == ',' || c == '+' || c == '=' || c == '\\') out += '\\';
      out += c;
    }
  }
}

struct ParsedDn {
  LDAPDN dn = nullptr;
  ~ParsedDn() {
    if (dn != nullptr) ldap_dnfree(dn);
  }
};

bool parse_dn(std::string_view text, ParsedDn& out) {
  const std::string copy(text);  // ldap_str2dn wants a NUL-terminated string
  if (copy.size() != text.size() || copy.find('\0') != std::string::npos) return false;
  return ldap_str2dn(copy.c_str(), &out.dn, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS;
}

}  // namespace

std::string escape_filter_value(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 8);
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '*' || c == '(' || c == ')' || c == '\\' || is_control(c)) {
      out += '\\';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string equality_filter(std::string_view attr, std::string_view value) {
  std::string out = "(";
  out += attr;
  out += '=';
  out += escape_filter_value(value);
  out += ')';
  return out;
}

std::optional<std::uint32_t> parse_id(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v >= 4294967295u) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

std::optional<std::int64_t> parse_days(std::string_view text) {
  std::int64_t v = 0;
  if (text.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<std::string> dn_key(std::string_view dn) {
  ParsedDn parsed;
  if (!parse_dn(dn, parsed)) return std::nullopt;
  std::string out;
  if (parsed.dn == nullptr) return out;  // the empty DN
  for (int i = 0; parsed.dn[i] != nullptr; ++i) {
    if (i > 0) out += ',';
    append_rdn(out, parsed.dn[i]);
  }
  return out;
}

std::optional<FirstRdn> first_rdn(std::string_view dn) {
  ParsedDn parsed;
  if (!parse_dn(dn, parsed) || parsed.dn == nullptr || parsed.dn[0] == nullptr) return std::nullopt;
  LDAPRDN rdn = parsed.dn[0];
  if (rdn[0] == nullptr || rdn[1] != nullptr) return std::nullopt;  // multi-valued RDN
  FirstRdn out;
  out.attr = lowered(std::string_view(rdn[0]->la_attr.bv_val, rdn[0]->la_attr.bv_len));
  out.value.assign(rdn[0]->la_value.bv_val, rdn[0]->la_value.bv_len);
  for (int i = 1; parsed.dn[i] != nullptr; ++i) {
    if (i > 1) out.parent_key += ',';
    append_rdn(out.parent_key, parsed.dn[i]);
  }
  return out;
}

}  // namespace fastid::providers::ldap
