// libfastid against an in-process fake daemon: a thread serving the wire
// protocol on a Unix socket in a temporary folder, which answers correctly or
// misbehaves on purpose (wrong request id, truncated or oversized frames, NUL
// in strings, absurd counts, stalls, closed connections). Also fd hygiene,
// fd hijacking by the application, and fork.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/pool.h"
#include "client/retry_stash.h"
#include "fastid/fastid.h"
#include "proto/wire.h"
#include "support/temp_dir.h"

namespace {

using fastid::proto::FrameHeader;
using fastid::proto::kHeaderSize;
using fastid::proto::Opcode;
using fastid::proto::WireReader;
using fastid::proto::WireStatus;
using fastid::proto::WireWriter;

struct User {
  std::string name, passwd, gecos, dir, shell;
  uint32_t uid, gid;
};
struct Group {
  std::string name, passwd;
  uint32_t gid;
  std::vector<std::string> members;
};

// What the fake daemon does with the next requests.
enum class Mode {
  kNormal,
  kWrongId,         // request id + 1
  kWrongOpcode,     // another opcode in the reply
  kNotReplyFlag,    // flags without kFlagReply
  kTruncated,       // payload cut in half (length says so)
  kCloseMidFrame,   // header promises more than is sent, then close
  kOversized,       // header length past kMaxPayload
  kNulString,       // a NUL inside the name
  kColonName,       // a ':' inside the name
  kHugeMembers,     // group member count 0xfffffff0
  kTrailing,        // a valid record followed by junk in the payload
  kExtraFrame,      // a second frame right after the reply
  kUnknownStatus,   // status 77
  kWrongUid,        // getpwuid answers another uid
  kBusy,            // a well-formed kBusy error reply
  kUnavailable,     // a well-formed kUnavailable error reply (backend offline)
  kStall,           // reads the request, never answers
  kCloseNoReply,    // closes the connection without answering
};

void put_user(WireWriter& w, const User& u) {
  w.str(u.name.data(), u.name.size());  // may hold a NUL on purpose
  w.cstr(u.passwd.c_str());
  w.u32(u.uid);
  w.u32(u.gid);
  w.cstr(u.gecos.c_str());
  w.cstr(u.dir.c_str());
  w.cstr(u.shell.c_str());
}

void put_group(WireWriter& w, const Group& g) {
  w.cstr(g.name.c_str());
  w.cstr(g.passwd.c_str());
  w.u32(g.gid);
  w.u32(static_cast<uint32_t>(g.members.size()));
  for (const auto& m : g.members) w.cstr(m.c_str());
}

class FakeDaemon {
 public:
  explicit FakeDaemon(const std::string& dir) {
    users_ = {{"alice", "x", "Alice Liddell,,,", "/home/alice", "/bin/bash", 1000, 1000},
              {"bob", "x", "", "/home/bob", "/bin/sh", 1001, 100}};
    for (int i = 0; i < 600; ++i) {
      char n[16];
      std::snprintf(n, sizeof n, "u%03d", i);
      users_.push_back({n, "x", "Enum user", std::string("/home/") + n, "/bin/sh",
                        static_cast<uint32_t>(5000 + i), 100});
    }
    groups_ = {{"staff", "x", 50, {"alice", "bob"}}, {"empty", "x", 60, {}}};
    Group big{"big", "x", 70, {}};
    for (int i = 0; i < 500; ++i) big.members.push_back("member" + std::to_string(i));
    groups_.push_back(big);
    for (int i = 0; i < 300; ++i) groups_.push_back({"g" + std::to_string(i), "x", 7000u + i, {"alice"}});

    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s/nss", dir.c_str());
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << strerror(errno);
    EXPECT_EQ(::listen(listen_fd_, 64), 0);
    EXPECT_EQ(::pipe2(wake_, O_CLOEXEC | O_NONBLOCK), 0);
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeDaemon() {
    stop_ = true;
    wake();
    thread_.join();
    for (auto& c : clients_) ::close(c.fd);
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  void set_mode(Mode m) { mode_ = m; }
  // While holding, requests are read and kept unanswered; release() answers
  // them all. held(): requests waiting now; open(): connections open now.
  void hold() { hold_ = true; }
  void release() {
    hold_ = false;
    wake();
  }
  int held() const { return held_count_; }
  int open() const { return open_; }
  int accepts() const { return accepts_; }
  int requests() const { return requests_; }
  std::vector<pid_t> peer_pids() {
    std::lock_guard<std::mutex> lock(mu_);
    return peer_pids_;
  }

  // Closes every client connection; returns once they are closed.
  void close_clients() {
    std::unique_lock<std::mutex> lock(mu_);
    close_requested_ = true;
    wake();
    cv_.wait(lock, [this] { return !close_requested_; });
  }

 private:
  struct Client {
    int fd;
    std::vector<uint8_t> in;
  };
  struct Held {
    int fd;
    FrameHeader header;
    std::vector<uint8_t> payload;
  };

  void wake() {
    char c = 1;
    (void)!::write(wake_[1], &c, 1);
  }

  void serve() {
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      for (auto& c : clients_) fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 1000) < 0) continue;
      if (fds[1].revents) {
        char buf[64];
        while (::read(wake_[0], buf, sizeof buf) > 0) {
        }
        std::lock_guard<std::mutex> lock(mu_);
        if (close_requested_) {
          for (auto& c : clients_) ::close(c.fd);
          clients_.clear();
          open_ = 0;
          close_requested_ = false;
          cv_.notify_all();
          continue;
        }
      }
      if (!hold_ && !held_.empty()) {
        for (const Held& h : held_) answer(h.fd, h.header, h.payload);
        held_.clear();
        held_count_ = 0;
      }
      if (fds[0].revents & POLLIN) accept_one();
      std::vector<int> dead;
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        if (!read_client(fds[i].fd)) dead.push_back(fds[i].fd);
      }
      for (int fd : dead) {
        ::close(fd);
        std::erase_if(clients_, [fd](const Client& c) { return c.fd == fd; });
        std::erase_if(held_, [fd](const Held& h) { return h.fd == fd; });
        held_count_ = static_cast<int>(held_.size());
      }
      open_ = static_cast<int>(clients_.size());
    }
  }

  void accept_one() {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    // Keep the fake's own fds high, so tests can reason about low numbers.
    int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 64);
    ::close(fd);
    ucred cred{};
    socklen_t len = sizeof cred;
    ::getsockopt(high, SOL_SOCKET, SO_PEERCRED, &cred, &len);
    {
      std::lock_guard<std::mutex> lock(mu_);
      peer_pids_.push_back(cred.pid);
    }
    ++accepts_;
    clients_.push_back({high, {}});
  }

  // False when the connection is to be closed.
  bool read_client(int fd) {
    Client* c = nullptr;
    for (auto& x : clients_)
      if (x.fd == fd) c = &x;
    uint8_t buf[8192];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    c->in.insert(c->in.end(), buf, buf + n);
    while (c->in.size() >= kHeaderSize) {
      FrameHeader h;
      if (fastid::proto::decode_header(c->in.data(), &h) != fastid::proto::HeaderCheck::kOk) return false;
      if (c->in.size() < kHeaderSize + h.length) break;
      std::vector<uint8_t> payload(c->in.begin() + kHeaderSize, c->in.begin() + kHeaderSize + h.length);
      c->in.erase(c->in.begin(), c->in.begin() + kHeaderSize + h.length);
      ++requests_;
      if (hold_) {
        held_.push_back({fd, h, std::move(payload)});
        held_count_ = static_cast<int>(held_.size());
        continue;
      }
      if (!answer(fd, h, payload)) return false;
    }
    return true;
  }

  void send_frame(int fd, FrameHeader h, const uint8_t* p, size_t n) {
    std::vector<uint8_t> out(kHeaderSize + n);
    fastid::proto::encode_header(h, out.data());
    if (n) std::memcpy(out.data() + kHeaderSize, p, n);
    (void)!::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
  }

  bool answer(int fd, const FrameHeader& req, const std::vector<uint8_t>& payload) {
    Mode mode = mode_;
    if (mode == Mode::kStall) return true;
    if (mode == Mode::kCloseNoReply) return false;
    std::vector<uint8_t> buf(1 << 20);
    WireWriter w(buf.data(), buf.size());
    WireStatus status = WireStatus::kOk;
    WireReader r(payload.data(), payload.size());
    auto fail = [&](WireStatus s, const char* msg) {
      status = s;
      w.len = 0;
      w.cstr(msg);
    };
    switch (static_cast<Opcode>(req.opcode)) {
      case Opcode::kPing:
        w.cstr("fake-1.0");
        break;
      case Opcode::kStatus:
        w.u32(2);
        w.cstr("connections.open");
        w.cstr("1");
        w.cstr("version");
        w.cstr("fake-1.0");
        break;
      case Opcode::kGetpwnam:
      case Opcode::kGetpwuid: {
        const User* found = nullptr;
        if (req.opcode == static_cast<uint16_t>(Opcode::kGetpwnam)) {
          uint32_t n;
          const char* s = r.str(256, &n);
          for (auto& u : users_)
            if (u.name == std::string(s, n)) found = &u;
        } else {
          uint32_t uid = r.u32();
          for (auto& u : users_)
            if (u.uid == uid) found = &u;
        }
        if (found == nullptr) {
          fail(WireStatus::kNotFound, "no such user");
          break;
        }
        User u = *found;
        if (mode == Mode::kNulString) u.name = std::string("ali\0ce", 6);
        if (mode == Mode::kColonName) u.name = "ali:ce";
        if (mode == Mode::kWrongUid) u.uid += 1;
        put_user(w, u);
        break;
      }
      case Opcode::kGetgrnam:
      case Opcode::kGetgrgid: {
        const Group* found = nullptr;
        if (req.opcode == static_cast<uint16_t>(Opcode::kGetgrnam)) {
          uint32_t n;
          const char* s = r.str(256, &n);
          for (auto& g : groups_)
            if (g.name == std::string(s, n)) found = &g;
        } else {
          uint32_t gid = r.u32();
          for (auto& g : groups_)
            if (g.gid == gid) found = &g;
        }
        if (found == nullptr) {
          fail(WireStatus::kNotFound, "no such group");
          break;
        }
        if (mode == Mode::kHugeMembers) {
          w.cstr(found->name.c_str());
          w.cstr("x");
          w.u32(found->gid);
          w.u32(0xfffffff0u);
          w.cstr("alice");
          break;
        }
        put_group(w, *found);
        break;
      }
      case Opcode::kInitgroups: {
        uint32_t n;
        const char* s = r.str(256, &n);
        if (std::string(s, n) != "alice") {
          fail(WireStatus::kNotFound, "no such user");
          break;
        }
        w.u32(3);
        w.u32(50);
        w.u32(60);
        w.u32(70);
        break;
      }
      case Opcode::kPwentPage:
      case Opcode::kGrentPage: {
        uint32_t cursor = r.u32();
        uint32_t max = r.u32();
        if (max == 0 || max > 100) max = 100;  // the fake's own page size
        bool users = req.opcode == static_cast<uint16_t>(Opcode::kPwentPage);
        size_t total = users ? users_.size() : groups_.size();
        uint32_t end = static_cast<uint32_t>(std::min<size_t>(total, cursor + max));
        w.u32(end);
        w.u32(end < total ? 1 : 0);
        w.u32(end > cursor ? end - cursor : 0);
        for (uint32_t i = cursor; i < end; ++i) {
          if (users)
            put_user(w, users_[i]);
          else
            put_group(w, groups_[i]);
        }
        break;
      }
      default:
        fail(WireStatus::kUnknownOpcode, "unknown opcode");
    }
    if (mode == Mode::kBusy) fail(WireStatus::kBusy, "overloaded:\nshed");
    if (mode == Mode::kUnavailable) fail(WireStatus::kUnavailable, "provider dir is offline");

    FrameHeader h{fastid::proto::kVersion, fastid::proto::kFlagReply, req.opcode, req.request_id,
                  static_cast<uint32_t>(status), static_cast<uint32_t>(w.len)};
    switch (mode) {
      case Mode::kWrongId:
        h.request_id += 1;
        break;
      case Mode::kWrongOpcode:
        h.opcode ^= 0x0100;
        break;
      case Mode::kNotReplyFlag:
        h.flags = 0;
        break;
      case Mode::kTruncated:
        h.length = static_cast<uint32_t>(w.len / 2);
        break;
      case Mode::kUnknownStatus:
        h.status = 77;
        break;
      case Mode::kOversized: {
        h.length = fastid::proto::kMaxPayload + 1;
        send_frame(fd, h, nullptr, 0);
        return true;
      }
      case Mode::kCloseMidFrame:
        send_frame(fd, h, buf.data(), w.len / 2);  // the header still says w.len
        return false;
      case Mode::kTrailing:
        w.u32(0xdeadbeef);
        h.length = static_cast<uint32_t>(w.len);
        break;
      default:
        break;
    }
    if (mode == Mode::kExtraFrame) {
      // Two frames in one send(), so the client sees both at once.
      std::vector<uint8_t> two(2 * (kHeaderSize + h.length));
      for (int i = 0; i < 2; ++i) {
        uint8_t* at = two.data() + i * (kHeaderSize + h.length);
        fastid::proto::encode_header(h, at);
        std::memcpy(at + kHeaderSize, buf.data(), h.length);
      }
      (void)!::send(fd, two.data(), two.size(), MSG_NOSIGNAL);
      return true;
    }
    send_frame(fd, h, buf.data(), h.length);
    return true;
  }

  std::vector<User> users_;
  std::vector<Group> groups_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<Mode> mode_{Mode::kNormal};
  std::atomic<int> accepts_{0};
  std::atomic<int> requests_{0};
  std::atomic<bool> hold_{false};
  std::atomic<int> held_count_{0};
  std::atomic<int> open_{0};
  std::vector<Client> clients_;  // serve() thread only
  std::vector<Held> held_;       // serve() thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool close_requested_ = false;
  std::vector<pid_t> peer_pids_;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(tmp_.path(), "");
    dir_ = tmp_.path();
    ::setenv("FASTID_SOCKET_DIR", dir_.c_str(), 1);
    // The library reads its fast cache folder once per process; without this
    // it would read the host's (a fastidd running here could answer before
    // the fake daemon is asked). A folder that never exists: always a miss.
    ::setenv("FASTID_CACHE_DIR", (dir_ + "/no-fast-cache").c_str(), 1);
    ::unsetenv("FASTID_TIMEOUT_MS");
    fastid::client::pool_flush();
    fastid::client::stash_drop();  // a retry stash of an earlier test is not this test's
    daemon_ = std::make_unique<FakeDaemon>(dir_);
  }
  void TearDown() override {
    fastid::client::pool_flush();
    daemon_.reset();
    ::unsetenv("FASTID_TIMEOUT_MS");
  }

  fastid_status getpwnam(const char* name) { return fastid_getpwnam(name, &pw_, buf_, sizeof buf_); }

  fastid::testing::TempDir tmp_{"/tmp/fastid-client-test-"};
  std::string dir_;
  std::unique_ptr<FakeDaemon> daemon_;
  struct passwd pw_ {};
  struct group gr_ {};
  alignas(8) char buf_[65536];
};

