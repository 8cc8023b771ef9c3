// The reliability tests of the SQLite engine, run against PostgreSQL 15
// (scripts/postgres): a 2xx on a write means it is committed even when
// busylab is killed (SIGKILL) a moment later; SIGTERM under load drains and
// keeps every acknowledged write; and a PostgreSQL server that goes away
// mid-run gives 503s (no crash, no hang) and busylab recovers when it
// returns.

#include "tests/support/postgres.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "tests/reliability/reliability_support.hpp"
#include "tests/support/wait.hpp"

namespace busylab::testing::reliability {
namespace {

using namespace std::chrono_literals;

// One cluster for the crash and shutdown suites; each test empties it first.
PostgresCluster& shared_cluster() {
  static PostgresCluster cluster;
  return cluster;
}

std::string url_override(const std::string& url) {
  return "database.url=\"" + url + "\"";
}

std::unique_ptr<ChildProcess> start_pg_server(const TempDir& dir, const std::string& url, const std::string& port_file,
                                              std::vector<std::string> overrides) {
  overrides.insert(overrides.begin(), url_override(url));
  return start_serve(dir, "postgres.json", dir.file("unused.db"), port_file, overrides);
}

// The test's own libpq session (not busylab's), for setting up and checking.
class Session {
 public:
  explicit Session(const std::string& url) : conn_(PQconnectdb(url.c_str()), &PQfinish) {}
  bool connected() const { return PQstatus(conn_.get()) == CONNECTION_OK; }
  const char* error() const { return PQerrorMessage(conn_.get()); }
  /// Runs `sql`; true when it succeeded.
  bool run(const char* sql) { return query(sql).has_value(); }
  /// Runs `sql` (a failure is a test failure) and returns every row's first value.
  std::vector<std::string> column(const char* sql) {
    auto rows = query(sql);
    EXPECT_TRUE(rows) << sql << ": " << error();
    return rows.value_or(std::vector<std::string>{});
  }
  /// The first row's first value, "" when there is none.
  std::string value(const char* sql) {
    const auto rows = column(sql);
    return rows.empty() ? std::string() : rows.front();
  }

 private:
  std::optional<std::vector<std::string>> query(const char* sql) {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn_.get(), sql), &PQclear);
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return std::nullopt;
    std::vector<std::string> rows;
    for (int i = 0; i < PQntuples(r.get()); ++i) rows.emplace_back(PQgetvalue(r.get(), i, 0));
    return rows;
  }
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
};

void empty_database(const std::string& url) {
  Session s(url);
  ASSERT_TRUE(s.connected()) << s.error();
  ASSERT_TRUE(s.run("SET client_min_messages = warning; DROP TABLE IF EXISTS rows, counters, accounts")) << s.error();
}

// busylab on a pool (busy timeout, hence lock_timeout, 20 s) with one
// POST /rows waiting behind another session's lock on the table. Start it
// with ASSERT_NO_FATAL_FAILURE(x.start(...)); release() (or the destructor)
// ends the lock and joins the writer.
struct InsertBehindALock {
  void start(const std::string& url, const std::string& grace_ms) {
    server = start_pg_server(dir, url, dir.file("port"),
                             {"pool.strategy=\"pool\"", "database.busy_timeout_ms=20000",
                              "pool.checkout_timeout_ms=20000", "server.shutdown_grace_ms=" + grace_ms});
    const int port = read_port_file(dir.file("port"), 20s);
    ASSERT_GT(port, 0) << server->err();
    holder.emplace(url);
    ASSERT_TRUE(holder->connected()) << holder->error();
    ASSERT_TRUE(holder->run("BEGIN"));
    ASSERT_TRUE(holder->run("LOCK TABLE rows IN ACCESS EXCLUSIVE MODE")) << holder->error();
    writer = std::thread([port] {
      HttpClient client(static_cast<std::uint16_t>(port));
      client.request("POST", "/rows", R"({"payload":"blocked"})", {}, 30s);
    });
    Session watcher(url);
    ASSERT_TRUE(watcher.connected());
    EXPECT_TRUE(wait_until([&] {
      return std::atoi(watcher.value("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").c_str()) >
             0;
    })) << "the server's INSERT never waited for the lock";
  }
  void release() {
    if (holder) holder->run("ROLLBACK");
    if (writer.joinable()) writer.join();
  }
  ~InsertBehindALock() { release(); }

