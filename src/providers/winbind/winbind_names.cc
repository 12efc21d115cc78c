// The name rules of the winbind provider (winbind_names.h).
#include "providers/winbind/winbind_names.h"

namespace fastid::providers::winbind {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool equal_nocase(std::string_view a, std::string_view b) { return a.size() == b.size() && lower(a) == lower(b); }

std::optional<SplitName> WinbindNames::split(std::string_view asked) const {
  if (asked.empty()) return std::nullopt;
  // DOMAIN\user first (either separator), then user@domain: a UPN's user part
  // never holds a backslash, and `DOMAIN\user@x` is a user named "user@x".
  for (char sep : {rules_.names.separator_char(), rules_.winbind_separator}) {
    if (sep == '@') continue;
    const auto at = asked.find(sep);
    if (at == std::string_view::npos) continue;
    const std::string_view domain = asked.substr(0, at), user = asked.substr(at + 1);
    if (domain.empty() || user.empty() || user.find(sep) != std::string_view::npos) return std::nullopt;
    return SplitName{std::string(domain), std::string(user)};
  }
  const auto at = asked.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view user = asked.substr(0, at), domain = asked.substr(at + 1);
    if (domain.empty() || user.empty()) return std::nullopt;
    return SplitName{std::string(domain), std::string(user)};
  }
  return SplitName{"", std::string(asked)};
}

std::string WinbindNames::canonical_domain(std::string_view domain) const {
  for (const DomainNames& d : rules_.domains) {
    if (equal_nocase(domain, d.netbios) || (!d.dns.empty() && equal_nocase(domain, d.dns))) return d.netbios;
  }
  return "";
}

bool WinbindNames::is_default_domain(std::string_view domain) const {
  if (rules_.names.default_domain.empty() || domain.empty()) return false;
  if (equal_nocase(domain, rules_.names.default_domain)) return true;
  const std::string a = canonical_domain(domain), b = canonical_domain(rules_.names.default_domain);
  return !a.empty() && equal_nocase(a, b);
}

std::optional<std::string> WinbindNames::to_winbind(std::string_view asked) const {
  auto parts = split(asked);
  if (!parts) return std::nullopt;
  std::string domain = parts->domain.empty() ? rules_.names.default_domain : parts->domain;
  if (domain.empty()) return parts->user;  // winbindd's own default domain decides
  // Only domains winbindd lists: a standalone winbindd answers any domain
  // name with its local users ("NODOMAIN\\bob"), which is no such user.
  const std::string known = canonical_domain(domain);
  if (known.empty()) return std::nullopt;
  return known + rules_.winbind_separator + parts->user;
}

std::string WinbindNames::from_winbind(std::string_view winbind_name) const {
  const auto at = winbind_name.find(rules_.winbind_separator);
  // A bare name: winbindd already stripped its default domain ("winbind use
  // default domain"); a leading separator ("\bob") is the same for a lookup
  // made without a domain.
  if (at == std::string_view::npos) return std::string(winbind_name);
  const std::string_view domain = winbind_name.substr(0, at), user = winbind_name.substr(at + 1);
  if (domain.empty() || is_default_domain(domain)) return std::string(user);
  const std::string known = canonical_domain(domain);
  const std::string shown = known.empty() ? std::string(domain) : known;
  if (rules_.names.separator_char() == '@') return std::string(user) + "@" + shown;
  return shown + rules_.names.separator_char() + std::string(user);
}

bool WinbindNames::same_entry(std::string_view asked, std::string_view answered) const {
  auto a = split(asked), b = split(answered);
  if (!a || !b) return false;
  const std::string da = a->domain.empty() ? rules_.names.default_domain : a->domain;
  const std::string db = b->domain.empty() ? rules_.names.default_domain : b->domain;
  if (da.empty() != db.empty()) return false;
  if (!da.empty() && !equal_nocase(da, db)) {
    const std::string ca = canonical_domain(da), cb = canonical_domain(db);
    if (ca.empty() || !equal_nocase(ca, cb)) return false;
  }
  return rules_.names.case_sensitive ? a->user == b->user : equal_nocase(a->user, b->user);
}

}  // namespace fastid::providers::winbind
