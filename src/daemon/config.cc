// parse_config: fastid.toml's text to a checked Config, every key through
// the one settings table (settings.h), every error with its file and line.
#include "daemon/config.h"

#include <algorithm>
#include <map>
#include <utility>

// The one translation unit that includes toml++ (several seconds of compile
// time each): everything that can live without it is in settings.cc, and
// reading the file off the disk is in config_file.cc.
#include <toml++/toml.h>

#include "daemon/settings.h"
#include "daemon/toml_precheck.h"
#include "providers/home_shell_rules.h"

namespace fastid::daemon {
namespace {

std::string_view node_kind(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// Keys are shown bare when they could be written bare, quoted otherwise, so a
// key full of control characters cannot garble the message.
std::string display_key(std::string_view key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
  return bare ? std::string(key) : toml_quote(key);
}

using Entry = std::pair<const toml::key*, const toml::node*>;

// toml::table is ordered by key; errors are reported in the order the file
// has them, so that fixing the first one always moves forward.
std::vector<Entry> in_file_order(const toml::table& table) {
  std::vector<Entry> entries;
  for (const auto& [key, node] : table) entries.emplace_back(&key, &node);
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    const auto& pa = a.first->source().begin;
    const auto& pb = b.first->source().begin;
    return std::pair(pa.line, pa.column) < std::pair(pb.line, pb.column);
  });
  return entries;
}

// Converts the TOML value of one key into the setting's type and checks it.
// Strings go through parse_setting_text, the same path as the defaults.
Result<SettingValue> value_from_node(const Setting& s, const toml::node& node) {
  auto wrong = [&](std::string_view expected) {
    return core::error(Status::invalid_argument("expected " + std::string(expected) + ", got " +
                                                std::string(node_kind(node))));
  };
  auto checked = [&](SettingValue v) -> Result<SettingValue> {
    if (Status st = check_setting(s, v); !st) return core::error(st);
    return v;
  };
  switch (s.type) {
    case SettingType::kString:
      if (const auto* v = node.as_string()) return parse_setting_text(s, v->get());
      return wrong("a string");
    case SettingType::kInt:
      if (const auto* v = node.as_integer()) return checked(v->get());
      return wrong("an integer");
    case SettingType::kBool:
      if (const auto* v = node.as_boolean()) return checked(v->get());
      return wrong("true or false");
    case SettingType::kDuration:
      if (const auto* v = node.as_string()) return parse_setting_text(s, v->get());
      return wrong("a duration string such as \"15s\"");
    case SettingType::kSize:
      if (const auto* v = node.as_string()) return parse_setting_text(s, v->get());
      if (const auto* v = node.as_integer()) {
        if (v->get() < 0) return core::error(Status::invalid_argument("negative size is not allowed"));
        return checked(ByteSize{static_cast<std::uint64_t>(v->get())});
      }
      return wrong("a size such as \"8MiB\" or a number of bytes");
    case SettingType::kLogLevel:
      if (const auto* v = node.as_string()) return parse_setting_text(s, v->get());
      return wrong("a log level string (debug, info, warning or error)");
    case SettingType::kStringList: {
      const auto* array = node.as_array();
      if (array == nullptr) return wrong("a list of strings");
      std::vector<std::string> items;
      for (const toml::node& item : *array) {
        const auto* str = item.as_string();
        if (str == nullptr) return wrong("a list of strings, with only strings in it");
        items.push_back(str->get());
      }
      return checked(std::move(items));
    }
  }
  return core::error(Status::internal("setting of unknown type"));
}

// The top-level sections made of settings-table keys alone ([[provider]] is
// an array of tables, read on its own).
struct SectionName {
  std::string_view name;
  Section section;
};
constexpr SectionName kSections[] = {
    {"daemon", Section::kDaemon}, {"pool", Section::kPool},   {"fastcache", Section::kFastcache},
    {"listen", Section::kListen}, {"pam", Section::kPam},     {"store", Section::kStore},
    {"varlink", Section::kVarlink}, {"nscd", Section::kNscd}, {"metrics", Section::kMetrics},
};

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  Result<Config> run(const toml::table& root) {
    Config config;
    config.source = source_;
    apply_defaults(config);
    for (const auto& [key, node] : in_file_order(root)) {
      const std::string_view k = key->str();
      const auto& where = key->source();
      if (const auto found = std::ranges::find(kSections, k, &SectionName::name);
          found != std::end(kSections)) {
        const toml::table* table = node->as_table();
        if (table == nullptr) {
          return core::error(fail(where, "", k, "must be a section: write [" + std::string(k) + "], got " +
                                                    std::string(node_kind(*node))));
        }
        if (Status st = parse_section(*table, found->section, config); !st) return core::error(st);
      } else if (k == "provider") {
        const toml::array* array = node->as_array();
        if (array == nullptr || !array->is_array_of_tables()) {
          return core::error(
              fail(where, "", k, "must be an array of tables: write [[provider]] for each provider"));
        }
        for (const toml::node& element : *array) {
          auto provider = parse_provider(*element.as_table(), config.providers.size() + 1);
          if (!provider) return core::error(provider.error());
          config.providers.push_back(std::move(*provider));
        }
      } else if (std::ranges::find(unsupported_sections(), k) != unsupported_sections().end()) {
        return core::error(fail(where, "", "",
                                "[" + std::string(k) + "] is not supported by this version of fastidd"));
      } else if (node->is_table() || node->is_array_of_tables()) {
        static constexpr std::string_view kSectionNames[] = {"daemon",    "provider", "pool",
                                                               "fastcache", "store",    "pam",
                                                               "listen",    "varlink",  "nscd",
                                                               "metrics"};
        std::string problem = "unknown section [" + display_key(k) + "]";
        if (auto hint = closest_match(k, kSectionNames); !hint.empty()) {
          problem += " (did you mean [" + std::string(hint) + "]?)";
        }
        return core::error(fail(where, "", "", problem));
      } else {
        std::string problem = "unknown key outside any section";
        if (find_setting(Section::kDaemon, k) != nullptr) {
          problem += " (did you mean to put it under [daemon]?)";
        }
        return core::error(fail(where, "", k, problem));
      }
    }
    if (config.providers.empty()) {
      return core::error(Status::invalid_argument(
          source_ + ": no [[provider]] section: at least one provider is required"));
    }
    if (Status st = resolve_pools(config); !st) return core::error(st);
    return config;
  }

