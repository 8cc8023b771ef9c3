#include "server/server_options.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/config_reader.hpp"

namespace busylab {

ServerOptions ServerOptions::from_config(ConfigObject& o) {
  ServerOptions s;
  o.read("address", s.address);
  boost::system::error_code ec;
  boost::asio::ip::make_address(s.address, ec);
  if (ec) o.fail("address", "'" + s.address + "' is not an IPv4 or IPv6 address");
  o.read("port", s.port, 0, 65535);
  o.read("threads", s.threads, 0, 256);
  o.read("processes", s.processes, 1, max_processes());
  o.read("header_timeout_ms", s.header_timeout_ms, 1, 3'600'000);
  o.read("idle_timeout_ms", s.idle_timeout_ms, 1, 3'600'000);
  o.read("body_timeout_ms", s.body_timeout_ms, 1, 3'600'000);
  o.read("write_timeout_ms", s.write_timeout_ms, 1, 3'600'000);
  o.read("body_limit", s.body_limit, 0, 64 * 1024 * 1024);
  o.read("header_limit", s.header_limit, 256, 1024 * 1024);
  o.read("shutdown_grace_ms", s.shutdown_grace_ms, 0, 3'600'000);
  o.read_enum("log_level", s.log_level,
              {{"trace", std::string("trace")},
               {"debug", std::string("debug")},
               {"info", std::string("info")},
               {"warn", std::string("warn")},
               {"error", std::string("error")},
               {"off", std::string("off")}});
  o.finish();
  return s;
}

namespace {
int cores() {
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}
}  // namespace

int ServerOptions::effective_threads() const {
  if (threads > 0) return threads;
  return std::max(1, cores() / std::max(1, processes));
}

int ServerOptions::max_processes() {
  return cores() * 16;
}

nlohmann::json ServerOptions::to_json() const {
  return {{"address", address},
          {"port", port},
          {"threads", threads},
          {"processes", processes},
          {"header_timeout_ms", header_timeout_ms},
          {"idle_timeout_ms", idle_timeout_ms},
          {"body_timeout_ms", body_timeout_ms},
          {"write_timeout_ms", write_timeout_ms},
          {"body_limit", body_limit},
          {"header_limit", header_limit},
          {"shutdown_grace_ms", shutdown_grace_ms},
          {"log_level", log_level}};
}

nlohmann::json Config::to_json() const {
  return {{"server", server.to_json()},
          {"database", database.to_json()},
          {"pool", pool.to_json()},
          {"data", {{"rows", database.initial.rows}}},
          {"bank", {{"accounts", database.initial.accounts}, {"initial_balance", database.initial.initial_balance}}}};
}

Config config_from_json(const nlohmann::json& doc, std::string_view origin) {
  try {
    ConfigObject top(doc, "");
    Config c;
    auto server = top.child("server");
    c.server = ServerOptions::from_config(server);
    auto database = top.child("database");
    c.database = DatabaseOptions::from_config(database);
    auto pool = top.child("pool");
    c.pool = PoolOptions::from_config(pool);
    auto data = top.child("data");
    data.read("rows", c.database.initial.rows, 0, 100'000'000);
    data.finish();
    auto bank = top.child("bank");
    bank.read("accounts", c.database.initial.accounts, 0, 10'000'000);
    bank.read("initial_balance", c.database.initial.initial_balance, 0, 1'000'000'000'000);
    bank.finish();
    // Free text for the file's reader; accepted and ignored.
    std::string description;
    top.read("description", description);
    top.finish();
    return c;
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(origin) + ": " + e.what());
  }
}

Config load_config(const std::optional<std::filesystem::path>& file, const std::vector<std::string>& overrides) {
  nlohmann::json doc = nlohmann::json::object();
  std::string origin = "defaults";
  if (file) {
    doc = load_json_file(*file);
    origin = file->string();
  }
  if (overrides.empty()) return config_from_json(doc, origin);
  const nlohmann::json file_doc = doc;
  for (const auto& o : overrides) apply_override(doc, o);
  std::string joined;
  for (const auto& o : overrides) joined += (joined.empty() ? "" : " ") + o;
  try {
    return config_from_json(doc, origin + " with --set " + joined);
  } catch (const ConfigError&) {
    // The overrides did not make it valid: blame the file when it is wrong
    // on its own, else the overrides.
    config_from_json(file_doc, origin);
    throw;
  }
}

}  // namespace busylab
