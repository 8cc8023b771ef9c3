#pragma once
// A WAL's state read from its files (DB-wal and DB-shm) without opening the
// database: no lock taken, no read transaction that could hold a checkpoint
// back. The sweep samples it during a run (sweep/timeseries.hpp); the
// background checkpointer reads it to count the frames each checkpoint copies.

#include <cstdint>
#include <filesystem>
#include <optional>

namespace busylab {

/// What a WAL's files say, read without opening the database (no lock, no
/// read transaction that could hold a checkpoint back).
struct WalState {
  std::uint64_t wal_bytes = 0;  // size of DB-wal (0 when there is none)
  // The WAL header's salt-1 (big-endian u32 at offset 16), which SQLite
  // increments each time it restarts the WAL after a checkpoint that copied
  // every frame (walRestartHdr): differences count completed checkpoints.
  std::optional<std::uint32_t> restarts;
  // From the wal-index (DB-shm, native byte order): frames in the WAL
  // (mxFrame, offset 16) and frames already copied into the database
  // (nBackfill, offset 96).
  std::optional<std::uint32_t> frames;
  std::optional<std::uint32_t> backfilled;
  /// A WAL in use has its wal-index (DB-shm); its DB-wal may be empty for a
  /// moment after a TRUNCATE checkpoint (size 0, no header).
  bool in_use() const { return frames || restarts; }
};
WalState read_wal_state(const std::filesystem::path& db);

/// WAL restarts between two readings of salt-1. SQLite adds one per
/// restart, but a connection that writes the first frame of a WAL it has
/// never restarted itself (after a TRUNCATE checkpoint emptied the file, or
/// a new connection) draws a random salt: a jump of a million or more
/// counts as one restart, the fewest that explain it.
std::uint64_t wal_restarts_between(std::uint32_t before, std::uint32_t after);

}  // namespace busylab
