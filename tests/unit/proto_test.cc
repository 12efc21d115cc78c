// The wire protocol's specification, as tests: frame header layout, limits,
// and what the decoder does with truncated, oversized and malformed input.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "proto/messages.h"
#include "proto/wire.h"

namespace fastid::proto {
namespace {

using model::Group;
using model::User;

FrameHeader header_of(const Bytes& frame) {
  FrameHeader h{};
  EXPECT_EQ(decode_header(frame.data(), &h), HeaderCheck::kOk);
  return h;
}

std::span<const std::uint8_t> payload_of(const Bytes& frame) {
  return std::span<const std::uint8_t>(frame).subspan(kHeaderSize);
}

TEST(WireHeader, IsSixteenLittleEndianBytes) {
  FrameHeader h{kVersion, kFlagReply, 0x0102, 0x03040506, 7, 9};
  std::uint8_t buf[kHeaderSize];
  encode_header(h, buf);
  const std::uint8_t expect[kHeaderSize] = {1, 1, 0x02, 0x01, 0x06, 0x05, 0x04, 0x03,
                                            7, 0, 0,    0,    9,    0,    0,    0};
  EXPECT_EQ(0, std::memcmp(buf, expect, kHeaderSize));
  FrameHeader back{};
  ASSERT_EQ(decode_header(buf, &back), HeaderCheck::kOk);
  EXPECT_EQ(back.opcode, 0x0102);
  EXPECT_EQ(back.request_id, 0x03040506u);
  EXPECT_EQ(back.status, 7u);
  EXPECT_EQ(back.length, 9u);
}

TEST(WireHeader, RejectsWrongVersionUnknownFlagsAndOversizedLength) {
  std::uint8_t buf[kHeaderSize];
  FrameHeader h{kVersion, 0, 0x10, 1, 0, 0};
  FrameHeader out{};

  h.version = 2;
  encode_header(h, buf);
  EXPECT_EQ(decode_header(buf, &out), HeaderCheck::kBadVersion);

  h.version = kVersion;
  h.flags = 0x80;
  encode_header(h, buf);
  EXPECT_EQ(decode_header(buf, &out), HeaderCheck::kBadFlags);

  h.flags = 0;
  h.length = kMaxPayload + 1;
  encode_header(h, buf);
  EXPECT_EQ(decode_header(buf, &out), HeaderCheck::kTooLong);

  h.length = 0xffffffffu;
  encode_header(h, buf);
  EXPECT_EQ(decode_header(buf, &out), HeaderCheck::kTooLong);

  h.length = kMaxPayload;
  encode_header(h, buf);
  EXPECT_EQ(decode_header(buf, &out), HeaderCheck::kOk);
}

TEST(WireWriter, NeverWritesPastCapacityAndReportsOverflow) {
  std::uint8_t buf[8];
  std::memset(buf, 0xAA, sizeof buf);
  WireWriter w(buf, 6);
  w.u32(1);
  EXPECT_FALSE(w.overflow);
  w.str("abc", 3);  // needs 7 more bytes
  EXPECT_TRUE(w.overflow);
  w.u32(5);  // ignored after overflow
  EXPECT_EQ(w.len, 4u);
  EXPECT_EQ(buf[6], 0xAA);
  EXPECT_EQ(buf[7], 0xAA);
}

TEST(WireReader, RejectsStringsLongerThanPayloadOrLimitOrContainingNul) {
  std::uint8_t buf[16];
  WireWriter w(buf, sizeof buf);
  w.u32(100);  // claims 100 bytes, only 12 follow
  WireReader r1(buf, sizeof buf);
  std::uint32_t n = 1;
  r1.str(1000, &n);
  EXPECT_TRUE(r1.bad);
  EXPECT_EQ(n, 0u);

  WireWriter w2(buf, sizeof buf);
  w2.str("abcdef", 6);
  WireReader r2(buf, w2.len);
  r2.str(5, &n);  // over the caller's limit
  EXPECT_TRUE(r2.bad);

  WireWriter w3(buf, sizeof buf);
  w3.str("ab\0cd", 5);
  WireReader r3(buf, w3.len);
  r3.str(100, &n);
  EXPECT_TRUE(r3.bad);

  WireReader r4(buf, 3);  // a u32 needs 4 bytes
  r4.u32();
  EXPECT_TRUE(r4.bad);
  EXPECT_EQ(r4.remaining(), 0u);
}

TEST(Request, RoundTripsEveryLookupOpcode) {
  for (Opcode op : {Opcode::kGetpwnam, Opcode::kGetgrnam, Opcode::kInitgroups}) {
    Request req{op, 42, "alice", 0, 0, 0};
    Bytes frame = encode_request(req);
    auto got = decode_request(header_of(frame), payload_of(frame));
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(got->opcode, op);
    EXPECT_EQ(got->request_id, 42u);
    EXPECT_EQ(got->name, "alice");
  }
  for (Opcode op : {Opcode::kGetpwuid, Opcode::kGetgrgid}) {
    Request req{op, 7, "", 100001, 0, 0};
    Bytes frame = encode_request(req);
    auto got = decode_request(header_of(frame), payload_of(frame));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->id, 100001u);
  }
  Request page{Opcode::kPwentPage, 9, "", 0, 500, 0};
  Bytes frame = encode_request(page);
  auto got = decode_request(header_of(frame), payload_of(frame));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->cursor, 500u);
  EXPECT_EQ(got->max, kMaxPageRecords) << "max 0 means the server's page size";
}

