# Writes OUT (a header) with the commit of SOURCE_DIR and whether its tracked
# files differ from it, for the provenance in every sweep's results
# (sweep/machine.cpp). Run at every build; the header is rewritten only when
# its text changes, so an unchanged tree rebuilds nothing. docs/ and results/
# do not count as changes: they are not in the binary.
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse HEAD
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE commit_status ERROR_QUIET)
if(NOT commit_status EQUAL 0)
  set(commit "unknown (not built from a git tree)")
  set(dirty "-1")
else()
  execute_process(COMMAND git -C "${SOURCE_DIR}" status --porcelain --untracked-files=no -- . ":!docs" ":!results"
                  OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(changes STREQUAL "")
    set(dirty "0")
  else()
    set(dirty "1")
  endif()
endif()
set(text "// Written by sweep/source_state.cmake at build time.\n#pragma once\n#define BUSYLAB_SOURCE_COMMIT \"${commit}\"\n#define BUSYLAB_SOURCE_DIRTY ${dirty}  // 1: uncommitted changes, 0: none, -1: unknown\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
