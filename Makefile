# One entry point for developers and CI (.ci/run calls `make test`).
#   make run        install and run the main job (the embedded default: `phantom-pipeline start`)
#   make test       install what tests need, then lint and run every test tier but the slow one
#   make test-slow  the same plus the slow tier
#   make bench      the end-to-end benchmark + pytest-benchmark micro-benchmarks
#   make soak       10 minutes of the whole pipeline against cycling hostile faults (opt-in)
#
# The product is `.` (package phantom_pipeline, extension strategy/native); the benchmarks are
# `./bench` (package phantom_bench, module bench/micro), installed beside it for tests.
SHELL := /bin/bash
PY ?= python3
CARGO_TEST := $(shell command -v cargo-nextest >/dev/null 2>&1 && echo "cargo nextest run" || echo "cargo test")
# The extensions' build scripts build the executables for the Python packages; plain cargo
# builds of the workspace (clippy, tests) do not need that.
export PHANTOM_SKIP_BINS := 1

.PHONY: build-dev install-test run lint test test-rust loom test-python test-slow bench soak fuzz clean \
	bench-ratios bench-device device-bundle

build-dev:
	PHANTOM_SKIP_BINS=0 $(PY) -m pip install --no-build-isolation -e . -e ./bench

install-test:
	PHANTOM_SKIP_BINS=0 $(PY) -m pip install '.[test]' ./bench

run:
	PHANTOM_SKIP_BINS=0 $(PY) -m pip install . && phantom-pipeline start

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --features phantom-feeder/fuzzing -- -D warnings
	$(PY) -m ruff check strategy tests bench examples
	$(PY) -m ruff format --check strategy tests bench examples
	$(PY) -m mypy

# The two PyO3 crates are tested through Python; the feeder's fuzz bodies are compiled for the
# seed-corpus test.
test-rust:
	$(CARGO_TEST) --workspace --exclude phantom-native --exclude phantom-bench-micro \
		--features phantom-feeder/fuzzing

loom:
	RUSTFLAGS="--cfg loom" cargo test -p phantom-ringbuf --test loom --release --target-dir target/loom

test-python:
	$(PY) -m pytest tests bench/tests --benchmark-disable

test: install-test lint test-rust loom test-python

test-slow: install-test lint test-rust loom
	PHANTOM_SLOW=1 $(PY) -m pytest tests bench/tests --benchmark-disable

bench:
	phantom-pipeline bench
	$(PY) -m pytest bench/tests --benchmark-only

# The few-core goals (issue 16): medians of RUNS runs with their range, same-run ratios.
RUNS ?= 3
RATES ?= 2000,10000
DURATION ?= 5
bench-ratios:
	$(PY) -m phantom_bench.e2e.repeat --runs $(RUNS) --rates $(RATES) --duration $(DURATION)

# The colocated-box run (bench/tools/bench_device.sh says what and how): MODE=spin on the
# device, MODE=adaptive for a labelled dry run here.
bench-device:
	PY=$(PY) bash bench/tools/bench_device.sh

# What bench-device carries to a machine without a registry: the abi3 wheels of the product
# and of the benchmarks (release executables inside) and the small wheels it lacks.
device-bundle:
	rm -rf dist/device && mkdir -p dist/device
	PHANTOM_SKIP_BINS=0 $(PY) -m pip wheel --no-deps --no-build-isolation -w dist/device . ./bench
	$(PY) -m pip download --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
		--no-deps -d dist/device solders pynacl cffi pycparser pyzmq websockets hdrhistogram \
		click rich markdown-it-py mdurl pygments tomli-w msgpack

# PHANTOM_SOAK_S (600), PHANTOM_SOAK_RATE (5000 notifications/s) and PHANTOM_SOAK_RESULTS
# (results/soak: soak.json and soak-rss.png) adjust it.
soak:
	PHANTOM_SLOW=1 $(PY) -m pytest tests/test_soak.py -x -q -s

fuzz:
	bash fuzz/run.sh 60

clean:
	cargo clean
	phantom-pipeline clean || true
