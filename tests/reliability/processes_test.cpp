// server.processes: several worker processes on one port and one database.
// Every acknowledged row survives a SIGTERM and a kill -9 of the whole
// process group; no worker outlives its supervisor; a worker that dies is
// restarted and its counts are kept; /stats answers for every worker.

#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "tests/reliability/reliability_support.hpp"
#include "tests/support/proc_fds.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/wait.hpp"

namespace busylab::testing::reliability {
namespace {

using namespace std::chrono_literals;

constexpr int kProcesses = 4;

nlohmann::json get_stats(std::uint16_t port) {
  HttpClient client(port);
  const auto r = client.request("GET", "/stats");
  if (!r || r->status != 200) return nullptr;
  return nlohmann::json::parse(r->body, nullptr, false);
}

std::uint64_t figure(const nlohmann::json& j, const char* a, const char* b) {
  return j.at(a).at(b).get<std::uint64_t>();
}

// The supervisor's children once there are `n` of them.
std::vector<pid_t> wait_for_workers(pid_t supervisor, std::size_t n) {
  std::vector<pid_t> workers;
  wait_until([&] {
    workers = children_of(supervisor);
    return workers.size() == n;
  });
  return workers;
}

TEST(Processes, FourWorkersShareOnePortAndSigtermLosesNoAcknowledgedRow) {
  TempDir dir;
  const std::string db = dir.file("processes.db");
  const std::string port_file = dir.file("port");
  auto server = start_server(dir, db, port_file, {"server.processes=4", "pool.size=2"});
  const int port = read_port_file(port_file, 30s);
  ASSERT_GT(port, 0) << server->err();

  // ps shows them: four children of the supervisor, named by their index.
  const auto workers = wait_for_workers(server->pid(), kProcesses);
  ASSERT_EQ(workers.size(), static_cast<std::size_t>(kProcesses));
  std::set<std::string> names;
  for (pid_t w : workers) names.insert(process_name(w));
  EXPECT_EQ(names, (std::set<std::string>{"busylab-w0", "busylab-w1", "busylab-w2", "busylab-w3"}));

  // 64 connections: the kernel spreads them over the four sockets, so every
  // worker gets some (a worker left out has odds of (3/4)^64).
  WriterLoad load(static_cast<std::uint16_t>(port), 64, "p");
  ASSERT_TRUE(wait_until([&] { return load.acknowledged_count() >= 2000; }));
  // Under load, no answer may show more acknowledged than committed, in the
  // totals or for any worker.
  for (int i = 0; i < 20; ++i) {
    const auto stats = get_stats(static_cast<std::uint16_t>(port));
    ASSERT_TRUE(stats.is_object());
    EXPECT_EQ(stats["processes"], kProcesses);
    EXPECT_LE(figure(stats, "writes", "acknowledged"), figure(stats, "writes", "committed"));
    ASSERT_EQ(stats["workers"].size(), static_cast<std::size_t>(kProcesses));
    for (const auto& w : stats["workers"]) {
      EXPECT_LE(figure(w, "writes", "acknowledged"), figure(w, "writes", "committed")) << w["worker"];
    }
  }
  load.stop();

  // Quiet: the totals are the workers' sums, and the load generator's count.
  const auto stats = get_stats(static_cast<std::uint16_t>(port));
  ASSERT_TRUE(stats.is_object());
  std::uint64_t acknowledged = 0, committed = 0, checkouts = 0, pool_size = 0;
  std::set<int> pids;
  for (const auto& w : stats["workers"]) {
    EXPECT_TRUE(w["running"].get<bool>());
    EXPECT_GT(figure(w, "writes", "acknowledged"), 0u) << "worker " << w["worker"] << " served no write";
    acknowledged += figure(w, "writes", "acknowledged");
    committed += figure(w, "writes", "committed");
    checkouts += w["strategy"]["pool"]["checkouts"].get<std::uint64_t>();
    pool_size += w["strategy"]["pool"]["size"].get<std::uint64_t>();
    pids.insert(w["pid"].get<int>());
  }
  EXPECT_EQ(pids, std::set<int>(workers.begin(), workers.end()));
  EXPECT_EQ(figure(stats, "writes", "acknowledged"), acknowledged);
  EXPECT_EQ(figure(stats, "writes", "committed"), committed);
  EXPECT_EQ(acknowledged, load.acknowledged().size());
  EXPECT_EQ(stats["strategy"]["pool"]["checkouts"].get<std::uint64_t>(), checkouts);
  EXPECT_EQ(pool_size, 8u);  // 4 processes x pool.size 2
  EXPECT_EQ(stats["strategy"]["pool"]["size"].get<std::uint64_t>(), pool_size);

  server->signal(SIGTERM);
  const auto status = server->wait(60s);
  ASSERT_TRUE(status) << "the server did not stop";
  EXPECT_EQ(*status, 0) << server->err();
  const auto [summary_ack, summary_committed] = summary_counts(server->out());
  EXPECT_EQ(summary_ack, static_cast<long long>(acknowledged)) << server->out();
  EXPECT_EQ(summary_committed, static_cast<long long>(committed));
  EXPECT_NE(server->out().find("4 processes"), std::string::npos) << server->out();
  for (pid_t w : workers) EXPECT_FALSE(alive(w)) << "worker " << w << " outlived the server";

  const auto check = check_payloads(load.acknowledged(), read_payloads(db));
  EXPECT_EQ(check.present, check.acknowledged) << check.describe();
  EXPECT_EQ(check.duplicates, 0u) << check.describe();
  EXPECT_EQ(check.rows, check.acknowledged) << check.describe();
  EXPECT_EQ(integrity_check(db), "ok");
  std::cout << "reliability: processes-sigterm processes=4 clients=64 acknowledged=" << check.acknowledged
            << " present=" << check.present << " duplicates=" << check.duplicates << " rows=" << check.rows
            << " integrity=" << integrity_check(db) << " exit=" << *status << "\n";
}

TEST(Processes, KillNineOfTheWholeProcessGroupLosesNoAcknowledgedRow) {
  const auto seed = choose_seed();
  std::cout << "BUSYLAB_RELIABILITY_SEED=" << seed << "\n";
  std::mt19937 random(seed);
  TempDir dir;
  const std::string db = dir.file("group.db");
  const std::string port_file = dir.file("port");
  // synchronous=full: an acknowledged row must survive the processes dying
  // (normal would too, short of an OS crash; full is the strict case).
  auto server = start_server(dir, db, port_file, {"server.processes=4", "pool.size=2", "database.synchronous=\"full\""},
                             /*own_process_group=*/true);
  const int port = read_port_file(port_file, 30s);
  ASSERT_GT(port, 0) << server->err();
  const auto workers = wait_for_workers(server->pid(), kProcesses);

  const std::size_t kill_after = std::uniform_int_distribution<std::size_t>(1, 500)(random);
  WriterLoad load(static_cast<std::uint16_t>(port), 32, "g");
  ASSERT_TRUE(wait_until([&] { return load.acknowledged_count() >= kill_after; }));
  server->signal_group(SIGKILL);
  const auto status = server->wait(30s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 128 + SIGKILL);
  EXPECT_TRUE(wait_until([&] {
    for (pid_t w : workers) {
      if (alive(w)) return false;
    }
    return true;
  })) << "a worker survived kill -9 of its process group";
  load.stop();

  // Every acknowledged row is there; rows whose answer was cut off by the
  // kill may be there too (at most one per client).
  const auto check = check_payloads(load.acknowledged(), read_payloads(db));
  std::cout << "reliability: processes-kill-group processes=4 clients=32 synchronous=full kill_after=" << kill_after
            << " acknowledged=" << check.acknowledged << " present=" << check.present
            << " duplicates=" << check.duplicates << " rows=" << check.rows << " integrity=" << integrity_check(db)
            << " seed=" << seed << "\n";
  EXPECT_EQ(check.present, check.acknowledged) << check.describe();
  EXPECT_EQ(check.duplicates, 0u) << check.describe();
  EXPECT_LE(check.rows, check.acknowledged + 32) << check.describe();
  EXPECT_EQ(integrity_check(db), "ok");

  // And the database serves again, from four new processes.
  auto again = start_server(dir, db, dir.file("port2"), {"server.processes=4"});
  const int port2 = read_port_file(dir.file("port2"), 30s);
  ASSERT_GT(port2, 0) << again->err();
  const auto stats = get_stats(static_cast<std::uint16_t>(port2));
  ASSERT_TRUE(stats.is_object());
  EXPECT_EQ(stats["processes"], kProcesses);
  again->signal(SIGTERM);
  EXPECT_EQ(again->wait(60s), 0);
}

TEST(Processes, NoWorkerOutlivesAKilledSupervisor) {
  TempDir dir;
  const std::string port_file = dir.file("port");
  auto server =
      start_server(dir, dir.file("orphans.db"), port_file, {"server.processes=3", "server.shutdown_grace_ms=2000"});
  ASSERT_GT(read_port_file(port_file, 30s), 0) << server->err();
  const auto workers = wait_for_workers(server->pid(), 3);
  ASSERT_EQ(workers.size(), 3u);
  server->signal(SIGKILL);  // the supervisor alone
  ASSERT_TRUE(server->wait(30s));
  // PR_SET_PDEATHSIG: each worker is told (SIGTERM), drains and exits.
  EXPECT_TRUE(wait_until([&] {
    for (pid_t w : workers) {
      if (alive(w)) return false;
    }
    return true;
  })) << "a worker outlived its supervisor";
}

TEST(Processes, AWorkerThatDiesIsRestartedAndItsCountsAreKept) {
  TempDir dir;
  const std::string db = dir.file("restart.db");
  const std::string port_file = dir.file("port");
  auto server = start_server(dir, db, port_file, {"server.processes=2"});
  const int port = read_port_file(port_file, 30s);
  ASSERT_GT(port, 0) << server->err();
  const auto p = static_cast<std::uint16_t>(port);

  // Writes on fresh connections, until both workers have served some.
  auto write = [&](const std::string& payload) {
    HttpClient client(p);
    const auto r = client.request("POST", "/rows", R"({"payload":")" + payload + "\"}");
    return r && r->status == 201;
  };
  int written = 0;
  ASSERT_TRUE(wait_until([&] {
    if (!write("before-" + std::to_string(written))) return false;
    ++written;
    const auto s = get_stats(p);
    return s.is_object() && figure(s["workers"][0], "writes", "acknowledged") > 0 &&
           figure(s["workers"][1], "writes", "acknowledged") > 0;
  }));
  const auto before = get_stats(p);
  const int victim = before["workers"][0]["pid"].get<int>();
  const auto victim_writes = figure(before["workers"][0], "writes", "acknowledged");
  ASSERT_EQ(figure(before, "writes", "acknowledged"), static_cast<std::uint64_t>(written));