TEST(Request, UnknownOpcodeIsAnErrorReplyNotADisconnect) {
  FrameHeader h{kVersion, 0, 0x7777, 3, 0, 0};
  auto got = decode_request(h, {});
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().status, WireStatus::kUnknownOpcode);
}

TEST(Request, TruncatedPayloadIsBadRequest) {
  Request req{Opcode::kGetpwnam, 1, "alice", 0, 0, 0};
  Bytes frame = encode_request(req);
  for (std::size_t cut = 0; cut < frame.size() - kHeaderSize; ++cut) {
    FrameHeader h = header_of(frame);
    h.length = static_cast<std::uint32_t>(cut);
    auto got = decode_request(h, payload_of(frame).first(cut));
    ASSERT_FALSE(got.has_value()) << "cut at " << cut;
    EXPECT_EQ(got.error().status, WireStatus::kBadRequest);
  }
}

TEST(Request, TrailingBytesEmptyNamesAndOverlongNamesAreRejected) {
  Request req{Opcode::kGetpwuid, 1, "", 5, 0, 0};
  Bytes frame = encode_request(req);
  frame.push_back(0);
  FrameHeader h = header_of(frame);
  h.length += 1;
  EXPECT_FALSE(decode_request(h, payload_of(frame)).has_value());

  Request empty{Opcode::kGetpwnam, 1, "", 0, 0, 0};
  Bytes f2 = encode_request(empty);
  auto got = decode_request(header_of(f2), payload_of(f2));
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().status, WireStatus::kBadRequest);

  Request longname{Opcode::kGetpwnam, 1, std::string(kMaxNameLength + 1, 'a'), 0, 0, 0};
  Bytes f3 = encode_request(longname);
  got = decode_request(header_of(f3), payload_of(f3));
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().status, WireStatus::kBadRequest);
}

TEST(Request, CacheForgetAndShowCarryAnEntryKindAndAKeyAndRefuseAnythingElse) {
  for (Opcode op : {Opcode::kCacheForget, Opcode::kCacheShow}) {
    EXPECT_TRUE(opcode_is_admin(static_cast<std::uint16_t>(op)));
    EXPECT_FALSE(opcode_is_public(static_cast<std::uint16_t>(op)));
    Request req{op, 7, "alice", kEntryUser, 0, 0};
    Bytes frame = encode_request(req);
    auto got = decode_request(header_of(frame), payload_of(frame));
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(got->name, "alice");
    EXPECT_EQ(got->id, kEntryUser);
    // Every truncation is a bad request, never a read past the payload.
    for (std::size_t cut = 0; cut < frame.size() - kHeaderSize; ++cut) {
      FrameHeader h = header_of(frame);
      h.length = static_cast<std::uint32_t>(cut);
      auto bad = decode_request(h, payload_of(frame).first(cut));
      ASSERT_FALSE(bad.has_value()) << "cut at " << cut;
      EXPECT_EQ(bad.error().status, WireStatus::kBadRequest);
    }
    for (const Request& wrong : {Request{op, 1, "alice", 0, 0, 0}, Request{op, 1, "alice", 3, 0, 0},
                                 Request{op, 1, "", kEntryGroup, 0, 0},
                                 Request{op, 1, std::string(kMaxNameLength + 1, 'a'), kEntryGroup, 0, 0}}) {
      Bytes f = encode_request(wrong);
      auto bad = decode_request(header_of(f), payload_of(f));
      ASSERT_FALSE(bad.has_value()) << wrong.id << " " << wrong.name.size();
      EXPECT_EQ(bad.error().status, WireStatus::kBadRequest);
    }
  }
}

