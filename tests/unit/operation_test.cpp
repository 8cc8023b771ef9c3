// Database operations against a temporary file: the typed operations, batches
// with a failing member, BUSY_SNAPSHOT classification and the size guard.

#include "sqlite/operation.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/db_stats.hpp"
#include "sqlite/database.hpp"
#include "sqlite/sqlite_error.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/unit_util.hpp"

namespace busylab {
namespace {

class Operations : public ::testing::Test {
 protected:
  DatabaseOptions options(std::int64_t busy_timeout_ms = 1000) const {
    DatabaseOptions o;
    o.path = path_;
    o.journal_mode = JournalMode::kWal;
    o.synchronous = Synchronous::kNormal;
    o.busy_timeout_ms = busy_timeout_ms;
    return o;
  }

  void SetUp() override {
    db_ = std::make_unique<Database>(options(), &stats_);
    create_schema(*db_);
  }

  std::int64_t rows_with_payload(const std::string& payload) {
    Statement& s = db_->cached("SELECT COUNT(*) FROM rows WHERE payload = ?1");
    s.bind(1, payload);
    const std::int64_t n = s.step() ? s.column_int64(0) : -1;
    s.reset();
    return n;
  }

  std::int64_t counter(const std::string& name) {
    Statement& s = db_->cached("SELECT value FROM counters WHERE name = ?1");
    s.bind(1, name);
    const std::int64_t v = s.step() ? s.column_int64(0) : -1;
    s.reset();
    return v;
  }

  OpOutcome run(const Operation& op, TransactionMode mode = TransactionMode::kImmediate) {
    return run_operation(*db_, op, mode);
  }

  busylab::testing::TempDir dir_;
  std::string path_ = dir_.file("ops.db");
  DbStats stats_;
  std::unique_ptr<Database> db_;
};

// An operation that inserts a row and then fails with `fail`.
Operation failing_insert(std::string payload, std::function<void(Database&)> fail) {
  Operation op;
  op.kind = OpKind::kCustom;
  op.write = true;
  op.body = [payload = std::move(payload), fail = std::move(fail)](Database& db, OpOutcome&) {
    Statement& s = db.cached("INSERT INTO rows(payload) VALUES(?1)");
    s.bind(1, payload);
    s.step();
    s.reset();
    fail(db);
  };
  return op;
}

void invalid_sql(Database& db) {
  db.exec("INSERT INTO no_such_table VALUES(1)");
}
void duplicate_id(Database& db) {
  db.exec("INSERT INTO rows(id, payload) VALUES(1, 'dup')");
}
void not_sqlite(Database&) {
  throw std::runtime_error("bug in an operation");
}

// ---- single operations ------------------------------------------------------------

TEST_F(Operations, CreateSchemaIsIdempotent) {
  EXPECT_NO_THROW(create_schema(*db_));
  EXPECT_EQ(db_->query_int("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('rows', 'counters')"),
            2);
  EXPECT_EQ(db_->query_int("SELECT COUNT(*) FROM rows"), 0);
}

TEST_F(Operations, InsertCountAndGet) {
  const OpOutcome a = run(ops::insert_row("hello"));
  ASSERT_TRUE(a.ok()) << a.message;
  EXPECT_EQ(a.value, 1);
  const OpOutcome b = run(ops::insert_row("world"));
  ASSERT_TRUE(b.ok()) << b.message;
  EXPECT_EQ(b.value, 2);

  const OpOutcome count = run(ops::count_rows());
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count.value, 2);

  const OpOutcome got = run(ops::get_row(2));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value, 2);
  EXPECT_EQ(got.text, "world");

  const OpOutcome missing = run(ops::get_row(99));
  EXPECT_EQ(missing.errc, Errc::kNotFound);
  EXPECT_EQ(missing.value, 99);
  EXPECT_FALSE(db_->in_transaction());

  EXPECT_EQ(stats_.transactions_committed.load(), 2u) << "reads commit nothing";
  EXPECT_EQ(stats_.writes_committed.load(), 2u);
  EXPECT_EQ(stats_.other_failures.load(), 0u) << "not found is not a failure";
}

