#include "sweep/watch.hpp"

#include <ctime>
#include <filesystem>
#include <memory>
#include <ostream>
#include <sstream>
#include <thread>

#include "engine/db_stats.hpp"
#include "sqlite/database.hpp"
#include "sqlite/sqlite_error.hpp"

namespace busylab::sweep {

namespace {

std::uintmax_t size_of(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

std::string WatchSummary::line() const {
  std::ostringstream s;
  s << "watch summary: reads=" << reads << " waited=" << waited << " waited_ms=" << waited_ms << " failed=" << failed
    << " size_warnings=" << size_warnings;
  return s.str();
}

std::optional<WatchSummary> WatchSummary::parse(const std::string& text) {
  const auto pos = text.rfind("watch summary:");
  if (pos == std::string::npos) return std::nullopt;
  WatchSummary s;
  std::istringstream in(text.substr(pos + 14));
  std::string field;
  while (in >> field) {
    const auto eq = field.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = field.substr(0, eq);
    const std::uint64_t value = std::stoull(field.substr(eq + 1));
    if (key == "reads")
      s.reads = value;
    else if (key == "waited")
      s.waited = value;
    else if (key == "waited_ms")
      s.waited_ms = value;
    else if (key == "failed")
      s.failed = value;
    else if (key == "size_warnings")
      s.size_warnings = value;
  }
  return s;
}

WatchSummary run_watch(const WatchOptions& options, std::ostream& out, const std::atomic<bool>& stop) {
  DatabaseOptions db_options;
  db_options.path = options.path;
  db_options.busy_timeout_ms = options.busy_timeout_ms;
  DbStats stats;
  std::unique_ptr<Database> db;
  WatchSummary summary;
  std::uint64_t polls = 0;
  auto next = std::chrono::steady_clock::now();
  while (!stop.load() && (!options.count || polls < *options.count)) {
    ++polls;
    std::string outcome;
    std::int64_t rows = -1;
    try {
      // Read-only, and never creating the file: a watcher must not change what it watches.
      if (!db) db = std::make_unique<Database>(db_options, &stats, Database::Mode::kReadOnly);
      db->busy().reset();
      if (options.hold_read.count() > 0) db->run("BEGIN");
      rows = db->query_int("SELECT COUNT(*) FROM rows");
      if (options.hold_read.count() > 0) {
        // The snapshot stays open: no checkpoint can go past it meanwhile.
        const auto until = std::chrono::steady_clock::now() + options.hold_read;
        while (!stop.load() && std::chrono::steady_clock::now() < until)
          std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
              until - std::chrono::steady_clock::now(), std::chrono::milliseconds(20)));
        db->run("COMMIT");
      }
      const auto waited = db->busy().waited_ms();
      ++summary.reads;
      if (waited > 0) {
        ++summary.waited;
        summary.waited_ms += static_cast<std::uint64_t>(waited);
        outcome = "read=waited " + std::to_string(waited) + "ms";
      } else {
        outcome = "read=ok";
      }
      if (options.hold_read.count() > 0) outcome += " held=" + std::to_string(options.hold_read.count()) + "ms";
    } catch (const SqliteError& e) {
      ++summary.failed;
      outcome = "read=failed " + sqlite_code_name(e.code()) + " (" + e.what() + ")";
      // After a failure start afresh: the file may have been replaced.
      if (db && db->in_transaction()) db.reset();  // a hold that failed: never leave a snapshot open
      if (db && e.primary() != 5 /* SQLITE_BUSY */) db.reset();
    }
    const auto db_size = size_of(options.path);
    const auto wal_size = size_of(options.path + "-wal");
    out << timestamp() << " rows=" << rows << " db_bytes=" << db_size << " wal_bytes=" << wal_size << " " << outcome;
    if (options.max_size_mb > 0 &&
        db_size + wal_size > static_cast<std::uintmax_t>(options.max_size_mb) * 1024 * 1024) {
      ++summary.size_warnings;
      out << " WARNING: over " << options.max_size_mb << " MiB (nothing is deleted)";
    }
    out << std::endl;
    next += options.interval;
    // Sleep in short steps so a stop request is seen quickly.
    while (!stop.load() && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(next - std::chrono::steady_clock::now(),
                                                                                std::chrono::milliseconds(20)));
    }
    if (std::chrono::steady_clock::now() > next + options.interval) next = std::chrono::steady_clock::now();
  }
  out << summary.line() << std::endl;
  return summary;
}

}  // namespace busylab::sweep
