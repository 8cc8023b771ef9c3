#include "server/metrics.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <nlohmann/json.hpp>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/db_stats.hpp"
#include "server/stats.hpp"
#include "strategy/strategy.hpp"

namespace busylab {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

double load(const std::atomic<std::uint64_t>& a) {
  return static_cast<double>(a.load(std::memory_order_relaxed));
}

// j[key], or null when j is not an object or has no such key.
const nlohmann::json& child(const nlohmann::json& j, const char* key) {
  static const nlohmann::json null;
  if (!j.is_object()) return null;
  const auto it = j.find(key);
  return it != j.end() ? *it : null;
}

double number(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return 0.0;
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

// Histogram bounds: the pool's waits and holds use the request durations'
// (seconds); the writer's batch sizes count writes.
constexpr const auto& kSecondsBounds = ServerStats::kDurationBounds;
constexpr double kBatchBounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

class Families {
 public:
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    for (auto& f : families_) {
      if (f.name == name) return f;
    }
    families_.push_back(MetricFamily{name, help, type, {}});
    return families_.back();
  }
  void counter(const std::string& name, const std::string& help, double value, Labels labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    family(name, help, MetricType::Counter).metric.push_back(std::move(m));
  }
  void gauge(const std::string& name, const std::string& help, double value, Labels labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    family(name, help, MetricType::Gauge).metric.push_back(std::move(m));
  }
  template <class Bounds>
  void histogram(const std::string& name, const std::string& help, const Histogram& h, double unit,
                 const Bounds& bounds, Labels labels) {
    ClientMetric m;
    m.label = std::move(labels);
    m.histogram.sample_count = h.count();
    m.histogram.sample_sum = static_cast<double>(h.sum()) * unit;
    for (double bound : bounds) {
      // Our histogram records whole units (microseconds, writes).
      const auto in_units = static_cast<std::uint64_t>(bound / unit + 0.5);
      m.histogram.bucket.push_back({h.count_at_most(in_units), bound});
    }
    family(name, help, MetricType::Histogram).metric.push_back(std::move(m));
  }
  std::vector<MetricFamily> take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
};

class BusylabCollector : public prometheus::Collectable {
 public:
  explicit BusylabCollector(const MetricsSource& source) : source_(source), server_(source.server), db_(source.db) {}

  std::vector<MetricFamily> Collect() const override {
    Families f;
    http(f);
    sqlite(f);
    pools(f);
    workers(f);
    return f.take();
  }

 private:
  void http(Families& f) const {
    for (std::size_t r = 0; r < static_cast<std::size_t>(Route::kCount_); ++r) {
      const auto route = static_cast<Route>(r);
      const std::string name(to_string(route));
      for (int status = 100; status < 600; ++status) {
        if (const auto n = server_.count(route, status)) {
          f.counter("busylab_http_requests_total", "HTTP requests answered, by route and status code",
                    static_cast<double>(n), {{"route", name}, {"code", std::to_string(status)}});
        }
      }
      const auto d = server_.durations(route);
      if (d.count == 0) continue;
      ClientMetric m;
      m.label = {{"route", name}};
      m.histogram.sample_count = d.count;
      m.histogram.sample_sum = d.sum_seconds;
      for (std::size_t b = 0; b < ServerStats::kDurationBounds.size(); ++b) {
        m.histogram.bucket.push_back({d.cumulative[b], ServerStats::kDurationBounds[b]});
      }
      f.family("busylab_http_request_duration_seconds",
               "Time from a parsed request to its answer being ready (reading and writing the socket excluded)",
               MetricType::Histogram)
          .metric.push_back(std::move(m));
    }
    f.gauge("busylab_http_connections_open", "HTTP connections open now",
            static_cast<double>(server_.active_connections()));
    f.counter("busylab_http_writes_acknowledged_total", "Writes answered with a 2xx (each is committed)",
              static_cast<double>(server_.acknowledged()));
  }