size_t passwd_bytes(const char* name, const char* gecos, const char* dir, const char* shell) {
  return std::strlen(name) + 1 + 2 + std::strlen(gecos) + 1 + std::strlen(dir) + 1 + std::strlen(shell) + 1;
}

TEST_F(ClientTest, GetpwnamDecodesEveryField) {
  ASSERT_EQ(getpwnam("alice"), FASTID_OK) << fastid_last_message();
  EXPECT_STREQ(pw_.pw_name, "alice");
  EXPECT_STREQ(pw_.pw_passwd, "x");
  EXPECT_EQ(pw_.pw_uid, 1000u);
  EXPECT_EQ(pw_.pw_gid, 1000u);
  EXPECT_STREQ(pw_.pw_gecos, "Alice Liddell,,,");
  EXPECT_STREQ(pw_.pw_dir, "/home/alice");
  EXPECT_STREQ(pw_.pw_shell, "/bin/bash");
  EXPECT_STREQ(fastid_last_message(), "");
  for (char* p : {pw_.pw_name, pw_.pw_passwd, pw_.pw_gecos, pw_.pw_dir, pw_.pw_shell}) {
    EXPECT_TRUE(p >= buf_ && p < buf_ + sizeof buf_) << "points into the caller's buffer";
  }
}

