// The handlers without sockets: a real pool strategy over a temporary SQLite
// file, requests given to Handlers::handle() as plain strings, and every
// status, header and JSON body of the error contract (docs/http-api.md) that
// a request can reach, including the database outcomes that need the file in
// a given state (a lock held elsewhere, the size guard, a broken file).
//
// Also run_on_slot (strategy/strategies.hpp): a fatal SQLite error closes the
// slot's connection and the next run opens a fresh one.
//
// Nothing here waits on time: a request is run to completion on the test's
// io_context, bounded by kPatience only so that a bug fails the test instead
// of hanging it.

#include "server/handlers.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <fstream>
#include <ios>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "engine/db_stats.hpp"
#include "server/route.hpp"
#include "server/server_options.hpp"
#include "server/stats.hpp"
#include "sqlite/database.hpp"
#include "sqlite/operation.hpp"
#include "sqlite/sqlite_engine.hpp"
#include "sqlite/sqlite_error.hpp"
#include "strategy/strategies.hpp"
#include "strategy/strategy.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/unit_util.hpp"

namespace busylab {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using testing::OutsideWriteLock;
using testing::overwrite_prefix;
using testing::read_prefix;
using namespace std::chrono_literals;

// How long one request may take before the test gives up on it: far more than
// it takes on a loaded machine under ThreadSanitizer.
constexpr auto kPatience = 30s;

json body_of(const HttpResponse& r) {
  return json::parse(r.body, nullptr, /*allow_exceptions=*/false);
}

class HandlersTest : public ::testing::Test {
 protected:
  HandlersTest() {
    config_.database.path = dir_.file("handlers.db");
    config_.pool.strategy = StrategyKind::kPool;
    config_.pool.size = 2;
  }

  // The strategy is closed while the io_context its handlers belong to still
  // exists (the fuzzer and HttpServer do the same); members declared after
  // ioc_ are destroyed before it anyway.
  ~HandlersTest() override {
    handlers_.reset();
    if (strategy_) strategy_->close();
  }

  // Prepares the database and builds the strategy and the handlers from
  // config_ (tests adjust config_ first).
  void Start() {
    prepare_database(config_.database, db_stats_);
    strategy_ = make_strategy(config_.database, config_.pool, ioc_.get_executor(), db_stats_);
    handlers_ = std::make_unique<Handlers>(config_, *strategy_, stats_, db_stats_, draining_);
  }

  // Runs one request to completion on ioc_. Status 0 when it did not complete.
  HttpResponse Call(std::string_view method, std::string_view target, std::string_view body = {}) {
    // Owned by the completion handler, so that even a request that never
    // completes (a failing test) cannot point into this frame later.
    struct State {
      std::string method, target, body;
      bool done = false;
      bool threw = false;
      HttpResponse response;
    };
    auto state = std::make_shared<State>();
    state->method = method;
    state->target = target;
    state->body = body;
    asio::co_spawn(ioc_, handlers_->handle(HttpRequest{state->method, state->target, state->body}),
                   [state](std::exception_ptr e, HttpResponse r) {
                     state->done = true;
                     state->threw = e != nullptr;
                     state->response = std::move(r);
                   });
    ioc_.restart();
    ioc_.run_for(kPatience);
    EXPECT_TRUE(state->done) << method << " " << target << ": no answer";
    EXPECT_FALSE(state->threw) << method << " " << target << ": handle() must never throw";
    if (!state->done) {
      HttpResponse none;
      none.status = 0;
      return none;
    }
    return state->response;
  }

  // Asserts an error answered without the database: status, error, detail, no
  // code, no Retry-After.
  void ExpectPlainError(const HttpResponse& r, int status, std::string_view error, std::string_view detail) {
    EXPECT_EQ(r.status, status) << r.body;
    const json b = body_of(r);
    ASSERT_TRUE(b.is_object()) << r.body;
    EXPECT_EQ(b.value("error", ""), error) << r.body;
    EXPECT_EQ(b.value("detail", ""), detail) << r.body;
    EXPECT_FALSE(b.contains("code")) << r.body;
    EXPECT_EQ(r.retry_after_s, 0);
  }

  json Stats() { return json::parse(handlers_->stats_body(), nullptr, false); }

