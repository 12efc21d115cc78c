// fastidd on the network: TCP and UDP listeners from [listen], the CLI's
// --server, the UDP size rule and the TCP retry, what the network may not
// ask, and the remote provider (a node fastidd answering from an upstream
// fastidd over 127.0.0.1, and from a lying one) — through the real binaries
// and real glibc.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include <atomic>
#include <functional>
#include <thread>

#include "support/daemon_fixture.h"
#include "support/raw_client.h"
#include "support/remote_node.h"
#include "proto/messages.h"
#include "proto/wire.h"

namespace fastid::testing {
namespace {

// A port free on 127.0.0.1 for both TCP and UDP right now (the kernel picks
// it; the daemon binds it a moment later).
int free_port() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    int t = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(t, reinterpret_cast<sockaddr*>(&a), &len);
    int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool udp_free = ::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    int port = ntohs(a.sin_port);
    ::close(t);
    ::close(u);
    if (udp_free) return port;
  }
  return -1;
}

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// One datagram out, at most one back (within `ms`); empty when none came.
std::vector<std::uint8_t> udp_exchange(int port, const std::vector<std::uint8_t>& datagram, int ms = 1000) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(port);
  ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::send(fd, datagram.data(), datagram.size(), 0);
  std::vector<std::uint8_t> reply(65536);
  pollfd p{fd, POLLIN, 0};
  ssize_t n = ::poll(&p, 1, ms) == 1 ? ::recv(fd, reply.data(), reply.size(), 0) : -1;
  ::close(fd);
  reply.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return reply;
}


std::string listen_section(int port) {
  std::string a = "\"127.0.0.1:" + std::to_string(port) + "\"";
  return "\n[listen]\ntcp = [" + a + "]\nudp = [" + a + "]\n";
}

// A group whose line is far bigger than three small datagrams.
void add_big_group(Daemon& d) {
  std::string members;
  for (int i = 1; i <= 200; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%suser%05d", members.empty() ? "" : ",", i);
    members += name;
  }
  std::string group = read_file(d.dir() + "/data/group");
  write_file(d.dir() + "/data/group", group + "biggroup:x:299999:" + members + "\n");
}

std::string cli(int port, const std::string& args) {
  return bin_dir() + "/fastid --server 127.0.0.1:" + std::to_string(port) + " " + args;
}

