// Rendering the configuration (settings.h, config.h): the embedded default and
// render_config(), the effective configuration as TOML with every setting spelled
// out (--check-config), derived from the settings table.
#include "daemon/settings_table.h"

namespace fastid::daemon {

using namespace table_detail;

Config default_config() {
  Config config;
  config.source = std::string(kEmbeddedSource);
  apply_defaults(config);
  ProviderConfig local;
  apply_defaults(local);
  local.name = "local";
  local.type = "files";
  config.providers.push_back(std::move(local));
  return config;
}

std::string render_config(const Config& config, Secrets secrets) {
  std::string out = "# fastidd configuration from ";
  // The source is a path or a marker; quoted so that no byte of it can end the comment.
  out += toml_quote(config.source);
  out += "\n\n[daemon]\n";
  for (const Setting& s : settings()) {
    if (s.section != Section::kDaemon) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_daemon(config.daemon)) + "\n";
  }
  out += "\n[pool]\n";
  for (const Setting& s : settings()) {
    if (s.section != Section::kPool) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_pool(config.pool)) + "\n";
  }
  out += "\n[fastcache]\n";
  for (const Setting& s : settings()) {
    if (s.section != Section::kFastcache) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_fastcache(config.fastcache)) + "\n";
  }
  for (const FastCacheMap& m : fastcache_maps()) {
    std::string keys;
    for (const Setting& s : settings()) {
      if (s.section != Section::kFastcacheMap) continue;
      keys += keys.empty() ? "" : ", ";
      keys += std::string(s.key) + " = " + format_setting_value(s, s.read_fastcache_map(config.fastcache.*m.member));
    }
    out += std::string(m.name) + " = { " + keys + " }\n";
  }
  out += "\n[listen]\n";
  for (const Setting& s : settings()) {
    if (s.section != Section::kListen) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_listen(config.listen)) + "\n";
  }
  out += "\n[pam]\n";
  for (const Setting& s : settings()) {
    if (s.section != Section::kPam) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_pam(config.pam)) + "\n";
  }
  out += "\n[store]\n";
  for (const Setting& s : settings()) {
    if (s.section != Section::kStore) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_store(config.store)) + "\n";
  }
  out += "\n[varlink]\n";
  for (const Setting& s : settings()) {
    if (s.section != Section::kVarlink) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_varlink(config.varlink)) + "\n";
  }
  out += "\n[nscd]\n";
  for (const Setting& s : settings()) {
    if (s.section != Section::kNscd) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_nscd(config.nscd)) + "\n";
  }
  out += "\n[metrics]\n";
  for (const Setting& s : settings()) {
    if (s.section != Section::kMetrics) continue;
    out += std::string(s.key) + " = " + format_setting_value(s, s.read_metrics(config.metrics)) + "\n";
  }
  for (const ProviderConfig& p : config.providers) {
    out += "\n[[provider]]\n";
    for (const Setting& s : settings()) {
      if (s.section != Section::kProvider) continue;
      if (!setting_applies_to(s, p.type)) continue;
      const SettingValue value = s.read_provider(p);
      if (s.secret && secrets == Secrets::kLeaveOut && value != SettingValue(std::string())) {
        out += "# " + std::string(s.key) + " is set (a secret: not shown)\n";
        continue;
      }
      out += std::string(s.key) + " = " + format_setting_value(s, value) + "\n";
    }
    // Only what differs from [pool]: that is what the provider overrides.
    std::string overrides;
    for (const Setting& s : settings()) {
      if (s.section != Section::kPool) continue;
      const SettingValue own = s.read_provider(p);
      if (own == s.read_pool(config.pool)) continue;
      overrides += overrides.empty() ? "" : ", ";
      overrides += std::string(s.key) + " = " + format_setting_value(s, own);
    }
    if (!overrides.empty()) out += "pool = { " + overrides + " }\n";
  }
  return out;
}


}  // namespace fastid::daemon
