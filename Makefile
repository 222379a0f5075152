# salesops developer commands. Every target creates .venv when it is missing.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint fmt install clean browser postgres

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (salesops needs Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/salesops demo

# sqlfluff (.sqlfluff) renders every model with dbt itself: profiles.yml's duckdb output opens
# $$SALESOPS_HOME/warehouse.duckdb, here a scratch file under dbt_project/target (no raw tables there, so
# raw_source() renders its stand-in), which works on a fresh clone and never touches data/.
SQLFLUFF := mkdir -p dbt_project/target/sqlfluff && SALESOPS_HOME=$(CURDIR)/dbt_project/target/sqlfluff \
	$(BIN)/sqlfluff

lint: $(STAMP)
	$(BIN)/ruff check flows tests
	$(BIN)/ruff format --check flows tests
	$(SQLFLUFF) lint dbt_project/models --processes 2

fmt: $(STAMP)
	$(BIN)/ruff check --fix flows tests
	$(BIN)/ruff format flows tests
	$(SQLFLUFF) fix dbt_project/models --processes 2

# The render tests (tests/reports/test_render.py) screenshot every report in headless Chromium. CI runs as
# root on Debian: install the distribution's chromium when it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ echo "installing Debian's chromium for the render tests"; \
		  $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver; }

# tests/warehouse/test_postgres.py builds the dbt project on a private PostgreSQL cluster (initdb + pg_ctl as
# the postgres user). Debian keeps the server binaries in /usr/lib/postgresql/<version>/bin, off
# PATH: install the distribution's postgresql when no initdb is found there either.
postgres:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ echo "installing Debian's postgresql for the PostgreSQL tests"; \
		  $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends postgresql; }

test: lint browser postgres
	$(BIN)/pytest

clean:
	rm -rf data dbt_project/target dbt_project/logs .pytest_cache
