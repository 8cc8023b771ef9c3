#include "sqlite/checkpointer.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>

#include "sqlite/wal_file.hpp"

namespace busylab {

namespace {

int sqlite_mode(CheckpointMode mode) {
  switch (mode) {
    case CheckpointMode::kFull:
      return SQLITE_CHECKPOINT_FULL;
    case CheckpointMode::kRestart:
      return SQLITE_CHECKPOINT_RESTART;
    case CheckpointMode::kTruncate:
      return SQLITE_CHECKPOINT_TRUNCATE;
    case CheckpointMode::kAuto:
    case CheckpointMode::kPassive:
      break;
  }
  return SQLITE_CHECKPOINT_PASSIVE;
}

}  // namespace

Checkpointer::Checkpointer(const DatabaseOptions& options, DbStats& stats)
    : options_(options),
      stats_(stats),
      db_(std::make_unique<Database>(options, &own_, Database::Mode::kReadWrite, Database::kStartupPatienceMs)) {
  thread_ = std::thread([this] { run(); });
}

Checkpointer::~Checkpointer() {
  stop();
}

void Checkpointer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  own_.abandon_lock_waits.store(true, std::memory_order_relaxed);
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::run() {
  const auto interval = std::chrono::milliseconds(options_.checkpoint.interval_ms);
  std::unique_lock lock(mutex_);
  for (;;) {
    if (wake_.wait_for(lock, interval, [this] { return stopping_; })) return;
    lock.unlock();
    checkpoint_once();
    lock.lock();
  }
}

void Checkpointer::checkpoint_once() {
  // What the WAL holds before: the frames this checkpoint can copy are
  // those after nBackfill. Read from the wal-index file, not through the
  // connection, which would take a read lock.
  const WalState before = read_wal_state(options_.path);
  const std::uint64_t slept_before = own_.busy_sleep_ms.load(std::memory_order_relaxed);
  int log = -1, copied = -1;
  const auto start = std::chrono::steady_clock::now();
  const int rc =
      sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, sqlite_mode(options_.checkpoint.mode), &log, &copied);
  const auto took = std::chrono::steady_clock::now() - start;
  stats_.checkpoints.fetch_add(1, std::memory_order_relaxed);
  stats_.checkpoint_us.record(
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
  stats_.checkpoint_wait_ms.fetch_add(own_.busy_sleep_ms.load(std::memory_order_relaxed) - slept_before,
                                      std::memory_order_relaxed);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
    stats_.checkpoint_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("background checkpoint failed: {}", sqlite3_errmsg(db_->handle()));
    return;
  }
  // SQLITE_BUSY: it could not take a lock or wait out a reader (it copied
  // what it could, as PASSIVE would); PASSIVE instead leaves frames behind
  // without saying so.
  if (rc != SQLITE_OK || copied < log) stats_.checkpoints_incomplete.fetch_add(1, std::memory_order_relaxed);
  // Frames copied: nBackfill after less nBackfill before. TRUNCATE reports
  // (0, 0) after resetting the WAL, having copied everything that was there;
  // a WAL restarted between the read and the checkpoint starts again at 0.
  const std::uint64_t backfilled_before = before.backfilled.value_or(0);
  std::uint64_t frames = 0;
  if (rc == SQLITE_OK && log == 0 && options_.checkpoint.mode == CheckpointMode::kTruncate) {
    const std::uint64_t frames_before = before.frames.value_or(0);
    frames = frames_before - std::min(frames_before, backfilled_before);
  } else if (copied > 0) {
    const auto after = static_cast<std::uint64_t>(copied);
    frames = after >= backfilled_before ? after - backfilled_before : after;
  }
  stats_.checkpoint_frames.fetch_add(frames, std::memory_order_relaxed);
}

}  // namespace busylab
