# Agent Squad test monorepo. `make` lists every target; `make suites` is the main job, `make test` is
# everything CI checks. Every target sets up what it needs first (virtual environment, Python
# packages, Chromium, Xvfb).
#
# This file holds the variables every area shares, the set-up, the top-level jobs and `help`; each
# area's targets live in make/<area>.mk, included at the end. A target line carries its help text:
# `name: prerequisites ## what it does`; `make help` lists those lines under each file's `##@` heading.
# The make variables a user may set are in docs/make.md.

##@ Main jobs and set-up

SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
STAMP := $(VENV)/.installed-stamp
REPORTS := reports

# CI tiers by priority marker (docs/running.md, "Markers and tiers"): TIER=pr runs p0 (pull requests,
# the default), TIER=merge p0 and p1 (pushes to main), TIER=nightly everything. The `*-tier` targets
# and test-contracts read it.
TIER ?= pr
TIER_MARKERS_pr := priority_p0
TIER_MARKERS_merge := priority_p0 or priority_p1
TIER_MARKERS_nightly := priority_p0 or priority_p1 or priority_p2
TIER_MARKERS = $(or $(TIER_MARKERS_$(TIER)),$(error TIER is "$(TIER)": use pr, merge or nightly))
# The lowest line and branch coverage of app/ allowed, in percent, on SQLite and PostgreSQL combined:
# make test (test-backend-postgres) and CI's coverage job (coverage-combine) both hold it.
COVERAGE_FLOOR := 95
# pytest-xdist processes of the `*-tier` targets and test-security, each with its own database and
# stack: a number, or auto (one per CPU).
WORKERS ?= auto

.PHONY: help setup system-packages suites test ci-pr up health clean bench-toolbox

help: ## list every target, grouped by area (plain `make` prints the same)
	@echo "usage: make <target> [VARIABLE=value ...]   (the variables: docs/make.md)"
	@awk ' \
	  /^##@ / { text[++n] = "\n" substr($$0, 5) "  (" FILENAME ")"; next } \
	  /^[a-zA-Z0-9_-]+:([^=]|$$).*## / { \
	    name = $$0; sub(/:.*/, "", name); help = $$0; sub(/^[^#]*## /, "", help); \
	    target[++n] = name; text[n] = help; if (length(name) > width) width = length(name) } \
	  END { for (i = 1; i <= n; i++) \
	    if (i in target) printf "  %-" width "s  %s\n", target[i], text[i]; else print text[i] }' \
	  $(MAKEFILE_LIST)

# The exact versions every install takes: `make setup`, CI and the Dockerfile (`make lock` refreshes it).
CONSTRAINTS := requirements/constraints.txt

# Debian and Ubuntu ship venv's pip in a package of its own (python3-venv), so `python3 -m venv` fails
# there with a message about ensurepip: say which package to install instead.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	@command -v python3 >/dev/null || { echo "python3 is missing: install Python 3.11+ (apt-get install python3 python3-venv)"; exit 1; }
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "python3 is $$(python3 --version 2>&1 | cut -d' ' -f2); the project needs Python 3.11+ (pyproject.toml requires-python)"; exit 1; }
	@command -v git >/dev/null || { echo "git is missing (the fakes run real git): apt-get install git"; exit 1; }
	@python3 -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "python3 cannot make a virtual environment: the venv module or its pip is missing." \
	    "Install it with: apt-get install python3-venv (as root; else with sudo), then run make setup again"; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint $(CONSTRAINTS) -e '.[dev]'
	@touch $(STAMP)

