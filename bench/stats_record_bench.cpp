// What the request-duration histogram added to every request costs: one
// ServerStats::record with the duration (two steady_clock reads around the
// handler, a bucket search, two relaxed adds into the thread's own shard)
// against the record without it, and against the request itself (20 us at
// 50k req/s). Google Benchmark; built with -DBUSYLAB_BUILD_BENCH=ON.
#include <benchmark/benchmark.h>

#include <chrono>

#include "server/stats.hpp"

namespace {

busylab::ServerStats stats;

void RecordWithoutDuration(benchmark::State& state) {
  for (auto _ : state) stats.record(busylab::Route::kRowsInsert, 201);
}

void RecordWithDuration(benchmark::State& state) {
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    benchmark::ClobberMemory();
    stats.record(busylab::Route::kRowsInsert, 201, std::chrono::steady_clock::now() - start);
  }
}

BENCHMARK(RecordWithoutDuration)->Threads(1)->Threads(2);
BENCHMARK(RecordWithDuration)->Threads(1)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