  busylab::testing::TempDir dir_;
  Config config_;
  DbStats db_stats_;
  ServerStats stats_;
  std::atomic<bool> draining_{false};
  asio::io_context ioc_;
  std::unique_ptr<Strategy> strategy_;
  std::unique_ptr<Handlers> handlers_;
};

// ---- routing -----------------------------------------------------------------------

TEST_F(HandlersTest, UnknownPathIs404NamingTheTarget) {
  Start();
  ExpectPlainError(Call("GET", "/nope"), 404, "not_found", "no such path: /nope");
  ExpectPlainError(Call("POST", "/nope?x=1"), 404, "not_found", "no such path: /nope?x=1");
  // Paths that look like a route but are not one.
  ExpectPlainError(Call("GET", "/rows/"), 404, "not_found", "no such path: /rows/");
  ExpectPlainError(Call("GET", "/rows/1/x"), 404, "not_found", "no such path: /rows/1/x");
  ExpectPlainError(Call("POST", "/counters//increment"), 404, "not_found", "no such path: /counters//increment");
  ExpectPlainError(Call("POST", "/counters/a/b/increment"), 404, "not_found", "no such path: /counters/a/b/increment");
  // The target is cut at 200 characters in the detail.
  const std::string long_target = "/" + std::string(300, 'a');
  ExpectPlainError(Call("GET", long_target), 404, "not_found", "no such path: " + long_target.substr(0, 200));
  EXPECT_EQ(Call("GET", "/nope").route, Route::kUnknown);
  EXPECT_EQ(stats_.count(Route::kUnknown, 404), 8u);
  EXPECT_EQ(db_stats_.writes_committed.load(), 0u);
}

TEST_F(HandlersTest, WrongMethodIs405WithAllow) {
  Start();
  struct Case {
    const char* method;
    const char* target;
    const char* allow;
    Route route;
  };
  const Case cases[] = {
      {"DELETE", "/rows/1", "GET, HEAD, PUT", Route::kRowsGet},
      {"POST", "/rows/count", "GET, HEAD", Route::kRowsCount},
      {"PUT", "/rows", "POST", Route::kRowsInsert},
      {"GET", "/rows", "POST", Route::kRowsInsert},
      {"GET", "/counters/hits/increment", "POST", Route::kCounterIncrement},
      {"POST", "/seed", "GET", Route::kSeed},
      {"HEAD", "/seed", "GET", Route::kSeed},  // GET /seed writes: no HEAD
      {"POST", "/control", "GET, HEAD", Route::kControl},
      {"POST", "/healthz", "GET, HEAD", Route::kHealthz},
      {"DELETE", "/stats", "GET, HEAD", Route::kStats},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    const HttpResponse r = Call(c.method, c.target);
    ExpectPlainError(r, 405, "method_not_allowed",
                     std::string(c.method) + " is not allowed here; use " + std::string(c.allow));
    EXPECT_EQ(r.allow, c.allow);
    EXPECT_EQ(r.route, c.route);
  }
  // Nothing ran: /seed and /rows were refused before the database.
  EXPECT_EQ(db_stats_.writes_committed.load(), 0u);
  EXPECT_EQ(Call("GET", "/rows/count").body, R"({"count":0})");
}

TEST_F(HandlersTest, HeadRunsTheGetHandler) {
  Start();
  ASSERT_EQ(Call("POST", "/rows", R"({"payload":"h"})").status, 201);
  const HttpResponse head = Call("HEAD", "/rows/count");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, Call("GET", "/rows/count").body);  // the session leaves the body out, not the handler
  EXPECT_TRUE(head.allow.empty());
  EXPECT_EQ(Call("HEAD", "/rows/1").body, R"({"id":1,"payload":"h"})");
  EXPECT_EQ(Call("HEAD", "/control").body, R"({"ok":true})");
}

// ---- request bodies and parameters ---------------------------------------------