  void sqlite(Families& f) const {
    f.counter("busylab_sqlite_busy_handler_calls_total", "Times SQLite called the busy handler (a lock was held)",
              load(db_.busy_handler_calls));
    f.counter("busylab_sqlite_busy_waits_total", "Sleeps of the busy handler", load(db_.busy_sleeps));
    f.counter("busylab_sqlite_busy_wait_seconds_total", "Time slept by the busy handler waiting for locks",
              load(db_.busy_sleep_ms) / 1000.0);
    f.counter("busylab_sqlite_busy_timeouts_total", "Lock waits that reached database.busy_timeout_ms",
              load(db_.busy_gave_up));
    f.counter("busylab_sqlite_lock_waits_total", "Lock attempts that found the lock held", load(db_.lock_waits));
    const std::pair<const char*, const std::atomic<std::uint64_t>*> failures[] = {
        {"BUSY", &db_.busy_failures},
        {"BUSY_SNAPSHOT", &db_.busy_snapshot_failures},
        {"FULL", &db_.full_failures},
        {"READONLY", &db_.readonly_failures},
        {"UNAVAILABLE", &db_.unavailable_failures},
        {"TIMEOUT", &db_.timeout_failures},
        {"UNKNOWN_OUTCOME", &db_.unknown_outcomes},
        {"FATAL", &db_.fatal_failures},
        {"OTHER", &db_.other_failures}};
    for (const auto& [code, counter] : failures) {
      f.counter("busylab_sqlite_failures_total",
                "Operations that failed with a database error, by class (FATAL: I/O error or corruption; "
                "UNAVAILABLE: PostgreSQL connection refused or lost; the connection was replaced)",
                load(*counter), {{"code", code}});
    }
    f.counter("busylab_postgres_deadlocks_total",
              "PostgreSQL: operations failed with 40P01 deadlock_detected (also counted as BUSY_SNAPSHOT)",
              load(db_.deadlock_failures));
    f.counter("busylab_sqlite_commits_total", "Transactions committed", load(db_.transactions_committed));
    f.counter("busylab_sqlite_writes_committed_total", "Write operations whose COMMIT succeeded",
              load(db_.writes_committed));
    f.counter("busylab_sqlite_connections_opened_total", "SQLite connections opened", load(db_.connections_opened));
    f.counter("busylab_sqlite_connections_replaced_total", "Connections closed after a fatal error and reopened",
              load(db_.connections_replaced));
    retries(f);
    checkpointer(f);
  }

  // database.checkpoint: the background checkpointer's runs (all zero under "auto").
  void checkpointer(Families& f) const {
    f.counter("busylab_checkpoints_total", "Background WAL checkpoints run (database.checkpoint)",
              load(db_.checkpoints));
    f.counter("busylab_checkpoints_incomplete_total",
              "Background checkpoints that could not copy every frame (a reader or writer in the way)",
              load(db_.checkpoints_incomplete));
    f.counter("busylab_checkpoint_errors_total", "Background checkpoints that failed with an error",
              load(db_.checkpoint_errors));
    f.counter("busylab_checkpoint_frames_total", "WAL frames copied into the database by background checkpoints",
              load(db_.checkpoint_frames));
    f.counter("busylab_checkpoint_busy_wait_seconds_total",
              "Time background checkpoints slept waiting for readers or writers (restart, truncate, full)",
              load(db_.checkpoint_wait_ms) / 1000.0);
    f.histogram("busylab_checkpoint_duration_seconds", "How long each background checkpoint took",
                db_.checkpoint_us.snapshot(), 1e-6, kSecondsBounds, {});
  }

