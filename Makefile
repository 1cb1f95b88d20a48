# The two commands a new user needs: `make run` and `make test` (lint, type check, then pytest).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/streamlit run dashboard/serve.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/recorder_throughput.py
	$(BIN)/python benchmarks/replay_speed.py
	$(BIN)/python benchmarks/replay_speed.py --scaling
	$(BIN)/python benchmarks/dashboard_queries.py
	$(BIN)/python benchmarks/metrics_cost.py

clean:
	rm -rf $(VENV) data/*.duckdb data/*.wal
