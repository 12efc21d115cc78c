// The gate's table lookups and its figures (gate.h).
#include "server/gate.h"

#include "proto/wire.h"

namespace fastid::server {

std::optional<Route> route_of(std::uint16_t opcode) {
  using proto::Opcode;
  if (!proto::opcode_known(opcode)) return std::nullopt;
  switch (static_cast<Opcode>(opcode)) {
    case Opcode::kPing: return Route::kPing;
    case Opcode::kStatus: return Route::kStatus;
    case Opcode::kAuthenticate:
    case Opcode::kAccount:
    case Opcode::kChangePassword: return Route::kAuth;
    case Opcode::kCacheInvalidate:
    case Opcode::kCacheForget:
    case Opcode::kCacheShow:
    case Opcode::kSetLogLevel: return Route::kAdmin;
    default: return Route::kLookup;
  }
}

const char* listener_class_name(ListenerClass c) {
  switch (c) {
    case ListenerClass::kNss: return "nss";
    case ListenerClass::kPam: return "pam";
    case ListenerClass::kAdmin: return "admin";
    case ListenerClass::kNetwork: return "network";
    case ListenerClass::kVarlink: return "varlink";
    case ListenerClass::kNscd: return "nscd";
    case ListenerClass::kMetrics: return "metrics";
  }
  return "?";
}

const char* rejection_name(Rejection r) {
  switch (r) {
    case Rejection::kNone: return "none";
    case Rejection::kNotPublic: return "not_public";
    case Rejection::kNotPamSocket: return "not_pam_socket";
    case Rejection::kNotAdminSocket: return "not_admin_socket";
    case Rejection::kAdminNotRoot: return "admin_not_root";
    case Rejection::kNotVarlink: return "not_varlink";
    case Rejection::kNotNscd: return "not_nscd";
    case Rejection::kNotMetrics: return "not_metrics";
  }
  return "?";
}

const char* rejection_message(Rejection r) {
  switch (r) {
    case Rejection::kNone: return "";
    case Rejection::kNotPublic: return "only ping and public lookups are accepted over the network";
    case Rejection::kNotPamSocket: return "authentication requests are accepted on the pam socket only";
    case Rejection::kNotAdminSocket:
    case Rejection::kAdminNotRoot: return "admin requests are accepted on the admin socket, from root only";
    case Rejection::kNotVarlink: return "only user and group lookups are accepted on the Varlink socket";
    case Rejection::kNotNscd: return "only lookups are accepted on the nscd socket";
    case Rejection::kNotMetrics: return "only a metrics scrape is accepted on the metrics listener";
  }
  return "refused";
}

namespace {

// A front end that speaks its own protocol has its own refusal.
Rejection own_refusal(ListenerClass listener) {
  switch (listener) {
    case ListenerClass::kVarlink: return Rejection::kNotVarlink;
    case ListenerClass::kNscd: return Rejection::kNotNscd;
    case ListenerClass::kMetrics: return Rejection::kNotMetrics;
    default: return Rejection::kNone;
  }
}

}  // namespace

Rejection gate_verdict(ListenerClass listener, bool root, std::uint16_t opcode) {
  std::optional<Route> route = route_of(opcode);
  if (!route) return listener == ListenerClass::kNetwork ? Rejection::kNotPublic : own_refusal(listener);
  return gate_verdict(listener, root, *route);
}

Rejection gate_verdict(ListenerClass listener, bool root, Route route) {
  const bool network = listener == ListenerClass::kNetwork;
  const Rejection own = own_refusal(listener);
  for (const GateRule& rule : kGateTable) {
    if (rule.route != route) continue;
    if ((rule.listeners & listener_bit(listener)) == 0) {
      return network ? Rejection::kNotPublic : own != Rejection::kNone ? own : rule.off_listener;
    }
    if (rule.root_only && (network || !root)) return Rejection::kAdminNotRoot;
    return Rejection::kNone;
  }
  return network ? Rejection::kNotPublic : Rejection::kNone;  // a route without a row: unreachable
}

std::vector<std::pair<std::string, std::string>> Gate::status_items() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 1; i < kRejections; ++i) {
    out.emplace_back(std::string("gate.refused.") + rejection_name(static_cast<Rejection>(i)),
                     std::to_string(refused_[i]));
  }
  return out;
}

}  // namespace fastid::server
