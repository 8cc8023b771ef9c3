#pragma once
// The bank workload from the client's side, as Jepsen's bank test checks it:
// clients move money between accounts with POST /transfer and remember what
// the server acknowledged; afterwards every balance must equal the initial
// balance plus the acknowledged credits minus the acknowledged debits, and
// the total must never change. A transfer that got no answer (the server was
// killed) may or may not have happened: it widens that account's allowed
// range by its amount.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.hpp"

namespace busylab::testing {

struct BankLedger {
  std::map<std::int64_t, std::int64_t> net;      // account -> acknowledged credits - debits
  std::map<std::int64_t, std::int64_t> unknown;  // account -> amounts of transfers without an answer
  std::map<int, int> statuses;                   // 0 = no answer
  std::vector<std::string> error_bodies;         // the first few non-2xx, non-409 bodies

  std::string describe() const {
    std::string out;
    for (const auto& [status, n] : statuses) out += std::to_string(status) + ":" + std::to_string(n) + " ";
    for (const auto& body : error_bodies) out += "| " + body + " ";
    return out;
  }
  int count(int status) const {
    const auto it = statuses.find(status);
    return it == statuses.end() ? 0 : it->second;
  }
};

/// What the ledger allows for each account's balance; "" when every balance
/// fits and the total is accounts * initial, else what does not.
inline std::string check_bank(const BankLedger& ledger, const std::map<std::int64_t, std::int64_t>& balances,
                              std::int64_t accounts, std::int64_t initial) {
  std::string problems;
  std::int64_t total = 0;
  for (const auto& [id, balance] : balances) total += balance;
  if (static_cast<std::int64_t>(balances.size()) != accounts)
    problems += std::to_string(balances.size()) + " accounts, expected " + std::to_string(accounts) + "; ";
  if (total != accounts * initial)
    problems += "total " + std::to_string(total) + ", expected " + std::to_string(accounts * initial) + "; ";
  for (const auto& [id, balance] : balances) {
    const auto net = ledger.net.count(id) ? ledger.net.at(id) : 0;
    const auto slack = ledger.unknown.count(id) ? ledger.unknown.at(id) : 0;
    const auto expected = initial + net;
    if (balance < expected - slack || balance > expected + slack)
      problems += "account " + std::to_string(id) + " holds " + std::to_string(balance) +
                  ", acknowledged transfers say " + std::to_string(expected) +
                  (slack ? " +- " + std::to_string(slack) : "") + "; ";
  }
  return problems;
}

/// `clients` threads, each on its own connection, sending transfers of 1 to
/// `max_amount` between two different accounts drawn from 1..`accounts`,
/// `per_client` each (or until stop() when per_client is 0); a client stops
/// at its first request without an answer.
class BankLoad {
 public:
  BankLoad(std::uint16_t port, int clients, int per_client, std::int64_t accounts, std::uint32_t seed,
           std::int64_t max_amount = 50)
      : accounts_(accounts), max_amount_(max_amount) {
    for (int c = 0; c < clients; ++c)
      threads_.emplace_back([this, port, c, per_client, seed] { run(port, per_client, seed + c); });
  }
  ~BankLoad() { stop(); }
  BankLoad(const BankLoad&) = delete;
  BankLoad& operator=(const BankLoad&) = delete;

  void stop() {
    stop_.store(true);
    join();
  }
  void join() {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  /// Transfers acknowledged so far.
  int acknowledged() const { return acknowledged_.load(); }
  /// After join() or stop().
  const BankLedger& ledger() const { return ledger_; }

 private:
  void run(std::uint16_t port, int per_client, std::uint32_t seed) {
    HttpClient client(port);
    std::mt19937 random(seed);
    std::uniform_int_distribution<std::int64_t> account(1, accounts_), amount(1, max_amount_);
    for (int i = 0; (per_client == 0 || i < per_client) && !stop_.load(); ++i) {
      const std::int64_t from = account(random);
      std::int64_t to = account(random);
      while (to == from) to = account(random);
      const std::int64_t a = amount(random);
      const auto r = client.request("POST", "/transfer",
                                    "{\"from\":" + std::to_string(from) + ",\"to\":" + std::to_string(to) +
                                        ",\"amount\":" + std::to_string(a) + "}",
                                    {}, std::chrono::seconds(20));
      const int status = r ? r->status : 0;
      std::lock_guard lock(mutex_);
      ++ledger_.statuses[status];
      if (status == 200) {
        ledger_.net[from] -= a;
        ledger_.net[to] += a;
        ++acknowledged_;
      } else if (status == 0) {
        // The server is gone (killed) or the answer lost: this transfer may
        // or may not have happened. The client stops here, so that requests
        // that never reached a server do not widen the range.
        ledger_.unknown[from] += a;
        ledger_.unknown[to] += a;
        return;
      } else if (status != 409 && ledger_.error_bodies.size() < 10) {
        ledger_.error_bodies.push_back(std::to_string(status) + " " + r->body);
      }
    }
  }

  std::int64_t accounts_;
  std::int64_t max_amount_;
  std::atomic<bool> stop_{false};
  std::atomic<int> acknowledged_{0};
  std::mutex mutex_;
  BankLedger ledger_;
  std::vector<std::thread> threads_;
};

/// Every account's balance through GET /accounts/{id}; empty when an answer
/// is missing or not 200.
inline std::map<std::int64_t, std::int64_t> read_balances(std::uint16_t port, std::int64_t accounts) {
  std::map<std::int64_t, std::int64_t> balances;
  HttpClient client(port);
  for (std::int64_t id = 1; id <= accounts; ++id) {
    const auto r = client.request("GET", "/accounts/" + std::to_string(id), {}, {}, std::chrono::seconds(10));
    if (!r || r->status != 200) return {};
    balances[id] = r->json().value("balance", std::int64_t{-1});
  }
  return balances;
}

}  // namespace busylab::testing
