// Specification of fastid::core's error values (Status, Result, errno mapping) and
// of its log line format.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cctype>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>

#include "core/log.h"
#include "core/status.h"

namespace fastid::core {

// Failure messages name the code ("timed out"), not its byte value.
inline void PrintTo(Code code, std::ostream* os) { *os << code_name(code); }

namespace {

// ---- Status and Result --------------------------------------------------------

TEST(Status, DefaultIsOkAndCarriesNothing) {
  Status s;
  EXPECT_TRUE(s.is_ok());
  EXPECT_TRUE(static_cast<bool>(s));
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.sys_errno(), 0);
  EXPECT_TRUE(s.message().empty());
  EXPECT_EQ(s.to_string(), "ok");
}

TEST(Status, ErrorIsNotOkAndSaysWhatAndWhere) {
  Status s = Status::not_found("user alice");
  EXPECT_FALSE(s.is_ok());
  EXPECT_FALSE(static_cast<bool>(s));
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.to_string(), "not found: user alice");
  EXPECT_EQ(Status::timeout("").to_string(), "timed out");
}

TEST(Status, EveryFactoryMakesItsCode) {
  EXPECT_EQ(Status::unavailable("x").code(), Code::kUnavailable);
  EXPECT_EQ(Status::busy("x").code(), Code::kBusy);
  EXPECT_EQ(Status::timeout("x").code(), Code::kTimeout);
  EXPECT_EQ(Status::cancelled("x").code(), Code::kCancelled);
  EXPECT_EQ(Status::invalid_argument("x").code(), Code::kInvalidArgument);
  EXPECT_EQ(Status::permission_denied("x").code(), Code::kPermissionDenied);
  EXPECT_EQ(Status::corruption("x").code(), Code::kCorruption);
  EXPECT_EQ(Status::internal("x").code(), Code::kInternal);
}

TEST(Status, CodeNamesAreDistinctWords) {
  const Code all[] = {Code::kOk,        Code::kNotFound,        Code::kUnavailable,
                      Code::kBusy,      Code::kTimeout,         Code::kCancelled,
                      Code::kInvalidArgument, Code::kPermissionDenied, Code::kIoError,
                      Code::kCorruption, Code::kInternal};
  for (Code a : all) {
    EXPECT_FALSE(code_name(a).empty());
    EXPECT_NE(code_name(a), "unknown");
    for (Code b : all) {
      if (a != b) {
        EXPECT_NE(code_name(a), code_name(b));
      }
    }
  }
  EXPECT_EQ(code_name(Code::kIoError), "I/O error");
}

TEST(Status, WithContextPrefixesTheMessageAndKeepsCodeAndErrno) {
  Status base = status_from_errno(ENOENT, "open /etc/passwd");
  Status s = base.with_context("provider local");
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.sys_errno(), ENOENT);
  EXPECT_EQ(s.message(), "provider local: open /etc/passwd: No such file or directory");
  // Contexts stack outermost first, and the original is untouched.
  EXPECT_EQ(s.with_context("lookup alice").message(),
            "lookup alice: provider local: open /etc/passwd: No such file or directory");
  EXPECT_EQ(base.message(), "open /etc/passwd: No such file or directory");
}

TEST(Status, WithContextOnOkStaysOk) {
  Status s = Status::ok().with_context("provider local");
  EXPECT_TRUE(s.is_ok());
  EXPECT_TRUE(s.message().empty());
}

TEST(Status, WithContextOnEmptyMessageIsJustTheContext) {
  EXPECT_EQ(Status::busy("").with_context("pool corp").message(), "pool corp");
}

// ---- errno mapping: the one place an errno becomes a Status ------------------

struct ErrnoCase {
  int err;
  Code code;
};

class ErrnoMapping : public ::testing::TestWithParam<ErrnoCase> {};

TEST_P(ErrnoMapping, MapsToItsCodeAndKeepsTheErrno) {
  const ErrnoCase c = GetParam();
  Status s = status_from_errno(c.err, "op");
  EXPECT_EQ(s.code(), c.code) << "errno " << c.err << " gave " << s.to_string();
  EXPECT_EQ(s.sys_errno(), c.err);
  EXPECT_FALSE(s.is_ok());
}

INSTANTIATE_TEST_SUITE_P(
    Status, ErrnoMapping,
    ::testing::Values(ErrnoCase{ENOENT, Code::kNotFound}, ErrnoCase{EACCES, Code::kPermissionDenied},
                      ErrnoCase{EPERM, Code::kPermissionDenied}, ErrnoCase{ETIMEDOUT, Code::kTimeout},
                      ErrnoCase{ECANCELED, Code::kCancelled}, ErrnoCase{EAGAIN, Code::kBusy},
                      ErrnoCase{ENOBUFS, Code::kBusy}, ErrnoCase{ENOMEM, Code::kBusy},
                      ErrnoCase{EMFILE, Code::kBusy}, ErrnoCase{ENFILE, Code::kBusy},
                      ErrnoCase{ECONNREFUSED, Code::kUnavailable}, ErrnoCase{ECONNRESET, Code::kUnavailable},
                      ErrnoCase{EPIPE, Code::kUnavailable}, ErrnoCase{EHOSTUNREACH, Code::kUnavailable},
                      ErrnoCase{ENETUNREACH, Code::kUnavailable}, ErrnoCase{EINVAL, Code::kInvalidArgument},
                      ErrnoCase{ENAMETOOLONG, Code::kInvalidArgument},
                      // Anything else is a plain I/O error, never "ok".
                      ErrnoCase{EIO, Code::kIoError}, ErrnoCase{EBADF, Code::kIoError},
                      ErrnoCase{ENOSPC, Code::kIoError}, ErrnoCase{0, Code::kIoError},
                      ErrnoCase{99999, Code::kIoError}));

