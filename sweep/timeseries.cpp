#include "sweep/timeseries.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "sweep/http_get.hpp"
#include "sweep/outputs.hpp"

namespace busylab::sweep {

namespace {

std::string field(std::optional<double> v, int decimals = 3) {
  if (!v) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, *v);
  return buf;
}

}  // namespace

ServerSampler::ServerSampler(std::uint16_t port, std::filesystem::path db, std::chrono::nanoseconds interval)
    : port_(port), db_(std::move(db)), interval_(interval) {}

ServerSampler::~ServerSampler() {
  stop();
}

void ServerSampler::start(std::chrono::steady_clock::time_point origin) {
  origin_ = origin;
  thread_ = std::thread([this] { run(); });
}

void ServerSampler::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void ServerSampler::run() {
  using Clock = std::chrono::steady_clock;
  // k = 0: a sample at the start, the baseline of the first interval's busy waits.
  for (std::uint64_t k = 0; !stop_.load(); ++k) {
    const auto due = origin_ + interval_ * static_cast<std::int64_t>(k);
    while (!stop_.load() && Clock::now() < due)
      std::this_thread::sleep_for(std::min<Clock::duration>(due - Clock::now(), std::chrono::milliseconds(20)));
    if (stop_.load()) break;
    ServerSample s;
    s.t_s = std::chrono::duration<double>(Clock::now() - origin_).count();
    if (const auto a = http_get(port_, "/stats", std::chrono::milliseconds(1000)); a && a->status == 200) {
      const auto doc = nlohmann::json::parse(a->body, nullptr, false);
      if (!doc.is_discarded()) {
        s.stats_read = true;
        s.pool_waiting = json_number(doc, {"strategy", "pool", "waiting"});
        s.pool_in_use = json_number(doc, {"strategy", "pool", "in_use"});
        s.writer_queued = json_number(doc, {"strategy", "writer", "queued"});
        s.writer_in_batch = json_number(doc, {"strategy", "writer", "in_batch"});
        s.busy_sleeps = json_number(doc, {"database", "busy_sleeps"});
        s.busy_sleep_ms = json_number(doc, {"database", "busy_sleep_ms"});
        s.checkpoint_frames = json_number(doc, {"database", "checkpointer", "frames"});
        s.checkpoint_ms = json_number(doc, {"database", "checkpointer", "total_ms"});
      }
    }
    if (!db_.empty()) s.wal = read_wal_state(db_);
    samples_.push_back(s);
  }
}

std::vector<std::optional<std::uint64_t>> wal_restarts_so_far(const std::vector<ServerSample>& samples) {
  std::vector<std::optional<std::uint64_t>> out;
  std::optional<std::uint32_t> last;
  std::uint64_t total = 0;
  for (const auto& s : samples) {
    if (s.wal.restarts) {
      if (last) total += wal_restarts_between(*last, *s.wal.restarts);
      last = s.wal.restarts;
    }
    out.push_back(last ? std::optional<std::uint64_t>(total) : std::nullopt);
  }
  return out;
}

std::string timeseries_csv(const std::vector<loadgen::IntervalSample>& client,
                           const std::vector<ServerSample>& server) {
  std::string out =
      "t_s,requests_per_s,ok_per_s,failures,p50_ms,p99_ms,max_ms,dropped,pool_waiting,pool_in_use,writer_queued,"
      "busy_waits,busy_wait_ms,wal_bytes,wal_frames,wal_backfilled,checkpoints,checkpoint_frames,checkpoint_ms\n";
  // The checkpoint count starts from the first sample's salt-1;
  // the busy figures are differences between consecutive samples.
  const auto restarts = wal_restarts_so_far(server);
  std::size_t next = 0;
  for (const auto& c : client) {
    // The first server sample taken at or after the interval's end (within
    // a quarter interval before it, for a sampler that ran slightly early);
    // the sample before it is the interval's baseline for the busy waits.
    const ServerSample* s = nullptr;
    const ServerSample* previous = nullptr;
    std::optional<std::uint64_t> restarts_then;
    while (next < server.size() && server[next].t_s < c.t_s - 0.25 * c.length_s) ++next;
    if (next < server.size()) {
      s = &server[next];
      restarts_then = restarts[next];
      if (next > 0 && server[next - 1].stats_read) previous = &server[next - 1];
      ++next;
    }
    out += field(c.t_s, 3) + "," + field(c.per_s, 1) + "," + field(c.ok_per_s, 1) + "," + std::to_string(c.failures) +
           "," + field(c.p50_ms) + "," + field(c.p99_ms) + "," + field(c.max_ms) + "," + std::to_string(c.dropped) +
           ",";
    if (s && s->stats_read) {
      out += field(s->pool_waiting, 0) + "," + field(s->pool_in_use, 0) + "," + field(s->writer_queued, 0) + "," +
             (previous ? field(s->busy_sleeps - previous->busy_sleeps, 0) : "") + "," +
             (previous ? field(s->busy_sleep_ms - previous->busy_sleep_ms, 0) : "") + ",";
    } else {
      out += ",,,,,";
    }
    if (s && s->wal.in_use()) {
      out += std::to_string(s->wal.wal_bytes) + "," + (s->wal.frames ? std::to_string(*s->wal.frames) : "") + "," +
             (s->wal.backfilled ? std::to_string(*s->wal.backfilled) : "") + "," +
             (restarts_then ? std::to_string(*restarts_then) : "");
    } else {
      out += ",,,";
    }
    if (s && s->stats_read && previous) {
      out += "," + field(s->checkpoint_frames - previous->checkpoint_frames, 0) + "," +
             field(s->checkpoint_ms - previous->checkpoint_ms, 1);
    } else {
      out += ",,";
    }
    out += "\n";
  }
  return out;
}

}  // namespace busylab::sweep