TEST(NetworkSystemTest, TcpAndUdpLookupsMatchTheUnixSocketAndABigAnswerComesBackOverTcp) {
  Daemon d(100, 10);
  add_big_group(d);
  int port = free_port();
  ASSERT_GT(port, 0);
  d.write_config(d.default_config_text() + listen_section(port));
  ASSERT_TRUE(d.start({"-w", "2"})) << d.log();
  EXPECT_NE(d.log().find("listening on tcp 127.0.0.1:" + std::to_string(port)), std::string::npos);

  auto local = d.getent("passwd user00042");
  ASSERT_EQ(local.exit_code, 0);
  auto tcp = run(cli(port, "user user00042"));
  EXPECT_EQ(tcp.exit_code, 0);
  EXPECT_EQ(tcp.out, local.out);
  auto udp = run(cli(port, "--udp -v user 100042 2>&1"));
  EXPECT_EQ(udp.exit_code, 0);
  EXPECT_NE(udp.out.find(local.out), std::string::npos) << udp.out;
  EXPECT_NE(udp.out.find("over udp"), std::string::npos) << udp.out;
  EXPECT_EQ(run(cli(port, "--udp user nosuchuser")).exit_code, 2);
  EXPECT_EQ(run(cli(port, "groups user00003")).out, "user00003: 200003 200004 200005 299999\n");

  // The big group does not fit in three times a 512-byte datagram: the UDP
  // reply says "truncated" and the CLI asks again over TCP.
  auto big_local = d.getent("group biggroup");
  ASSERT_EQ(big_local.exit_code, 0);
  auto big = run(cli(port, "--udp -v group biggroup 2>&1"));
  EXPECT_EQ(big.exit_code, 0);
  EXPECT_NE(big.out.find(big_local.out), std::string::npos);
  EXPECT_NE(big.out.find("udp reply truncated, asked again over tcp"), std::string::npos) << big.out;

  // Enumeration over TCP sees every user.
  auto users = run(cli(port, "users"));
  EXPECT_EQ(users.exit_code, 0);
  EXPECT_EQ(static_cast<size_t>(std::count(users.out.begin(), users.out.end(), '\n')), 100u);

  auto ping = run(cli(port, "ping"));
  EXPECT_EQ(ping.exit_code, 0);
  EXPECT_NE(ping.out.find("fastidd"), std::string::npos);

  // Both workers take datagrams from the one shared UDP socket (and
  // connections from the shared listeners: the Unix socket's test shows it
  // per worker; here every accepted connection counts).
  auto loop = run("for i in $(seq 1 60); do " + cli(port, "user user000$((i % 90 + 10))") + " >/dev/null || exit 1; " +
                  cli(port, "--udp user user000$((i % 90 + 10))") + " >/dev/null || exit 1; done");
  EXPECT_EQ(loop.exit_code, 0);
  // The workers publish their figures every 500 ms: polled until the total holds the 60 datagrams.
  std::string status;
  auto figure = [&](const std::string& key) -> long {
    auto at = status.find("\n" + key + " ");
    return at == std::string::npos ? -1 : std::stol(status.substr(status.find_first_not_of(' ', at + key.size() + 1)));
  };
  EXPECT_TRUE(wait_until([&] {
    status = run("FASTID_SOCKET_DIR=" + d.socket_dir() + " " + bin_dir() + "/fastid status").out;
    return figure("total.udp.requests") >= 60;
  })) << status;
  for (int w = 0; w < 2; ++w) {
    const std::string p = "worker." + std::to_string(w) + ".";
    EXPECT_GT(figure(p + "udp.requests"), 0) << status;
    EXPECT_GT(figure(p + "connections.accepted"), 0) << status;
  }
  EXPECT_GE(figure("total.udp.requests"), 60);
  int st = d.stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
}

TEST(NetworkSystemTest, AUdpReplyIsNeverMoreThanThreeTimesItsDatagram) {
  Daemon d(100, 10);
  add_big_group(d);
  int port = free_port();
  d.write_config(d.default_config_text() + listen_section(port));
  ASSERT_TRUE(d.start()) << d.log();

  struct Case {
    proto::Request req;
    std::size_t pad;
  };
  std::vector<Case> cases;
  for (std::size_t pad : {0u, 40u, 100u, 512u, 1400u}) {
    cases.push_back({{proto::Opcode::kGetpwnam, 1, "user00001", 0, 0, 0}, pad});
    cases.push_back({{proto::Opcode::kGetgrnam, 2, "biggroup", 0, 0, 0}, pad});
    cases.push_back({{proto::Opcode::kPwentPage, 3, "", 0, 0, 0}, pad});
    cases.push_back({{proto::Opcode::kPing, 4, "", 0, 0, 0}, pad});
  }
  int truncated = 0, whole = 0;
  for (const auto& c : cases) {
    auto datagram = proto::encode_request(c.req);
    datagram.resize(datagram.size() + c.pad, 0);
    auto reply = udp_exchange(port, datagram);
    ASSERT_GE(reply.size(), proto::kHeaderSize) << "every request frame is answered";
    EXPECT_LE(reply.size(), 3 * datagram.size()) << "opcode " << static_cast<int>(c.req.opcode);
    proto::FrameHeader h{};
    ASSERT_EQ(proto::decode_header(reply.data(), &h), proto::HeaderCheck::kOk);
    EXPECT_EQ(h.request_id, c.req.request_id);
    EXPECT_TRUE(h.flags & proto::kFlagReply);
    if (h.flags & proto::kFlagTruncated) {
      ++truncated;
      EXPECT_EQ(h.length, 0u);
      EXPECT_EQ(reply.size(), proto::kHeaderSize);
    } else {
      ++whole;
      EXPECT_EQ(h.length, reply.size() - proto::kHeaderSize);
      EXPECT_EQ(h.status, 0u);
    }
  }
  EXPECT_GT(truncated, 0);
  EXPECT_GT(whole, 0);
  // The unpadded passwd lookup does not fit; padded to 512 bytes it does.
  auto small = proto::encode_request({proto::Opcode::kGetpwnam, 9, "user00001", 0, 0, 0});
  auto r = udp_exchange(port, small);
  ASSERT_EQ(r.size(), proto::kHeaderSize);
  EXPECT_TRUE(r[1] & proto::kFlagTruncated);
  small.resize(512, 0);
  r = udp_exchange(port, small);
  EXPECT_GT(r.size(), proto::kHeaderSize + 40);
}

