// The only translation unit of the load generator that includes Beast.
#include "loadgen/load_runner.hpp"

#include <sys/resource.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "loadgen/schedule.hpp"
#include "loadgen/series.hpp"
#include "loadgen/workload.hpp"

// GCC 12 reports Asio's coroutine frames as freed by a mismatched operator
// delete, depending on what it inlines into the connection coroutine (a known
// false positive of -Wmismatched-new-delete with coroutines: Asio allocates
// and frees the frame through its own matching pair; server/handlers.cpp has
// the same).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace busylab::loadgen {

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// Settings and shared state of one run; read by every worker thread.
struct Run {
  const LoadOptions& options;
  std::string request;
  tcp::endpoint endpoint;
  bool head = false;
  Clock::time_point start;
  Clock::time_point measure_start;  // end of warm-up
  Clock::time_point deadline;       // no request is started after it
  Clock::time_point hard_end;       // everything still open is closed then
  std::optional<OpenLoopSchedule> schedule;
  // --stages: requests that cannot be sent on time are dropped; request k is
  // measured when k >= first_measured (the warm-up's requests come first).
  bool drops = false;
  std::uint64_t first_measured = 0;
  std::atomic<std::uint64_t> budget_used{0};  // measured requests started (for -n)
  std::atomic<bool> budget_reached{false};    // -n ended the run
  std::atomic<bool> stop{false};
  LedgerEntry fixed_entry;  // without a workload: what the ledger does with the one request
  // With a workload: its shared state (latest, sequential) and the kinds'
  // prepared header lines.
  const Workload* workload = nullptr;
  std::unique_ptr<WorkloadState> state;
  std::optional<RequestWriter> writer;
  std::uint64_t seed = 0;
};

constexpr std::size_t kNoKind = static_cast<std::size_t>(-1);

// Each thread's RNG seed, from the run's seed and the thread's index.
std::uint64_t thread_seed(std::uint64_t seed, int thread) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(thread + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

ErrorClass classify(const beast::error_code& ec, bool timed_out, bool reading) {
  if (timed_out) return ErrorClass::kTimeout;
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe || ec == asio::error::connection_aborted) {
    return ErrorClass::kReset;
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category() && ec != http::error::end_of_stream &&
      ec != http::error::partial_message) {
    return ErrorClass::kParse;
  }
  return reading ? ErrorClass::kRead : ErrorClass::kWrite;
}

class Worker {
 public:
  Worker(Run& run, int index, int first_connection, int connections)
      : run_(run), first_(first_connection), connections_(connections) {
    if (const auto& interval = run_.options.interval) {
      std::optional<std::size_t> last;
      if (const auto d = run_.options.measured_duration())
        last = static_cast<std::size_t>((d->count() - 1) / interval->count());
      series = std::make_unique<SeriesRecorder>(run_.measure_start, *interval, last);
    }
    if (run_.workload) {
      drawer_.emplace(*run_.workload, *run_.state, thread_seed(run_.seed, index));
      kinds.resize(run_.workload->kinds.size());
    }
  }

