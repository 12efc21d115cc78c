// Home and shell rules (home_shell_rules.h).
#include "providers/home_shell_rules.h"

#include <algorithm>

#include "core/log.h"
#include "providers/record_rules.h"

namespace fastid::providers {

namespace {

bool has_bad_byte(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f || c == ':';
  });
}

// An absolute path none of whose segments is "." or ".." (nor empty: "//").
bool clean_absolute(std::string_view path) {
  if (path.empty() || path.front() != '/' || has_bad_byte(path)) return false;
  if (path == "/") return true;
  std::size_t at = 1;
  while (at <= path.size()) {
    const std::size_t end = std::min(path.find('/', at), path.size());
    const std::string_view seg = path.substr(at, end - at);
    if (seg.empty() && end != path.size()) return false;  // "//"
    if (seg == "." || seg == "..") return false;
    at = end + 1;
  }
  return true;
}

}  // namespace

Status check_home_template(std::string_view key, std::string_view tmpl) {
  if (tmpl.empty()) return Status::ok();
  // The template with each escape as a plain segment character: its own
  // segments must be clean. "%u" stands for "x" here; what it really is is
  // checked at each expansion.
  std::string shape;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '%') {
      shape.push_back(tmpl[i]);
      continue;
    }
    if (i + 1 == tmpl.size()) {
      return Status::invalid_argument(std::string(key) + " \"" + printable(tmpl) + "\": ends with a lone %");
    }
    const char e = tmpl[++i];
    if (e == '%') {
      shape.push_back('%');
    } else if (e == 'u' || e == 'U' || e == 'd' || e == 'f') {
      shape.push_back('x');
    } else {
      return Status::invalid_argument(std::string(key) + " \"" + printable(tmpl) + "\": unknown escape %" +
                                      std::string(1, e) + " (%u, %U, %d, %f, %%)");
    }
  }
  if (!clean_absolute(shape)) {
    return Status::invalid_argument(std::string(key) + " \"" + printable(tmpl) +
                                    "\": must be an absolute path without \".\" or \"..\" segments, \"//\", ':' "
                                    "or control characters");
  }
  return Status::ok();
}

Status check_shell_path(std::string_view key, std::string_view shell) {
  if (shell.empty()) return Status::ok();
  if (!clean_absolute(shell)) {
    return Status::invalid_argument(std::string(key) + " \"" + printable(shell) + "\": must be an absolute path");
  }
  return Status::ok();
}

Status check_home_shell_options(const HomeShellOptions& o) {
  if (Status st = check_home_template("override_homedir", o.override_homedir); !st) return st;
  if (Status st = check_home_template("fallback_homedir", o.fallback_homedir); !st) return st;
  if (Status st = check_shell_path("override_shell", o.override_shell); !st) return st;
  if (Status st = check_shell_path("shell_fallback", o.shell_fallback); !st) return st;
  for (const auto& s : o.allowed_shells) {
    if (Status st = check_shell_path("allowed_shells", s); !st) return st;
  }
  for (const auto& s : o.vetoed_shells) {
    if (Status st = check_shell_path("vetoed_shells", s); !st) return st;
  }
  return Status::ok();
}

std::optional<std::string> expand_home(std::string_view tmpl, const model::User& user, std::string_view domain,
                                       std::string* why) {
  std::string out;
  // A value put in must stay inside its segment.
  auto put = [&](std::string_view value, const char* what) {
    if (value.empty() || value.find('/') != std::string_view::npos || has_bad_byte(value)) {
      *why = std::string(what) + " \"" + printable(value) + "\" cannot be part of a path";
      return false;
    }
    out.append(value);
    return true;
  };
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '%' || i + 1 == tmpl.size()) {
      out.push_back(tmpl[i]);
      continue;
    }
    const char e = tmpl[++i];
    bool ok = true;
    switch (e) {
      case 'u': ok = put(user.name, "name"); break;
      case 'U': out += std::to_string(user.uid); break;
      case 'd': ok = put(domain, "domain"); break;
      case 'f':
        ok = user.name.find('@') != std::string::npos ? put(user.name, "name")
                                                       : put(user.name + "@" + std::string(domain), "name@domain");
        break;
      case '%': out.push_back('%'); break;
      default: out.push_back('%'); out.push_back(e); break;  // refused by check_home_template
    }
    if (!ok) return std::nullopt;
  }
  if (!clean_absolute(out)) {
    *why = "home \"" + printable(out) + "\" would not be a clean absolute path";
    return std::nullopt;
  }
  if (out.size() > 4096) {
    *why = "home longer than 4096 bytes";
    return std::nullopt;
  }
  return out;
}

