// What a connection must not leave behind or give away (issue #11): password
// bytes of frames on the pam socket, on every path (oversized, pipelined,
// partial, dropped), read back from the front worker's memory through
// /proc/PID/mem; file paths and directory error texts in the status and error
// replies of non-root and network callers; and a lookup socket planted by
// another user, which libfastid (real getent through the NSS module) must not
// believe. Needs root (/proc/PID/mem, setpriv, setuid).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>

#include <fstream>
#include <cstring>
#include <functional>
#include <random>

#include "support/daemon_fixture.h"
#include "support/raw_client.h"

namespace fastid::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class ConnSecretsSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: /proc/PID/mem, setpriv, setuid";
  }
};

// ---- Password bytes ---------------------------------------------------------

// A password nobody else would hold, 32 bytes.
std::string make_canary() {
  std::random_device rd;
  char buf[64];
  std::snprintf(buf, sizeof buf, "Canary-%08x%08x-%08x.pw", rd(), rd(), rd());
  return buf;
}

// An authentication frame whose password field is `password_bytes` bytes of
// the canary, repeated (so that allocator bookkeeping written over a freed
// buffer cannot hide every copy). `declared` replaces the header's length
// when non-zero.
std::vector<std::uint8_t> auth_frame(const std::string& canary, std::uint32_t password_bytes,
                                     std::uint32_t id, std::uint32_t declared = 0) {
  std::string password;
  while (password.size() < password_bytes) password += canary;
  password.resize(password_bytes);
  std::vector<std::uint8_t> payload;
  auto put_str = [&](const std::string& s) {
    std::uint8_t len[4];
    proto::store_u32(len, static_cast<std::uint32_t>(s.size()));
    payload.insert(payload.end(), len, len + 4);
    payload.insert(payload.end(), s.begin(), s.end());
  };
  put_str("user00001");
  put_str(password);
  put_str("fastid-canary");
  std::vector<std::uint8_t> frame(proto::kHeaderSize);
  proto::FrameHeader h{proto::kVersion, 0, static_cast<std::uint16_t>(proto::Opcode::kAuthenticate), id, 0,
                       declared != 0 ? declared : static_cast<std::uint32_t>(payload.size())};
  proto::encode_header(h, frame.data());
  frame.insert(frame.end(), payload.begin(), payload.end());
  return frame;
}

// True when `needle` is anywhere in the process's heap, stacks or anonymous
// writable mappings (where the worker's buffers live), read through /proc/PID/mem.
bool memory_contains(pid_t pid, const std::string& needle) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  const int mem = ::open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) ADD_FAILURE() << "open /proc/" << pid << "/mem: " << std::strerror(errno);
  std::vector<char> chunk(1 << 20);
  for (std::string line; std::getline(maps, line);) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode;
    std::getline(in >> std::ws, path);
    if (perms.size() < 2 || perms[0] != 'r' || perms[1] != 'w') continue;
    if (!path.empty() && path != "[heap]" && path.rfind("[stack", 0) != 0) continue;
    const std::uint64_t start = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    const std::uint64_t end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    if (end - start > (1ull << 30)) continue;  // sanitizer shadow, reserved and empty
    // Chunks overlap by the needle's length so that no copy is cut in two.
    for (std::uint64_t at = start; at < end; at += chunk.size() - needle.size()) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), end - at));
      ssize_t n = ::pread(mem, chunk.data(), want, static_cast<off_t>(at));
      if (n <= 0) break;
      if (std::string_view(chunk.data(), static_cast<std::size_t>(n)).find(needle) != std::string_view::npos) {
        ::close(mem);
        return true;
      }
      if (static_cast<std::size_t>(n) < want) break;
    }
  }
  ::close(mem);
  return false;
}