TEST_F(ClientTest, GetpwuidDecodesAndEmptyGecosIsEmpty) {
  ASSERT_EQ(fastid_getpwuid(1001, &pw_, buf_, sizeof buf_), FASTID_OK);
  EXPECT_STREQ(pw_.pw_name, "bob");
  EXPECT_STREQ(pw_.pw_gecos, "");
  EXPECT_EQ(pw_.pw_gid, 100u);
}

TEST_F(ClientTest, NotFoundCarriesTheDaemonsMessage) {
  EXPECT_EQ(getpwnam("nobody-here"), FASTID_NOT_FOUND);
  EXPECT_STREQ(fastid_last_message(), "no such user");
  EXPECT_EQ(fastid_getpwuid(4242, &pw_, buf_, sizeof buf_), FASTID_NOT_FOUND);
  EXPECT_EQ(fastid_getgrgid(4242, &gr_, buf_, sizeof buf_), FASTID_NOT_FOUND);
  // A success afterwards clears the message.
  EXPECT_EQ(getpwnam("alice"), FASTID_OK);
  EXPECT_STREQ(fastid_last_message(), "");
}

TEST_F(ClientTest, GroupMembersDecodeWithAnAlignedArrayInAnUnalignedBuffer) {
  char* odd = buf_ + 3;
  ASSERT_EQ(fastid_getgrnam("staff", &gr_, odd, sizeof buf_ - 3), FASTID_OK);
  EXPECT_STREQ(gr_.gr_name, "staff");
  EXPECT_STREQ(gr_.gr_passwd, "x");
  EXPECT_EQ(gr_.gr_gid, 50u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(gr_.gr_mem) % alignof(char*), 0u);
  ASSERT_NE(gr_.gr_mem[0], nullptr);
  EXPECT_STREQ(gr_.gr_mem[0], "alice");
  EXPECT_STREQ(gr_.gr_mem[1], "bob");
  EXPECT_EQ(gr_.gr_mem[2], nullptr);

  ASSERT_EQ(fastid_getgrgid(60, &gr_, buf_, sizeof buf_), FASTID_OK);
  EXPECT_STREQ(gr_.gr_name, "empty");
  EXPECT_EQ(gr_.gr_mem[0], nullptr);
}

