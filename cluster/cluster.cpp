#include "cluster/cluster.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <map>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "engine/db_stats.hpp"
#include "server/metrics.hpp"
#include "server/server_options.hpp"
#include "server/stats.hpp"

namespace busylab {

namespace {

constexpr std::size_t kSnapshotBytes = std::size_t{1} << 20;
constexpr auto kRefreshPatience = std::chrono::milliseconds(250);

// CLOCK_MONOTONIC: one clock for every process of the machine.
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A futex word in shared memory: the plain (not _PRIVATE) operations, since
// the waiters are in other processes.
long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value, const timespec* timeout) {
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, value, timeout, nullptr, 0);
}

// a is at or after b, counting around the wrap of the 32-bit counter.
bool at_or_after(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) >= 0;
}

const char* kind_name(StrategyHistogram::Kind k) {
  switch (k) {
    case StrategyHistogram::Kind::kWait:
      return "wait";
    case StrategyHistogram::Kind::kUse:
      return "use";
    case StrategyHistogram::Kind::kBatchSize:
      return "batch_size";
  }
  return "wait";
}

StrategyHistogram::Kind kind_of(const std::string& name) {
  if (name == "use") return StrategyHistogram::Kind::kUse;
  if (name == "batch_size") return StrategyHistogram::Kind::kBatchSize;
  return StrategyHistogram::Kind::kWait;
}

// Adds a stats_json() document into another: counts and sizes add up,
// "max..." figures take the larger, text stays. Percentiles come out wrong
// this way and are recomputed from the merged histograms afterwards.
void add_document(nlohmann::json& into, const nlohmann::json& from) {
  if (into.is_null()) {
    into = from;
    return;
  }
  if (!into.is_object() || !from.is_object()) return;
  for (auto it = from.begin(); it != from.end(); ++it) {
    nlohmann::json& mine = into[it.key()];
    const nlohmann::json& theirs = it.value();
    if (mine.is_null()) {
      mine = theirs;
    } else if (mine.is_object()) {
      add_document(mine, theirs);
    } else if (mine.is_number() && theirs.is_number()) {
      const bool is_max = it.key().rfind("max", 0) == 0;
      if (mine.is_number_float() || theirs.is_number_float()) {
        const double a = mine.get<double>(), b = theirs.get<double>();
        mine = is_max ? std::max(a, b) : a + b;
      } else {
        const auto a = mine.get<std::int64_t>(), b = theirs.get<std::int64_t>();
        mine = is_max ? std::max(a, b) : a + b;
      }
    }
  }
}

class SlotLock {
 public:
  explicit SlotLock(pthread_mutex_t& m) : m_(m) {
    // Robust: a worker killed while copying leaves the mutex to the next
    // taker, who finds a snapshot that may be torn and drops it.
    owner_died_ = pthread_mutex_lock(&m_) == EOWNERDEAD;
    if (owner_died_) pthread_mutex_consistent(&m_);
  }
  ~SlotLock() { pthread_mutex_unlock(&m_); }
  SlotLock(const SlotLock&) = delete;
  SlotLock& operator=(const SlotLock&) = delete;
  bool owner_died() const { return owner_died_; }

 private:
  pthread_mutex_t& m_;
  bool owner_died_ = false;
};

}  // namespace

struct BoardHeader {
  // Bumped by a worker that wants everyone's figures; the publishers wait on it.
  std::atomic<std::uint32_t> wanted{0};
  std::int64_t created_ns = 0;
};

struct WorkerSlot {
  std::atomic<std::int32_t> pid{0};  // 0 while no process runs this worker
  std::atomic<std::uint32_t> starts{0};
  std::atomic<std::uint32_t> ready{0};  // serving (set once its server exists, cleared when it stops)
  std::atomic<std::int64_t> started_ns{0};
  ServerStats server;
  DbStats db;
  std::atomic<std::uint32_t> answered{0};  // the request generation the snapshot answers
  pthread_mutex_t mutex;                   // guards the three below
  std::int64_t snapshot_ns = 0;
  std::uint32_t length = 0;
  char text[kSnapshotBytes];
};

