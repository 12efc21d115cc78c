// Netgroups and SSH keys below the daemon: the rules of names, triples and
// key lines, the one flattening walk (cycles, levels, limits), the netgroup(5)
// file, and both kinds on the wire, in the store's codec and through
// CheckedProvider (issue #16).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "model/query.h"
#include "proto/messages.h"
#include "providers/checked_provider.h"
#include "providers/files/netgroup_file.h"
#include "providers/netgroups.h"
#include "providers/ssh_keys.h"
#include "store/record_codec.h"

namespace fastid {
namespace {

using model::Netgroup;
using model::NetgroupTriple;
using providers::flatten_netgroup;
using providers::NetgroupEntry;

constexpr const char* kEd25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAmon9Zr2xpGbmMXXMgy5LtyqN5yQcTt6OpIoojBuP7U alice@laptop";
constexpr const char* kRsaBlob = "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDauFRtP9ijM8ZQBwYvQne8pRt546xwy+oqUXbxvuqdcMnbDfHvV4ZvKyGWFpxphl5cd8cRLyWVZcnjcmCbvz6P7CQ3LgQO0lBfE22sRhXtPyT05aoeZ9+0Q0Qh5O+twjhXWVEg5sT3ZLgkSKLqoahDXwETUY6sZFNIbZfjPSAeZQ==";

std::set<NetgroupTriple> as_set(const std::vector<NetgroupTriple>& v) { return {v.begin(), v.end()}; }

// A source over a fixed map, counting the fetches (one per level).
struct Source {
  std::map<std::string, NetgroupEntry> data;
  int fetches = 0;
  providers::NetgroupFetch fetch() {
    return [this](const std::vector<std::string>& names) {
      ++fetches;
      std::map<std::string, NetgroupEntry> out;
      for (const auto& n : names) {
        if (auto it = data.find(n); it != data.end()) out.insert(*it);
      }
      return core::Result<std::map<std::string, NetgroupEntry>>(out);
    };
  }
};

TEST(NetgroupRules, NamesAndTriples) {
  EXPECT_EQ(providers::invalid_netgroup_name_reason("ng-hosts"), nullptr);
  for (const char* bad : {"", "a b", "a,b", "a:b", "a(b", "a\\b", "a*", "a\nb"}) {
    EXPECT_NE(providers::invalid_netgroup_name_reason(bad), nullptr) << bad;
  }
  EXPECT_NE(providers::invalid_netgroup_name_reason(std::string(257, 'a')), nullptr);
  const char* why = nullptr;
  auto t = providers::parse_triple(" ( host.example , alice ,  ) ", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(*t, (NetgroupTriple{"host.example", "alice", ""}));
  EXPECT_EQ(*providers::parse_triple("(-,,)", &why), (NetgroupTriple{"-", "", ""}));
  for (const std::string& bad : std::vector<std::string>{"(a,b)", "(a,b,c,d)", "a,b,c", "(a b,c,d)", "(a\nb,,)", "((a),,)",
                          "(" + std::string(256, 'h') + ",,)"}) {
    EXPECT_FALSE(providers::parse_triple(bad, &why)) << bad;
  }
  EXPECT_TRUE(providers::parse_triple("(" + std::string(255, 'h') + ",,)", &why));
}

TEST(NetgroupFlatten, NestingWithACycleGivesEveryTripleOnce) {
  Source s;
  s.data["top"] = {{{"h1", "", ""}}, {"a"}};
  s.data["a"] = {{{"h2", "", ""}, {"h1", "", ""}}, {"b", "top"}};
  s.data["b"] = {{{"", "u1", "d"}}, {"a", "b", "elsewhere"}};
  auto r = flatten_netgroup("top", s.fetch());
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->name, "top");
  EXPECT_EQ(r->triples, (std::vector<NetgroupTriple>{{"h1", "", ""}, {"h2", "", ""}, {"", "u1", "d"}}));
  EXPECT_EQ(r->unresolved, std::vector<std::string>{"elsewhere"});
  EXPECT_EQ(s.fetches, 4);  // top, a, b, elsewhere: one fetch per level
  // From inside the cycle the same set.
  auto from_b = flatten_netgroup("b", s.fetch());
  ASSERT_TRUE(from_b);
  EXPECT_EQ(as_set(from_b->triples), as_set(r->triples));
  EXPECT_EQ(flatten_netgroup("nope", s.fetch()).error().code(), core::Code::kNotFound);
}

TEST(NetgroupFlatten, DeeperThanTheLevelsLeavesNamesToGlibc) {
  Source s;
  for (int i = 0; i < 10; ++i) {
    s.data["n" + std::to_string(i)] = {{{"h" + std::to_string(i), "", ""}}, {"n" + std::to_string(i + 1)}};
  }
  auto r = flatten_netgroup("n0", s.fetch(), {.max_levels = 3});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->triples.size(), 4u);  // n0..n3
  EXPECT_EQ(r->unresolved, std::vector<std::string>{"n4"});
}

TEST(NetgroupFlatten, TooManyTriplesIsAnErrorNotAShortAnswer) {
  Source s;
  NetgroupEntry big;
  for (int i = 0; i < 20; ++i) big.triples.push_back({"h" + std::to_string(i), "", ""});
  s.data["big"] = big;
  auto r = flatten_netgroup("big", s.fetch(), {.max_triples = 10});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::Code::kInternal);
  // Invalid nested names and triples from a source are dropped, not followed.
  s.data["mixed"] = {{{"ok", "", ""}, {"bad host", "", ""}}, {"bad name", "x\ny"}};
  auto m = flatten_netgroup("mixed", s.fetch());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->triples, (std::vector<NetgroupTriple>{{"ok", "", ""}}));
  EXPECT_TRUE(m->unresolved.empty());
}

