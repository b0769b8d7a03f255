# Front end for the CMake build. The README's two commands are `make run`
# and `make test`; both install what they need first.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps configure test run bench bench-quick bench-tree bench-service bench-proof fuzz format clean

all: configure
	cmake --build $(BUILD) -j $(JOBS)

configure:
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

deps:
	scripts/install-deps.sh

test: deps
	scripts/test.sh

run: deps all
	scripts/run.sh

# The performance targets P1-P6 (issue 14): vmdb against pgbench on one
# private PostgreSQL cluster (fsync on), the tree benchmark, a restart at 10M
# rows, a throughput-vs-clients sweep and its plot (gnuplot). About 15-25
# minutes; bench-quick: under 2 minutes, 200k rows for the restart, no
# sweep. Prints the targets table (and as markdown), writes
# bench/out/bench-<date>.json. Informational: exits 0 whatever the verdicts.
# BENCH_ARGS: more options of bench/bench.sh (--out FILE, --rows N, --sweep).
bench: all
	VMDB_BUILD=$(BUILD) bench/bench.sh $(BENCH_ARGS)

bench-quick: all
	VMDB_BUILD=$(BUILD) bench/bench.sh --quick $(BENCH_ARGS)

# The tree alone (in memory, no server): build, batch updates against the
# hash floor, proofs, multiproofs, inserts.
bench-tree: all
	$(BUILD)/vmdb bench tree

# vmdb serve against plain PostgreSQL at the same concurrency (about 2-3
# minutes; BENCH_SECONDS per run, default 5). Informational, exits 0.
bench-service: all
	VMDB_BUILD=$(BUILD) bench/service.sh

# What "proof": true costs at 1M leaves: loads BENCH_ROWS rows (default
# 1000000) through create-batch, then reads and writes with and without
# proof, interleaved (about 5 minutes). Informational, exits 0.
bench-proof: all
	VMDB_BUILD=$(BUILD) bench/proof.sh

fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz
