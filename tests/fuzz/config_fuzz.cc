// libFuzzer target: arbitrary bytes as the text of fastid.toml, parsed and
// checked as fastidd reads its configuration (daemon::parse_config: toml++,
// then every rule of the settings table). A configuration that passes
// renders (render_config with its secrets) to a text that parses again and
// renders the same: what `fastidd --check-config` shows is what runs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/log.h"
#include "daemon/config.h"

namespace daemon_ = fastid::daemon;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fastid::core::set_log_level(fastid::core::LogLevel::kError);  // a warning per bad key is noise here
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = daemon_::parse_config(text, "fuzz.toml");
  if (!config) {
    if (config.error().message().empty()) std::abort();  // a refusal says why
    return 0;
  }
  const std::string rendered = daemon_::render_config(*config, daemon_::Secrets::kInclude);
  auto again = daemon_::parse_config(rendered, "fuzz.toml");  // the same name: the rendering names its source
  if (!again) std::abort();
  if (daemon_::render_config(*again, daemon_::Secrets::kInclude) != rendered) std::abort();
  return 0;
}
