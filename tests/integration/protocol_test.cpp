// HTTP on the wire, against a real server: `Expect: 100-continue`,
// pipelined requests, HEAD, HTTP/1.0 with and without keep-alive, and a
// fatal SQLite error that replaces a connection (counted in /stats).
//
// The bytes are written and read by hand (RawConnection) where the test is
// about them: the interim 100, a HEAD answer without a body, a connection
// the server closes. Every wait is for something the server must do, bounded
// by kPatience only so that a bug fails the test instead of hanging it;
// nothing is timed.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <ios>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strategy/strategy.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

namespace busylab::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kPatience = 30s;

// One answer as it came: the status line, the header fields (names
// lower-cased), and the body when one was read.
struct Reply {
  std::string start;  // "HTTP/1.1 200 OK"
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  bool has(const std::string& name) const { return headers.count(name) > 0; }
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// A client socket that reads exactly what the test asks for: a header block,
// a given number of body bytes, or the end of the stream. No reconnection,
// no interpretation of 1xx or HEAD.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }

  bool send(std::string_view bytes) {
    if (fd_ < 0) return false;
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  /// The next status line and header fields, up to and including the blank
  /// line; the body (if any) stays unread. nullopt when the stream ends or
  /// the bytes are not an HTTP/1.x status line.
  std::optional<Reply> read_head() {
    const auto deadline = Clock::now() + kPatience;
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    const std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    Reply r;
    const std::size_t line_end = head.find("\r\n");
    r.start = head.substr(0, line_end);
    if (r.start.rfind("HTTP/1.", 0) != 0 || r.start.size() < 12) return std::nullopt;
    r.status = std::atoi(r.start.c_str() + 9);
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      std::size_t eol = head.find("\r\n", pos);
      if (eol == std::string::npos) eol = head.size();
      const std::string line = head.substr(pos, eol - pos);
      if (const auto colon = line.find(':'); colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        r.headers[name] = value;
      }
      pos = eol + 2;
    }
    return r;
  }

  /// Exactly `n` more bytes; nullopt when the stream ends first.
  std::optional<std::string> read_exactly(std::size_t n) {
    const auto deadline = Clock::now() + kPatience;
    while (buffer_.size() < n) {
      if (!fill(deadline)) return std::nullopt;
    }
    std::string bytes = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return bytes;
  }

  /// A whole answer: its head, then Content-Length bytes of body.
  std::optional<Reply> read_reply() {
    auto r = read_head();
    if (!r) return std::nullopt;
    const std::string length = r->header("content-length");
    if (length.empty()) return std::nullopt;  // busylab always sends one
    auto body = read_exactly(static_cast<std::size_t>(std::stoul(length)));
    if (!body) return std::nullopt;
    r->body = std::move(*body);
    return r;
  }

  /// True when the server ends the stream (FIN or reset); whatever it sent
  /// before that is kept in pending().
  bool wait_closed() {
    const auto deadline = Clock::now() + kPatience;
    while (!closed_) {
      if (!fill(deadline) && !closed_) return false;
    }
    return true;
  }

  /// Bytes received and not yet read by the test.
  const std::string& pending() const { return buffer_; }

 private:
  // Reads what is there (waiting until `deadline`) into buffer_. False on
  // end of stream, error or deadline; closed_ tells the first two apart.
  bool fill(Clock::time_point deadline) {
    if (fd_ < 0 || closed_) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool closed_ = false;
  std::string buffer_;
};

std::string post_rows(std::string_view body) {
  std::string text = "POST /rows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  text += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  text.append(body);
  return text;
}

// A request without a body.
std::string simple_request(std::string_view target, std::string_view method = "GET") {
  return std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n\r\n";
}

class HttpProtocol : public ::testing::Test {
 protected:
  void SetUp() override { server_ = std::make_unique<TestServer>(test_config(dir_, StrategyKind::kPool, 2)); }
  void TearDown() override {
    HttpClient client(server_->port());
    const auto r = client.request("GET", "/healthz");
    ASSERT_TRUE(r) << "server stopped answering";
    EXPECT_EQ(r->status, 200);
    server_->stop();
  }

  std::uint16_t port() const { return server_->port(); }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(HttpProtocol, ExpectContinueGetsInterim100ThenTheAnswer) {
  RawConnection c(port());
  ASSERT_TRUE(c.connected());
  const std::string body = R"({"payload":"after-continue"})";
  // The header alone, announcing a body that is not sent yet.
  ASSERT_TRUE(
      c.send("POST /rows HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n"
             "Content-Length: " +
             std::to_string(body.size()) + "\r\n\r\n"));
  const auto interim = c.read_head();
  ASSERT_TRUE(interim) << "no 100 Continue before the body was sent";
  EXPECT_EQ(interim->status, 100) << interim->start;
  EXPECT_EQ(interim->start.rfind("HTTP/1.1 100", 0), 0u) << interim->start;
  // Nothing else can come before the body: the server is waiting for it.
  EXPECT_TRUE(c.pending().empty()) << c.pending();

  ASSERT_TRUE(c.send(body));
  const auto created = c.read_reply();
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201) << created->body;
  EXPECT_EQ(created->body, R"({"id":1})");
  EXPECT_FALSE(created->has("connection"));