TEST(Request, OversizedRequestPayloadIsTooLarge) {
  Bytes payload(kMaxRequestPayload + 1, 'a');
  FrameHeader h{kVersion, 0, static_cast<std::uint16_t>(Opcode::kGetpwnam), 1, 0,
                static_cast<std::uint32_t>(payload.size())};
  auto got = decode_request(h, payload);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().status, WireStatus::kTooLarge);
}

TEST(Request, AReplyFrameIsNotARequest) {
  Request req{Opcode::kGetpwuid, 1, "", 5, 0, 0};
  Bytes frame = encode_request(req);
  FrameHeader h = header_of(frame);
  h.flags = kFlagReply;
  EXPECT_FALSE(decode_request(h, payload_of(frame)).has_value());
}

TEST(Request, RandomBytesNeverCrashTheDecoder) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 20000; ++i) {
    Bytes junk(rng() % 64);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    FrameHeader h{kVersion, 0, static_cast<std::uint16_t>(0x10 + rng() % 8), 1, 0,
                  static_cast<std::uint32_t>(junk.size())};
    auto got = decode_request(h, junk);
    if (got) {
      EXPECT_LE(got->name.size(), kMaxNameLength);
      EXPECT_EQ(got->name.find('\0'), std::string::npos);
    }
  }
}

TEST(Reply, UserAndGroupRecordsRoundTrip) {
  User u{"alice", "x", 1000, 100, "Alice A.", "/home/alice", "/bin/bash"};
  Bytes f = encode_answer(5, model::Query::user_by_name(u.name), u);
  Reply r{header_of(f), Bytes(f.begin() + kHeaderSize, f.end())};
  EXPECT_EQ(r.header.flags, kFlagReply);
  auto back = model::answer_as<User>(decode_answer(model::Kind::kUserByName, r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, u);

  Group g{"staff", "x", 50, {"alice", "bob", "carol"}};
  Bytes fg = encode_answer(6, model::Query::group_by_gid(g.gid), g);
  Reply rg{header_of(fg), Bytes(fg.begin() + kHeaderSize, fg.end())};
  auto gback = model::answer_as<Group>(decode_answer(model::Kind::kGroupByGid, rg));
  ASSERT_TRUE(gback.has_value());
  EXPECT_EQ(*gback, g);
}

TEST(Reply, ErrorRepliesCarryAStatusAndAMessage) {
  Bytes f = encode_error_reply(0x10, 8, WireStatus::kNotFound, "no such user");
  Reply r{header_of(f), Bytes(f.begin() + kHeaderSize, f.end())};
  auto back = model::answer_as<User>(decode_answer(model::Kind::kUserByName, r));
  ASSERT_FALSE(back.has_value());
  EXPECT_EQ(back.error().code(), core::Code::kNotFound);
  EXPECT_EQ(back.error().message(), "no such user");
}

TEST(Reply, GroupMemberCountPastThePayloadIsRejectedBeforeAllocating) {
  std::uint8_t buf[64];
  WireWriter w(buf, sizeof buf);
  w.str("g", 1);
  w.str("x", 1);
  w.u32(10);
  w.u32(60000);  // claims 60,000 members in a few bytes
  WireReader r(buf, w.len);
  Group g;
  EXPECT_FALSE(get_group(r, &g));
  EXPECT_TRUE(g.members.empty());
}

TEST(Reply, HugeGroupsGrowTheBufferUpToTheFrameLimit) {
  Group g{"big", "x", 1, {}};
  for (int i = 0; i < 20000; ++i) g.members.push_back("member" + std::to_string(i));
  Bytes f = encode_answer(1, model::Query::group_by_name(g.name), g);
  FrameHeader h = header_of(f);
  EXPECT_EQ(h.status, 0u);
  Reply r{h, Bytes(f.begin() + kHeaderSize, f.end())};
  auto back = model::answer_as<Group>(decode_answer(model::Kind::kGroupByName, r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->members.size(), 20000u);
}

TEST(Auth, OpcodesAreInTheAuthRangeAndNotAdmin) {
  EXPECT_TRUE(opcode_is_auth(static_cast<std::uint16_t>(Opcode::kAuthenticate)));
  EXPECT_TRUE(opcode_is_auth(static_cast<std::uint16_t>(Opcode::kAccount)));
  EXPECT_TRUE(opcode_is_auth(0x2F));
  EXPECT_FALSE(opcode_is_auth(static_cast<std::uint16_t>(Opcode::kGetpwnam)));
  EXPECT_FALSE(opcode_is_auth(static_cast<std::uint16_t>(Opcode::kCacheInvalidate)));
  EXPECT_FALSE(opcode_is_admin(static_cast<std::uint16_t>(Opcode::kAuthenticate)));
}

TEST(Auth, RequestsRoundTripWithPasswordAndService) {
  Request req;
  req.opcode = Opcode::kAuthenticate;
  req.request_id = 11;
  req.name = "alice";
  req.password = core::Secret("s3cret pw");
  req.service = "sshd";
  Bytes f = encode_request(req);
  auto back = decode_request(header_of(f), payload_of(f));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->name, "alice");
  EXPECT_EQ(back->password.view(), "s3cret pw");
  EXPECT_EQ(back->service, "sshd");

  Request acct;
  acct.opcode = Opcode::kAccount;
  acct.name = "bob";
  Bytes fa = encode_request(acct);
  auto aback = decode_request(header_of(fa), payload_of(fa));
  ASSERT_TRUE(aback.has_value());
  EXPECT_EQ(aback->name, "bob");
  EXPECT_TRUE(aback->password.empty());
}

TEST(Auth, OverlongPasswordsAndEmptyUsersAreRefused) {
  Request req;
  req.opcode = Opcode::kAuthenticate;
  req.name = "alice";
  req.password = core::Secret(std::string(kMaxPasswordLength, 'p'));
  Bytes ok = encode_request(req);
  EXPECT_TRUE(decode_request(header_of(ok), payload_of(ok)).has_value());
  req.password = core::Secret(std::string(kMaxPasswordLength + 1, 'p'));
  Bytes f = encode_request(req);
  auto back = decode_request(header_of(f), payload_of(f));
  ASSERT_FALSE(back.has_value());
  EXPECT_EQ(back.error().status, WireStatus::kTooLarge);
  EXPECT_EQ(back.error().message.find("pppp"), std::string::npos) << "never echoed";
  req.password = core::Secret("pw");
  req.name = "";
  Bytes e = encode_request(req);
  EXPECT_EQ(decode_request(header_of(e), payload_of(e)).error().status, WireStatus::kBadRequest);
}

TEST(Auth, RepliesRoundTripAndUnknownResultsAreCorruption) {
  AuthReply a{AuthResult::kAccountExpired, "the account expired on 2026-01-01"};
  Bytes f = encode_auth_reply(3, Opcode::kAccount, a);
  Reply r{header_of(f), Bytes(f.begin() + kHeaderSize, f.end())};
  auto back = decode_auth_reply(r);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, a);
  r.payload[0] = static_cast<std::uint8_t>(kAuthResultMax + 1);
  EXPECT_EQ(decode_auth_reply(r).error().code(), core::Code::kCorruption);
}

