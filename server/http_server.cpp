// The only translation unit of the server that includes Beast.
#include "server/http_server.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "common/thread_role.hpp"
#include "engine/db_stats.hpp"
#include "engine/engine.hpp"
#include "server/handlers.hpp"
#include "server/stats.hpp"
#include "server/worker_link.hpp"
#include "strategy/strategy.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace busylab {

std::string ShutdownSummary::line() const {
  std::string s =
      "busylab: stopped" + std::string(forced ? " (grace period ran out)" : "") + ": " + std::to_string(requests) +
      " requests, " + std::to_string(writes_acknowledged) + " writes acknowledged (" +
      std::to_string(writes_committed) + " committed, " + std::to_string(rows_inserted) + " rows inserted), " +
      std::to_string(busy_errors + busy_snapshot_errors) + " busy errors (" + std::to_string(busy_snapshot_errors) +
      " BUSY_SNAPSHOT), " + std::to_string(pool_timeouts) + " pool timeouts, " + std::to_string(shed) + " shed";
  if (processes > 1) {
    s += ", " + std::to_string(processes) + " processes";
    if (restarts > 0) s += " (" + std::to_string(restarts) + " restarts)";
  }
  if (lock_waits_cut > 0) s += ", " + std::to_string(lock_waits_cut) + " lock waits cut off";
  if (wal) s += checkpointed ? ", WAL checkpointed" : ", checkpoint failed: " + checkpoint_error;
  return s;
}

namespace {

// What the shutdown sequence needs to reach a session: touched only on the
// session's strand.
struct SessionHandle {
  asio::any_io_executor executor;
  beast::tcp_stream* stream = nullptr;
  bool busy = false;
};

// Parse errors that deserve an answer before the connection is closed.
int status_for_read_error(const beast::error_code& ec) {
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == beast::error::timeout ||
      ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
      ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor) {
    return 0;  // the client is gone or too slow: just close
  }
  // Every other HTTP parse error (bad method, version, chunk, ...) is the client's fault.
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) return 400;
  return 0;
}

// Feeds the parser what `buffer` already holds, consuming what it used.
// Leaves `ec` clear when the parser wants more input than there is.
void parse_buffered(http::request_parser<http::string_body>& parser, beast::flat_buffer& buffer,
                    beast::error_code& ec) {
  while (!parser.is_done() && buffer.size() > 0) {
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more) {
      ec = {};
      return;
    }
    if (ec || used == 0) return;
  }
}

// The parts of every answer that never change, built once.
constexpr std::string_view kFixedHeaders = "Server: busylab\r\nContent-Type: application/json\r\n";
constexpr std::string_view kServerHeader = "Server: busylab\r\n";

// Serializes an answer into `out`: status line, the fixed headers, the few
// that vary, and the body (left out for HEAD, whose Content-Length still
// gives the length a GET would get). Beast still parses every request; the
// answers are small and of one shape, so writing them straight into a
// reused buffer saves building a header container per request.
void append_response(std::string& out, const HttpResponse& r, unsigned version, bool keep_alive, bool head) {
  const auto status = static_cast<http::status>(r.status);
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  const auto reason = http::obsolete_reason(status);
  out.append(reason.data(), reason.size());
  out += "\r\n";
  if (r.content_type.empty()) {
    out += kFixedHeaders;
  } else {
    out += kServerHeader;
    out += "Content-Type: ";
    out.append(r.content_type.data(), r.content_type.size());
    out += "\r\n";
  }
  if (r.retry_after_s > 0) {
    out += "Retry-After: ";
    out += std::to_string(r.retry_after_s);
    out += "\r\n";
  }
  if (!r.allow.empty()) {
    out += "Allow: ";
    out.append(r.allow.data(), r.allow.size());
    out += "\r\n";
  }
  // HTTP/1.1 keeps connections open unless told; HTTP/1.0 closes them unless told.
  if (version >= 11 && !keep_alive) out += "Connection: close\r\n";
  if (version < 11 && keep_alive) out += "Connection: keep-alive\r\n";
  out += "Content-Length: ";
  out += std::to_string(r.body.size());
  out += "\r\n\r\n";
  if (!head) out += r.body;
}

