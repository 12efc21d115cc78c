// The provider worker's settings as key/value text (provider_settings.h):
// written by the daemon for each pool, read back by fastid-provider-worker.
#include "daemon/provider_settings.h"

#include <set>
#include <vector>

#include "daemon/settings.h"

namespace fastid::daemon {
namespace {

constexpr std::string_view kMagic = "fastid-provider-settings 1";

Status invalid(std::string message) { return Status::invalid_argument(std::move(message)); }

void escape_into(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == ',') out += "\\,";
    else out += c;
  }
}

// Unescapes `text`; with `items`, an unescaped ',' ends each item (and the
// text must end with one), else it is an error.
Result<std::vector<std::string>> unescape(std::string_view text, bool items) {
  std::vector<std::string> out;
  std::string current;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      if (++i == text.size()) return core::error(invalid("a '\\' ends the value"));
      const char e = text[i];
      if (e == '\\') current += '\\';
      else if (e == 'n') current += '\n';
      else if (e == ',') current += ',';
      else return core::error(invalid(std::string("unknown escape \\") + e));
    } else if (c == ',') {
      if (!items) return core::error(invalid("unescaped ',' in a single value"));
      out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (items && !current.empty()) return core::error(invalid("a list item without its ','"));
  if (!items) out.push_back(std::move(current));
  return out;
}

}  // namespace

std::string encode_provider_settings(const ProviderConfig& provider, core::LogLevel log_level,
                                     bool trace_requests) {
  std::string out(kMagic);
  out += "\nlog_level=";
  escape_into(out, setting_text(log_level));
  out += trace_requests ? "\ntrace_requests=true\n" : "\ntrace_requests=false\n";
  for (const Setting& s : settings()) {
    if (s.section != Section::kProvider || !s.read_provider || !setting_applies_to(s, provider.type)) continue;
    const SettingValue value = s.read_provider(provider);
    out += s.key;
    out += '=';
    if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
      for (const auto& item : *list) {
        escape_into(out, item);
        out += ',';
      }
    } else {
      escape_into(out, setting_text(value));
    }
    out += '\n';
  }
  return out;
}

Result<ProviderSettings> decode_provider_settings(std::string_view text) {
  ProviderSettings out;
  apply_defaults(out.provider);
  std::set<std::string, std::less<>> seen;
  bool level_seen = false;
  bool trace_seen = false;
  std::size_t lineno = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    if (end == std::string_view::npos) return core::error(invalid("provider settings: the last line has no newline"));
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    ++lineno;
    const std::string where = "provider settings line " + std::to_string(lineno);
    if (lineno == 1) {
      if (line != kMagic) return core::error(invalid(where + ": expected \"" + std::string(kMagic) + "\""));
      continue;
    }
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return core::error(invalid(where + ": expected KEY=VALUE"));
    const std::string_view key = line.substr(0, eq);
    const std::string_view raw = line.substr(eq + 1);
    const std::string at = where + ": " + std::string(key);
    if (key == "log_level") {
      auto v = unescape(raw, false);
      if (!v || level_seen || !core::parse_log_level(v->front(), &out.log_level)) {
        return core::error(invalid(at + ": expected one log level, once"));
      }
      level_seen = true;
      continue;
    }
    if (key == "trace_requests") {
      if ((raw != "true" && raw != "false") || trace_seen) {
        return core::error(invalid(at + ": expected true or false, once"));
      }
      out.trace_requests = raw == "true";
      trace_seen = true;
      continue;
    }
    const Setting* s = find_setting(Section::kProvider, key);
    if (s == nullptr || !s->apply_provider) return core::error(invalid(at + ": not a provider setting"));
    if (!seen.insert(std::string(key)).second) return core::error(invalid(at + ": given twice"));
    const bool list = s->type == SettingType::kStringList;
    auto parts = unescape(raw, list);
    if (!parts) return core::error(parts.error().with_context(at));
    Result<SettingValue> value = [&]() -> Result<SettingValue> {
      if (!list) return parse_setting_text(*s, parts->front());
      SettingValue items = std::move(*parts);
      if (Status st = check_setting(*s, items); !st) return core::error(st);
      return items;
    }();
    if (!value) return core::error(value.error().with_context(at));
    s->apply_provider(out.provider, *value);
  }
  if (lineno == 0) return core::error(invalid("provider settings: empty"));
  for (const Setting& s : settings()) {
    if (s.section == Section::kProvider && s.required && !seen.contains(s.key)) {
      return core::error(invalid("provider settings: " + std::string(s.key) + " is missing"));
    }
  }
  return out;
}

}  // namespace fastid::daemon
