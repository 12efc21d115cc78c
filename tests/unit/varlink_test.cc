// The Varlink codec of the systemd userdb front (src/proto/varlink.h): calls
// decoded with every parameter checked, hostile messages refused as values
// (never an exception, never a crash), replies in systemd's record format.
#include "proto/varlink.h"

#include <gtest/gtest.h>

#include <string>

namespace vl = fastid::proto::varlink;
using fastid::model::Group;
using fastid::model::User;

namespace {

std::string strip_nul(std::string s) {
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(s.back(), '\0') << "every message ends in its NUL";
  s.pop_back();
  EXPECT_EQ(s.find('\0'), std::string::npos);
  return s;
}

TEST(VarlinkCodec, DecodesWhatNssSystemdSends) {
  auto c = vl::decode_call(
      R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"vuser","service":"io.fastid"}})");
  ASSERT_TRUE(c) << c.error().reason;
  EXPECT_EQ(c->method, vl::Method::kGetUserRecord);
  EXPECT_EQ(c->name, "vuser");
  EXPECT_EQ(c->service, "io.fastid");
  EXPECT_FALSE(c->id);
  EXPECT_FALSE(c->more);

  c = vl::decode_call(
      R"({"method":"io.systemd.UserDatabase.GetGroupRecord","parameters":{"gid":750001,"service":"io.fastid"},"more":true})");
  ASSERT_TRUE(c) << c.error().reason;
  EXPECT_EQ(c->method, vl::Method::kGetGroupRecord);
  EXPECT_EQ(c->id, 750001u);
  EXPECT_TRUE(c->more);

  c = vl::decode_call(
      R"({"method":"io.systemd.UserDatabase.GetMemberships","parameters":{"userName":"a","groupName":"g","service":"x"}})");
  ASSERT_TRUE(c) << c.error().reason;
  EXPECT_EQ(c->name, "a");
  EXPECT_EQ(c->other_name, "g");
}

TEST(VarlinkCodec, UnknownMethodIsAnErrorReplyNotAClose) {
  auto c = vl::decode_call(R"({"method":"io.systemd.UserDatabase.DropTables","parameters":{}})");
  ASSERT_FALSE(c);
  EXPECT_FALSE(c.error().fatal);
  EXPECT_EQ(c.error().error, vl::kMethodNotFound);
  EXPECT_EQ(c.error().value, "io.systemd.UserDatabase.DropTables");
}

TEST(VarlinkCodec, BadParametersNameTheParameter) {
  struct Case {
    const char* message;
    const char* parameter;
  } cases[] = {
      {R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"uid":-1,"service":"s"}})", "uid"},
      {R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"uid":4294967295,"service":"s"}})", "uid"},
      {R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"uid":1e3,"service":"s"}})", "uid"},
      {R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"uid":"0","service":"s"}})", "uid"},
      {R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":7,"service":"s"}})", "userName"},
      {R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"","service":"s"}})", "userName"},
      {R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"a\u0000b","service":"s"}})", "userName"},
      {R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"gid":1,"service":"s"}})", "gid"},
      {R"({"method":"io.systemd.UserDatabase.GetGroupRecord","parameters":{"service":["s"]}})", "service"},
      {R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"dispositionMask":["root"],"service":"s"}})", "dispositionMask"},
  };
  for (const Case& t : cases) {
    auto c = vl::decode_call(t.message);
    ASSERT_FALSE(c) << t.message;
    EXPECT_FALSE(c.error().fatal) << t.message;
    EXPECT_EQ(c.error().error, vl::kInvalidParameter) << t.message;
    EXPECT_EQ(c.error().value, t.parameter) << t.message;
  }
  const std::string long_name(300, 'a');
  auto c = vl::decode_call(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":")" +
                           long_name + R"(","service":"s"}})");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().value, "userName");
}

