// The LDAP provider's value rules: RFC 4515 escaping of request values, and
// the checks directory values must pass before they become passwd/group fields.
#include "providers/ldap/ldap_values.h"

#include <gtest/gtest.h>

#include <string>

namespace fastid::providers::ldap {
namespace {

using namespace std::string_literals;

TEST(EscapeFilterValue, EscapesEveryMetacharacterAndControlByte) {
  EXPECT_EQ(escape_filter_value("alice"), "alice");
  EXPECT_EQ(escape_filter_value("*"), "\\2a");
  EXPECT_EQ(escape_filter_value("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
  EXPECT_EQ(escape_filter_value("a\\b"), "a\\5cb");
  EXPECT_EQ(escape_filter_value("a\0b"s), "a\\00b");
  EXPECT_EQ(escape_filter_value("a\nb"), "a\\0ab");
  EXPECT_EQ(escape_filter_value("\x7f"), "\\7f");
  // UTF-8 and the other printable characters pass unchanged.
  EXPECT_EQ(escape_filter_value("Jürgen =,+<>#;\""), "Jürgen =,+<>#;\"");
  EXPECT_EQ(escape_filter_value(""), "");
}

TEST(EscapeFilterValue, EqualityFilterWrapsTheEscapedValue) {
  EXPECT_EQ(equality_filter("uid", "x)(|(uid=*"), "(uid=x\\29\\28|\\28uid=\\2a)");
  EXPECT_EQ(equality_filter("member", "uid=a\\2Cb,ou=people,dc=x"),
            "(member=uid=a\\5c2Cb,ou=people,dc=x)");
}

TEST(InvalidNameReason, RefusesWhatCannotStandInAPasswdOrGroupLine) {
  EXPECT_EQ(invalid_name_reason("user00001"), nullptr);
  EXPECT_EQ(invalid_name_reason("first.last@example.org"), nullptr);
  EXPECT_EQ(invalid_name_reason("Jürgen"), nullptr);
  EXPECT_STREQ(invalid_name_reason(""), "empty name");
  EXPECT_STREQ(invalid_name_reason("a:b"), "':' in a name");
  EXPECT_STREQ(invalid_name_reason("a,b"), "',' in a name");
  EXPECT_STREQ(invalid_name_reason("a\nb"), "newline in a name");
  EXPECT_STREQ(invalid_name_reason("a\0b"s), "NUL in a name");
  EXPECT_STREQ(invalid_name_reason("a\tb"), "control character in a name");
  EXPECT_STREQ(invalid_name_reason("*)(uid=*"), "filter metacharacter in a name");
  EXPECT_STREQ(invalid_name_reason("a\\b"), "filter metacharacter in a name");
  EXPECT_STREQ(invalid_name_reason(std::string(257, 'a')), "name longer than 256 bytes");
  EXPECT_EQ(invalid_name_reason(std::string(256, 'a')), nullptr);
}

TEST(InvalidFieldReason, AllowsCommasButNotSeparatorsOrControls) {
  EXPECT_EQ(invalid_field_reason(""), nullptr);
  EXPECT_EQ(invalid_field_reason("Smith, John (room 4)"), nullptr);
  EXPECT_STREQ(invalid_field_reason("a:b"), "':' in a field");
  EXPECT_STREQ(invalid_field_reason("a\nb"), "newline in a field");
  EXPECT_STREQ(invalid_field_reason("a\0b"s), "NUL in a field");
  EXPECT_STREQ(invalid_field_reason("a\rb"), "control character in a field");
  EXPECT_STREQ(invalid_field_reason(std::string(4097, 'x')), "field longer than 4096 bytes");
}

TEST(ParseId, AcceptsOnlyDecimalIdsBelowMinusOne) {
  EXPECT_EQ(parse_id("0"), 0u);
  EXPECT_EQ(parse_id("100001"), 100001u);
  EXPECT_EQ(parse_id("4294967294"), 4294967294u);
  EXPECT_EQ(parse_id("4294967295"), std::nullopt);  // (uid_t)-1
  EXPECT_EQ(parse_id("4294967296"), std::nullopt);
  EXPECT_EQ(parse_id("99999999999"), std::nullopt);
  EXPECT_EQ(parse_id("-1"), std::nullopt);
  EXPECT_EQ(parse_id(""), std::nullopt);
  EXPECT_EQ(parse_id(" 5"), std::nullopt);
  EXPECT_EQ(parse_id("5 "), std::nullopt);
  EXPECT_EQ(parse_id("12a"), std::nullopt);
  EXPECT_EQ(parse_id("+5"), std::nullopt);
}

TEST(ParseDays, SignedDecimal) {
  EXPECT_EQ(parse_days("19000"), 19000);
  EXPECT_EQ(parse_days("-1"), -1);
  EXPECT_EQ(parse_days(""), std::nullopt);
  EXPECT_EQ(parse_days("1x"), std::nullopt);
}

TEST(DnKey, EqualForDnsThatDifferOnlyInCaseAndSpelling) {
  EXPECT_EQ(dn_key("uid=Alice,ou=People,dc=Example,dc=org"), dn_key("UID=alice, ou=people,DC=example,dc=ORG"));
  EXPECT_EQ(dn_key("cn=a\\2cb,dc=x"), dn_key("cn=a\\,b,dc=x"));
  EXPECT_NE(dn_key("cn=a\\,b,dc=x"), dn_key("cn=a,cn=b,dc=x"));
  EXPECT_EQ(dn_key(""), "");
  EXPECT_EQ(dn_key("not a dn"), std::nullopt);
  EXPECT_EQ(dn_key("cn=a\0b,dc=x"s), std::nullopt);
}

TEST(FirstRdn, SplitsTheNamingAttributeFromItsParent) {
  auto r = first_rdn("uid=user00001,ou=people,dc=fastid,dc=test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->attr, "uid");
  EXPECT_EQ(r->value, "user00001");
  EXPECT_EQ(r->parent_key, *dn_key("ou=people,dc=fastid,dc=test"));
  // Escapes are resolved: the value is what the directory holds.
  auto colon = first_rdn("uid=bad\\3Acolon,ou=people,dc=x");
  ASSERT_TRUE(colon);
  EXPECT_EQ(colon->value, "bad:colon");
  EXPECT_EQ(first_rdn("cn=a+uid=b,dc=x"), std::nullopt);  // multi-valued RDN
  EXPECT_EQ(first_rdn("garbage"), std::nullopt);
}

TEST(Printable, HostileTextCannotForgeALogLine) {
  EXPECT_EQ(printable("a\nb"), "a\\nb");
  EXPECT_EQ(printable("a\0b"s), "a\\x00b");
  EXPECT_EQ(printable("a\\n"), "a\\\\n");
  EXPECT_EQ(printable(std::string(300, 'x')), std::string(200, 'x') + "...");
}

}  // namespace
}  // namespace fastid::providers::ldap
