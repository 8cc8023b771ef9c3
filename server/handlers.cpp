#include "server/handlers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/db_stats.hpp"
#include "engine/operation.hpp"
#include "server/dashboard.hpp"
#include "server/metrics.hpp"
#include "server/router.hpp"
#include "server/worker_link.hpp"
#include "strategy/strategy.hpp"

// GCC 12 reports Asio's coroutine frames as freed by a mismatched operator
// delete once a coroutine here awaits a timer (a known false positive of
// -Wmismatched-new-delete with coroutines: Asio allocates and frees the frame
// through its own matching pair).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace busylab {

namespace {

HttpResponse json_response(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

// The contract: busy, pool timeout and shedding are 503 with Retry-After and
// a body naming the cause; full is 507; the unexpected is 500.
HttpResponse outcome_error(const OpOutcome& out) {
  nlohmann::json body = {{"error", to_string(out.errc)}};
  if (!out.message.empty()) body["detail"] = out.message;
  if (!out.code.empty()) body["code"] = out.code;
  int status = 500;
  int retry_after = 0;
  switch (out.errc) {
    case Errc::kBusy:
    case Errc::kBusySnapshot:
      status = 503;
      retry_after = 1;
      body["waited_ms"] = out.waited_ms;
      break;
    case Errc::kPoolTimeout:
    case Errc::kOverloaded:
    case Errc::kShuttingDown:
    case Errc::kUnavailable:
    case Errc::kTimeout:
      status = 503;
      retry_after = 1;
      break;
    case Errc::kOutcomeUnknown:
      // Not retryable: the write may be in the database. 500, no Retry-After.
      status = 500;
      break;
    case Errc::kReadOnly:
      status = 503;
      body["detail"] = "the database is read-only: " + out.message;
      break;
    case Errc::kFull:
      status = 507;
      break;
    case Errc::kNotFound:
      status = 404;
      break;
    case Errc::kConstraint:
    case Errc::kInsufficientFunds:
      status = 409;
      break;
    default:
      status = 500;
      break;
  }
  HttpResponse r = json_response(status, body);
  r.retry_after_s = retry_after;
  return r;
}

// The optional {"payload": "..."} body of POST /rows. Returns false with a
// message for anything else.
bool parse_payload(std::string_view body, std::string& payload, std::string& problem) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return true;  // no body: empty payload
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    problem = "body is not valid JSON";
    return false;
  }
  if (!json.is_object()) {
    problem = "body must be a JSON object like {\"payload\": \"text\"}";
    return false;
  }
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (it.key() != "payload") {
      problem = "unknown field '" + it.key() + "'; the only field is 'payload'";
      return false;
    }
    if (!it->is_string()) {
      problem = std::string("'payload' must be a string, got ") + it->type_name();
      return false;
    }
    payload = it->get<std::string>();
  }
  return true;
}

// The body of POST /transfer: {"from": i, "to": j, "amount": a}, three
// whole numbers, the accounts different and positive, the amount positive.
bool parse_transfer(std::string_view body, std::int64_t& from, std::int64_t& to, std::int64_t& amount,
                    std::string& problem) {
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    problem = "body must be a JSON object like {\"from\": 1, \"to\": 2, \"amount\": 10}";
    return false;
  }
  std::int64_t* fields[] = {&from, &to, &amount};
  const char* names[] = {"from", "to", "amount"};
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (it.key() != "from" && it.key() != "to" && it.key() != "amount") {
      problem = "unknown field '" + it.key() + "'; the fields are 'from', 'to' and 'amount'";
      return false;
    }
  }
  for (int i = 0; i < 3; ++i) {
    const auto it = json.find(names[i]);
    if (it == json.end()) {
      problem = std::string("'") + names[i] + "' is missing";
      return false;
    }
    if (!it->is_number_integer() || it->get<std::int64_t>() <= 0) {
      problem = std::string("'") + names[i] + "' must be a whole number of at least 1";
      return false;
    }
    *fields[i] = it->get<std::int64_t>();
  }
  if (from == to) {
    problem = "'from' and 'to' must be different accounts";
    return false;
  }
  return true;
}

}  // namespace

HttpResponse error_response(int status, std::string_view error, std::string_view detail) {
  nlohmann::json body = {{"error", error}};
  if (!detail.empty()) body["detail"] = detail;
  return json_response(status, body);
}

std::string Handlers::metrics_body() const {
  return render_metrics(stats_, db_stats_, strategy_);
}

std::string Handlers::stats_body() const {
  const auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  nlohmann::json doc = {{"config", config_.to_json()},
                        {"uptime_s", uptime},
                        {"requests", stats_.to_json()},
                        {"writes",
                         {{"acknowledged", stats_.acknowledged()},
                          {"committed", db_stats_.writes_committed.load(std::memory_order_relaxed)}}},
                        {"database", db_stats_.to_json()},
                        {"strategy", strategy_.stats_json()},
                        {"draining", draining_.load()}};
  return doc.dump();
}

