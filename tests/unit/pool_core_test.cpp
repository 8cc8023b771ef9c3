// The pool's sans-io decisions, driven with fake time points: capacity, FIFO
// hand-off, the waiter bound, cancellation and queue-target shedding.

#include "pool/pool_core.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <set>
#include <vector>

namespace busylab {
namespace {

using namespace std::chrono_literals;
using Outcome = PoolCore::Outcome;
using Ids = std::vector<std::uint64_t>;

// A fake clock: an arbitrary non-zero origin (zero means "unset" to the core).
const PoolCore::TimePoint kT0 = PoolCore::TimePoint{} + std::chrono::hours(1000);

PoolCore::TimePoint at(std::chrono::milliseconds ms) {
  return kT0 + ms;
}

PoolCore make_core(std::size_t size, std::size_t max_waiters = 1024, PoolCore::Duration target = {},
                   PoolCore::Duration interval = {}) {
  PoolCore::Options o;
  o.size = size;
  o.max_waiters = max_waiters;
  o.queue_target = target;
  o.queue_interval = interval;
  return PoolCore(o);
}

// Shedding set-up used below: target 10 ms, interval 100 ms, one slot.
PoolCore shedding_core() {
  return make_core(1, 1024, 10ms, 100ms);
}

TEST(PoolCore, GrantsImmediatelyWhileSlotsAreIdle) {
  PoolCore core = make_core(3);
  std::set<std::size_t> slots;
  for (int i = 0; i < 3; ++i) {
    const auto r = core.checkout(at(0ms));
    ASSERT_EQ(r.outcome, Outcome::kGranted);
    EXPECT_EQ(r.grant.waiter, 0u);
    EXPECT_EQ(r.grant.waited, PoolCore::Duration::zero());
    EXPECT_LT(r.grant.slot, 3u);
    slots.insert(r.grant.slot);
    EXPECT_TRUE(r.shed.empty());
  }
  EXPECT_EQ(slots.size(), 3u) << "each grant gets its own slot";
  EXPECT_EQ(core.in_use(), 3u);
  EXPECT_EQ(core.waiting(), 0u);
}

TEST(PoolCore, NeverGrantsMoreThanSize) {
  PoolCore core = make_core(3);
  int granted = 0, queued = 0;
  std::set<std::uint64_t> waiter_ids;
  for (int i = 0; i < 10; ++i) {
    const auto r = core.checkout(at(std::chrono::milliseconds(i)));
    if (r.outcome == Outcome::kGranted) ++granted;
    if (r.outcome == Outcome::kQueued) {
      ++queued;
      EXPECT_NE(r.waiter, 0u);
      waiter_ids.insert(r.waiter);
    }
    EXPECT_LE(core.in_use(), 3u);
  }
  EXPECT_EQ(granted, 3);
  EXPECT_EQ(queued, 7);
  EXPECT_EQ(waiter_ids.size(), 7u) << "waiter ids are unique";
  EXPECT_EQ(core.in_use(), 3u);
  EXPECT_EQ(core.waiting(), 7u);
  EXPECT_EQ(core.max_waiting_seen(), 7u);
  EXPECT_EQ(core.size(), 3u);
}

TEST(PoolCore, ReleaseWithoutWaitersMakesTheSlotIdleAgain) {
  PoolCore core = make_core(2);
  const auto a = core.checkout(at(0ms));
  const auto b = core.checkout(at(0ms));
  ASSERT_EQ(a.outcome, Outcome::kGranted);
  ASSERT_EQ(b.outcome, Outcome::kGranted);
  const auto r = core.release(a.grant.slot, at(1ms));
  EXPECT_FALSE(r.handoff.has_value());
  EXPECT_EQ(core.in_use(), 1u);
  const auto c = core.checkout(at(2ms));
  ASSERT_EQ(c.outcome, Outcome::kGranted);
  EXPECT_EQ(c.grant.slot, a.grant.slot) << "the freed slot is the one handed out";
  EXPECT_EQ(core.in_use(), 2u);
  core.release(b.grant.slot, at(3ms));
  core.release(c.grant.slot, at(3ms));
  EXPECT_EQ(core.in_use(), 0u);
}

TEST(PoolCore, CancelAllEmptiesTheQueueAndAReleasedSlotGoesIdle) {
  PoolCore core = make_core(1);
  const auto first = core.checkout(kT0);
  ASSERT_EQ(first.outcome, Outcome::kGranted);
  std::vector<std::uint64_t> queued;
  for (int i = 0; i < 5; ++i) {
    const auto r = core.checkout(kT0);
    ASSERT_EQ(r.outcome, Outcome::kQueued);
    queued.push_back(r.waiter);
  }
  EXPECT_EQ(core.cancel_all(), 5u);
  EXPECT_EQ(core.waiting(), 0u);
  for (auto id : queued) EXPECT_FALSE(core.cancel(id)) << "waiter " << id << " is gone";
  const auto back = core.release(first.grant.slot, kT0);
  EXPECT_FALSE(back.handoff.has_value());
  EXPECT_EQ(core.in_use(), 0u);
  EXPECT_EQ(core.cancel_all(), 0u);
}

TEST(PoolCore, WaitersAreServedInFifoOrder) {
  PoolCore core = make_core(1);
  const auto first = core.checkout(at(0ms));
  ASSERT_EQ(first.outcome, Outcome::kGranted);
  Ids queued;
  for (int i = 0; i < 5; ++i) {
    const auto r = core.checkout(at(std::chrono::milliseconds(10 + i)));
    ASSERT_EQ(r.outcome, Outcome::kQueued);
    queued.push_back(r.waiter);
  }
  Ids served;
  std::size_t slot = first.grant.slot;
  for (int i = 0; i < 5; ++i) {
    const auto now = at(std::chrono::milliseconds(100 + 10 * i));
    const auto r = core.release(slot, now);
    ASSERT_TRUE(r.handoff.has_value());
    served.push_back(r.handoff->waiter);
    EXPECT_EQ(r.handoff->slot, slot) << "the released slot goes straight to the waiter";
    // Waiter i queued at 10+i ms and is served at 100+10i ms.
    EXPECT_EQ(r.handoff->waited, std::chrono::milliseconds(90 + 9 * i));
    EXPECT_EQ(core.in_use(), 1u);
    EXPECT_EQ(core.waiting(), static_cast<std::size_t>(4 - i));
    slot = r.handoff->slot;
  }
  EXPECT_EQ(served, queued);
  const auto last = core.release(slot, at(1s));
  EXPECT_FALSE(last.handoff.has_value());
  EXPECT_EQ(core.in_use(), 0u);
}

TEST(PoolCore, NewArrivalQueuesBehindExistingWaiters) {
  PoolCore core = make_core(1);
  const auto a = core.checkout(at(0ms));
  const auto w1 = core.checkout(at(1ms));
  ASSERT_EQ(w1.outcome, Outcome::kQueued);
  const auto r = core.release(a.grant.slot, at(2ms));
  ASSERT_TRUE(r.handoff);
  EXPECT_EQ(r.handoff->waiter, w1.waiter);
  const auto late = core.checkout(at(3ms));
  EXPECT_EQ(late.outcome, Outcome::kQueued) << "the slot is held by w1";
}

TEST(PoolCore, MaxWaitersRejects) {
  PoolCore core = make_core(1, 2);
  EXPECT_EQ(core.checkout(at(0ms)).outcome, Outcome::kGranted);
  EXPECT_EQ(core.checkout(at(1ms)).outcome, Outcome::kQueued);
  EXPECT_EQ(core.checkout(at(2ms)).outcome, Outcome::kQueued);
  const auto rejected = core.checkout(at(3ms));
  EXPECT_EQ(rejected.outcome, Outcome::kRejected);
  EXPECT_EQ(rejected.waiter, 0u);
  EXPECT_EQ(core.waiting(), 2u);
  EXPECT_EQ(core.max_waiting_seen(), 2u);
  // Once a waiter is served there is room again.
  const auto r = core.release(0, at(4ms));
  ASSERT_TRUE(r.handoff);
  EXPECT_EQ(core.checkout(at(5ms)).outcome, Outcome::kQueued);
  EXPECT_EQ(core.checkout(at(6ms)).outcome, Outcome::kRejected);
}

TEST(PoolCore, MaxWaitingSeenIsAHighWaterMark) {
  PoolCore core = make_core(1);
  const auto a = core.checkout(at(0ms));
  core.checkout(at(1ms));
  core.checkout(at(1ms));
  core.checkout(at(1ms));
  EXPECT_EQ(core.max_waiting_seen(), 3u);
  auto r = core.release(a.grant.slot, at(2ms));
  r = core.release(r.handoff->slot, at(3ms));
  EXPECT_EQ(core.waiting(), 1u);
  EXPECT_EQ(core.max_waiting_seen(), 3u);
}

TEST(PoolCore, CancelQueuedWaiter) {
  PoolCore core = make_core(1);
  const auto a = core.checkout(at(0ms));
  const auto w1 = core.checkout(at(1ms));
  const auto w2 = core.checkout(at(2ms));
  const auto w3 = core.checkout(at(3ms));
  EXPECT_TRUE(core.cancel(w2.waiter));
  EXPECT_EQ(core.waiting(), 2u);
  EXPECT_FALSE(core.cancel(w2.waiter)) << "a second cancel finds nothing";
  // The cancelled waiter is skipped; order of the rest is kept.
  auto r = core.release(a.grant.slot, at(10ms));
  ASSERT_TRUE(r.handoff);
  EXPECT_EQ(r.handoff->waiter, w1.waiter);
  r = core.release(r.handoff->slot, at(11ms));
  ASSERT_TRUE(r.handoff);
  EXPECT_EQ(r.handoff->waiter, w3.waiter);
  r = core.release(r.handoff->slot, at(12ms));
  EXPECT_FALSE(r.handoff);
  EXPECT_EQ(core.in_use(), 0u);
}

TEST(PoolCore, CancelGrantedWaiterReturnsFalse) {
  PoolCore core = make_core(1);
  const auto a = core.checkout(at(0ms));
  const auto w1 = core.checkout(at(1ms));
  const auto r = core.release(a.grant.slot, at(2ms));
  ASSERT_TRUE(r.handoff);
  ASSERT_EQ(r.handoff->waiter, w1.waiter);
  EXPECT_FALSE(core.cancel(w1.waiter));
  EXPECT_EQ(core.in_use(), 1u) << "a failed cancel must not touch the granted slot";
  EXPECT_FALSE(core.cancel(0));
  EXPECT_FALSE(core.cancel(12345));
}

TEST(PoolCore, CancelLastWaiterThenReleaseMakesSlotIdle) {
  PoolCore core = make_core(1);
  const auto a = core.checkout(at(0ms));
  const auto w1 = core.checkout(at(1ms));
  ASSERT_TRUE(core.cancel(w1.waiter));
  const auto r = core.release(a.grant.slot, at(2ms));
  EXPECT_FALSE(r.handoff);
  EXPECT_EQ(core.in_use(), 0u);
  EXPECT_EQ(core.checkout(at(3ms)).outcome, Outcome::kGranted);
}

// ---- shedding ------------------------------------------------------------------

TEST(PoolCoreShedding, OldWaitersAreShedAfterASlowInterval) {
  PoolCore core = shedding_core();
  // Interval 1 [0, 100): an immediate grant (wait 0) keeps it healthy.
  const auto a = core.checkout(at(0ms));
  ASSERT_EQ(a.outcome, Outcome::kGranted);
  const auto w1 = core.checkout(at(10ms));
  const auto w2 = core.checkout(at(20ms));
  EXPECT_TRUE(core.poll(at(100ms)).empty()) << "the first interval's smallest wait was 0";
  EXPECT_EQ(core.waiting(), 2u);

  // Interval 2 [100, 200): the only grant waited 140 ms, far above the target.
  const auto r = core.release(a.grant.slot, at(150ms));
  ASSERT_TRUE(r.handoff);
  EXPECT_EQ(r.handoff->waiter, w1.waiter);
  EXPECT_EQ(r.handoff->waited, 140ms);
  const auto w3 = core.checkout(at(170ms));  // 30 ms old at 200: older than 2 x target
  const auto w4 = core.checkout(at(190ms));  // 10 ms old at 200: kept
  ASSERT_EQ(w3.outcome, Outcome::kQueued);
  ASSERT_EQ(w4.outcome, Outcome::kQueued);
  EXPECT_TRUE(core.poll(at(199ms)).empty()) << "the interval is not over yet";

  const Ids shed = core.poll(at(200ms));
  EXPECT_EQ(shed, (Ids{w2.waiter, w3.waiter}));
  EXPECT_EQ(core.waiting(), 1u);
  EXPECT_FALSE(core.cancel(w2.waiter)) << "a shed waiter is gone";
  EXPECT_TRUE(core.cancel(w4.waiter)) << "the young waiter is still queued";
}

TEST(PoolCoreShedding, WaiterExactlyAtTwiceTargetIsKept) {
  PoolCore core = shedding_core();
  const auto a = core.checkout(at(0ms));
  EXPECT_TRUE(core.poll(at(100ms)).empty());
  // Interval [100, 200) with no grant at all: its delay is the oldest wait.
  const auto w1 = core.checkout(at(110ms));  // 90 ms at 200
  const auto w2 = core.checkout(at(180ms));  // exactly 20 ms at 200
  const Ids shed = core.poll(at(200ms));
  EXPECT_EQ(shed, (Ids{w1.waiter}));
  EXPECT_TRUE(core.cancel(w2.waiter));
  (void)a;
}

TEST(PoolCoreShedding, NoSheddingWhenWaitsStayUnderTarget) {
  PoolCore core = shedding_core();
  const auto a = core.checkout(at(0ms));
  EXPECT_TRUE(core.poll(at(100ms)).empty());
  // Interval [100, 200): a waiter is served after 4 ms (under the 10 ms target)...
  const auto w1 = core.checkout(at(101ms));
  const auto r = core.release(a.grant.slot, at(105ms));
  ASSERT_TRUE(r.handoff);
  EXPECT_EQ(r.handoff->waiter, w1.waiter);
  // ...so a waiter that is old by the end of it is still not shed.
  const auto w2 = core.checkout(at(150ms));
  EXPECT_TRUE(core.poll(at(200ms)).empty());
  EXPECT_EQ(core.waiting(), 1u);
  const auto r2 = core.release(r.handoff->slot, at(201ms));
  ASSERT_TRUE(r2.handoff);
  EXPECT_EQ(r2.handoff->waiter, w2.waiter);
}

TEST(PoolCoreShedding, CheckoutAndReleaseAlsoShed) {
  PoolCore core = shedding_core();
  const auto a = core.checkout(at(0ms));
  EXPECT_TRUE(core.poll(at(100ms)).empty());
  const auto w1 = core.checkout(at(110ms));
  const auto w2 = core.checkout(at(150ms));

  // A checkout at the end of the interval runs the check first and reports the shed.
  const auto c = core.checkout(at(200ms));
  EXPECT_EQ(c.shed, (Ids{w1.waiter, w2.waiter}));
  ASSERT_EQ(c.outcome, Outcome::kQueued) << "the slot is still held";

  // Next interval [200, 300): nobody is served; the release at 300 sheds the
  // 100 ms old waiter and, the queue being empty, keeps the slot idle.
  const auto r = core.release(a.grant.slot, at(300ms));
  EXPECT_EQ(r.shed, (Ids{c.waiter}));
  EXPECT_FALSE(r.handoff);
  EXPECT_EQ(core.in_use(), 0u);
  EXPECT_EQ(core.waiting(), 0u);
}

TEST(PoolCoreShedding, EmptyIntervalShedsNothing) {
  PoolCore core = shedding_core();
  EXPECT_TRUE(core.poll(at(0ms)).empty());
  EXPECT_TRUE(core.poll(at(100ms)).empty());
  EXPECT_TRUE(core.poll(at(500ms)).empty());
  EXPECT_EQ(core.checkout(at(600ms)).outcome, Outcome::kGranted);
}

TEST(PoolCoreShedding, DisabledWithoutTarget) {
  PoolCore core = make_core(1);  // queue_target 0: never shed
  const auto a = core.checkout(at(0ms));
  const auto w1 = core.checkout(at(1ms));
  EXPECT_TRUE(core.poll(at(1h)).empty());
  EXPECT_TRUE(core.poll(at(2h)).empty());
  EXPECT_EQ(core.waiting(), 1u);
  const auto r = core.release(a.grant.slot, at(3h));
  ASSERT_TRUE(r.handoff);
  EXPECT_EQ(r.handoff->waiter, w1.waiter);
  EXPECT_EQ(r.handoff->waited, 3h - 1ms);
}

TEST(PoolCoreShedding, DisabledWhenOnlyOneOfTheTwoIsSet) {
  PoolCore core = make_core(1, 1024, 10ms, PoolCore::Duration::zero());
  core.checkout(at(0ms));
  core.checkout(at(1ms));
  EXPECT_TRUE(core.poll(at(1h)).empty());
  EXPECT_EQ(core.waiting(), 1u);
}

}  // namespace
}  // namespace busylab