  TempDir dir;
  std::unique_ptr<ChildProcess> server;
  std::optional<Session> holder;
  std::thread writer;
};

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

class PostgresCrash : public ::testing::TestWithParam<std::string> {};

TEST_P(PostgresCrash, KilledServerLosesNoAcknowledgedWrite) {
  constexpr int kKills = 5, kClients = 16;
  const std::string url = shared_cluster().url();
  empty_database(url);
  const std::uint32_t seed = choose_seed();
  std::cout << "seed " << seed << " for postgres crash strategy=" << GetParam()
            << " (replay with BUSYLAB_RELIABILITY_SEED=" << seed << ")" << std::endl;
  std::mt19937 random(seed);
  std::uniform_int_distribution<std::size_t> acknowledged_before_kill(1, 200);

  TempDir dir;
  const std::vector<std::string> overrides{"pool.strategy=" + GetParam(), "database.synchronous=full"};
  std::set<std::string> acknowledged;
  for (int kill = 0; kill < kKills; ++kill) {
    const std::string port_file = dir.file("port" + std::to_string(kill));
    auto server = start_pg_server(dir, url, port_file, overrides);
    const int port = read_port_file(port_file, 20s);
    ASSERT_GT(port, 0) << "round " << kill << ": server did not start; stderr: " << server->err();
    const std::size_t kill_after = acknowledged_before_kill(random);
    WriterLoad load(static_cast<std::uint16_t>(port), kClients, "k" + std::to_string(kill));
    wait_until([&] { return load.acknowledged_count() >= kill_after; });
    server->signal(SIGKILL);
    const auto status = server->wait(10s);
    load.stop();
    ASSERT_TRUE(status) << "round " << kill << ": SIGKILL did not end the server";
    ASSERT_GE(load.acknowledged().size(), kill_after)
        << "round " << kill << ": answers " << format_statuses(load.statuses())
        << (load.error_bodies().empty() ? "" : "; " + load.error_bodies()[0]);
    for (auto [s, n] : load.statuses()) EXPECT_TRUE(s == 201 || s == 0) << "round " << kill << ": " << n << " x " << s;
    acknowledged.insert(load.acknowledged().begin(), load.acknowledged().end());
  }

  const PayloadCheck check = check_payloads(acknowledged, pg_payloads(url));
  std::cout << "reliability: postgres crash strategy=" << GetParam() << " kills=" << kKills
            << " acknowledged=" << check.acknowledged << " present=" << check.present
            << " duplicates=" << check.duplicates << " rows=" << check.rows << " seed=" << seed << std::endl;
  EXPECT_EQ(check.present, check.acknowledged) << "acknowledged writes lost: " << check.describe();
  EXPECT_EQ(check.duplicates, 0u) << check.describe();
  EXPECT_LE(check.rows, check.acknowledged + static_cast<std::size_t>(kClients * kKills)) << check.describe();
}

INSTANTIATE_TEST_SUITE_P(Strategies, PostgresCrash, ::testing::Values("per_request", "pool", "batched"), param_name);

class PostgresShutdown : public ::testing::TestWithParam<std::string> {};

