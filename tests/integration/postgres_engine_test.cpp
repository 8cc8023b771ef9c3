// The postgres engine against a real PostgreSQL 15 (scripts/postgres, one
// cluster for the suite): every operation, the transaction modes and what
// they do under contention, the error contract (40001 and 55P03 -> busy
// classes, no server -> unavailable), batches with a savepoint per write,
// and `busylab serve --config config/postgres.json` answering the same API.

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "engine/db_stats.hpp"
#include "postgres/pg_engine.hpp"
#include "strategy/strategies.hpp"
#include "strategy/strategy.hpp"
#include "tests/support/bank_load.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/serve_process.hpp"

namespace busylab {
namespace {

using namespace std::chrono_literals;
using testing::PostgresCluster;

// A second client, through libpq directly: holds locks and transactions
// open while the engine runs.
class RawClient {
 public:
  explicit RawClient(const std::string& url) : conn_(PQconnectdb(url.c_str()), &PQfinish) {
    if (PQstatus(conn_.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn_.get()));
  }
  // Runs SQL; returns the first value, "" without rows, "ERROR ..." on failure.
  std::string exec(const std::string& sql) {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn_.get(), sql.c_str()), &PQclear);
    const auto status = PQresultStatus(r.get());
    if (status == PGRES_TUPLES_OK) return PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
    if (status == PGRES_COMMAND_OK) return "";
    return std::string("ERROR ") + PQresultErrorMessage(r.get());
  }

 private:
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
};

class PostgresEngine : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = std::make_unique<PostgresCluster>(); }
  static void TearDownTestSuite() { cluster_.reset(); }

  void SetUp() override {
    pg_reset(cluster_->url());
    engine_ = std::make_unique<PgEngine>(options(), stats_);
    engine_->prepare();
  }

  DatabaseOptions options(TransactionMode mode = TransactionMode::kImmediate, std::int64_t busy_timeout_ms = 5000) {
    DatabaseOptions o;
    o.engine = EngineKind::kPostgres;
    o.url = cluster_->url();
    o.synchronous = Synchronous::kFull;
    o.transaction = mode;
    o.busy_timeout_ms = busy_timeout_ms;
    return o;
  }
  std::unique_ptr<Connection> open(const DatabaseOptions& o) {
    engines_.push_back(std::make_unique<PgEngine>(o, stats_));
    return engines_.back()->open(Engine::Purpose::kRequest);
  }

  static std::unique_ptr<PostgresCluster> cluster_;
  DbStats stats_;
  std::unique_ptr<PgEngine> engine_;
  std::vector<std::unique_ptr<PgEngine>> engines_;
};
std::unique_ptr<PostgresCluster> PostgresEngine::cluster_;

TEST_F(PostgresEngine, EveryOperationDoesWhatItDoesOnSqlite) {
  auto c = engine_->open(Engine::Purpose::kStartup);
  const OpOutcome first = c->run(ops::insert_row("hello"), TransactionMode::kImmediate);
  ASSERT_TRUE(first.ok()) << first.message;
  EXPECT_EQ(first.value, 1);
  EXPECT_EQ(c->run(ops::insert_row("world"), TransactionMode::kImmediate).value, 2);

  const OpOutcome got = c->run(ops::get_row(2), TransactionMode::kImmediate);
  ASSERT_TRUE(got.ok()) << got.message;
  EXPECT_EQ(got.value, 2);
  EXPECT_EQ(got.text, "world");
  const OpOutcome missing = c->run(ops::get_row(99), TransactionMode::kImmediate);
  EXPECT_EQ(missing.errc, Errc::kNotFound);

  EXPECT_EQ(c->run(ops::count_rows(), TransactionMode::kImmediate).value, 2);

  for (int i = 1; i <= 3; ++i) {
    const OpOutcome inc = c->run(ops::increment("hits"), TransactionMode::kImmediate);
    ASSERT_TRUE(inc.ok()) << inc.message;
    EXPECT_EQ(inc.value, i);
    EXPECT_EQ(inc.text, "hits");
  }

  const OpOutcome seed = c->run(ops::seed(), TransactionMode::kImmediate);
  ASSERT_TRUE(seed.ok()) << seed.message;
  EXPECT_EQ(seed.value, 2);
  EXPECT_EQ(seed.value2, 3);

  EXPECT_EQ(stats_.writes_committed.load(), 6u);
  EXPECT_EQ(stats_.transactions_committed.load(), 6u);

  // A custom operation (SQLite steps) is refused, not run.
  Operation custom;
  custom.write = true;
  EXPECT_EQ(c->run(custom, TransactionMode::kImmediate).errc, Errc::kInternal);
}

