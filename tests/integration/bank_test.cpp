// The application-like routes on SQLite: point reads and updates of rows
// (GET/PUT /rows/{id}), and a bank (POST /transfer, GET /accounts/...) whose
// total never changes and whose balances are exactly what the acknowledged
// transfers say, through every strategy; deferred read-then-write
// transactions conflict, and database.retry absorbs the conflicts.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/support/bank_load.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

namespace busylab::testing {
namespace {

constexpr std::int64_t kAccounts = 5;
constexpr std::int64_t kInitial = 100;

Config bank_config(const TempDir& dir, StrategyKind kind, int size = 4) {
  Config config = test_config(dir, kind, size);
  config.database.initial.accounts = kAccounts;
  config.database.initial.initial_balance = kInitial;
  config.database.initial.rows = 20;
  return config;
}

TEST(Routes, RowsAndAccountsAnswerAsDocumented) {
  TempDir dir;
  const Config config = bank_config(dir, StrategyKind::kPool);
  TestServer server(config);
  HttpClient http(server.port());
  auto call = [&](std::string_view method, std::string_view target, std::string_view body = {}) {
    const auto r = http.request(method, target, body);
    EXPECT_TRUE(r) << method << " " << target;
    return r ? *r : Response{};
  };

  // data.rows: rows 1..20 exist, each with a 100-character payload.
  const auto row = call("GET", "/rows/20");
  ASSERT_EQ(row.status, 200) << row.body;
  EXPECT_EQ(row.json()["payload"].get<std::string>().size(), 100u);
  EXPECT_EQ(call("GET", "/rows/21").status, 404);
  EXPECT_EQ(call("PUT", "/rows/7", R"({"payload":"new"})").body, R"({"id":7})");
  EXPECT_EQ(call("GET", "/rows/7").body, R"({"id":7,"payload":"new"})");
  const auto absent = call("PUT", "/rows/999", R"({"payload":"x"})");
  EXPECT_EQ(absent.status, 404);
  EXPECT_EQ(absent.json()["error"], "not_found");
  EXPECT_EQ(call("PUT", "/rows/7", R"({"payload":1})").status, 400);
  EXPECT_EQ(call("PUT", "/rows/x", R"({"payload":"x"})").status, 400);
  const auto del = call("DELETE", "/rows/7");
  EXPECT_EQ(del.status, 405);

  EXPECT_EQ(call("GET", "/accounts/total").body, R"({"accounts":5,"total":500})");
  const auto moved = call("POST", "/transfer", R"({"from":1,"to":2,"amount":30})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  EXPECT_EQ(moved.json()["from"]["balance"], 70);
  EXPECT_EQ(moved.json()["to"]["balance"], 130);
  EXPECT_EQ(call("GET", "/accounts/2").body, R"({"balance":130,"id":2})");

  // An overdraft is refused and writes nothing.
  const auto overdraft = call("POST", "/transfer", R"({"from":1,"to":3,"amount":71})");
  EXPECT_EQ(overdraft.status, 409) << overdraft.body;
  EXPECT_EQ(overdraft.json()["error"], "insufficient_funds");
  EXPECT_EQ(call("GET", "/accounts/1").json()["balance"], 70);
  EXPECT_EQ(call("GET", "/accounts/3").json()["balance"], 100);
  // An account that does not exist: 404, nothing written.
  EXPECT_EQ(call("POST", "/transfer", R"({"from":1,"to":99,"amount":1})").status, 404);
  EXPECT_EQ(call("GET", "/accounts/1").json()["balance"], 70);
  EXPECT_EQ(call("GET", "/accounts/99").status, 404);
  for (const char* bad : {R"({"from":1,"to":1,"amount":1})", R"({"from":1,"to":2})", R"({"from":1,"to":2,"amount":0})",
                          R"({"from":1,"to":2,"amount":1.5})", R"({"from":1,"to":2,"amount":1,"x":1})", "[]", "nope"}) {
    const auto r = call("POST", "/transfer", bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
    EXPECT_EQ(r.json()["error"], "bad_request") << bad;
  }
  EXPECT_EQ(call("GET", "/transfer").status, 405);
  EXPECT_EQ(call("GET", "/accounts/total").body, R"({"accounts":5,"total":500})");

  // Acknowledged writes: the update and the transfer; refused ones are not.
  const auto stats = call("GET", "/stats").json();
  EXPECT_EQ(stats["writes"]["acknowledged"], 2);
  EXPECT_EQ(stats["writes"]["committed"], 2);
  EXPECT_EQ(stats["database"]["other_failures"], 0) << "a refusal is not a database failure";
  http.close();
  const ShutdownSummary summary = server.stop();
  EXPECT_EQ(summary.rows_inserted, 0u);
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), 20);
}

TEST(Routes, InitialDataIsCreatedOnlyInEmptyTables) {
  TempDir dir;
  Config config = bank_config(dir, StrategyKind::kPool);
  {
    TestServer server(config);
    HttpClient http(server.port());
    ASSERT_EQ(http.request("POST", "/transfer", R"({"from":1,"to":2,"amount":5})")->status, 200);
    http.close();
    server.stop();
  }
  // A restart (with other sizes asked for) keeps what is there.
  config.database.initial.accounts = 50;
  config.database.initial.rows = 100;
  TestServer server(config);
  server.stop();
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM accounts"), kAccounts);
  EXPECT_EQ(query_int(config.database.path, "SELECT balance FROM accounts WHERE id = 1"), kInitial - 5);
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), 20);
}

