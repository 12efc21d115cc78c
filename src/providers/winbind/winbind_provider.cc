// The winbind provider: libwbclient calls on one private context (see the header).
#include "providers/winbind/winbind_provider.h"

// wbclient.h uses these types without including their headers.
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <grp.h>
#include <pwd.h>
// wbclient.h declares C functions without extern "C" of its own.
extern "C" {
#include <samba-4.0/wbclient.h>
}

#include <cstdio>
#include <cstring>
#include <type_traits>
#include <utility>

#include "core/log.h"

namespace fastid::providers {
namespace {

using winbind::DomainNames;
using winbind::NameRules;
using winbind::WinbindNames;

// NTSTATUS values winbindd reports for a refused logon (MS-ERREF 2.3.1).
constexpr std::uint32_t kNoSuchUser = 0xC0000064, kWrongPassword = 0xC000006A, kLogonFailure = 0xC000006D;
constexpr std::uint32_t kAccountRestriction = 0xC000006E, kInvalidLogonHours = 0xC000006F;
constexpr std::uint32_t kInvalidWorkstation = 0xC0000070, kPasswordExpired = 0xC0000071;
constexpr std::uint32_t kAccountDisabled = 0xC0000072, kAccountExpired = 0xC0000193;
constexpr std::uint32_t kPasswordMustChange = 0xC0000224, kAccountLockedOut = 0xC0000234;
constexpr std::uint32_t kNoSuchDomain = 0xC00000DF;
// The domain could not be asked: an outage, never a verdict.
constexpr std::uint32_t kOutages[] = {
    0xC000005E,  // NO_LOGON_SERVERS
    0xC0000233,  // DOMAIN_CONTROLLER_NOT_FOUND
    0xC00000B5,  // IO_TIMEOUT
    0xC000020C,  // CONNECTION_DISCONNECTED
    0xC0000236,  // CONNECTION_REFUSED
    0xC000023C,  // NETWORK_UNREACHABLE
    0xC00000BE,  // BAD_NETWORK_PATH
    0xC000018B,  // NO_TRUST_SAM_ACCOUNT (this host's own trust is broken)
    0xC0000192,  // NETLOGON_NOT_STARTED
};

const char* account_state(std::uint32_t nt) {
  switch (nt) {
    case kAccountDisabled: return "the account is disabled";
    case kAccountExpired: return "the account has expired";
    case kAccountLockedOut: return "the account is locked out";
    case kPasswordExpired: return "the password has expired";
    case kPasswordMustChange: return "the password must be changed";
    case kAccountRestriction: return "an account restriction refuses the logon";
    case kInvalidLogonHours: return "logons are not allowed at this hour";
    case kInvalidWorkstation: return "logons are not allowed from this host";
    default: return nullptr;
  }
}

std::string hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

User to_user(const struct passwd& pw, const WinbindNames& names) {
  return User{.name = names.from_winbind(pw.pw_name != nullptr ? pw.pw_name : ""),
              .passwd = "x",
              .uid = pw.pw_uid,
              .gid = pw.pw_gid,
              .gecos = pw.pw_gecos != nullptr ? pw.pw_gecos : "",
              .dir = pw.pw_dir != nullptr ? pw.pw_dir : "",
              .shell = pw.pw_shell != nullptr ? pw.pw_shell : ""};
}

Group to_group(const struct group& gr, const WinbindNames& names) {
  Group g{.name = names.from_winbind(gr.gr_name != nullptr ? gr.gr_name : ""), .passwd = "x", .gid = gr.gr_gid,
          .members = {}};
  for (char** m = gr.gr_mem; m != nullptr && *m != nullptr; ++m) g.members.push_back(names.from_winbind(*m));
  return g;
}

// A NUL-terminated copy of a password for the C call, wiped when it goes.
class PlainPassword {
 public:
  explicit PlainPassword(std::string_view p) : size_(p.size() + 1), data_(new char[size_]) {
    std::memcpy(data_.get(), p.data(), p.size());
    data_[p.size()] = '\0';
  }
  ~PlainPassword() { ::explicit_bzero(data_.get(), size_); }
  PlainPassword(const PlainPassword&) = delete;
  PlainPassword& operator=(const PlainPassword&) = delete;
  const char* c_str() const { return data_.get(); }

