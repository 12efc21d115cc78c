#include "providers/registry.h"

#include "providers/files/files_provider.h"

namespace fastid::providers {

Result<std::unique_ptr<Provider>> make_provider(const daemon::ProviderConfig& config) {
  if (config.type == "files") {
    return std::make_unique<FilesProvider>(FilesProvider::Options{
        .name = config.name,
        .passwd_path = config.passwd,
        .group_path = config.group,
        .shadow_path = config.shadow,
    });
  }
  // A validated config never gets here; a hand-built one (tests, tools) may.
  return core::error(Status::invalid_argument("provider " + config.name + ": provider type \"" +
                                              config.type + "\" is not available in this build"));
}

}  // namespace fastid::providers
