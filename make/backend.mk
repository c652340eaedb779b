# The backend suite (`pytest backend_tests`): the whole suite, CI's tiers and shards, the contract
# tests, coverage, the flake loop and the benchmarks. Included by the Makefile (VENV, PY, PYTEST,
# STAMP, REPORTS, TIER_MARKERS and WORKERS come from there).

##@ Backend suite (pytest backend_tests)

.PHONY: test-backend test-backend-postgres test-backend-tier test-backend-postgres-tier test-contracts coverage-combine \
        coverage-backend flake-backend bench-backend bench-isolation bench-agent

# pytest-xdist processes of test-backend and test-backend-postgres (each with its own database and
# stack); 0 = serial.
BACKEND_WORKERS ?= 2

# CI splits the backend tiers into shards by folder, one job each (BACKEND_SHARD=<name>), so the
# longest job stays well inside the pull request's 5 minutes; `all` (the default) runs them in one.
# The last shard is "everything the others do not take", so a new folder can never be left out.
# The shards' sizes come from the test times in reports/junit/backend.xml (docs/running.md, "Markers
# and tiers").
BACKEND_SHARD ?= all
BACKEND_SHARD_FOLDERS_unit-errors := unit errors
BACKEND_SHARD_FOLDERS_e2e-migrations := e2e migrations
BACKEND_SHARDS := unit-errors e2e-migrations rest
BACKEND_SHARD_PATHS_all := backend_tests
BACKEND_SHARD_PATHS_unit-errors := $(addprefix backend_tests/,$(BACKEND_SHARD_FOLDERS_unit-errors))
BACKEND_SHARD_PATHS_e2e-migrations := $(addprefix backend_tests/,$(BACKEND_SHARD_FOLDERS_e2e-migrations))
BACKEND_SHARD_PATHS_rest := backend_tests $(foreach folder,$(BACKEND_SHARD_FOLDERS_unit-errors) \
  $(BACKEND_SHARD_FOLDERS_e2e-migrations),--ignore=backend_tests/$(folder))
BACKEND_SHARD_PATHS = $(or $(BACKEND_SHARD_PATHS_$(BACKEND_SHARD)),$(error BACKEND_SHARD is "$(BACKEND_SHARD)": use all or one of $(BACKEND_SHARDS)))
# One JUnit file per shard: backend.xml for all of it, backend-<shard>.xml for a shard.
BACKEND_SHARD_SUFFIX = $(if $(filter all,$(BACKEND_SHARD)),,-$(BACKEND_SHARD))

test-backend: $(STAMP) ## pytest backend_tests with BACKEND_WORKERS xdist workers, JUnit XML and coverage
	$(PYTEST) backend_tests -n $(BACKEND_WORKERS) --junitxml=$(REPORTS)/junit/backend.xml \
	  --cov=app --cov-report=xml:$(REPORTS)/coverage.xml --cov-report=html:$(REPORTS)/coverage-html

# On TEST_DATABASE_URL when set; otherwise on a throwaway cluster from the local PostgreSQL binaries.
# Its coverage adds to test-backend's (--cov-append): the reports and the 95% floor are of app/ as
# both databases run it (the PostgreSQL-only code, LISTEN/NOTIFY, runs only here).
test-backend-postgres: $(STAMP) ## the same on TEST_DATABASE_URL or a throwaway PostgreSQL cluster; 95% floor
	$(PY) -m tools.postgres -- $(PYTEST) backend_tests -n $(BACKEND_WORKERS) -p no:randomly \
	  --junitxml=$(REPORTS)/junit/backend-postgres.xml --cov=app --cov-append --cov-fail-under=$(COVERAGE_FLOOR) \
	  --cov-report=term:skip-covered --cov-report=xml:$(REPORTS)/coverage.xml --cov-report=html:$(REPORTS)/coverage-html