TEST_F(HandlersTest, BadInsertBodiesAre400) {
  Start();
  struct Case {
    const char* body;
    const char* detail;
  };
  const Case cases[] = {
      {"{not json", "body is not valid JSON"},
      {R"({"payload":"a")", "body is not valid JSON"},
      {R"(["payload"])", R"(body must be a JSON object like {"payload": "text"})"},
      {R"("text")", R"(body must be a JSON object like {"payload": "text"})"},
      {"42", R"(body must be a JSON object like {"payload": "text"})"},
      {R"({"x":1})", "unknown field 'x'; the only field is 'payload'"},
      // Keys are visited in sorted order: 'extra' before 'payload'.
      {R"({"payload":"a","extra":1})", "unknown field 'extra'; the only field is 'payload'"},
      {R"({"payload":42})", "'payload' must be a string, got number"},
      {R"({"payload":null})", "'payload' must be a string, got null"},
      {R"({"payload":true})", "'payload' must be a string, got boolean"},
      {R"({"payload":["a"]})", "'payload' must be a string, got array"},
      {R"({"payload":{"a":"b"}})", "'payload' must be a string, got object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    const HttpResponse r = Call("POST", "/rows", c.body);
    ExpectPlainError(r, 400, "bad_request", c.detail);
    EXPECT_EQ(r.route, Route::kRowsInsert);
  }
  EXPECT_EQ(stats_.count(Route::kRowsInsert, 400), std::size(cases));
  EXPECT_EQ(db_stats_.writes_committed.load(), 0u);
  EXPECT_EQ(stats_.acknowledged(), 0u);
  EXPECT_EQ(Call("GET", "/rows/count").body, R"({"count":0})");
}

TEST_F(HandlersTest, BadRowIdsAre400) {
  Start();
  const char* const kDetail = "row id must be a whole number from 1 to 9223372036854775807";
  for (const char* id : {"abc", "0", "-1", "+1", "1.5", " 1", "1e3", "99999999999999999999", "9223372036854775808",
                         "0000000000000000000"}) {
    SCOPED_TRACE(id);
    const HttpResponse r = Call("GET", std::string("/rows/") + id);
    ExpectPlainError(r, 400, "bad_request", kDetail);
    EXPECT_EQ(r.route, Route::kRowsGet);
  }
  // The largest id is a valid id (there is simply no such row).
  EXPECT_EQ(Call("GET", "/rows/9223372036854775807").status, 404);
}

TEST_F(HandlersTest, BadCounterNamesAre400) {
  Start();
  const char* const kDetail = "counter name must be 1-64 characters of letters, digits, '_', '-' or '.'";
  for (const std::string& name :
       {std::string(65, 'n'), std::string("a%00b"), std::string("a b"), std::string("bad!"), std::string("a:b")}) {
    SCOPED_TRACE(name);
    const HttpResponse r = Call("POST", "/counters/" + name + "/increment");
    ExpectPlainError(r, 400, "bad_request", kDetail);
    EXPECT_EQ(r.route, Route::kCounterIncrement);
  }
  EXPECT_EQ(db_stats_.writes_committed.load(), 0u);
  // 64 characters is the longest name allowed.
  EXPECT_EQ(Call("POST", "/counters/" + std::string(64, 'n') + "/increment").status, 200);
}

// ---- successes ---------------------------------------------------------------------

TEST_F(HandlersTest, InsertIs201WithTheIdAndRowsReadBack) {
  Start();
  const HttpResponse first = Call("POST", "/rows", R"({"payload":"hello"})");
  EXPECT_EQ(first.status, 201);
  EXPECT_EQ(first.body, R"({"id":1})");
  EXPECT_EQ(first.route, Route::kRowsInsert);
  EXPECT_EQ(first.retry_after_s, 0);
  EXPECT_TRUE(first.allow.empty());
  // No body, only whitespace, and {} all mean an empty payload.
  EXPECT_EQ(Call("POST", "/rows").body, R"({"id":2})");
  EXPECT_EQ(Call("POST", "/rows", " \r\n\t").body, R"({"id":3})");
  EXPECT_EQ(Call("POST", "/rows", "{}").body, R"({"id":4})");

  const HttpResponse row = Call("GET", "/rows/1");
  EXPECT_EQ(row.status, 200);
  EXPECT_EQ(body_of(row), json({{"id", 1}, {"payload", "hello"}}));
  EXPECT_EQ(row.route, Route::kRowsGet);
  EXPECT_EQ(body_of(Call("GET", "/rows/0002")), json({{"id", 2}, {"payload", ""}}));  // leading zeros

  const HttpResponse count = Call("GET", "/rows/count");
  EXPECT_EQ(count.status, 200);
  EXPECT_EQ(count.body, R"({"count":4})");
  EXPECT_EQ(count.route, Route::kRowsCount);

  EXPECT_EQ(stats_.acknowledged(), 4u);
  EXPECT_EQ(db_stats_.writes_committed.load(), 4u);
  EXPECT_EQ(stats_.count(Route::kRowsInsert, 201), 4u);
}

TEST_F(HandlersTest, MissingRowIs404WithoutDetail) {
  Start();
  ASSERT_EQ(Call("POST", "/rows").status, 201);
  const HttpResponse r = Call("GET", "/rows/2");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":"not_found"})");
  EXPECT_EQ(r.route, Route::kRowsGet);
  EXPECT_EQ(r.retry_after_s, 0);
  EXPECT_EQ(stats_.count(Route::kRowsGet, 404), 1u);
}

