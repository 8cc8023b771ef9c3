#pragma once
// The background checkpointer (database.checkpoint.mode passive, full,
// restart or truncate): one thread with its own connection that runs
// sqlite3_wal_checkpoint_v2 in that mode every interval_ms, while every
// request connection has wal_autocheckpoint off. Counted in DbStats
// (/stats database.checkpointer, /metrics busylab_checkpoint_*).
//
// What the modes cost (SQLite's rules): PASSIVE copies what it can without
// waiting; FULL waits (busy handler) for the writer lock and holds it while
// it copies, so writers wait behind it; RESTART also waits for every reader
// to leave the WAL, still holding the writer lock, so that the next writer
// starts the WAL from its beginning; TRUNCATE does that and truncates the
// file to zero bytes. The waits follow busy_timeout_ms.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/db_stats.hpp"
#include "engine/engine.hpp"
#include "sqlite/database.hpp"

namespace busylab {

class Checkpointer final : public Maintenance {
 public:
  /// Opens the checkpointer's connection (throws SqliteError) and starts
  /// its thread; the first checkpoint runs interval_ms from now.
  Checkpointer(const DatabaseOptions& options, DbStats& stats);
  ~Checkpointer() override;
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  /// Ends a wait for readers or writers at once (within the busy handler's
  /// 50 ms slice) and joins the thread. Idempotent.
  void stop() override;

  /// Runs one checkpoint now on the calling thread and counts it. For
  /// tests; not while the thread runs.
  void checkpoint_once();

 private:
  void run();

  DatabaseOptions options_;
  DbStats& stats_;
  // The connection's own counters: its busy waits are the checkpoint's, not
  // a request's, and its abandon_lock_waits flag is how stop() ends a wait.
  DbStats own_;
  std::unique_ptr<Database> db_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace busylab