TEST_P(PostgresShutdown, SigtermUnderLoadDrainsAndKeepsEveryAcknowledgedWrite) {
  constexpr int kClients = 16;
  const std::string url = shared_cluster().url();
  empty_database(url);
  TempDir dir;
  auto server = start_pg_server(dir, url, dir.file("port"), {"pool.strategy=" + GetParam()});
  const int port = read_port_file(dir.file("port"), 20s);
  ASSERT_GT(port, 0) << server->err();

  WriterLoad load(static_cast<std::uint16_t>(port), kClients, "t");
  wait_until([&] { return load.acknowledged_count() >= 50; });
  server->signal(SIGTERM);
  const auto status = server->wait(20s);
  if (!status) server->signal(SIGKILL);
  load.stop();
  ASSERT_TRUE(status) << "server still running after SIGTERM; stderr: " << server->err();
  EXPECT_EQ(*status, 0) << server->err();
  for (auto [s, n] : load.statuses()) {
    EXPECT_TRUE(s == 201 || s == 503 || s == 0)
        << n << " answers with status " << s << "; " << (load.error_bodies().empty() ? "" : load.error_bodies()[0]);
  }
  const std::string out = server->out();
  const auto [server_acknowledged, server_committed] = summary_counts(out);
  EXPECT_EQ(server_acknowledged, static_cast<long long>(load.acknowledged().size())) << out;
  EXPECT_EQ(out.find("checkpoint"), std::string::npos) << "no WAL checkpoint on PostgreSQL: " << out;

  const PayloadCheck check = check_payloads(load.acknowledged(), pg_payloads(url));
  std::cout << "reliability: postgres sigterm strategy=" << GetParam() << " acknowledged=" << check.acknowledged
            << " present=" << check.present << " rows=" << check.rows << " answers=" << format_statuses(load.statuses())
            << std::endl;
  EXPECT_EQ(check.present, check.acknowledged) << "acknowledged writes lost: " << check.describe();
  EXPECT_EQ(check.duplicates, 0u) << check.describe();
  EXPECT_EQ(server_committed, static_cast<long long>(check.rows)) << out;
  EXPECT_EQ(check.rows, check.acknowledged) << check.describe();
}

INSTANTIATE_TEST_SUITE_P(Strategies, PostgresShutdown, ::testing::Values("pool", "single_writer", "batched"),
                         param_name);

// Its own cluster: the test stops it.
// After the grace period the server stops its io threads and waits for its
// database threads. A PostgreSQL write waiting for a lock held by another
// session (lock_timeout 20 s) is not cut off, so a second signal is the way
// out, and it used to be swallowed there (the server exited only when the
// wait ended). Now SIGINT/SIGTERM exits at once at any time.
TEST(PostgresSecondSignal, ExitsAtOnceWhileTheDrainWaits) {
  // A second signal while the drain waits for PostgreSQL exits at once.
  const std::string url = shared_cluster().url();
  empty_database(url);
  InsertBehindALock blocked;
  ASSERT_NO_FATAL_FAILURE(blocked.start(url, "5000"));
  auto& server = blocked.server;
  server->signal(SIGTERM);
  // Inside the 5 s grace period the INSERT still waits (after it, the wait
  // is cut off on its own: GracePeriodOverCutsOffTheWait).
  const auto early = server->wait(700ms);
  EXPECT_FALSE(early) << "exited with " << early.value_or(-1) << " before the second signal: " << server->err();
  const auto second = std::chrono::steady_clock::now();
  server->signal(SIGTERM);
  const auto status = server->wait(3s);
  const auto exit_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - second).count();
  if (!status) server->signal(SIGKILL);
  blocked.release();
  ASSERT_TRUE(status) << "server still running 3 s after the second SIGTERM; stderr: " << server->err();
  EXPECT_EQ(*status, 1) << server->err();
  EXPECT_NE(server->err().find("exiting now"), std::string::npos) << server->err();
  std::cout << "reliability: postgres-second-sigterm-after-grace exit=" << *status << " exit_ms=" << exit_ms
            << std::endl;
}