// Starts a one-worker daemon (the daemon process is the front worker), runs
// `attack` against its pam socket with a fresh canary, ends the connection
// (the worker sees EOF and closes its side) and checks that the canary is
// nowhere in the worker's memory. The scan runs before anything else asks the
// worker for work: later requests would reuse freed buffers and could hide a
// copy that was left there.
void expect_no_canary_after(const std::function<void(int fd, const std::string& canary)>& attack) {
  Daemon d(50, 5);
  ASSERT_TRUE(d.start()) << d.log();
  const std::string canary = make_canary();
  int fd = connect_unix(d.socket_dir() + "/pam");
  ASSERT_GE(fd, 0) << "connect " << d.socket_dir() << "/pam: " << std::strerror(errno) << "\n" << d.log();
  attack(fd, canary);
  ::shutdown(fd, SHUT_WR);
  EXPECT_TRUE(closed_within(fd, 5000)) << "the worker closed the connection";
  ::close(fd);
  // The worker drops the connection's buffers right after closing its socket,
  // on the same turn of its loop: poll briefly for that turn to end.
  const std::string needle = canary.substr(0, 24);
  bool present = true;
  for (const auto until = Clock::now() + 2s; present && Clock::now() < until;) {
    present = memory_contains(d.pid(), needle);
    if (present) std::this_thread::sleep_for(50ms);
  }
  EXPECT_FALSE(present) << "password bytes left in the worker's memory";
  // The scan itself can see what is there: a looked-up name (no secret) is
  // copied out of the wiped read buffer into a string that is freed unwiped.
  // malloc writes its free-list links over a freed chunk's first 16 bytes,
  // so the name is long and the scan looks for its tail.
  const std::string marker = "zz" + canary.substr(7, 16) + std::string(40, 'm') + canary.substr(7, 16);
  EXPECT_EQ(d.getent("passwd " + marker).exit_code, 2);
  EXPECT_TRUE(memory_contains(d.pid(), marker.substr(32))) << "the memory scan finds what is there";
}

TEST_F(ConnSecretsSystemTest, OversizedAuthFrameLeavesNoPasswordBytes) {
  expect_no_canary_after([](int fd, const std::string& canary) {
    // 6,000 bytes of payload, over the 4 KiB request limit: read, dropped, "too large".
    auto frame = auth_frame(canary, 6000 - 40, 1);
    ASSERT_TRUE(send_all(fd, frame));
    auto reply = read_reply(fd);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->header.status, static_cast<std::uint32_t>(proto::WireStatus::kTooLarge));
  });
}

TEST_F(ConnSecretsSystemTest, PipelinedAuthFramesLeaveNoPasswordBytes) {
  expect_no_canary_after([](int fd, const std::string& canary) {
    // Two frames in one write, each with a password over the 512-byte limit
    // (refused before it is decoded): the second waits in the read buffer
    // while the first is answered.
    auto frames = auth_frame(canary, 1000, 1);
    auto second = auth_frame(canary, 1000, 2);
    frames.insert(frames.end(), second.begin(), second.end());
    ASSERT_TRUE(send_all(fd, frames));
    for (std::uint32_t id : {1u, 2u}) {
      auto reply = read_reply(fd);
      ASSERT_TRUE(reply.has_value());
      EXPECT_EQ(reply->header.request_id, id);
      EXPECT_EQ(reply->header.status, static_cast<std::uint32_t>(proto::WireStatus::kTooLarge));
    }
  });
}

TEST_F(ConnSecretsSystemTest, AuthFrameDroppedMidRequestLeavesNoPasswordBytes) {
  expect_no_canary_after([](int fd, const std::string& canary) {
    // The header promises 3,000 bytes; 1,500 arrive, then the peer leaves.
    auto frame = auth_frame(canary, 2000, 1, 3000);
    frame.resize(proto::kHeaderSize + 1500);
    ASSERT_TRUE(send_all(fd, frame));
  });
}