TEST_F(Operations, InsertKeepsArbitraryText) {
  const std::string payload =
      std::string("quote ' and \"double\", nul-free unicode \xC3\xA9, '); DROP TABLE rows; -- ") +
      std::string(1000, 'z');
  const OpOutcome a = run(ops::insert_row(payload));
  ASSERT_TRUE(a.ok());
  const OpOutcome got = run(ops::get_row(a.value));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.text, payload);
  // The SQL in the payload was data, not a statement: the table is still there.
  EXPECT_TRUE(run(ops::count_rows()).ok());
}

TEST_F(Operations, IncrementCountsUpPerName) {
  for (int i = 1; i <= 3; ++i) {
    const OpOutcome out = run(ops::increment("hits"));
    ASSERT_TRUE(out.ok()) << out.message;
    EXPECT_EQ(out.value, i);
    EXPECT_EQ(out.text, "hits");
  }
  const OpOutcome other = run(ops::increment("other"), TransactionMode::kDeferred);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other.value, 1);
  EXPECT_EQ(counter("hits"), 3);
  EXPECT_EQ(counter("other"), 1);
}

TEST_F(Operations, IncrementInEveryTransactionMode) {
  EXPECT_EQ(run(ops::increment("m"), TransactionMode::kDeferred).value, 1);
  EXPECT_EQ(run(ops::increment("m"), TransactionMode::kImmediate).value, 2);
  EXPECT_EQ(run(ops::increment("m"), TransactionMode::kExclusive).value, 3);
  EXPECT_EQ(counter("m"), 3);
}

TEST_F(Operations, SeedCountsBeforeAndAfter) {
  run(ops::insert_row("a"));
  run(ops::insert_row("b"));
  const OpOutcome s = run(ops::seed());
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(s.value, 2);
  EXPECT_EQ(s.value2, 3);
  EXPECT_EQ(rows_with_payload("seed"), 1);
  const OpOutcome again = run(ops::seed());
  EXPECT_EQ(again.value, 3);
  EXPECT_EQ(again.value2, 4);
}

TEST_F(Operations, FailingWriteIsRolledBack) {
  const OpOutcome out = run(failing_insert("partial", invalid_sql));
  EXPECT_EQ(out.errc, Errc::kInternal);
  EXPECT_EQ(out.sqlite_code, SQLITE_ERROR);
  EXPECT_CONTAINS(out.message, "no_such_table");
  EXPECT_FALSE(db_->in_transaction());
  EXPECT_EQ(rows_with_payload("partial"), 0) << "the row inserted before the failure must be rolled back";
  EXPECT_EQ(stats_.other_failures.load(), 1u);
  EXPECT_EQ(stats_.transactions_committed.load(), 0u);
}

TEST_F(Operations, ConstraintViolationIsClassified) {
  ASSERT_TRUE(run(ops::insert_row("first")).ok());
  const OpOutcome out = run(failing_insert("partial", duplicate_id));
  EXPECT_EQ(out.errc, Errc::kConstraint);
  EXPECT_EQ(out.sqlite_code & 0xff, SQLITE_CONSTRAINT);
  EXPECT_EQ(rows_with_payload("partial"), 0);
  EXPECT_EQ(rows_with_payload("first"), 1);
}

TEST_F(Operations, NonSqliteExceptionPropagatesAndLeavesNoTransaction) {
  EXPECT_THROW(run(failing_insert("partial", not_sqlite)), std::runtime_error);
  EXPECT_FALSE(db_->in_transaction());
  EXPECT_EQ(rows_with_payload("partial"), 0);
  // The connection is usable afterwards.
  EXPECT_TRUE(run(ops::insert_row("next")).ok());
}

// ---- batches -----------------------------------------------------------------------

std::vector<OpOutcome> batch(Database& db, const std::vector<Operation>& list) {
  std::vector<const Operation*> ptrs;
  ptrs.reserve(list.size());
  for (const auto& op : list) ptrs.push_back(&op);
  return run_batch(db, ptrs);
}

