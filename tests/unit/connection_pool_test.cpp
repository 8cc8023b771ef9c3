// The asynchronous pool with real threads: async_run lends a slot to a fn on
// one of the pool's DB threads and completes on the requester's executor.
//
// What holds a slot is a fn waiting at a Gate that the test opens, so who
// waits, who times out and who is served never depends on how fast anything
// ran. Waits for a condition poll it with a deadline (eventually), nothing
// asserts that something was fast, and timeouts are generous except where a
// timeout is the thing under test. Everything a test's fns touch is declared
// before its pool: a failed assertion returns early, and the pool's
// destructor joins DB threads that may still be running fns.

#include "pool/connection_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/unit/unit_util.hpp"

namespace busylab {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Slot = ConnectionPool::Slot;
using Clock = std::chrono::steady_clock;

// How long something that must happen may take before the test gives up on
// it: far more than it takes on a loaded machine under ThreadSanitizer, so
// only a bug reaches it (and fails the test instead of hanging it).
constexpr auto kPatience = 30s;

// Polls `done` until it holds or kPatience has passed; returns whether it held.
template <class Pred>
bool eventually(Pred done) {
  const auto deadline = Clock::now() + kPatience;
  while (!done()) {
    if (Clock::now() >= deadline) return done();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Runs `io` on `threads` threads until it runs out of work. False when it has
// not within kPatience (it is then stopped): a leaked handler or timer fails
// the test instead of hanging it. Only for tests whose queue timer cannot stay
// armed long (see run_until).
bool run_threads(asio::io_context& io, int threads) {
  io.restart();
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  const bool ran_out = eventually([&io] { return io.stopped(); });
  if (!ran_out) io.stop();
  for (auto& t : pool) t.join();
  return ran_out;
}

// `io` running on background threads while the test thread drives the pool;
// the work guard keeps them running while nothing is pending. Stopping (here
// or in the destructor) abandons whatever is still queued, so tests first
// wait for the answers they check.
class IoThreads {
 public:
  IoThreads(asio::io_context& io, int threads) : io_(io), work_(asio::make_work_guard(io)) {
    io_.restart();
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;
  ~IoThreads() { stop(); }

  void stop() {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  asio::io_context& io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

// Runs `io` on `threads` threads until `done()` holds (false when it has not
// within kPatience), then stops it. Waiting for io to run out of work instead
// would make a test last up to a checkout timeout: the queue's one timer stays
// armed for the deadline of the oldest waiter it last saw, even after that
// waiter was served.
template <class Pred>
bool run_until(asio::io_context& io, int threads, Pred done) {
  IoThreads running(io, threads);
  return eventually(done);
}

// A door that fns wait at, on their DB thread, until the test opens it; the
// fn keeps its slot meanwhile. The destructor opens it too, so that a failed
// assertion cannot leave the pool's close() joining a DB thread that waits
// forever: declare gates after the pool.
class Gate {
 public:
  Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  ~Gate() { open(); }

  void open() {
    {
      std::lock_guard lock(state_->mutex);
      state_->open = true;
    }
    state_->cv.notify_all();
  }

  // What a fn calls to wait; it shares the gate's state, so a fn still
  // waiting when the Gate is destroyed is safe. (A mutex and a condition
  // variable rather than a future or a latch: ThreadSanitizer models them.)
  auto waiter() const {
    return [state = state_] {
      std::unique_lock lock(state->mutex);
      state->cv.wait(lock, [&] { return state->open; });
    };
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    bool open = false;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

// What a test's fns (on DB threads) and completion handlers (on io threads)
// saw, read by the test thread. Requests are named by small integers.
class Log {
 public:
  struct Answer {
    bool called = false;
    std::exception_ptr error;
    OpOutcome outcome;
  };

  // The fn of request `id`: notes that it started (in which order, on which
  // thread, with which slot) and answers `id` as its value.
  auto fn(int id) {
    return [this, id](Slot& slot) {
      note_start(id, slot);
      return value(id);
    };
  }
  // The same, keeping its slot until `gate` opens.
  auto fn(int id, const Gate& gate) {
    return [this, id, wait = gate.waiter()](Slot& slot) {
      note_start(id, slot);
      wait();
      return value(id);
    };
  }
  // The completion handler of request `id`: a plain callback.
  auto handler(int id) {
    return [this, id](std::exception_ptr error, OpOutcome outcome) {
      std::lock_guard lock(mutex_);
      answers_[id] = Answer{true, std::move(error), std::move(outcome)};
    };
  }

  // The requests whose fn started, in the order they started.
  std::vector<int> started() const {
    std::lock_guard lock(mutex_);
    return order_;
  }
  bool ran(int id) const {
    std::lock_guard lock(mutex_);
    return runs_.count(id) > 0;
  }
  std::thread::id thread_of(int id) const {
    std::lock_guard lock(mutex_);
    auto it = runs_.find(id);
    return it == runs_.end() ? std::thread::id{} : it->second.thread;
  }
  const Slot* slot_of(int id) const {
    std::lock_guard lock(mutex_);
    auto it = runs_.find(id);
    return it == runs_.end() ? nullptr : it->second.slot;
  }
  bool answered(int id) const {
    std::lock_guard lock(mutex_);
    return answers_.count(id) > 0;
  }
  std::size_t answered() const {
    std::lock_guard lock(mutex_);
    return answers_.size();
  }
  Answer answer(int id) const {
    std::lock_guard lock(mutex_);
    auto it = answers_.find(id);
    return it == answers_.end() ? Answer{} : it->second;
  }

 private:
  struct Run {
    std::thread::id thread;
    const Slot* slot = nullptr;
  };

  static OpOutcome value(int id) {
    OpOutcome out;
    out.value = id;
    return out;
  }
  void note_start(int id, const Slot& slot) {
    std::lock_guard lock(mutex_);
    order_.push_back(id);
    runs_[id] = Run{std::this_thread::get_id(), &slot};
  }

  mutable std::mutex mutex_;
  std::vector<int> order_;
  std::map<int, Run> runs_;
  std::map<int, Answer> answers_;
};

// Request `id` ran and completed with its own value and no exception.
void expect_served(const Log& log, int id) {
  const Log::Answer a = log.answer(id);
  EXPECT_TRUE(a.called) << "request " << id << " was never answered";
  EXPECT_FALSE(a.error) << "request " << id;
  EXPECT_EQ(a.outcome.errc, Errc::kOk) << "request " << id << ": " << a.outcome.message;
  EXPECT_EQ(a.outcome.value, id) << "request " << id;
  EXPECT_TRUE(log.ran(id)) << "request " << id;
}

// Request `id` failed with `errc`, and its fn never ran.
void expect_refused(const Log& log, int id, Errc errc) {
  const Log::Answer a = log.answer(id);
  EXPECT_TRUE(a.called) << "request " << id << " was never answered";
  EXPECT_FALSE(a.error) << "request " << id;
  EXPECT_EQ(a.outcome.errc, errc) << "request " << id << ": " << a.outcome.message;
  EXPECT_FALSE(log.ran(id)) << "request " << id << " was refused, yet its fn ran";
}

ConnectionPool::Options options(std::size_t size, std::chrono::milliseconds timeout = 60s,
                                std::size_t max_waiters = 1024) {
  ConnectionPool::Options o;
  o.size = size;
  o.max_waiters = max_waiters;
  o.checkout_timeout = timeout;
  return o;
}

// One figure of stats_json().
std::int64_t figure(const ConnectionPool& pool, const char* name) {
  return pool.stats_json().at(name).get<std::int64_t>();
}

std::size_t waiting(const ConnectionPool& pool) {
  return pool.stats_json().at("waiting").get<std::size_t>();
}

template <class T>
void raise_to(std::atomic<T>& max, T value) {
  T seen = max.load();
  while (value > seen && !max.compare_exchange_weak(seen, value)) {
  }
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

TEST(ConnectionPool, ManyConcurrentRunsNeverExceedSize) {
  constexpr std::size_t kSize = 4;
  constexpr int kTasks = 200;
  std::atomic<int> running{0}, max_running{0}, not_exclusive{0}, ok{0}, failed{0}, done{0};
  std::atomic<std::size_t> max_in_use{0};
  std::array<std::atomic<bool>, kSize> busy{};
  std::vector<const Slot*> slots;
  const ConnectionPool* pool_seen_by_fns = nullptr;
  // On a DB thread, with a slot lent: counts the fns running at once, and
  // checks that the slot is one of the pool's and lent to this fn alone.
  auto work = [&](Slot& slot) {
    raise_to(max_running, ++running);
    raise_to(max_in_use, pool_seen_by_fns->in_use());
    const auto it = std::find(slots.begin(), slots.end(), &slot);
    const auto index = static_cast<std::size_t>(it - slots.begin());
    const bool exclusive = it != slots.end() && !busy[index].exchange(true);
    if (!exclusive) ++not_exclusive;
    std::this_thread::sleep_for(1ms);
    if (exclusive) busy[index] = false;  // before fn returns, hence before the slot does
    --running;
  };
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(kSize));
  pool_seen_by_fns = &pool;
  for (std::size_t i = 0; i < kSize; ++i) slots.push_back(&pool.slot_for_setup(i));

  for (int i = 0; i < kTasks; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          const OpOutcome out = co_await pool.async_run(
              [&work, i](Slot& slot) {
                work(slot);
                OpOutcome o;
                o.value = i;
                return o;
              },
              asio::use_awaitable);
          if (out.ok() && out.value == i) {
            ++ok;
          } else {
            ++failed;
          }
        },
        [&](const std::exception_ptr& e) {
          no_exception(e);
          ++done;
        });
  }
  ASSERT_TRUE(run_until(io, 4, [&] { return done == kTasks; }));

  EXPECT_EQ(ok.load(), kTasks);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(not_exclusive.load(), 0) << "a slot was lent to two fns at once, or was not one of the pool's";
  EXPECT_GE(max_running.load(), 1);
  EXPECT_LE(max_running.load(), static_cast<int>(kSize));
  EXPECT_LE(max_in_use.load(), kSize);
  // Every slot went back before its outcome was posted, so all are back now.
  EXPECT_EQ(pool.in_use(), 0u);
  const nlohmann::json stats = pool.stats_json();
  EXPECT_EQ(stats.at("size").get<std::size_t>(), kSize);
  EXPECT_EQ(stats.at("in_use").get<int>(), 0);
  EXPECT_EQ(stats.at("waiting").get<int>(), 0);
  EXPECT_EQ(stats.at("checkouts").get<int>(), kTasks);
  EXPECT_EQ(stats.at("checkout_timeouts").get<int>(), 0);
  EXPECT_EQ(stats.at("rejected_queue_full").get<int>(), 0);
  EXPECT_EQ(stats.at("shed").get<int>(), 0);
  // The first kSize requests found idle slots: they never waited.
  EXPECT_LE(stats.at("max_waiting_seen").get<int>(), kTasks - static_cast<int>(kSize));
  EXPECT_TRUE(stats.at("checkout_wait_ms").contains("p99"));
}

TEST(ConnectionPool, WaitersAreServedInArrivalOrder) {
  constexpr int kWaiters = 12;
  Log log;
  std::atomic<int> ok{0}, done{0};
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1));
  Gate gate;
  IoThreads threads(io, 3);
  // Request 0 keeps the only slot until the gate opens: everyone else queues.
  pool.async_run(log.fn(0, gate), log.handler(0));
  for (int i = 1; i <= kWaiters; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          const OpOutcome out = co_await pool.async_run(log.fn(i), asio::use_awaitable);
          if (out.ok() && out.value == i) ++ok;
        },
        [&](const std::exception_ptr& e) {
          no_exception(e);
          ++done;
        });
    // The coroutine asks on whichever io thread runs it: the next one may
    // only start once this one is in the queue, so the arrival order is known.
    ASSERT_TRUE(eventually([&] { return waiting(pool) == static_cast<std::size_t>(i); })) << "waiter " << i;
  }
  EXPECT_FALSE(log.answered(0)) << "request 0 is behind the closed gate";
  gate.open();
  ASSERT_TRUE(eventually([&] { return done == kWaiters && log.answered() == 1; }));

  std::vector<int> expected;
  for (int i = 0; i <= kWaiters; ++i) expected.push_back(i);
  EXPECT_EQ(log.started(), expected);
  EXPECT_EQ(ok.load(), kWaiters);
  expect_served(log, 0);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(figure(pool, "max_waiting_seen"), kWaiters);
  EXPECT_EQ(figure(pool, "checkouts"), kWaiters + 1);
  EXPECT_EQ(figure(pool, "checkout_timeouts"), 0);
}

TEST(ConnectionPool, CallbackWaitersAreServedInArrivalOrder) {
  // The same with plain callbacks asked from this thread. A callback request
  // is granted or queued inside async_run, so no polling is needed here.
  constexpr int kWaiters = 8;
  Log log;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1));
  Gate gate;
  pool.async_run(log.fn(0, gate), log.handler(0));
  for (int i = 1; i <= kWaiters; ++i) pool.async_run(log.fn(i), log.handler(i));
  EXPECT_EQ(waiting(pool), static_cast<std::size_t>(kWaiters));
  EXPECT_EQ(pool.in_use(), 1u);

