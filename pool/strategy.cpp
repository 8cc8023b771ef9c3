#include "pool/strategy.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/histogram.hpp"
#include "pool/connection_pool.hpp"
#include "pool/database.hpp"
#include "pool/db_stats.hpp"
#include "pool/run_blocking.hpp"
#include "pool/sqlite_error.hpp"

namespace asio = boost::asio;

namespace busylab {

namespace {

OpOutcome failure(Errc errc, std::string message) {
  OpOutcome out;
  out.errc = errc;
  out.message = std::move(message);
  return out;
}

// Opening runs pragmas that may meet a lock (busy: 503 like any other wait)
// or a broken file (fatal: 500).
OpOutcome open_failure(const SqliteError& e, DbStats& stats) {
  OpOutcome out = failure(classify_sqlite(e.code()), e.what());
  if (out.errc == Errc::kInternal) out.errc = Errc::kFatal;
  out.sqlite_code = e.code();
  count_failure(stats, out.errc);
  return out;
}

ConnectionPool::Options pool_options(const PoolOptions& p, std::size_t size) {
  ConnectionPool::Options o;
  o.size = size;
  o.max_waiters = static_cast<std::size_t>(p.max_waiters);
  o.checkout_timeout = std::chrono::milliseconds(p.checkout_timeout_ms);
  o.queue_target = std::chrono::milliseconds(p.queue_target_ms);
  o.queue_interval = std::chrono::milliseconds(p.queue_interval_ms);
  return o;
}

// HikariCP-style: the error says how the pool looked when it gave up.
std::string checkout_message(Errc errc, const ConnectionPool& pool) {
  const auto b = pool.brief();
  const std::string figures = " (pool size " + std::to_string(b.size) + ", in use " + std::to_string(b.in_use) +
                              ", waiting " + std::to_string(b.waiting) + ")";
  switch (errc) {
    case Errc::kPoolTimeout:
      return "no connection free within pool.checkout_timeout_ms" + figures;
    case Errc::kOverloaded:
      return "request shed: the connection queue is over its target or full" + figures;
    case Errc::kShuttingDown:
      return "server is shutting down";
    default:
      return std::string(to_string(errc));
  }
}

// Runs `op` on a kept connection, opening it first when it is not open (at
// start or after a fatal error closed it).
OpOutcome run_on_slot(ConnectionPool::Slot& slot, const Operation& op, const DatabaseOptions& options, DbStats& stats) {
  if (!slot) {
    try {
      slot = std::make_unique<Database>(options, &stats);
    } catch (const SqliteError& e) {
      return open_failure(e, stats);
    }
  }
  OpOutcome out = run_operation(*slot, op, options.transaction);
  if (is_fatal(out.errc)) {
    // Never lend a connection that hit IOERR/CORRUPT again; the next
    // borrower opens a fresh one.
    spdlog::warn("closing connection after {}: {}", sqlite_code_name(out.sqlite_code), out.message);
    slot.reset();
    stats.connections_replaced.fetch_add(1, std::memory_order_relaxed);
  }
  return out;
}

// A pool of kept connections plus the threads that run their work.
class KeptConnections {
 public:
  KeptConnections(asio::any_io_executor executor, const PoolOptions& p, std::size_t size,
                  const DatabaseOptions& options, DbStats& stats, bool open_now)
      : pool_(executor, pool_options(p, size)), threads_(size), options_(options), stats_(stats) {
    if (open_now) {
      for (std::size_t i = 0; i < size; ++i) pool_.slot_for_setup(i) = std::make_unique<Database>(options, &stats);
    }
  }

  asio::awaitable<OpOutcome> run(const Operation& op) {
    // Not a structured binding: clang 14 cannot capture one in the lambda below.
    auto checkout = co_await pool_.async_checkout(asio::as_tuple(asio::use_awaitable));
    const Errc errc = std::get<0>(checkout);
    ConnectionPool::Lease& lease = std::get<1>(checkout);
    if (errc != Errc::kOk) co_return failure(errc, checkout_message(errc, pool_));
    co_return co_await run_blocking(threads_.get_executor(),
                                    [&] { return run_on_slot(lease.slot(), op, options_, stats_); });
  }

