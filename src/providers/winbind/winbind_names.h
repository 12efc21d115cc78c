// WinbindNames: how the winbind provider reads and writes the names of an AD
// site — `DOMAIN\user` and `user@domain` in, one configured form out, short
// names for the default domain — without talking to winbindd (pure, so the
// rules are unit-tested on their own; docs/winbind.md describes them).
//
// Three spellings meet here:
//  - asked: what a client typed (`wbtest\Bob`, `bob@WBTEST`, `bob`);
//  - winbind's: what winbindd takes and returns (`WBTEST\bob`, with winbindd's
//    own separator, or a bare `bob` when winbindd itself strips its domain);
//  - answered: what fastid serves — the user in winbindd's case, short in the
//    default domain, else `DOMAIN` + separator + user (or `user@DOMAIN` when
//    the separator is '@').
// Domains compare without case and by any of their names (NetBIOS or DNS);
// users compare without case unless case_sensitive.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "providers/name_options.h"

namespace fastid::providers::winbind {

// One domain winbindd knows: its NetBIOS name and its DNS name ("" if none).
struct DomainNames {
  std::string netbios;
  std::string dns;
};

// The provider's NameOptions (checked) and what winbindd told about itself.
struct NameRules {
  NameOptions names;                 // fastid's separator, default domain, case
  char winbind_separator = '\\';     // winbindd's (`winbind separator`)
  std::vector<DomainNames> domains;  // winbindd's own domain first, then trusts
};

// A name split into its domain ("" when the name had none) and user parts.
struct SplitName {
  std::string domain;
  std::string user;
};

class WinbindNames {
 public:
  explicit WinbindNames(NameRules rules) : rules_(std::move(rules)) {}

  // `DOMAIN<sep>user` (fastid's separator or winbindd's), `user@domain`, or
  // a short name (domain ""). nullopt: not a name (an empty part, two
  // separators).
  std::optional<SplitName> split(std::string_view asked) const;

  // What to ask winbindd for `asked`: the domain's NetBIOS name + winbindd's
  // separator + user; a short name takes the default domain, or goes as it
  // is when there is none. nullopt: not a name, or a domain winbindd does
  // not list (its own and its trusts).
  std::optional<std::string> to_winbind(std::string_view asked) const;

  // What fastid serves for a name winbindd returned (see the file comment).
  std::string from_winbind(std::string_view winbind_name) const;

  // Whether the record winbindd returned (already mapped by from_winbind) is
  // the one `asked` names: the same domain (by any of its names) and the
  // same user (exactly when case_sensitive, else without case).
  bool same_entry(std::string_view asked, std::string_view answered) const;

  // The NetBIOS name of a domain given by any of its names ("" when unknown:
  // then the name itself, upper-cased, stands for it).
  std::string canonical_domain(std::string_view domain) const;

  const NameRules& rules() const { return rules_; }

 private:
  bool is_default_domain(std::string_view domain) const;
  NameRules rules_;
};

// ASCII case folding, for names (AD compares names without case).
std::string lower(std::string_view s);
std::string upper(std::string_view s);
bool equal_nocase(std::string_view a, std::string_view b);

}  // namespace fastid::providers::winbind
