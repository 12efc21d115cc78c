// password_expiry: the shadow warning period, a ppolicy password's age, the
// GeneralizedTime reader and the words the user reads; the files provider's
// verdict carrying the warning; what a bind's password policy control means.
#include "providers/password_expiry.h"

#include <gtest/gtest.h>

#include "providers/files/shadow.h"
#include "providers/ldap/ldap_bind_policy.h"

namespace fastid::providers {
namespace {

TEST(ShadowDaysToExpiry, OnlyInsideTheWarningPeriod) {
  // Changed on day 100, valid for 30 days, warned 7 days before: expires on day 130.
  EXPECT_EQ(shadow_days_to_expiry(122, 100, 30, 7), std::nullopt);  // 8 days left: not yet
  EXPECT_EQ(shadow_days_to_expiry(123, 100, 30, 7), 7);
  EXPECT_EQ(shadow_days_to_expiry(129, 100, 30, 7), 1);
  EXPECT_EQ(shadow_days_to_expiry(130, 100, 30, 7), 0);              // the last day
  EXPECT_EQ(shadow_days_to_expiry(131, 100, 30, 7), std::nullopt);  // expired: the verdict's business
  // No aging, no warning period, a change required (0): nothing to warn about.
  EXPECT_EQ(shadow_days_to_expiry(125, 100, -1, 7), std::nullopt);
  EXPECT_EQ(shadow_days_to_expiry(125, 100, 30, -1), std::nullopt);
  EXPECT_EQ(shadow_days_to_expiry(125, 100, 30, 0), std::nullopt);
  EXPECT_EQ(shadow_days_to_expiry(125, 0, 30, 7), std::nullopt);
  EXPECT_EQ(shadow_days_to_expiry(125, -1, 30, 7), std::nullopt);
}

TEST(PpolicyExpiry, WarnsWithinExpireWarningAndExpiresAtMaxAge) {
  const std::int64_t changed = 1'000'000;
  using State = PolicyExpiry::State;
  EXPECT_EQ(ppolicy_expiry(changed + 10, changed, 0, 100).state, State::kNone);  // no pwdMaxAge
  EXPECT_EQ(ppolicy_expiry(changed + 10, changed, 1000, 100).state, State::kNone);
  EXPECT_EQ(ppolicy_expiry(changed + 10, changed, 1000, 0).state, State::kNone);  // no pwdExpireWarning
  const PolicyExpiry soon = ppolicy_expiry(changed + 950, changed, 1000, 100);
  EXPECT_EQ(soon.state, State::kWarning);
  EXPECT_EQ(soon.seconds_left, 50);
  EXPECT_EQ(soon.expires_at, changed + 1000);
  EXPECT_EQ(ppolicy_expiry(changed + 1000, changed, 1000, 100).state, State::kWarning);  // its last second
  EXPECT_EQ(ppolicy_expiry(changed + 1000, changed, 1000, 0).state, State::kNone);
  const PolicyExpiry gone = ppolicy_expiry(changed + 1001, changed, 1000, 100);
  EXPECT_EQ(gone.state, State::kExpired);
  EXPECT_EQ(gone.expires_at, changed + 1000);
}

TEST(GeneralizedTime, ReadsSlapdsFormAndRefusesTheRest) {
  EXPECT_EQ(parse_generalized_time("19700101000000Z"), 0);
  EXPECT_EQ(parse_generalized_time("20261205043000Z"), 1796445000);
  EXPECT_EQ(parse_generalized_time("20261205043000.123456Z"), 1796445000);
  EXPECT_EQ(parse_generalized_time("20240229120000Z"), 1709208000);  // a leap day
  for (const char* bad : {"", "2026120504300Z", "20261205043000", "20261205043000+0100", "20261305043000Z",
                          "20260230043000Z", "20261205243000Z", "2026-12-05T04:30Z", "20261205043000.Z",
                          "2026120504300aZ", "000001010000Z"}) {
    EXPECT_EQ(parse_generalized_time(bad), std::nullopt) << bad;
  }
}

TEST(ExpiryWarning, SaysHowManyDays) {
  EXPECT_EQ(expiry_warning(5), "Your password will expire in 5 days.");
  EXPECT_EQ(expiry_warning(1), "Your password will expire in 1 day.");
  EXPECT_EQ(expiry_warning(0), "Your password will expire today.");
}

TEST(ShadowAccountVerdict, InOrderWithTheWarningInsideTheWarningPeriod) {
  ShadowEntry e;
  e.last_change = 100;
  e.max_days = 30;
  e.warn_days = 7;
  const model::Account warned = shadow_account_verdict(e, 125);
  EXPECT_EQ(warned.verdict, model::AccountVerdict::kOk);
  EXPECT_EQ(warned.message, "Your password will expire in 5 days.");
  EXPECT_EQ(shadow_account_verdict(e, 110), model::Account{});
  EXPECT_EQ(shadow_account_verdict(e, 131).verdict, model::AccountVerdict::kPasswordExpired);
}

TEST(BindPolicyNotice, GraceLoginsMeanChangeNowAndAWarningIsWords) {
  EXPECT_EQ(ldap::account_of_notice({}), model::Account{});
  const model::Account warned = ldap::account_of_notice({.seconds_before_expiration = 907200});
  EXPECT_EQ(warned.verdict, model::AccountVerdict::kOk);
  EXPECT_EQ(warned.message, "Your password will expire in 10 days.");
  const model::Account grace = ldap::account_of_notice({.grace_logins_left = 4});
  EXPECT_EQ(grace.verdict, model::AccountVerdict::kPasswordExpired);
  EXPECT_NE(grace.message.find("4 grace login(s) left"), std::string::npos) << grace.message;
  // The last grace login: none left, still a change required.
  EXPECT_EQ(ldap::account_of_notice({.grace_logins_left = 0}).verdict, model::AccountVerdict::kPasswordExpired);
}

}  // namespace
}  // namespace fastid::providers