  gate.open();
  // Each slot hand-off happens on the DB thread: every fn runs although no
  // io thread runs yet; only the answers wait for io.
  ASSERT_TRUE(eventually([&] { return log.started().size() == static_cast<std::size_t>(kWaiters + 1); }));
  EXPECT_EQ(log.answered(), 0u) << "answers are delivered on io, which is not running";
  ASSERT_TRUE(run_until(io, 2, [&] { return log.answered() == static_cast<std::size_t>(kWaiters + 1); }));

  std::vector<int> expected;
  for (int i = 0; i <= kWaiters; ++i) expected.push_back(i);
  EXPECT_EQ(log.started(), expected);
  for (int i = 0; i <= kWaiters; ++i) expect_served(log, i);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(figure(pool, "max_waiting_seen"), kWaiters);
  EXPECT_EQ(figure(pool, "checkouts"), kWaiters + 1);
}

TEST(ConnectionPool, RunTimesOutWhileTheSlotIsHeld) {
  Log log;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1, 50ms));
  Gate gate;
  IoThreads threads(io, 2);
  pool.async_run(log.fn(1, gate), log.handler(1));
  const auto asked = Clock::now();
  pool.async_run(log.fn(2), log.handler(2));
  // The gate stays closed, so the slot cannot come back: only the queue's
  // timer can answer request 2.
  ASSERT_TRUE(eventually([&] { return log.answered(2); }));
  const auto answered_after = Clock::now() - asked;
  EXPECT_FALSE(log.answered(1)) << "request 1 is still behind the gate";
  EXPECT_EQ(pool.in_use(), 1u);
  expect_refused(log, 2, Errc::kPoolTimeout);
  EXPECT_CONTAINS(log.answer(2).outcome.message, "pool.checkout_timeout_ms");
  // A lower bound only: the timer cannot fire before the deadline.
  EXPECT_GE(answered_after, 50ms) << "the timeout must not fire early";
  nlohmann::json stats = pool.stats_json();
  EXPECT_EQ(stats.at("checkout_timeouts").get<int>(), 1);
  EXPECT_EQ(stats.at("checkouts").get<int>(), 1);
  EXPECT_EQ(stats.at("waiting").get<int>(), 0);

  gate.open();
  ASSERT_TRUE(eventually([&] { return log.answered(1); }));
  expect_served(log, 1);
  EXPECT_EQ(pool.in_use(), 0u);

  // The timed-out request left no trace: the slot is lent again, and its fn
  // still never runs.
  pool.async_run(log.fn(3), log.handler(3));
  ASSERT_TRUE(eventually([&] { return log.answered(3); }));
  expect_served(log, 3);
  EXPECT_FALSE(log.ran(2));
  EXPECT_EQ(pool.in_use(), 0u);
  stats = pool.stats_json();
  EXPECT_EQ(stats.at("checkout_timeouts").get<int>(), 1);
  EXPECT_EQ(stats.at("checkouts").get<int>(), 2);
}