TEST_F(Operations, BatchCommitsEverythingInOneTransaction) {
  const std::vector<Operation> list{ops::insert_row("a"), ops::increment("c"), ops::insert_row("b"),
                                    ops::increment("c")};
  const auto outs = batch(*db_, list);
  ASSERT_EQ(outs.size(), 4u);
  for (const auto& o : outs) EXPECT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(outs[0].value, 1);
  EXPECT_EQ(outs[2].value, 2);
  EXPECT_EQ(outs[1].value, 1);
  EXPECT_EQ(outs[3].value, 2) << "later operations see earlier ones of the same batch";
  EXPECT_EQ(counter("c"), 2);
  EXPECT_EQ(stats_.transactions_committed.load(), 1u);
  EXPECT_EQ(stats_.writes_committed.load(), 4u);
  EXPECT_FALSE(db_->in_transaction());
}

TEST_F(Operations, BatchFailingMiddleOperationIsRolledBackAlone) {
  const std::vector<Operation> list{ops::insert_row("a"), failing_insert("bad", invalid_sql), ops::insert_row("c")};
  const auto outs = batch(*db_, list);
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_TRUE(outs[0].ok()) << outs[0].message;
  EXPECT_FALSE(outs[1].ok());
  EXPECT_EQ(outs[1].errc, Errc::kInternal);
  EXPECT_EQ(outs[1].sqlite_code, SQLITE_ERROR);
  EXPECT_TRUE(outs[2].ok()) << outs[2].message;
  EXPECT_EQ(rows_with_payload("a"), 1);
  EXPECT_EQ(rows_with_payload("bad"), 0) << "the failing operation's own insert must be rolled back";
  EXPECT_EQ(rows_with_payload("c"), 1);
  EXPECT_EQ(stats_.writes_committed.load(), 2u);
  EXPECT_FALSE(db_->in_transaction());
}

TEST_F(Operations, BatchConstraintFailureKeepsTheOthers) {
  ASSERT_TRUE(run(ops::insert_row("existing")).ok());
  const std::vector<Operation> list{ops::increment("k"), failing_insert("dup-partial", duplicate_id),
                                    ops::increment("k")};
  const auto outs = batch(*db_, list);
  EXPECT_TRUE(outs[0].ok());
  EXPECT_EQ(outs[1].errc, Errc::kConstraint);
  EXPECT_TRUE(outs[2].ok());
  EXPECT_EQ(outs[2].value, 2);
  EXPECT_EQ(counter("k"), 2);
  EXPECT_EQ(rows_with_payload("dup-partial"), 0);
}

TEST_F(Operations, BatchNonSqliteExceptionIsInternalAndOthersCommit) {
  const std::vector<Operation> list{ops::insert_row("a"), failing_insert("bad", not_sqlite), ops::insert_row("c")};
  const auto outs = batch(*db_, list);
  EXPECT_TRUE(outs[0].ok());
  EXPECT_EQ(outs[1].errc, Errc::kInternal);
  EXPECT_CONTAINS(outs[1].message, "bug in an operation");
  EXPECT_TRUE(outs[2].ok());
  EXPECT_EQ(rows_with_payload("a"), 1);
  EXPECT_EQ(rows_with_payload("bad"), 0);
  EXPECT_EQ(rows_with_payload("c"), 1);
}

TEST_F(Operations, BatchWithSeedRunsBeforeAndAfterInsideTheTransaction) {
  const std::vector<Operation> list{ops::insert_row("a"), ops::seed()};
  const auto outs = batch(*db_, list);
  ASSERT_TRUE(outs[1].ok());
  EXPECT_EQ(outs[1].value, 1);
  EXPECT_EQ(outs[1].value2, 2);
}

TEST_F(Operations, BatchThatCannotBeginFailsEveryOperation) {
  DbStats other_stats;
  Database holder(options(), &other_stats);
  holder.exec("BEGIN IMMEDIATE");
  Database waiting(options(0), &stats_);
  const std::vector<Operation> list{ops::insert_row("a"), ops::insert_row("b")};
  const auto outs = batch(waiting, list);
  holder.exec("ROLLBACK");
  ASSERT_EQ(outs.size(), 2u);
  for (const auto& o : outs) {
    EXPECT_EQ(o.errc, Errc::kBusy);
    EXPECT_EQ(o.sqlite_code & 0xff, SQLITE_BUSY);
  }
  EXPECT_EQ(rows_with_payload("a"), 0);
  EXPECT_FALSE(waiting.in_transaction());
}