  // Holds a permit (a slot) while a fresh connection runs `op`.
  asio::awaitable<OpOutcome> run_fresh(const Operation& op) {
    // The permit (the lease inside `checkout`) is held until this returns.
    auto checkout = co_await pool_.async_checkout(asio::as_tuple(asio::use_awaitable));
    const Errc errc = std::get<0>(checkout);
    if (errc != Errc::kOk) co_return failure(errc, checkout_message(errc, pool_));
    co_return co_await run_blocking(threads_.get_executor(), [&] {
      try {
        Database db(options_, &stats_);
        return run_operation(db, op, options_.transaction);
      } catch (const SqliteError& e) {
        return open_failure(e, stats_);
      }
    });
  }

  void close() {
    pool_.close();
    threads_.join();
  }

  ConnectionPool& pool() { return pool_; }
  const ConnectionPool& pool() const { return pool_; }

 private:
  ConnectionPool pool_;
  asio::thread_pool threads_;
  const DatabaseOptions& options_;
  DbStats& stats_;
};

class PerRequestStrategy final : public Strategy {
 public:
  PerRequestStrategy(asio::any_io_executor ex, const DatabaseOptions& db, const PoolOptions& p, DbStats& stats)
      : db_(db), permits_(ex, p, static_cast<std::size_t>(p.size), db_, stats, /*open_now=*/false) {}

  asio::awaitable<OpOutcome> execute(Operation op) override { co_return co_await permits_.run_fresh(op); }
  nlohmann::json stats_json() const override {
    return {{"strategy", "per_request"}, {"pool", permits_.pool().stats_json()}};
  }
  std::size_t in_use() const override { return permits_.pool().in_use(); }
  void close() override { permits_.close(); }

 private:
  DatabaseOptions db_;
  KeptConnections permits_;
};

class PooledStrategy final : public Strategy {
 public:
  PooledStrategy(asio::any_io_executor ex, const DatabaseOptions& db, const PoolOptions& p, DbStats& stats)
      : db_(db), connections_(ex, p, static_cast<std::size_t>(p.size), db_, stats, /*open_now=*/true) {}

  asio::awaitable<OpOutcome> execute(Operation op) override { co_return co_await connections_.run(op); }
  nlohmann::json stats_json() const override {
    return {{"strategy", "pool"}, {"pool", connections_.pool().stats_json()}};
  }
  std::size_t in_use() const override { return connections_.pool().in_use(); }
  void close() override { connections_.close(); }

 private:
  DatabaseOptions db_;
  KeptConnections connections_;
};

class SingleWriterStrategy final : public Strategy {
 public:
  SingleWriterStrategy(asio::any_io_executor ex, const DatabaseOptions& db, const PoolOptions& p, DbStats& stats)
      : db_(db),
        writer_(ex, p, 1, db_, stats, /*open_now=*/true),
        readers_(ex, p, static_cast<std::size_t>(p.size), db_, stats, /*open_now=*/true) {}

  asio::awaitable<OpOutcome> execute(Operation op) override {
    // The writer's queue is FIFO, so writes run one at a time in arrival order.
    if (op.write) co_return co_await writer_.run(op);
    co_return co_await readers_.run(op);
  }
  nlohmann::json stats_json() const override {
    return {{"strategy", "single_writer"},
            {"writer_pool", writer_.pool().stats_json()},
            {"pool", readers_.pool().stats_json()}};
  }
  std::size_t in_use() const override { return writer_.pool().in_use() + readers_.pool().in_use(); }
  void close() override {
    writer_.close();
    readers_.close();
  }

 private:
  DatabaseOptions db_;
  KeptConnections writer_;
  KeptConnections readers_;
};

class BatchedStrategy final : public Strategy {
 public:
  BatchedStrategy(asio::any_io_executor ex, const DatabaseOptions& db, const PoolOptions& p, DbStats& stats)
      : executor_(ex),
        db_(db),
        pool_options_(p),
        stats_(stats),
        readers_(ex, p, static_cast<std::size_t>(p.size), db_, stats, /*open_now=*/true),
        writer_db_(std::make_unique<Database>(db_, &stats)) {
    writer_thread_ = std::thread([this] { writer_loop(); });
  }

  ~BatchedStrategy() override { stop_writer(); }

  asio::awaitable<OpOutcome> execute(Operation op) override {
    if (!op.write) co_return co_await readers_.run(op);
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(OpOutcome)>(
        [this](auto handler, Operation op) { enqueue(std::move(op), std::move(handler)); }, asio::use_awaitable,
        std::move(op));
  }