void exit_now(int) {
  static const char message[] = "busylab: signal during shutdown: exiting now\n";
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, message, sizeof message - 1);
  ::_exit(1);
}

// SIGINT and SIGTERM end the process at once (status 1): only async-signal-
// safe calls in the handler.
void exit_on_next_signal() {
  struct sigaction action {};
  action.sa_handler = exit_now;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

struct HttpServer::Impl {
  Impl(Config c, bool handle_signals, const WorkerSetup* worker)
      : config(std::move(c)),
        cluster(worker ? worker->cluster : nullptr),
        db_stats(cluster ? cluster->db_stats() : own_db_stats),
        stats(cluster ? cluster->server_stats() : own_stats),
        ioc(config.server.effective_threads()),
        acceptor(asio::make_strand(ioc)) {
    // Signals first: once the socket is bound a client (or a supervisor that
    // watches the port file) may send SIGINT/SIGTERM at any moment, and the
    // default action would kill the process without drain, checkpoint or
    // summary. signal_set installs its handler now; a signal that arrives
    // before run() is kept and delivered once the io_context runs, and then
    // starts the usual graceful shutdown.
    if (handle_signals) {
      signals.emplace(ioc, SIGINT, SIGTERM);
      wait_signal();
    }
    const tcp::endpoint endpoint(asio::ip::make_address(config.server.address),
                                 static_cast<unsigned short>(config.server.port));
    if (worker) {
      // The supervisor bound and listens; this process only accepts.
      acceptor.assign(endpoint.protocol(), worker->listen_fd);
    } else {
      // Bound before the strategy exists: an address in use (or not
      // available) fails here, with nothing to tear down. The strategy is
      // declared before the io_context, so a constructor that threw after
      // building it would destroy the io_context first and then close the
      // strategy onto it.
      acceptor.open(endpoint.protocol());
      acceptor.set_option(asio::socket_base::reuse_address(true));
      acceptor.bind(endpoint);
      acceptor.listen(asio::socket_base::max_listen_connections);
    }
    if (!cluster) prepare_database(config.database, db_stats);
    strategy = make_strategy(config.database, config.pool, ioc.get_executor(), db_stats);
    try {
      handlers = std::make_unique<Handlers>(config, *strategy, stats, db_stats, draining, cluster);
      // With several processes each worker runs its own checkpointer; they
      // take turns on SQLite's checkpoint lock.
      maintenance = start_maintenance(config.database, db_stats);
    } catch (...) {
      strategy->close();  // while the io_context its handlers belong to still exists
      throw;
    }
    // Last: once the publisher runs it reads the strategy, and nothing after
    // this line may throw (a throwing constructor skips ~Impl).
    if (worker) cluster->attach(*strategy, draining);
  }

  ~Impl() {
    // The publisher reads the strategy: stop it first.
    if (cluster) cluster->detach(forced);
    if (maintenance) maintenance->stop();
    // Strategy first (joins database threads, drops waiters) while the
    // io_context that its handlers belong to still exists.
    if (strategy) strategy->close();
  }

  // ---- connections ------------------------------------------------------

  asio::awaitable<void> accept_loop() {
    auto last_warning = std::chrono::steady_clock::time_point{};
    asio::steady_timer backoff(acceptor.get_executor());
    for (;;) {
      // One io thread runs every handler in order already; a strand per
      // connection is needed (and paid for) only with several.
      const asio::any_io_executor session_executor =
          config.server.effective_threads() > 1 ? asio::any_io_executor(asio::make_strand(ioc)) : ioc.get_executor();
      auto [ec, socket] = co_await acceptor.async_accept(session_executor, asio::as_tuple(asio::use_awaitable));
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        stats.accept_error();
        const auto now = std::chrono::steady_clock::now();
        if (now - last_warning > std::chrono::seconds(1)) {
          last_warning = now;
          spdlog::warn("accept failed: {} (open connections: {}); backing off{}", ec.message(),
                       stats.active_connections(),
                       ec == asio::error::no_descriptors ? "; raise the limit with `ulimit -n`" : "");
        }
        // Out of descriptors (or another resource): wait instead of spinning.
        backoff.expires_after(std::chrono::milliseconds(50));
        co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      // Answers are written whole; Nagle would hold back the next one on a
      // keep-alive connection until the client's delayed ACK.
      beast::error_code nodelay_ec;
      socket.set_option(tcp::no_delay(true), nodelay_ec);
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(std::move(socket)), [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("session ended by an exception: {}", ex.what());
        }
      });
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    auto handle = std::make_shared<SessionHandle>();
    handle->executor = socket.get_executor();
    beast::tcp_stream stream(std::move(socket));
    handle->stream = &stream;
    beast::error_code nonblocking_ec;
    stream.socket().non_blocking(true, nonblocking_ec);
    std::list<std::shared_ptr<SessionHandle>>::iterator position;
    {
      std::lock_guard lock(sessions_mutex);
      position = sessions.insert(sessions.end(), handle);
    }
    stats.connection_opened();
    try {
      co_await serve(stream, *handle);
    } catch (const std::exception& e) {
      spdlog::error("connection error: {}", e.what());
    }
    handle->stream = nullptr;
    {
      std::lock_guard lock(sessions_mutex);
      sessions.erase(position);
    }
    stats.connection_closed();
    co_await linger(stream);
  }

  // Half-closes, then reads and drops what the client still sends, for a
  // short while, before the socket closes. Closing a socket with unread
  // input sends a reset instead of a FIN, and a client still writing its
  // request (a body past server.body_limit answered 413, a request cut by
  // Connection: close during the drain) then fails on its write and never
  // reads the answer it was sent. nginx's lingering_close does the same.
  static constexpr std::chrono::milliseconds kLingerTime{1000};
  static constexpr std::size_t kLingerBytes = 16 * 1024 * 1024;

  asio::awaitable<void> linger(beast::tcp_stream& stream) {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(kLingerTime);
    std::array<char, 16384> sink;
    for (std::size_t dropped = 0; dropped < kLingerBytes;) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
      if (ec) break;  // the client closed (EOF), the time ran out, or the socket failed
      dropped += n;
    }
  }

  asio::awaitable<void> write_error(beast::tcp_stream& stream, int status, std::string_view error,
                                    std::string_view detail) {
    stats.record(Route::kUnknown, status);
    std::string out;
    append_response(out, error_response(status, error, detail), 11, /*keep_alive=*/false, /*head=*/false);
    stream.expires_after(std::chrono::seconds(2));
    co_await asio::async_write(stream, asio::buffer(out), asio::as_tuple(asio::use_awaitable));
  }

  asio::awaitable<void> serve(beast::tcp_stream& stream, SessionHandle& handle) {
    const auto& s = config.server;
    beast::flat_buffer buffer;
    std::string out;  // the connection's answer buffer, reused (its capacity stays)
    for (;;) {
      handle.busy = false;
      if (draining.load() && buffer.size() == 0) co_return;
      if (buffer.size() == 0) {
        // Idle keep-alive connection: wait for the first byte of a request.
        stream.expires_after(std::chrono::milliseconds(s.idle_timeout_ms));
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        buffer.commit(n);
      }
      handle.busy = true;

      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(s.header_limit));
      parser.body_limit(static_cast<std::uint64_t>(s.body_limit));
      parser.eager(true);
      // A small request usually arrives whole in one read: parse what is
      // buffered first, and read (with the header and body timeouts) only
      // for what is missing. Saves an asynchronous operation and its timer.
      beast::error_code parse_ec;
      parse_buffered(parser, buffer, parse_ec);
      if (parse_ec) {
        co_await reject(stream, parse_ec);
        co_return;
      }
      if (!parser.is_header_done()) {
        stream.expires_after(std::chrono::milliseconds(s.header_timeout_ms));
        auto [header_ec, header_n] =
            co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        if (header_ec) {
          co_await reject(stream, header_ec);
          co_return;
        }
      }
      if (!parser.is_done()) {
        if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
          http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
          stream.expires_after(std::chrono::milliseconds(s.write_timeout_ms));
          auto [ec, n] = co_await http::async_write(stream, go_on, asio::as_tuple(asio::use_awaitable));
          if (ec) co_return;
        }
        stream.expires_after(std::chrono::milliseconds(s.body_timeout_ms));
        auto [body_ec, body_n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        if (body_ec) {
          co_await reject(stream, body_ec);
          co_return;
        }
      }
      // No timer runs while the database works: the strategy bounds the wait.
      stream.expires_never();

      const auto& req = parser.get();
      HttpRequest request{req.method_string(), req.target(), req.body()};
      HttpResponse result = co_await handlers->handle(request);

      const bool keep_alive = req.keep_alive() && !draining.load();
      out.clear();
      append_response(out, result, req.version(), keep_alive, req.method() == http::verb::head);
      // The socket is non-blocking: a small answer usually fits the send
      // buffer at once. Only a rest that does not goes through an
      // asynchronous write with the write timeout.
      beast::error_code write_ec;
      std::size_t written = stream.socket().write_some(asio::buffer(out), write_ec);
      if (write_ec == asio::error::would_block || write_ec == asio::error::try_again) {
        write_ec = {};
        written = 0;
      }
      if (!write_ec && written < out.size()) {
        stream.expires_after(std::chrono::milliseconds(s.write_timeout_ms));
        auto [ec, n] = co_await asio::async_write(stream, asio::buffer(out.data() + written, out.size() - written),
                                                  asio::as_tuple(asio::use_awaitable));
        write_ec = ec;
      }
      if (write_ec || !keep_alive) co_return;
    }
  }

  asio::awaitable<void> reject(beast::tcp_stream& stream, const beast::error_code& ec) {
    const int status = status_for_read_error(ec);
    if (status == 431) {
      co_await write_error(
          stream, 431, "headers_too_large",
          "request headers exceed server.header_limit (" + std::to_string(config.server.header_limit) + " bytes)");
    } else if (status == 413) {
      co_await write_error(
          stream, 413, "body_too_large",
          "request body exceeds server.body_limit (" + std::to_string(config.server.body_limit) + " bytes)");
    } else if (status == 400) {
      co_await write_error(stream, 400, "bad_request", "malformed HTTP request: " + ec.message());
    }
  }

  // ---- shutdown ---------------------------------------------------------

  void for_each_session(bool idle_only) {
    std::vector<std::shared_ptr<SessionHandle>> copy;
    {
      std::lock_guard lock(sessions_mutex);
      copy.assign(sessions.begin(), sessions.end());
    }
    for (auto& h : copy) {
      asio::post(h->executor, [h, idle_only] {
        if (h->stream && (!idle_only || !h->busy)) h->stream->cancel();
      });
    }
  }

  std::size_t session_count() {
    std::lock_guard lock(sessions_mutex);
    return sessions.size();
  }

  void begin_shutdown() {
    if (draining.exchange(true)) return;
    spdlog::info("shutting down: no new connections; {} open", session_count());
    asio::post(acceptor.get_executor(), [this] {
      beast::error_code ignored;
      acceptor.close(ignored);
    });
    asio::co_spawn(ioc, drain(), [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::critical("shutdown sequence failed: {}; stopping now", ex.what());
      }
      ioc.stop();
    });
  }

  asio::awaitable<void> drain() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config.server.shutdown_grace_ms);
    asio::steady_timer tick(ioc);
    while (session_count() > 0 && std::chrono::steady_clock::now() < deadline) {
      for_each_session(/*idle_only=*/true);
      tick.expires_after(std::chrono::milliseconds(10));
      co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    forced = session_count() > 0;
    if (forced) spdlog::warn("grace period over with {} connections still open; closing them", session_count());
    if (signals) {
      beast::error_code ignored;
      signals->cancel(ignored);
    }
    ioc.stop();
  }

  void wait_signal() {
    signals->async_wait([this](const beast::error_code& ec, int signal) {
      if (ec) return;
      if (draining.load() && cluster) {
        // A worker: the same signal may come from the terminal's process
        // group and from the supervisor passing it on. Cutting the drain
        // short is the supervisor's decision (it kills its workers).
        wait_signal();
        return;
      }
      if (draining.load()) {
        // Second signal: the user wants out now. Everything acknowledged is
        // already committed, so exiting loses nothing that was promised.
        std::fprintf(stderr, "busylab: second signal (%d): exiting now\n", signal);
        std::_Exit(1);
      }
      spdlog::info("received signal {}; draining{}", signal, cluster ? "" : " (second signal exits at once)");
      begin_shutdown();
      wait_signal();
    });
  }

  // Declared before the io_context so they outlive it: handlers still queued
  // in it when it is destroyed may hold leases and refer to the stats.
  Config config;
  WorkerLink* cluster;   // a worker of several processes (cluster/); else null
  DbStats own_db_stats;  // counted into unless this is a worker
  ServerStats own_stats;
  DbStats& db_stats;
  ServerStats& stats;
  std::atomic<bool> draining{false};
  std::unique_ptr<Strategy> strategy;
  std::unique_ptr<Handlers> handlers;
  std::unique_ptr<Maintenance> maintenance;  // the background checkpointer, when configured
  asio::io_context ioc;
  tcp::acceptor acceptor;
  bool forced = false;
  std::optional<asio::signal_set> signals;
  std::mutex sessions_mutex;
  std::list<std::shared_ptr<SessionHandle>> sessions;
};

