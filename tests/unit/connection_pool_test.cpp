// The asynchronous pool: real io_context threads and coroutines. Timeouts are
// generous except where a timeout is the thing under test; nothing asserts
// how fast anything ran.

#include "pool/connection_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace busylab {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Lease = ConnectionPool::Lease;

// Runs `io` on `threads` threads until it runs out of work.
void run_threads(asio::io_context& io, int threads) {
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  for (auto& t : pool) t.join();
}

ConnectionPool::Options options(std::size_t size, std::chrono::milliseconds timeout = 10s,
                                std::size_t max_waiters = 1024) {
  ConnectionPool::Options o;
  o.size = size;
  o.max_waiters = max_waiters;
  o.checkout_timeout = timeout;
  return o;
}

// Completion for co_spawn: a coroutine that ends with an exception fails the
// test (rethrowing on an io thread would terminate the program instead).
void no_exception(const std::exception_ptr& e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    ADD_FAILURE() << "coroutine threw: " << ex.what();
  } catch (...) {
    ADD_FAILURE() << "coroutine threw a non-std exception";
  }
}

TEST(ConnectionPool, ManyConcurrentCheckoutsNeverExceedSize) {
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(4));
  constexpr int kTasks = 200;
  std::atomic<int> held{0}, max_held{0}, ok{0}, failed{0}, done{0};
  std::atomic<std::size_t> max_in_use{0};

  for (int i = 0; i < kTasks; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto [errc, lease] = co_await pool.async_checkout(asio::as_tuple(asio::use_awaitable));
          if (errc != Errc::kOk || !lease) {
            ++failed;
            ++done;
            co_return;
          }
          const int now = ++held;
          int seen = max_held.load();
          while (now > seen && !max_held.compare_exchange_weak(seen, now)) {
          }
          const std::size_t in_use = pool.in_use();
          std::size_t seen_in_use = max_in_use.load();
          while (in_use > seen_in_use && !max_in_use.compare_exchange_weak(seen_in_use, in_use)) {
          }
          asio::steady_timer timer(co_await asio::this_coro::executor, 1ms);
          co_await timer.async_wait(asio::use_awaitable);
          --held;
          ++ok;
          ++done;
          // The lease goes back when it leaves scope here.
        },
        no_exception);
  }
  run_threads(io, 4);

  EXPECT_EQ(done.load(), kTasks);
  EXPECT_EQ(ok.load(), kTasks);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_LE(max_held.load(), 4);
  EXPECT_GE(max_held.load(), 1);
  EXPECT_LE(max_in_use.load(), 4u);
  EXPECT_EQ(pool.in_use(), 0u);
  const nlohmann::json stats = pool.stats_json();
  EXPECT_EQ(stats["size"].get<int>(), 4);
  EXPECT_EQ(stats["in_use"].get<int>(), 0);
  EXPECT_EQ(stats["waiting"].get<int>(), 0);
  EXPECT_EQ(stats["checkouts"].get<int>(), kTasks);
  EXPECT_EQ(stats["checkout_timeouts"].get<int>(), 0);
  EXPECT_EQ(stats["rejected_queue_full"].get<int>(), 0);
  EXPECT_EQ(stats["shed"].get<int>(), 0);
  EXPECT_LE(stats["max_waiting_seen"].get<int>(), kTasks - 1);
}