TEST(ConnectionPool, ExceptionFromFnReachesTheCoroutineAndTheSlotComesBack) {
  std::size_t in_use_inside = 0, in_use_after_catch = 99;
  std::string caught;
  bool tuple_error = false;
  std::exception_ptr escaped;
  std::int64_t later = 0;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1));
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await pool.async_run(
              [&](Slot&) -> OpOutcome {
                in_use_inside = pool.in_use();
                throw std::runtime_error("fn bug");
              },
              asio::use_awaitable);
          ADD_FAILURE() << "the fn's exception did not reach the coroutine";
        } catch (const std::runtime_error& e) {
          caught = e.what();
        }
        in_use_after_catch = pool.in_use();
        // With as_tuple the exception arrives as a value instead.
        const auto result = co_await pool.async_run([](Slot&) -> OpOutcome { throw std::runtime_error("again"); },
                                                    asio::as_tuple(asio::use_awaitable));
        tuple_error = static_cast<bool>(std::get<0>(result));
        // Not caught this time: it ends the coroutine, whose completion gets it.
        co_await pool.async_run([](Slot&) -> OpOutcome { throw std::logic_error("uncaught"); }, asio::use_awaitable);
        ADD_FAILURE() << "the fn's exception did not reach the coroutine";
      },
      [&](std::exception_ptr e) { escaped = std::move(e); });
  ASSERT_TRUE(run_threads(io, 2));

  EXPECT_EQ(caught, "fn bug");
  EXPECT_EQ(in_use_inside, 1u);
  EXPECT_EQ(in_use_after_catch, 0u) << "the slot comes back although the fn threw";
  EXPECT_TRUE(tuple_error);
  ASSERT_TRUE(escaped) << "the coroutine must have ended with the fn's exception";
  EXPECT_THROW(std::rethrow_exception(escaped), std::logic_error);
  EXPECT_EQ(pool.in_use(), 0u);

  // The slot is usable again.
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const OpOutcome out = co_await pool.async_run(
            [](Slot&) {
              OpOutcome o;
              o.value = 7;
              return o;
            },
            asio::use_awaitable);
        later = out.value;
      },
      no_exception);
  ASSERT_TRUE(run_threads(io, 2));
  EXPECT_EQ(later, 7);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(figure(pool, "checkouts"), 4);
}

