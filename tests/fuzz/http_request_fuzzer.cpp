// libFuzzer target: arbitrary bytes through what a request meets in the
// server: Beast's request parser with the server's limits, the router, the
// JSON body handling and the handlers, with a real pool strategy over a
// temporary SQLite file behind them. Invariants checked on every input: no
// crash or sanitizer report, no exception out of the handler, a status from
// 200 to 599, and a body that is valid JSON.

#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/db_stats.hpp"
#include "server/handlers.hpp"
#include "server/stats.hpp"
#include "strategy/strategy.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

struct World {
  World() {
    spdlog::set_level(spdlog::level::off);
    std::string pattern = (std::filesystem::temp_directory_path() / "busylab-fuzz-XXXXXX").string();
    if (!mkdtemp(pattern.data())) std::abort();
    dir = pattern;
    config.database.path = (dir / "fuzz.db").string();
    config.database.max_size_mb = 16;  // a long run must not fill the disk
    config.pool.strategy = busylab::StrategyKind::kPool;
    config.pool.size = 2;
    busylab::prepare_database(config.database, db_stats);
    strategy = busylab::make_strategy(config.database, config.pool, ioc.get_executor(), db_stats);
    handlers = std::make_unique<busylab::Handlers>(config, *strategy, stats, db_stats, draining);
  }
  ~World() {
    strategy->close();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  std::filesystem::path dir;
  busylab::Config config;
  busylab::DbStats db_stats;
  busylab::ServerStats stats;
  std::atomic<bool> draining{false};
  asio::io_context ioc;
  std::unique_ptr<busylab::Strategy> strategy;
  std::unique_ptr<busylab::Handlers> handlers;
};

World& world() {
  static World w;
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& w = world();
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(w.config.server.header_limit));
  parser.body_limit(static_cast<std::uint64_t>(w.config.server.body_limit));
  parser.eager(true);
  beast::error_code ec;
  std::size_t used = 0;
  while (used < size && !parser.is_done()) {
    const std::size_t n = parser.put(asio::buffer(data + used, size - used), ec);
    if (ec == http::error::need_more) break;
    if (ec) return 0;  // the session answers 400/413/431 and closes
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_done()) {
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
  }
  const auto& req = parser.get();
  busylab::HttpRequest request{req.method_string(), req.target(), req.body()};
  busylab::HttpResponse response;
  bool finished = false;
  asio::co_spawn(w.ioc, w.handlers->handle(request), [&](std::exception_ptr e, busylab::HttpResponse r) {
    if (e) std::abort();  // handle() promises never to throw
    response = std::move(r);
    finished = true;
  });
  w.ioc.restart();
  w.ioc.run();
  if (!finished) std::abort();
  if (response.status < 200 || response.status > 599) std::abort();
  if (!nlohmann::json::accept(response.body)) std::abort();
  return 0;
}