ClusterTotals::ClusterTotals() = default;
ClusterTotals::~ClusterTotals() = default;
ClusterTotals::ClusterTotals(ClusterTotals&&) noexcept = default;

WorkerBoard::WorkerBoard(int workers) : workers_(workers) {
  // The header, then the slots as one array (rounded up to their alignment).
  const std::size_t slots_at =
      (sizeof(BoardHeader) + alignof(WorkerSlot) - 1) / alignof(WorkerSlot) * alignof(WorkerSlot);
  bytes_ = slots_at + sizeof(WorkerSlot) * static_cast<std::size_t>(workers);
  region_ = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (region_ == MAP_FAILED) {
    region_ = nullptr;
    throw std::runtime_error(std::string("cannot map the workers' shared memory: ") + std::strerror(errno));
  }
  auto* base = static_cast<char*>(region_);
  header_ = new (base) BoardHeader;
  header_->created_ns = now_ns();
  // Never destroyed: the mapping is unmapped. Placement new[] adds no
  // array cookie (Itanium C++ ABI), so the slots start at slots_at.
  static_assert(std::is_trivially_destructible_v<WorkerSlot>);
  slots_ = new (base + slots_at) WorkerSlot[static_cast<std::size_t>(workers)];
  for (int i = 0; i < workers; ++i) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&slots_[i].mutex, &attr);
    pthread_mutexattr_destroy(&attr);
  }
}

WorkerBoard::~WorkerBoard() {
  if (region_) munmap(region_, bytes_);
}

WorkerSlot& WorkerBoard::slot(int worker) const {
  return slots_[worker];
}

ServerStats& WorkerBoard::server_stats(int worker) const {
  return slot(worker).server;
}
DbStats& WorkerBoard::db_stats(int worker) const {
  return slot(worker).db;
}

void WorkerBoard::started(int worker, int pid) {
  WorkerSlot& s = slot(worker);
  // `ready` is not touched: stopped() cleared it, and the worker may
  // already have set it again by the time the supervisor gets here.
  if (s.pid.exchange(pid) == pid) return;  // the worker itself got there first
  s.starts.fetch_add(1);
  s.started_ns.store(now_ns());
}

void WorkerBoard::stopped(int worker) {
  WorkerSlot& s = slot(worker);
  s.ready.store(0);
  s.pid.store(0);
  s.server.connections_lost();
}

bool WorkerBoard::ready(int worker) const {
  return slot(worker).ready.load() != 0;
}
int WorkerBoard::starts(int worker) const {
  return static_cast<int>(slot(worker).starts.load());
}

void WorkerBoard::mark_ready(int worker) {
  slot(worker).ready.store(1);
}

void WorkerBoard::stopped_serving(int worker) {
  slot(worker).ready.store(0);
}

void WorkerBoard::publish(int worker, const std::string& snapshot, std::uint32_t generation) {
  WorkerSlot& s = slot(worker);
  static const std::string too_large = R"({"error":"snapshot larger than the 1 MiB slot"})";
  const std::string& text = snapshot.size() <= kSnapshotBytes ? snapshot : too_large;
  {
    SlotLock lock(s.mutex);
    std::memcpy(s.text, text.data(), text.size());
    s.length = static_cast<std::uint32_t>(text.size());
    s.snapshot_ns = now_ns();
  }
  // Only ever forward: an older request answered late must not hide a newer one.
  auto seen = s.answered.load();
  while (at_or_after(generation, seen) && !s.answered.compare_exchange_weak(seen, generation)) {
  }
}

std::uint32_t WorkerBoard::request_snapshots() {
  const std::uint32_t generation = header_->wanted.fetch_add(1) + 1;
  futex(header_->wanted, FUTEX_WAKE, INT_MAX, nullptr);
  return generation;
}

bool WorkerBoard::answered(std::uint32_t generation, int except) const {
  for (int i = 0; i < workers_; ++i) {
    const WorkerSlot& s = slot(i);
    if (i == except || s.ready.load() == 0) continue;
    if (!at_or_after(s.answered.load(), generation)) return false;
  }
  return true;
}