TEST_F(ConnSecretsSystemTest, AuthFrameFollowedByGarbageLeavesNoPasswordBytes) {
  expect_no_canary_after([](int fd, const std::string& canary) {
    // A refused frame, then a header no version has: the stream is closed
    // with the bytes after the first frame still in the buffer.
    auto frames = auth_frame(canary, 1000, 1);
    auto tail = auth_frame(canary, 700, 2);
    tail[1] = 0x80;  // unknown flags
    frames.insert(frames.end(), tail.begin(), tail.end());
    ASSERT_TRUE(send_all(fd, frames));
    auto reply = read_reply(fd);
    ASSERT_TRUE(reply.has_value());
  });
}

// ---- Status and error details -------------------------------------------------

// A daemon whose second provider fails with an error naming a file, once
// `down` exists; it also listens on TCP.
class DetailDaemon : public Daemon {
 public:
  DetailDaemon() : Daemon(50, 5) {
    ::chmod(dir().c_str(), 0755);
    write_config(default_config_text() + "\n[[provider]]\nname = \"dir\"\ntype = \"slow\"\nusers = 10\n"
                 "down_file = \"" + down_path() + "\"\n\n[store]\nenabled = false\n"
                 "\n[listen]\ntcp = [\"127.0.0.1:0\"]\n");
  }
  std::string down_path() const { return dir() + "/down"; }
  CommandResult cli_as(uid_t uid, const std::string& args) const {
    return run("setpriv --reuid=" + std::to_string(uid) + " --regid=" + std::to_string(uid) +
               " --clear-groups env FASTID_SOCKET_DIR=" + socket_dir() + " " + bin_dir() + "/fastid " + args +
               " 2>&1");
  }
};

TEST_F(ConnSecretsSystemTest, NonRootAndNetworkCallersSeeNoPathsOrDirectoryErrorTexts) {
  DetailDaemon d;
  ASSERT_TRUE(d.start()) << d.log();
  write_file(d.down_path(), "");
  const int port = d.tcp_port();
  ASSERT_GT(port, 0) << d.log();

  // Root sees the details: the configuration's path, the provider's files and
  // the directory's error text (the test would notice them).
  auto root_status = d.status();
  ASSERT_EQ(root_status.exit_code, 0) << root_status.out;
  EXPECT_NE(root_status.out.find(d.dir()), std::string::npos) << root_status.out;
  auto root_error = d.cli_as(0, "user nosuchuser");
  EXPECT_NE(root_error.exit_code, 0);
  EXPECT_NE(root_error.out.find(d.down_path()), std::string::npos) << root_error.out;

  // Another uid gets the figures, but no path, URI, filter or error text.
  auto status = d.status(65534);
  ASSERT_EQ(status.exit_code, 0) << status.out;
  EXPECT_NE(status.out.find("connections.open"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("requests"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find(d.dir()), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find('/'), std::string::npos) << status.out;
  auto error = d.cli_as(65534, "user nosuchuser");
  EXPECT_NE(error.exit_code, 0);
  EXPECT_EQ(error.out.find(d.dir()), std::string::npos) << error.out;
  EXPECT_EQ(error.out.find("down"), std::string::npos) << error.out;

  // A network peer: the same lookup, the same silence.
  auto remote = run(bin_dir() + "/fastid --server 127.0.0.1:" + std::to_string(port) + " user nosuchuser 2>&1");
  EXPECT_NE(remote.exit_code, 0);
  EXPECT_EQ(remote.out.find(d.dir()), std::string::npos) << remote.out;
  EXPECT_EQ(remote.out.find("down"), std::string::npos) << remote.out;
  int tcp = connect_tcp(port);
  proto::Request ask;
  ask.opcode = proto::Opcode::kGetpwnam;
  ask.request_id = 5;
  ask.name = "nosuchuser";
  auto reply = exchange(tcp, ask);
  ::close(tcp);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.status, static_cast<std::uint32_t>(proto::WireStatus::kUnavailable));
  const std::string text(reply->payload.begin(), reply->payload.end());
  EXPECT_EQ(text.find('/'), std::string::npos) << text;
  EXPECT_EQ(text.find("dir"), std::string::npos) << text;
}

// ---- A planted lookup socket ------------------------------------------------

// A fake daemon on dir/nss, running as `uid`, that answers every user lookup
// with uid 0 and the gecos "planted". Killed when destroyed.
class FakeDaemon {
 public:
  FakeDaemon(const std::string& dir, uid_t uid) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      if (uid != 0 && (::setgroups(0, nullptr) != 0 || ::setgid(uid) != 0 || ::setuid(uid) != 0)) ::_exit(3);
      int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::snprintf(a.sun_path, sizeof a.sun_path, "%s/nss", dir.c_str());
      if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::chmod(a.sun_path, 0666) != 0 ||
          ::listen(lfd, 16) != 0) {
        ::_exit(4);
      }
      if (::write(ready[1], "r", 1) != 1) ::_exit(5);
      serve_frames(lfd, [](int fd, const proto::FrameHeader& h, const std::vector<std::uint8_t>& payload) {
        auto req = proto::decode_request(h, payload);
        proto::Bytes out;
        if (req && req->opcode == proto::Opcode::kGetpwnam) {
          model::User u{req->name, "x", 0, 0, "planted", "/root", "/bin/sh"};
          out = proto::encode_answer(h.request_id, *proto::query_of(*req), u);
        } else {
          out = proto::encode_error_reply(h.opcode, h.request_id, proto::WireStatus::kNotFound, "");
        }
        return send_all(fd, out);
      });
    }
    ::close(ready[1]);
    char c;
    listening_ = ::read(ready[0], &c, 1) == 1;
    ::close(ready[0]);
  }
  ~FakeDaemon() {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  bool listening() const { return listening_; }

 private:
  pid_t pid_ = -1;
  bool listening_ = false;
};