  nlohmann::json stats_json() const override {
    const Histogram sizes = batch_sizes_.snapshot();
    const Histogram wait = queue_wait_us_.snapshot();
    std::lock_guard lock(mutex_);
    return {{"strategy", "batched"},
            {"pool", readers_.pool().stats_json()},
            {"writer",
             {{"queued", queue_.size()},
              {"max_queued_seen", max_queued_},
              {"rejected_queue_full", rejected_},
              {"queue_timeouts", timed_out_},
              {"queue_wait_ms",
               {{"p50", wait.percentile(0.5) / 1000.0},
                {"p99", wait.percentile(0.99) / 1000.0},
                {"max", wait.max() / 1000.0}}},
              {"batches", sizes.count()},
              {"batch_size",
               {{"mean", sizes.mean()},
                {"p50", sizes.percentile(0.5)},
                {"p99", sizes.percentile(0.99)},
                {"max", sizes.max()}}}}}};
  }

  std::size_t in_use() const override {
    std::lock_guard lock(mutex_);
    return readers_.pool().in_use() + in_batch_;
  }

  void close() override {
    readers_.close();
    stop_writer();
  }

 private:
  using Handler = asio::any_completion_handler<void(OpOutcome)>;
  struct Job {
    Operation op;
    Handler handler;
    std::chrono::steady_clock::time_point enqueued;
  };

  void complete(Handler handler, OpOutcome out) {
    asio::post(executor_, asio::append(std::move(handler), std::move(out)));
  }

  void enqueue(Operation op, Handler handler) {
    {
      std::unique_lock lock(mutex_);
      if (stopping_ || queue_.size() >= static_cast<std::size_t>(pool_options_.max_waiters)) {
        const bool stopping = stopping_;
        if (!stopping) ++rejected_;
        lock.unlock();
        complete(std::move(handler),
                 stopping ? failure(Errc::kShuttingDown, "server is shutting down")
                          : failure(Errc::kOverloaded, "write queue full (pool.max_waiters = " +
                                                           std::to_string(pool_options_.max_waiters) + ")"));
        return;
      }
      queue_.push_back(Job{std::move(op), std::move(handler), std::chrono::steady_clock::now()});
      max_queued_ = std::max(max_queued_, queue_.size());
    }
    wake_.notify_one();
  }

  void writer_loop() {
    std::vector<Job> batch;
    std::vector<Job> expired;
    std::vector<const Operation*> ops;
    while (true) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) break;
        // Everything queued while the writer was busy, up to max_batch. A
        // write that already waited longer than checkout_timeout_ms is
        // answered 503 pool_timeout without running, as a pool waiter would be.
        const auto now = std::chrono::steady_clock::now();
        const auto limit = std::chrono::milliseconds(pool_options_.checkout_timeout_ms);
        while (!queue_.empty() && batch.size() < static_cast<std::size_t>(pool_options_.max_batch)) {
          if (now - queue_.front().enqueued > limit) {
            expired.push_back(std::move(queue_.front()));
            ++timed_out_;
          } else {
            queue_wait_us_.record(static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(now - queue_.front().enqueued).count()));
            batch.push_back(std::move(queue_.front()));
          }
          queue_.pop_front();
        }
        in_batch_ = batch.empty() ? 0 : 1;
      }
      for (auto& job : expired) {
        complete(std::move(job.handler),
                 failure(Errc::kPoolTimeout, "write waited in the batch queue longer than pool.checkout_timeout_ms"));
      }
      expired.clear();
      if (batch.empty()) continue;
      ops.clear();
      for (auto& job : batch) ops.push_back(&job.op);
      std::vector<OpOutcome> outs;
      if (!writer_db_) {
        try {
          writer_db_ = std::make_unique<Database>(db_, &stats_);
        } catch (const SqliteError& e) {
          outs.assign(batch.size(), open_failure(e, stats_));
        }
      }
      if (writer_db_) {
        try {
          outs = run_batch(*writer_db_, ops, db_.transaction);
        } catch (const std::exception& e) {
          outs.assign(batch.size(), failure(Errc::kInternal, e.what()));
        }
        bool fatal = false;
        for (const auto& o : outs) fatal = fatal || is_fatal(o.errc);
        if (fatal) {
          writer_db_.reset();
          stats_.connections_replaced.fetch_add(1, std::memory_order_relaxed);
        }
      }
      batch_sizes_.record(batch.size());
      // Answers go out only now, after COMMIT returned (or failed).
      for (std::size_t i = 0; i < batch.size(); ++i) complete(std::move(batch[i].handler), std::move(outs[i]));
      batch.clear();
      std::lock_guard lock(mutex_);
      in_batch_ = 0;
    }
    // Shutting down: whatever is still queued was never started.
    std::deque<Job> left;
    {
      std::lock_guard lock(mutex_);
      left.swap(queue_);
    }
    for (auto& job : left) complete(std::move(job.handler), failure(Errc::kShuttingDown, "server is shutting down"));
  }

  void stop_writer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (writer_thread_.joinable()) writer_thread_.join();
  }

  asio::any_io_executor executor_;
  DatabaseOptions db_;
  PoolOptions pool_options_;
  DbStats& stats_;
  KeptConnections readers_;
  std::unique_ptr<Database> writer_db_;  // used only by the writer thread

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::size_t in_batch_ = 0;
  std::size_t max_queued_ = 0;
  std::uint64_t rejected_ = 0;
  std::uint64_t timed_out_ = 0;
  AtomicHistogram queue_wait_us_;
  AtomicHistogram batch_sizes_;
  std::thread writer_thread_;
};

}  // namespace

