// libFuzzer target: the provider worker protocol, worker side. Arbitrary
// bytes as one frame from the front worker, read the way
// fastid-provider-worker reads it (header, then exactly `length` bytes),
// decoded (proto::decode_request) and answered by pool::serve_request from a
// provider that knows one user and one group; the reply must be one whole
// frame with the request's id that the pool's own decoder reads back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "pool/worker_protocol.h"
#include "proto/messages.h"
#include "proto/wire.h"
#include "providers/provider.h"

namespace proto = fastid::proto;
namespace model = fastid::model;

namespace {

// One user and one group, answered from memory; everything else "not found".
class TinyProvider final : public fastid::providers::Provider {
 public:
  const std::string& name() const override { return name_; }
  fastid::core::Status open() override { return fastid::core::Status::ok(); }
  void close() override {}
  fastid::core::Status refresh() override { return fastid::core::Status::ok(); }
  fastid::core::Result<model::Answer> lookup(const model::Query& q) override {
    const model::User alice{"alice", "x", 1000, 1000, "Alice", "/home/alice", "/bin/sh"};
    const model::Group staff{"staff", "x", 50, {"alice", "bob"}};
    switch (q.kind) {
      case model::Kind::kUserByName:
        if (q.name == "alice") return model::Answer{alice};
        break;
      case model::Kind::kUserByUid:
        if (q.id == 1000) return model::Answer{alice};
        break;
      case model::Kind::kGroupByName:
        if (q.name == "staff") return model::Answer{staff};
        break;
      case model::Kind::kGroupByGid:
        if (q.id == 50) return model::Answer{staff};
        break;
      case model::Kind::kInitgroups:
        if (q.name == "alice") return model::Answer{model::Gids{50}};
        break;
      case model::Kind::kUsersPage:
        return model::Answer{model::Page<model::User>{{alice}, q.cursor + 1, false}};
      case model::Kind::kGroupsPage:
        return model::Answer{model::Page<model::Group>{{staff}, q.cursor + 1, false}};
      default:
        break;
    }
    return fastid::core::error(fastid::core::Status::not_found("no such entry"));
  }
  fastid::core::Status authenticate(std::string_view user, std::string_view password) override {
    if (user == "alice" && password == "secret") return fastid::core::Status::ok();
    return fastid::core::Status::permission_denied("wrong password");
  }

 private:
  std::string name_ = "tiny";
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < proto::kHeaderSize) return 0;
  proto::FrameHeader header{};
  if (proto::decode_header(data, &header) != proto::HeaderCheck::kOk) return 0;
  if (size - proto::kHeaderSize < header.length) return 0;  // the worker waits for the rest
  auto request = proto::decode_request(header, std::span<const std::uint8_t>(data + proto::kHeaderSize, header.length));
  if (!request) return 0;
  static TinyProvider provider;
  const proto::Bytes frame = fastid::pool::serve_request(provider, *request);
  proto::Reply reply;
  if (frame.size() < proto::kHeaderSize || proto::decode_header(frame.data(), &reply.header) != proto::HeaderCheck::kOk ||
      reply.header.request_id != request->request_id || frame.size() != proto::kHeaderSize + reply.header.length)
    std::abort();
  reply.payload.assign(frame.begin() + proto::kHeaderSize, frame.end());
  if (auto query = proto::query_of(*request)) {
    auto answer = proto::decode_answer(query->kind, reply);
    // The provider's answers are well formed: they decode, or are its "not found".
    if (!answer && answer.error().code() != fastid::core::Code::kNotFound) std::abort();
  }
  return 0;
}
