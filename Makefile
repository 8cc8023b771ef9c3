# Thin wrapper over scripts/bootstrap, CMake presets and CTest.
#   make run    install what is missing, build (release), run the seed-table experiment
#   make test   install what is missing, build (dev), run every test
#   make serve  build (release), serve $(CONFIG)
.PHONY: deps build build-dev run serve sweep test test-asan test-tsan bench clean

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

test-asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan
	ctest --preset asan

test-tsan: deps
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan
	ctest --preset tsan

bench: build
	bash bench/server_vs_nginx.sh
	bash bench/loadgen_vs_wrk.sh

clean:
	rm -rf build