// per_request opens a connection for each request, and opening it runs
// pragmas that meet the lock as the request's statements do: that wait is the
// request's too. It used to be reset after opening, so a request that waited
// behind an outside lock while its connection opened reported waited_ms 0.
TEST(OperationsOpenWait, ARequestsConnectionCountsWhatOpeningItWaited) {
  busylab::testing::TempDir dir;
  DatabaseOptions o;
  o.path = dir.file("open-wait.db");
  o.journal_mode = JournalMode::kDelete;
  o.busy_timeout_ms = 5000;
  DbStats stats;
  {
    Database setup(o, &stats, Database::Mode::kReadWrite, Database::kStartupPatienceMs);
    create_schema(setup);
  }
  Database holder(o, &stats);
  holder.exec("BEGIN EXCLUSIVE");
  std::thread release([&holder] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    holder.exec("ROLLBACK");
  });
  // Opening (PRAGMA journal_mode reads the file) waits for the lock.
  Database request(o, &stats);
  release.join();
  const OpOutcome out = run_operation(request, ops::insert_row("after the lock"), TransactionMode::kImmediate);
  ASSERT_TRUE(out.ok()) << out.message;
  EXPECT_GE(out.waited_ms, 100) << "the wait while opening belongs to the request";
  // The next operation on the same connection starts from zero.
  const OpOutcome next = run_operation(request, ops::insert_row("second"), TransactionMode::kImmediate);
  EXPECT_EQ(next.waited_ms, 0);
  // A connection opened before serving (setup patience) does not pass its
  // wait on to the first request it serves.
  Database holder2(o, &stats);
  holder2.exec("BEGIN EXCLUSIVE");
  std::thread release2([&holder2] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    holder2.exec("ROLLBACK");
  });
  Database pooled(o, &stats, Database::Mode::kReadWrite, Database::kStartupPatienceMs);
  release2.join();
  EXPECT_EQ(run_operation(pooled, ops::insert_row("pooled"), TransactionMode::kImmediate).waited_ms, 0);
}

// A connection left inside a transaction (a ROLLBACK that failed earlier, a
// BEGIN that found one open) is rolled back before its next batch or
// operation: before, every later BEGIN failed with "cannot start a
// transaction within a transaction" (an internal error, the connection never
// replaced, the write lock perhaps held), and what the earlier transaction
// had written was committed by the next COMMIT.
TEST_F(Operations, ALeftOverTransactionIsRolledBackBeforeTheNextBatch) {
  db_->exec("BEGIN IMMEDIATE");
  db_->exec("INSERT INTO rows(payload) VALUES('left over')");
  const std::vector<Operation> list{ops::insert_row("a"), ops::insert_row("b")};
  const auto outs = batch(*db_, list);
  for (const auto& o : outs) EXPECT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(rows_with_payload("a"), 1);
  EXPECT_EQ(rows_with_payload("left over"), 0) << "nobody acknowledged it";
  EXPECT_FALSE(db_->in_transaction());
  // And a single operation the same way.
  db_->exec("BEGIN IMMEDIATE");
  db_->exec("INSERT INTO rows(payload) VALUES('left over')");
  EXPECT_TRUE(run(ops::insert_row("c")).ok());
  EXPECT_EQ(rows_with_payload("left over"), 0);
  EXPECT_EQ(rows_with_payload("c"), 1);
}

// The savepoint of a failed operation cannot be rolled back (here the
// operation released it itself before failing, so ROLLBACK TO finds no such
// savepoint): its insert would still be in the transaction, so the batch
// must not commit, and nobody in it may be told their write succeeded.
// When an operation's savepoint cannot be undone, its changes might still
// be in the transaction: the whole transaction is rolled back, and the other
// operations (none of them acknowledged) run again in a new one without it.
// SQLite itself rolls the whole transaction back on SQLITE_FULL, which is how
// a batched write too large for database.max_size_mb meets this.
TEST_F(Operations, BatchWhoseSavepointCannotBeUndoneRunsTheOthersAgainWithoutIt) {
  auto release_then_fail = [](Database& db) {
    db.exec("RELEASE op");
    throw SqliteError(SQLITE_CONSTRAINT, "constraint failed after its savepoint was released");
  };
  const std::vector<Operation> list{ops::insert_row("a"), failing_insert("undoable", release_then_fail),
                                    ops::insert_row("c")};
  const auto outs = batch(*db_, list);
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_TRUE(outs[0].ok()) << outs[0].message;
  EXPECT_FALSE(outs[1].ok());
  EXPECT_CONTAINS(outs[1].message, "could not undo it");
  EXPECT_TRUE(outs[2].ok()) << outs[2].message;
  EXPECT_FALSE(db_->in_transaction());
  EXPECT_EQ(rows_with_payload("a"), 1);
  EXPECT_EQ(rows_with_payload("undoable"), 0);
  EXPECT_EQ(rows_with_payload("c"), 1);
  EXPECT_EQ(stats_.writes_committed.load(), 2u);
  EXPECT_EQ(stats_.transactions_committed.load(), 1u);
}