TEST(ConnectionPool, ThrowingFnHandsTheSlotToAWaiter) {
  Log log;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1));
  Gate gate;
  pool.async_run(
      [wait = gate.waiter()](Slot&) -> OpOutcome {
        wait();
        throw std::runtime_error("boom");
      },
      log.handler(1));
  pool.async_run(log.fn(2), log.handler(2));
  ASSERT_EQ(waiting(pool), 1u) << "request 2 must wait for the thrower's slot";
  gate.open();
  ASSERT_TRUE(run_until(io, 2, [&] { return log.answered() == 2; }));

  const Log::Answer first = log.answer(1);
  ASSERT_TRUE(first.error);
  EXPECT_THROW(std::rethrow_exception(first.error), std::runtime_error);
  expect_served(log, 2);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(figure(pool, "checkouts"), 2);
}

TEST(ConnectionPool, SlotIsBackBeforeTheOutcomeIsDelivered) {
  // The slot goes back on the DB thread the moment fn returns, before the
  // outcome is posted: a completion handler that runs while no other request
  // exists sees no slot in use. One request at a time, many times, so that
  // an outcome posted before the release would be caught.
  constexpr int kRounds = 20;
  std::vector<std::size_t> in_use_seen;
  std::function<void(int)> ask;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(2));

  // Callbacks: each request is asked from the previous one's handler.
  ask = [&](int round) {
    pool.async_run([](Slot&) { return OpOutcome{}; },
                   [&, round](std::exception_ptr error, OpOutcome out) {
                     EXPECT_FALSE(error);
                     EXPECT_TRUE(out.ok()) << out.message;
                     in_use_seen.push_back(pool.in_use());
                     if (round + 1 < kRounds) ask(round + 1);
                   });
  };
  ask(0);
  ASSERT_TRUE(run_threads(io, 2));
  EXPECT_EQ(in_use_seen, std::vector<std::size_t>(static_cast<std::size_t>(kRounds), std::size_t{0}));

  // A coroutine, right after each co_await.
  in_use_seen.clear();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int round = 0; round < kRounds; ++round) {
          const OpOutcome out = co_await pool.async_run([](Slot&) { return OpOutcome{}; }, asio::use_awaitable);
          EXPECT_TRUE(out.ok()) << out.message;
          in_use_seen.push_back(pool.in_use());
        }
      },
      no_exception);
  ASSERT_TRUE(run_threads(io, 2));
  EXPECT_EQ(in_use_seen, std::vector<std::size_t>(static_cast<std::size_t>(kRounds), std::size_t{0}));
}

