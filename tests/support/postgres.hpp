#pragma once
// A throwaway PostgreSQL cluster for a test, made by the project's own
// scripts/postgres (the same script users run): started in a temporary
// folder on construction, stopped and removed on destruction. Never touches
// a system-wide cluster.

#include <libpq-fe.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>

#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace busylab::testing {

class PostgresCluster {
 public:
  /// Throws std::runtime_error with the script's output when it cannot start.
  PostgresCluster() : dir_(dir_holder_.file("pg")) {
    // Run as root, the script hands DIR to the unprivileged 'postgres'
    // user, who must be able to reach it: open up the temporary folder.
    chmod(dir_holder_.path().c_str(), 0755);
    last_ = script({"start", dir_});
    if (last_.status != 0) {
      throw std::runtime_error("scripts/postgres start failed (" + std::to_string(last_.status) + "): " + last_.err +
                               last_.out);
    }
    const auto end = last_.out.find_last_not_of('\n');
    const auto begin = last_.out.rfind('\n', end);
    url_ = last_.out.substr(begin == std::string::npos ? 0 : begin + 1,
                            end - (begin == std::string::npos ? 0 : begin + 1) + 1);
  }
  ~PostgresCluster() { script({"stop", dir_}); }
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  /// The libpq URL the script printed on the last line of `start`.
  const std::string& url() const { return url_; }
  const std::string& dir() const { return dir_; }
  /// What `start` printed (settings, then the URL).
  const RunResult& start_output() const { return last_; }

  /// Runs scripts/postgres with `args` (bounded by a minute).
  RunResult script(std::vector<std::string> args) const {
    args.insert(args.begin(), std::string(BUSYLAB_SOURCE_DIR) + "/scripts/postgres");
    return run_command(args, dir_holder_.path().string(), std::chrono::seconds(60));
  }

 private:
  TempDir dir_holder_;
  std::string dir_;
  std::string url_;
  RunResult last_;
};

/// Every payload in busylab's rows table at `url`. Throws when it cannot be read.
inline std::multiset<std::string> pg_payloads(const std::string& url) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn.get()));
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn.get(), "SELECT payload FROM rows"), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) throw std::runtime_error(PQresultErrorMessage(r.get()));
  std::multiset<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace(PQgetvalue(r.get(), i, 0));
  return out;
}

}  // namespace busylab::testing