TEST_F(HandlersTest, CounterIncrementCountsFromOne) {
  Start();
  const HttpResponse first = Call("POST", "/counters/page.views/increment");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(body_of(first), json({{"name", "page.views"}, {"value", 1}}));
  EXPECT_EQ(first.route, Route::kCounterIncrement);
  // The body is ignored.
  EXPECT_EQ(body_of(Call("POST", "/counters/page.views/increment", "not json")),
            json({{"name", "page.views"}, {"value", 2}}));
  EXPECT_EQ(body_of(Call("POST", "/counters/other_1-x/increment")), json({{"name", "other_1-x"}, {"value", 1}}));
  EXPECT_EQ(body_of(Call("POST", "/counters/page.views/increment?x=1")), json({{"name", "page.views"}, {"value", 3}}));
  EXPECT_EQ(stats_.acknowledged(), 4u);
}

TEST_F(HandlersTest, SeedCountsBeforeAndAfterItsInsert) {
  Start();
  const HttpResponse first = Call("GET", "/seed");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(body_of(first), json({{"before", 0}, {"after", 1}}));
  EXPECT_EQ(first.route, Route::kSeed);
  ASSERT_EQ(Call("POST", "/rows").status, 201);
  EXPECT_EQ(body_of(Call("GET", "/seed")), json({{"before", 2}, {"after", 3}}));
  EXPECT_EQ(body_of(Call("GET", "/rows/1")), json({{"id", 1}, {"payload", "seed"}}));
  EXPECT_EQ(stats_.acknowledged(), 3u);
}

TEST_F(HandlersTest, ControlHealthzAndStats) {
  Start();
  const HttpResponse control = Call("GET", "/control");
  EXPECT_EQ(control.status, 200);
  EXPECT_EQ(control.body, R"({"ok":true})");
  EXPECT_EQ(control.route, Route::kControl);

  const HttpResponse healthy = Call("GET", "/healthz");
  EXPECT_EQ(healthy.status, 200);
  EXPECT_EQ(body_of(healthy), json({{"status", "ok"}}));
  EXPECT_EQ(healthy.route, Route::kHealthz);

  const HttpResponse stats = Call("GET", "/stats");
  EXPECT_EQ(stats.status, 200);
  EXPECT_EQ(stats.route, Route::kStats);
  const json doc = body_of(stats);
  ASSERT_TRUE(doc.is_object()) << stats.body;
  for (const char* key : {"config", "uptime_s", "requests", "writes", "database", "strategy", "draining"}) {
    EXPECT_TRUE(doc.contains(key)) << key;
  }
  EXPECT_EQ(doc["strategy"]["strategy"], "pool");
  EXPECT_EQ(doc["draining"], false);
  EXPECT_EQ(doc["config"]["pool"]["size"], 2);
  // The request does not count itself; /control and /healthz were counted.
  EXPECT_EQ(doc["requests"]["total"], 2);

  // While draining /healthz says so, without Retry-After; the rest still works.
  draining_ = true;
  const HttpResponse draining = Call("GET", "/healthz");
  ExpectPlainError(draining, 503, "shutting_down", "server is draining");
  EXPECT_EQ(draining.route, Route::kHealthz);
  EXPECT_EQ(Call("GET", "/control").status, 200);
  EXPECT_EQ(Stats()["draining"], true);
  EXPECT_EQ(db_stats_.io_thread_violations.load(), 0u);
}