HttpServer::HttpServer(Config config, bool handle_signals, const WorkerSetup* worker)
    : impl_(std::make_unique<Impl>(std::move(config), handle_signals, worker)) {}
HttpServer::~HttpServer() = default;

std::string HttpServer::address() const {
  return impl_->acceptor.local_endpoint().address().to_string();
}
std::uint16_t HttpServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}
const Config& HttpServer::config() const {
  return impl_->config;
}
ServerStats& HttpServer::stats() {
  return impl_->stats;
}
DbStats& HttpServer::db_stats() {
  return impl_->db_stats;
}
Strategy& HttpServer::strategy() {
  return *impl_->strategy;
}

void HttpServer::stop() {
  asio::post(impl_->ioc, [impl = impl_.get()] { impl->begin_shutdown(); });
}

ShutdownSummary HttpServer::run() {
  Impl& m = *impl_;
  asio::co_spawn(m.acceptor.get_executor(), m.accept_loop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("listener stopped by an exception: {}", ex.what());
    }
  });
  const int threads = m.config.server.effective_threads();
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) {
    pool.emplace_back([&m] {
      thread_role::IoThreadScope io;
      m.ioc.run();
    });
  }
  {
    thread_role::IoThreadScope io;
    m.ioc.run();
  }
  for (auto& t : pool) t.join();

  // The io_context has stopped, so asio delivers no more signals, yet its
  // handler would stay installed and swallow them while what follows waits:
  // closing the strategy joins database threads that may sleep in the busy
  // handler (up to busy_timeout_ms per lock attempt), then the checkpoint.
  // From here a signal exits at once.
  if (m.signals && !m.cluster) {
    m.signals.reset();
    exit_on_next_signal();
  }
  // The grace period ran out with work in flight: nobody can be answered any
  // more, so lock waits give up at once instead of sleeping out their busy
  // timeout (a write that gives up is rolled back: nothing unacknowledged
  // commits). Workers of several processes leave that to the supervisor.
  if (m.forced && !m.cluster) m.db_stats.abandon_lock_waits.store(true, std::memory_order_relaxed);

  // io threads are gone: no request can start now. The background
  // checkpointer stops first (a wait of its for readers ends at once), so
  // that the final checkpoint below is the last.
  if (m.maintenance) m.maintenance->stop();
  m.strategy->close();

  ShutdownSummary summary;
  summary.requests = m.stats.requests();
  summary.writes_acknowledged = m.stats.acknowledged();
  summary.writes_committed = m.db_stats.writes_committed.load();
  summary.rows_inserted = rows_inserted(m.stats);
  summary.busy_errors = m.db_stats.busy_failures.load();
  summary.busy_snapshot_errors = m.db_stats.busy_snapshot_failures.load();
  const auto strategy_stats = m.strategy->stats_json();
  summary.pool_timeouts = total_pool_timeouts(strategy_stats);
  summary.shed = total_shed(strategy_stats);
  summary.forced = m.forced;
  if (m.cluster) {
    // The supervisor checkpoints once every worker has stopped.
    m.cluster->detach(m.forced);
    return summary;
  }
  summary.wal = m.config.database.engine == EngineKind::kSqlite && m.config.database.journal_mode == JournalMode::kWal;
  summary.checkpointed = checkpoint_database(m.config.database, m.db_stats, summary.checkpoint_error);
  summary.lock_waits_cut = m.db_stats.busy_abandoned.load(std::memory_order_relaxed);
  return summary;
}

}  // namespace busylab
