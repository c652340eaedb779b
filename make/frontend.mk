# The browser suite's own targets: the flake loop.
# Included by the Makefile (PY, PYTEST and `setup` come from there).

.PHONY: flake-frontend

# `pytest frontend_tests` FLAKE_RUNS times in a row, headless, each run in a new random order
# (tools/flake.py: a fresh pytest-randomly seed per run). Stops at the first failing run and prints
# its seed and the command that reruns that very order; ends with how many runs passed and their wall
# times. One log per run under reports/flake/. FLAKE_ARGS adds pytest options (e.g. FLAKE_ARGS="-n 2").
FLAKE_RUNS ?= 20
FLAKE_ARGS ?=

flake-frontend: setup
	$(PY) -m tools.flake --runs $(FLAKE_RUNS) --name frontend -- $(PYTEST) frontend_tests -q $(FLAKE_ARGS)
