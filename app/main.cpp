// busylab: what happens when many HTTP requests write to one SQLite database.
// Thin main: parses the command line and hands over to the libraries.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/system/system_error.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/config_reader.hpp"
#include "pool/sqlite_error.hpp"
#include "server/http_server.hpp"
#include "server/server_options.hpp"

namespace {

constexpr int kExitUsage = 2;  // bad arguments, bad config, unusable database or address

// Writes the port so scripts can find it; via a temporary file and rename,
// so a reader never sees a half-written number.
void write_port_file(const std::filesystem::path& path, unsigned port) {
  const auto temp = path.string() + ".tmp";
  {
    std::ofstream out(temp);
    out << port << "\n";
    if (!out) throw std::runtime_error("cannot write port file " + temp);
  }
  std::filesystem::rename(temp, path);
}

int serve(const std::optional<std::string>& config_path, const std::vector<std::string>& sets,
          const std::optional<std::string>& port_file) {
  busylab::Config config;
  try {
    std::optional<std::filesystem::path> file;
    if (config_path) file = *config_path;
    config = busylab::load_config(file, sets);
  } catch (const busylab::ConfigError& e) {
    std::cerr << "busylab serve: " << e.what() << "\n";
    return kExitUsage;
  }
  spdlog::set_level(spdlog::level::from_str(config.server.log_level));

  std::unique_ptr<busylab::HttpServer> server;
  try {
    server = std::make_unique<busylab::HttpServer>(config);
  } catch (const busylab::SqliteError& e) {
    std::cerr << "busylab serve: " << e.what() << " (" << busylab::sqlite_code_name(e.code()) << ")\n";
    return kExitUsage;
  } catch (const boost::system::system_error& e) {
    std::cerr << "busylab serve: cannot listen on " << config.server.address << ":" << config.server.port << ": "
              << e.code().message() << "\n";
    return kExitUsage;
  }
  if (config.server.address != "127.0.0.1" && config.server.address != "::1") {
    spdlog::warn("listening on {}, reachable from other machines; busylab has no authentication",
                 config.server.address);
  }
  std::cout << "listening on " << server->address() << ":" << server->port() << std::endl;
  if (port_file) {
    try {
      write_port_file(*port_file, server->port());
    } catch (const std::exception& e) {
      std::cerr << "busylab serve: " << e.what() << "\n";
      return kExitUsage;
    }
  }
  spdlog::info("strategy {} (size {}), journal_mode {}, synchronous {}, busy_timeout {} ms, database {}",
               busylab::to_string(config.pool.strategy), config.pool.size,
               busylab::to_string(config.database.journal_mode), busylab::to_string(config.database.synchronous),
               config.database.busy_timeout_ms, config.database.path);
  const auto summary = server->run(/*handle_signals=*/true);
  std::cout << summary.line() << std::endl;
  // 1 when the grace period ran out with requests in flight: they were cut off.
  return summary.forced ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("busylab"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"busylab: what happens when many HTTP requests write to one SQLite database"};
  app.set_version_flag("--version", "busylab 0.1.0");
  app.require_subcommand(1);

  auto* serve_cmd = app.add_subcommand("serve", "Run the HTTP service in front of a SQLite database");
  std::optional<std::string> config_path;
  std::vector<std::string> sets;
  std::optional<std::string> port_file;
  serve_cmd->add_option("-c,--config", config_path, "JSON config file (see config/ and docs/configuration.md)")
      ->check(CLI::ExistingFile);
  serve_cmd->add_option("--set", sets, "Override one config key, e.g. --set database.busy_timeout_ms=0 (repeatable)")
      ->type_name("KEY=VALUE");
  serve_cmd->add_option("--port-file", port_file, "Write the listening port to this file once bound");
  serve_cmd->footer(
      "Prints 'listening on ADDRESS:PORT' on stdout once ready. SIGINT/SIGTERM drain in-flight\n"
      "requests (server.shutdown_grace_ms), checkpoint the WAL and print a summary; a second\n"
      "signal exits at once. Exit status: 0 after a clean stop, 1 when the grace period ran out\n"
      "or a second signal cut the drain short, 2 for a bad config or a database or address that\n"
      "cannot be used.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  if (serve_cmd->parsed()) return serve(config_path, sets, port_file);
  return kExitUsage;
}