// The same wait without a second signal: once the grace period runs out the
// server stops waiting for PostgreSQL (lock_timeout 20 s) and exits 1, saying
// what it cut off; the INSERT is rolled back by the server.
TEST(PostgresShutdownAfterGrace, GracePeriodOverCutsOffTheWait) {
  const std::string url = shared_cluster().url();
  empty_database(url);
  InsertBehindALock blocked;
  ASSERT_NO_FATAL_FAILURE(blocked.start(url, "500"));
  auto& server = blocked.server;
  const auto signalled = std::chrono::steady_clock::now();
  server->signal(SIGTERM);
  const auto status = server->wait(5s);
  const auto exit_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - signalled).count();
  if (!status) server->signal(SIGKILL);
  blocked.release();
  ASSERT_TRUE(status) << "server still running 5 s after SIGTERM (grace 0.5 s); stderr: " << server->err();
  EXPECT_EQ(*status, 1) << server->err();
  EXPECT_LT(exit_ms, 2000) << server->err();
  EXPECT_NE(server->out().find("(grace period ran out)"), std::string::npos) << server->out();
  EXPECT_NE(server->out().find("lock waits cut off"), std::string::npos) << server->out();
  EXPECT_EQ(pg_payloads(url).count("blocked"), 0u) << "the cut-off INSERT was rolled back";
  std::cout << "reliability: postgres-grace-over-cuts-wait exit=" << *status << " exit_ms=" << exit_ms << std::endl;
}

// A COMMIT whose connection is lost is looked up with txid_status on a fresh
// connection: here the backend is terminated while a deferred trigger
// sleeps inside the COMMIT, PostgreSQL rolls the transaction back, and the
// request is answered 503 database_unavailable (retryable: nothing was
// written), not 500 commit_outcome_unknown.
TEST(PostgresStalled, ALostCommitIsLookedUpAndARollbackIsRetryable) {
  const std::string url = shared_cluster().url();
  empty_database(url);
  TempDir dir;
  auto server = start_pg_server(dir, url, dir.file("port"),
                                {"pool.strategy=\"pool\"", "pool.size=1", "data.rows=1", "database.deadline_ms=10000"});
  const int port = read_port_file(dir.file("port"), 20s);
  ASSERT_GT(port, 0) << server->err();
  Session admin(url);
  ASSERT_TRUE(admin.connected()) << admin.error();
  auto exec = [&](const char* sql) { return admin.value(sql); };
  // Every UPDATE of rows sleeps 3 s inside its COMMIT.
  exec(
      "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$");
  exec(
      "CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON rows DEFERRABLE INITIALLY DEFERRED "
      "FOR EACH ROW EXECUTE FUNCTION slow_commit()");
  const std::string before = exec("SELECT payload FROM rows WHERE id = 1");

  std::optional<Response> answer;
  std::thread writer([&] {
    HttpClient client(static_cast<std::uint16_t>(port));
    answer = client.request("PUT", "/rows/1", R"({"payload":"changed"})", {}, 15s);
  });
  EXPECT_TRUE(wait_until([&] {
    return exec(
               "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'busylab' AND wait_event = "
               "'PgSleep'") == "1";
  })) << "the COMMIT never reached the trigger";
  exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'busylab' AND wait_event "
      "= 'PgSleep'");
  writer.join();
  ASSERT_TRUE(answer) << "no answer";
  EXPECT_EQ(answer->status, 503) << answer->body;
  EXPECT_NE(answer->body.find("database_unavailable"), std::string::npos) << answer->body;
  EXPECT_NE(answer->body.find("rolled back"), std::string::npos) << answer->body;
  EXPECT_EQ(exec("SELECT payload FROM rows WHERE id = 1"), before) << "nothing was written";

  HttpClient client(static_cast<std::uint16_t>(port));
  const auto stats_answer = client.request("GET", "/stats");
  ASSERT_TRUE(stats_answer);
  const auto stats = nlohmann::json::parse(stats_answer->body);
  EXPECT_EQ(stats["database"]["outcomes_resolved"], 1) << stats["database"];
  EXPECT_EQ(stats["database"]["unknown_outcomes"], 0) << stats["database"];
  exec("DROP TRIGGER slow_commit ON rows");
  exec("DROP FUNCTION slow_commit()");
  const auto again = client.request("PUT", "/rows/1", R"({"payload":"changed"})");
  EXPECT_EQ(again ? again->status : 0, 200) << "the connection was replaced";
  server->signal(SIGTERM);
  const auto status = server->wait(10s);
  if (!status) server->signal(SIGKILL);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << server->err();
}

