#pragma once
// Workload files for `busylab load --workload FILE`: a weighted mix of
// request kinds whose paths and bodies hold placeholders filled per request
// from variables (uniform, zipfian, latest, sequential), and the client-side
// ledger of what the server acknowledged. Format and formulas:
// docs/loadgen.md#workload-files.
//
// A Workload is immutable once loaded and shared by every thread of a run;
// what changes during a run (latest's newest id, sequential counters) lives in
// a WorkloadState, and each thread draws with its own RequestDrawer (its own
// RNG), so drawing takes no lock.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/load_options.hpp"

namespace busylab::loadgen {

/// A uniform double in [0, 1) from 53 random bits.
inline double uniform_01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

/// Zipf's law over the ranks 1..n: P(k) = 1 / (k^theta * zeta(n, theta)),
/// zeta(n, theta) = sum_{i=1..n} i^-theta, for any theta > 0 (theta = 1
/// included). Sampled exactly, in O(1) expected time and without zeta, by
/// rejection-inversion (Hormann and Derflinger, "Rejection-inversion to
/// generate variates from monotone discrete distributions", 1996; the method
/// of Apache Commons RNG and Rust's rand_distr): fewer than 1.1 tries per draw
/// on average, whatever n (10^9 and beyond costs what 10 costs), and n may
/// change from one draw to the next (latest). YCSB's generator (Gray et al.)
/// was not used: it is exact only for ranks 1 and 2 and gives rank 3 about
/// 15% too often at n = 100..1000, theta = 0.99.
class Zipfian {
 public:
  /// Ranks 1..n (n >= 1); theta > 0.
  explicit Zipfian(double theta = 0.99, std::uint64_t n = 1);
  double theta() const { return theta_; }
  std::uint64_t n() const { return n_; }
  /// A rank in 1..n().
  std::uint64_t sample(std::mt19937_64& rng) const { return sample(rng, n_, h_integral_n_); }
  /// A rank in 1..n for another n (one log and one exp more).
  std::uint64_t sample(std::mt19937_64& rng, std::uint64_t n) const {
    return sample(rng, n, h_integral(static_cast<double>(n) + 0.5));
  }

 private:
  std::uint64_t sample(std::mt19937_64& rng, std::uint64_t n, double h_integral_n) const;
  double h(double x) const;
  double h_integral(double x) const;
  double h_integral_inverse(double x) const;

  double theta_;
  std::uint64_t n_;
  double h_integral_x1_;  // H(1.5) - 1
  double h_integral_n_;   // H(n + 0.5)
  double s_;              // the squeeze: 2 - H^-1(H(2.5) - h(2))
};

/// A fixed pseudorandom bijection of [0, size), pgbench's permute(): six
/// rounds of (multiply by an odd number, xor, rotate) on the overlapping
/// lower and upper power-of-two halves and an offset modulo size. The rounds'
/// constants come from `seed` once, so applying it costs a few dozen
/// integer operations.
class Permutation {
 public:
  Permutation() = default;  // size 1
  Permutation(std::uint64_t size, std::uint64_t seed);
  std::uint64_t operator()(std::uint64_t v) const;
  std::uint64_t size() const { return size_; }

 private:
  struct Round {
    std::uint64_t m_low, r_low, m_high, r_high, offset;
  };
  std::uint64_t size_ = 1;
  std::uint64_t mask_ = 0;
  int mask_bits_ = 0;
  Round rounds_[6]{};
};

enum class Distribution { kUniform, kZipfian, kLatest, kSequential };
std::string_view to_string(Distribution d);

struct Variable {
  std::string name;
  Distribution distribution = Distribution::kUniform;
  std::int64_t min = 1;
  std::int64_t max = 1;
  double theta = 0.99;          // zipfian, latest
  Zipfian zipf;                 // zipfian, latest
  Permutation permutation;      // zipfian: where each rank's key lies in [min, max]
  std::uint64_t size() const {  // values in [min, max]
    return static_cast<std::uint64_t>(max) - static_cast<std::uint64_t>(min) + 1;
  }
};

/// A path or body with its placeholders, split once at load time.
struct Template {
  struct Piece {
    enum Kind : std::uint8_t { kText, kVariable, kPayload } kind = kText;
    std::string text;       // kText
    std::size_t value = 0;  // kVariable: the variable's index; kPayload: the length
  };
  std::vector<Piece> pieces;
  bool empty() const { return pieces.empty(); }
};

struct RequestKind {
  std::string name;
  double weight = 1;
  std::string method;
  Template path;
  bool has_body = false;
  Template body;
  std::vector<std::string> headers;    // "Name: value", as in the file
  std::vector<std::size_t> variables;  // indices of the variables it uses, each once
  std::vector<std::size_t> distinct;   // indices of variables whose values must differ
};

struct Workload {
  std::string name;
  std::string description;
  std::string file;  // as given; "" when parsed from text
  std::vector<Variable> variables;
  std::vector<RequestKind> kinds;
  std::vector<double> cumulative;  // running sums of the weights, for picking a kind
  bool uses_latest = false;        // a variable is `latest`: 2xx bodies are scanned for {"id":N}
};

/// Reads and checks a workload file. Throws ConfigError with a complete
/// one-line message naming the file and the key ("FILE: requests[1].weight:
/// ...").
Workload load_workload(const std::filesystem::path& file);
/// The same from a parsed document; `origin` prefixes the messages.
Workload parse_workload(const nlohmann::json& doc, const std::string& origin);

/// What a run shares between its threads: the newest acknowledged id (for
/// `latest`) and the `sequential` counters. One per run; thread-safe.
class WorkloadState {
 public:
  explicit WorkloadState(const Workload& w);
  /// An id the server acknowledged (a 2xx body {"id":N}): raises the newest.
  void acknowledge_id(std::int64_t id);
  /// The newest id for `v`: the largest acknowledged, `v.max` before any,
  /// never below `v.min`.
  std::int64_t newest(const Variable& v) const;
  /// The next value of sequential variable `index`: min, min+1, ... max, min, ...
  std::int64_t next_sequential(std::size_t index, const Variable& v);

