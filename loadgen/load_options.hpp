#pragma once
// What `busylab load` is asked to do, parsed and checked before any socket
// is opened. Bad input throws LoadArgumentError with a message for the user.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace busylab::loadgen {

class LoadArgumentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Workload;  // loadgen/workload.hpp

/// One stage of --stages: the open-loop rate moves linearly to `target`
/// requests/s over `duration` (loadgen/schedule.hpp).
struct Stage {
  std::chrono::nanoseconds duration{0};
  double target = 0;
};

struct Url {
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 80;
  std::string target = "/";       // path and query, as sent on the request line
  std::string authority() const;  // host[:port] for the Host header
};

/// Parses http://host[:port][/path][?query] with Boost.URL (RFC 3986).
/// https and other schemes, user info, a missing host, a bad port,
/// whitespace or anything else that is not a valid URL throw
/// LoadArgumentError. A #fragment is dropped (never sent), as clients do.
Url parse_url(std::string_view text);

/// "10s", "500ms", "2m", "1h", "1.5s", "250us"; a bare number is seconds.
/// Zero or negative durations and unknown units throw LoadArgumentError.
std::chrono::nanoseconds parse_duration(std::string_view text, std::string_view option);

struct LoadOptions {
  Url url;
  int connections = 64;
  int threads = 0;                                   // 0 = number of cores
  std::optional<std::chrono::nanoseconds> duration;  // -d
  std::optional<std::uint64_t> requests;             // -n
  std::chrono::nanoseconds warmup{0};
  std::string method = "GET";
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::optional<double> rate;  // -r: requests/s in total (open loop)
  /// --stages: an open-loop rate ramping linearly to each stage's target over
  /// its duration (loadgen/schedule.hpp); the run lasts their sum. A request
  /// that cannot be sent on time is dropped (Tally::dropped). Conflicts with
  /// `duration` and `rate`.
  std::vector<Stage> stages;
  /// --start-rate: the rate the first stage starts from; unset: the first
  /// stage's own target (it holds that rate).
  std::optional<double> start_rate;
  /// --interval: sample the run every interval (Report::series); at least 1 ms.
  std::optional<std::chrono::nanoseconds> interval;
  bool close = false;  // a new connection for every request
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);
  bool progress = false;  // force progress lines on stderr
  /// --workload: a weighted mix of request kinds (loadgen/workload.hpp) sent
  /// to url's host and port; url's path, `method` and `body` are then unused
  /// (validate() refuses a body or a method other than GET with it).
  std::shared_ptr<const Workload> workload;
  /// --seed: the seed of the workload's random draws (each thread's
  /// std::mt19937_64 is seeded from it); random when unset. run_load()
  /// returns the seed it used in Report::options.seed.
  std::optional<std::uint64_t> seed;

  /// How long the measured window is meant to last: `duration`, or the
  /// stages' sum; nothing with only `requests`.
  std::optional<std::chrono::nanoseconds> measured_duration() const;
  /// Threads actually used: `threads` (or cores), never more than connections.
  int effective_threads() const;
  /// Checks ranges and combinations; throws LoadArgumentError.
  void validate() const;
};

/// The request bytes, serialized once: request line, Host (unless given),
/// the user's headers, Content-Length when there is a body, Connection:
/// close with --close.
std::string serialize_request(const LoadOptions& options);

/// A header given as "Name: value"; throws LoadArgumentError otherwise.
std::pair<std::string, std::string> split_header(std::string_view header);

}  // namespace busylab::loadgen
