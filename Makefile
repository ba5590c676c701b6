# LeadOps — the two commands are `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help install run test lint bench clean-var

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)  ## Create .venv and install LeadOps with its dev tools

run: $(STAMP)  ## Set up and start web + worker + beat (embedded database unless DATABASE_URL)
	$(BIN)/python -m leadops.launch

test: $(STAMP)  ## Run the whole test suite (embedded services unless DATABASE_URL / CELERY_BROKER_URL)
	$(BIN)/python -m leadops.embedded exec -- $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff (lint + format check), mypy, import-linter layers
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m leadops.embedded exec -- $(BIN)/mypy .
	$(BIN)/lint-imports

bench: $(STAMP)  ## Run the benchmarks in bench/ (see bench/README.md)
	$(BIN)/python -m leadops.embedded exec -- $(BIN)/python bench/raw_limits.py
	$(BIN)/python -m leadops.embedded exec -- $(BIN)/python bench/audit_verify.py
	$(BIN)/python -m leadops.embedded exec -- $(BIN)/python bench/ingest_batch.py
	$(BIN)/python -m leadops.embedded exec -- $(BIN)/python bench/ingest_single.py
	$(BIN)/python -m leadops.embedded exec -- $(BIN)/python bench/csv_import.py
	$(BIN)/python -m leadops.embedded exec -- $(BIN)/python bench/admin_leads.py
	$(BIN)/python -m leadops.embedded exec -- $(BIN)/python bench/dashboard.py
	$(BIN)/python bench/routing.py
	$(BIN)/python -m leadops.embedded exec -- $(BIN)/python bench/backtest.py
	$(BIN)/python -m leadops.embedded exec -- $(BIN)/python bench/sla_sweep.py

clean-var:  ## Delete var/ (embedded database, generated keys). Asks nothing: be sure.
	rm -rf var