TEST(ConnectionPool, WaitersAreServedInArrivalOrder) {
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1));
  // Coroutines started on one strand start in the order they were spawned, so
  // they ask for the slot in that order, whatever thread runs them.
  auto strand = asio::make_strand(io);
  constexpr int kTasks = 12;
  std::mutex mutex;
  std::vector<int> order;
  std::atomic<int> ok{0};
  for (int i = 0; i < kTasks; ++i) {
    asio::co_spawn(
        strand,
        [&, i]() -> asio::awaitable<void> {
          auto [errc, lease] = co_await pool.async_checkout(asio::as_tuple(asio::use_awaitable));
          if (errc != Errc::kOk) co_return;
          {
            std::lock_guard lock(mutex);
            order.push_back(i);
          }
          ++ok;
          asio::steady_timer timer(co_await asio::this_coro::executor, 1ms);
          co_await timer.async_wait(asio::use_awaitable);
        },
        no_exception);
  }
  run_threads(io, 3);
  ASSERT_EQ(ok.load(), kTasks);
  std::vector<int> expected(kTasks);
  for (int i = 0; i < kTasks; ++i) expected[i] = i;
  EXPECT_EQ(order, expected);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ConnectionPool, CallbackWaitersAreServedInArrivalOrder) {
  // The same with plain callbacks issued from this thread before io runs.
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1));
  std::mutex mutex;
  std::vector<int> order;
  constexpr int kWaiters = 8;
  for (int i = 0; i < kWaiters; ++i) {
    pool.async_checkout([&, i](Errc errc, Lease lease) {
      ASSERT_EQ(errc, Errc::kOk);
      ASSERT_TRUE(lease);
      std::lock_guard lock(mutex);
      order.push_back(i);
      // The lease is dropped here, which hands the slot to the next waiter.
    });
  }
  run_threads(io, 2);
  std::vector<int> expected(kWaiters);
  for (int i = 0; i < kWaiters; ++i) expected[i] = i;
  EXPECT_EQ(order, expected);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.stats_json()["max_waiting_seen"].get<int>(), kWaiters - 1);
}

