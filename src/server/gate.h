// The gate: which listener and which caller may send which request, in one
// table (kGateTable), and why a request was refused (Rejection), each reason
// counted for `fastid status`. Every transport asks it the same question — the
// stream loop (connection_loop.h) and the UDP path (server.cc) — before the
// router (router.h) sees the request. Loop-thread only; no Asio.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fastid::server {

// The listener a connection or datagram came in on. It also decides a stream
// connection's budget (docs/architecture.md, "Limits"): each class has its
// own, so that no class can starve another. UDP is kNetwork.
// kVarlink: the systemd userdb socket (varlink_front.h): its calls become lookups only.
// kNscd: the socket speaking glibc's nscd protocol (nscd_connection.cc): its
// requests are passed through this gate as the lookup opcode they ask the same
// question as.
// kMetrics: the Prometheus scrape listener (metrics_connection.cc, TCP, anonymous
// peers): one HTTP GET per connection, passed as Route::kMetrics; nothing else.
enum class ListenerClass : std::uint8_t { kNss, kPam, kAdmin, kNetwork, kVarlink, kNscd, kMetrics };
inline constexpr std::size_t kListenerClasses = static_cast<std::size_t>(ListenerClass::kMetrics) + 1;
static_assert(kListenerClasses <= 8, "GateRule::listeners holds one bit per listener class");

// The listener class as metrics and status name it ("nss", "metrics").
const char* listener_class_name(ListenerClass c);

// Where the router sends an opcode (router.h): the lookup handler, the PAM
// handler, or the admin handler (ping, status, and the administrator's
// controls: cache invalidate/forget/show, the log level), or a scrape of the
// metrics listener (no wire opcode has this route: only that listener asks it).
enum class Route : std::uint8_t { kPing, kStatus, kLookup, kAuth, kAdmin, kMetrics };
inline constexpr std::size_t kRoutes = static_cast<std::size_t>(Route::kMetrics) + 1;

// The route of a wire opcode; nullopt: unknown (the decoder answers it).
std::optional<Route> route_of(std::uint16_t opcode);

// Why the gate refused a request. kNone: let through.
enum class Rejection : std::uint8_t {
  kNone,
  kNotPublic,       // a network peer asked for anything but ping or a public lookup
  kNotPamSocket,    // authentication off the pam socket
  kNotAdminSocket,  // an admin request off the admin socket
  kAdminNotRoot,    // an admin request on the admin socket from a non-root peer
  kNotVarlink,      // anything but a lookup from the Varlink socket
  kNotNscd,         // anything but a lookup on the nscd socket
  kNotMetrics,      // anything but a scrape on the metrics listener, or a scrape elsewhere
};
// Counted from the last value, so that a new reason cannot be left out of
// the counters (two fronts added one each at once).
inline constexpr std::size_t kRejections = static_cast<std::size_t>(Rejection::kNotMetrics) + 1;

// The name a rejection is counted under ("gate.refused.<name>").
const char* rejection_name(Rejection r);
// What the refused peer is told (a fixed text: no detail of the server).
const char* rejection_message(Rejection r);

// One row per route: the listeners it is accepted on (a bit per
// ListenerClass), whether the peer must be root, and the reason given on a
// local listener that does not accept it (a network listener is kNotPublic).
struct GateRule {
  Route route;
  std::uint8_t listeners;
  bool root_only;
  Rejection off_listener;
};

inline constexpr std::uint8_t listener_bit(ListenerClass c) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(c));
}
inline constexpr std::uint8_t kLocalListeners =
    listener_bit(ListenerClass::kNss) | listener_bit(ListenerClass::kPam) | listener_bit(ListenerClass::kAdmin);
inline constexpr std::uint8_t kAllListeners = kLocalListeners | listener_bit(ListenerClass::kNetwork);
inline constexpr std::uint8_t kVarlinkListener = listener_bit(ListenerClass::kVarlink);

inline constexpr std::array<GateRule, kRoutes> kGateTable{{
    {Route::kPing, kAllListeners, false, Rejection::kNone},
    {Route::kLookup, kAllListeners | kVarlinkListener | listener_bit(ListenerClass::kNscd), false, Rejection::kNone},
    {Route::kStatus, kLocalListeners, false, Rejection::kNone},
    {Route::kAuth, listener_bit(ListenerClass::kPam), false, Rejection::kNotPamSocket},
    {Route::kAdmin, listener_bit(ListenerClass::kAdmin) | listener_bit(ListenerClass::kNscd), true,
     Rejection::kNotAdminSocket},
    {Route::kMetrics, listener_bit(ListenerClass::kMetrics), false, Rejection::kNotMetrics},
}};

// The table's verdict alone, for a request of `opcode` on `listener` from a
// peer that is (or is not) root. Network peers are never root. An unknown
// opcode passes on a local listener (the decoder answers "unknown opcode") and
// is kNotPublic on a network one, kNotVarlink on the Varlink socket, kNotNscd on
// the nscd socket and kNotMetrics on the metrics listener.
Rejection gate_verdict(ListenerClass listener, bool root, std::uint16_t opcode);
// The same for a route (a front that is not the wire: the metrics scrape).
Rejection gate_verdict(ListenerClass listener, bool root, Route route);

// The gate of one front worker: the table's verdicts, counted.
class Gate {
 public:
  Rejection check(ListenerClass listener, bool root, std::uint16_t opcode) {
    Rejection r = gate_verdict(listener, root, opcode);
    ++refused_[static_cast<std::size_t>(r)];
    return r;
  }
  Rejection check(ListenerClass listener, bool root, Route route) {
    Rejection r = gate_verdict(listener, root, route);
    ++refused_[static_cast<std::size_t>(r)];
    return r;
  }
  // How many requests were refused for `r` (kNone: let through).
  std::uint64_t count(Rejection r) const { return refused_[static_cast<std::size_t>(r)]; }
  // "gate.refused.<name>" for every reason, zeros included.
  std::vector<std::pair<std::string, std::string>> status_items() const;

 private:
  std::array<std::uint64_t, kRejections> refused_{};
};

}  // namespace fastid::server