TEST_F(ConnSecretsSystemTest, ALookupSocketPlantedByAnotherUserIsNotBelieved) {
  char tmpl[] = "/tmp/fastid-planted-XXXXXX";
  const std::string base = ::mkdtemp(tmpl);
  ::chmod(base.c_str(), 0755);
  const std::string planted = base + "/planted", trusted = base + "/root", empty_cache = base + "/cache";
  fs::create_directories(planted);
  fs::create_directories(trusted);
  fs::create_directories(empty_cache);
  ASSERT_EQ(::chown(planted.c_str(), 65534, 65534), 0);
  auto getent = [&](const std::string& socket_dir) {
    std::string e = "LD_LIBRARY_PATH=" + lib_dir() + " FASTID_SOCKET_DIR=" + socket_dir +
                    " FASTID_CACHE_DIR=" + empty_cache + " ";
#ifdef FASTID_ASAN_RUNTIME
    e += "LD_PRELOAD=" FASTID_ASAN_RUNTIME " ASAN_OPTIONS=detect_leaks=0 ";
#endif
    return run(e + "getent -s fastid passwd x 2>&1");
  };
  {
    // The control: the same fake answering as root is believed (it is root).
    FakeDaemon as_root(trusted, 0);
    ASSERT_TRUE(as_root.listening());
    auto r = getent(trusted);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out, "x:x:0:0:planted:/root:/bin/sh\n");
  }
  {
    // uid 65534's socket in its own directory: refused, whatever it says.
    FakeDaemon as_nobody(planted, 65534);
    ASSERT_TRUE(as_nobody.listening());
    int probe = connect_unix(planted + "/nss");
    ASSERT_TRUE(lookup(probe, 1, "x")) << "the fake answers anyone who asks";
    ::close(probe);
    auto r = getent(planted);
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out.find("planted"), std::string::npos) << r.out;
  }
  std::error_code ec;
  fs::remove_all(base, ec);
}

}  // namespace
}  // namespace fastid::testing