boost::asio::awaitable<OpOutcome> Handlers::execute(Operation op) {
  const RetryOptions& retry = config_.database.retry;
  const bool write = op.write;
  if (!retry.enabled()) {
    OpOutcome out = co_await strategy_.execute(std::move(op));
    if (write && out.ok()) db_stats_.record_write_tries(1);
    co_return out;
  }
  using Clock = std::chrono::steady_clock;
  const auto first = Clock::now();
  // Not thread_local: a coroutine may resume on another io thread, and GCC
  // keeps a thread_local's address across a suspension. A generator per
  // request, seeded from a shared counter and the clock, never zero.
  static std::atomic<std::uint64_t> requests{0};
  const std::uint64_t seed = (requests.fetch_add(1, std::memory_order_relaxed) * 0x9E3779B97F4A7C15ull) ^
                             static_cast<std::uint64_t>(first.time_since_epoch().count());
  std::minstd_rand rng(static_cast<std::uint_fast32_t>(seed % 2147483646u + 1));
  for (int tries = 1;; ++tries) {
    OpOutcome out = co_await strategy_.execute(op);
    // Only conflicts are tried again: their transaction was rolled back
    // (SQLite's BUSY and BUSY_SNAPSHOT, PostgreSQL's 55P03, 40001 and
    // 40P01), so nothing of this try is in the database. A lost connection
    // or any other failure is answered as it is.
    const bool conflict = out.errc == Errc::kBusy || out.errc == Errc::kBusySnapshot;
    if (!conflict) {
      if (write && out.ok()) db_stats_.record_write_tries(tries);
      co_return out;
    }
    const bool snapshot = out.errc == Errc::kBusySnapshot;
    if (tries >= retry.max_tries) {
      (snapshot ? db_stats_.retry_gave_up_tries_snapshot : db_stats_.retry_gave_up_tries_busy)
          .fetch_add(1, std::memory_order_relaxed);
      out.message += " (gave up after " + std::to_string(tries) + " tries)";
      co_return out;
    }
    // Exponential back-off with full jitter: uniform in [0, min(cap, base * 2^(tries-1))].
    const std::int64_t ceiling = std::min<std::int64_t>(retry.cap_ms, retry.base_ms << std::min(tries - 1, 30));
    const auto pause = std::chrono::microseconds(
        std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(0, ceiling) * 1000)(rng));
    if (Clock::now() + pause - first > std::chrono::milliseconds(retry.deadline_ms)) {
      (snapshot ? db_stats_.retry_gave_up_deadline_snapshot : db_stats_.retry_gave_up_deadline_busy)
          .fetch_add(1, std::memory_order_relaxed);
      out.message += " (gave up after " + std::to_string(tries) + " tries: database.retry.deadline_ms)";
      co_return out;
    }
    db_stats_.retries.fetch_add(1, std::memory_order_relaxed);
    if (pause.count() > 0) {
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, pause);
      co_await timer.async_wait(boost::asio::use_awaitable);
    }
  }
}

boost::asio::awaitable<HttpResponse> Handlers::handle(HttpRequest request) {
  const auto start = std::chrono::steady_clock::now();
  HttpResponse response;
  try {
    response = co_await dispatch(request);
  } catch (const std::exception& e) {
    spdlog::error("{} {}: unexpected error: {}", request.method, request.target, e.what());
    response = error_response(500, "internal_error", "unexpected server error; see the server log");
  }
  stats_.record(response.route, response.status, std::chrono::steady_clock::now() - start);
  co_return response;
}