 private:
  // "FILE:LINE: LABEL KEY: PROBLEM", with LABEL and KEY left out when empty.
  Status fail(const toml::source_region& where, std::string_view label, std::string_view key,
              std::string_view problem) const {
    return fail_at(where.begin.line, label, key.empty() ? std::string() : display_key(key), problem);
  }
  // The same with a line number and a key already fit for display ("pool.max_workers").
  Status fail_at(std::uint32_t line, std::string_view label, std::string_view shown_key,
                 std::string_view problem) const {
    std::string m = source_ + ":" + std::to_string(line) + ": ";
    if (!label.empty()) {
      m += label;
      m += ' ';
    }
    if (!shown_key.empty()) {
      m += shown_key;
      m += ": ";
    }
    m += problem;
    return Status::invalid_argument(std::move(m));
  }

  static std::string unknown_key(Section section, std::string_view key) {
    std::string problem = "unknown key";
    if (auto hint = closest_key(section, key); !hint.empty()) {
      problem += " (did you mean \"" + std::string(hint) + "\"?)";
    }
    return problem;
  }

  // One top-level section ([daemon], [pool], ...), the keys of the settings
  // table for it.
  Status parse_section(const toml::table& table, Section section, Config& config) const {
    switch (section) {
      case Section::kDaemon: return parse_keys(table, section, config.daemon, &Setting::apply_daemon);
      case Section::kListen:
        return parse_keys(table, section, config.listen, &Setting::apply_listen, check_listen_config);
      case Section::kMetrics: return parse_keys(table, section, config.metrics, &Setting::apply_metrics);
      case Section::kNscd: return parse_keys(table, section, config.nscd, &Setting::apply_nscd);
      case Section::kPam: return parse_keys(table, section, config.pam, &Setting::apply_pam);
      case Section::kPool: return parse_keys(table, section, config.pool, &Setting::apply_pool, check_pool_config);
      case Section::kVarlink:
        return parse_keys(table, section, config.varlink, &Setting::apply_varlink, check_varlink_config);
      case Section::kStore:
        return parse_keys(table, section, config.store, &Setting::apply_store, check_store_config);
      case Section::kFastcache: return parse_fastcache(table, config.fastcache);
      default: break;
    }
    return Status::internal("section without a parser");
  }

  // Every key of `table` is a setting of `section`, applied to `out`; then
  // `check` (the rules between keys), when the section has one.
  template <class Out>
  Status parse_keys(const toml::table& table, Section section, Out& out,
                    void (*Setting::*apply)(Out&, const SettingValue&),
                    Status (*check)(const Out&) = nullptr) const {
    const std::string_view label = section_header(section);
    for (const auto& [key, node] : in_file_order(table)) {
      const std::string_view k = key->str();
      const Setting* s = find_setting(section, k);
      if (s == nullptr) return fail(key->source(), label, k, unknown_key(section, k));
      auto value = value_from_node(*s, *node);
      if (!value) return fail(node->source(), label, k, value.error().message());
      (s->*apply)(out, *value);
    }
    if (check == nullptr) return Status::ok();
    if (Status st = check(out); !st) return fail(table.source(), label, "", st.message());
    return Status::ok();
  }