  // Same connection: the row holds the body sent after the 100.
  ASSERT_TRUE(c.send(simple_request("/rows/1")));
  const auto row = c.read_reply();
  ASSERT_TRUE(row);
  EXPECT_EQ(row->status, 200);
  EXPECT_EQ(row->json(), nlohmann::json({{"id", 1}, {"payload", "after-continue"}}));
}

TEST_F(HttpProtocol, ExpectContinueWithTooLargeABodyGets413Without100) {
  RawConnection c(port());
  ASSERT_TRUE(c.connected());
  // server.body_limit is 64 KiB: refused from the header alone.
  ASSERT_TRUE(c.send("POST /rows HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1048576\r\n\r\n"));
  const auto refused = c.read_reply();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 413) << refused->start;
  EXPECT_EQ(refused->json()["error"], "body_too_large");
  EXPECT_EQ(refused->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(c.pending().empty()) << c.pending();
}

TEST_F(HttpProtocol, PipelinedRequestsAreAnsweredInOrder) {
  HttpClient client(port());
  // Three writes and a count, in one write on one connection.
  std::string batch;
  for (int i = 1; i <= 3; ++i) batch += post_rows(R"({"payload":"p)" + std::to_string(i) + "\"}");
  batch += simple_request("/rows/count");
  ASSERT_TRUE(client.send_raw(batch));

  std::vector<std::int64_t> ids;
  for (int i = 1; i <= 3; ++i) {
    const auto r = client.read_response(kPatience);
    ASSERT_TRUE(r) << "answer " << i;
    EXPECT_EQ(r->status, 201) << r->body;
    const auto doc = r->json();
    ASSERT_TRUE(doc.is_object() && doc.contains("id")) << r->body;
    const auto id = doc["id"].get<std::int64_t>();
    if (!ids.empty()) {
      EXPECT_GT(id, ids.back()) << "answers out of order";
    }
    ids.push_back(id);
  }
  const auto count = client.read_response(kPatience);
  ASSERT_TRUE(count);
  EXPECT_EQ(count->status, 200);
  EXPECT_EQ(count->body, R"({"count":3})");

  // Reads pipelined the same way come back in the order asked: each id with
  // the payload that was sent in that position.
  std::string reads;
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) reads += simple_request("/rows/" + std::to_string(*it));
  reads += simple_request("/control");
  ASSERT_TRUE(client.send_raw(reads));
  for (std::size_t k = ids.size(); k-- > 0;) {
    const auto r = client.read_response(kPatience);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->json(), nlohmann::json({{"id", ids[k]}, {"payload", "p" + std::to_string(k + 1)}}));
  }
  const auto control = client.read_response(kPatience);
  ASSERT_TRUE(control);
  EXPECT_EQ(control->body, R"({"ok":true})");
}

TEST_F(HttpProtocol, HeadGetsTheGetHeadersAndNoBody) {
  RawConnection c(port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(post_rows(R"({"payload":"for-head"})")));
  const auto created = c.read_reply();
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201);

  for (const char* target : {"/rows/count", "/rows/1", "/control", "/healthz", "/rows/2"}) {
    SCOPED_TRACE(target);
    ASSERT_TRUE(c.send(simple_request(target)));
    const auto full = c.read_reply();
    ASSERT_TRUE(full);
    ASSERT_FALSE(full->body.empty());

    ASSERT_TRUE(c.send(simple_request(target, "HEAD")));
    const auto head = c.read_head();
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, full->status);
    EXPECT_EQ(head->header("content-length"), std::to_string(full->body.size()));
    EXPECT_EQ(head->header("content-type"), "application/json");
    EXPECT_FALSE(head->has("connection"));
    // No body followed: the next answer on this connection starts right
    // where the HEAD answer ended.
    ASSERT_TRUE(c.send(simple_request("/control")));
    const auto next = c.read_reply();
    ASSERT_TRUE(next) << "the bytes after the HEAD answer are not an answer: " << c.pending();
    EXPECT_EQ(next->start.rfind("HTTP/1.1 200", 0), 0u) << next->start;
    EXPECT_EQ(next->body, R"({"ok":true})");
  }

  // GET /seed writes, so HEAD is not offered there: 405, still without a body.
  ASSERT_TRUE(c.send(simple_request("/seed", "HEAD")));
  const auto refused = c.read_head();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 405);
  EXPECT_EQ(refused->header("allow"), "GET");
  EXPECT_NE(refused->header("content-length"), "0");
  ASSERT_TRUE(c.send(simple_request("/rows/count")));
  const auto count = c.read_reply();
  ASSERT_TRUE(count) << c.pending();
  EXPECT_EQ(count->status, 200);
  EXPECT_EQ(count->body, R"({"count":1})") << "HEAD /seed must not write";
}

