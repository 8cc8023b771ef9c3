#include "loadgen/load_options.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <thread>

namespace busylab::loadgen {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
}

}  // namespace

std::string Url::authority() const {
  // Appended piece by piece: GCC 12 -O3 warns (wrongly, -Wrestrict) on "[" + host.
  const bool v6 = host.find(':') != std::string::npos;
  std::string a;
  if (v6) a += '[';
  a += host;
  if (v6) a += ']';
  if (port != 80) {
    a += ':';
    a += std::to_string(port);
  }
  return a;
}

Url parse_url(std::string_view text) {
  const std::string shown(text);
  if (text.empty()) throw LoadArgumentError("URL is empty; expected e.g. http://127.0.0.1:8080/rows");
  if (has_space_or_control(text)) throw LoadArgumentError("URL '" + shown + "' contains spaces or control characters");
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    throw LoadArgumentError("URL '" + shown + "' has no scheme; expected http://HOST[:PORT]/PATH");
  }
  const auto scheme = text.substr(0, scheme_end);
  if (iequals(scheme, "https")) {
    throw LoadArgumentError("https is not supported: busylab load speaks plain HTTP/1.1 (use http://)");
  }
  if (!iequals(scheme, "http")) {
    throw LoadArgumentError("URL scheme '" + std::string(scheme) + "' is not supported; use http://");
  }
  std::string_view rest = text.substr(scheme_end + 3);
  const auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  Url url;
  if (path_start != std::string_view::npos) {
    url.target = std::string(rest.substr(path_start));
    if (url.target[0] == '?') url.target = "/" + url.target;
  }
  if (authority.find('@') != std::string_view::npos)
    throw LoadArgumentError("URL '" + shown + "': user info is not supported");
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw LoadArgumentError("URL '" + shown + "': unclosed '[' in IPv6 address");
    url.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') throw LoadArgumentError("URL '" + shown + "': unexpected text after IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) throw LoadArgumentError("URL '" + shown + "': empty port");
    }
  } else {
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      url.host = std::string(authority.substr(0, colon));
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) throw LoadArgumentError("URL '" + shown + "': empty port");
    } else {
      url.host = std::string(authority);
    }
  }
  if (url.host.empty()) throw LoadArgumentError("URL '" + shown + "' has no host");
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      throw LoadArgumentError("URL '" + shown + "': port '" + std::string(port_text) +
                              "' is not a number from 1 to 65535");
    }
    url.port = static_cast<std::uint16_t>(value);
  }
  return url;
}

std::chrono::nanoseconds parse_duration(std::string_view text, std::string_view option) {
  const std::string shown(text);
  const auto bad = [&](const std::string& why) {
    return LoadArgumentError(std::string(option) + ": '" + shown + "' " + why +
                             "; expected a positive duration like 10s, 500ms, 2m");
  };
  std::size_t unit_start = 0;
  while (unit_start < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[unit_start])) || text[unit_start] == '.')) {
    ++unit_start;
  }
  if (unit_start == 0) throw bad("is not a duration");
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + unit_start, value);
  if (ec != std::errc() || end != text.data() + unit_start || !std::isfinite(value)) throw bad("is not a duration");
  const std::string_view unit = text.substr(unit_start);
  double seconds_per_unit = 0;
  if (unit.empty() || unit == "s")
    seconds_per_unit = 1;
  else if (unit == "ms")
    seconds_per_unit = 1e-3;
  else if (unit == "us")
    seconds_per_unit = 1e-6;
  else if (unit == "m" || unit == "min")
    seconds_per_unit = 60;
  else if (unit == "h")
    seconds_per_unit = 3600;
  else
    throw bad("has an unknown unit");
  const double ns = value * seconds_per_unit * 1e9;
  if (ns < 1 || ns > 1e9 * 86400 * 7) throw bad("is out of range");
  return std::chrono::nanoseconds(static_cast<std::int64_t>(ns));
}

std::pair<std::string, std::string> split_header(std::string_view header) {
  const auto colon = header.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    throw LoadArgumentError("header '" + std::string(header) + "' must look like 'Name: value'");
  }
  std::string name(header.substr(0, colon));
  if (has_space_or_control(name))
    throw LoadArgumentError("header name '" + name + "' contains spaces or control characters");
  std::string_view value = header.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  if (value.find_first_of("\r\n") != std::string_view::npos) {
    throw LoadArgumentError("header '" + name + "' value contains a line break");
  }
  return {name, std::string(value)};
}

int LoadOptions::effective_threads() const {
  int t = threads;
  if (t <= 0) t = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, std::min(t, connections));
}

void LoadOptions::validate() const {
  if (connections <= 0) throw LoadArgumentError("--connections must be at least 1");
  if (connections > 100000) throw LoadArgumentError("--connections must be at most 100000");
  if (threads < 0) throw LoadArgumentError("--threads must be 0 (cores) or more");
  if (threads > 1024) throw LoadArgumentError("--threads must be at most 1024");
  if (requests && *requests == 0) throw LoadArgumentError("--requests must be at least 1");
  if (rate && !(*rate > 0 && std::isfinite(*rate)))
    throw LoadArgumentError("--rate must be a positive number of requests/s");
  if (method.empty() || has_space_or_control(method))
    throw LoadArgumentError("--method '" + method + "' is not an HTTP method");
  for (const auto& h : headers) split_header(h);
}

std::string serialize_request(const LoadOptions& o) {
  std::string r;
  r.reserve(256 + o.body.size());
  r.append(o.method).append(" ").append(o.url.target).append(" HTTP/1.1\r\n");
  bool has_host = false, has_length = false, has_connection = false;
  for (const auto& h : o.headers) {
    auto [name, value] = split_header(h);
    has_host = has_host || iequals(name, "host");
    has_length = has_length || iequals(name, "content-length");
    has_connection = has_connection || iequals(name, "connection");
    r.append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_host) r.append("Host: ").append(o.url.authority()).append("\r\n");
  if (!has_length && (!o.body.empty() || o.method == "POST" || o.method == "PUT")) {
    r.append("Content-Length: ").append(std::to_string(o.body.size())).append("\r\n");
  }
  if (o.close && !has_connection) r.append("Connection: close\r\n");
  r.append("\r\n").append(o.body);
  return r;
}

}  // namespace busylab::loadgen