TEST_F(ClientTest, LargeReplyTakesTheHeapPath) {
  ASSERT_EQ(fastid_getgrnam("big", &gr_, buf_, sizeof buf_), FASTID_OK);
  int n = 0;
  while (gr_.gr_mem[n] != nullptr) ++n;
  EXPECT_EQ(n, 500);
  EXPECT_STREQ(gr_.gr_mem[499], "member499");
}

TEST_F(ClientTest, PasswdBufferOneByteShortIsErangeExactSizeWorks) {
  size_t need = passwd_bytes("alice", "Alice Liddell,,,", "/home/alice", "/bin/bash");
  std::vector<char> b(need);
  EXPECT_EQ(fastid_getpwnam("alice", &pw_, b.data(), need - 1), FASTID_ERANGE);
  EXPECT_NE(std::string(fastid_last_message()).find("too small"), std::string::npos);
  ASSERT_EQ(fastid_getpwnam("alice", &pw_, b.data(), need), FASTID_OK);
  EXPECT_STREQ(pw_.pw_shell, "/bin/bash");
  EXPECT_EQ(fastid_getpwnam("alice", &pw_, nullptr, 0), FASTID_ERANGE);
}

TEST_F(ClientTest, GroupBufferOneByteShortIsErangeExactSizeWorks) {
  for (size_t offset : {0, 1, 5}) {
    char* b = buf_ + offset;
    size_t pad = (8 - reinterpret_cast<uintptr_t>(b) % 8) % 8;
    size_t need = pad + 3 * sizeof(char*) + sizeof "staff" + sizeof "x" + sizeof "alice" + sizeof "bob";
    EXPECT_EQ(fastid_getgrnam("staff", &gr_, b, need - 1), FASTID_ERANGE) << offset;
    ASSERT_EQ(fastid_getgrnam("staff", &gr_, b, need), FASTID_OK) << offset;
    EXPECT_STREQ(gr_.gr_mem[1], "bob");
  }
}

TEST_F(ClientTest, InitgroupsFillsAndReportsTheCount) {
  gid_t gids[8];
  size_t n = 8;
  ASSERT_EQ(fastid_initgroups("alice", gids, &n), FASTID_OK);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(gids[0], 50u);
  EXPECT_EQ(gids[2], 70u);
  n = 2;
  EXPECT_EQ(fastid_initgroups("alice", gids, &n), FASTID_ERANGE);
  EXPECT_EQ(n, 3u);
  n = 0;
  EXPECT_EQ(fastid_initgroups("alice", nullptr, &n), FASTID_ERANGE);
  EXPECT_EQ(n, 3u);
  n = 3;
  EXPECT_EQ(fastid_initgroups("alice", gids, &n), FASTID_OK);
  n = 8;
  EXPECT_EQ(fastid_initgroups("carol", gids, &n), FASTID_NOT_FOUND);
}

TEST_F(ClientTest, EnumerationWalksEveryPageAndErangeDoesNotAdvance) {
  fastid_enum* e = nullptr;
  ASSERT_EQ(fastid_enum_open(&e, FASTID_ENUM_USERS), FASTID_OK);
  std::vector<std::string> names;
  char small[8];
  for (;;) {
    fastid_status st = fastid_enum_next_user(e, &pw_, buf_, sizeof buf_);
    if (st == FASTID_NOT_FOUND) break;
    ASSERT_EQ(st, FASTID_OK) << fastid_last_message();
    names.push_back(pw_.pw_name);
    if (names.size() == 150) {
      // Too small: same record again with a bigger buffer.
      ASSERT_EQ(fastid_enum_next_user(e, &pw_, small, sizeof small), FASTID_ERANGE);
    }
  }
  ASSERT_EQ(names.size(), 602u);
  EXPECT_EQ(names[0], "alice");
  EXPECT_EQ(names[150], "u148");
  EXPECT_EQ(names[601], "u599");
  EXPECT_EQ(fastid_enum_next_user(e, &pw_, buf_, sizeof buf_), FASTID_NOT_FOUND) << "stays at the end";
  EXPECT_EQ(fastid_enum_next_group(e, &gr_, buf_, sizeof buf_), FASTID_INVALID_ARGUMENT);
  fastid_enum_close(e);

  ASSERT_EQ(fastid_enum_open(&e, FASTID_ENUM_GROUPS), FASTID_OK);
  int groups = 0;
  while (fastid_enum_next_group(e, &gr_, buf_, sizeof buf_) == FASTID_OK) ++groups;
  EXPECT_EQ(groups, 303);
  fastid_enum_close(e);
  fastid_enum_close(nullptr);
  EXPECT_EQ(fastid_enum_open(&e, 7), FASTID_INVALID_ARGUMENT);
}

TEST_F(ClientTest, PingAndStatus) {
  char version[64];
  ASSERT_EQ(fastid_ping(version, sizeof version), FASTID_OK);
  EXPECT_STREQ(version, "fake-1.0");
  EXPECT_EQ(fastid_ping(version, 8), FASTID_ERANGE);
  EXPECT_EQ(fastid_ping(nullptr, 0), FASTID_OK);
  std::map<std::string, std::string> kv;
  ASSERT_EQ(fastid_daemon_status(
                [](const char* k, const char* v, void* ctx) {
                  (*static_cast<std::map<std::string, std::string>*>(ctx))[k] = v;
                },
                &kv),
            FASTID_OK);
  EXPECT_EQ(kv["connections.open"], "1");
  EXPECT_EQ(kv["version"], "fake-1.0");
}