TEST(Status, ErrnoMessageNamesTheCallAndTheSystemText) {
  Status s = status_from_errno(EACCES, "open /etc/shadow");
  EXPECT_EQ(s.message(), "open /etc/shadow: Permission denied");
  EXPECT_EQ(s.to_string(), "permission denied: open /etc/shadow: Permission denied");
}

TEST(Result, CarriesAValueOrAStatus) {
  auto parse = [](int n) -> Result<int> {
    if (n < 0) return error(Status::invalid_argument("negative"));
    return n * 2;
  };
  Result<int> good = parse(21);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, 42);
  Result<int> bad = parse(-1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "negative");
}

TEST(Result, VoidResultIsOkOrAStatus) {
  Result<void> ok;
  EXPECT_TRUE(ok.has_value());
  Result<void> bad = error(Status::busy("queue full"));
  EXPECT_EQ(bad.error().code(), Code::kBusy);
}

TEST(Result, IsResultRecognisesResultsOnly) {
  static_assert(is_result_v<Result<int>>);
  static_assert(is_result_v<Result<void>>);
  static_assert(!is_result_v<int>);
  static_assert(!is_result_v<Status>);
  static_assert(!is_result_v<std::expected<int, int>>);
  SUCCEED();
}

// ---- log lines ----------------------------------------------------------------

// Captures log output through a pipe; restores the process-wide settings.
class LogLine : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::pipe2(fds_, O_CLOEXEC | O_NONBLOCK), 0);
    set_log_fd(fds_[1]);
    set_log_role("unittest");
    set_log_level(LogLevel::kDebug);
  }
  void TearDown() override {
    set_log_fd(2);
    set_log_role("fastidd");
    set_log_level(LogLevel::kInfo);
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  std::string drain() {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fds_[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  int fds_[2] = {-1, -1};
};

// True when `text` matches `pattern`, where '9' stands for any digit.
bool matches_digits(std::string_view text, std::string_view pattern) {
  if (text.size() != pattern.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (pattern[i] == '9' ? !std::isdigit(static_cast<unsigned char>(text[i])) : text[i] != pattern[i]) return false;
  }
  return true;
}

TEST_F(LogLine, IsTimestampRolePidLevelMessageOnOneLine) {
  log_info("hello world");
  const std::string line = drain();
  // "2024-05-01T12:34:56.789Z unittest[1234] info: hello world\n", UTC, milliseconds.
  const std::string_view stamp = "9999-99-99T99:99:99.999Z ";
  ASSERT_GT(line.size(), stamp.size());
  EXPECT_TRUE(matches_digits(std::string_view(line).substr(0, stamp.size()), stamp)) << line;
  const std::string rest = line.substr(stamp.size());
  EXPECT_EQ(rest, "unittest[" + std::to_string(::getpid()) + "] info: hello world\n");
}

TEST_F(LogLine, NamesEachLevel) {
  log_debug("a");
  EXPECT_NE(drain().find(" debug: a\n"), std::string::npos);
  log_warning("b");
  EXPECT_NE(drain().find(" warning: b\n"), std::string::npos);
  log_error("c");
  EXPECT_NE(drain().find(" error: c\n"), std::string::npos);
}

TEST_F(LogLine, NewlinesInAMessageCannotForgeASecondLine) {
  log_info("user evil\n2024-01-01T00:00:00.000Z fastidd[1] error: forged\r");
  std::string out = drain();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
}

TEST_F(LogLine, LinesBelowTheLevelAreNotWritten) {
  set_log_level(LogLevel::kWarning);
  log_info("quiet");
  log_debug("quieter");
  EXPECT_EQ(drain(), "");
  log_warning("loud");
  EXPECT_NE(drain().find("warning: loud"), std::string::npos);
}

TEST_F(LogLine, RoleIsTruncatedNotOverflowed) {
  set_log_role(std::string(100, 'r'));
  log_info("x");
  std::string out = drain();
  EXPECT_NE(out.find(" " + std::string(31, 'r') + "["), std::string::npos) << out;
  EXPECT_EQ(out.find(std::string(32, 'r')), std::string::npos) << out;
}

TEST(LogLevelName, ParsesTheFourNamesOnly) {
  LogLevel level = LogLevel::kInfo;
  EXPECT_TRUE(parse_log_level("debug", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_TRUE(parse_log_level("warning", &level));
  EXPECT_EQ(level, LogLevel::kWarning);
  EXPECT_TRUE(parse_log_level("error", &level));
  EXPECT_EQ(level, LogLevel::kError);
  EXPECT_TRUE(parse_log_level("info", &level));
  EXPECT_EQ(level, LogLevel::kInfo);
  EXPECT_FALSE(parse_log_level("INFO", &level));
  EXPECT_FALSE(parse_log_level("warn", &level));
  EXPECT_FALSE(parse_log_level("", &level));
  EXPECT_EQ(level, LogLevel::kInfo);  // untouched on failure
}

}  // namespace
}  // namespace fastid::core
