// StallingProxy: a TCP forwarder on 127.0.0.1 between a client under test and
// a real server (slapd), which on request sends the client only the first
// half of the server's next reply and then holds the rest for a while — a
// server that stalls in the middle of a message (or, under TLS, of a record).
// Used to check that a reader driven by an event loop never waits for the
// rest of a message on its loop (server/ldap_loop_directory.h).
//
//   StallingProxy proxy(slapd.port(), 6s);   // proxy.port(): connect here
//   proxy.stall_next_reply();                // arm: the next reply is cut
//   ... proxy.stalls() == 1 once a reply was cut
//   proxy.stop_reading_requests();          // a server that reads nothing more
//   proxy.resume_reading_requests();        // ... until now
//
// Every connection is forwarded both ways by one thread with poll(); the
// stall holds only the connection whose reply was cut.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace fastid::testing {

class StallingProxy {
 public:
  // `receive_buffer` (bytes, 0: the system's): the accepted connections'
  // SO_RCVBUF, so that a client's writes fill it soon once nothing is read.
  StallingProxy(int server_port, std::chrono::milliseconds hold, int receive_buffer = 0)
      : server_port_(server_port), hold_(hold) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ >= 0 && receive_buffer > 0) {
      ::setsockopt(listener_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 64) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~StallingProxy() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& p : pairs_) {
      ::close(p.client);
      ::close(p.server);
    }
    if (listener_ >= 0) ::close(listener_);
  }
  StallingProxy(const StallingProxy&) = delete;
  StallingProxy& operator=(const StallingProxy&) = delete;

  int port() const { return port_; }  // 0: not listening
  // Arms the cut: the first connection whose client sends something after
  // this has its next reply cut (so a reply already on its way elsewhere is not).
  void stall_next_reply() { armed_ = true; }
  int connections() const { return connections_; }
  // Time since any byte went through either way (a quiet proxy: nothing on its way).
  std::chrono::milliseconds quiet_for() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch() -
                                                                 Clock::duration(last_traffic_.load()));
  }
  // From now on nothing the clients send is read (their requests pile up in
  // the sockets' buffers); the server's replies still go through.
  void stop_reading_requests() { deaf_ = true; }
  // Reads the clients' requests again (what piled up goes on to the server).
  void resume_reading_requests() { deaf_ = false; }
  int stalls() const { return stalls_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Pair {
    int client = -1;
    int server = -1;
    std::string held;            // the cut reply's second half
    Clock::time_point release{};  // when it is sent on (held non-empty)
    bool closed = false;
    bool target = false;          // its next reply is cut
  };

  static bool send_all(int fd, const char* data, size_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      data += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  void accept_one() {
    const int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(server_port_));
    if (s < 0 || ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(c);
      if (s >= 0) ::close(s);
      return;
    }
    pairs_.push_back(Pair{c, s, {}, {}, false, false});
    ++connections_;
  }

  // One read from `from`, written to `to`; a reply from the server is cut
  // when armed. False: the connection ended.
  bool forward(Pair& p, bool from_server) {
    char buf[65536];
    const ssize_t n = ::recv(from_server ? p.server : p.client, buf, sizeof buf, 0);
    if (n <= 0) return false;
    last_traffic_ = Clock::now().time_since_epoch().count();
    const int to = from_server ? p.client : p.server;
    size_t now = static_cast<size_t>(n);
    if (!from_server && armed_.exchange(false)) p.target = true;
    if (from_server && n >= 2 && p.target) {
      p.target = false;
      now = static_cast<size_t>(n) / 2;
      p.held.assign(buf + now, static_cast<size_t>(n) - now);
      p.release = Clock::now() + hold_;
      ++stalls_;
    }
    return send_all(to, buf, now);
  }

  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (auto& p : pairs_) {
        fds.push_back({p.closed || deaf_ ? -1 : p.client, POLLIN, 0});
        // While a reply is held, nothing more of the server's is read.
        fds.push_back({p.closed || !p.held.empty() ? -1 : p.server, POLLIN, 0});
      }
      ::poll(fds.data(), fds.size(), 20);
      if (fds[0].revents & POLLIN) accept_one();
      for (size_t i = 0; i + 1 < fds.size() && i / 2 < pairs_.size(); i += 2) {
        Pair& p = pairs_[i / 2];
        if (p.closed) continue;
        bool ok = true;
        if (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) ok = forward(p, false);
        if (ok && (fds[i + 2].revents & (POLLIN | POLLHUP | POLLERR))) ok = forward(p, true);
        if (ok && !p.held.empty() && Clock::now() >= p.release) {
          ok = send_all(p.client, p.held.data(), p.held.size());
          p.held.clear();
        }
        if (!ok) {
          p.closed = true;
          ::shutdown(p.client, SHUT_RDWR);
          ::shutdown(p.server, SHUT_RDWR);
        }
      }
    }
  }

  int server_port_;
  std::chrono::milliseconds hold_;
  int listener_ = -1;
  int port_ = 0;
  std::vector<Pair> pairs_;  // the proxy thread's
  std::atomic<bool> armed_{false};
  std::atomic<bool> deaf_{false};
  std::atomic<int> stalls_{0};
  std::atomic<int> connections_{0};
  std::atomic<Clock::rep> last_traffic_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace fastid::testing
