// The house: every folder includes only from the folders below it
// (docs/architecture.md, Layout), so each has one job and the arrows run one
// way: engine/ knows no engine, sqlite/ and postgres/ know only the seam,
// server/ knows nothing of cluster/ (it talks to the other workers through
// server/worker_link.hpp), and only app/ sits above everything.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

namespace busylab {
namespace {

// Folder -> the project folders its files may include (itself included).
const std::map<std::string, std::set<std::string>>& allowed() {
  static const std::map<std::string, std::set<std::string>> rules = {
      {"common", {"common"}},
      {"engine", {"engine", "common"}},
      {"sqlite", {"sqlite", "engine", "common"}},
      {"postgres", {"postgres", "engine", "common"}},
      {"engines", {"engines", "engine", "sqlite", "postgres", "common"}},
      {"pool", {"pool", "engine", "common"}},
      {"strategy", {"strategy", "pool", "engines", "engine", "common"}},
      {"server", {"server", "strategy", "pool", "engine", "common"}},
      {"cluster", {"cluster", "server", "strategy", "pool", "engine", "common"}},
      {"loadgen", {"loadgen", "common"}},
      {"sweep",
       {"sweep", "loadgen", "server", "strategy", "pool", "engines", "engine", "sqlite", "postgres", "common"}},
  };
  return rules;
}

TEST(Layout, EveryIncludeRunsOneWay) {
  const std::filesystem::path root = BUSYLAB_SOURCE_DIR;
  const std::regex include(R"re(^\s*#\s*include\s+"([a-z_]+)/)re");
  std::size_t checked = 0;
  for (const auto& [folder, may] : allowed()) {
    ASSERT_TRUE(std::filesystem::is_directory(root / folder)) << folder;
    for (const auto& entry : std::filesystem::directory_iterator(root / folder)) {
      const auto ext = entry.path().extension();
      if (ext != ".cpp" && ext != ".hpp") continue;
      std::ifstream in(entry.path());
      std::string line;
      for (int n = 1; std::getline(in, line); ++n) {
        std::smatch m;
        if (!std::regex_search(line, m, include)) continue;
        ++checked;
        EXPECT_TRUE(may.count(m[1].str())) << folder << "/" << entry.path().filename().string() << ":" << n
                                           << " includes " << m[1] << "/, which is not below " << folder << "/";
      }
    }
  }
  EXPECT_GT(checked, 100u) << "the scan found the includes";
}

}  // namespace
}  // namespace busylab
