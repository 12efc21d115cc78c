// Every front worker's figures as Prometheus text (metrics_exposition.h).
#include "server/metrics_exposition.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "server/gate.h"
#include "server/lookup_metrics.h"
#include "server/prometheus_text.h"

namespace fastid::server {
namespace {

std::optional<std::uint64_t> figure(std::string_view v) {
  if (v.empty() || v.size() > 20) return std::nullopt;
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

// The X of "<prefix>X<suffix>" (X not empty), else nullopt. Provider names
// may hold dots, so both ends are fixed and X is what lies between.
std::optional<std::string_view> middle(std::string_view name, std::string_view prefix, std::string_view suffix) {
  if (name.size() <= prefix.size() + suffix.size()) return std::nullopt;
  if (!name.starts_with(prefix) || !name.ends_with(suffix)) return std::nullopt;
  return name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
}

// The figures of all front workers, summed and taken once (the max: every
// worker reads the same shared value, some a little later than others).
struct Figures {
  std::map<std::string, std::uint64_t, std::less<>> sum;
  std::map<std::string, std::uint64_t, std::less<>> shared;
  std::map<std::string, std::array<std::uint64_t, 2>, std::less<>> provider_state;  // online, offline
  std::size_t workers = 0;

  std::uint64_t total(std::string_view name) const {
    auto it = sum.find(name);
    return it == sum.end() ? 0 : it->second;
  }
  std::uint64_t once(std::string_view name) const {
    auto it = shared.find(name);
    return it == shared.end() ? 0 : it->second;
  }
  bool has(std::string_view name) const { return sum.find(name) != sum.end(); }
  // The X of every item "<prefix>X<suffix>", sorted.
  std::set<std::string> labels(std::string_view prefix, std::string_view suffix) const {
    std::set<std::string> out;
    for (const auto& [name, v] : sum) {
      if (auto m = middle(name, prefix, suffix)) out.emplace(*m);
    }
    return out;
  }
};

Figures gather(std::span<const StatusItems> workers) {
  Figures f;
  f.workers = workers.size();
  for (const StatusItems& items : workers) {
    for (const auto& [name, value] : items) {
      if (auto p = middle(name, "store.", ".state")) {
        auto& st = f.provider_state[std::string(*p)];
        if (value == "online") ++st[0];
        if (value == "offline") ++st[1];
        continue;
      }
      auto n = figure(value);
      if (!n) continue;
      f.sum[name] += *n;
      auto& s = f.shared[name];
      s = std::max(s, *n);
    }
  }
  return f;
}

constexpr std::string_view kMaps[] = {"passwd", "group", "initgroups"};

void lookups(PrometheusText& out, const Figures& f) {
  out.family("fastid_lookups_total", "counter",
             "Lookups answered, by kind and result (every front end: nss socket, network, Varlink, nscd).");
  for (std::size_t k = 0; k < kLookupKinds; ++k) {
    const char* kind = lookup_kind_name(static_cast<model::Kind>(k));
    for (std::size_t r = 0; r < kLookupResults; ++r) {
      const char* result = lookup_result_name(static_cast<LookupResult>(r));
      out.sample("fastid_lookups_total", {{"kind", kind}, {"result", result}},
                 f.total(std::string("lookup.") + kind + "." + result));
    }
  }
  out.family("fastid_lookup_duration_seconds", "histogram",
             "Time from a lookup's start in the front worker to its answer, by kind.");
  for (std::size_t k = 0; k < kLookupKinds; ++k) {
    const char* kind = lookup_kind_name(static_cast<model::Kind>(k));
    const std::string prefix = std::string("lookup.") + kind + ".";
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < kLatencyBuckets; ++b) {
      cumulative += f.total(prefix + "bucket." + std::to_string(b));
      const char* le = b < kLatencyBoundsLabel.size() ? kLatencyBoundsLabel[b] : "+Inf";
      out.sample("fastid_lookup_duration_seconds_bucket", {{"kind", kind}, {"le", le}}, cumulative);
    }
    out.sample("fastid_lookup_duration_seconds_sum", {{"kind", kind}},
               static_cast<double>(f.total(prefix + "sum_us")) / 1e6);
    out.sample("fastid_lookup_duration_seconds_count", {{"kind", kind}}, cumulative);
  }
}

void connections(PrometheusText& out, const Figures& f) {
  struct Family {
    const char* name;
    const char* type;
    const char* item;
    const char* help;
  };
  static constexpr Family kFamilies[] = {
      {"fastid_connections_open", "gauge", "connections.open.", "Connections open now, by listener class."},
      {"fastid_connections_accepted_total", "counter", "connections.accepted.",
       "Connections accepted, by listener class."},
      {"fastid_connections_rejected_total", "counter", "connections.rejected.",
       "Connections closed at once (over the class's budget, or a peer at its cap with none idle), by listener class."},
  };
  for (const Family& fam : kFamilies) {
    out.family(fam.name, fam.type, fam.help);
    for (std::size_t c = 0; c < kListenerClasses; ++c) {
      const char* cls = listener_class_name(static_cast<ListenerClass>(c));
      out.sample(fam.name, {{"listener", cls}}, f.total(std::string(fam.item) + cls));
    }
  }
  out.family("fastid_connections_evicted_total", "counter",
             "Idle connections closed to make room for a newer one of the same peer.");
  out.sample("fastid_connections_evicted_total", {}, f.total("connections.evicted"));
  out.family("fastid_large_replies_in_flight_bytes", "gauge",
             "Bytes of large replies handed to connections and not yet read, a shared payload once per worker "
             "(each worker's budget: max_large_reply_bytes).");
  out.sample("fastid_large_replies_in_flight_bytes", {}, f.total("replies.large_in_flight_bytes"));
  out.family("fastid_large_replies_refused_total", "counter",
             "Large replies answered busy because their worker's budget of large replies in flight was used up.");
  out.sample("fastid_large_replies_refused_total", {}, f.total("replies.large_refused"));
  out.family("fastid_gate_refused_total", "counter", "Requests the gate refused, by reason.");
  for (std::size_t r = 1; r < kRejections; ++r) {
    const char* reason = rejection_name(static_cast<Rejection>(r));
    out.sample("fastid_gate_refused_total", {{"reason", reason}}, f.total(std::string("gate.refused.") + reason));
  }
}

void caches(PrometheusText& out, const Figures& f) {
  out.family("fastid_fastcache_entries", "gauge", "Records in a fast cache map (shared by every front worker).");
  for (std::string_view m : kMaps) {
    const std::string p = "fastcache." + std::string(m) + ".";
    if (f.has(p + "entries")) out.sample("fastid_fastcache_entries", {{"map", m}}, f.once(p + "entries"));
  }
  out.family("fastid_fastcache_size_bytes", "gauge", "Size of a fast cache map's file.");
  for (std::string_view m : kMaps) {
    const std::string p = "fastcache." + std::string(m) + ".";
    if (f.has(p + "size")) out.sample("fastid_fastcache_size_bytes", {{"map", m}}, f.once(p + "size"));
  }
  out.family("fastid_fastcache_evictions_total", "counter", "Records a fast cache map dropped to make room.");
  for (std::string_view m : kMaps) {
    const std::string p = "fastcache." + std::string(m) + ".";
    if (f.has(p + "evictions")) out.sample("fastid_fastcache_evictions_total", {{"map", m}}, f.once(p + "evictions"));
  }
  out.family("fastid_fastcache_publish_failures_total", "counter", "Answers that could not be published to a map.");
  out.sample("fastid_fastcache_publish_failures_total", {}, f.total("fastcache.publish_failures"));

  if (f.has("store.entries")) {
    out.family("fastid_store_entries", "gauge", "Records in the LMDB store (shared by every front worker).");
    out.sample("fastid_store_entries", {}, f.once("store.entries"));
    out.family("fastid_store_used_bytes", "gauge", "Bytes of the store's map in use.");
    out.sample("fastid_store_used_bytes", {}, f.once("store.used_bytes"));
    out.family("fastid_store_map_size_bytes", "gauge", "The store's map size ([store] size).");
    out.sample("fastid_store_map_size_bytes", {}, f.once("store.map_size"));
    out.family("fastid_store_evictions_total", "counter", "Records the front workers evicted from the store to make room.");
    out.sample("fastid_store_evictions_total", {}, f.total("store.evictions"));
    out.family("fastid_store_write_errors_total", "counter", "Answers the front workers could not write to the store.");
    out.sample("fastid_store_write_errors_total", {}, f.total("store.write_errors"));
  }
  struct PerProvider {
    const char* name;
    const char* suffix;
    const char* help;
  };
  static constexpr PerProvider kStore[] = {
      {"fastid_store_hits_total", ".hits", "Lookups of a pooled provider answered from a fresh stored record."},
      {"fastid_store_negative_hits_total", ".negative_hits", "Lookups answered from a stored \"no such entry\"."},
      {"fastid_store_misses_total", ".misses", "Lookups of a pooled provider the store could not answer (asked the provider)."},
      {"fastid_store_stale_answers_total", ".stale_answers", "Expired records answered while the provider was offline, failing or slow."},
      {"fastid_store_stale_slow_total", ".stale_slow", "Expired records answered because the provider had not answered within stale_after."},
      {"fastid_store_unavailable_total", ".unavailable", "Lookups answered \"try again\": provider offline, nothing stored."},
  };
  const auto providers = f.labels("store.", ".misses");
  for (const PerProvider& p : kStore) {
    out.family(p.name, "counter", p.help);
    for (const std::string& name : providers) out.sample(p.name, {{"provider", name}}, f.total("store." + name + p.suffix));
  }
  out.family("fastid_provider_front_workers", "gauge",
             "Front workers that see a pooled provider in a state (online, offline).");
  for (const auto& [name, st] : f.provider_state) {
    out.sample("fastid_provider_front_workers", {{"provider", name}, {"state", "online"}}, st[0]);
    out.sample("fastid_provider_front_workers", {{"provider", name}, {"state", "offline"}}, st[1]);
  }
  out.family("fastid_provider_online", "gauge", "1 while every front worker sees the provider online, else 0.");
  for (const auto& [name, st] : f.provider_state) {
    out.sample("fastid_provider_online", {{"provider", name}}, std::uint64_t{st[1] == 0 && st[0] > 0 ? 1u : 0u});
  }
}

void pools(PrometheusText& out, const Figures& f) {
  const auto names = f.labels("pool.", ".queued");
  static constexpr std::string_view kStates[] = {"waiting", "starting", "idle", "busy", "stopping"};
  out.family("fastid_pool_workers", "gauge", "Provider worker processes, by provider and state.");
  for (const std::string& name : names) {
    for (std::string_view st : kStates) {
      out.sample("fastid_pool_workers", {{"provider", name}, {"state", st}},
                 f.total("pool." + name + ".state." + std::string(st)));
    }
  }
  out.family("fastid_pool_queue_length", "gauge", "Requests waiting for a provider worker, by provider.");
  for (const std::string& name : names) {
    out.sample("fastid_pool_queue_length", {{"provider", name}}, f.total("pool." + name + ".queued"));
  }
  struct Counter {
    const char* name;
    const char* suffix;
    const char* help;
  };
  static constexpr Counter kCounters[] = {
      {"fastid_pool_requests_total", ".requests", "Requests sent to a provider's pool."},
      {"fastid_pool_failed_total", ".failed", "Pool requests that failed (no worker answered)."},
      {"fastid_pool_timeouts_total", ".timed_out", "Pool requests past their request_timeout."},
      {"fastid_pool_worker_crashes_total", ".crashed", "Provider worker processes that died unasked."},
  };
  for (const Counter& c : kCounters) {
    out.family(c.name, "counter", c.help);
    for (const std::string& name : names) out.sample(c.name, {{"provider", name}}, f.total("pool." + name + c.suffix));
  }
}

void pam(PrometheusText& out, const Figures& f) {
  struct Result {
    const char* label;
    const char* item;
  };
  static constexpr Result kResults[] = {
      {"success", "pam.successes"},
      {"failure", "pam.failures"},
      {"offline_success", "pam.offline_successes"},
      {"unavailable", "pam.unavailable"},
      {"locked", "pam.locked_refusals"},
      {"refused_caller", "pam.refused_callers"},
  };
  out.family("fastid_pam_authentications_total", "counter", "PAM authentications, by result.");
  for (const Result& r : kResults) {
    out.sample("fastid_pam_authentications_total", {{"result", r.label}}, f.total(r.item));
  }
  out.family("fastid_pam_lockouts_total", "counter", "Accounts locked out after too many failures (shared table).");
  out.sample("fastid_pam_lockouts_total", {}, f.once("pam.lockouts"));
  out.family("fastid_pam_access_refusals_total", "counter", "Logins refused by the access rules.");
  out.sample("fastid_pam_access_refusals_total", {}, f.total("pam.access_refusals"));
}

// The longest event-loop turn of the front workers (server/loop_monitor.h):
// the largest of theirs, since a turn held by any one worker is what its
// clients waited for.
void loop_turns(PrometheusText& out, const Figures& f) {
  struct Gauge {
    std::string_view name, item, help;
  };
  static constexpr Gauge kGauges[] = {
      {"fastid_loop_longest_turn_seconds", "loop.longest_turn_us",
       "The longest event-loop turn of any front worker since it started, waiting for a CPU included."},
      {"fastid_loop_longest_turn_recent_seconds", "loop.longest_turn_recent_us",
       "The longest event-loop turn of any front worker in the last 10 to 20 s."},
      {"fastid_loop_longest_turn_cpu_seconds", "loop.longest_turn_cpu_us",
       "The CPU time of the longest event-loop turn of any front worker since it started."},
  };
  for (const Gauge& g : kGauges) {
    out.family(g.name, "gauge", g.help);
    out.sample(g.name, {}, static_cast<double>(f.once(g.item)) / 1e6);
  }
}

}  // namespace

std::string encode_metrics_snapshot(const StatusItems& items, std::size_t limit) {
  constexpr std::string_view kTruncated = "metrics.truncated\t1\n";
  std::string out;
  std::map<std::string, std::uint64_t> pool_states;  // "pool.<p>.state.<state>"
  bool truncated = false;
  auto add = [&](std::string_view name, std::string_view value) {
    if (name.empty() || name.size() > 256 || name.find_first_of("\t\n") != std::string_view::npos) return;
    const std::size_t need = name.size() + value.size() + 2;
    if (out.size() + need + kTruncated.size() > limit) {
      truncated = true;
      return;
    }
    out.append(name);
    out += '\t';
    out.append(value);
    out += '\n';
  };
  for (const auto& [name, value] : items) {
    // "pool.<p>.worker.<serial>" = "pid N <state> queue Q served ...": counted per state.
    if (name.starts_with("pool.")) {
      const std::size_t w = name.rfind(".worker.");
      if (w != std::string::npos && w > 5 && figure(std::string_view(name).substr(w + 8))) {
        const std::size_t a = value.find(' ');
        const std::size_t b = a == std::string::npos ? a : value.find(' ', a + 1);
        const std::size_t c = b == std::string::npos ? b : value.find(' ', b + 1);
        if (c != std::string::npos) {
          const std::string state = value.substr(b + 1, c - b - 1);
          if (!state.empty() && state.size() <= 16 && std::all_of(state.begin(), state.end(), [](char ch) {
                return ch >= 'a' && ch <= 'z';
              })) {
            ++pool_states[name.substr(0, w) + ".state." + state];
          }
        }
        continue;
      }
    }
    if (figure(value) || value == "online" || value == "offline") add(name, value);
  }
  for (const auto& [name, n] : pool_states) add(name, std::to_string(n));
  if (truncated) out += kTruncated;
  return out;
}

StatusItems decode_metrics_snapshot(std::string_view text) {
  StatusItems out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos || tab == 0) continue;
    out.emplace_back(std::string(line.substr(0, tab)), std::string(line.substr(tab + 1)));
  }
  return out;
}

std::string render_metrics(std::span<const StatusItems> workers) {
  const Figures f = gather(workers);
  PrometheusText out;
  out.family("fastid_front_workers", "gauge", "Front worker processes whose figures this document sums.");
  out.sample("fastid_front_workers", {}, static_cast<std::uint64_t>(f.workers));
  out.family("fastid_requests_total", "counter",
             "Requests answered by the front workers, authentication left out (lookups, ping, status, admin).");
  out.sample("fastid_requests_total", {}, f.total("requests"));
  lookups(out, f);
  connections(out, f);
  caches(out, f);
  pools(out, f);
  pam(out, f);
  loop_turns(out, f);
  out.family("fastid_metrics_snapshot_truncated", "gauge",
             "Front workers whose figures did not fit their page slot (some series are missing).");
  out.sample("fastid_metrics_snapshot_truncated", {}, f.total("metrics.truncated"));
  return out.take();
}

}  // namespace fastid::server