// A batch takes the write lock once at BEGIN IMMEDIATE, whatever
// database.transaction says: behind a held lock it waits one busy timeout
// (one lock attempt), not one per operation.
TEST_F(Operations, BatchBehindALockWaitsOnceForAllItsOperations) {
  DbStats other_stats;
  Database holder(options(), &other_stats);
  holder.exec("BEGIN IMMEDIATE");
  Database waiting(options(30), &stats_);
  const std::vector<Operation> list{ops::insert_row("a"), ops::insert_row("b"), ops::insert_row("c"),
                                    ops::insert_row("d")};
  const auto outs = batch(waiting, list);
  holder.exec("ROLLBACK");
  for (const auto& o : outs) EXPECT_EQ(o.errc, Errc::kBusy);
  EXPECT_EQ(stats_.lock_waits.load(), 1u);
  EXPECT_EQ(stats_.busy_gave_up.load(), 1u);
  // Every operation reports the batch's one wait, counted once per request.
  EXPECT_EQ(stats_.requests_waited.load(), 4u);
  EXPECT_EQ(stats_.requests_waited_several.load(), 0u);
}

TEST_F(Operations, EmptyBatchCommitsNothing) {
  const auto outs = batch(*db_, {});
  EXPECT_TRUE(outs.empty());
  EXPECT_FALSE(db_->in_transaction());
  EXPECT_EQ(stats_.writes_committed.load(), 0u);
}

// ---- BUSY_SNAPSHOT ---------------------------------------------------------------

TEST_F(Operations, DeferredUpgradeAfterAnotherCommitIsBusySnapshotRaw) {
  ASSERT_TRUE(run(ops::increment("x")).ok());
  DbStats b_stats;
  Database b(options(), &b_stats);

  db_->exec("BEGIN DEFERRED");
  EXPECT_EQ(db_->query_int("SELECT value FROM counters WHERE name = 'x'"), 1);  // snapshot taken
  b.exec("UPDATE counters SET value = value + 1 WHERE name = 'x'");             // commits (autocommit)
  int code = 0;
  try {
    db_->exec("UPDATE counters SET value = 100 WHERE name = 'x'");
    ADD_FAILURE() << "a stale snapshot must not be upgraded to a write";
  } catch (const SqliteError& e) {
    code = e.code();
  }
  db_->exec("ROLLBACK");
  EXPECT_EQ(code, SQLITE_BUSY_SNAPSHOT) << sqlite_code_name(code);
  EXPECT_EQ(classify_sqlite(code), Errc::kBusySnapshot);
  EXPECT_EQ(counter("x"), 2);
}

TEST_F(Operations, DeferredIncrementHitsBusySnapshot) {
  ASSERT_TRUE(run(ops::increment("x")).ok());
  DbStats b_stats;
  Database b(options(), &b_stats);

  // A deferred increment whose read snapshot is taken before another
  // connection commits an increment of its own.
  Operation racing;
  racing.kind = OpKind::kCustom;
  racing.write = true;
  racing.body = [&](Database& db, OpOutcome& out) {
    db.query_int("SELECT COUNT(*) FROM counters");  // the snapshot starts here
    const OpOutcome other = run_operation(b, ops::increment("x"), TransactionMode::kImmediate);
    EXPECT_TRUE(other.ok()) << other.message;
    // The increment's own steps: read the old value, then try to write.
    out.value = db.query_int("SELECT value FROM counters WHERE name = 'x'") + 1;
    db.run("UPDATE counters SET value = value + 1 WHERE name = 'x'");
  };
  const OpOutcome out = run(racing, TransactionMode::kDeferred);
  EXPECT_EQ(out.errc, Errc::kBusySnapshot);
  EXPECT_EQ(out.sqlite_code, SQLITE_BUSY_SNAPSHOT) << sqlite_code_name(out.sqlite_code);
  EXPECT_EQ(stats_.busy_snapshot_failures.load(), 1u);
  EXPECT_EQ(stats_.busy_failures.load(), 0u);
  EXPECT_FALSE(db_->in_transaction());
  EXPECT_EQ(counter("x"), 2) << "only the other connection's increment committed";

  // Retrying with a fresh transaction works.
  const OpOutcome retry = run(ops::increment("x"), TransactionMode::kDeferred);
  ASSERT_TRUE(retry.ok()) << retry.message;
  EXPECT_EQ(retry.value, 3);
}