TEST(VarlinkCodec, HostileMessagesAreFatalValues) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string deep_object = R"({"method":"x","parameters":)" + std::string(9, '[') + std::string(9, ']') + "}";
  const std::string huge = R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":")" +
                           std::string(vl::kMaxMessage, 'a') + R"("}})";
  const char* cases[] = {
      "",
      "not json",
      "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\"",  // cut short
      "[]",
      "42",
      R"({"parameters":{}})",                                          // no method
      R"({"method":7})",
      R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":[]})",
      R"({"method":"io.systemd.UserDatabase.GetUserRecord","more":"yes"})",
      R"({"method":"io.systemd.UserDatabase.GetUserRecord","upgrade":true})",
      "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\",\"parameters\":{\"userName\":\"\xff\xfe\"}}",  // not UTF-8
      "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\",\"parameters\":{\"userName\":\"\xc3\"}}",      // cut UTF-8
  };
  for (const char* m : cases) {
    auto c = vl::decode_call(m);
    ASSERT_FALSE(c) << m;
    EXPECT_TRUE(c.error().fatal) << m;
  }
  for (const std::string& m : {deep, deep_object, huge}) {
    auto c = vl::decode_call(m);
    ASSERT_FALSE(c);
    EXPECT_TRUE(c.error().fatal) << c.error().reason;
  }
  // Brackets inside strings are not nesting.
  auto c = vl::decode_call(R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"[[[[[[[[[[[[","service":"s"}})");
  ASSERT_TRUE(c) << c.error().reason;
}

TEST(VarlinkCodec, UserRecordCarriesServiceAndNoSecret) {
  User u{"alice", "x", 1500, 1500, "Alice Liddell", "/home/alice", "/bin/bash"};
  const std::string m = strip_nul(vl::user_reply(u, "io.fastid", false));
  EXPECT_NE(m.find(R"("userName":"alice")"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("uid":1500)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("gid":1500)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("realName":"Alice Liddell")"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("homeDirectory":"/home/alice")"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("shell":"/bin/bash")"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("service":"io.fastid")"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("disposition":"regular")"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("incomplete":false)"), std::string::npos) << m;
  EXPECT_EQ(m.find("privileged"), std::string::npos) << m;
  EXPECT_EQ(m.find("continues"), std::string::npos) << m;
  EXPECT_NE(strip_nul(vl::user_reply(u, "io.fastid", true)).find(R"("continues":true)"), std::string::npos);
}

TEST(VarlinkCodec, GroupRecordAndMembership) {
  Group g{"staff", "x", 50, {"alice", "bob"}};
  const std::string m = strip_nul(vl::group_reply(g, "io.fastid", false));
  EXPECT_NE(m.find(R"("groupName":"staff")"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("members":["alice","bob"])"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("disposition":"system")"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("service":"io.fastid")"), std::string::npos) << m;
  const std::string p = strip_nul(vl::membership_reply("alice", "staff", true));
  EXPECT_EQ(p, R"({"continues":true,"parameters":{"groupName":"staff","userName":"alice"}})");
}

TEST(VarlinkCodec, BytesThatAreNotUtf8AreReplacedNotThrown) {
  User u{"bad", "x", 2000, 2000, "Gecos \xff\xfe", "/home/bad", "/bin/sh"};
  const std::string m = strip_nul(vl::user_reply(u, "io.fastid", false));
  EXPECT_NE(m.find("Gecos \xef\xbf\xbd\xef\xbf\xbd"), std::string::npos) << m;  // U+FFFD twice
}

TEST(VarlinkCodec, Errors) {
  EXPECT_EQ(strip_nul(vl::error_reply(vl::kNoRecordFound)),
            R"({"error":"io.systemd.UserDatabase.NoRecordFound","parameters":{}})");
  EXPECT_EQ(strip_nul(vl::error_reply(vl::kInvalidParameter, "parameter", "uid")),
            R"({"error":"org.varlink.service.InvalidParameter","parameters":{"parameter":"uid"}})");
}

TEST(VarlinkCodec, FiltersOfNewerSystemd) {
  auto c = vl::decode_call(
      R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"service":"s","uidMin":1000,"uidMax":2000,"dispositionMask":["regular"]}})");
  ASSERT_TRUE(c) << c.error().reason;
  EXPECT_TRUE(c->admits(1500));
  EXPECT_FALSE(c->admits(999));
  EXPECT_FALSE(c->admits(2001));
  EXPECT_FALSE(c->admits(65000));  // dynamic, not regular
  EXPECT_EQ(vl::disposition_of_id(0), vl::Disposition::kIntrinsic);
  EXPECT_EQ(vl::disposition_of_id(65534), vl::Disposition::kIntrinsic);
  EXPECT_EQ(vl::disposition_of_id(999), vl::Disposition::kSystem);
  EXPECT_EQ(vl::disposition_of_id(61184), vl::Disposition::kDynamic);
}

}  // namespace