TEST(ConnectionPool, WaiterRunsOnTheDbThreadThatFreedItsSlot) {
  // No extra hop: the slot goes to the oldest waiter on the DB thread that
  // released it, and that thread runs the waiter's fn next. io never runs
  // before the end here, so the hand-off cannot go through it.
  Log log;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(2));
  const Slot* const slot0 = &pool.slot_for_setup(0);  // taken before any work runs
  const Slot* const slot1 = &pool.slot_for_setup(1);
  Gate gate1, gate2;
  pool.async_run(log.fn(1, gate1), log.handler(1));
  pool.async_run(log.fn(2, gate2), log.handler(2));
  pool.async_run(log.fn(3), log.handler(3));
  ASSERT_EQ(waiting(pool), 1u) << "both slots are lent: request 3 waits";
  // Both holders run at once, so on two DB threads, with two slots.
  ASSERT_TRUE(eventually([&] { return log.ran(1) && log.ran(2); }));
  EXPECT_NE(log.thread_of(1), log.thread_of(2));
  EXPECT_NE(log.slot_of(1), log.slot_of(2));
  EXPECT_TRUE(log.slot_of(1) == slot0 || log.slot_of(1) == slot1) << "fns are lent the pool's own slots";
  EXPECT_TRUE(log.slot_of(2) == slot0 || log.slot_of(2) == slot1) << "fns are lent the pool's own slots";

  gate1.open();
  ASSERT_TRUE(eventually([&] { return log.ran(3); }));
  EXPECT_EQ(log.thread_of(3), log.thread_of(1)) << "the waiter's fn must run on the thread that freed the slot";
  EXPECT_EQ(log.slot_of(3), log.slot_of(1)) << "the waiter gets the slot that came back";
  EXPECT_EQ(log.answered(), 0u);

  gate2.open();
  ASSERT_TRUE(run_until(io, 2, [&] { return log.answered() == 3; }));
  for (int i = 1; i <= 3; ++i) expect_served(log, i);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ConnectionPool, MaxWaitersReachedIsOverloaded) {
  Log log;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1, 60s, 2));
  Gate gate;
  // All four ask before io runs: one is granted, two wait, one is refused.
  pool.async_run(log.fn(0, gate), log.handler(0));
  pool.async_run(log.fn(1), log.handler(1));
  pool.async_run(log.fn(2), log.handler(2));
  pool.async_run(log.fn(3), log.handler(3));
  EXPECT_FALSE(log.answered(3)) << "never answered inside async_run";
  // Run what is ready, the refusal; nothing else can finish behind the gate.
  io.poll();
  ASSERT_TRUE(log.answered(3));
  expect_refused(log, 3, Errc::kOverloaded);
  EXPECT_CONTAINS(log.answer(3).outcome.message, "pool size 1");
  EXPECT_FALSE(log.answered(0));
  EXPECT_FALSE(log.answered(1)) << "still waiting";
  EXPECT_FALSE(log.answered(2)) << "still waiting";
  nlohmann::json stats = pool.stats_json();
  EXPECT_EQ(stats.at("rejected_queue_full").get<int>(), 1);
  EXPECT_EQ(stats.at("waiting").get<int>(), 2);

  gate.open();  // serves 1, then 2, on the same DB thread
  ASSERT_TRUE(run_until(io, 2, [&] { return log.answered() == 4; }));
  for (int i = 0; i <= 2; ++i) expect_served(log, i);
  EXPECT_FALSE(log.ran(3));
  stats = pool.stats_json();
  EXPECT_EQ(stats.at("checkouts").get<int>(), 3);
  EXPECT_EQ(stats.at("checkout_timeouts").get<int>(), 0);
  EXPECT_EQ(stats.at("rejected_queue_full").get<int>(), 1);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ConnectionPool, OverloadedWithCoroutines) {
  constexpr int kTasks = 10;
  std::atomic<int> ok{0}, overloaded{0}, other{0}, done{0};
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1, 60s, 3));
  Gate gate;
  IoThreads threads(io, 2);
  for (int i = 0; i < kTasks; ++i) {
    asio::co_spawn(
        io,
        [&, wait = gate.waiter()]() -> asio::awaitable<void> {
          // Every fn waits at the gate, so whichever coroutine asks first
          // keeps the slot until all ten have asked.
          // A named local, not a lambda temporary inside the co_await
          // expression: with GCC 12 that closure (holding a shared_ptr) was
          // destroyed once too often under ASan, the count dropped to zero
          // while the gate still held it (heap-use-after-free). Naming it
          // keeps one owner with a plain lifetime.
          auto fn = [wait](Slot&) {
            wait();
            return OpOutcome{};
          };
          const OpOutcome out = co_await pool.async_run(fn, asio::use_awaitable);
          if (out.errc == Errc::kOk) {
            ++ok;
          } else if (out.errc == Errc::kOverloaded) {
            ++overloaded;
          } else {
            ++other;
          }
        },
        [&](const std::exception_ptr& e) {
          no_exception(e);
          ++done;
        });
  }
  // One holds, three wait, six are refused, in whatever order they asked.
  ASSERT_TRUE(eventually([&] { return overloaded == 6 && waiting(pool) == 3; }));
  EXPECT_EQ(ok.load(), 0);
  EXPECT_EQ(pool.in_use(), 1u);
  gate.open();
  ASSERT_TRUE(eventually([&] { return done == kTasks; }));
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(overloaded.load(), 6);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(figure(pool, "rejected_queue_full"), 6);
  EXPECT_EQ(figure(pool, "checkouts"), 4);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ConnectionPool, CloseKeepsWhatIsDoneAndRefusesLaterRuns) {
  Log log;
  Errc coroutine_errc = Errc::kInternal;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(2));
  Gate gate;
  pool.async_run(log.fn(1, gate), log.handler(1));
  pool.async_run(log.fn(2), log.handler(2));
  // Both finish before close(); their outcomes wait in io's queue, since io
  // is not running.
  ASSERT_TRUE(eventually([&] { return log.ran(2); }));
  gate.open();
  ASSERT_TRUE(eventually([&] { return pool.in_use() == 0; }));
  EXPECT_EQ(log.answered(), 0u);

  pool.close();
  pool.async_run(log.fn(3), log.handler(3));
  EXPECT_FALSE(log.answered(3)) << "never answered inside async_run, even when refused";
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        coroutine_errc = (co_await pool.async_run(log.fn(4), asio::use_awaitable)).errc;
      },
      no_exception);
  ASSERT_TRUE(run_threads(io, 2));  // close() left nothing running

  expect_served(log, 1);
  expect_served(log, 2);
  expect_refused(log, 3, Errc::kShuttingDown);
  EXPECT_CONTAINS(log.answer(3).outcome.message, "shutting down");
  EXPECT_EQ(coroutine_errc, Errc::kShuttingDown);
  EXPECT_FALSE(log.ran(4));
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(figure(pool, "checkouts"), 2);
  pool.close();  // idempotent
}

