// A 2xx on a write means it is committed, even when the server is killed
// (SIGKILL) a moment later: for every strategy, `busylab serve` is killed at a
// random moment (after 1 to 200 acknowledged writes) under 16 writing clients, restarted on the same database and
// killed again, five times; afterwards every acknowledged payload is in the
// table exactly once and the database passes PRAGMA integrity_check.

#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <random>

#include "tests/reliability/reliability_support.hpp"
#include "tests/support/bank_load.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/wait.hpp"

namespace busylab::testing::reliability {
namespace {

using namespace std::chrono_literals;

struct CrashCase {
  std::string strategy;
  std::string synchronous;
};

void PrintTo(const CrashCase& c, std::ostream* os) {
  *os << "strategy=" << c.strategy << " synchronous=" << c.synchronous;
}

std::string case_name(const ::testing::TestParamInfo<CrashCase>& info) {
  return info.param.strategy + "_synchronous_" + info.param.synchronous;
}

class CrashDurability : public ::testing::TestWithParam<CrashCase> {};

constexpr int kKills = 5;
constexpr int kClients = 16;

TEST_P(CrashDurability, KilledServerLosesNoAcknowledgedWrite) {
  const CrashCase& param = GetParam();
  const std::uint32_t seed = choose_seed();
  // Not a `reliability:` line: those are the one-line results.
  std::cout << "seed " << seed << " for crash strategy=" << param.strategy << " synchronous=" << param.synchronous
            << " (replay with BUSYLAB_RELIABILITY_SEED=" << seed << ")" << std::endl;
  std::mt19937 random(seed);
  // The kill comes once a random number of writes has been acknowledged:
  // the other clients' writes are then at random points of their commits.
  std::uniform_int_distribution<std::size_t> acknowledged_before_kill(1, 200);

  TempDir dir;
  const std::string db = dir.file("crash.db");
  const std::vector<std::string> overrides{"pool.strategy=" + param.strategy, "database.journal_mode=wal",
                                           "database.synchronous=" + param.synchronous};

  std::set<std::string> acknowledged;  // over every round
  std::map<int, int> statuses;         // over every round
  for (int kill = 0; kill < kKills; ++kill) {
    const std::string port_file = dir.file("port" + std::to_string(kill));
    auto server = start_server(dir, db, port_file, overrides);
    const int port = read_port_file(port_file, 20s);
    // After the first round this is a restart on a database whose server
    // was killed mid-write: it must come up.
    ASSERT_GT(port, 0) << "round " << kill << ": server did not start; stderr: " << server->err();
    if (kill > 0) {
      // What the killed server left behind reads as a sound database.
      EXPECT_EQ(integrity_check(db), "ok") << "round " << kill;
    }

    const std::size_t kill_after = acknowledged_before_kill(random);
    WriterLoad load(static_cast<std::uint16_t>(port), kClients, "k" + std::to_string(kill));
    wait_until([&] { return load.acknowledged_count() >= kill_after; });
    server->signal(SIGKILL);
    const auto status = server->wait(10s);
    load.stop();
    ASSERT_TRUE(status) << "round " << kill << ": SIGKILL did not end the server";
    EXPECT_EQ(*status, 128 + SIGKILL) << "round " << kill
                                      << ": the server exited before it was killed; stderr: " << server->err();

    ASSERT_GE(load.acknowledged().size(), kill_after)
        << "round " << kill << ": fewer than " << kill_after << " writes acknowledged in " << kPatience.count()
        << " s; answers " << format_statuses(load.statuses())
        << (load.error_bodies().empty() ? "" : "; " + load.error_bodies()[0]);
    // Nothing but 201 before the kill (busy_timeout and checkout timeout are
    // 5 s) and no answer once it happened.
    for (auto [s, n] : load.statuses()) {
      EXPECT_TRUE(s == 201 || s == 0) << "round " << kill << ": " << n << " answers with status " << s << "; "
                                      << (load.error_bodies().empty() ? "" : load.error_bodies()[0]);
      statuses[s] += n;
    }
    acknowledged.insert(load.acknowledged().begin(), load.acknowledged().end());
  }

  // One more restart: the server recovers the database and counts every row.
  const std::string port_file = dir.file("port-final");
  auto server = start_server(dir, db, port_file, overrides);
  const int port = read_port_file(port_file, 20s);
  ASSERT_GT(port, 0) << "final restart: server did not start; stderr: " << server->err();
  long long http_count = -1;
  {
    HttpClient client(static_cast<std::uint16_t>(port));
    const auto r = client.request("GET", "/rows/count", {}, {}, 10s);
    ASSERT_TRUE(r) << "final restart: no answer to GET /rows/count";
    ASSERT_EQ(r->status, 200) << r->body;
    http_count = r->json().value("count", -1LL);
  }
  server->signal(SIGTERM);
  const auto status = server->wait(20s);
  ASSERT_TRUE(status) << "final restart: server did not stop after SIGTERM";
  EXPECT_EQ(*status, 0) << server->err();

  const std::string integrity = integrity_check(db);
  const auto table = read_payloads(db);
  const PayloadCheck check = check_payloads(acknowledged, table);

  std::cout << "reliability: crash strategy=" << param.strategy << " synchronous=" << param.synchronous
            << " kills=" << kKills << " acknowledged=" << check.acknowledged << " present=" << check.present
            << " duplicates=" << check.duplicates << " integrity=" << integrity << " rows=" << check.rows
            << " unanswered=" << statuses[0] << " seed=" << seed << std::endl;

  EXPECT_EQ(integrity, "ok");
  EXPECT_EQ(check.present, check.acknowledged) << "acknowledged writes lost: " << check.describe();
  EXPECT_EQ(check.duplicates, 0u) << check.describe();
  // Rows beyond the acknowledged ones are writes committed whose answer the
  // kill cut off: at most one per client per round.
  EXPECT_LE(check.rows, check.acknowledged + static_cast<std::size_t>(kClients * kKills)) << check.describe();
  EXPECT_EQ(http_count, static_cast<long long>(check.rows));
}

INSTANTIATE_TEST_SUITE_P(Strategies, CrashDurability,
                         ::testing::Values(CrashCase{"per_request", "full"}, CrashCase{"pool", "full"},
                                           CrashCase{"single_writer", "full"}, CrashCase{"batched", "full"},
                                           CrashCase{"pool", "normal"}),
                         case_name);

// The bank under kill -9: transfers between five hot accounts from 12
// clients, the server killed after a random number of acknowledged transfers,
// restarted, three times; afterwards the total is what it was and every
// balance is what the acknowledged transfers say (each transfer cut off by a
// kill may or may not have happened: it widens its two accounts' range).
class BankCrash : public ::testing::TestWithParam<std::string> {};

TEST_P(BankCrash, KilledServerKeepsTheTotalAndEveryAcknowledgedTransfer) {
  constexpr int kBankKills = 3, kBankClients = 12;
  constexpr std::int64_t kAccounts = 5, kInitial = 1000;
  const std::uint32_t seed = choose_seed();
  std::cout << "seed " << seed << " for bank crash strategy=" << GetParam()
            << " (replay with BUSYLAB_RELIABILITY_SEED=" << seed << ")" << std::endl;
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> acknowledged_before_kill(1, 100);

  TempDir dir;
  const std::string db = dir.file("bank.db");
  const std::vector<std::string> overrides{"pool.strategy=" + GetParam(), "database.synchronous=full",
                                           "bank.accounts=" + std::to_string(kAccounts),
                                           "bank.initial_balance=" + std::to_string(kInitial)};
  BankLedger all;
  for (int kill = 0; kill < kBankKills; ++kill) {
    const std::string port_file = dir.file("port" + std::to_string(kill));
    auto server = start_server(dir, db, port_file, overrides);
    const int port = read_port_file(port_file, 20s);
    ASSERT_GT(port, 0) << "round " << kill << ": server did not start; stderr: " << server->err();
    const int kill_after = acknowledged_before_kill(random);
    BankLoad load(static_cast<std::uint16_t>(port), kBankClients, 0, kAccounts, seed + 1000 * kill, 200);
    wait_until([&] { return load.acknowledged() >= kill_after; });
    server->signal(SIGKILL);
    ASSERT_TRUE(server->wait(10s)) << "round " << kill << ": SIGKILL did not end the server";
    load.stop();
    ASSERT_GE(load.acknowledged(), kill_after) << "round " << kill << ": " << load.ledger().describe();
    const BankLedger& l = load.ledger();
    for (const auto& [status, n] : l.statuses) {
      EXPECT_TRUE(status == 200 || status == 409 || status == 0) << "round " << kill << ": " << l.describe();
      all.statuses[status] += n;
    }
    for (const auto& [id, v] : l.net) all.net[id] += v;
    for (const auto& [id, v] : l.unknown) all.unknown[id] += v;
  }
  const std::string port_file = dir.file("port-final");
  auto server = start_server(dir, db, port_file, overrides);
  const int port = read_port_file(port_file, 20s);
  ASSERT_GT(port, 0) << "final restart: server did not start; stderr: " << server->err();
  const auto balances = read_balances(static_cast<std::uint16_t>(port), kAccounts);
  server->signal(SIGTERM);
  ASSERT_TRUE(server->wait(20s));
  EXPECT_EQ(integrity_check(db), "ok");
  std::cout << "reliability: bank crash strategy=" << GetParam() << " kills=" << kBankKills
            << " transfers_acknowledged=" << all.count(200) << " refused=" << all.count(409)
            << " unanswered=" << all.count(0) << " seed=" << seed << std::endl;
  EXPECT_EQ(check_bank(all, balances, kAccounts, kInitial), "");
}

INSTANTIATE_TEST_SUITE_P(Strategies, BankCrash, ::testing::Values("pool", "single_writer", "batched"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace busylab::testing::reliability