std::uint32_t WorkerBoard::wait_for_request(std::uint32_t seen, int timeout_ms) const {
  const std::uint32_t now = header_->wanted.load();
  if (now != seen) return now;
  const timespec timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000L};
  futex(header_->wanted, FUTEX_WAIT, seen, &timeout);
  return header_->wanted.load();
}

double WorkerBoard::uptime_s() const {
  return static_cast<double>(now_ns() - header_->created_ns) / 1e9;
}

ClusterTotals WorkerBoard::collect(bool include_stopped) const {
  ClusterTotals t;
  t.server = std::make_unique<ServerStats>();
  t.db = std::make_unique<DbStats>();
  // Every worker's acknowledgements before any worker's commits.
  for (int i = 0; i < workers_; ++i) t.server->add(slot(i).server);
  for (int i = 0; i < workers_; ++i) t.db->add(slot(i).db);

  std::map<std::pair<StrategyHistogram::Kind, std::string>, Histogram> merged;
  nlohmann::json strategy;
  const std::int64_t now = now_ns();
  for (int i = 0; i < workers_; ++i) {
    WorkerSlot& s = slot(i);
    const int pid = s.pid.load();
    std::string text;
    std::int64_t taken = 0;
    {
      SlotLock lock(s.mutex);
      if (lock.owner_died()) s.length = 0;
      text.assign(s.text, s.length);
      taken = s.snapshot_ns;
    }
    const nlohmann::json snap = text.empty() ? nlohmann::json() : nlohmann::json::parse(text, nullptr, false);
    const bool usable = snap.is_object() && snap.contains("strategy");
    nlohmann::json doc = {{"worker", i},
                          {"pid", pid},
                          {"running", pid != 0},
                          {"starts", s.starts.load()},
                          {"uptime_s", pid != 0 ? static_cast<double>(now - s.started_ns.load()) / 1e9 : 0.0}};
    doc["writes"] = {{"acknowledged", s.server.acknowledged()},
                     {"committed", s.db.writes_committed.load(std::memory_order_relaxed)}};
    doc["requests"] = s.server.to_json();
    doc["database"] = s.db.to_json();
    doc["strategy"] = usable ? snap["strategy"] : nlohmann::json();
    doc["draining"] = usable && snap.value("draining", false);
    // A publisher may have written the snapshot after `now` was read.
    const std::int64_t age_ns = std::max<std::int64_t>(0, now_ns() - taken);
    doc["snapshot_age_ms"] = taken > 0 ? nlohmann::json(static_cast<double>(age_ns) / 1e6) : nlohmann::json();
    if (usable && snap.value("forced", false)) t.any_forced = true;
    if (usable && (pid != 0 || include_stopped)) {
      add_document(strategy, snap["strategy"]);
      for (const auto& h : snap.value("histograms", nlohmann::json::array())) {
        try {
          merged[{kind_of(h.value("kind", "")), h.value("pool", "")}].merge(Histogram::from_json(h["data"]));
        } catch (const std::exception&) {
          // A snapshot from a worker that was killed mid-way: skip the histogram.
        }
      }
    }
    t.workers.push_back(std::move(doc));
  }

  // Percentiles of the merged histograms replace the summed ones.
  auto hist = [&](StrategyHistogram::Kind k, const std::string& pool) -> const Histogram& { return merged[{k, pool}]; };
  auto ms = [](std::uint64_t us) { return static_cast<double>(us) / 1000.0; };
  if (strategy.is_object()) {
    const bool writer = strategy.contains("writer");
    if (strategy.contains("pool")) {
      const Histogram& h = hist(StrategyHistogram::Kind::kWait, writer ? "readers" : "main");
      strategy["pool"]["checkout_wait_ms"] = {{"p50", ms(h.percentile(0.50))},
                                              {"p99", ms(h.percentile(0.99))},
                                              {"max", ms(h.max())},
                                              {"mean", h.mean() / 1000.0}};
    }
    if (writer) {
      const Histogram& w = hist(StrategyHistogram::Kind::kWait, "writer");
      strategy["writer"]["queue_wait_ms"] = {
          {"p50", ms(w.percentile(0.5))}, {"p99", ms(w.percentile(0.99))}, {"max", ms(w.max())}};
      const Histogram& b = hist(StrategyHistogram::Kind::kBatchSize, "writer");
      strategy["writer"]["batch_size"] = {
          {"mean", b.mean()}, {"p50", b.percentile(0.5)}, {"p99", b.percentile(0.99)}, {"max", b.max()}};
    }
  }
  t.strategy = strategy.is_object() ? std::move(strategy) : nlohmann::json::object();
  for (auto& [key, h] : merged) t.histograms.push_back({key.first, key.second, std::move(h)});
  return t;
}