TEST_F(ClientTest, InvalidArgumentsAreRefusedWithoutIo) {
  EXPECT_EQ(fastid_getpwnam(nullptr, &pw_, buf_, sizeof buf_), FASTID_INVALID_ARGUMENT);
  EXPECT_EQ(fastid_getpwnam("alice", nullptr, buf_, sizeof buf_), FASTID_INVALID_ARGUMENT);
  EXPECT_EQ(fastid_getpwnam("alice", &pw_, nullptr, 10), FASTID_INVALID_ARGUMENT);
  std::string longname(257, 'a');
  EXPECT_EQ(fastid_getgrnam(longname.c_str(), &gr_, buf_, sizeof buf_), FASTID_INVALID_ARGUMENT);
  EXPECT_EQ(fastid_initgroups("alice", nullptr, nullptr), FASTID_INVALID_ARGUMENT);
  EXPECT_EQ(fastid_daemon_status(nullptr, nullptr), FASTID_INVALID_ARGUMENT);
  EXPECT_EQ(daemon_->requests(), 0);
}

TEST_F(ClientTest, CallerErrnoIsKept) {
  errno = 1234;
  EXPECT_EQ(getpwnam("alice"), FASTID_OK);
  EXPECT_EQ(errno, 1234);
  EXPECT_EQ(getpwnam("nobody-here"), FASTID_NOT_FOUND);
  EXPECT_EQ(errno, 1234);
}

TEST_F(ClientTest, StatusStringsExist) {
  for (int s = FASTID_OK; s <= FASTID_TRY_AGAIN; ++s) {
    EXPECT_STRNE(fastid_strerror(static_cast<fastid_status>(s)), "unknown fastid status");
  }
  EXPECT_STREQ(fastid_strerror(static_cast<fastid_status>(99)), "unknown fastid status");
}

