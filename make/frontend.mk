# The browser suite (`pytest frontend_tests`, sync Playwright in Debian's Chromium): headless,
# headed, CI's tier and the flake loop. Included by the Makefile (PY, PYTEST, REPORTS, TIER_MARKERS,
# WORKERS and `setup` come from there). `setup`, not only the packages: these need Chromium and Xvfb.

##@ Browser suite (pytest frontend_tests)

.PHONY: test-frontend test-frontend-headed test-frontend-tier flake-frontend

test-frontend: setup ## pytest frontend_tests, headless
	$(PYTEST) frontend_tests --junitxml=$(REPORTS)/junit/frontend.xml

# Without a display, the suite starts Xvfb for the run itself (fixtures/virtual_display.py).
test-frontend-headed: setup ## the same in a visible browser (on a virtual display when there is none)
	$(PYTEST) frontend_tests --headed

# The browser suite of one tier, headless, in parallel.
test-frontend-tier: setup ## CI's browser job: the TIER's browser tests, headless, in parallel
	$(PYTEST) frontend_tests -m "$(TIER_MARKERS)" -n $(WORKERS) --junitxml=$(REPORTS)/junit/frontend.xml

# `pytest frontend_tests` FLAKE_RUNS times in a row, headless, each run in a new random order
# (tools/flake.py: a fresh pytest-randomly seed per run). Stops at the first failing run and prints
# its seed and the command that reruns that very order; ends with how many runs passed and their wall
# times. One log per run under reports/flake/. FLAKE_ARGS adds pytest options (e.g. FLAKE_ARGS="-n 2").
FLAKE_RUNS ?= 20
FLAKE_ARGS ?=

flake-frontend: setup ## the browser suite FLAKE_RUNS times in random order; stops at the first failure
	$(PY) -m tools.flake --runs $(FLAKE_RUNS) --name frontend -- $(PYTEST) frontend_tests -q $(FLAKE_ARGS)