namespace busylab {
namespace {

// Checkout timeouts: every waiter gets the same timeout, so the ones due are
// the oldest, and the next deadline is the oldest remaining waiter's.
TEST(PoolCoreExpire, TimesOutTheOldestWaitersOnlyOnceTheirTimeIsUp) {
  PoolCore core = make_core(1);
  ASSERT_EQ(core.checkout(at(0ms)).outcome, Outcome::kGranted);
  EXPECT_FALSE(core.oldest_waiter_since());
  const auto a = core.checkout(at(10ms)).waiter;
  const auto b = core.checkout(at(20ms)).waiter;
  const auto c = core.checkout(at(30ms)).waiter;
  ASSERT_EQ(core.oldest_waiter_since(), at(10ms));

  EXPECT_EQ(core.expire(at(109ms), 100ms), Ids{});
  EXPECT_EQ(core.expire(at(120ms), 100ms), (Ids{a, b}));
  EXPECT_EQ(core.waiting(), 1u);
  EXPECT_EQ(core.oldest_waiter_since(), at(30ms));

  // The slot goes to the one left, who is then no longer due.
  const auto released = core.release(0, at(125ms));
  ASSERT_TRUE(released.handoff);
  EXPECT_EQ(released.handoff->waiter, c);
  EXPECT_EQ(core.expire(at(500ms), 100ms), Ids{});
  EXPECT_FALSE(core.oldest_waiter_since());
}

}  // namespace
}  // namespace busylab