  // database.retry: tries per committed write as a histogram (le = tries),
  // retries, and the requests that gave up, by reason and last failure.
  void retries(Families& f) const {
    ClientMetric m;
    std::uint64_t cumulative = 0, sum = 0;
    for (std::size_t i = 0; i < DbStats::kTryBuckets; ++i) {
      const auto n = db_.write_tries[i].load(std::memory_order_relaxed);
      cumulative += n;
      sum += n * (i + 1);  // the last bucket counts its tries as 16
      if (i + 1 < DbStats::kTryBuckets) m.histogram.bucket.push_back({cumulative, static_cast<double>(i + 1)});
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = static_cast<double>(sum);
    f.family("busylab_retry_tries_per_write", "Tries each committed write took (1 = no retry; database.retry)",
             MetricType::Histogram)
        .metric.push_back(std::move(m));
    f.counter("busylab_retries_total", "Transactions run again after a lock or serialization conflict",
              load(db_.retries));
    f.counter("busylab_retry_committed_total", "Writes committed on a second or later try",
              load(db_.committed_after_retry));
    const std::tuple<const char*, const char*, const std::atomic<std::uint64_t>*> gave_up[] = {
        {"max_tries", "busy", &db_.retry_gave_up_tries_busy},
        {"max_tries", "busy_snapshot", &db_.retry_gave_up_tries_snapshot},
        {"deadline", "busy", &db_.retry_gave_up_deadline_busy},
        {"deadline", "busy_snapshot", &db_.retry_gave_up_deadline_snapshot}};
    for (const auto& [reason, cause, counter] : gave_up) {
      f.counter("busylab_retry_gave_up_total",
                "Requests answered with their conflict after database.retry ran out, by reason and last failure",
                load(*counter), {{"reason", reason}, {"cause", cause}});
    }
  }

  void pools(Families& f) const {
    const nlohmann::json& s = source_.strategy;
    for (const auto& [pool, j] : pool_documents(s)) {
      const double size = number(j, "size");
      const double used = number(j, "in_use");
      f.gauge("busylab_pool_connections", "Connections of the pool by state: idle, or used (lent to a request)",
              size - used, {{"pool", pool}, {"state", "idle"}});
      f.gauge("busylab_pool_connections", "Connections of the pool by state: idle, or used (lent to a request)", used,
              {{"pool", pool}, {"state", "used"}});
      f.gauge("busylab_pool_max_connections", "The pool's size", size, {{"pool", pool}});
      f.gauge("busylab_pool_pending_requests", "Requests waiting for a connection", number(j, "waiting"),
              {{"pool", pool}});
      f.counter("busylab_pool_timeouts_total", "Requests that got no connection within pool.checkout_timeout_ms",
                number(j, "checkout_timeouts"), {{"pool", pool}});
      f.counter("busylab_pool_shed_total", "Waiting requests shed by the queue target (pool.queue_target_ms)",
                number(j, "shed"), {{"pool", pool}});
      f.counter("busylab_pool_rejected_total", "Requests refused because pool.max_waiters were already waiting",
                number(j, "rejected_queue_full"), {{"pool", pool}});
    }
    if (const auto w = s.find("writer"); w != s.end() && w->is_object()) {
      const nlohmann::json& j = *w;
      f.gauge("busylab_writer_queue_length", "Writes queued for the writer", number(j, "queued"));
      f.gauge("busylab_writer_in_batch", "Writes in the batch being committed now", number(j, "in_batch"));
      f.counter("busylab_writer_batches_total", "Batches (transactions) the writer ran", number(j, "batches"));
    }
    for (const auto& h : source_.histograms) {
      if (h.kind == StrategyHistogram::Kind::kBatchSize) {
        f.histogram("busylab_writer_batch_size", "Writes per batch the writer committed", h.data, 1.0, kBatchBounds,
                    {});
      } else {
        const bool wait = h.kind == StrategyHistogram::Kind::kWait;
        f.histogram(wait ? "busylab_pool_wait_seconds" : "busylab_pool_use_seconds",
                    wait ? "Time a request waited for a connection (or in the writer's queue)"
                         : "Time a request held a connection",
                    h.data, 1e-6, kSecondsBounds, {{"pool", h.pool}});
      }
    }
  }

  // With several worker processes: a few figures of each, labelled by its
  // index (0 .. processes-1, stable across restarts; the pid is in /stats).
  void workers(Families& f) const {
    if (!source_.workers.is_array()) return;
    for (const auto& w : source_.workers) {
      const Labels worker = {{"worker", std::to_string(static_cast<int>(number(w, "worker")))}};
      f.gauge("busylab_worker_up", "1 while the worker process runs, 0 while it is being restarted",
              child(w, "running") == true ? 1 : 0, worker);
      f.counter("busylab_worker_starts_total", "Times the worker process was started (restarts + 1)",
                number(w, "starts"), worker);
      f.counter("busylab_worker_http_requests_total", "HTTP requests the worker answered",
                number(child(w, "requests"), "total"), worker);
      f.gauge("busylab_worker_http_connections_open", "HTTP connections the worker has open now",
              number(child(child(w, "requests"), "connections"), "active"), worker);
      f.counter("busylab_worker_writes_acknowledged_total", "Writes the worker answered with a 2xx",
                number(child(w, "writes"), "acknowledged"), worker);
      f.counter("busylab_worker_sqlite_writes_committed_total", "Write operations the worker committed",
                number(child(w, "writes"), "committed"), worker);
      f.counter("busylab_worker_sqlite_busy_waits_total", "Sleeps of the worker's busy handler",
                number(child(w, "database"), "busy_sleeps"), worker);
      const auto& d = child(w, "database");
      f.counter("busylab_worker_sqlite_failures_total", "Operations of the worker that failed with an SQLite error",
                number(d, "busy_failures") + number(d, "busy_snapshot_failures") + number(d, "full_failures") +
                    number(d, "readonly_failures") + number(d, "unavailable_failures") + number(d, "fatal_failures") +
                    number(d, "other_failures"),
                worker);
    }
  }

  // The pools in a stats_json() document, by the label they get: "main" for
  // pool and per_request, "readers" beside a writer, and the writer itself
  // as a pool of one connection whose waiters are its queue.
  static std::vector<std::pair<std::string, nlohmann::json>> pool_documents(const nlohmann::json& s) {
    std::vector<std::pair<std::string, nlohmann::json>> out;
    const auto w = s.find("writer");
    const bool writer = w != s.end() && w->is_object();
    if (const auto p = s.find("pool"); p != s.end() && p->is_object())
      out.emplace_back(writer ? "readers" : "main", *p);
    if (writer) {
      out.emplace_back("writer", nlohmann::json{{"size", number(*w, "connections")},
                                                {"in_use", number(*w, "connections_in_use")},
                                                {"waiting", number(*w, "queued")},
                                                {"checkout_timeouts", number(*w, "queue_timeouts")},
                                                {"shed", 0},
                                                {"rejected_queue_full", number(*w, "rejected_queue_full")}});
    }
    return out;
  }

  const MetricsSource& source_;
  const ServerStats& server_;
  const DbStats& db_;
};

}  // namespace

std::string render_metrics(const MetricsSource& source) {
  const BusylabCollector collector(source);
  return prometheus::TextSerializer().Serialize(collector.Collect());
}

std::string render_metrics(const ServerStats& server, const DbStats& db, const Strategy& strategy) {
  return render_metrics(MetricsSource{server, db, strategy.stats_json(), strategy.histograms(), nullptr});
}

}  // namespace busylab
