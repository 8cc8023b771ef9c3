#pragma once
// The one writer behind `single_writer` and `batched`: a thread that owns the
// write connection and drains a queue of writes continuously, never waiting
// on an io thread between two of them (what Rails 8, litestack and userver's
// writers do). Each round it takes up to `max_batch` queued writes:
//   max_batch = 1  (single_writer) each write runs in its own transaction,
//                  opened as database.transaction says;
//   max_batch > 1  (batched) the writes share one BEGIN IMMEDIATE ... COMMIT,
//                  one SAVEPOINT each (see run_batch).
// Answers go out only after the COMMIT returned. A queued write that waits
// longer than the queue timeout is answered 503 pool_timeout by a timer, even
// while the writer is stuck in a long busy wait.

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "common/histogram.hpp"
#include "engine/database_options.hpp"
#include "engine/operation.hpp"
#include "pool/deadline_timer.hpp"

namespace busylab {

class Connection;
class Engine;
struct DbStats;

class Writer {
 public:
  using Signature = void(OpOutcome);

  struct Options {
    std::size_t max_batch = 1;
    std::size_t max_queued = 4096;                  // pool.max_waiters
    std::chrono::milliseconds queue_timeout{5000};  // pool.checkout_timeout_ms
  };

  /// Opens the write connection (throws DatabaseError when it cannot) and
  /// starts the writer thread. `executor` runs the queue timer and completes
  /// handlers that have no executor of their own.
  Writer(boost::asio::any_io_executor executor, std::shared_ptr<Engine> engine, Options options, DbStats& stats);
  /// Stops the writer (see close()).
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// Queues a write; completes with its outcome on the handler's associated
  /// executor once its transaction committed or failed, never inside this
  /// call. A full queue answers kOverloaded, a closed writer kShuttingDown.
  /// Thread-safe.
  template <class Token>
  auto async_write(Operation op, Token&& token) {
    return boost::asio::async_initiate<Token, Signature>(
        [this](auto handler, Operation op) {
          // The requester's own executor (its session), found while the
          // handler's type is still known; tracked so its io_context keeps
          // running until the answer is delivered.
          auto home = boost::asio::prefer(boost::asio::get_associated_executor(handler, executor_),
                                          boost::asio::execution::outstanding_work.tracked);
          enqueue(std::move(op), boost::asio::any_completion_handler<Signature>(std::move(handler)), std::move(home));
        },
        token, std::move(op));
  }

  /// queued, max_queued_seen, rejected_queue_full, queue_timeouts,
  /// queue_wait_ms, batches, batch_size, in_batch. Thread-safe.
  nlohmann::json stats_json() const;
  /// Microseconds writes waited in the queue; writes per batch. Copies. Thread-safe.
  Histogram queue_wait_histogram() const { return queue_wait_us_.snapshot(); }
  Histogram batch_size_histogram() const { return batch_sizes_.snapshot(); }
  /// 1 while a batch runs whose answers have not gone out, else 0. Thread-safe.
  std::size_t in_use() const;

  /// Lets the running batch finish, answers the queued writes kShuttingDown,
  /// and joins the thread. Call after the io threads have stopped. Idempotent.
  void close();

 private:
  using Handler = boost::asio::any_completion_handler<Signature>;
  struct Job {
    Operation op;
    Handler handler;
    boost::asio::any_io_executor home;
    std::chrono::steady_clock::time_point enqueued;
  };

  void enqueue(Operation op, Handler handler, boost::asio::any_io_executor home);
  static void complete(Job& job, OpOutcome out);
  void loop();
  std::vector<OpOutcome> run(const std::vector<Job>& batch);
  std::optional<DeadlineTimer::Clock::time_point> expire_queued(DeadlineTimer::Clock::time_point now);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<Engine> engine_;
  Options options_;
  DbStats& stats_;
  std::unique_ptr<Connection> connection_;  // used only by the writer thread
  std::unique_ptr<DeadlineTimer> timer_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  bool timer_idle_ = true;
  std::size_t in_batch_ = 0;
  std::size_t max_queued_ = 0;
  std::uint64_t rejected_ = 0;
  std::uint64_t timed_out_ = 0;
  AtomicHistogram queue_wait_us_;
  AtomicHistogram batch_sizes_;
  std::thread thread_;
};

}  // namespace busylab