 private:
  std::atomic<std::int64_t> newest_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> sequential_;
};

/// One drawn request: its kind, its variables' values, its path and body.
struct DrawnRequest {
  std::size_t kind = 0;
  std::vector<std::int64_t> values;  // by variable index (only the kind's are meaningful)
  std::string path;
  std::string body;
};

/// Draws requests for one thread, with its own RNG. Not thread-safe.
class RequestDrawer {
 public:
  RequestDrawer(const Workload& w, WorkloadState& state, std::uint64_t seed);
  /// A kind, with probability weight / total weight.
  std::size_t pick_kind();
  /// One value of variable `index`.
  std::int64_t draw(std::size_t index);
  /// Picks a kind, draws its variables once each (redrawing `distinct` ones
  /// until they differ) and fills in its path and body. Reuses `out`'s buffers.
  void next(DrawnRequest& out);
  /// The same for a given kind.
  void draw_kind(std::size_t kind, DrawnRequest& out);
  /// Appends `t` with `values` and fresh payloads to `out`.
  void fill(const Template& t, const std::vector<std::int64_t>& values, std::string& out);
  std::mt19937_64& rng() { return rng_; }

 private:
  const Workload& w_;
  WorkloadState& state_;
  std::mt19937_64 rng_;
};

/// The bytes of a workload's requests: each kind's fixed header lines are
/// prepared once (Host unless given, -H headers, the kind's headers,
/// Content-Type: application/json for a body unless given, Connection: close
/// with --close); build() adds the request line, Content-Length and body.
class RequestWriter {
 public:
  RequestWriter(const Workload& w, const LoadOptions& options);
  void build(const DrawnRequest& d, std::string& out) const;

 private:
  struct Prepared {
    std::string method;
    std::string headers;
    bool content_length = false;
  };
  std::vector<Prepared> kinds_;
};

/// The largest integer `"id":N` in a JSON answer body (the top-level "id"
/// of {"id":42,...}); nothing when there is none.
std::optional<std::int64_t> find_id(std::string_view body);

/// What the server acknowledged, as the client saw it, for checking the
/// database afterwards (busylab sweep). Filled by every request of a run,
/// warm-up included (they all reach the database), never by requests that
/// were not sent. "Unknown": the request was written (or being written) but
/// no complete answer came (timeout, reset, read or parse error, connection
/// closed): it may or may not have been committed.
struct Ledger {
  /// POST /counters/{name}... (any POST whose path starts with /counters/;
  /// the name is the next path segment): 2xx answers per name.
  std::map<std::string, std::uint64_t> counters;
  std::map<std::string, std::uint64_t> counters_unknown;
  /// POST /transfer with a body {"from": i, "to": j, "amount": a}.
  struct Transfers {
    std::map<std::int64_t, std::int64_t> net;          // 2xx: net[from] -= a, net[to] += a
    std::map<std::int64_t, std::int64_t> unknown_abs;  // no answer: += a for from and to
    std::uint64_t ok = 0;                              // 2xx
    std::uint64_t refused = 0;                         // 409: nothing changed
    std::uint64_t failed = 0;                          // any other status: nothing changed
    std::uint64_t unknown = 0;                         // no answer
  } transfers;
  /// POST /rows: 2xx answers, and requests with no answer.
  std::uint64_t inserts = 0;
  std::uint64_t inserts_unknown = 0;

  void merge(const Ledger& other);
  nlohmann::json to_json() const;
};

/// What the ledger does with one request, decided from its method, path
/// (query ignored) and body before it is sent.
struct LedgerEntry {
  enum Kind : std::uint8_t { kNone, kInsert, kCounter, kTransfer } kind = kNone;
  std::string counter;                        // kCounter
  std::int64_t from = 0, to = 0, amount = 0;  // kTransfer
};
LedgerEntry ledger_entry(std::string_view method, std::string_view path, std::string_view body);
/// Records the answer (`status`), or with `status` 0 a request that got none.
void record(Ledger& ledger, const LedgerEntry& entry, int status);

}  // namespace busylab::loadgen
