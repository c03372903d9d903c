# Every target creates .venv and installs the project when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format docs bench clean

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

# The documentation site, strict: a broken link, nav entry or docstring fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Speed and memory figures; never part of `make test`. Results land in bench/results/.
bench: $(STAMP)
	$(BIN)/python -m bench.saga_overhead --sizes $${BENCH_SIZES:-100,1000} --rounds $${BENCH_ROUNDS:-6}
	$(BIN)/python -m bench.saga_overhead --sizes $${BENCH_SIZES:-100,1000} --rounds $${BENCH_ROUNDS:-6} --lean
	$(BIN)/python -m bench.saga_overhead --sizes $${BENCH_SIZES:-100,1000} --rounds $${BENCH_ROUNDS:-6} --featured
	$(BIN)/python -m bench.saga_overhead --sizes $${BENCH_SIZES:-100,1000} --rounds $${BENCH_ROUNDS:-6} --aa
	$(BIN)/python -m bench.activation_cost
	$(BIN)/python -m bench.overhead_breakdown
	$(BIN)/python -m bench.overhead_split
	$(BIN)/python -m bench.show_1000_steps
	$(BIN)/python -m bench.open_sagas_memory --counts $${BENCH_OPEN_SAGAS:-1000}

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .sagas site
