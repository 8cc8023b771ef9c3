#pragma once
// A fixed set of connection slots lent to coroutines, ecto/DBConnection style:
// FIFO among waiters, a checkout timeout, a bounded waiter queue, optional
// queue-target shedding. The decisions live in PoolCore; this class adds the
// mutex, the timers and the completion handlers. A Lease returns its slot in
// its destructor, so a throwing handler cannot keep a connection.

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/histogram.hpp"
#include "pool/operation.hpp"
#include "pool/pool_core.hpp"

namespace busylab {

class Database;

class ConnectionPool {
 public:
  /// A slot's connection; null until opened, and after a fatal error.
  using Slot = std::unique_ptr<Database>;

  /// Move-only right to one slot. Thread-safe to destroy from any thread.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), index_(other.index_) {}
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        release();
        pool_ = std::exchange(other.pool_, nullptr);
        index_ = other.index_;
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }

    explicit operator bool() const { return pool_ != nullptr; }
    Slot& slot();
    std::size_t index() const { return index_; }
    /// Gives the slot back now (no-op when empty).
    void release();

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::size_t index) : pool_(pool), index_(index) {}
    ConnectionPool* pool_ = nullptr;
    std::size_t index_ = 0;
  };

  /// Completion: kOk with a lease, or kPoolTimeout / kOverloaded /
  /// kShuttingDown with an empty one.
  using Signature = void(Errc, Lease);

  struct Options {
    std::size_t size = 1;
    std::size_t max_waiters = 1024;
    std::chrono::milliseconds checkout_timeout{5000};
    std::chrono::milliseconds queue_target{0};
    std::chrono::milliseconds queue_interval{0};
  };

  /// `executor` runs the checkout timers. The pool must outlive every lease.
  ConnectionPool(boost::asio::any_io_executor executor, Options options);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;
  ~ConnectionPool();

  /// Asks for a slot. Completes on the handler's associated executor, never
  /// inside this call. Thread-safe.
  template <class Token>
  auto async_checkout(Token&& token) {
    return boost::asio::async_initiate<Token, Signature>(
        [this](auto handler) { initiate(boost::asio::any_completion_handler<Signature>(std::move(handler))); }, token);
  }

  /// Access to every slot's connection, for start-up (opening them) only;
  /// not thread-safe against concurrent leases.
  Slot& slot_for_setup(std::size_t index) { return slots_[index]; }

  /// Drops every waiter (their handlers are destroyed, not called: the io
  /// threads are already stopped) and answers later checkouts with
  /// kShuttingDown. Call it after the io threads have stopped, before the
  /// io_context is destroyed.
  void close();

  /// size, in_use, waiting, max_waiting_seen, checkout wait percentiles,
  /// timeouts, shed and rejected counts. Thread-safe.
  nlohmann::json stats_json() const;
  std::size_t in_use() const;
  std::size_t size() const { return slots_.size(); }

  struct Brief {
    std::size_t size, in_use, waiting;
  };
  /// The three figures an error message needs, without the histogram copy.
  Brief brief() const;

 private:
  struct Waiter {
    boost::asio::any_completion_handler<Signature> handler;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };

  void initiate(boost::asio::any_completion_handler<Signature> handler);
  void give_back(std::size_t index);
  void on_timeout(std::uint64_t waiter);
  // Called with mutex_ held: detaches shed waiters and counts them.
  void collect_shed(const std::vector<std::uint64_t>& ids,
                    std::vector<boost::asio::any_completion_handler<Signature>>& out);
  void complete(boost::asio::any_completion_handler<Signature> handler, Errc errc, Lease lease);
  void cancel_timer(std::shared_ptr<boost::asio::steady_timer> timer);

  boost::asio::any_io_executor executor_;
  Options options_;
  std::vector<Slot> slots_;

  mutable std::mutex mutex_;
  PoolCore core_;
  std::unordered_map<std::uint64_t, Waiter> waiters_;
  bool closed_ = false;
  std::uint64_t checkouts_ = 0, timeouts_ = 0, shed_ = 0, rejected_ = 0;
  AtomicHistogram wait_us_;
};

}  // namespace busylab