  ASSERT_EQ(kill(victim, SIGKILL), 0);
  nlohmann::json after;
  ASSERT_TRUE(wait_until([&] {
    after = get_stats(p);
    return after.is_object() && after["workers"][0]["running"] == true && after["workers"][0]["pid"] != victim;
  })) << "worker 0 was not restarted; stderr: "
      << server->err();
  EXPECT_EQ(after["workers"][0]["starts"], 2);
  EXPECT_EQ(after["workers"][1]["starts"], 1);
  // What the dead worker acknowledged still counts.
  EXPECT_EQ(figure(after["workers"][0], "writes", "acknowledged"), victim_writes);
  EXPECT_EQ(figure(after, "writes", "acknowledged"), static_cast<std::uint64_t>(written));

  // Both serve again: more writes until the restarted worker took one.
  ASSERT_TRUE(wait_until([&] {
    if (!write("after-" + std::to_string(written))) return false;
    ++written;
    return figure(get_stats(p)["workers"][0], "writes", "acknowledged") > victim_writes;
  }));

  server->signal(SIGTERM);
  ASSERT_EQ(server->wait(60s), 0) << server->err();
  EXPECT_NE(server->out().find("(1 restarts)"), std::string::npos) << server->out();
  EXPECT_NE(server->err().find("worker 0 (pid " + std::to_string(victim) +
                               ") was killed by signal 9 (SIGKILL); restarting it"),
            std::string::npos)
      << server->err();
  EXPECT_EQ(summary_counts(server->out()).first, written);
  EXPECT_EQ(read_payloads(db).size(), static_cast<std::size_t>(written));
}

}  // namespace
}  // namespace busylab::testing::reliability