TEST_F(ClientTest, NoDaemonIsUnavailableAtOnce) {
  daemon_.reset();  // its socket file stays: connect is refused
  // "At once" against a timeout of a minute: a client that waited for any
  // timeout would take it all, far beyond the bound below on any machine.
  ::setenv("FASTID_TIMEOUT_MS", "60000", 1);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(getpwnam("alice"), FASTID_UNAVAILABLE);
  EXPECT_NE(std::string(fastid_last_message()).find("refused"), std::string::npos) << fastid_last_message();
  ::unlink((dir_ + "/nss").c_str());  // no socket file at all
  EXPECT_EQ(getpwnam("alice"), FASTID_UNAVAILABLE);
  EXPECT_NE(std::string(fastid_last_message()).find("No such file"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  ::setenv("FASTID_SOCKET_DIR", (dir_ + "/" + std::string(120, 'd')).c_str(), 1);
  EXPECT_EQ(getpwnam("alice"), FASTID_UNAVAILABLE) << "path too long for sun_path";
}

TEST_F(ClientTest, ConnectionClosedByTheDaemonIsRetriedOnce) {
  ASSERT_EQ(getpwnam("alice"), FASTID_OK);
  ASSERT_EQ(getpwnam("bob"), FASTID_OK);
  EXPECT_EQ(daemon_->accepts(), 1) << "the connection is kept";
  daemon_->close_clients();
  ASSERT_EQ(getpwnam("alice"), FASTID_OK) << fastid_last_message();
  EXPECT_EQ(daemon_->accepts(), 2);
  EXPECT_STREQ(pw_.pw_name, "alice");
}

TEST_F(ClientTest, DaemonClosingWithoutAnswerOnAFreshConnectionIsUnavailable) {
  daemon_->set_mode(Mode::kCloseNoReply);
  EXPECT_EQ(getpwnam("alice"), FASTID_UNAVAILABLE);
  daemon_->set_mode(Mode::kNormal);
  EXPECT_EQ(getpwnam("alice"), FASTID_OK);
  // On a kept connection: one retry, which also fails.
  daemon_->set_mode(Mode::kCloseNoReply);
  int before = daemon_->accepts();
  EXPECT_EQ(getpwnam("alice"), FASTID_UNAVAILABLE);
  EXPECT_EQ(daemon_->accepts(), before + 1);
}

struct Malformed {
  Mode mode;
  const char* what;
  bool group;
};

class MalformedReplyTest : public ClientTest, public ::testing::WithParamInterface<Malformed> {};

TEST_P(MalformedReplyTest, IsAProtocolErrorAndTheNextCallWorks) {
  const Malformed& m = GetParam();
  ASSERT_EQ(getpwnam("alice"), FASTID_OK);  // a kept connection, to be dropped
  daemon_->set_mode(m.mode);
  fastid_status st = m.group ? fastid_getgrnam("staff", &gr_, buf_, sizeof buf_)
                             : m.mode == Mode::kWrongUid ? fastid_getpwuid(1000, &pw_, buf_, sizeof buf_)
                                                         : getpwnam("alice");
  EXPECT_EQ(st, FASTID_PROTOCOL_ERROR) << m.what << ": " << fastid_last_message();
  EXPECT_NE(std::string(fastid_last_message()).find("malformed"), std::string::npos) << fastid_last_message();
  int accepts = daemon_->accepts();
  daemon_->set_mode(Mode::kNormal);
  ASSERT_EQ(getpwnam("bob"), FASTID_OK) << m.what;
  EXPECT_STREQ(pw_.pw_name, "bob");
  EXPECT_EQ(daemon_->accepts(), accepts + 1) << "the bad connection was dropped";
}

INSTANTIATE_TEST_SUITE_P(
    Replies, MalformedReplyTest,
    ::testing::Values(Malformed{Mode::kWrongId, "wrong request id", false},
                      Malformed{Mode::kWrongOpcode, "wrong opcode", false},
                      Malformed{Mode::kNotReplyFlag, "no reply flag", false},
                      Malformed{Mode::kTruncated, "truncated payload", false},
                      Malformed{Mode::kCloseMidFrame, "closed mid-frame", false},
                      Malformed{Mode::kOversized, "length over the limit", false},
                      Malformed{Mode::kNulString, "NUL in a string", false},
                      Malformed{Mode::kColonName, "':' in a name", false},
                      Malformed{Mode::kHugeMembers, "huge member count", true},
                      Malformed{Mode::kTrailing, "bytes after the record", false},
                      Malformed{Mode::kExtraFrame, "a second frame", false},
                      Malformed{Mode::kUnknownStatus, "unknown status", false},
                      Malformed{Mode::kWrongUid, "another uid", false}));

TEST_F(ClientTest, BusyReplyIsBusyAndKeepsTheConnection) {
  ASSERT_EQ(getpwnam("alice"), FASTID_OK);
  daemon_->set_mode(Mode::kBusy);
  EXPECT_EQ(getpwnam("alice"), FASTID_BUSY);
  EXPECT_STREQ(fastid_last_message(), "overloaded:?shed") << "control characters replaced";
  daemon_->set_mode(Mode::kNormal);
  EXPECT_EQ(getpwnam("alice"), FASTID_OK);
  EXPECT_EQ(daemon_->accepts(), 1);
}

TEST_F(ClientTest, UnavailableReplyIsTryAgainNotNoDaemon) {
  ASSERT_EQ(getpwnam("alice"), FASTID_OK);
  daemon_->set_mode(Mode::kUnavailable);
  EXPECT_EQ(getpwnam("alice"), FASTID_TRY_AGAIN);
  EXPECT_STREQ(fastid_last_message(), "provider dir is offline");
  daemon_->set_mode(Mode::kNormal);
  EXPECT_EQ(getpwnam("alice"), FASTID_OK);
  EXPECT_EQ(daemon_->accepts(), 1);
}

TEST_F(ClientTest, StalledDaemonTimesOutAfterFastidTimeoutMs) {
  ::setenv("FASTID_TIMEOUT_MS", "200", 1);
  ASSERT_EQ(getpwnam("alice"), FASTID_OK);
  daemon_->set_mode(Mode::kStall);
  const int requests = daemon_->requests();
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(getpwnam("alice"), FASTID_TIMEOUT);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(190));
  // Not the 5 s default, and not retried: the message names the 200 ms, the
  // daemon saw the stalled request once (no timing bound that a loaded
  // machine could break).
  EXPECT_NE(std::string(fastid_last_message()).find("200 ms"), std::string::npos);
  EXPECT_EQ(daemon_->requests(), requests + 1) << "a timed-out request is not sent again";
  daemon_->set_mode(Mode::kNormal);
  int accepts = daemon_->accepts();
  EXPECT_EQ(getpwnam("alice"), FASTID_OK) << "a late reply on the old connection is never read";
  EXPECT_EQ(daemon_->accepts(), accepts + 1);
}

TEST_F(ClientTest, HijackedFdIsNeitherWrittenNorClosed) {
  ASSERT_EQ(getpwnam("alice"), FASTID_OK);
  int fds[8];
  ASSERT_EQ(fastid::client::pool_debug_fds(fds, 8), 1);
  int ours = fds[0];
  // The application closes "its" fd and puts a pipe on that number.
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  ASSERT_EQ(::dup2(p[1], ours), ours);
  struct stat before;
  ASSERT_EQ(::fstat(ours, &before), 0);

  ASSERT_EQ(getpwnam("bob"), FASTID_OK) << fastid_last_message();
  EXPECT_STREQ(pw_.pw_name, "bob");
  char c;
  EXPECT_EQ(::read(p[0], &c, 1), -1) << "nothing was written to the application's pipe";
  EXPECT_EQ(errno, EAGAIN);
  struct stat after;
  ASSERT_EQ(::fstat(ours, &after), 0) << "the application's fd is still open";
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(daemon_->accepts(), 2);
  fastid::client::pool_flush();
  EXPECT_EQ(::fstat(ours, &after), 0) << "a flush does not close it either";
  ::close(ours);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(ClientTest, ForkedChildUsesItsOwnConnectionAndTheParentKeepsItsOwn) {
  ASSERT_EQ(getpwnam("alice"), FASTID_OK);
  ASSERT_EQ(daemon_->accepts(), 1);
  int fds[8];
  ASSERT_EQ(fastid::client::pool_debug_fds(fds, 8), 1);
  int parent_fd = fds[0];
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct passwd pw;
    char b[1024];
    int rc = 0;
    if (fastid_getpwnam("bob", &pw, b, sizeof b) != FASTID_OK || std::strcmp(pw.pw_name, "bob") != 0) rc = 1;
    if (fastid_getpwuid(1000, &pw, b, sizeof b) != FASTID_OK || std::strcmp(pw.pw_name, "alice") != 0) rc |= 2;
    int cfds[8];
    int n = fastid::client::pool_debug_fds(cfds, 8);
    if (n != 1) rc |= 4;
    // The inherited descriptor was closed in the child (ours, verified), so
    // the new connection may reuse its number; it must be a different socket.
    ::_exit(rc);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(daemon_->accepts(), 2) << "the child opened its own connection";
  auto pids = daemon_->peer_pids();
  ASSERT_EQ(pids.size(), 2u);
  EXPECT_EQ(pids[1], child);

  ASSERT_EQ(getpwnam("bob"), FASTID_OK) << fastid_last_message();
  EXPECT_EQ(daemon_->accepts(), 2) << "the parent's connection still works";
  ASSERT_EQ(fastid::client::pool_debug_fds(fds, 8), 1);
  EXPECT_EQ(fds[0], parent_fd);
}

TEST_F(ClientTest, FdsAreNeverStdioAndAlwaysCloexec) {
  int saved = ::fcntl(0, F_DUPFD_CLOEXEC, 100);
  ASSERT_GE(saved, 0);
  ::close(0);
  fastid_status st = getpwnam("alice");
  bool zero_free = ::fcntl(0, F_GETFD) == -1;
  ::dup2(saved, 0);
  ::close(saved);
  ASSERT_EQ(st, FASTID_OK);
  EXPECT_TRUE(zero_free) << "fd 0 was left alone";

  // Several threads at once: several connections, all >= 3 and close-on-exec.
  // (How many stay open is PoolRulesTest's to check, below.)
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&failures, t] {
      struct passwd pw;
      char b[1024];
      for (int i = 0; i < 200; ++i) {
        const char* name = (i + t) % 2 ? "alice" : "bob";
        if (fastid_getpwnam(name, &pw, b, sizeof b) != FASTID_OK || std::strcmp(pw.pw_name, name) != 0)
          ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  int fds[64];
  int n = fastid::client::pool_debug_fds(fds, 64);
  EXPECT_GE(n, 1);
  for (int i = 0; i < n; ++i) {
    EXPECT_GE(fds[i], 3);
    EXPECT_TRUE(::fcntl(fds[i], F_GETFD) & FD_CLOEXEC) << fds[i];
  }
}

// The pool's rules (src/client/pool.cc): a busy connection belongs to one
// thread; up to 64 connections (kSlots) are tracked, past that a thread uses a
// one-shot connection closed after its call; at most 8 (kMaxIdle) are kept
// idle, and an idle one is taken before a new one is opened. The fake daemon
// holds every reply until all the threads are inside their request, so they
// really are concurrent however the machine schedules them: nothing here
// depends on speed.
class PoolRulesTest : public ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    ::setenv("FASTID_TIMEOUT_MS", "60000", 1);  // held replies must not time out
    daemon_->hold();
  }
  void TearDown() override {
    daemon_->release();
    for (auto& t : threads_) t.join();
    ClientTest::TearDown();
  }

  // Starts n more threads, each looking up one name; returns once every
  // thread started so far is inside its request (the daemon holds them all).
  void start_held(int n) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this] {
        struct passwd pw;
        char b[1024];
        if (fastid_getpwnam("alice", &pw, b, sizeof b) != FASTID_OK || std::strcmp(pw.pw_name, "alice") != 0)
          ++failures_;
      });
    }
    const int want = static_cast<int>(threads_.size());
    EXPECT_TRUE(eventually([&] { return daemon_->held() == want; }))
        << daemon_->held() << " of " << want << " requests arrived";
  }
  // Answers every held request, waits for the threads, holds again.
  void release_and_join() {
    daemon_->release();
    for (auto& t : threads_) t.join();
    threads_.clear();
    EXPECT_EQ(failures_, 0);
    daemon_->hold();
  }
  int pooled() {
    int fds[128];
    return fastid::client::pool_debug_fds(fds, 128);
  }
  template <class Pred>
  static bool eventually(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  std::vector<std::thread> threads_;
  std::atomic<int> failures_{0};
};

