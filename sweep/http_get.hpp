#pragma once
// A blocking GET for the sweep's own questions to a child server (/healthz,
// /stats). Not for load: that is loadgen's job.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace busylab::sweep {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

/// GET http://127.0.0.1:port/target; nullopt when there is no answer within `timeout`.
std::optional<HttpAnswer> http_get(std::uint16_t port, const std::string& target, std::chrono::milliseconds timeout);

}  // namespace busylab::sweep
