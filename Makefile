# Every target creates .venv and installs the project when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format docs bench chaos clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sagas demo

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/pytest

# The chaos suite, longer than in `make test`: more sagas, more rounds of faults (killed
# and paused workers, kills aimed at compensations, killed PostgreSQL connections, a
# restarted and a killed dev server), and the @idempotent window measured over more
# effects and kills. The figures are printed; docs/guarantees.md has them.
CHAOS_SAGAS ?= 500
CHAOS_BATCHES ?= 20
CHAOS_EFFECT_SAGAS ?= 500
CHAOS_EFFECT_BATCHES ?= 40
chaos: $(STAMP)
	CHAOS_SAGAS=$(CHAOS_SAGAS) CHAOS_BATCHES=$(CHAOS_BATCHES) \
	CHAOS_EFFECT_SAGAS=$(CHAOS_EFFECT_SAGAS) CHAOS_EFFECT_BATCHES=$(CHAOS_EFFECT_BATCHES) \
	$(BIN)/pytest tests/chaos -m chaos -q -s --timeout 1800

# The documentation site, strict: a broken link, nav entry or docstring fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Speed and memory figures; never part of `make test`. Results land in bench/results/,
# which git ignores; docs/performance.md carries the current figures. First the harness's
# own tests, including the `bench`-marked ones that run short real rounds (a smoke check),
# then the benchmarks: about three hours on a 2-core machine.
SIZES = $${BENCH_SIZES:-100,1000}
ROUNDS = $${BENCH_ROUNDS:-6}
bench: $(STAMP)
	$(BIN)/pytest tests/bench -q
	$(BIN)/python -m bench.saga_overhead --sizes $(SIZES) --rounds $(ROUNDS) --aa
	$(BIN)/python -m bench.saga_overhead --sizes $(SIZES) --rounds $(ROUNDS) --lean
	$(BIN)/python -m bench.saga_overhead --sizes $(SIZES) --rounds $(ROUNDS) --lean --passthrough
	$(BIN)/python -m bench.saga_overhead --sizes $(SIZES) --rounds $(ROUNDS) --featured
	$(BIN)/python -m bench.saga_overhead --sizes $(SIZES) --rounds $(ROUNDS)
	$(BIN)/python -m bench.side_by_side --rounds 4 --aa
	$(BIN)/python -m bench.side_by_side --rounds 4
	$(BIN)/python -m bench.activation_cost
	$(BIN)/python -m bench.overhead_breakdown
	$(BIN)/python -m bench.overhead_split
	$(BIN)/python -m bench.replay_throughput 2000
	$(BIN)/python -m bench.idempotency_overhead
	$(BIN)/python -m bench.show_1000_steps
	$(BIN)/python -m bench.open_sagas_memory --counts $${BENCH_OPEN_SAGAS:-1000}

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .sagas site
