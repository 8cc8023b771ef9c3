#include "sweep/machine.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "source_state.hpp"  // generated at build time
#include "sweep/outputs.hpp"

namespace busylab::sweep {

namespace {

using Clock = std::chrono::steady_clock;

// The disk's speed varies by 10-20% from one half second to the next on a
// shared machine, so each figure is the median rate of kBursts short bursts
// that share `each` between them. `once` does one unit and returns false on
// failure (which ends the measurement).
constexpr int kBursts = 5;

template <class Once>
double median_of_bursts(std::chrono::milliseconds each, Once once) {
  std::array<double, kBursts> rates{};
  for (auto& rate : rates) {
    std::uint64_t done = 0;
    const auto start = Clock::now();
    while (Clock::now() - start < each / kBursts) {
      if (!once()) return 0;
      ++done;
    }
    rate = static_cast<double>(done) / std::chrono::duration<double>(Clock::now() - start).count();
  }
  std::sort(rates.begin(), rates.end());
  return rates[kBursts / 2];
}

double fdatasync_rate(const std::filesystem::path& dir, std::chrono::milliseconds each) {
  const auto file = dir / "calibration-fdatasync.tmp";
  const int fd = ::open(file.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("calibration: cannot create " + file.string());
  std::array<char, 4096> page{};
  bool ok = true;
  const double rate = median_of_bursts(each, [&] {
    page[0] = static_cast<char>(page[0] + 1);
    ok = ok && ::pwrite(fd, page.data(), page.size(), 0) == static_cast<ssize_t>(page.size()) && ::fdatasync(fd) == 0;
    return ok;
  });
  ::close(fd);
  std::filesystem::remove(file);
  if (!ok) throw std::runtime_error("calibration: write or fdatasync failed in " + dir.string());
  return rate;
}

// One connection, one row per commit, statements prepared once.
double sqlite_rate(const std::filesystem::path& dir, const char* journal, const char* sync,
                   std::chrono::milliseconds each) {
  const std::string path = (dir / (std::string("calibration-") + journal + "-" + sync + ".db")).string();
  sqlite3* db = nullptr;
  std::string problem;
  double rate = 0;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
    const std::string setup = std::string("PRAGMA journal_mode=") + journal + "; PRAGMA synchronous=" + sync +
                              "; CREATE TABLE IF NOT EXISTS rows(id INTEGER PRIMARY KEY, payload TEXT NOT NULL)";
    std::array<sqlite3_stmt*, 3> steps{};
    const char* sql[] = {"BEGIN IMMEDIATE", "INSERT INTO rows(payload) VALUES('calibration')", "COMMIT"};
    bool ok = sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
    for (std::size_t i = 0; ok && i < steps.size(); ++i)
      ok = sqlite3_prepare_v2(db, sql[i], -1, &steps[i], nullptr) == SQLITE_OK;
    if (ok) {
      rate = median_of_bursts(each, [&] {
        for (auto* s : steps) {
          ok = ok && sqlite3_step(s) == SQLITE_DONE;
          sqlite3_reset(s);
        }
        return ok;
      });
    }
    if (!ok) problem = sqlite3_errmsg(db);
    for (auto* s : steps) sqlite3_finalize(s);
  } else {
    problem = sqlite3_errmsg(db);
  }
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path + suffix);
  if (!problem.empty()) throw std::runtime_error("calibration: SQLite " + std::string(journal) + ": " + problem);
  return rate;
}

// The first line of `file` that starts with `key`, after its ':' (trimmed).
std::string proc_field(const char* file, const std::string& key) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto begin = line.find_first_not_of(" \t", colon + 1);
    return begin == std::string::npos ? "" : line.substr(begin);
  }
  return "";
}

// Type, mount point and device of the file system holding `dir`, from the
// mount whose mount point is the longest prefix of its real path.
nlohmann::json filesystem_of(const std::filesystem::path& dir) {
  std::error_code ec;
  const std::string real = std::filesystem::weakly_canonical(dir, ec).string();
  std::ifstream in("/proc/self/mountinfo");
  std::string best_mount, best_type, best_source;
  for (std::string line; std::getline(in, line);) {
    // id parent major:minor root mount-point options [optional...] - type source super-options
    std::istringstream fields(line);
    std::string id, parent, device, root, mount;
    fields >> id >> parent >> device >> root >> mount;
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string type, source;
    tail >> type >> source;
    const bool prefix = real == mount || mount == "/" ||
                        (real.rfind(mount, 0) == 0 && real.size() > mount.size() && real[mount.size()] == '/');
    if (prefix && mount.size() >= best_mount.size()) {
      best_mount = mount;
      best_type = type;
      best_source = source;
    }
  }
  if (best_mount.empty()) return {{"path", real}, {"type", "unknown"}};
  return {{"path", real}, {"type", best_type}, {"mount", best_mount}, {"device", best_source}};
}