TEST(ConnectionPool, CloseDropsPendingWaitersWithoutRunningThem) {
  Log log;
  auto token = std::make_shared<int>(0);
  bool waiter_called = false;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1));
  Gate gate;
  pool.async_run(log.fn(1, gate), log.handler(1));
  pool.async_run(log.fn(2), [&, token](std::exception_ptr, OpOutcome) { waiter_called = true; });
  ASSERT_EQ(waiting(pool), 1u);
  EXPECT_EQ(token.use_count(), 2) << "the waiter's handler is pending";
  ASSERT_TRUE(eventually([&] { return log.ran(1); }));

  // close() lets fn 1 finish and joins its DB thread, so it runs on another
  // thread until the gate opens. It drops the waiters before that, which the
  // queue shows: the gate opens only then, so the slot can no longer reach
  // request 2.
  std::thread closer([&pool] { pool.close(); });
  const bool dropped = eventually([&] { return waiting(pool) == 0; });
  gate.open();
  closer.join();
  ASSERT_TRUE(dropped) << "close() did not drop the waiter";

  EXPECT_FALSE(log.ran(2)) << "a dropped waiter is never granted";
  EXPECT_EQ(token.use_count(), 1) << "the waiter's handler must be destroyed, not leaked";
  EXPECT_EQ(pool.in_use(), 0u) << "fn 1 finished and its slot came back";
  // Returns: close() left no timer holding io. The handler of request 1,
  // which was running during close(), still gets its outcome.
  ASSERT_TRUE(run_threads(io, 2));
  EXPECT_FALSE(waiter_called) << "close() destroys the waiters' handlers without calling them";
  expect_served(log, 1);
  EXPECT_EQ(figure(pool, "waiting"), 0);
  EXPECT_EQ(figure(pool, "checkouts"), 1);
  EXPECT_EQ(figure(pool, "checkout_timeouts"), 0);
}

