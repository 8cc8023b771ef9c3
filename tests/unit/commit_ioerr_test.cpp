// An I/O error during COMMIT (a WAL whose fsync fails) is an unknown outcome
// on SQLite too: the commit record may already be in the WAL and count after
// the next recovery, so the write is answered commit_outcome_unknown, never
// a retryable failure. The failing fsync comes from a VFS shim that forwards
// every call to the default VFS and fails xSync on the WAL file on demand.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <memory>
#include <vector>

#include "engine/db_stats.hpp"
#include "sqlite/database.hpp"
#include "sqlite/operation.hpp"
#include "tests/support/temp_dir.hpp"

namespace busylab {
namespace {

std::atomic<bool> g_fail_wal_sync{false};
sqlite3_vfs* g_real_vfs = nullptr;

struct ShimFile {
  sqlite3_file base;
  sqlite3_file* real;  // the default VFS's file, stored right after this struct
  bool wal;
};

sqlite3_file* real_of(sqlite3_file* f) {
  return reinterpret_cast<ShimFile*>(f)->real;
}

const sqlite3_io_methods kShimMethods = {
    3,
    [](sqlite3_file* f) { return real_of(f)->pMethods->xClose(real_of(f)); },
    [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) { return real_of(f)->pMethods->xRead(real_of(f), b, n, o); },
    [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
      return real_of(f)->pMethods->xWrite(real_of(f), b, n, o);
    },
    [](sqlite3_file* f, sqlite3_int64 size) { return real_of(f)->pMethods->xTruncate(real_of(f), size); },
    [](sqlite3_file* f, int flags) {
      if (reinterpret_cast<ShimFile*>(f)->wal && g_fail_wal_sync.load()) return SQLITE_IOERR_FSYNC;
      return real_of(f)->pMethods->xSync(real_of(f), flags);
    },
    [](sqlite3_file* f, sqlite3_int64* size) { return real_of(f)->pMethods->xFileSize(real_of(f), size); },
    [](sqlite3_file* f, int lock) { return real_of(f)->pMethods->xLock(real_of(f), lock); },
    [](sqlite3_file* f, int lock) { return real_of(f)->pMethods->xUnlock(real_of(f), lock); },
    [](sqlite3_file* f, int* out) { return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out); },
    [](sqlite3_file* f, int op, void* arg) { return real_of(f)->pMethods->xFileControl(real_of(f), op, arg); },
    [](sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); },
    [](sqlite3_file* f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); },
    [](sqlite3_file* f, int page, int size, int extend, void volatile** out) {
      return real_of(f)->pMethods->xShmMap(real_of(f), page, size, extend, out);
    },
    [](sqlite3_file* f, int offset, int n, int flags) {
      return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
    },
    [](sqlite3_file* f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); },
    [](sqlite3_file* f, int del) { return real_of(f)->pMethods->xShmUnmap(real_of(f), del); },
    [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) { return real_of(f)->pMethods->xFetch(real_of(f), o, n, p); },
    [](sqlite3_file* f, sqlite3_int64 o, void* p) { return real_of(f)->pMethods->xUnfetch(real_of(f), o, p); },
};

int shim_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* shim = reinterpret_cast<ShimFile*>(f);
  shim->real = reinterpret_cast<sqlite3_file*>(shim + 1);
  shim->wal = (flags & SQLITE_OPEN_WAL) != 0;
  const int rc = g_real_vfs->xOpen(g_real_vfs, name, shim->real, flags, out_flags);
  shim->base.pMethods = rc == SQLITE_OK && shim->real->pMethods ? &kShimMethods : nullptr;
  return rc;
}

// The shim as the default VFS for one test.
class FailingSync {
 public:
  FailingSync() {
    g_real_vfs = sqlite3_vfs_find(nullptr);
    vfs_ = *g_real_vfs;
    vfs_.zName = "busylab-failing-sync";
    vfs_.szOsFile = static_cast<int>(sizeof(ShimFile)) + g_real_vfs->szOsFile;
    vfs_.xOpen = shim_open;
    vfs_.pNext = nullptr;
    sqlite3_vfs_register(&vfs_, /*makeDflt=*/1);
  }
  ~FailingSync() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(g_real_vfs, 1);
    g_fail_wal_sync = false;
  }

 private:
  sqlite3_vfs vfs_{};
};

DatabaseOptions durable(const testing::TempDir& dir) {
  DatabaseOptions o;
  o.path = dir.file("ioerr.db");
  o.journal_mode = JournalMode::kWal;
  o.synchronous = Synchronous::kFull;  // COMMIT syncs the WAL
  return o;
}

TEST(CommitIoError, AFailedWalSyncDuringCommitIsAnUnknownOutcome) {
  FailingSync shim;
  testing::TempDir dir;
  DbStats stats;
  Database db(durable(dir), &stats);
  create_schema(db);
  ASSERT_TRUE(run_operation(db, ops::insert_row("fine"), TransactionMode::kImmediate).ok());

  g_fail_wal_sync = true;
  const OpOutcome out = run_operation(db, ops::insert_row("unsure"), TransactionMode::kImmediate);
  g_fail_wal_sync = false;
  EXPECT_EQ(out.errc, Errc::kOutcomeUnknown) << out.message;
  EXPECT_EQ(to_string(out.errc), "commit_outcome_unknown");
  EXPECT_NE(out.code.find("IOERR"), std::string::npos) << out.code;
  EXPECT_NE(out.message.find("may have reached the file"), std::string::npos) << out.message;
  EXPECT_EQ(stats.unknown_outcomes.load(), 1u);
  EXPECT_EQ(stats.fatal_failures.load(), 0u) << "counted once, as unknown";
  EXPECT_TRUE(is_fatal(out.errc)) << "the connection is replaced";
}

TEST(CommitIoError, EveryWriteOfABatchWhoseCommitFailedIsUnknown) {
  FailingSync shim;
  testing::TempDir dir;
  DbStats stats;
  Database db(durable(dir), &stats);
  create_schema(db);
  const Operation a = ops::insert_row("a"), b = ops::insert_row("b");
  const std::vector<const Operation*> batch{&a, &b};
  g_fail_wal_sync = true;
  const auto outs = run_batch(db, batch);
  g_fail_wal_sync = false;
  ASSERT_EQ(outs.size(), 2u);
  for (const auto& out : outs) {
    EXPECT_EQ(out.errc, Errc::kOutcomeUnknown) << out.message;
    EXPECT_NE(out.message.find("batch commit failed"), std::string::npos) << out.message;
  }
  EXPECT_EQ(stats.unknown_outcomes.load(), 2u);
}

TEST(CommitIoError, TheShimAloneChangesNothing) {
  // Without the shim failing anything, a commit is a commit: the shim itself
  // changes nothing.
  FailingSync shim;
  testing::TempDir dir;
  DbStats stats;
  Database db(durable(dir), &stats);
  create_schema(db);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(run_operation(db, ops::insert_row("x"), TransactionMode::kImmediate).ok());
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM rows"), 3);
  EXPECT_EQ(stats.unknown_outcomes.load(), 0u);
}

}  // namespace
}  // namespace busylab