boost::asio::awaitable<HttpResponse> Handlers::dispatch(const HttpRequest& request) {
  RouteMatch match = match_route(request.method, request.target);
  HttpResponse response;
  if (!match.path_found) {
    response = error_response(404, "not_found", "no such path: " + std::string(request.target.substr(0, 200)));
    co_return response;
  }
  if (!match.method_allowed) {
    response = error_response(
        405, "method_not_allowed",
        std::string(request.method.substr(0, 20)) + " is not allowed here; use " + std::string(match.allow));
    response.allow = match.allow;
    response.route = match.route;
    co_return response;
  }

  Operation op;
  int success_status = 200;
  switch (match.route) {
    case Route::kControl:
      // The hot paths' bodies are written directly, without a JSON tree.
      response.status = 200;
      response.body = R"({"ok":true})";
      response.route = match.route;
      co_return response;
    case Route::kHealthz:
      response = draining_.load() ? error_response(503, "shutting_down", "server is draining")
                                  : json_response(200, {{"status", "ok"}});
      response.route = match.route;
      co_return response;
    case Route::kStats:
      response.status = 200;
      if (cluster_) {
        co_await cluster_->refresh();
        response.body = cluster_->stats_document(config_).dump();
      } else {
        response.body = stats_body();
      }
      response.route = match.route;
      co_return response;
    case Route::kMetrics:
      response.status = 200;
      if (cluster_) {
        co_await cluster_->refresh();
        response.body = cluster_->metrics_text();
      } else {
        response.body = metrics_body();
      }
      response.content_type = kMetricsContentType;
      response.route = match.route;
      co_return response;
    case Route::kDashboard:
      response.status = 200;
      response.body = std::string(dashboard_html());
      response.content_type = "text/html; charset=utf-8";
      response.route = match.route;
      co_return response;
    case Route::kRowsInsert: {
      std::string payload, problem;
      if (!parse_payload(request.body, payload, problem)) {
        response = error_response(400, "bad_request", problem);
        response.route = match.route;
        co_return response;
      }
      op = ops::insert_row(std::move(payload));
      success_status = 201;
      break;
    }
    case Route::kRowsCount:
      op = ops::count_rows();
      break;
    case Route::kRowsGet:
    case Route::kRowsUpdate:
    case Route::kAccountGet: {
      std::int64_t id = 0;
      if (!parse_row_id(match.param, id)) {
        response = error_response(400, "bad_request",
                                  std::string(match.route == Route::kAccountGet ? "account" : "row") +
                                      " id must be a whole number from 1 to 9223372036854775807");
        response.route = match.route;
        co_return response;
      }
      if (match.route == Route::kRowsUpdate) {
        std::string payload, problem;
        if (!parse_payload(request.body, payload, problem)) {
          response = error_response(400, "bad_request", problem);
          response.route = match.route;
          co_return response;
        }
        op = ops::update_row(id, std::move(payload));
      } else {
        op = match.route == Route::kRowsGet ? ops::get_row(id) : ops::get_account(id);
      }
      break;
    }
    case Route::kTransfer: {
      std::int64_t from = 0, to = 0, amount = 0;
      std::string problem;
      if (!parse_transfer(request.body, from, to, amount, problem)) {
        response = error_response(400, "bad_request", problem);
        response.route = match.route;
        co_return response;
      }
      op = ops::transfer(from, to, amount);
      break;
    }
    case Route::kAccountsTotal:
      op = ops::accounts_total();
      break;
    case Route::kCounterIncrement:
      if (!valid_counter_name(match.param)) {
        response = error_response(400, "bad_request",
                                  "counter name must be 1-64 characters of letters, digits, '_', '-' or '.'");
        response.route = match.route;
        co_return response;
      }
      op = ops::increment(match.param);
      break;
    case Route::kSeed:
      op = ops::seed();
      break;
    default:
      response = error_response(404, "not_found", "no such path");
      co_return response;
  }

  const bool write = op.write;
  const OpKind kind = op.kind;
  const std::pair<std::int64_t, std::int64_t> op_ids{op.id, op.id2};
  const OpOutcome out = co_await execute(std::move(op));
  if (!out.ok()) {
    response = outcome_error(out);
    response.route = match.route;
    co_return response;
  }
  // From here the client is told the write happened: it is committed.
  if (write) stats_.writes_acknowledged();
  if (kind == OpKind::kInsertRow) {
    response.status = success_status;
    response.body = "{\"id\":" + std::to_string(out.value) + "}";
    response.route = match.route;
    co_return response;
  }
  nlohmann::json body;
  switch (kind) {
    case OpKind::kCountRows:
      body = {{"count", out.value}};
      break;
    case OpKind::kGetRow:
      body = {{"id", out.value}, {"payload", out.text}};
      break;
    case OpKind::kIncrement:
      body = {{"name", out.text}, {"value", out.value}};
      break;
    case OpKind::kSeed:
      body = {{"before", out.value}, {"after", out.value2}};
      break;
    case OpKind::kUpdateRow:
      body = {{"id", out.value}};
      break;
    case OpKind::kTransfer:
      body = {{"from", {{"id", op_ids.first}, {"balance", out.value}}},
              {"to", {{"id", op_ids.second}, {"balance", out.value2}}}};
      break;
    case OpKind::kGetAccount:
      body = {{"id", out.value}, {"balance", out.value2}};
      break;
    case OpKind::kAccountsTotal:
      body = {{"accounts", out.value}, {"total", out.value2}};
      break;
    default:
      body = {{"ok", true}};
      break;
  }
  response = json_response(success_status, body);
  response.route = match.route;
  co_return response;
}

}  // namespace busylab