// The batched writer's pipelines (BEGIN, the inserts, COMMIT, Sync) have no
// transaction id to look up: a connection lost while their COMMIT runs
// leaves every write of the batch "outcome unknown" (500, not a retryable
// 503). A deferred trigger makes each COMMIT sleep; the test terminates the
// backend while it does, for every batch, and then checks that the table
// holds every acknowledged write and no more than the unknown ones besides.
TEST(PostgresStalled, APipelineCutInItsCommitIsUnknownNeverRetryable) {
  const std::string url = shared_cluster().url();
  empty_database(url);
  TempDir dir;
  auto server = start_pg_server(dir, url, dir.file("port"),
                                {"pool.strategy=\"batched\"", "pool.size=1", "database.deadline_ms=10000"});
  const int port = read_port_file(dir.file("port"), 20s);
  ASSERT_GT(port, 0) << server->err();
  Session admin(url);
  ASSERT_TRUE(admin.connected()) << admin.error();
  auto exec = [&](const char* sql) { return admin.value(sql); };
  exec(
      "CREATE FUNCTION slow_insert_commit() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$");
  exec(
      "CREATE CONSTRAINT TRIGGER slow_insert_commit AFTER INSERT ON rows DEFERRABLE INITIALLY DEFERRED "
      "FOR EACH ROW EXECUTE FUNCTION slow_insert_commit()");

  constexpr int kWriters = 8;
  std::vector<std::optional<Response>> answers(kWriters);
  std::atomic<int> answered{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      HttpClient client(static_cast<std::uint16_t>(port));
      answers[i] = client.request("POST", "/rows", R"({"payload":"w)" + std::to_string(i) + R"("})", {}, 30s);
      answered.fetch_add(1);
    });
  }
  // Terminate whichever busylab backend sleeps in a COMMIT, until every
  // writer has its answer.
  const auto until = std::chrono::steady_clock::now() + 25s;
  int terminated = 0;
  while (std::chrono::steady_clock::now() < until) {
    terminated += std::atoi(exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE application_name = 'busylab' AND wait_event = 'PgSleep'")
                                .c_str());
    if (terminated > 0 && answered.load() == kWriters) break;
    std::this_thread::sleep_for(100ms);
  }
  for (auto& w : writers) w.join();
  exec("DROP TRIGGER slow_insert_commit ON rows");
  exec("DROP FUNCTION slow_insert_commit()");
  EXPECT_GT(terminated, 0);

  std::set<std::string> acknowledged;
  int unknown = 0, rolled_back = 0;
  for (int i = 0; i < kWriters; ++i) {
    ASSERT_TRUE(answers[i]) << "writer " << i << " got no answer";
    const auto& a = *answers[i];
    if (a.status == 201) {
      acknowledged.insert("w" + std::to_string(i));
    } else if (a.status == 500) {
      EXPECT_NE(a.body.find("commit_outcome_unknown"), std::string::npos) << a.body;
      EXPECT_EQ(a.header("retry-after"), "");
      ++unknown;
    } else {
      // A single write runs as BEGIN ... COMMIT, looked up and found rolled back.
      EXPECT_EQ(a.status, 503) << a.body;
      EXPECT_NE(a.body.find("rolled back"), std::string::npos) << a.body;
      ++rolled_back;
    }
  }
  EXPECT_GT(unknown, 0) << "no pipeline was cut in its COMMIT (" << rolled_back << " single writes rolled back)";
  const auto table = pg_payloads(url);
  for (const auto& p : acknowledged) EXPECT_EQ(table.count(p), 1u) << p;
  EXPECT_LE(table.size(), acknowledged.size() + static_cast<std::size_t>(unknown));
  server->signal(SIGTERM);
  const auto status = server->wait(10s);
  if (!status) server->signal(SIGKILL);
  ASSERT_TRUE(status);
  std::cout << "reliability: postgres-pipeline-cut unknown=" << unknown << " rolled_back=" << rolled_back
            << " acknowledged=" << acknowledged.size() << " in_table=" << table.size() << std::endl;
}