# Debian's Chromium (Playwright cannot download its own browser here) and its headless shell (what
# headless runs drive, playwright.config.py), Xvfb for --headed, and bubblewrap, which makes the fake
# E2B's sandboxes (Linux namespaces; mocks/e2b/isolation.py).
# Installed with apt-get when root; otherwise the command to run is printed. Targets that check the
# alert rules set WITH_PROMTOOL=1 (a target-specific variable, inherited by this prerequisite): then
# Debian's prometheus package is added, without its recommends, for promtool alone.
WITH_PROMTOOL ?=
system-packages: ## only the Debian packages (installed as root, else the apt-get command is printed)
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromium-headless-shell >/dev/null || missing="$$missing chromium-headless-shell"; \
	command -v xvfb-run >/dev/null || missing="$$missing xvfb"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing; install them with: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi
	@if [ -n "$(WITH_PROMTOOL)" ] && ! command -v promtool >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: prometheus (for promtool)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
	      || echo "prometheus is not installable here: the promtool checks of environment_tests will skip"; \
	  else \
	    echo "promtool is missing (its checks will skip); install it with: sudo apt-get install prometheus"; \
	  fi; \
	fi


setup: $(STAMP) system-packages ## the virtual environment .venv with the Python packages, and Debian's chromium (and its headless shell) and xvfb

# Each suite records its exit status, so all three run and the summary reports every one.
suites: setup ## the main job: backend, browser and load suites on the embedded default, one summary
	@rm -rf $(REPORTS)/junit $(REPORTS)/load $(REPORTS)/status && mkdir -p $(REPORTS)/status
	-@$(MAKE) --no-print-directory test-backend; echo $$? > $(REPORTS)/status/backend
	-@$(MAKE) --no-print-directory test-frontend; echo $$? > $(REPORTS)/status/frontend
	-@$(MAKE) --no-print-directory test-load; echo $$? > $(REPORTS)/status/load
	@$(PY) -m tools.summary

# The secrets scan runs last: it reads every report and log the others left.
test: WITH_PROMTOOL = 1
test: suites test-environment test-security lint lint-js typecheck test-backend-postgres test-security-postgres ## everything CI checks: suites, environment, security, lint, types, PostgreSQL, secrets
	@$(MAKE) --no-print-directory secrets-scan

# What a pull request's CI runs (.github/workflows/ci.yml), one job after the other: the backend on
# both databases with every priority (the coverage floor is of the whole suite), then its coverage.
ci-pr: lint lint-js typecheck test-contracts test-frontend-tier test-load ## the pull-request jobs of CI, one after the other
	$(MAKE) --no-print-directory test-backend-tier TIER=nightly
	$(MAKE) --no-print-directory test-backend-postgres-tier TIER=nightly
	$(MAKE) --no-print-directory coverage-combine

# The toolbox's own speed: `make suites` warm, the browser suite and the backend suite with -n 2, each
# with its wall time, CPU and test counts; with BENCH_BASE (a commit), that commit too, side by side, in
# a temporary worktree on the same virtualenv, in turns (benchmarks/toolbox.py; BENCHMARKS.md).
BENCH_BASE ?=
BENCH_TOOLBOX_RUNS ?= 1
bench-toolbox: setup ## the toolbox's speed: make suites, the browser and backend suites; BENCH_BASE=<commit> side by side
	$(PY) -m benchmarks.toolbox --runs $(BENCH_TOOLBOX_RUNS) $(if $(BENCH_BASE),--base $(BENCH_BASE))

up: $(STAMP) ## the platform and the fakes on ports 8000-8003 with a demo board, until Ctrl-C
	$(PY) -m tools.stack up

# Which services of the stack answer (SQUAD_BASE_URL, FAKE_E2B_URL, FAKE_GITHUB_URL or the `make up`
# ports; PostgreSQL when TEST_DATABASE_URL is set), and how to start the ones that do not.
health: $(STAMP) ## which services answer where the suites would look, and how to start the others
	@$(PY) -m tools.health

clean: ## remove reports/ and the caches
	rm -rf $(REPORTS) .squad .pytest_cache .ruff_cache .mypy_cache .coverage .coverage.*

# Each area's targets. `include`, not `-include`: a file that goes missing is an error to see. They
# come last, after every variable they use when make reads them (VENV, PY, STAMP, REPORTS ...).
include make/*.mk