TEST(NetgroupFile, ParsesContinuationsCommentsAndSkipsBadLinesWhole) {
  auto f = providers::parse_netgroup_file(
      "# comment\n"
      "hosts (alpha,,) (beta,-,example.org) # trailing\n"
      "all hosts \\\n"
      "    (,alice,)\n"
      "broken (a,b) (c,,)\n"
      "evil (x y,,)\n"
      "\n"
      "hosts (ignored,,)\n");
  ASSERT_EQ(f.netgroups.size(), 2u);
  EXPECT_EQ(f.netgroups["hosts"].triples,
            (std::vector<NetgroupTriple>{{"alpha", "", ""}, {"beta", "-", "example.org"}}));
  EXPECT_EQ(f.netgroups["all"].members, std::vector<std::string>{"hosts"});
  EXPECT_EQ(f.netgroups["all"].triples, (std::vector<NetgroupTriple>{{"", "alice", ""}}));
  EXPECT_EQ(f.malformed, 2u);
  ASSERT_EQ(f.examples.size(), 2u);
  EXPECT_EQ(f.examples[0].first, 5u);
}

TEST(SshKeyLine, AcceptsKeysWithOptionsAndRefusesEverythingElse) {
  const char* why = nullptr;
  auto k = providers::ssh_key_line(std::string(kEd25519) + "\n", &why);
  ASSERT_TRUE(k) << why;
  EXPECT_EQ(*k, kEd25519);
  EXPECT_TRUE(providers::ssh_key_line(std::string("from=\"10.0.0.0/8\",command=\"echo a b\" ") + kEd25519, &why))
      << why;
  EXPECT_TRUE(providers::ssh_key_line(std::string("ssh-rsa ") + kRsaBlob, &why)) << why;
  const std::string blob = std::string(kEd25519).substr(12, std::string(kEd25519).find(' ', 12) - 12);
  for (std::string bad : {
           std::string(kEd25519) + "\nssh-ed25519 " + blob + " attacker",  // a second line
           std::string("ssh-ed25519 ") + blob.substr(0, blob.size() - 4),   // cut short
           std::string("ssh-rsa ") + blob,                                  // blob of another type
           std::string("ssh-ed25519 not*base64"),
           std::string("ssh-foo ") + blob,
           std::string("command=\"unterminated ") + kEd25519,
           std::string(""),
           std::string("ssh-ed25519 ") + blob + " " + std::string(9000, 'c'),
       }) {
    EXPECT_FALSE(providers::ssh_key_line(bad, &why)) << bad;
  }
}