TEST(ConnectionPool, GrantedWaiterIsNotTimedOutLater) {
  // Request 2 is granted while queued and the queue's timer is armed for its
  // deadline; the timer must find nothing to time out when that deadline
  // passes. Only io runs the timer, and io runs only where this test says.
  constexpr auto kTimeout = 1s;
  Log log;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1, kTimeout));
  Gate gate;
  pool.async_run(log.fn(1, gate), log.handler(1));
  pool.async_run(log.fn(2), log.handler(2));
  const auto queued_by = Clock::now();
  // The timer's first round: it finds request 2 waiting, not yet due, and
  // arms itself for its deadline.
  io.poll();
  ASSERT_FALSE(log.answered(2)) << "request 2 timed out before it could be granted (this thread stalled for "
                                << kTimeout.count() << " s?)";
  gate.open();
  ASSERT_TRUE(eventually([&] { return log.ran(2); }));
  EXPECT_EQ(waiting(pool), 0u);

  // Past request 2's deadline, let io run until it has nothing left: the
  // armed timer fires, finds the queue empty and goes idle.
  std::this_thread::sleep_until(queued_by + kTimeout);
  ASSERT_TRUE(run_threads(io, 2));
  expect_served(log, 1);
  expect_served(log, 2);
  EXPECT_EQ(pool.in_use(), 0u);
  const nlohmann::json stats = pool.stats_json();
  EXPECT_EQ(stats.at("checkout_timeouts").get<int>(), 0);
  EXPECT_EQ(stats.at("checkouts").get<int>(), 2);
}

TEST(ConnectionPool, SlotBackAfterTheDeadlineButBeforeTheTimerGoesToTheWaiter) {
  // Request 2's deadline has passed when the slot comes back, but the timer
  // has not run yet (only io runs it, and io is not running): the release
  // hands the slot over, and the timer, when it does run, finds nothing to
  // time out. The request is answered once, served.
  constexpr auto kTimeout = 50ms;
  Log log;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1, kTimeout));
  Gate gate;
  pool.async_run(log.fn(1, gate), log.handler(1));
  pool.async_run(log.fn(2), log.handler(2));
  const auto queued_by = Clock::now();
  io.poll();  // the timer arms itself for request 2's deadline
  ASSERT_FALSE(log.answered(2));
  std::this_thread::sleep_until(queued_by + kTimeout);  // past the deadline: that is the case under test
  gate.open();
  ASSERT_TRUE(eventually([&] { return log.ran(2); }));
  ASSERT_TRUE(run_threads(io, 2));
  expect_served(log, 1);
  expect_served(log, 2);
  EXPECT_EQ(figure(pool, "checkout_timeouts"), 0);
  EXPECT_EQ(figure(pool, "checkouts"), 2);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ConnectionPool, TimeoutAndHandOffAtTheSameInstantAnswerEachRequestOnce) {
  // The checkout timeout equals the time a request holds the slot, so the
  // queue's timer fires about when the slot comes back, over and over, on
  // different threads: the timer on io threads, the hand-off on the DB
  // thread. Whichever takes a waiter first decides its outcome. Every request
  // is answered exactly once; a request that timed out never ran; one that
  // ran was served; no slot is lost or lent twice.
  constexpr int kRounds = 150;
  constexpr int kPerRound = 3;
  constexpr int kRequests = kRounds * kPerRound;
  constexpr auto kHold = 2ms;
  std::vector<std::atomic<int>> answers(kRequests), runs(kRequests), served(kRequests);
  std::atomic<int> inside{0}, max_inside{0};
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), options(1, kHold));
  IoThreads threads(io, 2);
  for (int round = 0; round < kRounds; ++round) {
    for (int k = 0; k < kPerRound; ++k) {
      const int id = round * kPerRound + k;
      pool.async_run(
          [&, id](Slot&) {
            raise_to(max_inside, ++inside);
            ++runs[id];
            // 1.7 to 2.3 ms: the release lands just before, at, or just after
            // the waiters' deadline.
            std::this_thread::sleep_for(kHold + (id % 7 - 3) * 100us);
            --inside;
            return OpOutcome{};
          },
          [&, id](std::exception_ptr error, OpOutcome out) {
            EXPECT_FALSE(error);
            ++answers[id];
            if (out.ok()) {
              ++served[id];
            } else {
              EXPECT_EQ(out.errc, Errc::kPoolTimeout) << out.message;
            }
          });
    }
    // The round's requests are all answered before the next round starts.
    ASSERT_TRUE(eventually([&] {
      for (int k = 0; k < kPerRound; ++k) {
        if (answers[round * kPerRound + k] == 0) return false;
      }
      return true;
    })) << "round "
        << round << " not answered";
  }
  ASSERT_TRUE(eventually([&] { return pool.in_use() == 0; }));
  int timed_out = 0, ran = 0;
  for (int id = 0; id < kRequests; ++id) {
    EXPECT_EQ(answers[id], 1) << "request " << id;
    EXPECT_LE(runs[id], 1) << "request " << id;
    EXPECT_EQ(runs[id], served[id]) << "request " << id << ": ran but timed out, or served without running";
    ran += runs[id];
    timed_out += served[id] == 0 ? 1 : 0;
  }
  EXPECT_EQ(max_inside, 1) << "the one slot was lent twice at once";
  EXPECT_EQ(figure(pool, "checkouts"), ran);
  EXPECT_EQ(figure(pool, "checkout_timeouts"), timed_out);
  EXPECT_EQ(figure(pool, "waiting"), 0);
  // Every recorded wait is a real one (a wait measured against a clock read
  // before the waiter queued would wrap around to 584,000 years).
  EXPECT_LT(pool.stats_json().at("checkout_wait_ms").at("max").get<double>(), 60000.0);
  // And the pool still lends its slot.
  std::atomic<bool> after{false};
  pool.async_run([](Slot&) { return OpOutcome{}; }, [&](std::exception_ptr, OpOutcome out) { after = out.ok(); });
  EXPECT_TRUE(eventually([&] { return after.load(); }));
  std::printf("timeout-vs-hand-off: %d requests, %d served, %d timed out\n", kRequests, ran, timed_out);
}

