// scripts/postgres: a throwaway PostgreSQL 15 cluster that the project
// starts itself (for the postgres engine's tests and experiments). Checked
// through libpq the way busylab will connect: the URL the script prints
// works, the server listens on 127.0.0.1 and a socket in DIR only, with
// fsync on; start is idempotent; status, url and stop say the truth.

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/postgres.hpp"

namespace busylab::testing {
namespace {

// One value from a query, or "ERROR: ..." when it fails.
std::string query_one(PGconn* conn, const char* sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn, sql), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return std::string("ERROR: ") + PQresultErrorMessage(r.get());
  return PQgetvalue(r.get(), 0, 0);
}

TEST(PostgresScript, StartsAClusterThatLibpqReachesOnLoopbackWithFsyncOn) {
  ASSERT_TRUE(std::filesystem::exists("/usr/lib/postgresql/15/bin/initdb"))
      << "PostgreSQL 15 is missing: scripts/bootstrap installs postgresql-15";
  PostgresCluster pg;
  EXPECT_EQ(pg.url().rfind("postgresql://postgres@127.0.0.1:", 0), 0u) << pg.start_output().out;
  EXPECT_NE(pg.url().find("/busylab"), std::string::npos) << pg.url();

  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(pg.url().c_str()), &PQfinish);
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  EXPECT_EQ(query_one(conn.get(), "SHOW fsync"), "on");
  EXPECT_EQ(query_one(conn.get(), "SHOW synchronous_commit"), "on");
  EXPECT_EQ(query_one(conn.get(), "SHOW listen_addresses"), "127.0.0.1");
  EXPECT_EQ(query_one(conn.get(), "SHOW unix_socket_directories"), pg.dir());
  EXPECT_EQ(query_one(conn.get(), "SELECT current_database()"), "busylab");
  EXPECT_EQ(query_one(conn.get(), "SELECT split_part(current_setting('server_version'), '.', 1)"), "15");
  EXPECT_GE(std::stoi(query_one(conn.get(), "SHOW max_connections")), 300);

  // The unix socket in DIR works too.
  const std::string port = query_one(conn.get(), "SHOW port");
  EXPECT_TRUE(std::filesystem::exists(pg.dir() + "/.s.PGSQL." + port));
  const std::string socket_url = "host=" + pg.dir() + " port=" + port + " user=postgres dbname=busylab";
  std::unique_ptr<PGconn, decltype(&PQfinish)> local(PQconnectdb(socket_url.c_str()), &PQfinish);
  EXPECT_EQ(PQstatus(local.get()), CONNECTION_OK) << PQerrorMessage(local.get());

  // start again: already running, same URL; status 0; url agrees.
  const auto again = pg.script({"start", pg.dir()});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find(pg.url()), std::string::npos) << again.out;
  EXPECT_EQ(pg.script({"status", pg.dir()}).status, 0);
  const auto url = pg.script({"url", pg.dir()});
  EXPECT_EQ(url.status, 0);
  EXPECT_EQ(url.out, pg.url() + "\n");

  // stop: the server is gone; status 3, url 1, stop again 0.
  conn.reset();
  local.reset();
  EXPECT_EQ(pg.script({"stop", pg.dir()}).status, 0);
  EXPECT_EQ(pg.script({"status", pg.dir()}).status, 3);
  EXPECT_EQ(pg.script({"url", pg.dir()}).status, 1);
  EXPECT_EQ(pg.script({"stop", pg.dir()}).status, 0);
  std::unique_ptr<PGconn, decltype(&PQfinish)> refused(PQconnectdb(pg.url().c_str()), &PQfinish);
  EXPECT_NE(PQstatus(refused.get()), CONNECTION_OK);
}

TEST(PostgresScript, BadUsageExits2) {
  TempDir dir;
  const std::string script = std::string(BUSYLAB_SOURCE_DIR) + "/scripts/postgres";
  EXPECT_EQ(run_command({script}, dir.path().string()).status, 2);
  EXPECT_EQ(run_command({script, "launch", dir.file("x")}, dir.path().string()).status, 2);
  EXPECT_EQ(run_command({script, "start"}, dir.path().string()).status, 2);
  // A non-empty folder that holds no cluster of ours is refused, not taken over.
  const auto r = run_command({script, "start", dir.path().string()}, dir.path().string());
  EXPECT_EQ(r.status, 2) << r.err;
  const auto help = run_command({script, "--help"}, dir.path().string());
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("Usage: scripts/postgres COMMAND DIR"), std::string::npos);
}

}  // namespace
}  // namespace busylab::testing
