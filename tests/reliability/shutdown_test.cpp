// SIGTERM under load drains cleanly: exit status 0, every acknowledged write
// in the database, no answer other than 2xx, 503 or a closed connection, the
// WAL checkpointed. A second SIGTERM while the drain waits on a locked
// database exits at once with status 1 and leaves a sound database. A SIGTERM
// sent the instant the port file appears (before the server runs its event
// loop) drains like any other instead of killing the process.

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <iostream>
#include <optional>

#include "tests/reliability/reliability_support.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/wait.hpp"

namespace busylab::testing::reliability {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string strategy_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

class Shutdown : public ::testing::TestWithParam<std::string> {};

TEST_P(Shutdown, SigtermUnderLoadDrainsAndKeepsEveryAcknowledgedWrite) {
  constexpr int kClients = 16;
  constexpr int kGraceMs = 5000;
  TempDir dir;
  const std::string db = dir.file("sigterm.db");
  auto server = start_server(dir, db, dir.file("port"),
                             {"pool.strategy=" + GetParam(), "database.journal_mode=wal",
                              "server.shutdown_grace_ms=" + std::to_string(kGraceMs)});
  const int port = read_port_file(dir.file("port"), 20s);
  ASSERT_GT(port, 0) << server->err();

  WriterLoad load(static_cast<std::uint16_t>(port), kClients, "t");
  // Under load: writes are being acknowledged when the signal comes.
  wait_until([&] { return load.acknowledged_count() >= 50; });
  const std::size_t before_signal = load.acknowledged_count();
  const auto signalled = Clock::now();
  server->signal(SIGTERM);
  const auto status = server->wait(std::chrono::milliseconds(kGraceMs) + 10s);
  const long long exit_ms = ms_since(signalled);
  if (!status) server->signal(SIGKILL);  // a hung drain fails below; free the clients
  load.stop();
  ASSERT_TRUE(status) << "server still running " << exit_ms << " ms after SIGTERM; stderr: " << server->err();
  EXPECT_EQ(*status, 0) << server->err();
  EXPECT_GE(before_signal, 50u) << "fewer than 50 writes acknowledged before the signal; answers "
                                << format_statuses(load.statuses());

  // Every answer is a 2xx, a 503, or none (connection closed or refused).
  for (auto [s, n] : load.statuses()) {
    EXPECT_TRUE(s == 201 || s == 503 || s == 0)
        << n << " answers with status " << s << "; " << (load.error_bodies().empty() ? "" : load.error_bodies()[0]);
  }

  const std::string out = server->out();
  EXPECT_NE(out.find("WAL checkpointed"), std::string::npos) << out;
  EXPECT_EQ(out.find("grace period ran out"), std::string::npos) << out;
  const auto [server_acknowledged, server_committed] = summary_counts(out);
  // A graceful drain delivers every answer it decided: the server's count of
  // 2xx is exactly what the clients received.
  EXPECT_EQ(server_acknowledged, static_cast<long long>(load.acknowledged().size())) << out;

  std::error_code ec;
  const auto wal_size = std::filesystem::file_size(db + "-wal", ec);
  const std::uintmax_t wal_bytes = ec ? 0 : wal_size;
  EXPECT_EQ(wal_bytes, 0u) << "the -wal file is not empty after the checkpoint";

  const std::string integrity = integrity_check(db);
  const PayloadCheck check = check_payloads(load.acknowledged(), read_payloads(db));
  std::cout << "reliability: sigterm strategy=" << GetParam() << " clients=" << kClients
            << " acknowledged=" << check.acknowledged << " present=" << check.present
            << " duplicates=" << check.duplicates << " integrity=" << integrity << " rows=" << check.rows
            << " answers=" << format_statuses(load.statuses()) << " exit=" << *status << " exit_ms=" << exit_ms
            << " wal_bytes=" << wal_bytes << std::endl;

  EXPECT_EQ(integrity, "ok");
  EXPECT_EQ(check.present, check.acknowledged) << "acknowledged writes lost: " << check.describe();
  EXPECT_EQ(check.duplicates, 0u) << check.describe();
  // Every committed write is a row, and nothing committed went unanswered.
  EXPECT_EQ(server_committed, static_cast<long long>(check.rows)) << out;
  EXPECT_EQ(check.rows, check.acknowledged) << check.describe();
}

// Holds an exclusive lock on a rollback-journal database (a writer from
// another process) until released.
class ExclusiveLock {
 public:
  explicit ExclusiveLock(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + path);
    }
    sqlite3_busy_timeout(db_, 5000);
    if (!exec("BEGIN EXCLUSIVE")) throw std::runtime_error("BEGIN EXCLUSIVE failed: " + error_);
  }
  ~ExclusiveLock() { release(); }
  ExclusiveLock(const ExclusiveLock&) = delete;
  ExclusiveLock& operator=(const ExclusiveLock&) = delete;

  void release() {
    if (!db_) return;
    exec("ROLLBACK");
    sqlite3_close(db_);
    db_ = nullptr;
  }

 private:
  bool exec(const char* sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    error_ = message ? message : "";
    sqlite3_free(message);
    return rc == SQLITE_OK;
  }
  sqlite3* db_ = nullptr;
  std::string error_;
};