// ---- ClusterMember ----------------------------------------------------------

ClusterMember::ClusterMember(WorkerBoard& board, int worker) : board_(board), worker_(worker) {}

ClusterMember::~ClusterMember() {
  stop_publisher();
}

void ClusterMember::stop_publisher() {
  stopping_ = true;
  if (publisher_.joinable()) {
    // A new request changes the futex word, so a publisher just about to
    // wait (it saw stopping_ false a moment ago) does not sleep through the
    // wake-up; the other workers publish once for nothing.
    board_.request_snapshots();
    publisher_.join();
  }
}

void ClusterMember::attach(const Strategy& strategy, const std::atomic<bool>& draining) {
  strategy_ = &strategy;
  draining_ = &draining;
  publish(0, false, false);
  publisher_ = std::thread([this] { publisher_loop(); });
}

void ClusterMember::detach(bool forced) {
  if (!strategy_) return;
  stop_publisher();
  publish(0, true, forced);
  strategy_ = nullptr;
}

void ClusterMember::publisher_loop() {
  std::uint32_t seen = 0;
  while (!stopping_.load()) {
    const std::uint32_t now = board_.wait_for_request(seen, 1000);
    if (stopping_.load()) break;
    if (now != seen) {
      publish(now, false, false);
      seen = now;
    }
  }
}

void ClusterMember::publish(std::uint32_t generation, bool final, bool forced) {
  if (!strategy_) return;
  nlohmann::json histograms = nlohmann::json::array();
  for (const auto& h : strategy_->histograms())
    histograms.push_back({{"kind", kind_name(h.kind)}, {"pool", h.pool}, {"data", h.data.to_json()}});
  const nlohmann::json snap = {{"strategy", strategy_->stats_json()},
                               {"histograms", std::move(histograms)},
                               {"draining", draining_ && draining_->load()},
                               {"final", final},
                               {"forced", forced}};
  board_.publish(worker_, snap.dump(), generation);
  if (final) board_.stopped_serving(worker_);
}

boost::asio::awaitable<void> ClusterMember::refresh() {
  const std::uint32_t generation = board_.request_snapshots();
  publish(generation, false, false);
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + kRefreshPatience;
  while (!board_.answered(generation, worker_) && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
}

nlohmann::json ClusterMember::stats_document(const Config& config) const {
  const ClusterTotals t = board_.collect(/*include_stopped=*/false);
  nlohmann::json doc = {{"config", config.to_json()},
                        {"uptime_s", board_.uptime_s()},
                        {"processes", board_.size()},
                        {"answered_by", worker_}};
  doc["requests"] = t.server->to_json();
  doc["writes"] = {{"acknowledged", t.server->acknowledged()},
                   {"committed", t.db->writes_committed.load(std::memory_order_relaxed)}};
  doc["database"] = t.db->to_json();
  doc["strategy"] = t.strategy;
  doc["draining"] = draining_ && draining_->load();
  doc["workers"] = t.workers;
  return doc;
}

std::string ClusterMember::metrics_text() const {
  const ClusterTotals t = board_.collect(/*include_stopped=*/false);
  return render_metrics(MetricsSource{*t.server, *t.db, t.strategy, t.histograms, t.workers});
}

}  // namespace busylab
