// Home and shell rules (issue #16): one decorator in front of any provider
// that rewrites the users it answers before anything else sees them, so the
// store, the fast cache and every front end (NSS module, network listener)
// serve the same record. The provider factory puts it around every provider
// with a rule set.
//
//   override_homedir  a template replacing every home: %u name, %U uid,
//                     %d domain (the provider's name), %f name@domain, %% '%'
//   fallback_homedir  the same, for users whose home is empty
//   override_shell    replaces every shell
//   allowed_shells    a shell outside this list (when set) becomes shell_fallback
//   vetoed_shells     these shells become shell_fallback
//
// A template must be an absolute path whose own segments are never "." or
// "..", with no ':' or control character (check_home_template, at start).
// The values put in are the directory's and untrusted: a name or domain
// with '/' in it, or one that makes a segment "." or "..", would let an
// entry choose where its home is — such a user is refused ("not found",
// logged), never served with a home outside the template.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "providers/provider.h"
#include "providers/wrapping_provider.h"

namespace fastid::providers {

struct HomeShellOptions {
  std::string domain = {};  // %d
  std::string override_homedir = {};
  std::string fallback_homedir = {};
  std::string override_shell = {};
  std::vector<std::string> allowed_shells = {};
  std::vector<std::string> vetoed_shells = {};
  std::string shell_fallback = "/bin/sh";
  bool empty() const {
    return override_homedir.empty() && fallback_homedir.empty() && override_shell.empty() &&
           allowed_shells.empty() && vetoed_shells.empty();
  }
};

// Why `tmpl` is not a usable home template (key names it), or ok.
Status check_home_template(std::string_view key, std::string_view tmpl);
// Why `shell` is not a usable shell path, or ok.
Status check_shell_path(std::string_view key, std::string_view shell);
// Every template and shell of `options` checked.
Status check_home_shell_options(const HomeShellOptions& options);

// The home of `user` from `tmpl` (checked), or nullopt with `why` when the
// values put in would make it anything but a clean absolute path.
std::optional<std::string> expand_home(std::string_view tmpl, const model::User& user, std::string_view domain,
                                       std::string* why);

// Applies the rules to one record; false (with `why`) when it must be refused.
bool shape_user(const HomeShellOptions& options, model::User& user, std::string* why);

class HomeShellProvider final : public WrappingProvider {
 public:
  HomeShellProvider(std::unique_ptr<Provider> inner, HomeShellOptions options);

  Status open() override;
  Result<Answer> lookup(const Query& query) override;
  // A user whose record is refused here does not exist here: a success or a
  // verdict about them is "not found" (as CheckedProvider).
  Status authenticate(std::string_view user, std::string_view password) override;
  Result<model::Account> authenticate_verdict(std::string_view user, std::string_view password) override;
  Result<model::Account> account(std::string_view user) override;
  Result<model::PasswordChange> change_password(std::string_view user, std::string_view old_password,
                                                std::string_view new_password) override;
  std::vector<std::pair<std::string, std::string>> stats() const override;

 private:
  HomeShellOptions options_;
  std::uint64_t refused_ = 0;
};

}  // namespace fastid::providers
