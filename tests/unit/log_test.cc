// core/log's operations side (docs/operations.md, "Logs"): the limit on
// repeated lines (counted, summarised once the window ends), the journal's
// "<N>" priorities, JOURNAL_STREAM matching only the descriptor it names, the
// log file reopened after a rename (logrotate), and the level shared with a
// forked child. Each test logs into a file of its own through set_log_fd.
#include "core/log.h"
#include "support/temp_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace fastid::core {
namespace {

using namespace std::chrono_literals;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(tmp_.path(), "");
    dir_ = tmp_.path();
    path_ = dir_ + "/log";
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_GE(fd_, 0);
    set_log_fd(fd_);
    set_log_level(LogLevel::kDebug);
    set_log_journal(false);
    set_log_repeat_limit(0, 60s);
  }
  void TearDown() override {
    set_log_fd(2);
    set_log_journal(false);
    set_log_repeat_limit(0, 60s);
    set_log_file("");
    set_log_level(LogLevel::kInfo);
    ::close(fd_);
  }
  std::string text(const std::string& path = "") const {
    std::ifstream in(path.empty() ? path_ : path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static long count(const std::string& t, const std::string& what) {
    long n = 0;
    for (auto p = t.find(what); p != std::string::npos; p = t.find(what, p + 1)) ++n;
    return n;
  }

  fastid::testing::TempDir tmp_{"/tmp/fastid-log-test."};
  std::string dir_, path_;
  int fd_ = -1;
};

TEST_F(LogTest, ARepeatedLineIsWrittenBurstTimesThenCountedAndSummarised) {
  set_log_repeat_limit(3, 200ms);
  const auto before = log_suppressed();
  for (int i = 0; i < 10; ++i) log_warning("directory corp is slow");
  log_warning("another line");  // not the same text: written
  log_info("directory corp is slow");  // not the same level: written
  std::string t = text();
  EXPECT_EQ(count(t, "warning: directory corp is slow"), 3) << t;
  EXPECT_EQ(count(t, "another line"), 1);
  EXPECT_EQ(count(t, "info: directory corp is slow"), 1);
  EXPECT_EQ(log_suppressed() - before, 7u);
  EXPECT_EQ(count(t, "repeated"), 0) << "no summary before the window ends";
  // Once the window has ended, the flush writes one summary with the count.
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (count(text(), "repeated") == 0 && std::chrono::steady_clock::now() < until) {
    log_flush_repeats();
    std::this_thread::sleep_for(20ms);
  }
  t = text();
  EXPECT_EQ(count(t, "warning: last message repeated 7 more time(s) in "), 1) << t;
  EXPECT_NE(t.find("(not written): directory corp is slow"), std::string::npos) << t;
  log_flush_repeats();
  EXPECT_EQ(count(text(), "repeated"), 1) << "summarised once";
  // A new window writes the line again.
  log_warning("directory corp is slow");
  EXPECT_EQ(count(text(), "warning: directory corp is slow"), 4);
}

TEST_F(LogTest, NoLimitWritesEveryLine) {
  for (int i = 0; i < 50; ++i) log_info("same");
  EXPECT_EQ(count(text(), "info: same"), 50);
}

TEST_F(LogTest, JournalLinesStartWithTheirSyslogPriorityAndCarryNoTime) {
  set_log_journal(true);
  log_debug("d");
  log_info("i");
  log_warning("w");
  log_error("e\nforged line");
  std::istringstream in(text());
  std::string lines[5];
  for (auto& l : lines) std::getline(in, l);
  EXPECT_EQ(lines[0].rfind("<7>", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("<6>", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("<4>", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3].rfind("<3>", 0), 0u) << lines[3];
  EXPECT_NE(lines[3].find("e forged line"), std::string::npos) << "a newline never starts a forged record";
  EXPECT_TRUE(lines[4].empty());
  set_log_journal(false);
  log_info("timed");
  EXPECT_NE(text().find("Z "), std::string::npos);
}

TEST_F(LogTest, JournalStreamMatchesOnlyTheDescriptorItNames) {
  struct stat st;
  ASSERT_EQ(::fstat(fd_, &st), 0);
  const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", mine.c_str(), 1);
  EXPECT_TRUE(journal_stream_matches(fd_));
  int other = ::open((dir_ + "/other").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  EXPECT_FALSE(journal_stream_matches(other));
  ::close(other);
  for (const char* bad : {"", "12", "a:b", "1:2:3", "1:2x"}) {
    ::setenv("JOURNAL_STREAM", bad, 1);
    EXPECT_FALSE(journal_stream_matches(fd_)) << bad;
  }
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(journal_stream_matches(fd_));
}

TEST_F(LogTest, ReopenAfterARenameWritesToANewFileInPlaceOfTheSameDescriptor) {
  EXPECT_FALSE(reopen_log_file().empty()) << "no log file set: said so";
  set_log_file(path_);
  log_info("before");
  ASSERT_EQ(::rename(path_.c_str(), (path_ + ".1").c_str()), 0);
  EXPECT_EQ(reopen_log_file(), "");
  log_info("after");
  EXPECT_NE(text(path_ + ".1").find("before"), std::string::npos);
  EXPECT_EQ(text(path_ + ".1").find("after"), std::string::npos);
  EXPECT_NE(text().find("after"), std::string::npos);
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  // A file that cannot be created: an error that names it; the old one kept.
  set_log_file(dir_ + "/missing/dir/log");
  const std::string err = reopen_log_file();
  EXPECT_NE(err.find("missing/dir/log"), std::string::npos) << err;
  log_info("still");
  EXPECT_NE(text().find("still"), std::string::npos);
}

TEST_F(LogTest, ASharedLevelSetInAChildIsTheParentsToo) {
  set_log_level(LogLevel::kInfo);
  ASSERT_TRUE(share_log_level());
  pid_t pid = ::fork();
  if (pid == 0) {
    set_log_level(LogLevel::kError);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(log_level(), LogLevel::kError);
  log_warning("hidden");
  EXPECT_EQ(text().find("hidden"), std::string::npos);
}

}  // namespace
}  // namespace fastid::core