// ---- database outcomes -----------------------------------------------------------

TEST_F(HandlersTest, HeldWriteLockIs503DatabaseBusyWithRetryAfter) {
  config_.database.busy_timeout_ms = 0;  // give up at once: no waiting in this test
  Start();
  OutsideWriteLock other(config_.database.path);
  ASSERT_TRUE(other.held());

  for (const auto& [method, target] :
       {std::pair{"POST", "/rows"}, std::pair{"POST", "/counters/c/increment"}, std::pair{"GET", "/seed"}}) {
    SCOPED_TRACE(std::string(method) + " " + target);
    const HttpResponse r = Call(method, target);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.retry_after_s, 1);
    const json b = body_of(r);
    ASSERT_TRUE(b.is_object()) << r.body;
    EXPECT_EQ(b.value("error", ""), "database_busy");
    EXPECT_EQ(b.value("code", ""), "SQLITE_BUSY");
    EXPECT_EQ(b.value("waited_ms", -1), 0);
    const std::string detail = b.value("detail", "");
    EXPECT_CONTAINS(detail, "BEGIN IMMEDIATE");
    EXPECT_CONTAINS(detail, "database is locked");
  }
  EXPECT_EQ(db_stats_.busy_failures.load(), 3u);
  EXPECT_EQ(stats_.acknowledged(), 0u);
  // Reads do not need the write lock (WAL).
  EXPECT_EQ(Call("GET", "/rows/count").body, R"({"count":0})");

  other.release();
  const HttpResponse after = Call("POST", "/rows");
  EXPECT_EQ(after.status, 201) << after.body;
  EXPECT_EQ(after.body, R"({"id":1})");
  EXPECT_EQ(Stats()["database"]["busy_failures"], 3);
}

TEST_F(HandlersTest, SizeGuardIs507DatabaseFull) {
  config_.database.max_size_mb = 1;  // PRAGMA max_page_count on every connection
  Start();
  ASSERT_EQ(Call("POST", "/rows", R"({"payload":"small"})").status, 201);
  const HttpResponse full = Call("POST", "/rows", R"({"payload":")" + std::string(2 * 1024 * 1024, 'x') + "\"}");
  EXPECT_EQ(full.status, 507);
  EXPECT_EQ(full.retry_after_s, 0);
  EXPECT_EQ(full.route, Route::kRowsInsert);
  const json b = body_of(full);
  ASSERT_TRUE(b.is_object()) << full.body.substr(0, 200);
  EXPECT_EQ(b.value("error", ""), "database_full");
  EXPECT_EQ(b.value("code", ""), "SQLITE_FULL");
  EXPECT_TRUE(b.contains("detail"));
  EXPECT_EQ(db_stats_.full_failures.load(), 1u);
  // Small writes still fit; nothing was lost or added.
  EXPECT_EQ(Call("POST", "/rows", R"({"payload":"after"})").status, 201);
  EXPECT_EQ(Call("GET", "/rows/count").body, R"({"count":2})");
  EXPECT_EQ(stats_.acknowledged(), 2u);
}