TEST(NetworkSystemTest, TheNetworkGetsNoStatusAdminOrGarbageAndTheDaemonCarriesOn) {
  Daemon d(10, 2);
  int port = free_port();
  d.write_config(d.default_config_text() + listen_section(port));
  ASSERT_TRUE(d.start()) << d.log();
  proto::FrameHeader h{};
  std::vector<std::uint8_t> payload;
  const auto denied = static_cast<std::uint32_t>(proto::WireStatus::kPermissionDenied);

  {  // TCP: status and admin refused, the connection stays usable for lookups
    FrameClient c = FrameClient::tcp(port);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(proto::encode_request({proto::Opcode::kStatus, 1, "", 0, 0, 0})));
    ASSERT_TRUE(c.read_reply(&h, &payload));
    EXPECT_EQ(h.status, denied);
    ASSERT_TRUE(c.send(proto::encode_request({proto::Opcode::kCacheInvalidate, 2, "", proto::kMapAll, 0, 0})));
    ASSERT_TRUE(c.read_reply(&h, &payload));
    EXPECT_EQ(h.status, denied);
    // An opcode in the authentication range (0x20-0x2F), known or not.
    std::vector<std::uint8_t> auth(proto::kHeaderSize);
    proto::encode_header({proto::kVersion, 0, 0x0020, 3, 0, 0}, auth.data());
    ASSERT_TRUE(c.send(auth));
    ASSERT_TRUE(c.read_reply(&h, &payload));
    EXPECT_NE(h.status, 0u);
    ASSERT_TRUE(c.send(proto::encode_request({proto::Opcode::kGetpwnam, 4, "user00001", 0, 0, 0})));
    ASSERT_TRUE(c.read_reply(&h, &payload));
    EXPECT_EQ(h.status, 0u);
    EXPECT_EQ(h.request_id, 4u);
  }
  // UDP: the same refusals, as (small) replies.
  auto st = proto::encode_request({proto::Opcode::kStatus, 5, "", 0, 0, 0});
  st.resize(256, 0);
  auto r = udp_exchange(port, st);
  ASSERT_GE(r.size(), proto::kHeaderSize);
  ASSERT_EQ(proto::decode_header(r.data(), &h), proto::HeaderCheck::kOk);
  EXPECT_EQ(h.status, denied);
  // Garbage, a short datagram, and a reply frame bounced at the server: silence.
  std::vector<std::uint8_t> junk(200);
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<std::uint8_t>(i * 73 + 5);
  junk[0] = proto::kVersion;  // looks like a frame at first glance...
  junk[1] = 0xf0;             // ...with flags no version has
  EXPECT_TRUE(udp_exchange(port, junk, 300).empty());
  EXPECT_TRUE(udp_exchange(port, {1, 2, 3}, 300).empty());
  auto bounced = proto::encode_ping_reply(7, "x");
  EXPECT_TRUE(udp_exchange(port, bounced, 300).empty());
  {  // TCP garbage: disconnected
    FrameClient c = FrameClient::tcp(port);
    ASSERT_TRUE(c.send(junk));
    EXPECT_FALSE(c.read_reply(&h, &payload));
  }
  {  // another version: told so (UDP and TCP), then the TCP connection is closed
    std::vector<std::uint8_t> v9(64, 0);
    proto::encode_header({9, 0, 0x10, 8, 0, 0}, v9.data());
    r = udp_exchange(port, v9);
    ASSERT_GE(r.size(), proto::kHeaderSize);
    proto::decode_header(r.data(), &h);
    EXPECT_EQ(h.status, static_cast<std::uint32_t>(proto::WireStatus::kUnsupportedVersion));
    FrameClient c = FrameClient::tcp(port);
    ASSERT_TRUE(c.send(v9));
    ASSERT_TRUE(c.read_reply(&h, &payload));
    EXPECT_EQ(h.status, static_cast<std::uint32_t>(proto::WireStatus::kUnsupportedVersion));
    EXPECT_FALSE(c.read_reply(&h, &payload));
  }
  EXPECT_EQ(run(cli(port, "user user00001")).exit_code, 0);
  EXPECT_EQ(run(cli(port, "status")).exit_code, 1) << "status is for the host";
  auto status = run("FASTID_SOCKET_DIR=" + d.socket_dir() + " " + bin_dir() + "/fastid status");
  EXPECT_NE(status.out.find("network.refused"), std::string::npos);
  // The gate names its refusals, for root (this test runs as root).
  EXPECT_NE(status.out.find("gate.refused.not_public"), std::string::npos) << status.out;
  EXPECT_EQ(::kill(d.pid(), 0), 0);
}