 private:
  std::size_t size_;
  std::unique_ptr<char[]> data_;
};

}  // namespace

WinbindProvider::WinbindProvider(Options options) : options_(std::move(options)) {}

WinbindProvider::~WinbindProvider() { close(); }

void WinbindProvider::close() {
  if (ctx_ != nullptr) {
    wbcCtxFree(ctx_);
    ctx_ = nullptr;
  }
  user_list_ = {};
  group_list_ = {};
}

Status WinbindProvider::failure(int wbc_error, const std::string& what) {
  const auto e = static_cast<wbcErr>(wbc_error);
  const std::string p = "provider " + options_.name + ": ";
  switch (e) {
    case WBC_ERR_DOMAIN_NOT_FOUND:
    case WBC_ERR_UNKNOWN_USER:
    case WBC_ERR_UNKNOWN_GROUP:
    case WBC_ERR_INVALID_PARAM:  // a name winbindd cannot parse names no entry
      ++not_found_;
      return Status::not_found(p + "no such " + what);
    case WBC_ERR_WINBIND_NOT_AVAILABLE:
      ++unavailable_;
      last_error_ = std::string("winbindd is not reachable on ") + kSocketPath;
      return Status::unavailable(p + last_error_);
    default:
      ++unavailable_;
      last_error_ = std::string("winbindd failed: ") + wbcErrorString(e);
      return Status::unavailable(p + what + ": " + last_error_);
  }
}

Status WinbindProvider::connect() {
  if (ctx_ != nullptr && names_) return Status::ok();
  const std::string p = "provider " + options_.name + ": ";
  if (ctx_ == nullptr) {
    ctx_ = wbcCtxCreate();
    if (ctx_ == nullptr) return Status::unavailable(p + "cannot make a winbind client context (out of memory)");
  }
  if (wbcErr e = wbcCtxPing(ctx_); !WBC_ERROR_IS_OK(e)) {
    ++unavailable_;
    last_error_ = std::string("winbindd does not answer on ") + kSocketPath + " (" + wbcErrorString(e) + ")";
    return Status::unavailable(p + last_error_);
  }
  struct wbcInterfaceDetails* details = nullptr;
  if (wbcErr e = wbcCtxInterfaceDetails(ctx_, &details); !WBC_ERROR_IS_OK(e)) {
    return Status::unavailable(p + "winbindd's interface details: " + wbcErrorString(e));
  }
  NameRules rules{.names = options_.names, .winbind_separator = details->winbind_separator, .domains = {}};
  rules.domains.push_back(DomainNames{details->netbios_domain != nullptr ? details->netbios_domain : "",
                                      details->dns_domain != nullptr ? details->dns_domain : ""});
  wbcFreeMemory(details);
  struct wbcDomainInfo* trusts = nullptr;
  size_t n = 0;
  if (WBC_ERROR_IS_OK(wbcCtxListTrusts(ctx_, &trusts, &n))) {
    for (size_t i = 0; i < n; ++i) {
      rules.domains.push_back(DomainNames{trusts[i].short_name != nullptr ? trusts[i].short_name : "",
                                          trusts[i].dns_name != nullptr ? trusts[i].dns_name : ""});
    }
    wbcFreeMemory(trusts);
  }
  WinbindNames names(std::move(rules));
  if (!options_.names.default_domain.empty() && names.canonical_domain(options_.names.default_domain).empty()) {
    std::string known;
    for (const DomainNames& d : names.rules().domains) {
      known += (known.empty() ? "" : ", ") + d.netbios + (d.dns.empty() ? "" : " (" + d.dns + ")");
    }
    return Status::invalid_argument(p + "default_domain: winbindd knows no domain \"" + options_.names.default_domain +
                                    "\" (it knows " + known + ")");
  }
  names_.emplace(std::move(names));
  return Status::ok();
}

Status WinbindProvider::open() {
  if (Status st = check_name_options(options_.names, options_.name); !st) return st;
  return connect();
}

bool WinbindProvider::names_entry(std::string_view asked, std::string_view answered) const {
  return names_ ? names_->same_entry(asked, answered) : asked == answered;
}

Result<User> WinbindProvider::user(std::string_view asked, bool by_uid, std::uint32_t uid) {
  struct passwd* pw = nullptr;
  wbcErr e;
  ++calls_;
  if (by_uid) {
    e = wbcCtxGetpwuid(ctx_, uid, &pw);
  } else {
    auto wn = names_->to_winbind(asked);
    if (!wn) return core::error(Status::not_found("provider " + options_.name + ": no such user"));
    e = wbcCtxGetpwnam(ctx_, wn->c_str(), &pw);
  }
  if (!WBC_ERROR_IS_OK(e)) return core::error(failure(e, "user"));
  User u = to_user(*pw, *names_);
  wbcFreeMemory(pw);
  // winbindd matches without case; a case-sensitive site wants the exact name.
  if (!by_uid && !names_->same_entry(asked, u.name)) {
    ++not_found_;
    return core::error(Status::not_found("provider " + options_.name + ": no such user"));
  }
  return u;
}

Result<Group> WinbindProvider::group(std::string_view asked, bool by_gid, std::uint32_t gid) {
  struct group* gr = nullptr;
  wbcErr e;
  ++calls_;
  if (by_gid) {
    e = wbcCtxGetgrgid(ctx_, gid, &gr);
  } else {
    auto wn = names_->to_winbind(asked);
    if (!wn) return core::error(Status::not_found("provider " + options_.name + ": no such group"));
    e = wbcCtxGetgrnam(ctx_, wn->c_str(), &gr);
  }
  if (!WBC_ERROR_IS_OK(e)) return core::error(failure(e, "group"));
  Group g = to_group(*gr, *names_);
  wbcFreeMemory(gr);
  if (!by_gid && !names_->same_entry(asked, g.name)) {
    ++not_found_;
    return core::error(Status::not_found("provider " + options_.name + ": no such group"));
  }
  return g;
}

Result<model::Gids> WinbindProvider::groups_of(std::string_view asked) {
  // The user must be one this provider serves (case-sensitive sites, names
  // winbindd would take that fastid does not).
  if (options_.names.case_sensitive) {
    if (auto u = user(asked, false, 0); !u) return core::error(u.error());
  }
  auto wn = names_->to_winbind(asked);
  if (!wn) return core::error(Status::not_found("provider " + options_.name + ": no such user"));
  ++calls_;
  uint32_t n = 0;
  gid_t* gids = nullptr;
  if (wbcErr e = wbcCtxGetGroups(ctx_, wn->c_str(), &n, &gids); !WBC_ERROR_IS_OK(e)) {
    return core::error(failure(e, "user"));
  }
  model::Gids out(gids, gids + n);
  wbcFreeMemory(gids);
  return out;
}

// Pages are slices of winbindd's list of names (wbcListUsers/wbcListGroups),
// each name then looked up: winbindd's own getpwent/getgrent walk skips a
// standalone server's local domain, the list does not. The list is made
// again for cursor 0 and for a cursor this instance did not hand out.
Status WinbindProvider::list_names(bool users, std::uint32_t cursor, NameList& list) {
  if (cursor != 0 && list.valid && cursor <= list.names.size()) return Status::ok();
  list = {};
  uint32_t n = 0;
  const char** names = nullptr;
  ++calls_;
  const wbcErr e = users ? wbcCtxListUsers(ctx_, nullptr, &n, &names) : wbcCtxListGroups(ctx_, nullptr, &n, &names);
  if (!WBC_ERROR_IS_OK(e)) {
    if (e == WBC_ERR_WINBIND_NOT_AVAILABLE) return failure(e, users ? "user list" : "group list");
    if (e == WBC_ERR_DOMAIN_NOT_FOUND) return Status::ok();  // nothing to enumerate
    return failure(e, users ? "user list" : "group list");
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (names[i] != nullptr) list.names.emplace_back(names[i]);
  }
  wbcFreeMemory(names);
  list.valid = true;
  return Status::ok();
}

template <typename T>
Result<Page<T>> WinbindProvider::page_of(std::uint32_t cursor, std::uint32_t max, NameList& list) {
  constexpr bool kUsers = std::is_same_v<T, User>;
  if (Status st = list_names(kUsers, cursor, list); !st) return core::error(st);
  Page<T> page;
  const std::size_t begin = std::min<std::size_t>(cursor, list.names.size());
  const std::size_t end = std::min<std::size_t>(begin + std::max<std::uint32_t>(max, 1), list.names.size());
  for (std::size_t i = begin; i < end; ++i) {
    Result<T> r = [&] {
      if constexpr (kUsers) {
        return user(names_->from_winbind(list.names[i]), false, 0);
      } else {
        return group(names_->from_winbind(list.names[i]), false, 0);
      }
    }();
    if (r) {
      page.records.push_back(std::move(*r));
    } else if (r.error().code() != core::Code::kNotFound) {
      return core::error(r.error());  // an entry gone since the list is skipped, an outage is not
    }
  }
  page.next_cursor = static_cast<std::uint32_t>(end);
  page.more = end < list.names.size();
  return page;
}

Result<Answer> WinbindProvider::lookup(const Query& q) {
  if (Status st = connect(); !st) return core::error(st);
  using model::Kind;
  auto as_answer = [](auto r) -> Result<Answer> {
    if (!r) return core::error(r.error());
    return Answer(std::move(*r));
  };
  switch (q.kind) {
    case Kind::kUserByName: return as_answer(user(q.name, false, 0));
    case Kind::kUserByUid: return as_answer(user({}, true, q.id));
    case Kind::kGroupByName: return as_answer(group(q.name, false, 0));
    case Kind::kGroupByGid: return as_answer(group({}, true, q.id));
    case Kind::kInitgroups: return as_answer(groups_of(q.name));
    case Kind::kUsersPage: return as_answer(page_of<User>(q.cursor, q.max, user_list_));
    case Kind::kGroupsPage: return as_answer(page_of<Group>(q.cursor, q.max, group_list_));
    // winbind serves neither netgroups nor SSH keys: the next directory may.
    case Kind::kNetgroup:
    case Kind::kSshKeys: return core::error(Status::not_found(model::describe(q)));
  }
  return core::error(Status::internal("provider " + options_.name + ": unknown query kind"));
}

Status WinbindProvider::authenticate(std::string_view user_name, std::string_view password) {
  auto r = authenticate_verdict(user_name, password);
  if (!r) return r.error();
  if (r->verdict != model::AccountVerdict::kOk) {
    return Status::permission_denied("provider " + options_.name + ": " + r->message);
  }
  return Status::ok();
}

Result<model::Account> WinbindProvider::authenticate_verdict(std::string_view user_name, std::string_view password) {
  const std::string p = "provider " + options_.name + ": ";
  if (Status st = connect(); !st) return core::error(st);
  // An empty password would ask for an anonymous logon; one with a NUL would
  // be cut short by the C string: neither is ever the user's password.
  if (password.empty() || password.find('\0') != std::string_view::npos) {
    ++auth_refused_;
    return core::error(Status::permission_denied(p + "password refused"));
  }
  auto wn = names_->to_winbind(user_name);
  if (!wn) return core::error(Status::not_found(p + "no such user"));
  // The account winbindd checks: DOMAIN and user apart; a short name with no
  // default domain is winbindd's own domain's.
  std::string domain, account = *wn;
  if (auto at = wn->find(names_->rules().winbind_separator); at != std::string::npos) {
    domain = wn->substr(0, at);
    account = wn->substr(at + 1);
  } else {
    domain = names_->rules().domains.front().netbios;
  }
  PlainPassword plain(password);
  wbcAuthUserParams params{};
  params.account_name = account.c_str();
  params.domain_name = domain.c_str();
  params.level = wbcAuthUserParams::WBC_AUTH_USER_LEVEL_PLAIN;
  params.parameter_control = WBC_MSV1_0_CLEARTEXT_PASSWORD_ALLOWED;
  params.password.plaintext = plain.c_str();
  wbcAuthUserInfo* info = nullptr;
  wbcAuthErrorInfo* err = nullptr;
  ++calls_;
  const wbcErr e = wbcCtxAuthenticateUserEx(ctx_, &params, &info, &err);
  const std::uint32_t nt = err != nullptr ? static_cast<std::uint32_t>(err->nt_status) : 0;
  const std::string nt_text = err != nullptr && err->nt_string != nullptr ? err->nt_string : hex(nt);
  wbcFreeMemory(info);
  wbcFreeMemory(err);
  if (WBC_ERROR_IS_OK(e)) return model::Account{};
  if (e != WBC_ERR_AUTH_ERROR) return core::error(failure(e, "user"));
  if (nt == kNoSuchUser || nt == kNoSuchDomain) {
    ++not_found_;
    return core::error(Status::not_found(p + "no such user"));
  }
  for (std::uint32_t outage : kOutages) {
    if (nt == outage) {
      ++unavailable_;
      last_error_ = "the domain could not check a password: " + nt_text;
      return core::error(Status::unavailable(p + last_error_));
    }
  }
  ++auth_refused_;
  if (nt == kWrongPassword || nt == kLogonFailure) {
    return core::error(Status::permission_denied(p + "wrong password"));
  }
  // Checked by the domain after the password: the account check's verdicts.
  if (nt == kAccountExpired) return model::Account{model::AccountVerdict::kExpired, account_state(nt)};
  if (nt == kPasswordExpired || nt == kPasswordMustChange) {
    return model::Account{model::AccountVerdict::kPasswordExpired, account_state(nt)};
  }
  // Any other refusal (a disabled or locked-out account, whatever else the
  // domain says) is a refusal, never an outage: offline credentials must not
  // open an account the domain closed.
  if (const char* state = account_state(nt)) {
    return core::error(Status::permission_denied(p + state + " (" + nt_text + ")"));
  }
  return core::error(Status::permission_denied(p + "logon refused (" + nt_text + ")"));
}

Result<model::Account> WinbindProvider::account(std::string_view user_name) {
  if (Status st = connect(); !st) return core::error(st);
  auto u = user(user_name, false, 0);
  if (!u) return core::error(u.error());
  return model::Account{};
}

std::vector<std::pair<std::string, std::string>> WinbindProvider::stats() const {
  std::vector<std::pair<std::string, std::string>> out = {
      {"calls", std::to_string(calls_)},
      {"not_found", std::to_string(not_found_)},
      {"unavailable", std::to_string(unavailable_)},
      {"auth_refused", std::to_string(auth_refused_)},
  };
  if (names_) out.emplace_back("domain", names_->rules().domains.front().netbios);
  if (!last_error_.empty()) out.emplace_back("last_error", last_error_);
  return out;
}

}  // namespace fastid::providers
