#include "sqlite/wal_file.hpp"

#include <cstring>
#include <fstream>
#include <string>

namespace busylab {

namespace {

// Up to `n` bytes from the start of `path`; fewer when it is shorter or absent.
std::string read_prefix(const std::filesystem::path& path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(n, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(n));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return bytes;
}

std::uint32_t big_endian_u32(const std::string& b, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + i])); };
  return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

std::uint32_t native_u32(const std::string& b, std::size_t at) {
  std::uint32_t v = 0;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

}  // namespace

WalState read_wal_state(const std::filesystem::path& db) {
  WalState s;
  std::filesystem::path wal = db, shm = db;
  wal += "-wal";
  shm += "-shm";
  std::error_code ec;
  const auto size = std::filesystem::file_size(wal, ec);
  if (ec) return s;
  s.wal_bytes = size;
  // The WAL header: magic 0x377f0682 or 0x377f0683, version, page size,
  // checkpoint sequence number, salt-1, ... (big-endian). Salt-1 is the
  // counter: SQLite adds one to it each time it restarts the WAL
  // (walRestartHdr), in the header every connection shares; the checkpoint
  // sequence number is kept per connection and is not a global count.
  const std::string header = read_prefix(wal, 32);
  if (header.size() == 32) {
    const std::uint32_t magic = big_endian_u32(header, 0);
    if (magic == 0x377f0682u || magic == 0x377f0683u) s.restarts = big_endian_u32(header, 16);
  }
  // The wal-index header (two copies of 48 bytes), then the checkpoint info.
  const std::string index = read_prefix(shm, 100);
  if (index.size() == 100) {
    s.frames = native_u32(index, 16);
    s.backfilled = native_u32(index, 96);
  }
  return s;
}

std::uint64_t wal_restarts_between(std::uint32_t before, std::uint32_t after) {
  const std::uint32_t step = after - before;  // modulo 2^32, as SQLite's own increment wraps
  if (step == 0) return 0;
  return step < 1'000'000u ? step : 1;
}

}  // namespace busylab
