#pragma once
// Helpers for the reliability tests: `busylab serve` as a child process on a
// database that survives it, many client threads writing unique payloads and
// remembering which ones were acknowledged, and a read-only look at the rows
// afterwards.

#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/serve_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace busylab::testing::reliability {

inline const std::string kBinary = BUSYLAB_BINARY;
inline const std::string kSource = BUSYLAB_SOURCE_DIR;

/// Every payload in the rows table, opened read-only with the C API. Throws
/// when the database cannot be read.
inline std::multiset<std::string> read_payloads(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path + ": " + message);
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT payload FROM rows", -1, &stmt, nullptr) != SQLITE_OK) {
    const std::string message = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error("cannot read rows of " + path + ": " + message);
  }
  std::multiset<std::string> payloads;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    payloads.emplace(text ? text : "");
  }
  const std::string message = sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  if (rc != SQLITE_DONE) throw std::runtime_error("reading rows of " + path + " failed: " + message);
  return payloads;
}

/// Acknowledged payloads against what the table holds.
struct PayloadCheck {
  std::size_t acknowledged = 0;
  std::size_t present = 0;     // acknowledged and in the table
  std::size_t duplicates = 0;  // extra copies of any payload in the table
  std::size_t rows = 0;
  std::vector<std::string> missing;     // first few acknowledged but absent
  std::vector<std::string> duplicated;  // first few present more than once

  std::string describe() const {
    std::ostringstream s;
    s << "acknowledged=" << acknowledged << " present=" << present << " duplicates=" << duplicates << " rows=" << rows;
    if (!missing.empty()) {
      s << " missing e.g.";
      for (const auto& m : missing) s << " " << m;
    }
    if (!duplicated.empty()) {
      s << " duplicated e.g.";
      for (const auto& d : duplicated) s << " " << d;
    }
    return s.str();
  }
};

inline PayloadCheck check_payloads(const std::set<std::string>& acknowledged, const std::multiset<std::string>& table) {
  PayloadCheck c;
  c.acknowledged = acknowledged.size();
  c.rows = table.size();
  for (const auto& p : acknowledged) {
    if (table.count(p) > 0) {
      ++c.present;
    } else if (c.missing.size() < 5) {
      c.missing.push_back(p);
    }
  }
  for (auto it = table.begin(); it != table.end(); it = table.upper_bound(*it)) {
    const auto n = table.count(*it);
    if (n > 1) {
      c.duplicates += n - 1;
      if (c.duplicated.size() < 5) c.duplicated.push_back(*it);
    }
  }
  return c;
}

/// A seed for a test's random choices: BUSYLAB_RELIABILITY_SEED when set (to
/// replay a failure), otherwise a fresh one. Printed by the caller.
inline std::uint32_t choose_seed() {
  if (const char* env = std::getenv("BUSYLAB_RELIABILITY_SEED"); env && *env) {
    return static_cast<std::uint32_t>(std::stoul(env));
  }
  return std::random_device{}();
}

/// `busylab serve --config config/pool.json` plus the overrides, on port 0,
/// database `db`, quiet logs; output files in `dir`.
inline std::unique_ptr<ChildProcess> start_server(const TempDir& dir, const std::string& db,
                                                  const std::string& port_file,
                                                  const std::vector<std::string>& overrides,
                                                  bool own_process_group = false) {
  return start_serve(dir, "pool.json", db, port_file, overrides, own_process_group);
}

/// `(acknowledged, committed)` from the server's summary line, or {-1, -1}.
inline std::pair<long long, long long> summary_counts(const std::string& out) {
  static const std::regex pattern(R"((\d+) writes acknowledged \((\d+) committed[,)])");
  std::smatch m;
  if (!std::regex_search(out, m, pattern)) return {-1, -1};
  return {std::stoll(m[1].str()), std::stoll(m[2].str())};
}

/// `clients` threads, each on its own keep-alive connection, each sending
/// POST /rows with payloads `<prefix>-c<client>-<seq>` until the first
/// request that is not answered with a 2xx (or, with `keep_going`, through
/// failures, 10 ms apart), or until stop(). Every payload answered with a
/// 2xx is recorded.
class WriterLoad {
 public:
  WriterLoad(std::uint16_t port, int clients, std::string prefix, bool keep_going = false)
      : prefix_(std::move(prefix)), keep_going_(keep_going) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, port, c] { run(port, c); });
    }
  }
  ~WriterLoad() { stop(); }
  WriterLoad(const WriterLoad&) = delete;
  WriterLoad& operator=(const WriterLoad&) = delete;

  void stop() {
    stop_.store(true);
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  /// Total 2xx so far (while running) — to wait until the load is under way.
  std::size_t acknowledged_count() {
    std::lock_guard lock(mutex_);
    return acknowledged_.size();
  }
  /// After stop().
  const std::set<std::string>& acknowledged() const { return acknowledged_; }
  /// Answers by status; 0 = no answer (connection refused, closed or reset).
  const std::map<int, int>& statuses() const { return statuses_; }
  int count(int status) const {
    auto it = statuses_.find(status);
    return it == statuses_.end() ? 0 : it->second;
  }
  const std::vector<std::string>& error_bodies() const { return error_bodies_; }

 private:
  void run(std::uint16_t port, int c) {
    HttpClient client(port);
    for (long seq = 0; !stop_.load(); ++seq) {
      const std::string payload = prefix_ + "-c" + std::to_string(c) + "-" + std::to_string(seq);
      const auto r = client.request("POST", "/rows", R"({"payload":")" + payload + "\"}", {}, std::chrono::seconds(20));
      const int status = r ? r->status : 0;
      std::lock_guard lock(mutex_);
      ++statuses_[status];
      if (status >= 200 && status < 300) {
        acknowledged_.insert(payload);
        continue;
      }
      // The first 20 bodies, and the first of every other status after them.
      if (r && (error_bodies_.size() < 20 || statuses_[status] == 1))
        error_bodies_.push_back(std::to_string(status) + " " + r->body);
      if (!keep_going_) return;  // the first failure ends this client
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  std::string prefix_;
  bool keep_going_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::set<std::string> acknowledged_;
  std::map<int, int> statuses_;
  std::vector<std::string> error_bodies_;
  std::vector<std::thread> threads_;
};

inline std::string format_statuses(const std::map<int, int>& statuses) {
  std::string s;
  for (auto [status, n] : statuses) {
    if (!s.empty()) s += ",";
    s += std::to_string(status) + ":" + std::to_string(n);
  }
  return s.empty() ? "none" : s;
}

}  // namespace busylab::testing::reliability
