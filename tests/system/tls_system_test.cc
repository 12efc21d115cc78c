// TLS on the network (security issue #11): the TCP listener with [listen]
// tls_cert/tls_key, the remote provider with tls_ca_file, `fastid --server
// --tls-ca`. Real processes on 127.0.0.1: a CA and certificates made by the
// test with the openssl command, two fastidd (a node whose remote provider asks
// an upstream over TLS), glibc's getent through the node's module, and raw
// sockets playing the hostile peers (a plaintext client, a stalled handshake).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>

#include <optional>

#include "support/daemon_fixture.h"
#include "support/raw_client.h"
#include "support/remote_node.h"
#include "proto/messages.h"
#include "proto/wire.h"

namespace fastid::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A certificate authority of the test's own, in `dir`: ca.pem, ca.key.
// issue() signs a server certificate for the names and addresses given.
class TestCa {
 public:
  TestCa(std::string dir, const std::string& name) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    ok_ = sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=" + name +
             "' -keyout " + dir_ + "/ca.key -out " + pem());
  }
  bool ok() const { return ok_; }
  std::string pem() const { return dir_ + "/ca.pem"; }

  // Writes <base>.pem and <base>.key (mode 0600); `san` as openssl writes it:
  // "DNS:upstream.test,IP:127.0.0.1".
  bool issue(const std::string& base, const std::string& san) const {
    write_file(base + ".ext", "subjectAltName=" + san + "\n");
    return sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=fastid server' -keyout " +
              base + ".key -out " + base + ".csr") &&
           sh("openssl x509 -req -in " + base + ".csr -CA " + pem() + " -CAkey " + dir_ + "/ca.key -CAcreateserial -days 2 -out " +
              base + ".pem -extfile " + base + ".ext") &&
           ::chmod((base + ".key").c_str(), 0600) == 0;
  }

 private:
  static bool sh(const std::string& command) { return run(command + " >/dev/null 2>&1").exit_code == 0; }
  std::string dir_;
  bool ok_ = false;
};

// Whether the daemon's log says `text` within a few seconds (the line may be
// written just after the answer that caused it).
bool log_says(const Daemon& d, const std::string& text) {
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (d.log().find(text) == std::string::npos) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string tls_listen_section(const std::string& base, const std::string& handshake_timeout = "5s") {
  return "\n[listen]\ntcp = [\"127.0.0.1:0\"]\ntls_cert = \"" + base + ".pem\"\ntls_key = \"" + base +
         ".key\"\ntls_handshake_timeout = \"" + handshake_timeout + "\"\n";
}

// A node whose only provider asks the upstream on `port` over TLS.
std::string node_config(const Daemon& node, int port, const std::string& ca, const std::string& extra = "") {
  return "[daemon]\nsocket_dir = \"" + node.socket_dir() + "\"\nstate_dir = \"" + node.dir() +
         "/state\"\n\n[[provider]]\nname = \"site\"\ntype = \"fastid\"\nservers = [\"127.0.0.1:" +
         std::to_string(port) + "\"]\ntimeout = \"2s\"\ntls_ca_file = \"" + ca + "\"\n" + extra;
}

std::string cli(int port, const std::string& args) {
  return bin_dir() + "/fastid --server 127.0.0.1:" + std::to_string(port) + " " + args;
}


// Reads until EOF or `limit`; returns what came and whether EOF was seen.
std::pair<std::string, bool> read_until_closed(int fd, std::chrono::milliseconds limit) {
  std::string got;
  const auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (::poll(&p, 1, static_cast<int>(std::max<long>(left, 1))) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return {got, true};
    got.append(buf, static_cast<std::size_t>(n));
  }
  return {got, false};
}

class TlsSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fastid-tls-XXXXXX";
    pki_ = ::mkdtemp(tmpl);
    server_ = pki_ + "/server";
    ca_.emplace(pki_ + "/ca", "fastid test CA");
    ASSERT_TRUE(ca_->ok());
    // Valid for the name and for the address the node connects to.
    ASSERT_TRUE(ca_->issue(server_, "DNS:upstream.test,IP:127.0.0.1"));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(pki_, ec);
  }

  std::string pki_;
  std::optional<TestCa> ca_;
  std::string server_;  // server.pem, server.key: signed by ca_
};