TEST(MapsWire, BothKindsRoundTripAndHostileCountsAreRefused) {
  Netgroup ng{"all", {{"h", "", "d"}, {"", "u", ""}}, {"other"}};
  auto q = model::Query::netgroup("all");
  auto frame = proto::encode_answer(7, q, ng);
  proto::Reply reply;
  ASSERT_EQ(proto::decode_header(frame.data(), &reply.header), proto::HeaderCheck::kOk);
  reply.payload.assign(frame.begin() + proto::kHeaderSize, frame.end());
  auto back = proto::decode_answer(q.kind, reply);
  ASSERT_TRUE(back);
  EXPECT_EQ(std::get<Netgroup>(*back), ng);
  // A count past what the payload holds is refused before anything is reserved.
  reply.payload[4 + 3] = 0x7f;  // the triple count's top byte
  EXPECT_FALSE(proto::decode_answer(q.kind, reply));

  model::SshKeys keys{"alice", {kEd25519}};
  auto kq = model::Query::ssh_keys("alice");
  auto kframe = proto::encode_answer(8, kq, keys);
  proto::Reply kreply;
  ASSERT_EQ(proto::decode_header(kframe.data(), &kreply.header), proto::HeaderCheck::kOk);
  kreply.payload.assign(kframe.begin() + proto::kHeaderSize, kframe.end());
  auto kback = proto::decode_answer(kq.kind, kreply);
  ASSERT_TRUE(kback);
  EXPECT_EQ(std::get<model::SshKeys>(*kback), keys);
  // The request side: both are by-name lookups with a name.
  auto req = proto::request_of(kq, 3);
  EXPECT_EQ(req.opcode, proto::Opcode::kSshKeys);
  EXPECT_EQ(proto::query_of(req), kq);
}

TEST(MapsStore, CodecRoundTripsAndRefusesDamage) {
  store::codec::Header h{false, store::Map::kNetgroup, 1, 2};
  Netgroup ng{"all", {{"h", "", "d"}}, {"x"}};
  auto bytes = store::codec::encode_netgroup(h, ng);
  EXPECT_EQ(store::codec::decode_netgroup(bytes), ng);
  EXPECT_FALSE(store::codec::decode_netgroup(bytes.substr(0, bytes.size() - 1)));
  h.map = store::Map::kSshKeys;
  model::SshKeys keys{"alice", {kEd25519}};
  auto kb = store::codec::encode_ssh_keys(h, keys);
  EXPECT_EQ(store::codec::decode_ssh_keys(kb), keys);
  EXPECT_EQ(store::codec::decode_header(kb)->map, store::Map::kSshKeys);
}

// A provider that answers whatever it was given: CheckedProvider must not pass it on.
class Canned final : public providers::Provider {
 public:
  explicit Canned(model::Answer a) : answer_(std::move(a)) {}
  const std::string& name() const override { return name_; }
  core::Status open() override { return core::Status::ok(); }
  void close() override {}
  core::Status refresh() override { return core::Status::ok(); }
  core::Result<model::Answer> lookup(const model::Query&) override { return answer_; }

 private:
  std::string name_ = "canned";
  model::Answer answer_;
};

TEST(MapsChecked, KeysOfAnotherUserAndBadLinesNeverPass) {
  const std::string injected = std::string(kEd25519) + "\nssh-ed25519 AAAA attacker";
  providers::CheckedProvider other(std::make_unique<Canned>(model::SshKeys{"Alice", {kEd25519}}), {});
  EXPECT_EQ(other.lookup(model::Query::ssh_keys("alice")).error().code(), core::Code::kNotFound);
  providers::CheckedProvider mixed(
      std::make_unique<Canned>(model::SshKeys{"alice", {injected, "garbage", kEd25519}}), {});
  auto r = mixed.lookup(model::Query::ssh_keys("alice"));
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<model::SshKeys>(*r).keys, std::vector<std::string>{kEd25519});
  providers::CheckedProvider ngs(
      std::make_unique<Canned>(Netgroup{"all", {{"ok", "", ""}, {"x\ny", "", ""}}, {"bad name"}}), {});
  auto n = ngs.lookup(model::Query::netgroup("all"));
  ASSERT_TRUE(n);
  EXPECT_EQ(std::get<Netgroup>(*n).triples, (std::vector<NetgroupTriple>{{"ok", "", ""}}));
  EXPECT_TRUE(std::get<Netgroup>(*n).unresolved.empty());
  EXPECT_EQ(ngs.lookup(model::Query::netgroup("other")).error().code(), core::Code::kNotFound);
}

}  // namespace
}  // namespace fastid