class BankStrategies : public ::testing::TestWithParam<StrategyKind> {};

TEST_P(BankStrategies, TotalNeverChangesAndEveryBalanceIsWhatWasAcknowledged) {
  TempDir dir;
  const Config config = bank_config(dir, GetParam());
  TestServer server(config);
  // A reader polls the total while the transfers run: every answer holds it.
  std::atomic<bool> done{false};
  std::atomic<int> totals_read{0}, totals_wrong{0};
  std::thread reader([&] {
    HttpClient http(server.port());
    while (!done.load()) {
      const auto r = http.request("GET", "/accounts/total");
      if (!r || r->status != 200) continue;
      ++totals_read;
      if (r->json()["total"] != kAccounts * kInitial) ++totals_wrong;
    }
  });
  BankLoad load(server.port(), 12, 40, kAccounts, 7);
  load.join();
  done = true;
  reader.join();
  const BankLedger& ledger = load.ledger();
  // Five accounts of 100 and amounts up to 50: some transfers are refused.
  EXPECT_EQ(ledger.count(200) + ledger.count(409), 12 * 40) << ledger.describe();
  EXPECT_GT(ledger.count(200), 0);
  EXPECT_GT(totals_read.load(), 0);
  EXPECT_EQ(totals_wrong.load(), 0);
  EXPECT_EQ(check_bank(ledger, read_balances(server.port(), kAccounts), kAccounts, kInitial), "");
  const ShutdownSummary summary = server.stop();
  EXPECT_EQ(summary.writes_acknowledged, static_cast<std::uint64_t>(ledger.count(200)));
}

INSTANTIATE_TEST_SUITE_P(Every, BankStrategies,
                         ::testing::Values(StrategyKind::kPerRequest, StrategyKind::kPool, StrategyKind::kSingleWriter,
                                           StrategyKind::kBatched),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(Retry, DeferredTransfersConflictAndRetriesAbsorbThem) {
  // Deferred read-then-write on five hot accounts from eight connections:
  // the upgrade from read to write fails at once (BUSY or BUSY_SNAPSHOT).
  std::map<bool, int> conflicts;
  for (const bool retry : {false, true}) {
    TempDir dir;
    Config config = bank_config(dir, StrategyKind::kPool, 8);
    config.database.transaction = TransactionMode::kDeferred;
    config.database.initial.initial_balance = 100000;  // no overdrafts: every transfer writes
    if (retry) {
      config.database.retry.max_tries = 200;
      config.database.retry.base_ms = 1;
      config.database.retry.cap_ms = 10;
      config.database.retry.deadline_ms = 60000;
    }
    TestServer server(config);
    BankLoad load(server.port(), 16, 30, kAccounts, 11);
    load.join();
    const BankLedger& ledger = load.ledger();
    conflicts[retry] = ledger.count(503);
    EXPECT_EQ(ledger.count(200) + ledger.count(503), 16 * 30) << ledger.describe();
    EXPECT_EQ(check_bank(ledger, read_balances(server.port(), kAccounts), kAccounts, 100000), "") << "retry=" << retry;
    HttpClient http(server.port());
    const auto stats = http.request("GET", "/stats")->json()["database"];
    http.close();
    const auto& r = stats["retry"];
    if (retry) {
      EXPECT_GT(r["retries"].get<int>(), 0) << r;
      EXPECT_GT(r["committed_after_retry"].get<int>(), 0) << r;
      int tries_total = 0;
      for (const auto& [tries, n] : r["tries_per_committed_write"].items()) tries_total += n.get<int>();
      EXPECT_EQ(tries_total, ledger.count(200)) << r;
    } else {
      EXPECT_EQ(r["retries"], 0);
      EXPECT_EQ(r["tries_per_committed_write"]["1"], ledger.count(200)) << r;
    }
    server.stop();
  }
  EXPECT_GT(conflicts[false], 0) << "deferred upgrades on hot accounts should conflict";
  EXPECT_EQ(conflicts[true], 0) << "200 tries within a minute should absorb every conflict";
}

TEST(Retry, GivesUpAfterMaxTriesAndSaysSo) {
  TempDir dir;
  Config config = bank_config(dir, StrategyKind::kPool, 2);
  config.database.busy_timeout_ms = 0;  // a held lock fails every try at once
  config.database.retry.max_tries = 3;
  config.database.retry.base_ms = 1;
  TestServer server(config);
  OutsideWriteLock lock(config.database.path);  // another process's writer holds the lock
  ASSERT_TRUE(lock.held());
  HttpClient http(server.port());
  const auto r = http.request("POST", "/transfer", R"({"from":1,"to":2,"amount":1})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_NE(r->json()["detail"].get<std::string>().find("gave up after 3 tries"), std::string::npos) << r->body;
  const auto stats = http.request("GET", "/stats")->json()["database"]["retry"];
  EXPECT_EQ(stats["retries"], 2);
  EXPECT_EQ(stats["gave_up"]["max_tries"]["busy"], 1) << stats;
  http.close();
  lock.release();
  server.stop();
}

}  // namespace
}  // namespace busylab::testing