nlohmann::json sqlite_options() {
  nlohmann::json all = nlohmann::json::array();
  for (int i = 0; const char* o = sqlite3_compileoption_get(i); ++i) all.push_back(o);
  nlohmann::json out = {{"all", all}};
  // The ones that decide durability and WAL growth; "default" when the
  // build does not set it (SQLite's own default applies).
  for (const char* name : {"DEFAULT_SYNCHRONOUS", "DEFAULT_WAL_SYNCHRONOUS", "DEFAULT_JOURNAL_SIZE_LIMIT",
                           "DEFAULT_WAL_AUTOCHECKPOINT", "THREADSAFE"}) {
    std::string value = "default";
    const std::string prefix = std::string(name) + "=";
    for (const auto& o : all) {
      const auto text = o.get<std::string>();
      if (text.rfind(prefix, 0) == 0) value = text.substr(prefix.size());
    }
    out[name] = value;
  }
  return out;
}

}  // namespace

std::string utc_now(const char* format) {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

nlohmann::json Calibration::to_json() const {
  return {{"utc", utc},
          {"fdatasync_per_s", fdatasync_per_s},
          {"sqlite_commits_per_s", {{"wal_full", wal_full}, {"wal_normal", wal_normal}, {"delete_full", delete_full}}}};
}

Calibration Calibration::from_json(const nlohmann::json& j) {
  Calibration c;
  c.utc = j.value("utc", "");
  c.fdatasync_per_s = j.value("fdatasync_per_s", 0.0);
  const auto& s = j.contains("sqlite_commits_per_s") ? j["sqlite_commits_per_s"] : nlohmann::json::object();
  c.wal_full = s.value("wal_full", 0.0);
  c.wal_normal = s.value("wal_normal", 0.0);
  c.delete_full = s.value("delete_full", 0.0);
  return c;
}

std::optional<double> Calibration::commits_per_s(const std::string& journal_mode,
                                                 const std::string& synchronous) const {
  if (journal_mode == "wal" && synchronous == "full") return wal_full;
  if (journal_mode == "wal" && synchronous == "normal") return wal_normal;
  if (journal_mode == "delete" && synchronous == "full") return delete_full;
  return std::nullopt;
}

Calibration calibrate(const std::filesystem::path& dir, std::chrono::milliseconds each) {
  std::filesystem::create_directories(dir);
  Calibration c;
  c.utc = utc_now();
  c.fdatasync_per_s = fdatasync_rate(dir, each);
  c.wal_full = sqlite_rate(dir, "wal", "full", each);
  c.wal_normal = sqlite_rate(dir, "wal", "normal", each);
  c.delete_full = sqlite_rate(dir, "delete", "full", each);
  return c;
}

Drift drift(const Calibration& start, const Calibration& end) {
  Drift d;
  const std::pair<const char*, std::pair<double, double>> figures[] = {
      {"fdatasync_per_s", {start.fdatasync_per_s, end.fdatasync_per_s}},
      {"sqlite_commits_per_s.wal_full", {start.wal_full, end.wal_full}},
      {"sqlite_commits_per_s.wal_normal", {start.wal_normal, end.wal_normal}},
      {"sqlite_commits_per_s.delete_full", {start.delete_full, end.delete_full}}};
  for (const auto& [name, pair] : figures) {
    if (!(pair.first > 0)) continue;
    const double change = std::abs(pair.second - pair.first) / pair.first;
    if (change > d.largest) d = {change, name};
  }
  return d;
}

void attach_calibration(std::vector<CellResult>& results, const Calibration& start, const Calibration& end) {
  for (auto& r : results) {
    if (!r.server.is_object() || !r.server.contains("config")) continue;
    const auto& db = r.server["config"].value("database", nlohmann::json::object());
    if (db.value("engine", std::string("sqlite")) != "sqlite") continue;
    const auto journal = db.value("journal_mode", std::string());
    const auto sync = db.value("synchronous", std::string());
    const auto a = start.commits_per_s(journal, sync);
    const auto b = end.commits_per_s(journal, sync);
    if (a && b && *a > 0 && *b > 0) r.raw_commits_per_s = (*a + *b) / 2;
  }
}

nlohmann::json provenance(const std::filesystem::path& data_dir) {
  nlohmann::json p;
  // Recorded when the binary was built (sweep/source_state.cmake): the tree
  // may have moved on since.
  p["commit"] = BUSYLAB_SOURCE_COMMIT;
  p["dirty"] = BUSYLAB_SOURCE_DIRTY < 0 ? nlohmann::json(nullptr) : nlohmann::json(BUSYLAB_SOURCE_DIRTY == 1);
  p["build_type"] = BUSYLAB_BUILD_TYPE;
#if defined(__clang__)
  p["compiler"] = "clang " __clang_version__;
#elif defined(__GNUC__)
  p["compiler"] = "g++ " __VERSION__;
#else
  p["compiler"] = "unknown";
#endif
  p["cpu_model"] = proc_field("/proc/cpuinfo", "model name");
  p["cores"] = std::thread::hardware_concurrency();
  const std::string mem = proc_field("/proc/meminfo", "MemTotal");  // "24563700 kB"
  p["memory_mb"] = mem.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::stoll(mem) / 1024);
  utsname u{};
  uname(&u);
  p["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  p["filesystem"] = filesystem_of(data_dir);
  p["sqlite_version"] = sqlite3_libversion();
  p["sqlite_compile_options"] = sqlite_options();
  return p;
}

nlohmann::json postgres_provenance(const std::vector<CellResult>& results) {
  for (const auto& r : results) {
    if (r.settings.is_object() && r.settings.contains("server_version")) return r.settings;
  }
  return nullptr;
}

}  // namespace busylab::sweep