TEST_F(PoolRulesTest, TwentyConcurrentCallsOpenTwentyConnectionsAndEightStayIdle) {
  start_held(20);
  EXPECT_EQ(daemon_->accepts(), 20) << "a busy connection is never shared";
  EXPECT_EQ(pooled(), 20) << "all 20 are tracked (64 may be)";
  release_and_join();
  EXPECT_EQ(pooled(), 8) << "kMaxIdle: 8 kept idle, the other 12 closed";
  EXPECT_TRUE(eventually([&] { return daemon_->open() == 8; })) << daemon_->open() << " still open";

  // Eight calls at once again: the eight idle connections, no new one.
  start_held(8);
  EXPECT_EQ(daemon_->accepts(), 20) << "idle connections are taken before a new one is opened";
  // A ninth while those eight are busy: none idle left, so a new one.
  start_held(1);
  EXPECT_EQ(daemon_->accepts(), 21);
  release_and_join();
  EXPECT_EQ(pooled(), 8);
}

TEST_F(PoolRulesTest, PastSixtyFourBusyConnectionsACallUsesAOneShotConnection) {
  start_held(70);
  EXPECT_EQ(daemon_->accepts(), 70) << "every call has its own connection";
  EXPECT_EQ(pooled(), 64) << "kSlots: 64 tracked, 6 one-shot";
  release_and_join();
  EXPECT_EQ(pooled(), 8);
  EXPECT_TRUE(eventually([&] { return daemon_->open() == 8; }))
      << daemon_->open() << " still open: one-shot and surplus connections are closed after their call";
  // The kept ones serve the next calls.
  daemon_->release();
  ASSERT_EQ(getpwnam("bob"), FASTID_OK);
  EXPECT_EQ(daemon_->accepts(), 70);
}

// The retry stash: glibc answers ERANGE by doubling its buffer from 1 KiB and
// calling again; that retry is answered from the copy of the reply that did
// not fit, without a second request to the daemon.
class RetryStashTest : public ClientTest {
 protected:
  void TearDown() override {
    fastid::client::stash_drop();
    fastid::client::stash_debug_set_lifetime_ms(0);
    ClientTest::TearDown();
  }
};

TEST_F(RetryStashTest, ErangeRetriesWithBiggerBuffersMakeOneRequest) {
  std::vector<char> b(1024);
  int eranges = 0;
  fastid_status st;
  while ((st = fastid_getgrnam("big", &gr_, b.data(), b.size())) == FASTID_ERANGE) {
    ++eranges;
    EXPECT_TRUE(fastid::client::stash_debug_held());
    b.resize(b.size() * 2);
  }
  ASSERT_EQ(st, FASTID_OK) << fastid_last_message();
  EXPECT_GE(eranges, 3) << "500 members do not fit in 1 KiB";
  EXPECT_EQ(daemon_->requests(), 1) << "the retries were answered from the stash";
  int n = 0;
  while (gr_.gr_mem[n] != nullptr) ++n;
  EXPECT_EQ(n, 500);
  EXPECT_STREQ(gr_.gr_mem[499], "member499");
  EXPECT_STREQ(gr_.gr_name, "big");
  EXPECT_FALSE(fastid::client::stash_debug_held()) << "freed once it answered";

  // Used up: the next lookup asks the daemon again (a new answer, not a stale one).
  EXPECT_EQ(fastid_getgrnam("big", &gr_, b.data(), 1024), FASTID_ERANGE);
  EXPECT_EQ(daemon_->requests(), 2);
}