TEST(NetworkSystemTest, BadListenAddressesStopStartUpClearly) {
  Daemon d(10, 2);
  d.write_config(d.default_config_text() + "\n[listen]\ntcp = [\"localhost:7389\"]\n");
  auto r = run(bin_dir() + "/fastidd --check-config --config " + d.config_path() + " 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("[listen] tcp"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("numeric address"), std::string::npos) << r.out;
  // A port someone else holds: start-up fails naming it.
  int port = free_port();
  int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(port);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::listen(holder, 1);
  d.write_config(d.default_config_text() + listen_section(port));
  EXPECT_FALSE(d.start());
  EXPECT_NE(d.log().find("bind tcp 127.0.0.1:" + std::to_string(port)), std::string::npos) << d.log();
  ::close(holder);
  // The CLI against nobody: a clear error, exit 1.
  auto c = run(cli(port, "user user00001 2>&1"));
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_NE(c.out.find("unavailable"), std::string::npos) << c.out;
}

TEST(RemoteProviderSystemTest, ANodeFastiddAnswersThroughGlibcFromAnUpstreamFastidd) {
  Daemon upstream(200, 20);
  int port = free_port();
  upstream.write_config(upstream.default_config_text() + listen_section(port));
  ASSERT_TRUE(upstream.start()) << upstream.log();

  Daemon node(1, 1);  // its own files are not used: the remote provider answers
  // The first upstream listed is down (nothing listens there): the provider
  // moves on to the next one.
  const int dead = free_port();
  node.write_config("[daemon]\nsocket_dir = \"" + node.socket_dir() + "\"\nstate_dir = \"" + node.dir() +
                    "/state\"\n\n[[provider]]\nname = \"site\"\ntype = \"fastid\"\nservers = "
                    "[\"127.0.0.1:" + std::to_string(dead) + "\", \"127.0.0.1:" + std::to_string(port) +
                    "\"]\ntimeout = \"1s\"\n");
  ASSERT_TRUE(node.start()) << node.log();

  expect_answers_like_upstream(node, upstream, 200);

  // The upstream goes away: a name never asked before is unavailable (not
  // "not found"), and the node keeps running.
  upstream.stop(SIGTERM);
  auto cli_out = run("FASTID_SOCKET_DIR=" + node.socket_dir() + " " + bin_dir() + "/fastid user user00190 2>&1");
  EXPECT_EQ(cli_out.exit_code, 1) << cli_out.out;
  EXPECT_NE(cli_out.out.find("unavailable"), std::string::npos) << cli_out.out;
  EXPECT_EQ(::kill(node.pid(), 0), 0);
}

// An upstream that lies: a TCP server on 127.0.0.1 speaking the wire
// protocol, whose answers `answer` makes (an empty frame: close the
// connection). A thread per connection; all stopped when destroyed.
class FakeUpstream {
 public:
  using Answer = std::function<proto::Bytes(const proto::Request&)>;
  explicit FakeUpstream(Answer answer) : answer_(std::move(answer)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeUpstream() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }

 private:
  // Waits up to 50 ms for fd to be readable, so that the loop sees stop_.
  static bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 50) == 1;
  }
  bool read_exact(int fd, std::uint8_t* p, std::size_t n) {
    while (n > 0) {
      if (stop_) return false;
      if (!readable(fd)) continue;
      const ssize_t r = ::recv(fd, p, n, 0);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }
  void serve() {
    while (!stop_) {
      if (!readable(listen_fd_)) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) connections_.emplace_back([this, fd] { converse(fd); });
    }
    for (auto& t : connections_) t.join();
  }
  // One connection (each pool worker keeps its own), until it closes.
  void converse(int fd) {
    for (;;) {
      std::uint8_t head[proto::kHeaderSize];
      proto::FrameHeader h;
      if (!read_exact(fd, head, sizeof head) || proto::decode_header(head, &h) != proto::HeaderCheck::kOk) break;
      std::vector<std::uint8_t> payload(h.length);
      if (h.length > 0 && !read_exact(fd, payload.data(), payload.size())) break;
      auto request = proto::decode_request(h, payload);
      if (!request) break;
      const proto::Bytes reply = answer_(*request);
      if (reply.empty() || ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reply.size())) {
        break;
      }
    }
    ::close(fd);
  }

  Answer answer_;
  int listen_fd_ = -1;
  int port_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> connections_;  // the serving thread's own
};