namespace {
std::uint64_t field(const nlohmann::json& stats, const char* object, const char* key) {
  const auto it = stats.find(object);
  return it != stats.end() && it->is_object() ? it->value(key, std::uint64_t{0}) : 0;
}
}  // namespace

std::uint64_t total_pool_timeouts(const nlohmann::json& s) {
  return field(s, "pool", "checkout_timeouts") + field(s, "writer_pool", "checkout_timeouts") +
         field(s, "writer", "queue_timeouts");
}

std::uint64_t total_shed(const nlohmann::json& s) {
  return field(s, "pool", "shed") + field(s, "writer_pool", "shed");
}

std::unique_ptr<Strategy> make_strategy(const DatabaseOptions& db, const PoolOptions& pool,
                                        asio::any_io_executor executor, DbStats& stats) {
  switch (pool.strategy) {
    case StrategyKind::kPerRequest:
      return std::make_unique<PerRequestStrategy>(executor, db, pool, stats);
    case StrategyKind::kPool:
      return std::make_unique<PooledStrategy>(executor, db, pool, stats);
    case StrategyKind::kSingleWriter:
      return std::make_unique<SingleWriterStrategy>(executor, db, pool, stats);
    case StrategyKind::kBatched:
      return std::make_unique<BatchedStrategy>(executor, db, pool, stats);
  }
  throw std::logic_error("unknown strategy");
}

void prepare_database(const DatabaseOptions& options, DbStats& stats) {
  Database db(options, &stats);
  try {
    // SQLite answers PRAGMA journal_mode with the mode it actually uses;
    // refusing to start beats measuring a different mode than asked for.
    Statement mode(db.handle(), "PRAGMA journal_mode");
    const std::string actual = mode.step() ? mode.column_text(0) : std::string();
    if (actual != to_string(options.journal_mode)) {
      throw SqliteError(SQLITE_ERROR, "journal_mode " + std::string(to_string(options.journal_mode)) +
                                          " was refused; the database is in mode '" + actual + "'");
    }
    create_schema(db);
  } catch (const SqliteError& e) {
    throw SqliteError(e.code(), "database '" + options.path + "': " + e.what());
  }
}

bool checkpoint_database(const DatabaseOptions& options, DbStats& stats, std::string& error) {
  if (options.journal_mode != JournalMode::kWal) return true;
  try {
    Database db(options, &stats);
    Statement s(db.handle(), "PRAGMA wal_checkpoint(TRUNCATE)");
    // Returns (busy, log frames, checkpointed frames); busy = 1 means a reader kept it from finishing.
    if (s.step() && s.column_int64(0) != 0) {
      error = "checkpoint could not finish: a reader still holds the WAL";
      return false;
    }
    return true;
  } catch (const SqliteError& e) {
    error = e.what();
    return false;
  }
}

}  // namespace busylab