TEST_F(RetryStashTest, OnlyTheSameOpcodeAndKeyUseTheStash) {
  std::vector<char> b(1 << 16);
  ASSERT_EQ(fastid_getgrnam("big", &gr_, b.data(), 100), FASTID_ERANGE);
  ASSERT_EQ(daemon_->requests(), 1);
  // Another name, the same group by gid, a user: each asks the daemon.
  ASSERT_EQ(fastid_getgrnam("staff", &gr_, b.data(), b.size()), FASTID_OK);
  EXPECT_EQ(daemon_->requests(), 2);
  ASSERT_EQ(fastid_getgrgid(70, &gr_, b.data(), b.size()), FASTID_OK);
  EXPECT_EQ(daemon_->requests(), 3);
  EXPECT_STREQ(gr_.gr_name, "big");
  ASSERT_EQ(fastid_getpwnam("big", &pw_, b.data(), b.size()), FASTID_NOT_FOUND);
  EXPECT_EQ(daemon_->requests(), 4);
  // The stash of "big" by name survived those lookups and answers its retry.
  EXPECT_TRUE(fastid::client::stash_debug_held());
  ASSERT_EQ(fastid_getgrnam("big", &gr_, b.data(), b.size()), FASTID_OK);
  EXPECT_EQ(daemon_->requests(), 4);
  EXPECT_STREQ(gr_.gr_mem[0], "member0");
  // A name that is a prefix of the stashed one is another key.
  ASSERT_EQ(fastid_getgrnam("big", &gr_, b.data(), 100), FASTID_ERANGE);
  EXPECT_EQ(fastid_getgrnam("bi", &gr_, b.data(), b.size()), FASTID_NOT_FOUND);
  EXPECT_EQ(daemon_->requests(), 6);
}

TEST_F(RetryStashTest, ByGidByUserAndInitgroupsToo) {
  std::vector<char> b(1 << 16);
  ASSERT_EQ(fastid_getgrgid(70, &gr_, b.data(), 64), FASTID_ERANGE);
  ASSERT_EQ(fastid_getgrgid(70, &gr_, b.data(), b.size()), FASTID_OK);
  EXPECT_EQ(gr_.gr_gid, 70u);
  EXPECT_EQ(daemon_->requests(), 1);

  ASSERT_EQ(fastid_getpwuid(1000, &pw_, b.data(), 10), FASTID_ERANGE);
  ASSERT_EQ(fastid_getpwuid(1000, &pw_, b.data(), 20), FASTID_ERANGE);
  ASSERT_EQ(fastid_getpwuid(1000, &pw_, b.data(), b.size()), FASTID_OK);
  EXPECT_STREQ(pw_.pw_name, "alice");
  ASSERT_EQ(fastid_getpwnam("bob", &pw_, b.data(), 5), FASTID_ERANGE);
  ASSERT_EQ(fastid_getpwnam("bob", &pw_, b.data(), b.size()), FASTID_OK);
  EXPECT_STREQ(pw_.pw_dir, "/home/bob");
  EXPECT_EQ(daemon_->requests(), 3);

  // The NSS module's initgroups asks again with room for all when 256 is too few.
  gid_t gids[8];
  size_t n = 1;
  ASSERT_EQ(fastid_initgroups("alice", gids, &n), FASTID_ERANGE);
  ASSERT_EQ(n, 3u);
  n = 8;
  ASSERT_EQ(fastid_initgroups("alice", gids, &n), FASTID_OK);
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(gids[1], 60u);
  EXPECT_EQ(daemon_->requests(), 4);
}

TEST_F(RetryStashTest, ErrorRepliesAreNotStashed) {
  std::vector<char> b(64);
  EXPECT_EQ(fastid_getgrnam("nope", &gr_, b.data(), b.size()), FASTID_NOT_FOUND);
  EXPECT_FALSE(fastid::client::stash_debug_held());
  EXPECT_EQ(fastid_getgrnam("nope", &gr_, b.data(), b.size()), FASTID_NOT_FOUND);
  EXPECT_EQ(daemon_->requests(), 2);
}

TEST_F(RetryStashTest, AnExpiredStashIsNotUsedAndIsFreed) {
  fastid::client::stash_debug_set_lifetime_ms(30);
  std::vector<char> b(1 << 16);
  ASSERT_EQ(fastid_getgrnam("big", &gr_, b.data(), 100), FASTID_ERANGE);
  ASSERT_TRUE(fastid::client::stash_debug_held());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // coarse clock: a few ms resolution
  ASSERT_EQ(fastid_getgrnam("big", &gr_, b.data(), b.size()), FASTID_OK);
  EXPECT_EQ(daemon_->requests(), 2) << "past its lifetime the retry asks the daemon";
  EXPECT_FALSE(fastid::client::stash_debug_held());
  // Expiry frees it even when the next lookup is another one.
  ASSERT_EQ(fastid_getgrnam("big", &gr_, b.data(), 100), FASTID_ERANGE);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(fastid_getgrnam("staff", &gr_, b.data(), b.size()), FASTID_OK);
  EXPECT_FALSE(fastid::client::stash_debug_held());
}

TEST_F(RetryStashTest, EachThreadHasItsOwn) {
  std::vector<char> b(1 << 16);
  ASSERT_EQ(fastid_getgrnam("big", &gr_, b.data(), 100), FASTID_ERANGE);
  fastid_status other = FASTID_INTERNAL;
  std::thread t([&other] {
    struct group g;
    std::vector<char> tb(1 << 16);
    other = fastid_getgrnam("big", &g, tb.data(), tb.size());
  });
  t.join();
  EXPECT_EQ(other, FASTID_OK);
  EXPECT_EQ(daemon_->requests(), 2) << "another thread's lookup is its own request";
  ASSERT_EQ(fastid_getgrnam("big", &gr_, b.data(), b.size()), FASTID_OK);
  EXPECT_EQ(daemon_->requests(), 2) << "this thread's stash was untouched";
}

TEST_F(RetryStashTest, AForkedChildDoesNotUseTheParentsStash) {
  std::vector<char> b(1 << 16);
  ASSERT_EQ(fastid_getgrnam("big", &gr_, b.data(), 100), FASTID_ERANGE);
  ASSERT_EQ(daemon_->requests(), 1);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int rc = 0;
    if (!fastid::client::stash_debug_held()) rc |= 1;  // inherited memory, not to be used
    struct group g;
    if (fastid_getgrnam("big", &g, b.data(), b.size()) != FASTID_OK || std::strcmp(g.gr_mem[0], "member0") != 0)
      rc |= 2;
    if (fastid::client::stash_debug_held()) rc |= 4;  // freed on first use in the child
    ::_exit(rc);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(daemon_->requests(), 2) << "the child asked the daemon itself";
  ASSERT_EQ(fastid_getgrnam("big", &gr_, b.data(), b.size()), FASTID_OK);
  EXPECT_EQ(daemon_->requests(), 2) << "the parent's stash still answers the parent";
}

}  // namespace
