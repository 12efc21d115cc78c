// libFuzzer target: arbitrary bytes as one Varlink message of the systemd
// userdb front (src/proto/varlink.h), decoded as fastidd decodes a call, and
// the same bytes as the fields of a record reply (not UTF-8, quotes, NULs).
// Must never crash, throw, read out of bounds (ASan + UBSan) or accept a
// message over the limit. Built and run by tests/fuzz/run-fuzz.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/varlink.h"

namespace vl = fastid::proto::varlink;

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  auto call = vl::decode_call(message);
  if (call && size > vl::kMaxMessage) std::abort();  // the limit held
  if (call) {
    if (call->name && (call->name->empty() || call->name->size() > vl::kMaxName)) std::abort();
    (void)call->admits(static_cast<std::uint32_t>(size));
  } else if (!call.error().fatal && call.error().error.empty()) {
    std::abort();  // an error reply must name its error
  }
  fastid::model::User u{std::string(message), "x", 1000, 1000, std::string(message), "/home/x", "/bin/sh"};
  const std::string reply = vl::user_reply(u, "io.fastid", size % 2 == 0);
  if (reply.empty() || reply.back() != '\0' || reply.find('\0') != reply.size() - 1) std::abort();
  fastid::model::Group g{std::string(message), "x", 5, {std::string(message)}};
  (void)vl::group_reply(g, "io.fastid", false);
  (void)vl::error_reply(vl::kInvalidParameter, "parameter", message);
  return 0;
}
