#include "providers/checked_provider.h"

#include <algorithm>

#include "core/log.h"
#include "proto/wire.h"
#include "providers/netgroups.h"
#include "providers/ssh_keys.h"

namespace fastid::providers {

CheckedProvider::CheckedProvider(std::unique_ptr<Provider> inner, IdRange ids, NameForm names)
    : WrappingProvider(std::move(inner)), ids_(ids), qualified_(names == NameForm::kQualified) {}

Status CheckedProvider::refuse(const std::string& what, const std::string& why) {
  ++refused_;
  core::log_warning("provider " + name() + ": " + what + " refused: " + why);
  return Status::not_found("provider " + name() + ": " + what + " refused: " + why);
}

std::optional<std::string> CheckedProvider::user_refusal(const User& u) const {
  if (const char* why = invalid_name_reason(u.name, qualified_)) return std::string(why);
  for (const std::string* f : {&u.passwd, &u.gecos, &u.dir, &u.shell}) {
    if (const char* why = invalid_field_reason(*f)) return std::string(why) + " \"" + printable(*f) + "\"";
  }
  if (const char* why = refused_id_reason(u.uid, ids_)) return "uid " + std::to_string(u.uid) + ": " + why;
  if (const char* why = refused_id_reason(u.gid, ids_)) return "gid " + std::to_string(u.gid) + ": " + why;
  return std::nullopt;
}

std::optional<std::string> CheckedProvider::group_refusal(Group& g) {
  if (const char* why = invalid_name_reason(g.name, qualified_)) return std::string(why);
  if (const char* why = invalid_field_reason(g.passwd)) return std::string(why);
  if (const char* why = refused_id_reason(g.gid, ids_)) return "gid " + std::to_string(g.gid) + ": " + why;
  std::erase_if(g.members, [&](const std::string& m) {
    const char* why = invalid_name_reason(m, qualified_);
    if (why != nullptr) {
      core::log_warning("provider " + name() + ": group \"" + g.name + "\": member \"" + printable(m) +
                        "\" dropped: " + why);
    }
    return why != nullptr;
  });
  return std::nullopt;
}

namespace {

std::uint32_t id_of(const User& u) { return u.uid; }
std::uint32_t id_of(const Group& g) { return g.gid; }
const char* noun(const User&) { return "user"; }
const char* noun(const Group&) { return "group"; }
const char* id_word(const User&) { return "uid"; }
const char* id_word(const Group&) { return "gid"; }

// `user "alice" (uid 1000)`, for logs.
template <typename T>
std::string label(const T& rec) {
  return std::string(noun(rec)) + " \"" + printable(rec.name) + "\" (" + id_word(rec) + " " +
         std::to_string(id_of(rec)) + ")";
}

}  // namespace

std::optional<std::string> CheckedProvider::refusal(User& u) { return user_refusal(u); }
std::optional<std::string> CheckedProvider::refusal(Group& g) { return group_refusal(g); }

// A record must be the one asked for (the asked name, or the asked id) and
// pass the rules.
template <typename T>
Result<Answer> CheckedProvider::checked(const Query& q, T rec) {
  const bool by_id = model::keyed_by_id(q.kind);
  const std::string what = by_id ? label(rec) : std::string(noun(rec)) + " \"" + printable(rec.name) + "\"";
  if (!by_id && !inner_->names_entry(q.name, rec.name)) {
    return core::error(refuse(what, "the answer to a lookup of \"" + printable(q.name) + "\" names another " +
                                        noun(rec)));
  }
  if (by_id && id_of(rec) != q.id) {
    return core::error(refuse(what, "the answer to a lookup of " + std::string(id_word(rec)) + " " +
                                        std::to_string(q.id) + " has another " + id_word(rec)));
  }
  if (auto why = refusal(rec)) return core::error(refuse(what, *why));
  return rec;
}

// A page drops the records that may not be served.
template <typename T>
Result<Answer> CheckedProvider::checked(const Query&, Page<T> page) {
  std::erase_if(page.records, [&](T& rec) {
    auto why = refusal(rec);
    if (why) (void)refuse(label(rec), *why);
    return why.has_value();
  });
  return page;
}

// A list of memberships drops the gids outside the range.
Result<Answer> CheckedProvider::checked(const Query& q, model::Gids gids) {
  std::erase_if(gids, [&](std::uint32_t gid) {
    const char* why = refused_id_reason(gid, ids_);
    if (why != nullptr) {
      ++refused_;
      core::log_warning("provider " + name() + ": gid " + std::to_string(gid) + " in the groups of \"" +
                        printable(q.name) + "\" refused: " + why);
    }
    return why != nullptr;
  });
  return gids;
}

// A netgroup must be the one asked for; triples and nested names that break
// the rules are dropped (a dropped triple can only narrow who matches).
Result<Answer> CheckedProvider::checked(const Query& q, model::Netgroup ng) {
  const std::string what = "netgroup \"" + printable(ng.name) + "\"";
  if (ng.name != q.name) {
    return core::error(refuse(what, "the answer to a lookup of \"" + printable(q.name) + "\" names another netgroup"));
  }
  if (ng.triples.size() > proto::kMaxNetgroupTriples || ng.unresolved.size() > proto::kMaxNetgroupUnresolved) {
    return core::error(refuse(what, "more triples or nested netgroups than the protocol carries"));
  }
  std::erase_if(ng.triples, [&](const model::NetgroupTriple& t) {
    const char* why = invalid_triple_reason(t);
    if (why != nullptr) {
      core::log_warning("provider " + name() + ": " + what + ": triple (" + printable(t.host) + "," +
                        printable(t.user) + "," + printable(t.domain) + ") dropped: " + why);
    }
    return why != nullptr;
  });
  std::erase_if(ng.unresolved, [&](const std::string& n) {
    const char* why = invalid_netgroup_name_reason(n);
    if (why != nullptr) {
      core::log_warning("provider " + name() + ": " + what + ": nested netgroup \"" + printable(n) +
                        "\" dropped: " + why);
    }
    return why != nullptr;
  });
  return ng;
}

// Keys of exactly the user asked for (never of a name that matched it
// case-insensitively), each a single valid authorized_keys line.
Result<Answer> CheckedProvider::checked(const Query& q, model::SshKeys keys) {
  const std::string what = "SSH keys of \"" + printable(keys.user) + "\"";
  if (keys.user != q.name) {
    return core::error(refuse(what, "the answer to a lookup of \"" + printable(q.name) + "\" names another user"));
  }
  model::SshKeys out{keys.user, {}};
  for (const std::string& k : keys.keys) {
    const char* why = nullptr;
    auto line = ssh_key_line(k, &why);
    if (!line) {
      ++refused_;
      core::log_warning("provider " + name() + ": " + what + ": key \"" + printable(k) + "\" skipped: " + why);
      continue;
    }
    if (out.keys.size() == proto::kMaxSshKeys) {
      core::log_warning("provider " + name() + ": " + what + ": more than " +
                        std::to_string(proto::kMaxSshKeys) + " keys, the rest skipped");
      break;
    }
    out.keys.push_back(std::move(*line));
  }
  return out;
}

// A refused id is still asked for: the store probes a provider's reachability
// with getpwuid(0), and only the provider can say whether it answers.
Result<Answer> CheckedProvider::lookup(const Query& q) {
  const char* bad_name = q.kind == model::Kind::kNetgroup ? invalid_netgroup_name_reason(q.name)
                         : model::keyed_by_name(q.kind)   ? invalid_name_reason(q.name, qualified_)
                                                          : nullptr;
  if (bad_name != nullptr) return core::error(Status::not_found("no " + model::describe(q)));
  auto r = inner_->lookup(q);
  if (!r) return r;
  if (Status st = model::check_answer(q, *r); !st) return core::error(st.with_context("provider " + name()));
  return std::visit([&](auto& v) { return checked(q, std::move(v)); }, *r);
}

// A user whose record is refused does not exist here: a success or a verdict
// about them is "not found". Checked after the provider's answer, so that a
// provider that does not authenticate (the remote one) costs no lookup.
Status CheckedProvider::authenticate(std::string_view user, std::string_view password) {
  Status st = inner_->authenticate(user, password);
  if (!st) return st;
  auto u = user_by_name(user);
  return u ? Status::ok() : u.error();
}

Result<model::Account> CheckedProvider::authenticate_verdict(std::string_view user, std::string_view password) {
  auto r = inner_->authenticate_verdict(user, password);
  if (!r) return r;
  if (auto u = user_by_name(user); !u) return core::error(u.error());
  return r;
}

Result<model::Account> CheckedProvider::account(std::string_view user) {
  auto a = inner_->account(user);
  if (!a) return a;
  auto u = user_by_name(user);
  if (!u) return core::error(u.error());
  return a;
}

// Checked before the change, not after: a user whose record is refused here
// (uid 0, an id out of range, an ambiguous name) has no password fastid changes.
Result<model::PasswordChange> CheckedProvider::change_password(std::string_view user, std::string_view old_password,
                                                               std::string_view new_password) {
  if (invalid_name_reason(user, qualified_) != nullptr) {
    return core::error(Status::not_found("no such user"));
  }
  auto u = user_by_name(user);
  if (!u) return core::error(u.error());
  return inner_->change_password(user, old_password, new_password);
}

std::vector<std::pair<std::string, std::string>> CheckedProvider::stats() const {
  auto out = inner_->stats();
  out.emplace_back("records_refused", std::to_string(refused_));
  return out;
}

}  // namespace fastid::providers