// Every busylab backend stopped (SIGSTOP), as a stalled server, disk or
// network would: each request still gets an answer within
// database.deadline_ms, the connection is replaced, and a write whose
// COMMIT was sent is answered "outcome unknown", never a retryable 503.
TEST(PostgresStalled, StoppedBackendsAnswerWithinTheDeadlineAndAreReplaced) {
  const std::string url = shared_cluster().url();
  empty_database(url);
  TempDir dir;
  auto server = start_pg_server(
      dir, url, dir.file("port"),
      {"pool.strategy=\"pool\"", "pool.size=1", "database.deadline_ms=1000", "server.shutdown_grace_ms=500"});
  const int port = read_port_file(dir.file("port"), 20s);
  ASSERT_GT(port, 0) << server->err();
  HttpClient client(static_cast<std::uint16_t>(port));
  auto status_of = [&](const char* method, const char* target, const char* body) {
    const auto a = client.request(method, target, body ? body : "");
    return a ? a->status : 0;
  };
  ASSERT_EQ(status_of("POST", "/rows", R"({"payload":"before"})"), 201);

  Session watcher(url);
  ASSERT_TRUE(watcher.connected()) << watcher.error();
  std::vector<int> stopped;
  // However the test ends, the backends go on (or PostgreSQL could not stop).
  struct Resume {
    std::vector<int>& pids;
    ~Resume() {
      for (const int pid : pids) ::kill(pid, SIGCONT);
    }
  } resume{stopped};
  auto stop_backends = [&] {
    const auto pids = watcher.column("SELECT pid FROM pg_stat_activity WHERE application_name = 'busylab'");
    ASSERT_GT(pids.size(), 0u) << "no busylab backend";
    for (const auto& text : pids) {
      const int pid = std::atoi(text.c_str());
      ASSERT_EQ(::kill(pid, SIGSTOP), 0);
      stopped.push_back(pid);
    }
  };
  auto answer_within = [&](const char* method, const char* target, const char* body) {
    const auto start = std::chrono::steady_clock::now();
    auto a = client.request(method, target, body ? body : "", {}, 15s);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, 3s) << method << " " << target << " took "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
    return a;
  };

  // A write: its INSERT is its own COMMIT, sent before the backend stalled.
  stop_backends();
  const auto write = answer_within("POST", "/rows", R"({"payload":"stalled"})");
  ASSERT_TRUE(write) << "no answer";
  EXPECT_EQ(write->status, 500) << write->body;
  EXPECT_NE(write->body.find("commit_outcome_unknown"), std::string::npos) << write->body;
  EXPECT_EQ(write->header("retry-after"), "") << "an unknown outcome is not retryable";

  // A read on the replacement connection, stalled in turn: a plain timeout.
  ASSERT_EQ(status_of("GET", "/rows/count", nullptr), 200) << "the connection was replaced";
  stop_backends();
  const auto read = answer_within("GET", "/rows/count", nullptr);
  ASSERT_TRUE(read) << "no answer";
  EXPECT_EQ(read->status, 503) << read->body;
  EXPECT_NE(read->body.find("database_timeout"), std::string::npos) << read->body;
  EXPECT_EQ(read->header("retry-after"), "1");

  const auto stats_answer = client.request("GET", "/stats");
  ASSERT_TRUE(stats_answer);
  const auto stats = nlohmann::json::parse(stats_answer->body);
  EXPECT_EQ(stats["database"]["unknown_outcomes"], 1) << stats["database"];
  EXPECT_EQ(stats["database"]["timeout_failures"], 1) << stats["database"];
  for (const int pid : stopped) ::kill(pid, SIGCONT);
  EXPECT_EQ(status_of("POST", "/rows", R"({"payload":"after"})"), 201);

  server->signal(SIGTERM);
  const auto status = server->wait(10s);
  if (!status) server->signal(SIGKILL);
  ASSERT_TRUE(status) << "server still running 10 s after SIGTERM: " << server->err();
  EXPECT_EQ(*status, 0) << server->err();
  // The stalled INSERT may or may not have committed once its backend went on.
  const auto payloads = pg_payloads(url);
  EXPECT_EQ(payloads.count("before"), 1u);
  EXPECT_EQ(payloads.count("after"), 1u);
  EXPECT_LE(payloads.count("stalled"), 1u);
  std::cout << "reliability: postgres-stalled stalled-insert-committed=" << payloads.count("stalled") << std::endl;
}

