# Thin wrapper over scripts/bootstrap, CMake presets and CTest.
#   make run    install what is missing, build (release), run the seed-table experiment
#   make test   install what is missing, build (dev), run every test
#   make serve  build (release), serve $(CONFIG)
.PHONY: deps build build-dev run serve sweep test test-asan test-tsan fuzz bench clean

CONFIG ?= config/pool.json
EXPERIMENT ?= experiments/seed-table.json
ARGS ?=

deps:
	@bash scripts/bootstrap

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release

build-dev: deps
	cmake --preset dev >/dev/null
	cmake --build --preset dev

run: build
	./build/release/bin/busylab sweep $(EXPERIMENT) $(ARGS)

sweep: run

serve: build
	./build/release/bin/busylab serve --config $(CONFIG) $(ARGS)

test: build-dev
	ctest --preset dev

# Sanitizer runs report through the exit status: ASan/UBSan abort on the first
# report (-fno-sanitize-recover), TSan exits non-zero (TSAN_OPTIONS below).
test-asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 ctest --preset asan -L 'unit|integration'

# TSan: every unit and integration test (the pool, the strategies and the
# server under many concurrent clients are where threads meet).
test-tsan: deps
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan
	TSAN_OPTIONS=halt_on_error=1:exitcode=66 ctest --preset tsan -L 'unit|integration'

# libFuzzer on the request path for FUZZ_SECONDS (CI: 60). New inputs go to
# build/fuzz/corpus, never into the committed seed corpus; a crash leaves its
# input in build/fuzz/ and fails the target.
FUZZ_SECONDS ?= 60
fuzz: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz
	mkdir -p build/fuzz/corpus
	./build/fuzz/bin/busylab_fuzz_http -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
	  -artifact_prefix=build/fuzz/ -print_final_stats=1 build/fuzz/corpus tests/fuzz/corpus

bench: build
	bash bench/server_vs_nginx.sh
	bash bench/loadgen_vs_wrk.sh

clean:
	rm -rf build