TEST_F(TlsSystemTest, ANodeAnswersThroughGlibcFromAnUpstreamOverTls) {
  Daemon upstream(200, 20);
  upstream.write_config(upstream.default_config_text() + tls_listen_section(server_));
  ASSERT_TRUE(upstream.start()) << upstream.log();
  const int port = upstream.tcp_port();
  ASSERT_GT(port, 0) << upstream.log();
  EXPECT_NE(upstream.log().find("(TLS only, certificate"), std::string::npos) << upstream.log();
  EXPECT_EQ(upstream.log().find("is plaintext"), std::string::npos) << upstream.log();

  Daemon node(1, 1);  // its own files are not used: the remote provider answers
  node.write_config(node_config(node, port, ca_->pem()));
  ASSERT_TRUE(node.start()) << node.log();
  EXPECT_EQ(node.log().find("is plaintext"), std::string::npos) << node.log();

  expect_answers_like_upstream(node, upstream, 200);

  // The CLI: by address (the certificate's IP entry) and by name.
  auto by_ip = run(cli(port, "--tls-ca " + ca_->pem() + " user user00003"));
  EXPECT_EQ(by_ip.exit_code, 0);
  EXPECT_EQ(by_ip.out, upstream.getent("passwd user00003").out);
  auto by_name = run(cli(port, "--tls-ca " + ca_->pem() + " --tls-server-name upstream.test user user00004"));
  EXPECT_EQ(by_name.exit_code, 0);
  EXPECT_EQ(by_name.out, upstream.getent("passwd user00004").out);
}

TEST_F(TlsSystemTest, AnUpstreamWithACertificateFromAnotherCaIsRefused) {
  // The impostor: a certificate for the very same name and address, signed by
  // a CA the node does not trust.
  TestCa rogue_ca(pki_ + "/rogue", "rogue CA");
  ASSERT_TRUE(rogue_ca.ok());
  const std::string rogue = pki_ + "/rogue-server";
  ASSERT_TRUE(rogue_ca.issue(rogue, "DNS:upstream.test,IP:127.0.0.1"));
  Daemon upstream(50, 5);
  upstream.write_config(upstream.default_config_text() + tls_listen_section(rogue));
  ASSERT_TRUE(upstream.start()) << upstream.log();
  const int port = upstream.tcp_port();
  ASSERT_GT(port, 0);

  Daemon node(1, 1);
  node.write_config(node_config(node, port, ca_->pem()));
  ASSERT_TRUE(node.start()) << node.log();
  EXPECT_NE(node.getent("passwd user00001").exit_code, 0) << "an answer from an unverified server";
  auto r = run("FASTID_SOCKET_DIR=" + node.socket_dir() + " " + bin_dir() + "/fastid user user00002 2>&1");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("unavailable"), std::string::npos) << r.out;
  EXPECT_TRUE(log_says(node, "certificate verify failed")) << node.log();
  EXPECT_EQ(upstream.requests_served(), 1) << "the upstream answered only the status request itself";

  // The CLI refuses it too, and says why.
  auto c = run(cli(port, "--tls-ca " + ca_->pem() + " user user00001 2>&1"));
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_NE(c.out.find("certificate verify failed"), std::string::npos) << c.out;
}

TEST_F(TlsSystemTest, AServerWhoseCertificateNamesAnotherHostIsRefused) {
  Daemon upstream(50, 5);
  upstream.write_config(upstream.default_config_text() + tls_listen_section(server_));
  ASSERT_TRUE(upstream.start()) << upstream.log();
  const int port = upstream.tcp_port();
  ASSERT_GT(port, 0);
  // A valid certificate of the right CA, but for upstream.test, not this name.
  Daemon node(1, 1);
  node.write_config(node_config(node, port, ca_->pem(), "tls_server_name = \"cache1.example.com\"\n"));
  ASSERT_TRUE(node.start()) << node.log();
  EXPECT_NE(node.getent("passwd user00001").exit_code, 0);
  EXPECT_TRUE(log_says(node, "hostname mismatch")) << node.log();
  // Without a name the address is checked: a certificate without 127.0.0.1 fails.
  const std::string named_only = pki_ + "/named-only";
  ASSERT_TRUE(ca_->issue(named_only, "DNS:upstream.test"));
  Daemon other(50, 5);
  other.write_config(other.default_config_text() + tls_listen_section(named_only));
  ASSERT_TRUE(other.start()) << other.log();
  auto c = run(cli(other.tcp_port(), "--tls-ca " + ca_->pem() + " user user00001 2>&1"));
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_NE(c.out.find("IP address mismatch"), std::string::npos) << c.out;
}

