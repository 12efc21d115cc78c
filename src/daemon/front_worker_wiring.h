// What a front worker is built from (front_worker.cc): the options of the PAM
// handler, the stored directory, the Varlink front and the server, and the
// directories themselves, each made from the configuration. Included by
// front_worker.cc and front_worker_wiring.cc only.
#pragma once

#include <asio/any_io_executor.hpp>

#include <memory>

#include "daemon/config.h"
#include "server/directory.h"
#include "server/pam_handler.h"
#include "server/server.h"
#include "server/stored_directory.h"
#include "server/varlink_front.h"
#include "store/store.h"

namespace fastid::daemon::wiring {

server::PamOptions pam_options(const Config& config);
server::StoredDirectoryOptions stored_directory_options(const StoreConfig& c);
// The directories of a front worker: in-process providers opened here, pooled ones
// as pools of provider worker processes started here (on the loop's thread, which
// their death signal is tied to), behind the store when there is one.
core::Result<server::Directories> open_directories(const Config& config, asio::any_io_executor executor,
                                                   std::shared_ptr<store::Store> store);
// Ends what a set of directories runs: providers closed, pools asked to stop
// (their provider workers finish and exit; the loop runs dry once they have).
void close_directories(const server::Directories& directories);
// What the Varlink front needs of the configuration: the service name (the
// socket's file name) and the directories it leaves out (docs/varlink.md).
std::shared_ptr<const server::VarlinkOptions> varlink_options_of(const Config& c);
server::ServerLimits limits_of(const Config& c);

}  // namespace fastid::daemon::wiring