TEST(ConnectionPool, CheckoutTimesOutWhileTheSlotIsHeld) {
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1, 50ms));
  Lease held;
  Errc first = Errc::kInternal;
  pool.async_checkout([&](Errc errc, Lease lease) {
    first = errc;
    held = std::move(lease);
  });
  Errc second = Errc::kInternal;
  bool second_had_lease = true;
  std::chrono::steady_clock::duration waited{};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const auto start = std::chrono::steady_clock::now();
        auto [errc, lease] = co_await pool.async_checkout(asio::as_tuple(asio::use_awaitable));
        waited = std::chrono::steady_clock::now() - start;
        second = errc;
        second_had_lease = static_cast<bool>(lease);
      },
      no_exception);
  run_threads(io, 2);

  EXPECT_EQ(first, Errc::kOk);
  EXPECT_TRUE(held);
  EXPECT_EQ(second, Errc::kPoolTimeout);
  EXPECT_FALSE(second_had_lease);
  EXPECT_GE(waited, 50ms) << "the timeout must not fire early";
  const nlohmann::json stats = pool.stats_json();
  EXPECT_EQ(stats["checkout_timeouts"].get<int>(), 1);
  EXPECT_EQ(stats["checkouts"].get<int>(), 1);
  EXPECT_EQ(stats["waiting"].get<int>(), 0);
  EXPECT_EQ(pool.in_use(), 1u);

  // The timed-out waiter left no trace: the slot goes back and is lent again.
  held.release();
  EXPECT_FALSE(held);
  EXPECT_EQ(pool.in_use(), 0u);
  Errc third = Errc::kInternal;
  io.restart();
  pool.async_checkout([&](Errc errc, Lease) { third = errc; });
  run_threads(io, 2);
  EXPECT_EQ(third, Errc::kOk);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ConnectionPool, LeaseComesBackWhenTheHolderThrows) {
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1));
  std::size_t in_use_inside = 0;
  std::exception_ptr error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto [errc, lease] = co_await pool.async_checkout(asio::as_tuple(asio::use_awaitable));
        if (errc != Errc::kOk) co_return;
        in_use_inside = pool.in_use();
        asio::steady_timer timer(co_await asio::this_coro::executor, 1ms);
        co_await timer.async_wait(asio::use_awaitable);
        throw std::runtime_error("handler bug");
      },
      [&](std::exception_ptr e) { error = std::move(e); });
  run_threads(io, 2);

  ASSERT_TRUE(error) << "the coroutine must have thrown";
  EXPECT_THROW(std::rethrow_exception(error), std::runtime_error);
  EXPECT_EQ(in_use_inside, 1u);
  EXPECT_EQ(pool.in_use(), 0u);

  io.restart();
  Errc next = Errc::kInternal;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto [errc, lease] = co_await pool.async_checkout(asio::as_tuple(asio::use_awaitable));
        next = errc;
      },
      no_exception);
  run_threads(io, 2);
  EXPECT_EQ(next, Errc::kOk);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ConnectionPool, ThrowingHolderHandsTheSlotToAWaiter) {
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1));
  auto strand = asio::make_strand(io);
  std::exception_ptr error;
  Errc waiter = Errc::kInternal;
  asio::co_spawn(
      strand,
      [&]() -> asio::awaitable<void> {
        auto [errc, lease] = co_await pool.async_checkout(asio::as_tuple(asio::use_awaitable));
        EXPECT_EQ(errc, Errc::kOk);
        EXPECT_TRUE(lease);
        asio::steady_timer timer(co_await asio::this_coro::executor, 5ms);
        co_await timer.async_wait(asio::use_awaitable);
        throw std::runtime_error("boom");
      },
      [&](std::exception_ptr e) { error = std::move(e); });
  asio::co_spawn(
      strand,
      [&]() -> asio::awaitable<void> {
        auto [errc, lease] = co_await pool.async_checkout(asio::as_tuple(asio::use_awaitable));
        waiter = errc;
      },
      no_exception);
  run_threads(io, 2);
  EXPECT_TRUE(error);
  EXPECT_EQ(waiter, Errc::kOk);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ConnectionPool, MaxWaitersReachedIsOverloaded) {
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1, 10s, 2));
  Lease held;
  std::vector<Errc> results(4, Errc::kInternal);
  // All four ask before io runs: one is granted, two wait, one is refused.
  pool.async_checkout([&](Errc e, Lease l) {
    results[0] = e;
    held = std::move(l);
  });
  pool.async_checkout([&](Errc e, Lease) { results[1] = e; });
  pool.async_checkout([&](Errc e, Lease) { results[2] = e; });
  pool.async_checkout([&](Errc e, Lease l) {
    results[3] = e;
    EXPECT_FALSE(l);
  });
  // Run what is ready (the grant and the refusal); the waiters keep waiting.
  io.poll();
  EXPECT_EQ(results[0], Errc::kOk);
  EXPECT_EQ(results[1], Errc::kInternal) << "still waiting";
  EXPECT_EQ(results[2], Errc::kInternal) << "still waiting";
  EXPECT_EQ(results[3], Errc::kOverloaded);
  nlohmann::json stats = pool.stats_json();
  EXPECT_EQ(stats["rejected_queue_full"].get<int>(), 1);
  EXPECT_EQ(stats["waiting"].get<int>(), 2);

  held.release();  // serves waiter 1, whose lease drop serves waiter 2
  run_threads(io, 2);
  EXPECT_EQ(results[1], Errc::kOk);
  EXPECT_EQ(results[2], Errc::kOk);
  stats = pool.stats_json();
  EXPECT_EQ(stats["checkouts"].get<int>(), 3);
  EXPECT_EQ(stats["checkout_timeouts"].get<int>(), 0);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ConnectionPool, OverloadedWithCoroutines) {
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1, 10s, 3));
  auto strand = asio::make_strand(io);
  std::atomic<int> ok{0}, overloaded{0}, other{0};
  constexpr int kTasks = 10;
  for (int i = 0; i < kTasks; ++i) {
    asio::co_spawn(
        strand,
        [&]() -> asio::awaitable<void> {
          auto [errc, lease] = co_await pool.async_checkout(asio::as_tuple(asio::use_awaitable));
          if (errc == Errc::kOk) {
            ++ok;
            asio::steady_timer timer(co_await asio::this_coro::executor, 20ms);
            co_await timer.async_wait(asio::use_awaitable);
          } else if (errc == Errc::kOverloaded) {
            ++overloaded;
          } else {
            ++other;
          }
        },
        no_exception);
  }
  run_threads(io, 2);
  // The ten start back to back on the strand (the holder's 20 ms timer cannot
  // complete in between): one holds, three wait, six are refused.
  EXPECT_EQ(ok.load() + overloaded.load(), kTasks);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(overloaded.load(), 6);
  EXPECT_EQ(pool.stats_json()["rejected_queue_full"].get<int>(), 6);
}

