// libFuzzer target: the provider worker protocol, daemon side. Arbitrary
// bytes as one frame from a provider worker (src/pool/worker_protocol.h): the
// header, then the payload decoded as the pool decodes a reply to each kind
// of request it sends (proto::decode_answer for every lookup kind, the status
// reply, the authentication, account and password change verdicts) and
// re-framed as the pool forwards it (encode_reply). A worker is a separate,
// less trusted process (it talks to the directory): nothing it sends may
// crash the front worker or be read out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "pool/worker_protocol.h"
#include "proto/messages.h"
#include "proto/wire.h"

namespace proto = fastid::proto;
namespace model = fastid::model;

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < proto::kHeaderSize) return 0;
  proto::Reply reply;
  if (proto::decode_header(data, &reply.header) != proto::HeaderCheck::kOk) return 0;
  const std::size_t have = size - proto::kHeaderSize;
  // The pool reads exactly `length` bytes; a short input is a worker that died mid-frame.
  if (have < reply.header.length) return 0;
  reply.payload.assign(data + proto::kHeaderSize, data + proto::kHeaderSize + reply.header.length);
  for (auto kind : {model::Kind::kUserByName, model::Kind::kUserByUid, model::Kind::kGroupByName,
                    model::Kind::kGroupByGid, model::Kind::kInitgroups, model::Kind::kUsersPage,
                    model::Kind::kGroupsPage, model::Kind::kNetgroup, model::Kind::kSshKeys}) {
    auto answer = proto::decode_answer(kind, reply);
    // A decoded answer is of the kind asked for.
    if (answer && answer->index() != model::answer_index(kind)) std::abort();
  }
  (void)fastid::pool::decode_status_reply(reply);
  (void)proto::status_of(reply);
  if (auto auth = proto::decode_auth_reply(reply)) {
    (void)fastid::pool::account_of(*auth);
    (void)fastid::pool::password_change_of(*auth);
  }
  const proto::Bytes again = fastid::pool::encode_reply(reply);
  if (again.size() != proto::kHeaderSize + reply.payload.size()) std::abort();
  return 0;
}