TEST_F(PostgresEngine, UpdatesTransfersAndAccountsDoWhatTheyDoOnSqlite) {
  auto c = engine_->open(Engine::Purpose::kStartup);
  // prepare() made the default bank: accounts 1..100 holding 1000 each.
  const OpOutcome total = c->run(ops::accounts_total(), TransactionMode::kImmediate);
  EXPECT_EQ(total.value, 100);
  EXPECT_EQ(total.value2, 100000);
  ASSERT_TRUE(c->run(ops::insert_row("old"), TransactionMode::kImmediate).ok());
  EXPECT_TRUE(c->run(ops::update_row(1, "new"), TransactionMode::kImmediate).ok());
  EXPECT_EQ(c->run(ops::get_row(1), TransactionMode::kImmediate).text, "new");
  EXPECT_EQ(c->run(ops::update_row(9, "x"), TransactionMode::kImmediate).errc, Errc::kNotFound);

  for (const auto mode : {TransactionMode::kImmediate, TransactionMode::kDeferred, TransactionMode::kExclusive}) {
    const OpOutcome moved = c->run(ops::transfer(1, 2, 100), mode);
    ASSERT_TRUE(moved.ok()) << moved.message;
  }
  EXPECT_EQ(c->run(ops::get_account(1), TransactionMode::kImmediate).value2, 700);
  EXPECT_EQ(c->run(ops::get_account(2), TransactionMode::kImmediate).value2, 1300);
  const OpOutcome overdraft = c->run(ops::transfer(1, 3, 701), TransactionMode::kImmediate);
  EXPECT_EQ(overdraft.errc, Errc::kInsufficientFunds) << overdraft.message;
  EXPECT_EQ(c->run(ops::transfer(1, 999, 1), TransactionMode::kImmediate).errc, Errc::kNotFound);
  EXPECT_EQ(c->run(ops::get_account(999), TransactionMode::kImmediate).errc, Errc::kNotFound);
  EXPECT_EQ(c->run(ops::accounts_total(), TransactionMode::kImmediate).value2, 100000);
  // Refusals write nothing and are neither failures nor commits.
  EXPECT_EQ(c->run(ops::get_account(1), TransactionMode::kImmediate).value2, 700);
  EXPECT_EQ(stats_.writes_committed.load(), 5u);
  EXPECT_EQ(stats_.other_failures.load(), 0u);

  // In a batch: the overdraft's savepoint goes, the others commit.
  const Operation batch_ops[] = {ops::transfer(2, 3, 10), ops::transfer(1, 3, 5000), ops::update_row(1, "b")};
  const Operation* batch[] = {&batch_ops[0], &batch_ops[1], &batch_ops[2]};
  const auto outs = c->run_batch(batch);
  EXPECT_TRUE(outs[0].ok()) << outs[0].message;
  EXPECT_EQ(outs[1].errc, Errc::kInsufficientFunds);
  EXPECT_TRUE(outs[2].ok()) << outs[2].message;
  EXPECT_EQ(c->run(ops::get_account(3), TransactionMode::kImmediate).value2, 1010);
  EXPECT_EQ(c->run(ops::accounts_total(), TransactionMode::kImmediate).value2, 100000);
}