// A POST that will wait in the busy handler behind the outside lock; its
// answer (if any) lands in `answer` when the thread ends.
std::thread blocked_write(int port, std::optional<Response>& answer) {
  return std::thread([port, &answer] {
    HttpClient client(static_cast<std::uint16_t>(port));
    answer = client.request("POST", "/rows", R"({"payload":"blocked"})", {}, 30s);
  });
}

// Waits until the server's busy handler has run (the blocked write is asleep in it).
bool reached_busy_handler(int port) {
  HttpClient stats(static_cast<std::uint16_t>(port));
  return wait_until([&] {
    const auto r = stats.request("GET", "/stats", {}, {}, 5s);
    return r && r->status == 200 && r->json()["database"].value("busy_handler_calls", 0) > 0;
  });
}

TEST_P(Shutdown, SecondSigtermWhileDrainingExitsAtOnce) {
  TempDir dir;
  const std::string db = dir.file("locked.db");
  auto server =
      start_server(dir, db, dir.file("port"),
                   {"pool.strategy=" + GetParam(), "database.journal_mode=delete", "database.busy_timeout_ms=20000",
                    "pool.checkout_timeout_ms=20000", "server.shutdown_grace_ms=20000"});
  const int port = read_port_file(dir.file("port"), 20s);
  ASSERT_GT(port, 0) << server->err();
  {
    HttpClient client(static_cast<std::uint16_t>(port));
    const auto r = client.request("POST", "/rows", R"({"payload":"before-lock"})", {}, 10s);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
  }

  auto lock = std::make_unique<ExclusiveLock>(db);
  // A write that waits in the busy handler: the drain has to wait for it.
  std::optional<Response> blocked;
  std::thread writer = blocked_write(port, blocked);
  EXPECT_TRUE(reached_busy_handler(port)) << "the write never reached the busy handler";

  server->signal(SIGTERM);
  // Draining: the blocked write keeps the server alive.
  const auto early = server->wait(500ms);
  EXPECT_FALSE(early) << "server exited with " << early.value_or(-1)
                      << " while a write was in flight; stderr: " << server->err();
  const auto second = Clock::now();
  server->signal(SIGTERM);
  const auto status = server->wait(3s);
  const long long exit_ms = ms_since(second);
  if (!status) server->signal(SIGKILL);
  writer.join();
  lock->release();

  ASSERT_TRUE(status) << "server still running 3 s after the second SIGTERM; stderr: " << server->err();
  EXPECT_EQ(*status, 1) << server->err();
  const std::string err = server->err();
  EXPECT_NE(err.find("second signal"), std::string::npos) << err;
  // The blocked write had no answer, and it never committed (the lock was
  // held until the server was gone).
  EXPECT_FALSE(blocked) << "status " << blocked->status << " " << blocked->body;

  const std::string integrity = integrity_check(db);
  const auto table = read_payloads(db);
  std::cout << "reliability: second-sigterm strategy=" << GetParam() << " journal_mode=delete exit=" << *status
            << " exit_ms=" << exit_ms << " blocked_answered=" << (blocked ? "yes" : "no") << " rows=" << table.size()
            << " integrity=" << integrity << std::endl;
  EXPECT_EQ(integrity, "ok");
  EXPECT_EQ(table, (std::multiset<std::string>{"before-lock"}));
}

