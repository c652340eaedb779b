# The flake gate: the backend suite 20 times in random order with two xdist workers, then
# the browser suite 10 times; zero failures allowed. A failing run prints its seed and the command
# that reruns that very order (tools/flake.py); logs under reports/flake/.
# Included by the Makefile (PY, PYTEST and STAMP come from there).

.PHONY: flake flake-backend

FLAKE_BACKEND_RUNS ?= 20
FLAKE_FRONTEND_RUNS ?= 10

flake-backend: $(STAMP)
	$(PY) -m tools.flake --runs $(FLAKE_BACKEND_RUNS) --name backend -- $(PYTEST) backend_tests -q -n 2

flake: flake-backend
	@$(MAKE) --no-print-directory flake-frontend FLAKE_RUNS=$(FLAKE_FRONTEND_RUNS)