TEST_F(PostgresEngine, DeferredReadThenWriteFailsWithSerializationFailure) {
  auto c = open(options(TransactionMode::kDeferred));
  ASSERT_TRUE(c->run(ops::increment("x"), TransactionMode::kDeferred).ok());

  // Another client updates the row and holds its lock: the deferred
  // increment reads the old value in its snapshot, then its UPDATE waits
  // for the lock, and fails once the other commits.
  RawClient other(cluster_->url());
  ASSERT_EQ(other.exec("BEGIN"), "");
  ASSERT_EQ(other.exec("UPDATE counters SET value = value + 10 WHERE name = 'x'"), "");
  auto pending =
      std::async(std::launch::async, [&] { return c->run(ops::increment("x"), TransactionMode::kDeferred); });
  ASSERT_EQ(pending.wait_for(300ms), std::future_status::timeout) << "the increment should wait for the row lock";
  ASSERT_EQ(other.exec("COMMIT"), "");
  const OpOutcome out = pending.get();
  EXPECT_EQ(out.errc, Errc::kBusySnapshot) << out.message;
  EXPECT_EQ(out.code, "40001 serialization_failure");
  EXPECT_EQ(stats_.busy_snapshot_failures.load(), 1u);
  EXPECT_EQ(other.exec("SELECT value FROM counters WHERE name = 'x'"), "11") << "only the other update counted";

  // Retried in a new transaction, it works.
  const OpOutcome retry = c->run(ops::increment("x"), TransactionMode::kDeferred);
  ASSERT_TRUE(retry.ok()) << retry.message;
  EXPECT_EQ(retry.value, 12);
}

TEST_F(PostgresEngine, DeferredTransfersInOppositeOrderDeadlockAndAreCountedApart) {
  auto c = open(options(TransactionMode::kDeferred));
  // Another client holds account 2's row; the deferred transfer 1 -> 2
  // updates 1, then waits for 2; the other then wants 1: a deadlock, which
  // the transfer's backend detects after deadlock_timeout (1 s; the other's
  // is set longer so that the transfer is the victim).
  RawClient other(cluster_->url());
  ASSERT_EQ(other.exec("SET deadlock_timeout = '20s'"), "");
  ASSERT_EQ(other.exec("BEGIN"), "");
  ASSERT_EQ(other.exec("UPDATE accounts SET balance = balance + 1 WHERE id = 2"), "");
  auto pending =
      std::async(std::launch::async, [&] { return c->run(ops::transfer(1, 2, 5), TransactionMode::kDeferred); });
  ASSERT_EQ(pending.wait_for(300ms), std::future_status::timeout) << "the transfer should wait for account 2";
  auto other_update = std::async(std::launch::async,
                                 [&] { return other.exec("UPDATE accounts SET balance = balance - 1 WHERE id = 1"); });
  const OpOutcome out = pending.get();
  EXPECT_EQ(out.errc, Errc::kBusySnapshot) << out.message;
  EXPECT_EQ(out.code, "40P01 deadlock_detected");
  EXPECT_EQ(other_update.get(), "");
  ASSERT_EQ(other.exec("COMMIT"), "");
  EXPECT_EQ(stats_.deadlock_failures.load(), 1u);
  EXPECT_EQ(stats_.to_json()["deadlock_failures"], 1) << "/stats shows it";
  EXPECT_EQ(stats_.busy_snapshot_failures.load(), 1u);
  EXPECT_EQ(other.exec("SELECT sum(balance) FROM accounts"), "100000");
}

TEST_F(PostgresEngine, ImmediateIncrementsFromManyConnectionsLoseNone) {
  constexpr int kThreads = 8, kEach = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, c = open(options())]() mutable {
      for (int i = 0; i < kEach; ++i)
        if (!c->run(ops::increment("n"), TransactionMode::kImmediate).ok()) ++failed;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  RawClient check(cluster_->url());
  EXPECT_EQ(check.exec("SELECT value FROM counters WHERE name = 'n'"), std::to_string(kThreads * kEach));
}

TEST_F(PostgresEngine, LockTimeoutIsBusyAndReadersAreNeverBlockedByExclusive) {
  RawClient holder(cluster_->url());
  ASSERT_EQ(holder.exec("BEGIN"), "");
  ASSERT_EQ(holder.exec("LOCK TABLE rows, counters IN SHARE ROW EXCLUSIVE MODE"), "");

  // exclusive: one writer at a time; a second waits lock_timeout (busy_timeout_ms) and fails.
  auto c = open(options(TransactionMode::kExclusive, 150));
  const auto start = std::chrono::steady_clock::now();
  const OpOutcome out = c->run(ops::insert_row("x"), TransactionMode::kExclusive);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(out.errc, Errc::kBusy) << out.message;
  EXPECT_EQ(out.code, "55P03 lock_not_available");
  EXPECT_GE(waited, 140ms);
  EXPECT_LT(waited, 3s);
  EXPECT_EQ(stats_.busy_failures.load(), 1u);

  // busy_timeout_ms 0 means "never wait" (PostgreSQL's lock_timeout 0 would wait forever).
  auto at_once = open(options(TransactionMode::kExclusive, 0));
  const auto start0 = std::chrono::steady_clock::now();
  EXPECT_EQ(at_once->run(ops::insert_row("y"), TransactionMode::kExclusive).errc, Errc::kBusy);
  EXPECT_LT(std::chrono::steady_clock::now() - start0, 1s);

  // A reader is not blocked by the writers' lock.
  const OpOutcome count = c->run(ops::count_rows(), TransactionMode::kExclusive);
  EXPECT_TRUE(count.ok()) << count.message;
  ASSERT_EQ(holder.exec("ROLLBACK"), "");

  // Once released, the same connection writes.
  EXPECT_TRUE(c->run(ops::insert_row("z"), TransactionMode::kExclusive).ok());
}

