#include "loadgen/load_options.hpp"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/url.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <thread>

namespace busylab::loadgen {

namespace urls = boost::urls;

namespace {

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
}

std::string port_error(const std::string& shown, std::string_view port_text) {
  return "URL '" + shown + "': port '" + std::string(port_text) + "' is not a number from 1 to 65535";
}

// Boost.URL said no (RFC 3986) without saying which part is wrong: name the
// usual mistakes, else pass its reason on.
std::string invalid_url_message(std::string_view text, const std::string& shown, const boost::system::error_code& ec) {
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    return "URL '" + shown + "' has no scheme; expected http://HOST[:PORT]/PATH";
  }
  const std::string_view rest = text.substr(scheme_end + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  std::string_view after_host = authority;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "URL '" + shown + "': unclosed '[' in IPv6 address";
    after_host = authority.substr(close + 1);
    if (!after_host.empty() && after_host.front() != ':') {
      return "URL '" + shown + "': unexpected text after IPv6 address";
    }
  }
  if (const auto colon = after_host.rfind(':'); colon != std::string_view::npos) {
    const std::string_view port_text = after_host.substr(colon + 1);
    const bool digits =
        std::all_of(port_text.begin(), port_text.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
    if (!digits) return port_error(shown, port_text);
  }
  return "URL '" + shown + "' is not a valid URL (" + ec.message() + "); expected http://HOST[:PORT]/PATH";
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

  // RFC 3986 parsing is Boost.URL's; what follows only decides what busylab
  // load accepts of a valid URL.
  const auto parsed = urls::parse_uri(urls::string_view(text.data(), text.size()));
  if (!parsed) throw LoadArgumentError(invalid_url_message(text, shown, parsed.error()));
  const urls::url_view& u = *parsed;
  // "host:port/path" parses as scheme "host" with a path and no authority.
  if (!u.has_authority()) {
    throw LoadArgumentError("URL '" + shown + "' has no scheme; expected http://HOST[:PORT]/PATH");
  }
  if (u.scheme_id() == urls::scheme::https) {
    throw LoadArgumentError("https is not supported: busylab load speaks plain HTTP/1.1 (use http://)");
  }
  if (u.scheme_id() != urls::scheme::http) {
    const auto given = u.scheme();
    throw LoadArgumentError("URL scheme '" + std::string(given.data(), given.size()) +
                            "' is not supported; use http://");
  }
  // Boost 1.81 reads "h:80x/" as port 80 and path "x/"; the authority it
  // parsed must be exactly the text between "://" and the path.
  {
    std::string_view raw = text.substr(text.find("://") + 3);
    raw = raw.substr(0, raw.find_first_of("/?#"));
    const auto parsed_authority = u.encoded_authority();
    if (raw != std::string_view(parsed_authority.data(), parsed_authority.size())) {
      throw LoadArgumentError(invalid_url_message(text, shown, boost::system::error_code()));
    }
  }
  if (u.has_userinfo()) throw LoadArgumentError("URL '" + shown + "': user info is not supported");
  if (u.encoded_host().empty()) throw LoadArgumentError("URL '" + shown + "' has no host");

  Url url;
  switch (u.host_type()) {
    case urls::host_type::ipv4:
      url.host = u.host_ipv4_address().to_string();
      break;
    case urls::host_type::ipv6:
      url.host = u.host_ipv6_address().to_string();  // without the brackets
      break;
    case urls::host_type::name:
      url.host = u.host_name();  // percent escapes decoded
      if (has_space_or_control(url.host) || url.host.find_first_of(":[]") != std::string::npos) {
        throw LoadArgumentError("URL '" + shown + "': '" + url.host + "' is not a host name");
      }
      break;
    default:
      throw LoadArgumentError("URL '" + shown + "': only host names, IPv4 and [IPv6] addresses are supported");
  }

  if (u.has_port()) {
    const std::string_view port_text(u.port().data(), u.port().size());  // digits only (RFC 3986 grammar)
    if (port_text.empty()) throw LoadArgumentError("URL '" + shown + "': empty port");
    // Read here rather than with port_number(): Boost 1.81 wraps some values
    // above 65535 (99999 becomes 34463) instead of reporting them.
    unsigned long value = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      throw LoadArgumentError(port_error(shown, port_text));
    }
    url.port = static_cast<std::uint16_t>(value);
  }

  // Path and query as sent on the request line; a #fragment is never sent.
  const auto target = u.encoded_target();
  url.target.assign(target.data(), target.size());
  if (url.target.empty() || url.target.front() != '/') url.target.insert(0, "/");
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

std::optional<std::chrono::nanoseconds> LoadOptions::measured_duration() const {
  if (duration) return duration;
  if (stages.empty()) return std::nullopt;
  std::chrono::nanoseconds total{0};
  for (const auto& s : stages) total += s.duration;
  return total;
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
  if (interval && *interval < std::chrono::milliseconds(1)) throw LoadArgumentError("--interval must be at least 1ms");
  if (!stages.empty()) {
    if (duration)
      throw LoadArgumentError("--stages conflicts with --duration (the run lasts as long as the stages together)");
    if (rate) throw LoadArgumentError("--stages conflicts with --rate (each stage sets its own rate)");
    double requests_due = 0;
    double previous = start_rate.value_or(stages.front().target);
    for (const auto& s : stages) {
      if (s.duration.count() <= 0) throw LoadArgumentError("--stages: every stage needs a positive duration");
      if (!(s.target >= 0 && std::isfinite(s.target)))
        throw LoadArgumentError("--stages: every target must be a number of requests/s >= 0");
      requests_due += std::chrono::duration<double>(s.duration).count() * (previous + s.target) / 2;
      previous = s.target;
    }
    if (!(requests_due >= 1)) throw LoadArgumentError("--stages: the stages schedule no request (their rates are 0)");
  }
  if (start_rate) {
    if (stages.empty()) throw LoadArgumentError("--start-rate applies only with --stages");
    if (!(*start_rate >= 0 && std::isfinite(*start_rate)))
      throw LoadArgumentError("--start-rate must be a number of requests/s >= 0");
  }
  if (method.empty() || has_space_or_control(method))
    throw LoadArgumentError("--method '" + method + "' is not an HTTP method");
  for (const auto& h : headers) split_header(h);
  if (workload) {
    if (!body.empty())
      throw LoadArgumentError("--body and --body-file conflict with --workload (its requests have their own bodies)");
    if (method != "GET")
      throw LoadArgumentError("--method conflicts with --workload (its requests have their own methods)");
    for (const auto& h : headers) {
      const auto name = split_header(h).first;
      if (boost::beast::iequals(name, "content-length") || boost::beast::iequals(name, "transfer-encoding")) {
        throw LoadArgumentError("--header " + name + " conflicts with --workload (busylab load sets it per request)");
      }
    }
  }
}

std::string serialize_request(const LoadOptions& o) {
  std::string r;
  r.reserve(256 + o.body.size());
  r.append(o.method).append(" ").append(o.url.target).append(" HTTP/1.1\r\n");
  bool has_host = false, has_length = false, has_connection = false;
  for (const auto& h : o.headers) {
    auto [name, value] = split_header(h);
    has_host = has_host || boost::beast::iequals(name, "host");
    has_length = has_length || boost::beast::iequals(name, "content-length");
    has_connection = has_connection || boost::beast::iequals(name, "connection");
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
