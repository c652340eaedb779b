# The browser suite (`pytest frontend_tests`, sync Playwright in Debian's Chromium): headless,
# headed, CI's tier and the flake loop. Included by the Makefile (PY, PYTEST, REPORTS, TIER_MARKERS,
# WORKERS and `setup` come from there). `setup`, not only the packages: these need Chromium and Xvfb.

##@ Browser suite (pytest frontend_tests)

.PHONY: test-frontend test-frontend-headed test-frontend-tier flake-frontend test-visual visual-baselines lighthouse

# pytest-xdist processes of test-frontend, each with its own stack, database and browser; 0 = serial.
# Two on a 2-core machine: a browser test spends much of its time waiting on the pipeline, the stream
# or the page, and the other process runs meanwhile.
FRONTEND_WORKERS ?= 2

test-frontend: setup ## pytest frontend_tests, headless, with FRONTEND_WORKERS xdist workers
	$(PYTEST) frontend_tests -n $(FRONTEND_WORKERS) --junitxml=$(REPORTS)/junit/frontend.xml

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

# Visual regression (frontend_tests/visual): the board and each component against the PNG baselines in
# frontend_tests/visual/baselines; a difference fails and leaves expected, actual and diff images under
# reports/visual/. `pytest frontend_tests` runs them too. After an intended change of the looks (or a
# merge that changes the board), `make visual-baselines` rewrites every baseline: review and commit them.
test-visual: setup ## the visual regression tests alone (screenshots against frontend_tests/visual/baselines)
	$(PYTEST) frontend_tests/visual --junitxml=$(REPORTS)/junit/visual.xml

visual-baselines: setup ## rewrite the visual baselines from this checkout's board and components
	$(PYTEST) frontend_tests/visual --update-visual-baselines -p no:randomly -q
	@git status --short frontend_tests/visual/baselines

# Lighthouse (npm, tools/lighthouse, installed by `npm ci` from its lockfile) audits the board of a
# fresh stack with a demo squad in Debian's Chromium, headless: the performance, accessibility and
# best-practices scores must reach tools/lighthouse_gate.py's thresholds. Reports in reports/lighthouse/.
# Not part of `make test` (its npm install and run add about a minute): CI runs it as a job of its own.
# package.json overrides third-party-web to the version Lighthouse itself asks for: a dependency of
# Lighthouse asks for its `latest`, which a lockfile cannot hold (`npm ci` would refuse the lock as
# soon as a newer one is published).
LIGHTHOUSE_TOOLS := tools/lighthouse
LIGHTHOUSE_STAMP := $(LIGHTHOUSE_TOOLS)/node_modules/.installed-stamp

$(LIGHTHOUSE_STAMP): $(LIGHTHOUSE_TOOLS)/package.json $(LIGHTHOUSE_TOOLS)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing (Node.js 20+): apt-get install nodejs npm"; exit 1; }
	cd $(LIGHTHOUSE_TOOLS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lighthouse: setup $(LIGHTHOUSE_STAMP) ## Lighthouse on the board: performance, accessibility, best practices gated; reports/lighthouse/
	$(PY) -m tools.lighthouse_gate