TEST_F(PostgresEngine, BatchRollsBackOnlyTheWriteThatFailed) {
  auto c = engine_->open(Engine::Purpose::kStartup);
  const Operation a = ops::insert_row("a");
  const Operation bad = ops::insert_row(std::string("nul\0byte", 8));  // PostgreSQL text cannot hold NUL
  const Operation b = ops::insert_row("b");
  const Operation inc = ops::increment("batched");
  const std::vector<const Operation*> batch{&a, &bad, &b, &inc};
  const auto outs = c->run_batch(batch);
  ASSERT_EQ(outs.size(), 4u);
  EXPECT_TRUE(outs[0].ok()) << outs[0].message;
  EXPECT_FALSE(outs[1].ok());
  EXPECT_TRUE(outs[2].ok()) << outs[2].message;
  EXPECT_TRUE(outs[3].ok()) << outs[3].message;
  EXPECT_EQ(outs[3].value, 1);
  EXPECT_EQ(stats_.transactions_committed.load(), 1u);
  EXPECT_EQ(stats_.writes_committed.load(), 3u);
  RawClient check(cluster_->url());
  EXPECT_EQ(check.exec("SELECT string_agg(payload, ',' ORDER BY id) FROM rows"), "a,b");
}

TEST_F(PostgresEngine, InsertBatchesGoInOnePipelineAndFallBackToSavepointsWhenAWriteFails) {
  auto c = engine_->open(Engine::Purpose::kStartup);
  std::vector<Operation> inserts;
  for (const char* p : {"p1", "p2", "p3", "p4"}) inserts.push_back(ops::insert_row(p));
  std::vector<const Operation*> batch;
  for (const auto& op : inserts) batch.push_back(&op);
  auto outs = c->run_batch(batch);
  ASSERT_EQ(outs.size(), 4u);
  for (std::size_t i = 0; i < outs.size(); ++i) {
    EXPECT_TRUE(outs[i].ok()) << outs[i].message;
    EXPECT_EQ(outs[i].value, static_cast<std::int64_t>(i + 1)) << "each write gets its own id back";
  }
  EXPECT_EQ(stats_.transactions_committed.load(), 1u);
  EXPECT_EQ(stats_.writes_committed.load(), 4u);

  // A write the server refuses inside the pipeline aborts it; the batch runs
  // again with a savepoint per write, and only that write fails.
  RawClient admin(cluster_->url());
  ASSERT_EQ(admin.exec("ALTER TABLE rows ADD CONSTRAINT not_bad CHECK (payload <> 'bad')"), "");
  const Operation good1 = ops::insert_row("g1"), bad = ops::insert_row("bad"), good2 = ops::insert_row("g2");
  const std::vector<const Operation*> mixed{&good1, &bad, &good2};
  outs = c->run_batch(mixed);
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_TRUE(outs[0].ok()) << outs[0].message;
  EXPECT_EQ(outs[1].errc, Errc::kConstraint) << outs[1].message;
  EXPECT_EQ(outs[1].code, "23514");
  EXPECT_TRUE(outs[2].ok()) << outs[2].message;
  EXPECT_EQ(admin.exec("SELECT string_agg(payload, ',' ORDER BY id) FROM rows"), "p1,p2,p3,p4,g1,g2");
  EXPECT_EQ(stats_.writes_committed.load(), 6u);

  // A lock held elsewhere: every write of the batch fails with lock_timeout, none is acknowledged.
  auto impatient = open(options(TransactionMode::kImmediate, 100));
  ASSERT_TRUE(impatient->run(ops::insert_row("warm"), TransactionMode::kImmediate).ok());  // statement prepared
  ASSERT_EQ(admin.exec("BEGIN"), "");
  ASSERT_EQ(admin.exec("LOCK TABLE rows IN ACCESS EXCLUSIVE MODE"), "");
  const Operation l1 = ops::insert_row("l1"), l2 = ops::insert_row("l2");
  const std::vector<const Operation*> locked{&l1, &l2};
  outs = impatient->run_batch(locked);
  ASSERT_EQ(admin.exec("ROLLBACK"), "");
  for (const auto& out : outs) {
    EXPECT_EQ(out.errc, Errc::kBusy) << out.message;
    EXPECT_EQ(out.code, "55P03 lock_not_available");
  }
  EXPECT_EQ(admin.exec("SELECT count(*) FROM rows"), "7");
  // The connection is clean afterwards.
  EXPECT_TRUE(impatient->run_batch(locked)[1].ok());
}