TEST_F(TlsSystemTest, APlaintextClientGetsNoAnswerAndTheListenerKeepsServing) {
  Daemon upstream(50, 5);
  upstream.write_config(upstream.default_config_text() + tls_listen_section(server_));
  ASSERT_TRUE(upstream.start()) << upstream.log();
  const int port = upstream.tcp_port();
  ASSERT_GT(port, 0);

  // A plaintext lookup frame, straight at the TLS listener.
  proto::Request req;
  req.opcode = proto::Opcode::kGetpwnam;
  req.request_id = 7;
  req.name = "user00001";
  proto::Bytes frame = proto::encode_request(req);
  int fd = connect_tcp(port);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL), static_cast<ssize_t>(frame.size()));
  auto [got, closed] = read_until_closed(fd, std::chrono::seconds(5));
  ::close(fd);
  EXPECT_TRUE(closed) << "the listener closes a peer that does not speak TLS";
  EXPECT_EQ(got.find("user00001"), std::string::npos) << "no answer in plaintext";
  proto::FrameHeader h{};
  if (got.size() >= proto::kHeaderSize) {
    EXPECT_NE(proto::decode_header(reinterpret_cast<const std::uint8_t*>(got.data()), &h), proto::HeaderCheck::kOk)
        << "no reply frame at all";
  }
  // The CLI without --tls-ca: nothing, and an error.
  auto plain = run(cli(port, "user user00001 2>&1"));
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_EQ(plain.out.find("user00001:x:"), std::string::npos) << plain.out;

  // Meanwhile the listener serves TLS clients as before.
  auto ok = run(cli(port, "--tls-ca " + ca_->pem() + " user user00001"));
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.out, upstream.getent("passwd user00001").out);
  EXPECT_EQ(::kill(upstream.pid(), 0), 0);
}

TEST_F(TlsSystemTest, AStalledHandshakeIsCutOffByTheHandshakeTimeout) {
  Daemon upstream(50, 5);
  // The idle timeout (60 s) is far away: only the handshake timeout can act.
  std::string text = upstream.default_config_text();
  text.insert(text.find("\n\n[[provider]]"), "\nidle_timeout = \"60s\"");
  upstream.write_config(text + tls_listen_section(server_, "700ms"));
  ASSERT_TRUE(upstream.start()) << upstream.log();
  const int port = upstream.tcp_port();
  ASSERT_GT(port, 0);

  // One peer says nothing; another sends the first bytes of a TLS record
  // header and stops (a trickled ClientHello).
  const auto start = Clock::now();
  int silent = connect_tcp(port);
  int trickle = connect_tcp(port);
  ASSERT_GE(silent, 0);
  ASSERT_GE(trickle, 0);
  const std::uint8_t partial[] = {0x16, 0x03, 0x01, 0x01};
  ASSERT_EQ(::send(trickle, partial, sizeof partial, MSG_NOSIGNAL), 4);
  // While they stall, others are served.
  auto ok = run(cli(port, "--tls-ca " + ca_->pem() + " user user00002"));
  EXPECT_EQ(ok.exit_code, 0);
  for (int fd : {silent, trickle}) {
    auto [got, closed] = read_until_closed(fd, std::chrono::seconds(10));
    const double waited = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_TRUE(closed) << "the stalled handshake was never cut off";
    EXPECT_GE(waited, 0.6) << "closed before its handshake timeout";
    EXPECT_LT(waited, 5.0) << "not closed by the 700 ms handshake timeout";
    ::close(fd);
  }
  EXPECT_EQ(::kill(upstream.pid(), 0), 0);
}

