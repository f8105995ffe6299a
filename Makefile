# The two commands of the README: `make run` (the main job) and `make test` (the whole suite).
# Both create the virtual environment in .venv and install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test lint unit install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Instances dev, staging and prod on ports 8600-8602 over one demo repository in mirel-up/;
# Ctrl-C stops them. `make run PORT=9000` moves them.
PORT ?= 8600
run: $(STAMP)
	$(BIN)/mirel up --dir mirel-up --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check --no-cache src tests benchmarks
	$(BIN)/ruff format --no-cache --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	cd benchmarks && MYPYPATH=../tests $(abspath $(BIN))/mypy --strict bench.py floors.py generate.py memory.py merge_to_live.py serving.py startup.py

unit: $(STAMP)
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

test: lint unit

# The benchmark of docs/benchmarks.md at the design size (a few minutes); BENCH_ARGS=--quick for less.
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) mirel-demo mirel-up .pytest_cache .mypy_cache .ruff_cache .hypothesis
