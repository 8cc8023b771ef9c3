#pragma once
// Runs the same request from many client threads and tallies the statuses.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.hpp"

namespace busylab::testing {

struct Tally {
  std::map<int, int> by_status;           // 0 = no answer
  std::vector<std::string> error_bodies;  // bodies of non-2xx answers (first 50)
  int count(int status) const {
    auto it = by_status.find(status);
    return it == by_status.end() ? 0 : it->second;
  }
  int successes() const {
    int n = 0;
    for (auto [status, c] : by_status) n += (status >= 200 && status < 300) ? c : 0;
    return n;
  }
  int total() const {
    int n = 0;
    for (auto [status, c] : by_status) n += c;
    return n;
  }
};

/// `clients` threads, each on its own keep-alive connection, each sending
/// `per_client` requests made by `make(client, i)` -> {method, target, body}.
struct RequestSpec {
  std::string method;
  std::string target;
  std::string body;
};

inline Tally hammer(std::uint16_t port, int clients, int per_client,
                    const std::function<RequestSpec(int client, int i)>& make) {
  Tally tally;
  std::mutex mutex;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      HttpClient client(port);
      std::map<int, int> local;
      std::vector<std::string> bodies;
      for (int i = 0; i < per_client; ++i) {
        const RequestSpec spec = make(c, i);
        const auto r = client.request(spec.method, spec.target, spec.body);
        const int status = r ? r->status : 0;
        ++local[status];
        if (r && (status < 200 || status >= 300) && bodies.size() < 50) bodies.push_back(r->body);
      }
      std::lock_guard lock(mutex);
      for (auto [s, n] : local) tally.by_status[s] += n;
      for (auto& b : bodies) {
        if (tally.error_bodies.size() < 50) tally.error_bodies.push_back(std::move(b));
      }
    });
  }
  for (auto& t : threads) t.join();
  return tally;
}

}  // namespace busylab::testing