# Each CI backend job keeps its coverage data under reports/coverage-data/, named after the database,
# the Python and the shard, so the coverage job can combine every job's file (coverage-combine).
# Recursive (=): python3 is asked only when a recipe uses it.
COVERAGE_DATA_DIR := $(REPORTS)/coverage-data
PYTHON_VERSION = $(shell python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
COVERAGE_DATA_FILE = $(COVERAGE_DATA_DIR)/$(1)-py$(PYTHON_VERSION)-$(BACKEND_SHARD).coverage

# The backend suite of one tier on SQLite, in parallel; the contract tests run in test-contracts.
# BACKEND_SHARD picks one of CI's shards (above).
test-backend-tier: $(STAMP) ## CI's backend job: the TIER's tests on SQLite, in parallel, with coverage
	mkdir -p $(COVERAGE_DATA_DIR)
	COVERAGE_FILE=$(call COVERAGE_DATA_FILE,sqlite) \
	$(PYTEST) $(BACKEND_SHARD_PATHS) -m "($(TIER_MARKERS)) and not contract" -n $(WORKERS) \
	  --junitxml=$(REPORTS)/junit/backend$(BACKEND_SHARD_SUFFIX).xml \
	  --cov=app --cov-report=xml:$(REPORTS)/coverage.xml --cov-report=html:$(REPORTS)/coverage-html

# The same on PostgreSQL: TEST_DATABASE_URL when set, else a throwaway cluster (tools/postgres.py).
test-backend-postgres-tier: $(STAMP) ## CI's PostgreSQL job: the same on PostgreSQL, with coverage
	mkdir -p $(COVERAGE_DATA_DIR)
	COVERAGE_FILE=$(call COVERAGE_DATA_FILE,postgres) \
	$(PY) -m tools.postgres -- $(PYTEST) $(BACKEND_SHARD_PATHS) -m "($(TIER_MARKERS)) and not contract" \
	  -n $(WORKERS) -p no:randomly --junitxml=$(REPORTS)/junit/backend-postgres$(BACKEND_SHARD_SUFFIX).xml \
	  --cov=app --cov-report=xml:$(REPORTS)/coverage-postgres.xml

# CI's coverage gate: the data files every backend job left (downloaded into COVERAGE_DATA_DIR),
# combined, under the same floor as make test's (COVERAGE_FLOOR), with a Markdown table for CI's summary
# (reports/coverage.md). Fails when there is nothing to combine.
coverage-combine: $(STAMP) ## CI's coverage job: every backend job's coverage data combined; fails under COVERAGE_FLOOR
	@ls $(COVERAGE_DATA_DIR)/*.coverage >/dev/null 2>&1 || { \
	  echo "no coverage data under $(COVERAGE_DATA_DIR)/: run make test-backend-tier and test-backend-postgres-tier first"; exit 1; }
	$(VENV)/bin/coverage combine --quiet --keep --data-file=$(REPORTS)/combined.coverage $(COVERAGE_DATA_DIR)/*.coverage
	$(VENV)/bin/coverage report --data-file=$(REPORTS)/combined.coverage --format=markdown > $(REPORTS)/coverage.md
	$(VENV)/bin/coverage report --data-file=$(REPORTS)/combined.coverage --fail-under=$(COVERAGE_FLOOR)

# The fakes proven against the official API descriptions (backend tests marked `contract`).
test-contracts: $(STAMP) ## CI's contract job: the fakes against the official API descriptions
	$(PYTEST) backend_tests -m "contract and ($(TIER_MARKERS))" -n $(WORKERS) \
	  --junitxml=$(REPORTS)/junit/contracts.xml

# Line and branch coverage of app/, the platform's own processes included, on SQLite and then on
# PostgreSQL (a throwaway cluster, or TEST_DATABASE_URL), combined; fails under 95%.
coverage-backend: $(STAMP) ## coverage of app/ on SQLite and PostgreSQL combined; fails under 95%
	$(PYTEST) backend_tests -q --cov=app --cov-report=
	$(PY) -m tools.postgres -- $(PYTEST) backend_tests -q -p no:randomly --cov=app --cov-append \
	  --cov-report=term --cov-fail-under=$(COVERAGE_FLOOR) \
	  --cov-report=xml:$(REPORTS)/coverage.xml --cov-report=html:$(REPORTS)/coverage-html

# The backend half of the flake gate (RELIABILITY.md, "Flake gate"): a fresh random order per run
# (tools/flake.py); the first failing run prints its seed and the command that repeats that order.
# Logs under reports/flake/.
FLAKE_BACKEND_RUNS ?= 20

flake-backend: $(STAMP) ## the backend suite FLAKE_BACKEND_RUNS times in random order with two workers
	$(PY) -m tools.flake --runs $(FLAKE_BACKEND_RUNS) --name backend -- $(PYTEST) backend_tests -q -n 2

# The cost of one test's isolation (transaction and rollback) against the alternatives, side by side.
bench-isolation: $(STAMP) ## the cost of one test's isolation (transaction and rollback), SQLite and PostgreSQL
	$(PY) -m benchmarks.isolation --runs 200
	$(PY) -m tools.postgres -- $(PY) -m benchmarks.isolation --runs 200

# A scripted ten-tool-call agent loop through the real pipeline, in process (respx fakes, real
# sandboxes): the target is under 0.5 s.
bench-agent: $(STAMP) ## the agent loop's time: a scripted ten-tool-call loop in process, median and p95
	@echo "machine: $$(nproc) CPUs, load average $$(cut -d' ' -f1-3 /proc/loadavg)"
	$(PY) -m benchmarks.agent_loop --runs 30

# The suite's wall time three ways (figures in BENCHMARKS.md, "Backend").
bench-backend: $(STAMP) bench-isolation ## the suite's wall time: serial (shared memory, then disk), PostgreSQL, -n 2
	@echo "== pytest backend_tests, serial, SQLite"
	@$(PYTEST) backend_tests -q -p no:randomly -p no:cacheprovider | tail -1
	@echo "== the same, its throwaway files on disk (SQUAD_TEST_TMPDIR=/var/tmp) instead of in shared memory"
	@SQUAD_TEST_TMPDIR=/var/tmp $(PYTEST) backend_tests -q -p no:randomly -p no:cacheprovider | tail -1
	@echo "== pytest backend_tests, serial, PostgreSQL (throwaway cluster)"
	@$(PY) -m tools.postgres -- $(PYTEST) backend_tests -q -p no:randomly -p no:cacheprovider | tail -1
	@echo "== pytest backend_tests -n 2, SQLite"
	@$(PYTEST) backend_tests -q -n 2 -p no:cacheprovider | tail -1