TEST_F(PostgresEngine, NoServerIsUnavailableAndTheConnectionIsReplacedAfterALoss) {
  DatabaseOptions nowhere = options();
  nowhere.url = "postgresql://postgres@127.0.0.1:1/busylab?connect_timeout=2";
  PgEngine engine(nowhere, stats_);
  try {
    engine.open(Engine::Purpose::kRequest);
    FAIL() << "connected to port 1";
  } catch (const DatabaseError& e) {
    EXPECT_EQ(e.errc(), Errc::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("cannot connect to PostgreSQL"), std::string::npos) << e.what();
  }
  const OpOutcome out = run_on_fresh_connection(ops::count_rows(), engine, stats_);
  EXPECT_EQ(out.errc, Errc::kUnavailable);
  EXPECT_EQ(to_string(out.errc), "database_unavailable");

  // A kept connection whose backend is terminated while idle is reopened
  // before the next operation: nothing fails.
  ConnectionPool::Slot slot = engine_->open(Engine::Purpose::kStartup);
  ASSERT_TRUE(slot->run(ops::insert_row("before"), TransactionMode::kImmediate).ok());
  RawClient admin(cluster_->url());
  ASSERT_EQ(admin.exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = "
                       "'busylab' AND pid <> pg_backend_pid()"),
            "1");
  std::this_thread::sleep_for(200ms);
  const auto replaced = stats_.connections_replaced.load();
  const OpOutcome after = run_on_slot(slot, ops::insert_row("after"), *engine_, stats_);
  EXPECT_TRUE(after.ok()) << after.message;
  EXPECT_EQ(stats_.connections_replaced.load(), replaced + 1);
}