TEST(ConnectionPool, CloseKeepsWhatIsDoneAndRefusesLaterCheckouts) {
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(2));
  Lease held;
  Errc first = Errc::kInternal;
  pool.async_checkout([&](Errc e, Lease l) {
    first = e;
    held = std::move(l);
  });
  io.poll();
  ASSERT_EQ(first, Errc::kOk);
  ASSERT_TRUE(held);

  // Granted before close(); its completion has not run yet.
  Errc granted_before_close = Errc::kInternal;
  bool granted_lease = false;
  pool.async_checkout([&](Errc e, Lease l) {
    granted_before_close = e;
    granted_lease = static_cast<bool>(l);
  });

  pool.close();
  EXPECT_TRUE(held) << "close() does not take back a lent slot";

  Errc after_close = Errc::kInternal;
  bool after_close_lease = true;
  pool.async_checkout([&](Errc e, Lease l) {
    after_close = e;
    after_close_lease = static_cast<bool>(l);
  });
  io.restart();
  run_threads(io, 2);
  EXPECT_EQ(granted_before_close, Errc::kOk);
  EXPECT_TRUE(granted_lease);
  EXPECT_EQ(after_close, Errc::kShuttingDown);
  EXPECT_FALSE(after_close_lease);

  // A lease returned after close() still balances the books.
  EXPECT_EQ(pool.in_use(), 1u);
  held.release();
  EXPECT_EQ(pool.in_use(), 0u);
  pool.close();  // idempotent
}

TEST(ConnectionPool, CloseReleasesPendingWaitersWithoutGrantingThem) {
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1));
  Lease held;
  pool.async_checkout([&](Errc, Lease l) { held = std::move(l); });
  auto token = std::make_shared<int>(0);
  bool waiter_called = false;
  Errc waiter_errc = Errc::kInternal;
  pool.async_checkout([&, token](Errc e, Lease) {
    waiter_called = true;
    waiter_errc = e;
  });
  io.poll();
  ASSERT_TRUE(held);
  EXPECT_EQ(token.use_count(), 2) << "the waiter's handler is pending";

  pool.close();
  io.restart();
  run_threads(io, 2);  // returns: close() left no timer waiting
  // close() drops the waiters: their handlers are destroyed, not called (the
  // io threads are stopped by then), and never handed the slot.
  EXPECT_FALSE(waiter_called) << "called with " << to_string(waiter_errc);
  EXPECT_EQ(token.use_count(), 1) << "the waiter's handler must be destroyed, not leaked";
  EXPECT_EQ(pool.stats_json()["waiting"].get<int>(), 0);

  held.release();
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_FALSE(waiter_called);
}

