# The browser suite's own targets: the flake loop.
# Included by the Makefile (VENV, PYTEST, REPORTS and `setup` come from there).

.PHONY: flake-frontend

# `pytest frontend_tests` FLAKE_RUNS times in a row, headless, each run in a new random order
# (pytest-randomly, whose seed the run's header prints). Stops at the first failing run and prints
# its seed and the command that reruns that very order; ends with how many runs passed.
# One log per run under reports/flake/. FLAKE_ARGS adds pytest options (e.g. FLAKE_ARGS="-n 2").
FLAKE_RUNS ?= 20
FLAKE_ARGS ?=
FLAKE_DIR := $(REPORTS)/flake

flake-frontend: setup
	@rm -rf $(FLAKE_DIR) && mkdir -p $(FLAKE_DIR)
	@passed=0; \
	for run in $$(seq 1 $(FLAKE_RUNS)); do \
	  log=$(FLAKE_DIR)/frontend-run-$$run.log; \
	  started=$$(date +%s); \
	  $(PYTEST) frontend_tests -p randomly $(FLAKE_ARGS) >$$log 2>&1; status=$$?; \
	  seconds=$$(( $$(date +%s) - started )); \
	  seed=$$(sed -n 's/^Using --randomly-seed=\([0-9]*\).*/\1/p' $$log | head -n 1); \
	  result=$$(tail -n 1 $$log | tr -d '='); \
	  if [ $$status -ne 0 ]; then \
	    echo "run $$run/$(FLAKE_RUNS): FAILED with seed $$seed after $$seconds s:$$result"; \
	    echo "  log: $$log"; \
	    echo "  rerun: $(PYTEST) frontend_tests -p randomly --randomly-seed=$$seed"; \
	    echo "flake-frontend: $$passed of $(FLAKE_RUNS) runs passed, stopped at run $$run (seed $$seed)"; \
	    exit 1; \
	  fi; \
	  passed=$$((passed + 1)); \
	  echo "run $$run/$(FLAKE_RUNS): passed with seed $$seed in $$seconds s:$$result"; \
	done; \
	echo "flake-frontend: $$passed of $(FLAKE_RUNS) runs passed"