TEST(ConnectionPool, QueueTargetShedsOldWaiters) {
  // target 10 ms, interval 50 ms. Request 0 holds the slot while requests 1
  // and 2 queue 120 ms apart, and is let go 120 ms after request 2 queued.
  // By then an interval has ended with nobody served and the oldest waiter
  // over the target, so 1 and 2 (older than 20 ms) are shed: by the checkout
  // of 2 (1 only) or at the latest by the release of the slot. Every step
  // only needs "at least this much time passed", so slow scheduling cannot
  // change the outcome, and which event shed request 1 is not checked.
  Log log;
  ConnectionPool::Options o = options(1);
  o.queue_target = 10ms;
  o.queue_interval = 50ms;
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), o);
  Gate gate;
  pool.async_run(log.fn(0, gate), log.handler(0));
  pool.async_run(log.fn(1), log.handler(1));
  std::this_thread::sleep_until(Clock::now() + 120ms);  // time passing is what sheds
  pool.async_run(log.fn(2), log.handler(2));
  std::this_thread::sleep_until(Clock::now() + 120ms);
  gate.open();
  ASSERT_TRUE(run_until(io, 2, [&] { return log.answered() == 3; }));

  expect_served(log, 0);
  expect_refused(log, 1, Errc::kOverloaded);
  expect_refused(log, 2, Errc::kOverloaded);
  EXPECT_EQ(waiting(pool), 0u);
  EXPECT_EQ(pool.in_use(), 0u);

  // Nobody waits now: a new request is granted at once, not shed.
  pool.async_run(log.fn(3), log.handler(3));
  ASSERT_TRUE(run_until(io, 2, [&] { return log.answered() == 4; }));
  expect_served(log, 3);
  const nlohmann::json stats = pool.stats_json();
  EXPECT_EQ(stats.at("shed").get<int>(), 2);
  EXPECT_EQ(stats.at("checkout_timeouts").get<int>(), 0);
  EXPECT_EQ(stats.at("rejected_queue_full").get<int>(), 0);
  EXPECT_EQ(stats.at("checkouts").get<int>(), 2);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ConnectionPool, CompletesOnTheHandlersExecutorWhichItKeepsBusy) {
  // The handler is bound to another io_context than the pool's (which never
  // runs here). That context has nothing else to do, so its run() returns
  // only once the outcome is delivered if the pending request counts as its
  // work; otherwise it returns at once and the test fails.
  bool called = false, on_its_executor = false;
  std::int64_t value = 0;
  asio::io_context io;
  asio::io_context other;
  ConnectionPool pool(io.get_executor(), options(1));
  pool.async_run(
      [](Slot&) {
        OpOutcome o;
        o.value = 5;
        return o;
      },
      asio::bind_executor(other, [&](std::exception_ptr error, OpOutcome out) {
        EXPECT_FALSE(error);
        called = true;
        on_its_executor = other.get_executor().running_in_this_thread();
        value = out.value;
      }));
  ASSERT_TRUE(run_threads(other, 1));
  EXPECT_TRUE(called);
  EXPECT_TRUE(on_its_executor);
  EXPECT_EQ(value, 5);
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace busylab
