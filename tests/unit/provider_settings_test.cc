// The provider worker's settings text (daemon/provider_settings.h): what the
// daemon encodes decodes to the same provider, hostile or broken text is
// refused with a message, and every value is checked against the table again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/provider_settings.h"
#include "daemon/settings.h"

namespace fastid::daemon {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

ProviderConfig ldap_provider() {
  ProviderConfig p;
  apply_defaults(p);
  p.name = "corp";
  p.type = "ldap";
  p.uri = {"ldap://a.example:389", "ldaps://b.example"};
  p.base = "dc=example,dc=com";  // commas inside a value
  p.bind_dn = "cn=reader,dc=example,dc=com";
  p.bind_password = "pa\\ss,wo=rd";  // a backslash, a comma and an "=" (the table refuses control characters)
  p.user_attributes = {"uid=login", "", "cn,x"};  // an empty item and a comma inside one
  p.search_timeout = 1500ms;
  p.page_size = 250;
  p.start_tls = true;
  p.min_id = 1000;
  return p;
}

TEST(ProviderSettings, RoundTripGivesTheSameProviderAndLogLevel) {
  const ProviderConfig p = ldap_provider();
  auto decoded = decode_provider_settings(encode_provider_settings(p, core::LogLevel::kWarning));
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  ProviderConfig expected = p;
  apply_defaults(expected.pool);  // pools are the daemon's: never sent
  EXPECT_EQ(decoded->provider, expected);
  EXPECT_EQ(decoded->log_level, core::LogLevel::kWarning);
}

TEST(ProviderSettings, EveryProviderTypeRoundTrips) {
  for (std::string_view type : available_provider_types()) {
    ProviderConfig p;
    apply_defaults(p);
    p.name = "p";
    p.type = std::string(type);
    if (type == "ldap") p.uri = {"ldap://127.0.0.1"};
    if (type == "fastid") p.servers = {"127.0.0.1:7000"};
    auto decoded = decode_provider_settings(encode_provider_settings(p, core::LogLevel::kInfo));
    ASSERT_TRUE(decoded) << type << ": " << decoded.error().to_string();
    EXPECT_EQ(decoded->provider.type, type);
    EXPECT_EQ(decoded->provider.name, "p");
  }
}

TEST(ProviderSettings, BrokenTextIsRefusedWithAMessage) {
  const std::string good = encode_provider_settings(ldap_provider(), core::LogLevel::kInfo);
  struct Case {
    std::string text;
    std::string says;
  };
  const Case cases[] = {
      {"", "empty"},
      {"fastid-provider-settings 2\n", "expected \"fastid-provider-settings 1\""},
      {good + "no_such_key=1\n", "not a provider setting"},
      {good + "page_size=1\n", "given twice"},
      {good.substr(0, good.size() - 1), "no newline"},
      {"fastid-provider-settings 1\nname=p\n", "type is missing"},
      {"fastid-provider-settings 1\nname=p\ntype=nis\n", "type"},
      {"fastid-provider-settings 1\nname=../etc\ntype=files\n", "name"},
      {"fastid-provider-settings 1\nname=p\ntype=slow\nusers=-5\n", "users"},
      {"fastid-provider-settings 1\nname=p\ntype=slow\ndelay=5\n", "delay"},
      {"fastid-provider-settings 1\nname=p\ntype=ldap\nuri=ldap://x\n", "without its ','"},
      {"fastid-provider-settings 1\nname=p\ntype=ldap\nbase=a,b\n", "unescaped ','"},
      {"fastid-provider-settings 1\nname=p\ntype=ldap\nbase=a\\q\n", "unknown escape"},
      {"fastid-provider-settings 1\nlog_level=loud\nname=p\ntype=files\n", "log level"},
      {"fastid-provider-settings 1\nname\n", "KEY=VALUE"},
  };
  for (const Case& c : cases) {
    auto decoded = decode_provider_settings(c.text);
    ASSERT_FALSE(decoded) << c.text;
    EXPECT_EQ(decoded.error().code(), core::Code::kInvalidArgument) << c.text;
    EXPECT_THAT(decoded.error().to_string(), HasSubstr(c.says)) << c.text;
  }
}

}  // namespace
}  // namespace fastid::daemon
