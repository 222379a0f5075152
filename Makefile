# salesops developer commands. Every target creates .venv when it is missing.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The exact versions `make install` installs, with their hashes (Python 3.11, Linux): `make lock` writes it
# from pyproject.toml's bounds with uv, which resolves against PyPI alone (whatever pip mirrors a machine
# has), for Python 3.11 on Linux whatever host runs it. pip installs it, so pip's own settings still apply.
LOCK   := requirements.lock
UV_VERSION := 0.13.9
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo bench test lint fmt install lock lock-upgrade clean browser postgres java fonts

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (salesops needs Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Every dependency from the lock, hash-checked, then salesops itself without resolving anything again.
$(STAMP): $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

$(BIN)/uv: $(BIN)/python
	$(BIN)/pip install --quiet 'uv==$(UV_VERSION)'

UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
	--python-platform linux --custom-compile-command 'make lock' --quiet --output-file $(LOCK)

# After changing a dependency in pyproject.toml: keeps every pin the bounds still allow, adds what is new.
lock: $(BIN)/uv
	$(UV_COMPILE)

# Every package to the newest release its bounds allow.
lock-upgrade: $(BIN)/uv
	$(UV_COMPILE) --upgrade

demo: $(STAMP) fonts
	$(BIN)/salesops demo

# The scaling benchmark (docs/bench.md): 1M deals / 2,000 reps by default, hours on a small machine.
# Smaller: make bench BENCH_ARGS="--deals 100000 --reps 200". Tables go to $$SALESOPS_HOME/bench/.
BENCH_ARGS ?=
bench: $(STAMP) fonts
	$(BIN)/salesops bench $(BENCH_ARGS)

# sqlfluff (.sqlfluff) renders every model with dbt itself: profiles.yml's duckdb output opens
# $$SALESOPS_HOME/warehouse.duckdb, here a scratch file under dbt_project/target (no raw tables there, so
# raw_source() renders its stand-in), which works on a fresh clone and never touches data/.
SQLFLUFF := mkdir -p dbt_project/target/sqlfluff && SALESOPS_HOME=$(CURDIR)/dbt_project/target/sqlfluff \
	$(BIN)/sqlfluff

lint: $(STAMP)
	$(BIN)/ruff check flows tests
	$(BIN)/ruff format --check flows tests
	$(BIN)/lint-imports --no-cache
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

# tests/warehouse/test_spark.py builds the dbt project on local Apache Spark (pyspark, from the dev extras),
# which needs a Java runtime (17 or 21): install Debian's headless JRE when no java is found.
java:
	@command -v java >/dev/null 2>&1 || \
		{ echo "installing Debian's openjdk-17-jre-headless for the Spark tests"; \
		  $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends openjdk-17-jre-headless; }

# The zh-CN manager report draws Chinese rep names on its chart (matplotlib falls back to a CJK font,
# flows/reports/charts.py) and Chromium shows them in the page: install Debian's WenQuanYi Micro Hei
# (1.6 MB) when fontconfig knows no font for Chinese.
fonts:
	@fc-list :lang=zh family 2>/dev/null | grep -q . || \
		{ echo "installing Debian's fonts-wqy-microhei for the Chinese reports"; \
		  $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends fonts-wqy-microhei; }

# Whole modules spread over the cores, slow modules first (tests/conftest.py orders them).
# One process: make test PYTEST_WORKERS=
PYTEST_WORKERS ?= -n auto --dist loadfile --no-loadscope-reorder

test: lint browser postgres java fonts
	$(BIN)/pytest $(PYTEST_WORKERS)

clean:
	rm -rf data dbt_project/target dbt_project/logs .pytest_cache
