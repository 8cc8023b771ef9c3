#include "tests/support/mini_http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <list>
#include <string>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace busylab::testing {

namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
}

struct MiniHttpServer::Impl {
  Impl(MiniHttpServer& owner, std::function<MiniReply(std::uint64_t)> behaviour)
      : owner(owner),
        behaviour(std::move(behaviour)),
        acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kUse);
      if (ec) co_return;
      owner.connections_.fetch_add(1);
      sockets.push_back(std::make_shared<tcp::socket>(std::move(socket)));
      asio::co_spawn(ioc, serve(sockets.back()), asio::detached);
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<tcp::socket> socket) {
    std::string buffer;
    asio::steady_timer timer(ioc);
    for (;;) {
      auto [ec, n] = co_await asio::async_read_until(*socket, asio::dynamic_buffer(buffer), "\r\n\r\n", kUse);
      if (ec) co_return;
      std::string head = buffer.substr(0, n);
      buffer.erase(0, n);
      std::size_t length = 0;
      for (const char* name : {"Content-Length: ", "content-length: "}) {
        if (auto pos = head.find(name); pos != std::string::npos) length = std::stoul(head.substr(pos + 16));
      }
      while (buffer.size() < length) {
        char chunk[4096];
        auto [rec, rn] = co_await socket->async_read_some(asio::buffer(chunk), kUse);
        if (rec) co_return;
        buffer.append(chunk, rn);
      }
      buffer.erase(0, length);
      const MiniReply reply = behaviour(owner.requests_.fetch_add(1));
      if (reply.delay.count() > 0) {
        timer.expires_after(reply.delay);
        co_await timer.async_wait(kUse);
      }
      if (reply.silent) {
        // Hold the connection open without answering until the client gives up.
        char sink[256];
        co_await socket->async_read_some(asio::buffer(sink), kUse);
        co_return;
      }
      const std::string body = "{\"status\":" + std::to_string(reply.status) + "}";
      std::string response = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nContent-Type: application/json\r\n" +
                             "Content-Length: " + std::to_string(body.size()) + "\r\n" +
                             (reply.close ? "Connection: close\r\n" : "") + "\r\n" + body;
      auto [wec, wn] = co_await asio::async_write(*socket, asio::buffer(response), kUse);
      if (wec || reply.close) {
        boost::system::error_code ignored;
        socket->shutdown(tcp::socket::shutdown_both, ignored);
        socket->close(ignored);
        co_return;
      }
    }
  }

  MiniHttpServer& owner;
  std::function<MiniReply(std::uint64_t)> behaviour;
  asio::io_context ioc{1};
  tcp::acceptor acceptor;
  std::list<std::shared_ptr<tcp::socket>> sockets;
};

MiniHttpServer::MiniHttpServer(std::function<MiniReply(std::uint64_t)> behaviour)
    : impl_(std::make_unique<Impl>(*this, std::move(behaviour))) {
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  thread_ = std::thread([this] { impl_->ioc.run(); });
}

MiniHttpServer::~MiniHttpServer() {
  stop();
  impl_->ioc.stop();
  if (thread_.joinable()) thread_.join();
}

void MiniHttpServer::stop() {
  asio::post(impl_->ioc, [impl = impl_.get()] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    for (auto& s : impl->sockets) s->close(ignored);
  });
}

}  // namespace busylab::testing