TEST(PostgresGoesAway, StoppedServerGives503sThenBusylabRecoversWhenItReturns) {
  PostgresCluster pg;
  const std::string port_text = pg.url().substr(pg.url().rfind(':') + 1, pg.url().rfind('/') - pg.url().rfind(':') - 1);
  TempDir dir;
  for (const std::string strategy : {"pool", "batched"}) {
    SCOPED_TRACE(strategy);
    auto server =
        start_pg_server(dir, pg.url(), dir.file("port-" + strategy), {"pool.strategy=" + strategy, "pool.size=4"});
    const int port = read_port_file(dir.file("port-" + strategy), 20s);
    ASSERT_GT(port, 0) << server->err();

    WriterLoad load(static_cast<std::uint16_t>(port), 8, strategy, /*keep_going=*/true);
    wait_until([&] { return load.acknowledged_count() >= 50; });
    const auto stopped = pg.script({"stop", pg.dir()});
    ASSERT_EQ(stopped.status, 0) << stopped.err;
    const std::size_t at_stop = load.acknowledged_count();
    // While it is down every request is answered, with a 503 naming the cause.
    std::this_thread::sleep_for(1500ms);
    const auto restarted = pg.script({"start", pg.dir(), "--port", port_text});
    ASSERT_EQ(restarted.status, 0) << restarted.err << restarted.out;
    const bool recovered = wait_until([&] { return load.acknowledged_count() >= at_stop + 100; }, 30s);
    load.stop();
    EXPECT_TRUE(recovered) << "no writes acknowledged after PostgreSQL came back; answers "
                           << format_statuses(load.statuses());
    EXPECT_GT(load.count(503), 0) << format_statuses(load.statuses());
    EXPECT_EQ(load.count(0), 0) << "requests left unanswered: " << format_statuses(load.statuses());
    for (auto [s, n] : load.statuses()) {
      std::string body;
      for (const auto& b : load.error_bodies())
        if (b.rfind(std::to_string(s) + " ", 0) == 0) body = b;
      // A write whose COMMIT was sent when the server went is answered
      // "outcome unknown" (500), never a retryable 503.
      EXPECT_TRUE(s == 201 || s == 503 || (s == 500 && body.find("commit_outcome_unknown") != std::string::npos))
          << n << " x " << s << ": " << body;
    }
    bool named = false;
    for (const auto& body : load.error_bodies()) named |= body.find("database_unavailable") != std::string::npos;
    EXPECT_TRUE(named) << (load.error_bodies().empty() ? "" : load.error_bodies()[0]);

    server->signal(SIGTERM);
    const auto status = server->wait(20s);
    ASSERT_TRUE(status) << "server did not stop";
    EXPECT_EQ(*status, 0) << server->err();
    const PayloadCheck check = check_payloads(load.acknowledged(), pg_payloads(pg.url()));
    std::cout << "reliability: postgres outage strategy=" << strategy << " acknowledged=" << check.acknowledged
              << " present=" << check.present << " answers=" << format_statuses(load.statuses()) << std::endl;
    EXPECT_EQ(check.present, check.acknowledged) << check.describe();
  }
}

}  // namespace
}  // namespace busylab::testing::reliability