TEST_F(TlsSystemTest, TheKeyIsReadAsRootBeforeTheWorkersDropTheirPrivileges) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop privileges";
  // The key (0600, root's) sits in a folder (0700, root's) that the workers'
  // user, nobody, cannot even enter: TLS works only if the key was read first.
  struct stat st {};
  ASSERT_EQ(::stat(pki_.c_str(), &st), 0);
  ASSERT_EQ(st.st_mode & 07777, 0700u);
  Daemon upstream(50, 5);
  ::chmod(upstream.dir().c_str(), 0755);  // the workers read the dataset and config
  std::string cfg = upstream.default_config_text();
  cfg.insert(cfg.find("log_level"), "user = \"nobody\"\n");
  upstream.write_config(cfg + tls_listen_section(server_));
  ASSERT_TRUE(upstream.start()) << upstream.log();
  EXPECT_TRUE(log_says(upstream, "running as nobody")) << upstream.log();
  auto r = run(cli(upstream.tcp_port(), "--tls-ca " + ca_->pem() + " user user00005"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, upstream.getent("passwd user00005").out);
}

TEST_F(TlsSystemTest, RenegotiationAndProtocolsBeforeTls12AreRefused) {
  Daemon upstream(10, 2);
  upstream.write_config(upstream.default_config_text() + tls_listen_section(server_));
  ASSERT_TRUE(upstream.start()) << upstream.log();
  const std::string s_client = "timeout 10 openssl s_client -connect 127.0.0.1:" +
                               std::to_string(upstream.tcp_port()) + " -CAfile " + ca_->pem();
  // A TLS 1.2 client that asks to renegotiate ("R" on s_client's input).
  // OpenSSL 3 already refuses client-initiated renegotiation by default; the
  // listener also sets SSL_OP_NO_RENEGOTIATION, and this keeps both honest.
  auto reneg = run("(printf 'R\\n'; sleep 1) | " + s_client + " -tls1_2 2>&1");
  EXPECT_NE(reneg.out.find("Verify return code: 0 (ok)"), std::string::npos) << reneg.out;
  EXPECT_NE(reneg.out.find("RENEGOTIATING"), std::string::npos) << reneg.out;
  EXPECT_NE(reneg.out.find("no renegotiation"), std::string::npos) << reneg.out;
  // TLS 1.1, even with a client willing to use anything.
  auto old = run(s_client + " -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' </dev/null 2>&1");
  EXPECT_NE(old.out.find("alert protocol version"), std::string::npos) << old.out;
  EXPECT_EQ(run(cli(upstream.tcp_port(), "--tls-ca " + ca_->pem() + " ping")).exit_code, 0);
}

TEST_F(TlsSystemTest, AKeyFileEveryUserMayReadStopsStartUp) {
  Daemon upstream(10, 2);
  ASSERT_EQ(::chmod((server_ + ".key").c_str(), 0644), 0);
  upstream.write_config(upstream.default_config_text() + tls_listen_section(server_));
  EXPECT_FALSE(upstream.start());
  EXPECT_NE(upstream.log().find("accessible to every user (mode 0644)"), std::string::npos) << upstream.log();
  // A certificate without its key is a configuration error.
  upstream.write_config(upstream.default_config_text() + "\n[listen]\ntcp = [\"127.0.0.1:0\"]\ntls_cert = \"" +
                        server_ + ".pem\"\n");
  auto r = run(bin_dir() + "/fastidd --check-config --config " + upstream.config_path() + " 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("tls_cert and tls_key go together"), std::string::npos) << r.out;
}

TEST_F(TlsSystemTest, PlaintextListenersAndProvidersAreLoggedAsSuch) {
  Daemon upstream(10, 2);
  upstream.write_config(upstream.default_config_text() + "\n[listen]\ntcp = [\"127.0.0.1:0\"]\n");
  ASSERT_TRUE(upstream.start()) << upstream.log();
  EXPECT_NE(upstream.log().find("warning: tcp 127.0.0.1:" + std::to_string(upstream.tcp_port()) + " is plaintext"),
            std::string::npos)
      << upstream.log();
  Daemon node(1, 1);
  std::string text = node_config(node, upstream.tcp_port(), "");
  text.erase(text.find("tls_ca_file"));
  node.write_config(text);
  ASSERT_TRUE(node.start()) << node.log();
  EXPECT_NE(node.log().find("warning: provider site is plaintext"), std::string::npos) << node.log();
  EXPECT_EQ(node.getent("passwd user00001").out, upstream.getent("passwd user00001").out);
}

}  // namespace
}  // namespace fastid::testing
