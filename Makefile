# Agent Squad test monorepo. `make suites` is the main job, `make test` is everything CI checks.
# Every target sets up what it needs first (virtual environment, Python packages, Chromium, Xvfb).

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
STAMP := $(VENV)/.installed-stamp
REPORTS := reports
# The smoke profile (users, run time, reports) lives in load/locust.conf.
LOAD_ARGS ?= --config load/locust.conf
# pytest-xdist processes for the backend suite (each with its own database and stack); 0 = serial.
BACKEND_WORKERS ?= 2

.PHONY: help setup system-packages suites test test-backend test-backend-postgres test-frontend \
        test-frontend-headed test-load lint up health clean

# Targets of one area each (benchmarks, flake loops, environment checks) live in make/*.mk.
-include make/*.mk

help:
	@echo "make suites    run backend, frontend and load suites on the embedded default, print a summary"
	@echo "make test      everything CI checks: suites + lint + backend on PostgreSQL"
	@echo "make up        start the platform and both fakes on ports 8000-8002, with a demo squad"
	@echo "make health    say which of the platform and the fakes is up, and how to start what is not"
	@echo "make test-external  run the suites against a stack started once, as an external deployment"
	@echo "make ci-pr     the pull-request tier of CI, locally"
	@echo "make test-backend | test-frontend | test-load | test-backend-postgres | lint | typecheck"
	@echo "make bench-backend | bench-fakes | bench-load   benchmarks (figures in BENCHMARKS.md)"

$(STAMP): pyproject.toml
	@command -v python3 >/dev/null || { echo "python3 is missing: install Python 3.11+"; exit 1; }
	@command -v git >/dev/null || { echo "git is missing (the fakes run real git): apt-get install git"; exit 1; }
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Debian's Chromium (Playwright cannot download its own browser here) and Xvfb for --headed.
# Installed with apt-get when root; otherwise the command to run is printed.
system-packages:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v xvfb-run >/dev/null || missing="$$missing xvfb"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing; install them with: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

setup: $(STAMP) system-packages

# Each suite records its exit status, so all three run and the summary reports every one.
suites: setup
	@rm -rf $(REPORTS)/junit $(REPORTS)/load $(REPORTS)/status && mkdir -p $(REPORTS)/status
	-@$(MAKE) --no-print-directory test-backend; echo $$? > $(REPORTS)/status/backend
	-@$(MAKE) --no-print-directory test-frontend; echo $$? > $(REPORTS)/status/frontend
	-@$(MAKE) --no-print-directory test-load; echo $$? > $(REPORTS)/status/load
	@$(PY) -m tools.summary

# The secrets scan runs last: it reads every report and log the others left.
test: suites test-environment test-security lint typecheck test-backend-postgres
	@$(MAKE) --no-print-directory secrets-scan

test-backend: $(STAMP)
	$(PYTEST) backend_tests -n $(BACKEND_WORKERS) --junitxml=$(REPORTS)/junit/backend.xml \
	  --cov=app --cov-report=xml:$(REPORTS)/coverage.xml --cov-report=html:$(REPORTS)/coverage-html

# On TEST_DATABASE_URL when set; otherwise on a throwaway cluster from the local PostgreSQL binaries.
# Its coverage adds to test-backend's (--cov-append): the reports and the 95% floor are of app/ as
# both databases run it (the PostgreSQL-only code, LISTEN/NOTIFY, runs only here).
test-backend-postgres: $(STAMP)
	$(PY) -m tools.postgres -- $(PYTEST) backend_tests -n $(BACKEND_WORKERS) -p no:randomly \
	  --junitxml=$(REPORTS)/junit/backend-postgres.xml --cov=app --cov-append --cov-fail-under=95 \
	  --cov-report=term:skip-covered --cov-report=xml:$(REPORTS)/coverage.xml --cov-report=html:$(REPORTS)/coverage-html

test-frontend: setup
	$(PYTEST) frontend_tests --junitxml=$(REPORTS)/junit/frontend.xml

test-frontend-headed: setup
	xvfb-run -a $(PYTEST) frontend_tests --headed

test-load: $(STAMP)
	@mkdir -p $(REPORTS)/load
	$(PY) -m tools.stack run --log-dir $(REPORTS)/stack/load -- $(VENV)/bin/locust $(LOAD_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

up: $(STAMP)
	$(PY) -m tools.stack up

clean:
	rm -rf $(REPORTS) .squad .pytest_cache .ruff_cache .mypy_cache .coverage .coverage.*