model::User fake_user(const std::string& name, std::uint32_t uid, std::uint32_t gid) {
  return model::User{.name = name, .uid = uid, .gid = gid, .gecos = "", .dir = "/home/" + name, .shell = "/bin/sh"};
}

// Attack: an upstream (or whoever sits between it and the node: the link is
// plain TCP) maps names to uid 0, answers one name's lookup with another's
// record, or an id's lookup with another id. The node refuses every such
// answer (not found, logged); honest answers still pass.
TEST(RemoteProviderSystemTest, ANodeRefusesUpstreamAnswersThatAreRootOrDoNotMatchTheQuestion) {
  using proto::Opcode;
  FakeUpstream liar([](const proto::Request& r) -> proto::Bytes {
    const std::uint32_t id = r.request_id;
    switch (r.opcode) {
      case Opcode::kPing: return proto::encode_ping_reply(id, "liar");
      case Opcode::kGetpwnam:
        if (r.name == "alice") return proto::encode_answer(id, *proto::query_of(r), fake_user("alice", 0, 0));
        if (r.name == "bob") return proto::encode_answer(id, *proto::query_of(r), fake_user("mallory", 100500, 100500));
        if (r.name == "carol") return proto::encode_answer(id, *proto::query_of(r), fake_user("carol", 100300, 100300));
        break;
      case Opcode::kGetpwuid:
        if (r.id == 100400) return proto::encode_answer(id, *proto::query_of(r), fake_user("dave", 0, 0));
        if (r.id == 100401) return proto::encode_answer(id, *proto::query_of(r), fake_user("erin", 100402, 100402));
        break;
      case Opcode::kGetgrnam:
        if (r.name == "wheel2") return proto::encode_answer(id, *proto::query_of(r), model::Group{.name = "wheel2", .gid = 0, .members = {"carol"}});
        break;
      case Opcode::kGetgrgid:
        if (r.id == 100500) return proto::encode_answer(id, *proto::query_of(r), model::Group{.name = "other", .gid = 100501, .members = {}});
        break;
      case Opcode::kInitgroups:
        if (r.name == "carol") return proto::encode_answer(id, *proto::query_of(r), model::Gids{0, 100301});
        break;
      case Opcode::kPwentPage: {
        model::Page<model::User> page;
        page.records = {fake_user("carol", 100300, 100300), fake_user("alice", 0, 0)};
        return proto::encode_answer(id, *proto::query_of(r), page);
      }
      case Opcode::kGrentPage: {
        // "More" for ever, never moving on: an endless enumeration.
        model::Page<model::Group> page;
        page.records = {model::Group{.name = "loop", .gid = 100600, .members = {}}};
        page.next_cursor = r.cursor;
        page.more = true;
        return proto::encode_answer(id, *proto::query_of(r), page);
      }
      default: break;
    }
    return proto::encode_error_reply(static_cast<std::uint16_t>(r.opcode), id, proto::WireStatus::kNotFound, "no");
  });
  ASSERT_GT(liar.port(), 0);
  Daemon node(1, 1);
  node.write_config("[daemon]\nsocket_dir = \"" + node.socket_dir() + "\"\nstate_dir = \"" + node.dir() +
                    "/state\"\n\n[[provider]]\nname = \"site\"\ntype = \"fastid\"\nservers = [\"127.0.0.1:" +
                    std::to_string(liar.port()) + "\"]\ntimeout = \"1s\"\n");
  ASSERT_TRUE(node.start()) << node.log();

  auto carol = node.getent("passwd carol");
  EXPECT_EQ(carol.exit_code, 0) << carol.out;
  EXPECT_EQ(carol.out, "carol:x:100300:100300::/home/carol:/bin/sh\n");
  for (const char* q : {"passwd alice", "passwd bob", "passwd mallory", "passwd 100400", "passwd 100401",
                        "group wheel2", "group 100500", "passwd 0"}) {
    auto r = node.getent(q);
    EXPECT_EQ(r.exit_code, 2) << q << " came out: " << r.out;
  }
  auto groups = node.getent("initgroups carol");
  EXPECT_EQ(groups.exit_code, 0) << groups.out;
  EXPECT_FALSE((groups.out + " ").find(" 0 ") != std::string::npos) << groups.out;
  EXPECT_NE(groups.out.find("100301"), std::string::npos) << groups.out;
  auto all = node.getent("passwd");
  EXPECT_NE(all.out.find("carol:x:100300"), std::string::npos) << all.out;
  EXPECT_EQ(all.out.find("alice"), std::string::npos) << all.out;
  // The endless enumeration ends (an error) instead of running for ever: the
  // node refuses the page (libfastid would stop on it too).
  auto loop = run("timeout 20 sh -c '" + node.env() + "getent -s fastid group' 2>&1 | head -c 100000 | wc -l");
  EXPECT_LT(std::stoul(loop.out), 10u) << "lines of an endless enumeration";
  const std::string log = node.log();
  EXPECT_NE(log.find("provider site: user \"alice\" refused: uid 0: id 0 (root)"), std::string::npos) << log;
  EXPECT_NE(log.find("user \"mallory\" refused: the answer to a lookup of \"bob\" names another user"),
            std::string::npos) << log;
  EXPECT_NE(log.find("the answer to a lookup of uid 100401 has another uid"), std::string::npos) << log;
  EXPECT_NE(log.find("upstream page refused: the next cursor"), std::string::npos) << log;
  EXPECT_EQ(::kill(node.pid(), 0), 0);
}

}  // namespace
}  // namespace fastid::testing