bool shape_user(const HomeShellOptions& o, model::User& user, std::string* why) {
  const std::string* tmpl = nullptr;
  if (!o.override_homedir.empty()) {
    tmpl = &o.override_homedir;
  } else if (!o.fallback_homedir.empty() && user.dir.empty()) {
    tmpl = &o.fallback_homedir;
  }
  if (tmpl != nullptr) {
    auto home = expand_home(*tmpl, user, o.domain, why);
    if (!home) return false;
    user.dir = std::move(*home);
  }
  if (!o.override_shell.empty()) user.shell = o.override_shell;
  const bool vetoed = std::find(o.vetoed_shells.begin(), o.vetoed_shells.end(), user.shell) != o.vetoed_shells.end();
  const bool allowed = o.allowed_shells.empty() ||
                       std::find(o.allowed_shells.begin(), o.allowed_shells.end(), user.shell) != o.allowed_shells.end();
  if (vetoed || !allowed) user.shell = o.shell_fallback;
  return true;
}

HomeShellProvider::HomeShellProvider(std::unique_ptr<Provider> inner, HomeShellOptions options)
    : WrappingProvider(std::move(inner)), options_(std::move(options)) {
  if (options_.domain.empty()) options_.domain = inner_->name();
}

Status HomeShellProvider::open() {
  if (Status st = check_home_shell_options(options_); !st) {
    return Status::invalid_argument("provider " + name() + ": " + st.message());
  }
  return inner_->open();
}

Result<Answer> HomeShellProvider::lookup(const Query& q) {
  auto r = inner_->lookup(q);
  if (!r) return r;
  auto refuse = [&](const model::User& u, const std::string& why) {
    ++refused_;
    core::log_warning("provider " + name() + ": user \"" + printable(u.name) + "\" refused: " + why);
  };
  if (auto* u = std::get_if<User>(&*r)) {
    std::string why;
    if (!shape_user(options_, *u, &why)) {
      refuse(*u, why);
      return core::error(Status::not_found("no such user"));
    }
  } else if (auto* page = std::get_if<Page<User>>(&*r)) {
    std::vector<User> kept;
    kept.reserve(page->records.size());
    for (auto& u : page->records) {
      std::string why;
      if (shape_user(options_, u, &why)) {
        kept.push_back(std::move(u));
      } else {
        refuse(u, why);
      }
    }
    page->records = std::move(kept);
  }
  return r;
}

Status HomeShellProvider::authenticate(std::string_view user, std::string_view password) {
  Status st = inner_->authenticate(user, password);
  if (!st) return st;
  auto u = user_by_name(user);
  return u ? Status::ok() : u.error();
}

Result<model::Account> HomeShellProvider::authenticate_verdict(std::string_view user, std::string_view password) {
  auto r = inner_->authenticate_verdict(user, password);
  if (!r) return r;
  if (auto u = user_by_name(user); !u) return core::error(u.error());
  return r;
}

Result<model::Account> HomeShellProvider::account(std::string_view user) {
  auto a = inner_->account(user);
  if (!a) return a;
  if (auto u = user_by_name(user); !u) return core::error(u.error());
  return a;
}

Result<model::PasswordChange> HomeShellProvider::change_password(std::string_view user, std::string_view old_password,
                                                                 std::string_view new_password) {
  if (auto u = user_by_name(user); !u) return core::error(u.error());
  return inner_->change_password(user, old_password, new_password);
}

std::vector<std::pair<std::string, std::string>> HomeShellProvider::stats() const {
  auto out = inner_->stats();
  out.emplace_back("homes_refused", std::to_string(refused_));
  return out;
}

}  // namespace fastid::providers