// ---- size guard --------------------------------------------------------------------

TEST(OperationsSizeGuard, MaxSizeGivesFull) {
  busylab::testing::TempDir dir;
  DatabaseOptions o;
  o.path = dir.file("small.db");
  o.max_size_mb = 1;
  DbStats stats;
  Database db(o, &stats);
  create_schema(db);
  const std::string payload(std::size_t{100} * 1024, 'p');
  int inserted = 0;
  OpOutcome last;
  for (int i = 0; i < 100; ++i) {
    last = run_operation(db, ops::insert_row(payload), TransactionMode::kImmediate);
    if (!last.ok()) break;
    ++inserted;
  }
  EXPECT_EQ(last.errc, Errc::kFull) << last.message;
  EXPECT_EQ(last.sqlite_code & 0xff, SQLITE_FULL);
  EXPECT_GE(inserted, 1);
  EXPECT_LT(inserted, 11) << "1 MiB holds about ten 100 KiB rows";
  EXPECT_EQ(stats.full_failures.load(), 1u);
  EXPECT_FALSE(db.in_transaction());
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM rows"), inserted) << "earlier rows are kept";
  // Reads still work on a full database.
  EXPECT_TRUE(run_operation(db, ops::count_rows(), TransactionMode::kImmediate).ok());
}

TEST(OperationsSizeGuard, BatchOutcomesMatchWhatCommitted) {
  // Whatever SQLite does on SQLITE_FULL inside a savepoint (roll back the
  // statement or the whole transaction), an operation is reported ok exactly
  // when its row is in the file afterwards.
  busylab::testing::TempDir dir;
  DatabaseOptions o;
  o.path = dir.file("small.db");
  o.max_size_mb = 1;
  DbStats stats;
  Database db(o, &stats);
  create_schema(db);
  std::vector<Operation> list;
  list.push_back(ops::insert_row("small-1"));
  list.push_back(ops::insert_row(std::string(std::size_t{2} * 1024 * 1024, 'h')));
  list.push_back(ops::insert_row("small-2"));
  const auto outs = batch(db, list);
  EXPECT_EQ(outs[1].errc, Errc::kFull);
  EXPECT_FALSE(db.in_transaction());
  auto present = [&](const std::string& payload) {
    Statement& s = db.cached("SELECT COUNT(*) FROM rows WHERE payload = ?1");
    s.bind(1, payload);
    const std::int64_t n = s.step() ? s.column_int64(0) : 0;
    s.reset();
    return n;
  };
  EXPECT_EQ(present("small-1"), outs[0].ok() ? 1 : 0);
  EXPECT_EQ(present("small-2"), outs[2].ok() ? 1 : 0);
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM rows WHERE length(payload) > 1000"), 0);
}

// ---- classification ------------------------------------------------------------------