TEST_F(PostgresEngine, ServeAnswersTheSameApiOnPostgres) {
  testing::TempDir dir;
  const std::string port_file = dir.file("port");
  auto server = testing::start_serve(dir, "postgres.json", dir.file("unused.db"), port_file,
                                     {"database.url=\"" + cluster_->url() + "\"", "pool.size=2"});
  const int port = read_port_file(port_file, 20s);
  ASSERT_GT(port, 0) << server->err();
  testing::HttpClient http(static_cast<std::uint16_t>(port));
  auto call = [&](const char* method, const char* target, std::string body = {}) {
    auto r = http.request(method, target, body, {}, 10s);
    EXPECT_TRUE(r) << method << " " << target;
    return r ? *r : testing::Response{};
  };
  EXPECT_EQ(call("POST", "/rows", R"({"payload":"p"})").body, R"({"id":1})");
  EXPECT_EQ(call("GET", "/rows/1").body, R"({"id":1,"payload":"p"})");
  EXPECT_EQ(call("GET", "/rows/count").body, R"({"count":1})");
  EXPECT_EQ(call("POST", "/counters/c/increment").body, R"({"name":"c","value":1})");
  EXPECT_EQ(call("GET", "/rows/7").status, 404);
  EXPECT_EQ(call("PUT", "/rows/1", R"({"payload":"q"})").body, R"({"id":1})");
  EXPECT_EQ(call("GET", "/rows/1").body, R"({"id":1,"payload":"q"})");
  EXPECT_EQ(call("PUT", "/rows/7", R"({"payload":"q"})").status, 404);
  EXPECT_EQ(call("GET", "/accounts/total").body, R"({"accounts":100,"total":100000})");
  EXPECT_EQ(call("POST", "/transfer", R"({"from":3,"to":4,"amount":10})").body,
            R"({"from":{"balance":990,"id":3},"to":{"balance":1010,"id":4}})");
  EXPECT_EQ(call("POST", "/transfer", R"({"from":3,"to":4,"amount":991})").status, 409);
  EXPECT_EQ(call("GET", "/accounts/4").body, R"({"balance":1010,"id":4})");
  EXPECT_EQ(call("GET", "/accounts/101").status, 404);
  const auto stats = call("GET", "/stats").json();
  EXPECT_EQ(stats["config"]["database"]["engine"], "postgres");
  EXPECT_EQ(stats["writes"]["acknowledged"], 4);

  // A write that cannot get its lock is a 503 with a cause, like SQLite's BUSY.
  server.reset();  // stop the first server; a second with a short lock_timeout
  auto quick = testing::start_serve(dir, "postgres.json", dir.file("unused.db"), dir.file("port2"),
                                    {"database.url=\"" + cluster_->url() + "\"", "database.busy_timeout_ms=100"});
  const int port2 = read_port_file(dir.file("port2"), 20s);
  ASSERT_GT(port2, 0) << quick->err();
  testing::HttpClient http2(static_cast<std::uint16_t>(port2));
  RawClient holder(cluster_->url());
  ASSERT_EQ(holder.exec("BEGIN"), "");
  ASSERT_EQ(holder.exec("LOCK TABLE rows IN ACCESS EXCLUSIVE MODE"), "");
  const auto busy = http2.request("POST", "/rows", "{}", {}, 10s);
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 503) << busy->body;
  EXPECT_EQ(busy->json()["error"], "database_busy");
  EXPECT_EQ(busy->json()["code"], "55P03 lock_not_available");
  ASSERT_EQ(holder.exec("ROLLBACK"), "");
  const auto ok = http2.request("POST", "/rows", "{}", {}, 10s);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201) << ok->body;
  quick->signal(SIGTERM);
  const auto status = quick->wait(20s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << quick->err();
  EXPECT_NE(quick->out().find("writes acknowledged"), std::string::npos) << quick->out();
}

TEST_F(PostgresEngine, BankKeepsItsTotalAndBalancesUnderConcurrentTransfers) {
  // Immediate (rows locked in id order by the read), and deferred
  // (REPEATABLE READ: 40001 on conflict) with database.retry absorbing them.
  for (const std::string setup : {"immediate", "deferred"}) {
    SCOPED_TRACE(setup);
    pg_reset(cluster_->url());
    testing::TempDir dir;
    std::vector<std::string> sets = {"database.url=\"" + cluster_->url() + "\"", "pool.size=4", "bank.accounts=5",
                                     "bank.initial_balance=100", "database.transaction=\"" + setup + "\""};
    if (setup == "deferred") sets.insert(sets.end(), {"database.retry.max_tries=100", "database.retry.cap_ms=10"});
    auto server = testing::start_serve(dir, "postgres.json", dir.file("unused.db"), dir.file("port"), sets);
    const int port = read_port_file(dir.file("port"), 20s);
    ASSERT_GT(port, 0) << server->err();
    testing::BankLoad load(static_cast<std::uint16_t>(port), 8, 25, 5, 3);
    load.join();
    const auto& ledger = load.ledger();
    EXPECT_EQ(ledger.count(200) + ledger.count(409), 8 * 25) << ledger.describe();
    EXPECT_GT(ledger.count(200), 0);
    EXPECT_EQ(testing::check_bank(ledger, testing::read_balances(static_cast<std::uint16_t>(port), 5), 5, 100), "");
    testing::HttpClient http(static_cast<std::uint16_t>(port));
    const auto stats = http.request("GET", "/stats", {}, {}, 10s)->json()["database"];
    http.close();
    if (setup == "deferred") {
      EXPECT_GT(stats["busy_snapshot_failures"].get<int>(), 0) << "no 40001 to retry";
    }
    server->signal(SIGTERM);
    EXPECT_EQ(server->wait(20s).value_or(-1), 0) << server->err();
  }
}

}  // namespace
}  // namespace busylab
