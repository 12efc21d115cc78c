// WinbindProvider: users, groups, initgroups, enumeration and authentication
// from Samba's winbindd through libwbclient (`type = "winbind"`), with the
// names AD sites use (winbind_names.h). Calls block on winbindd's socket, so
// it runs in the provider pool's provider worker processes (isolation `auto` means
// `process`). One wbcContext per instance, made in open() inside the provider worker
// that uses it: the library's global context and its lock are never used, so
// no fork can inherit a held lock. Not thread-safe (the Provider contract).
// docs/winbind.md describes settings, names and errors.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "providers/name_options.h"
#include "providers/provider.h"
#include "providers/winbind/winbind_names.h"

struct wbcContext;

namespace fastid::providers {

class WinbindProvider final : public Provider {
 public:
  struct Options {
    std::string name = {};
    NameOptions names = {};  // separator, default_domain, case_sensitive
  };

  // The socket libwbclient uses (compiled into it), for messages.
  static constexpr const char* kSocketPath = "/run/samba/winbindd/pipe";

  explicit WinbindProvider(Options options);
  ~WinbindProvider() override;
  WinbindProvider(const WinbindProvider&) = delete;
  WinbindProvider& operator=(const WinbindProvider&) = delete;

  const std::string& name() const override { return options_.name; }

  // Checks the options (kInvalidArgument naming the key), makes the context,
  // pings winbindd (kUnavailable naming the socket when it does not answer)
  // and reads its separator and domains; `default_domain` must be one of
  // them. After kUnavailable the provider stays usable: each call tries again.
  Status open() override;
  void close() override;
  Status refresh() override { return Status::ok(); }

  // kInitgroups: wbcGetGroups, every gid winbindd reports for the user
  // (memberships come from the domain, whatever `winbind expand groups`
  // says). Pages: slices of winbindd's name lists, each name looked up; the
  // cursor is the position in the list.
  Result<Answer> lookup(const Query& query) override;

  // wbcAuthenticateUserEx, plaintext (winbindd checks it against the domain).
  // Wrong password: kPermissionDenied; an account winbindd refuses (disabled,
  // expired, locked out, password expired or to be changed): kPermissionDenied
  // naming the state; unknown user: kNotFound; no domain controller or no
  // winbindd: kUnavailable.
  Status authenticate(std::string_view user, std::string_view password) override;
  // With the right password, the domain's account states that Samba checks
  // after the password (sam_account_ok): an expired account (kExpired) and a
  // password that has expired or must be changed (kPasswordExpired) are
  // verdicts for the account check; a disabled account or another account
  // restriction is refused here (kPermissionDenied); a locked-out account is
  // refused before any password is checked (kPermissionDenied).
  Result<model::Account> authenticate_verdict(std::string_view user, std::string_view password) override;
  // winbindd reports account state only when a password is checked; without
  // one, a user it knows is in order (authenticate() has refused the others).
  Result<model::Account> account(std::string_view user) override;

  bool names_entry(std::string_view asked, std::string_view answered) const override;
  std::vector<std::pair<std::string, std::string>> stats() const override;

 private:
  // winbindd's names for an enumeration, as listed for the current walk.
  struct NameList {
    bool valid = false;
    std::vector<std::string> names;
  };

  Status connect();  // context, ping, interface details and domains
  Result<User> user(std::string_view asked, bool by_uid, std::uint32_t uid);
  Result<Group> group(std::string_view asked, bool by_gid, std::uint32_t gid);
  Result<model::Gids> groups_of(std::string_view asked);
  Status list_names(bool users, std::uint32_t cursor, NameList& list);
  template <typename T>
  Result<Page<T>> page_of(std::uint32_t cursor, std::uint32_t max, NameList& list);
  // The Status for a failed call (see docs/winbind.md, Errors).
  Status failure(int wbc_error, const std::string& what);

  Options options_;
  wbcContext* ctx_ = nullptr;
  std::optional<winbind::WinbindNames> names_;
  NameList user_list_;
  NameList group_list_;
  std::uint64_t calls_ = 0, not_found_ = 0, unavailable_ = 0, auth_refused_ = 0;
  std::string last_error_;
};

}  // namespace fastid::providers
