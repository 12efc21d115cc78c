// `fastid status --json` through the real daemon (issue #13, docs/operations.md
// "Status as JSON"): one JSON object that a real parser (/usr/bin/python3's
// json) reads, figures as numbers, texts as strings — also when a value holds
// quotes, backslashes, control characters and bytes that are not UTF-8 (the
// configuration's path here: any byte but '/' and NUL may be in a file name).
#include <gtest/gtest.h>

#include <string>

#include "support/daemon_fixture.h"

namespace fastid::testing {
namespace {

TEST(StatusJsonSystemTest, AParserReadsEveryFieldAndHostileTextsComeBackWhole) {
  Daemon d(100, 10);
  // A configuration file whose name is as awkward as a name can be.
  const std::string weird = d.dir() + "/we\"ird\\ \t\n\x01 caf\xc3\xa9 \xff.toml";
  write_file(weird, read_file(d.config_path()));
  // Started by hand: the fixture's own --config names its usual file.
  pid_t pid = ::fork();
  if (pid == 0) {
    const std::string bin = bin_dir() + "/fastidd", log = d.log_path();
    ::execl(bin.c_str(), bin.c_str(), "--config", weird.c_str(), "--log-file", log.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  struct Stop {
    pid_t pid;
    ~Stop() {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  } stop{pid};
  ASSERT_TRUE(wait_until([&] { return d.answers(); })) << d.log();
  ASSERT_EQ(d.getent("passwd user00003").exit_code, 0);

  const std::string out_path = d.dir() + "/status.json";
  auto r = run("FASTID_SOCKET_DIR=" + d.socket_dir() + " " + bin_dir() + "/fastid status --json > " + out_path);
  ASSERT_EQ(r.exit_code, 0);
  const std::string check = d.dir() + "/check.py";
  write_file(check,
             "import json, sys\n"
             "doc = json.load(open(sys.argv[1], encoding='utf-8'))\n"
             "assert doc['format'] == 1, doc\n"
             "s = doc['status']\n"
             "for key in ('requests', 'pid', 'reloads', 'log.suppressed', 'fastcache.passwd.entries'):\n"
             "    assert type(s[key]) is int, (key, s[key])\n"
             "assert s['requests'] >= 1 and s['pid'] > 1, s\n"
             "assert s['log.level'] == 'info', s['log.level']\n"
             "want = sys.argv[2].encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')\n"
             "assert s['config'] == want, (s['config'], want)\n"
             "print('ok', len(s))\n");
  auto parsed = run("/usr/bin/python3 " + check + " " + out_path + " \"$(printf '%s' '" + d.dir() +
                    "/we\"ird\\ \t\n\x01 caf\xc3\xa9 \xff.toml')\" 2>&1");
  EXPECT_EQ(parsed.exit_code, 0) << parsed.out << "\n" << read_file(out_path);
  EXPECT_EQ(parsed.out.rfind("ok ", 0), 0u) << parsed.out;
  // The plain format is unchanged: "key value" lines.
  auto plain = d.status();
  EXPECT_NE(plain.out.find("\nrequests "), std::string::npos) << plain.out;
}

}  // namespace
}  // namespace fastid::testing
