#include "strategy/strategy.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "engine/database_error.hpp"
#include "engine/db_stats.hpp"
#include "engines/make_engine.hpp"
#include "strategy/strategies.hpp"

namespace busylab {

namespace {

// Opening SQLite runs pragmas that may meet a lock (busy: 503 like any
// other wait) or a broken file (fatal: 500); PostgreSQL may refuse the
// connection (unavailable: 503).
OpOutcome open_failure(const DatabaseError& e, DbStats& stats) {
  OpOutcome out = OpOutcome::failure(e.errc(), e.what());
  if (out.errc == Errc::kInternal) out.errc = Errc::kFatal;
  out.sqlite_code = e.code();
  out.code = e.code_name();
  count_failure(stats, out.errc);
  return out;
}

std::uint64_t field(const nlohmann::json& stats, const char* object, const char* key) {
  const auto it = stats.find(object);
  return it != stats.end() && it->is_object() ? it->value(key, std::uint64_t{0}) : 0;
}

}  // namespace

ConnectionPool::Options connection_pool_options(const PoolOptions& p, std::size_t size) {
  ConnectionPool::Options o;
  o.size = size;
  o.max_waiters = static_cast<std::size_t>(p.max_waiters);
  o.checkout_timeout = std::chrono::milliseconds(p.checkout_timeout_ms);
  o.queue_target = std::chrono::milliseconds(p.queue_target_ms);
  o.queue_interval = std::chrono::milliseconds(p.queue_interval_ms);
  return o;
}

void open_all(ConnectionPool& pool, Engine& engine) {
  for (std::size_t i = 0; i < pool.size(); ++i) pool.slot_for_setup(i) = engine.open(Engine::Purpose::kStartup);
}

std::optional<OpOutcome> open_if_closed(std::unique_ptr<Connection>& connection, Engine& engine, DbStats& stats) {
  if (connection) return std::nullopt;
  try {
    connection = engine.open(Engine::Purpose::kRequest);
    return std::nullopt;
  } catch (const DatabaseError& e) {
    return open_failure(e, stats);
  }
}

bool close_if_fatal(std::unique_ptr<Connection>& connection, const OpOutcome& out, DbStats& stats) {
  if (!is_fatal(out.errc)) return false;
  // Never use a connection that hit IOERR/CORRUPT or lost its server again;
  // the next user opens a fresh one.
  spdlog::warn("closing connection after {}: {}", out.code, out.message);
  connection.reset();
  stats.connections_replaced.fetch_add(1, std::memory_order_relaxed);
  return true;
}

OpOutcome run_on_slot(ConnectionPool::Slot& slot, const Operation& op, Engine& engine, DbStats& stats) {
  if (auto failed = open_if_closed(slot, engine, stats)) return std::move(*failed);
  OpOutcome out = slot->run(op, engine.options().transaction);
  close_if_fatal(slot, out, stats);
  return out;
}

OpOutcome run_on_fresh_connection(const Operation& op, Engine& engine, DbStats& stats) {
  try {
    const auto connection = engine.open(Engine::Purpose::kRequest);
    return connection->run(op, engine.options().transaction);
  } catch (const DatabaseError& e) {
    return open_failure(e, stats);
  }
}

std::uint64_t total_pool_timeouts(const nlohmann::json& s) {
  return field(s, "pool", "checkout_timeouts") + field(s, "writer", "queue_timeouts");
}

std::uint64_t total_shed(const nlohmann::json& s) {
  return field(s, "pool", "shed");
}

std::unique_ptr<Strategy> make_strategy(const DatabaseOptions& db, const PoolOptions& pool,
                                        boost::asio::any_io_executor executor, DbStats& stats) {
  std::shared_ptr<Engine> engine = make_engine(db, stats);
  switch (pool.strategy) {
    case StrategyKind::kPerRequest:
      return make_per_request_strategy(executor, std::move(engine), pool, stats);
    case StrategyKind::kPool:
      return make_pooled_strategy(executor, std::move(engine), pool, stats);
    case StrategyKind::kSingleWriter:
      return make_single_writer_strategy(executor, std::move(engine), pool, stats);
    case StrategyKind::kBatched:
      return make_batched_strategy(executor, std::move(engine), pool, stats);
  }
  throw std::logic_error("unknown strategy");
}

void prepare_database(const DatabaseOptions& db, DbStats& stats) {
  make_engine(db, stats)->prepare();
}

std::unique_ptr<Maintenance> start_maintenance(const DatabaseOptions& db, DbStats& stats) {
  return make_engine(db, stats)->start_maintenance();
}

bool checkpoint_database(const DatabaseOptions& db, DbStats& stats, std::string& error) {
  return make_engine(db, stats)->finish(error);
}

}  // namespace busylab