TEST(ConnectionPool, GrantedWaiterIsNotTimedOutLater) {
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1, 100ms));
  // The first holder gives the slot back at once; the waiter gets it long
  // before its 100 ms timeout and keeps it past that timeout.
  pool.async_checkout([](Errc, Lease) {});
  Errc waiter = Errc::kInternal;
  Lease waiter_lease;
  pool.async_checkout([&](Errc e, Lease l) {
    waiter = e;
    waiter_lease = std::move(l);
  });
  asio::steady_timer keep_alive(io, 300ms);
  keep_alive.async_wait([](boost::system::error_code) {});
  run_threads(io, 2);
  EXPECT_EQ(waiter, Errc::kOk);
  EXPECT_TRUE(waiter_lease);
  EXPECT_EQ(pool.in_use(), 1u);
  const nlohmann::json stats = pool.stats_json();
  EXPECT_EQ(stats["checkout_timeouts"].get<int>(), 0);
  EXPECT_EQ(stats["checkouts"].get<int>(), 2);
  waiter_lease.release();
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ConnectionPool, QueueTargetShedsOldWaiters) {
  // target 10 ms, interval 50 ms. Each step waits until the previous waiter
  // is queued and then at least 120 ms more, and every condition below only
  // needs "at least this much time passed", which timers guarantee: slow
  // scheduling cannot change the outcome.
  ConnectionPool::Options o = options(1);
  o.queue_target = 10ms;
  o.queue_interval = 50ms;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), o);
  auto strand = asio::make_strand(io);
  std::mutex mutex;
  std::vector<std::pair<int, Errc>> results;
  auto waiter = [&](int id) -> asio::awaitable<void> {
    auto [errc, lease] = co_await pool.async_checkout(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(mutex);
    results.emplace_back(id, errc);
  };
  auto answered = [&] {
    std::lock_guard lock(mutex);
    return results.size();
  };
  asio::co_spawn(
      strand,
      [&]() -> asio::awaitable<void> {
        auto [errc, lease] = co_await pool.async_checkout(asio::as_tuple(asio::use_awaitable));
        EXPECT_EQ(errc, Errc::kOk);
        asio::steady_timer timer(co_await asio::this_coro::executor);
        auto sleep = [&](std::chrono::milliseconds d) {
          timer.expires_after(d);
          return timer.async_wait(asio::use_awaitable);
        };
        auto queued = [&] { return pool.stats_json()["waiting"].get<std::size_t>(); };

        asio::co_spawn(strand, waiter(1), no_exception);
        for (int i = 0; i < 10'000 && queued() < 1; ++i) co_await sleep(1ms);
        co_await sleep(120ms);
        // The first interval saw a wait of 0 (the holder's grant): this
        // checkout ends it without shedding.
        asio::co_spawn(strand, waiter(2), no_exception);
        for (int i = 0; i < 10'000 && queued() < 2; ++i) co_await sleep(1ms);
        EXPECT_EQ(queued(), 2u);
        EXPECT_EQ(answered(), 0u);
        co_await sleep(120ms);
        // Nobody got the slot in the second interval and waiter 1 has waited
        // >= 240 ms: this checkout sheds waiters 1 and 2 (older than 20 ms).
        asio::co_spawn(strand, waiter(3), no_exception);
        // Bounded, so a pool that never sheds fails the test instead of hanging it.
        for (int i = 0; i < 10'000 && answered() < 2; ++i) co_await sleep(1ms);
        // The lease goes back here and waiter 3 gets it.
      },
      no_exception);
  run_threads(io, 2);

  std::sort(results.begin(), results.end());
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0], std::make_pair(1, Errc::kOverloaded));
  EXPECT_EQ(results[1], std::make_pair(2, Errc::kOverloaded));
  EXPECT_EQ(results[2], std::make_pair(3, Errc::kOk));
  const nlohmann::json stats = pool.stats_json();
  EXPECT_EQ(stats["shed"].get<int>(), 2);
  EXPECT_EQ(stats["checkout_timeouts"].get<int>(), 0);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ConnectionPool, LeaseMoveTransfersOwnership) {
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(2));
  Lease a;
  pool.async_checkout([&](Errc, Lease l) { a = std::move(l); });
  io.run();
  ASSERT_TRUE(a);
  EXPECT_EQ(pool.in_use(), 1u);
  Lease b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_TRUE(b);
  EXPECT_EQ(pool.in_use(), 1u);
  EXPECT_EQ(pool.slot_for_setup(b.index()).get(), b.slot().get());
  a.release();  // no-op on an empty lease
  EXPECT_EQ(pool.in_use(), 1u);
  b = Lease();  // move-assigning releases the old slot
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace busylab