  void start() {
    states_.reserve(static_cast<std::size_t>(connections_));
    for (int i = 0; i < connections_; ++i) states_.push_back(std::make_unique<Connection>(ioc_));
    active_ = connections_;
    for (int i = 0; i < connections_; ++i) asio::co_spawn(ioc_, connection(i), asio::detached);
    asio::co_spawn(ioc_, watchdog(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void join() { thread_.join(); }

  Tally tally;
  std::vector<Tally> kinds;  // per request kind of the workload (measured)
  Ledger ledger;             // every request, warm-up included
  Clock::time_point last_answer{};
  std::unique_ptr<SeriesRecorder> series;  // with --interval
  std::atomic<std::uint64_t> progress_responses{0};
  std::atomic<std::uint64_t> progress_errors{0};

 private:
  struct Connection {
    explicit Connection(asio::io_context& ioc) : socket(ioc), timer(ioc) {}
    tcp::socket socket;
    asio::steady_timer timer;     // schedule and back-off waits; cancelled at the run's hard end
    bool connecting = false;      // a connect is pending
    bool in_flight = false;       // a request is written or being written, its answer not yet read
    bool timed_out = false;       // the watchdog closed the socket
    bool cut = false;             // the run ended while connecting: not an error
    Clock::time_point free_at{};  // when the previous attempt ended (answer, error, failed connect)
    Clock::time_point deadline{};
    // With a workload: this request's draw, bytes and ledger entry (buffers
    // reused from one request to the next).
    DrawnRequest drawn;
    std::string request;
    LedgerEntry entry;
  };

  // Counts the connection coroutine out however it ends (an exception
  // included), so the watchdog and the run end.
  struct ActiveGuard {
    int& active;
    ~ActiveGuard() { --active; }
  };

  void error(ErrorClass e, bool measured, std::size_t kind = kNoKind) {
    if (measured) {
      ++tally.errors[static_cast<std::size_t>(e)];
      if (kind != kNoKind) ++kinds[kind].errors[static_cast<std::size_t>(e)];
      if (series) series->error(Clock::now(), e);
    }
    progress_errors.fetch_add(1, std::memory_order_relaxed);
  }

  // One timer per thread instead of one per request. It closes a connection
  // whose connect or request has taken longer than the timeout (the pending
  // operation then fails and is counted), abandons connects still pending
  // when the duration is up (nothing was sent), and at the hard end (the
  // duration plus the timeout plus a second) closes everything, so a run
  // ends whatever the target or the kernel does.
  asio::awaitable<void> watchdog() {
    asio::steady_timer timer(ioc_);
    const auto tick = std::clamp<Clock::duration>(run_.options.timeout / 10, std::chrono::milliseconds(1),
                                                  std::chrono::milliseconds(50));
    while (active_ > 0) {
      timer.expires_after(tick);
      co_await timer.async_wait(kUse);
      const auto now = Clock::now();
      const bool over = now >= run_.deadline;
      const bool hard_end = now >= run_.hard_end;
      if (hard_end) run_.stop.store(true, std::memory_order_relaxed);
      for (auto& c : states_) {
        beast::error_code ignored;
        if ((c->in_flight || c->connecting) && now > c->deadline && !c->timed_out) {
          c->timed_out = true;
          c->socket.close(ignored);
        } else if (c->connecting && over && !c->cut) {
          c->cut = true;
          c->socket.close(ignored);
        } else if (hard_end) {
          if (c->in_flight) c->timed_out = true;  // an answer that never came, counted as such
          c->socket.close(ignored);
          c->timer.cancel();
        }
      }
    }
  }

  asio::awaitable<void> connection(int local) {
    Connection& c = *states_[static_cast<std::size_t>(local)];
    const int global = first_ + local;
    const LoadOptions& o = run_.options;
    ActiveGuard guard{active_};
    beast::flat_buffer buffer;
    asio::steady_timer& timer = c.timer;
    bool ever_connected = false;
    std::uint64_t sequence = 0;
    // --stages: a request is dropped, not sent, when its connection is still
    // busy with an earlier one at its due time, or when it could only be sent
    // after the connection's next request is due.
    const auto drop = [&](bool measured, Clock::time_point due) {
      if (!measured) return;
      ++tally.dropped;
      if (series) series->dropped(due);
    };
    for (;;) {
      if (run_.stop.load(std::memory_order_relaxed)) break;
      Clock::time_point due = Clock::now();
      Clock::time_point next_due = Clock::time_point::max();
      bool measured = false;
      if (run_.schedule) {
        const std::uint64_t k = run_.schedule->index(global, sequence++);
        if (run_.drops) {
          if (k >= run_.schedule->rates().total()) break;
          due = run_.schedule->due(k);
          next_due = run_.schedule->due(k + static_cast<std::uint64_t>(o.connections));
          measured = k >= run_.first_measured;
          if (c.free_at > due || Clock::now() > next_due) {
            drop(measured, due);
            continue;
          }
        } else {
          due = run_.schedule->due(k);
          if (due > run_.deadline) break;
          measured = due >= run_.measure_start;
        }
        if (due > Clock::now()) {
          timer.expires_at(due);
          co_await timer.async_wait(kUse);
        }
      } else if (due >= run_.deadline) {
        break;
      } else {
        measured = due >= run_.measure_start;
      }
      if (measured && o.requests && run_.budget_used.fetch_add(1, std::memory_order_relaxed) >= *o.requests) {
        run_.budget_reached.store(true, std::memory_order_relaxed);
        run_.stop.store(true, std::memory_order_relaxed);
        break;
      }

      if (!c.socket.is_open()) {
        c.connecting = true;
        c.timed_out = false;
        c.deadline = Clock::now() + o.timeout;
        auto [ec] = co_await c.socket.async_connect(run_.endpoint, kUse);
        c.connecting = false;
        if (!ec) c.socket.set_option(tcp::no_delay(true), ec);
        if (ec) {
          beast::error_code ignored;
          c.socket.close(ignored);
          if (c.cut || run_.stop.load(std::memory_order_relaxed)) break;
          error(ErrorClass::kConnect, measured);
          c.free_at = Clock::now();
          // Nothing listens (any more), or it does not accept: do not spin,
          // try again shortly.
          timer.expires_after(std::chrono::milliseconds(10));
          co_await timer.async_wait(kUse);
          continue;
        }
        if (measured) {
          ++tally.connects;
          if (ever_connected && !o.close) ++tally.reconnects;
        }
        ever_connected = true;
        buffer.clear();
        if (run_.drops && Clock::now() > next_due) {
          // The connect took longer than the gap to the next request.
          if (measured && o.requests) run_.budget_used.fetch_sub(1, std::memory_order_relaxed);
          drop(measured, due);
          continue;
        }
      }

      // The request: the one serialized before the run, or a workload's,
      // drawn and built now.
      const std::string* bytes = &run_.request;
      const LedgerEntry* entry = &run_.fixed_entry;
      std::size_t kind = kNoKind;
      bool head = run_.head;
      if (run_.workload) {
        drawer_->next(c.drawn);
        run_.writer->build(c.drawn, c.request);
        kind = c.drawn.kind;
        const std::string& method = run_.workload->kinds[kind].method;
        c.entry = ledger_entry(method, c.drawn.path, c.drawn.body);
        bytes = &c.request;
        entry = &c.entry;
        head = method == "HEAD";
      }

      const auto sent = Clock::now();
      const auto origin = run_.schedule ? due : sent;
      if (run_.schedule && measured && sent - due > kLateThreshold) ++tally.late_sends;
      c.in_flight = true;
      c.timed_out = false;
      c.deadline = sent + o.timeout;

      auto [write_ec, written] = co_await asio::async_write(c.socket, asio::buffer(*bytes), kUse);
      if (write_ec) {
        c.in_flight = false;
        c.free_at = Clock::now();
        error(classify(write_ec, c.timed_out, /*reading=*/false), measured, kind);
        record(ledger, *entry, 0);  // some of it may have reached the server
        beast::error_code ignored;
        c.socket.close(ignored);
        continue;
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(std::uint64_t{1} << 32);
      if (head) parser.skip(true);
      auto [read_ec, read] = co_await http::async_read(c.socket, buffer, parser, kUse);
      c.in_flight = false;
      if (read_ec) {
        c.free_at = Clock::now();
        error(classify(read_ec, c.timed_out, /*reading=*/true), measured, kind);
        record(ledger, *entry, 0);
        beast::error_code ignored;
        c.socket.close(ignored);
        continue;
      }
      const auto done = Clock::now();
      c.free_at = done;
      const int status = static_cast<int>(parser.get().result_int());
      // "commit_outcome_unknown" (docs/http-api.md): the write may or may not
      // have committed, as when no answer came.
      const bool unknown = status == 500 && parser.get().body().find("commit_outcome_unknown") != std::string::npos;
      record(ledger, *entry, unknown ? 0 : status);
      if (run_.workload && run_.workload->uses_latest && status >= 200 && status < 300) {
        if (const auto id = find_id(parser.get().body())) run_.state->acknowledge_id(*id);
      }
      if (measured) {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(done - origin).count();
        const auto latency = static_cast<std::uint64_t>(us > 0 ? us : 0);
        tally.latency_us.record(latency);
        ++tally.status[status];
        ++tally.responses;
        tally.bytes_read += read;
        last_answer = done;
        if (series) series->answer(done, latency, status);
        if (kind != kNoKind) {
          Tally& k = kinds[kind];
          k.latency_us.record(latency);
          ++k.status[status];
          ++k.responses;
          k.bytes_read += read;
        }
      }
      progress_responses.fetch_add(1, std::memory_order_relaxed);
      if (o.close || !parser.get().keep_alive()) {
        beast::error_code ignored;
        c.socket.shutdown(tcp::socket::shutdown_both, ignored);
        c.socket.close(ignored);
      }
    }
    beast::error_code ignored;
    c.socket.close(ignored);
  }

  Run& run_;
  int first_;
  int connections_;
  asio::io_context ioc_{1};
  std::vector<std::unique_ptr<Connection>> states_;
  std::optional<RequestDrawer> drawer_;  // with a workload: this thread's RNG
  int active_ = 0;
  std::thread thread_;
};

tcp::endpoint resolve_and_probe(const Url& url, std::chrono::nanoseconds timeout) {
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  const auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec || results.empty()) {
    throw LoadTargetError("cannot resolve '" + url.host + "': " + (ec ? ec.message() : "no addresses"));
  }
  // One connection first: a target that refuses it is reported at once,
  // not after a whole run of connect errors.
  tcp::socket probe(ioc);
  std::optional<tcp::endpoint> reached;
  beast::error_code connect_ec = asio::error::timed_out;
  asio::async_connect(probe, results, [&](const beast::error_code& e, const tcp::endpoint& ep) {
    connect_ec = e;
    if (!e) reached = ep;
  });
  ioc.run_for(std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  if (!reached) {
    throw LoadTargetError("cannot connect to " + url.authority() + ": " + connect_ec.message());
  }
  return *reached;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace

Report run_load(const LoadOptions& options, const std::function<void(const Progress&)>& on_progress,
                const std::function<void(const IntervalSample&)>& on_interval) {
  options.validate();
  LoadOptions effective = options;
  if (!effective.duration && !effective.requests && effective.stages.empty())
    effective.duration = std::chrono::seconds(10);

  if (effective.workload && !effective.seed) {
    std::random_device device;
    effective.seed = (std::uint64_t{device()} << 32) | device();
  }
  Run run{effective, effective.workload ? std::string() : serialize_request(effective),
          resolve_and_probe(effective.url, effective.timeout)};
  run.head = effective.method == "HEAD";
  if (effective.workload) {
    run.workload = effective.workload.get();
    run.state = std::make_unique<WorkloadState>(*run.workload);
    run.writer.emplace(*run.workload, effective);
    run.seed = *effective.seed;
  } else {
    run.fixed_entry = ledger_entry(effective.method, effective.url.target, effective.body);
  }
  run.start = Clock::now();
  run.measure_start = run.start + effective.warmup;
  const auto measured_duration = effective.measured_duration();
  run.deadline = measured_duration ? run.measure_start + *measured_duration : Clock::time_point::max();
  run.hard_end =
      measured_duration ? run.deadline + effective.timeout + std::chrono::seconds(1) : Clock::time_point::max();
  const double warmup_s = std::chrono::duration<double>(effective.warmup).count();
  if (effective.rate) run.schedule.emplace(*effective.rate, effective.connections, run.start);
  if (!effective.stages.empty()) {
    run.schedule.emplace(RateSchedule::staged(effective.stages, effective.start_rate.value_or(-1), warmup_s),
                         effective.connections, run.start);
    run.drops = true;
    run.first_measured = run.schedule->rates().count_before(warmup_s);
  }

  const int threads = effective.effective_threads();
  std::vector<std::unique_ptr<Worker>> workers;
  int assigned = 0;
  for (int t = 0; t < threads; ++t) {
    // Spread the remainder over the first threads.
    const int n = effective.connections / threads + (t < effective.connections % threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(run, t, assigned, n));
    assigned += n;
  }
  for (auto& w : workers) w->start();

  // --interval: interval i is [measure_start + i * interval, + interval),
  // cut at the measured duration; the last one also takes the answers that
  // arrive after it.
  const std::optional<std::chrono::nanoseconds> interval = effective.interval;
  std::optional<std::size_t> last_interval;
  if (interval && measured_duration)
    last_interval = static_cast<std::size_t>((measured_duration->count() - 1) / interval->count());
  const auto sample = [&](std::size_t i, std::optional<double> ended_s) {
    const double length = std::chrono::duration<double>(*interval).count();
    const double begin = static_cast<double>(i) * length;
    double end = begin + length;
    if (measured_duration) end = std::min(end, std::chrono::duration<double>(*measured_duration).count());
    if (ended_s && *ended_s > begin && *ended_s < end) end = *ended_s;  // a run that stopped early (-n)
    IntervalAccumulator acc;
    for (auto& w : workers) w->series->collect(i, acc);
    std::optional<double> target;
    if (run.schedule && end > begin) {
      const auto& rates = run.schedule->rates();
      target = (rates.integral(warmup_s + end) - rates.integral(warmup_s + begin)) / (end - begin);
    }
    return acc.sample(end, end - begin, target);
  };
  std::size_t next_live = 0;  // the next interval to hand to on_interval
  constexpr auto kLiveGrace = std::chrono::milliseconds(30);

  std::atomic<bool> done{false};
  std::thread joiner([&] {
    for (auto& w : workers) w->join();
    done = true;
  });
  auto last_tick = Clock::now();
  std::uint64_t last_responses = 0;
  while (!done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto now = Clock::now();
    if (interval && on_interval) {
      // An interval is shown once it is over (and a little more, for the
      // answers being recorded); the last one when the run has ended.
      while ((!last_interval || next_live < *last_interval) &&
             now >= run.measure_start + *interval * static_cast<std::int64_t>(next_live + 1) + kLiveGrace) {
        on_interval(sample(next_live++, std::nullopt));
      }
    }
    if (!on_progress || now - last_tick < std::chrono::seconds(1)) continue;
    Progress p;
    for (auto& w : workers) {
      p.responses += w->progress_responses.load(std::memory_order_relaxed);
      p.errors += w->progress_errors.load(std::memory_order_relaxed);
    }
    p.elapsed_s = std::chrono::duration<double>(now - run.start).count();
    p.rate = static_cast<double>(p.responses - last_responses) / std::chrono::duration<double>(now - last_tick).count();
    p.warming_up = now < run.measure_start;
    last_tick = now;
    last_responses = p.responses;
    on_progress(p);
  }
  joiner.join();

  Report report;
  report.options = effective;
  Clock::time_point last{};
  if (run.workload) {
    for (const auto& k : run.workload->kinds) report.kinds.push_back({k.name, Tally{}});
  }
  for (auto& w : workers) {
    report.tally.merge(w->tally);
    for (std::size_t k = 0; k < w->kinds.size(); ++k) report.kinds[k].tally.merge(w->kinds[k]);
    report.ledger.merge(w->ledger);
    last = std::max(last, w->last_answer);
  }
  const auto end = report.tally.responses > 0 ? last : Clock::now();
  report.duration_s = std::max(0.0, std::chrono::duration<double>(end - run.measure_start).count());
  report.peak_rss_mb = peak_rss_mb();
  report.reached = report.tally.connects > 0 || report.tally.responses > 0;
  if (run.drops) report.scheduled = run.schedule->rates().total() - run.first_measured;
  if (interval) {
    // A run with a duration has every interval of it, empty ones included (a
    // server that stopped answering); one that -n ended, or that had no
    // duration, ends with its last answer.
    const double length = std::chrono::duration<double>(*interval).count();
    std::optional<double> ended_s;
    std::size_t n = 0;
    if (last_interval && !run.budget_reached.load()) {
      n = *last_interval + 1;
    } else {
      ended_s = report.duration_s;
      n = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(*ended_s / length)));
      if (last_interval) n = std::min(n, *last_interval + 1);
    }
    for (auto& w : workers) n = std::max(n, w->series->size());
    for (std::size_t i = 0; i < n; ++i) report.series.push_back(sample(i, ended_s));
    if (on_interval) {
      for (std::size_t i = next_live; i < n; ++i) on_interval(report.series[i]);
    }
  }
  return report;
}

}  // namespace busylab::loadgen
