#pragma once
// A tiny HTTP/1.1 server for testing the load generator: answers each
// request as a behaviour function says (status, delay, close, silence), and
// counts connections and requests. Runs on its own thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

namespace busylab::testing {

struct MiniReply {
  int status = 200;
  std::chrono::milliseconds delay{0};
  bool close = false;   // answer with Connection: close and close
  bool silent = false;  // never answer (for timeouts)
};

class MiniHttpServer {
 public:
  /// `behaviour(n)` decides the answer to the n-th request (0-based, over
  /// all connections). Called from the server thread.
  explicit MiniHttpServer(std::function<MiniReply(std::uint64_t)> behaviour);
  ~MiniHttpServer();
  MiniHttpServer(const MiniHttpServer&) = delete;
  MiniHttpServer& operator=(const MiniHttpServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint64_t requests() const { return requests_.load(); }
  std::uint64_t connections() const { return connections_.load(); }
  /// Stops listening and drops every connection (a server dying mid-run).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> connections_{0};
  std::thread thread_;
};

}  // namespace busylab::testing