TEST(ClassifySqlite, MapsResultCodes) {
  EXPECT_EQ(classify_sqlite(SQLITE_BUSY), Errc::kBusy);
  EXPECT_EQ(classify_sqlite(SQLITE_BUSY_RECOVERY), Errc::kBusy);
  EXPECT_EQ(classify_sqlite(SQLITE_BUSY_TIMEOUT), Errc::kBusy);
  EXPECT_EQ(classify_sqlite(SQLITE_BUSY_SNAPSHOT), Errc::kBusySnapshot);
  EXPECT_EQ(classify_sqlite(SQLITE_LOCKED), Errc::kBusy);
  EXPECT_EQ(classify_sqlite(SQLITE_LOCKED_SHAREDCACHE), Errc::kBusy);
  EXPECT_EQ(classify_sqlite(SQLITE_FULL), Errc::kFull);
  EXPECT_EQ(classify_sqlite(SQLITE_READONLY), Errc::kReadOnly);
  EXPECT_EQ(classify_sqlite(SQLITE_READONLY_DBMOVED), Errc::kReadOnly);
  EXPECT_EQ(classify_sqlite(SQLITE_CONSTRAINT_UNIQUE), Errc::kConstraint);
  EXPECT_EQ(classify_sqlite(SQLITE_CONSTRAINT_PRIMARYKEY), Errc::kConstraint);
  EXPECT_EQ(classify_sqlite(SQLITE_IOERR), Errc::kFatal);
  EXPECT_EQ(classify_sqlite(SQLITE_IOERR_WRITE), Errc::kFatal);
  EXPECT_EQ(classify_sqlite(SQLITE_CORRUPT), Errc::kFatal);
  EXPECT_EQ(classify_sqlite(SQLITE_NOTADB), Errc::kFatal);
  EXPECT_EQ(classify_sqlite(SQLITE_CANTOPEN), Errc::kFatal);
  EXPECT_EQ(classify_sqlite(SQLITE_NOMEM), Errc::kFatal);
  EXPECT_EQ(classify_sqlite(SQLITE_ERROR), Errc::kInternal);
  EXPECT_EQ(classify_sqlite(SQLITE_MISUSE), Errc::kInternal);
  EXPECT_TRUE(is_fatal(Errc::kFatal));
  EXPECT_FALSE(is_fatal(Errc::kBusy));
}

TEST(ClassifySqlite, CodeNames) {
  EXPECT_EQ(sqlite_code_name(SQLITE_BUSY), "SQLITE_BUSY");
  EXPECT_EQ(sqlite_code_name(SQLITE_BUSY_SNAPSHOT), "SQLITE_BUSY_SNAPSHOT");
  EXPECT_EQ(sqlite_code_name(SQLITE_FULL), "SQLITE_FULL");
  EXPECT_EQ(sqlite_code_name(SQLITE_IOERR_WRITE), "SQLITE_IOERR(" + std::to_string(SQLITE_IOERR_WRITE) + ")");
}

TEST(ClassifySqlite, ErrcNames) {
  EXPECT_EQ(to_string(Errc::kOk), "ok");
  EXPECT_EQ(to_string(Errc::kBusy), "database_busy");
  EXPECT_EQ(to_string(Errc::kBusySnapshot), "database_busy");
  EXPECT_EQ(to_string(Errc::kPoolTimeout), "pool_timeout");
  EXPECT_EQ(to_string(Errc::kFull), "database_full");
  EXPECT_EQ(to_string(Errc::kShuttingDown), "shutting_down");
}

TEST(Database, OpenFailureNamesThePath) {
  busylab::testing::TempDir dir;
  DatabaseOptions o;
  o.path = dir.file("missing-folder/x.db");
  DbStats stats;
  try {
    Database db(o, &stats);
    ADD_FAILURE() << "opening a file in a missing folder must fail";
  } catch (const SqliteError& e) {
    EXPECT_CONTAINS(e.what(), o.path);
    EXPECT_EQ(classify_sqlite(e.code()), Errc::kFatal);
  }
  EXPECT_EQ(stats.connections_opened.load(), 0u);
}

TEST(Database, ReadOnlyConnectionRefusesWrites) {
  busylab::testing::TempDir dir;
  DatabaseOptions o;
  o.path = dir.file("ro.db");
  DbStats stats;
  {
    Database rw(o, &stats);
    create_schema(rw);
  }
  Database ro(o, &stats, Database::Mode::kReadOnly);
  const OpOutcome out = run_operation(ro, ops::insert_row("x"), TransactionMode::kDeferred);
  EXPECT_EQ(out.errc, Errc::kReadOnly) << out.message;
  EXPECT_TRUE(run_operation(ro, ops::count_rows(), TransactionMode::kDeferred).ok());
  EXPECT_EQ(stats.readonly_failures.load(), 1u);
  EXPECT_EQ(stats.connections_opened.load(), 2u);
}

}  // namespace
}  // namespace busylab
