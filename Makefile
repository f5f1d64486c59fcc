# tally — quick start: `make demo`, then `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOME_DIR ?= data
# The machines are offline: no telemetry from dbt or Dagster.
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_DISABLE_TELEMETRY := 1
export PATH := $(abspath $(BIN)):$(PATH)

# Project sources only: what dbt writes into the project (target/, logs/, dbt_packages/,
# .user.yml) must not count as a change. The same rule as the run's fingerprint of the project
# (warehouse/dbt.py, BUILD_OUTPUT).
DBT_SOURCES := $(shell find dbt_project \( -path dbt_project/target -o -path dbt_project/logs -o -path dbt_project/dbt_packages \) -prune -o -type f ! -path dbt_project/.user.yml -print 2>/dev/null)
MANIFEST := dbt_project/target/manifest.json

.PHONY: install spark browser demo test test-spark test-slow test-fast lint bench ui docs clean

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

# The dbt manifest is built ahead of time so Dagster can load the asset graph.
$(MANIFEST): $(BIN)/.installed $(DBT_SOURCES)
	$(BIN)/dagster-dbt project prepare-and-package --file orchestration/defs/dbt/project.py >/dev/null
	@touch $@

install: $(BIN)/.installed $(MANIFEST)

# The Spark engine (`tally --engine spark`): dbt-spark and PySpark, and Java 17 for Spark.
# Java comes from apt when it is missing and this runs as root (as CI does); otherwise the
# target says what to install.
$(BIN)/.installed-spark: pyproject.toml $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	@touch $@

spark: install $(BIN)/.installed-spark
	@command -v java >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
		else \
			echo "Spark needs Java 17: install it (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; \
		fi; }

# Debian's Chromium, headless, for the tests that open the reports and invoices as a browser
# shows them (tests/e2e/test_pipeline.py). From apt when missing and this runs as root (as CI
# does); otherwise the target says what to install.
browser:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "the browser tests need Chromium (Debian: apt-get install chromium)"; exit 1; \
		fi; }

demo: install
	$(BIN)/tally demo --home $(HOME_DIR) --force

# The tests in tiers. `make test`: everything but the Spark engine, on two workers (the machines
# have 2 cores); a module's tests stay on one worker, and the e2e worlds are built once per
# session and shared (tests/e2e/conftest.py); modules go out longest first (tests/conftest.py).
# Chromium is installed for the tests that open the pages as a browser shows them.
test: install browser
	$(BIN)/python -m pytest -q -m "not spark and not slow" -n 2 --dist loadscope --no-loadscope-reorder --durations=10

# The Spark engine: every parity test on two histories, one run and a close
# (test_spark_parity.py) and night by night (test_spark_history.py), a module on each worker.
test-spark: install spark
	$(BIN)/python -m pytest -q -m spark -n 2 --dist loadscope --durations=10

# What takes minutes by design (live micro-batches against one run: 32 dbt runs in a row), and
# the e2e cases moved out of `make test` to keep it within ten minutes; a module on each worker.
test-slow: install
	$(BIN)/python -m pytest -q -m slow -n 2 --dist loadscope --durations=5

# The unit tier: no e2e world.
test-fast: install
	$(BIN)/python -m pytest -q -n 2 -m "not e2e and not slow"

# Python: ruff (style, imports, complexity). SQL: sqlfluff through the dbt templater, which
# compiles the project against an empty DuckDB file in a scratch home.
lint: install
	$(BIN)/ruff check cli orchestration warehouse transforms lake demo expectations publish tests bench
	$(BIN)/ruff format --check cli orchestration warehouse transforms lake demo expectations publish tests bench
	@scratch=$$(mktemp -d) && mkdir -p $$scratch/warehouse && \
		TALLY_HOME=$$scratch DBT_TARGET_PATH=$$scratch/target $(BIN)/sqlfluff lint dbt_project/models dbt_project/tests \
		--processes 2 --disable-progress-bar; status=$$?; rm -rf $$scratch; exit $$status

bench: install
	$(BIN)/python bench/run.py $(if $(EVENTS),--events $(EVENTS),)

ui: install
	mkdir -p $(HOME_DIR)/.dagster
	TALLY_HOME=$(abspath $(HOME_DIR)) DAGSTER_HOME=$(abspath $(HOME_DIR))/.dagster \
		$(BIN)/dagster dev -w workspace.yaml

# dbt's documentation of the home's warehouse (every mart and column, with lineage), served on
# http://localhost:8080; built under $(HOME_DIR)/.dagster/dbt-docs. Needs a built home (make demo).
docs: install
	$(BIN)/python -m cli.docs --home $(HOME_DIR)

clean:
	rm -rf dbt_project/target dbt_project/logs logs .pytest_cache
