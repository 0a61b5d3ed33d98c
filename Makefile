# acct_pipeline — the two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The Dagster instance that `make demo` records runs in and `make dev` shows.
DAGSTER_HOME ?= $(CURDIR)/data/dagster_home

.PHONY: install demo test dev lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,deploy,spark]'
	touch $(STAMP)

install: $(STAMP)

## make demo: sample data + the whole pipeline on the embedded default (DuckDB, outbox files)
demo: $(STAMP)
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/acct-pipeline demo

## make test: the test suite (no network beyond loopback)
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

## make dev: the Dagster UI on the same warehouse and run history as `make demo`
dev: $(STAMP)
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/python -c "from acct_pipeline.run import ensure_dagster_home; ensure_dagster_home()"
	DAGSTER_HOME=$(DAGSTER_HOME) env $$($(BIN)/python -m acct_pipeline.sample.period) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make bench: every benchmark in bench/ (about 50 min and 46 GB of disk; not part of the tests)
bench: $(STAMP)
	bash bench/run.sh

clean:
	rm -rf data/warehouse.duckdb data/warehouse.duckdb.wal data/dagster_home data/outbox data/reports