// One SIGTERM; the grace period (0.5 s) runs out while a write sleeps in the
// busy handler behind an outside lock with a 20 s busy timeout. The lock wait
// gives up at once instead of being waited for (the old code exited 20 s
// later), nothing of it commits, and the exit status and summary say what was
// cut off.
TEST_P(Shutdown, GracePeriodOverCutsOffLockWaits) {
  TempDir dir;
  const std::string db = dir.file("locked.db");
  auto server =
      start_server(dir, db, dir.file("port"),
                   {"pool.strategy=" + GetParam(), "database.journal_mode=delete", "database.busy_timeout_ms=20000",
                    "pool.checkout_timeout_ms=20000", "server.shutdown_grace_ms=500"});
  const int port = read_port_file(dir.file("port"), 20s);
  ASSERT_GT(port, 0) << server->err();
  auto lock = std::make_unique<ExclusiveLock>(db);
  std::optional<Response> blocked;
  std::thread writer = blocked_write(port, blocked);
  EXPECT_TRUE(reached_busy_handler(port)) << "the write never reached the busy handler";
  const auto first = Clock::now();
  server->signal(SIGTERM);
  const auto status = server->wait(5s);
  const long long exit_ms = ms_since(first);
  if (!status) server->signal(SIGKILL);
  writer.join();
  lock->release();
  ASSERT_TRUE(status) << "server still running 5 s after SIGTERM with a 0.5 s grace period; stderr: " << server->err();
  EXPECT_EQ(*status, 1) << server->err();
  EXPECT_NE(server->out().find("(grace period ran out)"), std::string::npos) << server->out();
  EXPECT_NE(server->out().find("lock waits cut off"), std::string::npos) << server->out();
  EXPECT_FALSE(blocked) << "the cut-off write was answered";
  EXPECT_EQ(integrity_check(db), "ok");
  EXPECT_TRUE(read_payloads(db).empty()) << "the cut-off write never committed";
  std::cout << "reliability: grace-over-lock-wait strategy=" << GetParam() << " exit=" << *status
            << " exit_ms=" << exit_ms << std::endl;
}

// The port file is written (and "listening on" printed) before the server
// runs its event loop. SIGINT/SIGTERM handling is installed before the socket
// is bound, so a supervisor that signals the moment the port file appears
// still gets the graceful path: exit status 0 and the summary line, not death
// by the default action (status 128 + 15). The window is short, so several
// servers are started and each is signalled as soon as its file exists.
TEST(ShutdownBeforeReady, SigtermTheInstantThePortFileAppearsStillDrains) {
  constexpr int kServers = 5;
  TempDir dir;
  std::string exits;
  for (int i = 0; i < kServers; ++i) {
    SCOPED_TRACE("server " + std::to_string(i));
    const std::string port_file = dir.file("port-" + std::to_string(i));
    auto server = start_server(dir, dir.file("early-" + std::to_string(i) + ".db"), port_file, {});

    // No sleep: spin until the file exists (it is renamed into place whole),
    // then signal at once. Stop early if the server exits on its own.
    bool appeared = false;
    std::optional<int> exited_early;
    const auto deadline = Clock::now() + 20s;
    std::error_code ec;
    while (Clock::now() < deadline) {
      if (std::filesystem::exists(port_file, ec)) {
        appeared = true;
        break;
      }
      exited_early = server->wait(0ms);
      if (exited_early) break;
      std::this_thread::yield();
    }
    if (appeared) server->signal(SIGTERM);
    const auto status = server->wait(appeared ? std::chrono::milliseconds(20s) : 0ms);
    if (!status) server->signal(SIGKILL);
    ASSERT_TRUE(appeared) << (exited_early ? "server exited with " + std::to_string(*exited_early) +
                                                 " before writing the port file"
                                           : std::string("no port file after 20 s"))
                          << "; stderr: " << server->err();
    ASSERT_TRUE(status) << "server still running 20 s after SIGTERM; stderr: " << server->err();
    exits += (exits.empty() ? "" : ",") + std::to_string(*status);

    const std::string out = server->out();
    const std::string err = server->err();
    EXPECT_EQ(*status, 0) << "SIGTERM right after the port file appeared"
                          << (*status == 128 + SIGTERM ? " killed the server (default action)" : "")
                          << "; stdout: " << out << "; stderr: " << err;
    EXPECT_NE((out + err).find("busylab: stopped"), std::string::npos)
        << "no shutdown summary; stdout: " << out << "; stderr: " << err;
    EXPECT_EQ(out.find("grace period ran out"), std::string::npos) << out;
  }
  std::cout << "reliability: early-sigterm servers=" << kServers << " exits=" << exits << std::endl;
}

INSTANTIATE_TEST_SUITE_P(Strategies, Shutdown, ::testing::Values("per_request", "pool", "single_writer", "batched"),
                         strategy_name);

}  // namespace
}  // namespace busylab::testing::reliability