  // [fastcache]: its own keys, and one table of kFastcacheMap keys per map.
  Status parse_fastcache(const toml::table& table, FastCacheConfig& fastcache) const {
    const std::string_view label = section_header(Section::kFastcache);
    for (const auto& [key, node] : in_file_order(table)) {
      const std::string_view k = key->str();
      if (const FastCacheMap* map = find_fastcache_map(k)) {
        if (Status st = parse_fastcache_map(*node, k, fastcache.*map->member); !st) return st;
        continue;
      }
      const Setting* s = find_setting(Section::kFastcache, k);
      if (s == nullptr) {
        std::vector<std::string_view> candidates;
        std::string expected;
        for (const FastCacheMap& m : fastcache_maps()) candidates.push_back(m.name);
        for (const Setting& other : settings()) {
          if (other.section == Section::kFastcache) candidates.push_back(other.key);
        }
        for (std::size_t i = 0; i < candidates.size(); ++i) {
          expected += i == 0 ? "" : (i + 1 == candidates.size() ? " or " : ", ");
          expected += candidates[i];
        }
        std::string problem = "unknown key";
        if (auto hint = closest_match(k, candidates); !hint.empty()) {
          problem += " (did you mean \"" + std::string(hint) + "\"?)";
        } else {
          problem += ": expected " + expected;
        }
        return fail(key->source(), label, k, problem);
      }
      auto value = value_from_node(*s, *node);
      if (!value) return fail(node->source(), label, k, value.error().message());
      s->apply_fastcache(fastcache, *value);
    }
    return Status::ok();
  }