TEST_F(HttpProtocol, Http10WithoutKeepAliveIsAnsweredThenClosed) {
  RawConnection c(port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET /control HTTP/1.0\r\n\r\n"));
  const auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->start.rfind("HTTP/1.0 200", 0), 0u) << r->start;
  EXPECT_EQ(r->body, R"({"ok":true})");
  // HTTP/1.0 closes by default; the answer does not need to say so.
  EXPECT_FALSE(r->has("connection")) << r->header("connection");
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(c.pending().empty()) << c.pending();
}

TEST_F(HttpProtocol, Http10WithKeepAliveStaysOpen) {
  RawConnection c(port());
  ASSERT_TRUE(c.connected());
  const std::string body = R"({"payload":"ten"})";
  ASSERT_TRUE(c.send("POST /rows HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\n\r\n" + body));
  const auto created = c.read_reply();
  ASSERT_TRUE(created);
  EXPECT_EQ(created->start.rfind("HTTP/1.0 201", 0), 0u) << created->start;
  EXPECT_EQ(created->header("connection"), "keep-alive");
  EXPECT_EQ(created->body, R"({"id":1})");

  // The same connection serves the next requests.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send("GET /rows/count HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    const auto count = c.read_reply();
    ASSERT_TRUE(count) << "connection closed after a keep-alive answer";
    EXPECT_EQ(count->start.rfind("HTTP/1.0 200", 0), 0u) << count->start;
    EXPECT_EQ(count->header("connection"), "keep-alive");
    EXPECT_EQ(count->body, R"({"count":1})");
  }

  // Until a request without keep-alive: answered, then closed.
  ASSERT_TRUE(c.send("GET /control HTTP/1.0\r\n\r\n"));
  const auto last = c.read_reply();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->body, R"({"ok":true})");
  EXPECT_FALSE(last->has("connection"));
  EXPECT_TRUE(c.wait_closed());
}

// ---- fatal SQLite error ------------------------------------------------------------

// The database's first page is overwritten in place while the only kept
// connection is idle: its next statement reads page 1 again (the file change
// counter differs), finds no SQLite header and fails with SQLITE_NOTADB, a
// fatal error: 500 database_error, the connection is closed and counted in
// /stats as replaced, and the next request runs on a fresh connection.
TEST(FatalSqliteError, Gives500AndTheConnectionIsReplaced) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kPool, 1);  // one kept connection serves every request
  config.database.journal_mode = JournalMode::kDelete;       // the file alone holds the data: no -wal, no -shm
  TestServer server(config);
  HttpClient client(server.port());
  ASSERT_EQ(client.request("POST", "/rows", R"({"payload":"kept"})")->status, 201);
  const std::string original = read_prefix(config.database.path, 4096);
  ASSERT_EQ(original.size(), 4096u);
  const auto before = client.request("GET", "/stats");
  ASSERT_TRUE(before);
  const auto opened = before->json()["database"]["connections_opened"].get<std::uint64_t>();
  EXPECT_EQ(before->json()["database"]["connections_replaced"], 0);

  ASSERT_TRUE(overwrite_prefix(config.database.path, std::string(4096, 'x')));
  const auto broken = client.request("GET", "/rows/count");
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->status, 500) << broken->body;
  const auto doc = broken->json();
  ASSERT_TRUE(doc.is_object()) << broken->body;
  EXPECT_EQ(doc.value("error", ""), "database_error");
  const std::string code = doc.value("code", "");
  EXPECT_TRUE(code == "SQLITE_NOTADB" || code.rfind("SQLITE_CORRUPT", 0) == 0) << broken->body;
  EXPECT_FALSE(broken->headers.count("retry-after"));
  const auto after_error = client.request("GET", "/stats");
  ASSERT_TRUE(after_error);
  EXPECT_EQ(after_error->json()["database"]["connections_replaced"], 1);
  EXPECT_EQ(after_error->json()["database"]["fatal_failures"], 1);

  ASSERT_TRUE(overwrite_prefix(config.database.path, original));
  const auto healed = client.request("GET", "/rows/count");
  ASSERT_TRUE(healed);
  EXPECT_EQ(healed->status, 200) << healed->body;
  EXPECT_EQ(healed->body, R"({"count":1})");
  EXPECT_EQ(client.request("POST", "/rows", "")->status, 201);
  const auto after = client.request("GET", "/stats");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->json()["database"]["connections_replaced"], 1);
  EXPECT_EQ(after->json()["database"]["connections_opened"], opened + 1);
  client.close();
  server.stop();
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), 2);
  EXPECT_EQ(integrity_check(config.database.path), "ok");
}

}  // namespace
}  // namespace busylab::testing
