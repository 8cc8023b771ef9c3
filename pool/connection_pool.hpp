#pragma once
// A fixed set of connection slots lent to requests, ecto/DBConnection style:
// FIFO among waiters, a checkout timeout, a bounded waiter queue, optional
// queue-target shedding. The decisions live in PoolCore; this class adds the
// mutex, the DB threads that run the borrowed work, one deadline timer for
// the queue, and the hand-offs.
//
// A request crosses threads twice: its io thread posts the work to a DB
// thread (at once when a slot is idle; when one comes back otherwise), and
// the DB thread posts the outcome back. A slot goes back to the pool on the
// DB thread the moment the work returns, before the outcome travels back;
// when a waiter is queued, that same DB thread runs the waiter's work next,
// so a contended slot never idles through a thread hop.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/histogram.hpp"
#include "engine/operation.hpp"
#include "pool/deadline_timer.hpp"
#include "pool/pool_core.hpp"

namespace busylab {

class Connection;

class ConnectionPool {
 public:
  /// A slot's connection; null until opened, and after a fatal error.
  using Slot = std::unique_ptr<Connection>;
  /// Completion of async_run: an exception thrown by the work (a bug), or
  /// its outcome.
  using Signature = void(std::exception_ptr, OpOutcome);

  struct Options {
    std::size_t size = 1;
    std::size_t max_waiters = 1024;
    std::chrono::milliseconds checkout_timeout{5000};
    std::chrono::milliseconds queue_target{0};
    std::chrono::milliseconds queue_interval{0};
  };

  /// `executor` runs the queue's deadline timer and completes handlers that
  /// have no executor of their own. Starts `options.size` DB threads.
  ConnectionPool(boost::asio::any_io_executor executor, Options options);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;
  /// Closes the pool (see close()).
  ~ConnectionPool();

  /// Runs `fn(Slot&) -> OpOutcome` on a DB thread with a slot lent to it, and
  /// completes with its outcome on the handler's associated executor (never
  /// inside this call). When no slot comes within checkout_timeout, when the
  /// queue sheds the request or is full, or when the pool is closed, `fn`
  /// never runs and the outcome is kPoolTimeout, kOverloaded or
  /// kShuttingDown with a message giving the pool's figures (HikariCP-style).
  /// An exception thrown by `fn` is passed to the handler; the slot still
  /// comes back. Thread-safe.
  template <class Fn, class Token>
  auto async_run(Fn fn, Token&& token) {
    return boost::asio::async_initiate<Token, Signature>(
        [this](auto handler, Fn fn) {
          using Handler = decltype(handler);
          submit(std::make_unique<JobImpl<Handler, Fn>>(std::move(handler), std::move(fn), executor_));
        },
        token, std::move(fn));
  }

  /// Access to every slot's connection, for start-up (opening them) only;
  /// not thread-safe against running work.
  Slot& slot_for_setup(std::size_t index) { return slots_[index]; }

  /// Drops every waiter (their handlers are destroyed, not called: call it
  /// after the io threads have stopped), stops the timer, lets running work
  /// finish and joins the DB threads. Later requests get kShuttingDown.
  /// Idempotent. Call it once no thread submits work any more: a request
  /// granted concurrently with close() may never complete.
  void close();

  /// size, in_use, waiting, max_waiting_seen, checkout wait percentiles,
  /// timeouts, shed and rejected counts. Thread-safe.
  nlohmann::json stats_json() const;
  /// Microseconds requests waited for a slot (0 when one was idle), and held
  /// it (the work's run time). Copies. Thread-safe.
  Histogram wait_histogram() const { return wait_us_.snapshot(); }
  Histogram use_histogram() const { return use_us_.snapshot(); }
  /// Slots lent right now (work running or about to run). Thread-safe.
  std::size_t in_use() const;
  std::size_t size() const { return slots_.size(); }

 private:
  // A request's work and its completion, type-erased once per request.
  struct Job {
    virtual ~Job() = default;
    virtual void run(Slot& slot) = 0;  // on a DB thread
    virtual void complete() = 0;       // posts the outcome to the requester
    void fail(Errc errc, std::string message) {
      set(OpOutcome::failure(errc, std::move(message)));
      complete();
    }
    virtual void set(OpOutcome out) = 0;
  };

  template <class Handler, class Fn>
  struct JobImpl final : Job {
    JobImpl(Handler h, Fn f, const boost::asio::any_io_executor& fallback)
        : handler(std::move(h)),
          fn(std::move(f)),
          // Keeps the requester's io_context running until the outcome is delivered.
          home(boost::asio::prefer(boost::asio::get_associated_executor(handler, fallback),
                                   boost::asio::execution::outstanding_work.tracked)) {}
    void run(Slot& slot) override {
      try {
        out = (*fn)(slot);
      } catch (...) {
        error = std::current_exception();
        out = OpOutcome::failure(Errc::kInternal, "the operation threw an exception");
      }
    }
    void set(OpOutcome o) override { out = std::move(o); }
    void complete() override {
      // The work and what it captured go first, here: once the outcome is
      // posted the requester may resume (on another thread) and end, and
      // nothing the work holds may outlive that.
      fn.reset();
      boost::asio::post(
          home, [h = std::move(handler), e = error, o = std::move(out)]() mutable { std::move(h)(e, std::move(o)); });
    }
    Handler handler;
    std::optional<Fn> fn;
    boost::asio::any_io_executor home;
    OpOutcome out;
    std::exception_ptr error;
  };

  using JobPtr = std::unique_ptr<Job>;

  void submit(JobPtr job);
  // On a DB thread: runs `job` on slot `index`, gives the slot back, and
  // keeps going with the waiter it was handed to, if any.
  void run_on(std::size_t index, JobPtr job);
  std::optional<DeadlineTimer::Clock::time_point> expire_waiters(DeadlineTimer::Clock::time_point now);
  // With mutex_ held: detaches the waiters `ids`, counting them in `counter`.
  void take_waiters(const std::vector<std::uint64_t>& ids, std::vector<JobPtr>& out, std::uint64_t& counter);
  // With mutex_ held: the message a failed checkout gets.
  std::string failure_message(Errc errc) const;

  boost::asio::any_io_executor executor_;
  Options options_;
  std::vector<Slot> slots_;
  boost::asio::thread_pool threads_;
  std::unique_ptr<DeadlineTimer> timer_;

  mutable std::mutex mutex_;
  PoolCore core_;
  std::unordered_map<std::uint64_t, JobPtr> waiters_;
  bool timer_idle_ = true;
  bool closed_ = false;
  std::uint64_t checkouts_ = 0, timeouts_ = 0, shed_ = 0, rejected_ = 0;
  AtomicHistogram wait_us_;
  AtomicHistogram use_us_;
};

}  // namespace busylab