  // One map of [fastcache]: `passwd = { enabled = true, size = "8MiB", ttl = "300s" }`.
  Status parse_fastcache_map(const toml::node& node, std::string_view name, FastCacheMapConfig& map) const {
    const std::string_view label = section_header(Section::kFastcache);
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      return fail(node.source(), label, name,
                  "must be a table, as in " + std::string(name) +
                      " = { enabled = true, size = \"8MiB\", ttl = \"300s\" }, got " +
                      std::string(node_kind(node)));
    }
    for (const auto& [key, value_node] : in_file_order(*table)) {
      const std::string_view k = key->str();
      const std::string shown = display_key(name) + "." + display_key(k);
      const Setting* s = find_setting(Section::kFastcacheMap, k);
      if (s == nullptr) {
        return fail_at(key->source().begin.line, label, shown, unknown_key(Section::kFastcacheMap, k));
      }
      auto value = value_from_node(*s, *value_node);
      if (!value) return fail_at(value_node->source().begin.line, label, shown, value.error().message());
      s->apply_fastcache_map(map, *value);
    }
    return Status::ok();
  }

  // A provider's `pool = { ... }`: checked here, key by key, and applied by
  // resolve_pools() once [pool] is known (it may come later in the file).
  Status parse_pool_overrides(const toml::node& node, std::string_view label, std::size_t number) {
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      return fail(node.source(), label, "pool",
                  "must be a table of [pool] keys, as in pool = { max_workers = 32 }, got " +
                      std::string(node_kind(node)));
    }
    PoolOverrides& out = overrides_[number];
    out.line = node.source().begin.line;
    for (const auto& [key, value_node] : in_file_order(*table)) {
      const std::string_view k = key->str();
      const std::string shown = "pool." + display_key(k);
      const Setting* s = find_setting(Section::kPool, k);
      if (s == nullptr) return fail_at(key->source().begin.line, label, shown, unknown_key(Section::kPool, k));
      auto value = value_from_node(*s, *value_node);
      if (!value) return fail_at(value_node->source().begin.line, label, shown, value.error().message());
      out.values.emplace_back(s, std::move(*value));
    }
    return Status::ok();
  }

  // Every provider's pool: [pool], then its own overrides, then the rules
  // between keys, reported where the provider overrides them.
  Status resolve_pools(Config& config) {
    for (std::size_t i = 0; i < config.providers.size(); ++i) {
      ProviderConfig& p = config.providers[i];
      p.pool = config.pool;
      auto found = overrides_.find(i + 1);
      if (found == overrides_.end()) continue;
      for (const auto& [s, value] : found->second.values) s->apply_provider(p, value);
      if (Status st = check_pool_config(p.pool); !st) {
        const std::string label = std::string(section_header(Section::kProvider)) + " #" +
                                  std::to_string(i + 1);
        // The values named may come from [pool]: the message says both.
        return fail_at(found->second.line, label, "pool", st.message() + " once [pool] is applied");
      }
    }
    return Status::ok();
  }

  Result<ProviderConfig> parse_provider(const toml::table& table, std::size_t number) {
    const std::string label = std::string(section_header(Section::kProvider)) + " #" +
                              std::to_string(number);
    ProviderConfig provider;
    apply_defaults(provider);

    // The type decides which other keys exist, so it is read first: an "ldap"
    // provider is refused for its type, not for its first ldap-only key.
    const toml::node* type_node = table.get("type");
    if (type_node == nullptr) {
      std::string available;
      for (std::string_view t : available_provider_types()) {
        available += available.empty() ? "" : ", ";
        available += t;
      }
      return core::error(fail(table.source(), label, "",
                              "missing required key \"type\" (available: " + available + ")"));
    }
    const Setting* type_setting = find_setting(Section::kProvider, "type");
    auto type = value_from_node(*type_setting, *type_node);
    if (!type) return core::error(fail(type_node->source(), label, "type", type.error().message()));
    type_setting->apply_provider(provider, *type);

    std::vector<std::string_view> seen;
    for (const auto& [key, node] : in_file_order(table)) {
      const std::string_view k = key->str();
      seen.push_back(k);
      if (k == "type") continue;
      if (k == "pool") {
        if (Status st = parse_pool_overrides(*node, label, number); !st) return core::error(st);
        continue;
      }
      const Setting* s = find_setting(Section::kProvider, k);
      if (s == nullptr && k == "store") {
        return core::error(fail(key->source(), label, k,
                                "per-provider [store] settings are not supported by this version "
                                "of fastidd: the top-level [store] applies to every pooled provider"));
      }
      if (s == nullptr && std::ranges::find(unsupported_sections(), k) != unsupported_sections().end()) {
        // DESIGN.md's per-provider override ("pool = { max_workers = 32 }").
        return core::error(fail(key->source(), label, k,
                                "per-provider [" + std::string(k) +
                                    "] settings are not supported by this version of fastidd"));
      }
      if (s == nullptr) {
        return core::error(fail(key->source(), label, k, unknown_key(Section::kProvider, k)));
      }
      if (!setting_applies_to(*s, provider.type)) {
        return core::error(fail(key->source(), label, k,
                                "does not apply to providers of type " + toml_quote(provider.type)));
      }
      auto value = value_from_node(*s, *node);
      if (!value) return core::error(fail(node->source(), label, k, value.error().message()));
      s->apply_provider(provider, *value);
      if (k == "name") {
        auto [it, inserted] = names_.emplace(provider.name, node->source().begin.line);
        if (!inserted) {
          return core::error(fail(node->source(), label, k,
                                  "duplicate provider name " + toml_quote(provider.name) +
                                      " (first used at line " + std::to_string(it->second) + ")"));
        }
      }
    }
    for (const Setting& s : settings()) {
      if (s.section != Section::kProvider || !s.required) continue;
      if (std::ranges::find(seen, s.key) == seen.end()) {
        return core::error(fail(table.source(), label, "",
                                "missing required key \"" + std::string(s.key) + "\""));
      }
    }
    if (provider.min_id > provider.max_id) {
      return core::error(fail(table.source(), label, "min_id",
                              "min_id " + std::to_string(provider.min_id) + " is above max_id " +
                                  std::to_string(provider.max_id)));
    }
    if (Status st = providers::check_home_shell_options(providers::HomeShellOptions{
            .override_homedir = provider.override_homedir,
            .fallback_homedir = provider.fallback_homedir,
            .override_shell = provider.override_shell,
            .allowed_shells = provider.allowed_shells,
            .vetoed_shells = provider.vetoed_shells,
            .shell_fallback = provider.shell_fallback});
        !st) {
      return core::error(fail(table.source(), label, "", st.message()));
    }
    if (provider.type == "fastid" && provider.servers.empty()) {
      return core::error(fail(table.source(), label, "",
                              "type \"fastid\" needs at least one upstream in \"servers\""));
    }
    return provider;
  }

  struct PoolOverrides {
    std::uint32_t line = 0;  // of the provider's `pool` key
    std::vector<std::pair<const Setting*, SettingValue>> values;
  };

  std::string source_;
  std::map<std::string, std::uint32_t, std::less<>> names_;  // provider name -> line
  std::map<std::size_t, PoolOverrides> overrides_;           // provider number (from 1) -> its pool keys
};

}  // namespace

Result<Config> parse_config(std::string_view text, std::string source_name) {
  // What toml++ would trip an assertion on is refused first (toml_precheck.h).
  if (auto why = toml_precheck(text)) {
    return core::error(Status::invalid_argument(source_name + ":" + std::to_string(why->line) + ":" +
                                                std::to_string(why->column) + ": TOML syntax error: " + why->why));
  }
  toml::table root;
  try {
    root = toml::parse(text, std::string(source_name));
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return core::error(Status::invalid_argument(source_name + ":" + std::to_string(at.line) + ":" +
                                                std::to_string(at.column) +
                                                ": TOML syntax error: " + std::string(e.description())));
  }
  return Parser(std::move(source_name)).run(root);
}

}  // namespace fastid::daemon