// A success may name the login's credential cache: one more str, sent only
// when there is one (a reply without it is byte for byte the old one).
TEST(Auth, ACredentialCacheNameTravelsOnlyWhenThereIsOne) {
  AuthReply plain{AuthResult::kSuccess, ""};
  AuthReply with{AuthResult::kSuccess, "", "FILE:/tmp/krb5cc_1000_a8Xk2p"};
  Bytes f = encode_auth_reply(4, Opcode::kAuthenticate, plain);
  Bytes g = encode_auth_reply(4, Opcode::kAuthenticate, with);
  EXPECT_EQ(g.size(), f.size() + 4 + with.ccache.size());
  Reply r{header_of(g), Bytes(g.begin() + kHeaderSize, g.end())};
  auto back = decode_auth_reply(r);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, with);
  // Anything after the name is still corruption.
  r.payload.push_back(0);
  EXPECT_EQ(decode_auth_reply(r).error().code(), core::Code::kCorruption);
}

TEST(StatusMapping, EveryWireStatusMapsToACoreCodeAndBack) {
  EXPECT_EQ(to_wire(core::Code::kNotFound), WireStatus::kNotFound);
  EXPECT_EQ(from_wire(WireStatus::kNotFound), core::Code::kNotFound);
  EXPECT_EQ(to_wire(core::Code::kUnavailable), WireStatus::kUnavailable);
  EXPECT_EQ(from_wire(WireStatus::kBusy), core::Code::kBusy);
  EXPECT_EQ(from_wire(WireStatus::kUnknownOpcode), core::Code::kInvalidArgument);
  EXPECT_EQ(opcode_name(0x10), "getpwnam");
  EXPECT_EQ(opcode_name(0x9999), "unknown");
}

}  // namespace
}  // namespace fastid::proto