// A broken file: the header of the database is overwritten in place while the
// one kept connection is idle. Its next statement must read page 1 again (the
// file change counter differs), finds no SQLite header, and fails with a
// fatal error (SQLITE_NOTADB): 500 database_error, the connection is closed,
// and the next request opens a fresh one.
TEST_F(HandlersTest, FatalErrorIs500AndTheConnectionIsReplaced) {
  config_.database.journal_mode = JournalMode::kDelete;  // everything is in the one file: no -wal, no -shm
  config_.pool.size = 1;                                 // every request runs on the same kept connection
  Start();
  ASSERT_EQ(Call("POST", "/rows", R"({"payload":"kept"})").status, 201);
  ASSERT_EQ(Call("GET", "/rows/count").body, R"({"count":1})");
  const std::string path = config_.database.path;
  const std::string original = read_prefix(path, 4096);
  ASSERT_EQ(original.size(), 4096u);
  const auto opened = db_stats_.connections_opened.load();

  ASSERT_TRUE(overwrite_prefix(path, std::string(4096, 'x')));
  const HttpResponse broken = Call("GET", "/rows/count");
  EXPECT_EQ(broken.status, 500) << broken.body;
  EXPECT_EQ(broken.retry_after_s, 0);
  EXPECT_EQ(broken.route, Route::kRowsCount);
  const json b = body_of(broken);
  ASSERT_TRUE(b.is_object()) << broken.body;
  EXPECT_EQ(b.value("error", ""), "database_error");
  const std::string code = b.value("code", "");
  EXPECT_TRUE(code == "SQLITE_NOTADB" || code.rfind("SQLITE_CORRUPT", 0) == 0) << broken.body;
  EXPECT_TRUE(b.contains("detail"));
  EXPECT_EQ(db_stats_.fatal_failures.load(), 1u);
  EXPECT_EQ(db_stats_.connections_replaced.load(), 1u);
  EXPECT_EQ(Stats()["database"]["connections_replaced"], 1);

  // The file is whole again: the next request runs on a fresh connection.
  ASSERT_TRUE(overwrite_prefix(path, original));
  const HttpResponse healed = Call("GET", "/rows/count");
  EXPECT_EQ(healed.status, 200) << healed.body;
  EXPECT_EQ(healed.body, R"({"count":1})");
  EXPECT_EQ(db_stats_.connections_opened.load(), opened + 1);
  EXPECT_EQ(db_stats_.connections_replaced.load(), 1u);
  EXPECT_EQ(Call("POST", "/rows").body, R"({"id":2})");
}

// ---- run_on_slot -----------------------------------------------------------------

// An operation whose step fails with `code`, as SQLite would report it.
Operation failing_read(int code) {
  Operation op;
  op.kind = OpKind::kCustom;
  op.body = [code](Database&, OpOutcome&) { throw SqliteError(code, "step: simulated failure"); };
  return op;
}

TEST(RunOnSlot, FatalErrorClosesTheConnectionAndTheNextRunOpensAFreshOne) {
  busylab::testing::TempDir dir;
  DatabaseOptions db;
  db.path = dir.file("slot.db");
  DbStats stats;
  prepare_database(db, stats);
  SqliteEngine engine(db, stats);
  ConnectionPool::Slot slot = engine.open(Engine::Purpose::kRequest);

  // Not fatal (busy, full): the connection is kept.
  for (int code : {SQLITE_BUSY, SQLITE_FULL}) {
    const OpOutcome out = run_on_slot(slot, failing_read(code), engine, stats);
    EXPECT_NE(out.errc, Errc::kFatal);
    EXPECT_TRUE(slot != nullptr) << code;
  }
  EXPECT_EQ(stats.connections_replaced.load(), 0u);

  for (int code : {SQLITE_IOERR_READ, SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_CANTOPEN}) {
    SCOPED_TRACE(code);
    ASSERT_TRUE(slot != nullptr);
    const auto replaced = stats.connections_replaced.load();
    const OpOutcome out = run_on_slot(slot, failing_read(code), engine, stats);
    EXPECT_EQ(out.errc, Errc::kFatal);
    EXPECT_EQ(out.sqlite_code, code);
    EXPECT_EQ(to_string(out.errc), "database_error");
    EXPECT_TRUE(slot == nullptr) << "a connection that hit a fatal error is never lent again";
    EXPECT_EQ(stats.connections_replaced.load(), replaced + 1);

    // The next borrower opens a fresh connection, which works.
    const auto opened = stats.connections_opened.load();
    const OpOutcome next = run_on_slot(slot, ops::count_rows(), engine, stats);
    EXPECT_TRUE(next.ok()) << next.message;
    EXPECT_EQ(next.value, 0);
    EXPECT_TRUE(slot != nullptr);
    EXPECT_EQ(stats.connections_opened.load(), opened + 1);
    EXPECT_EQ(stats.connections_replaced.load(), replaced + 1);
  }
  EXPECT_EQ(stats.fatal_failures.load(), 4u);
}

}  // namespace
}  // namespace busylab
