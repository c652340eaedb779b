# The environment's targets: type checks, `make health`, the CI tiers, the external mode.
# Included by the Makefile (VENV, PY, PYTEST, STAMP and REPORTS come from there). The CI workflow
# (.github/workflows/ci.yml) runs exactly these targets, so every job can be repeated locally.

.PHONY: typecheck health test-environment test-contracts test-backend-tier test-backend-postgres-tier \
        test-frontend-tier test-external test-external-suites ci-pr

# CI tiers by priority marker (README "Markers and tiers"): TIER=pr runs p0 (pull requests, the
# default), TIER=merge p0 and p1 (pushes to main), TIER=nightly everything.
TIER ?= pr
TIER_MARKERS_pr := priority_p0
TIER_MARKERS_merge := priority_p0 or priority_p1
TIER_MARKERS_nightly := priority_p0 or priority_p1 or priority_p2
TIER_MARKERS = $(or $(TIER_MARKERS_$(TIER)),$(error TIER is "$(TIER)": use pr, merge or nightly))
# pytest-xdist processes per run, each with its own database and stack: a number, or auto (one per CPU).
WORKERS ?= auto

# CI splits the backend tiers into shards by folder, one job each (BACKEND_SHARD=<name>), so the
# longest job stays well inside the pull request's 5 minutes; `all` (the default) runs them in one.
# The last shard is "everything the others do not take", so a new folder can never be left out.
# The shards' sizes come from the test times in reports/junit/backend.xml (README "Markers and tiers").
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

typecheck: $(STAMP)
	$(VENV)/bin/mypy app mocks fixtures tools

# Which services of the stack answer (SQUAD_BASE_URL, FAKE_E2B_URL, FAKE_GITHUB_URL or the `make up`
# ports; PostgreSQL when TEST_DATABASE_URL is set), and how to start the ones that do not.
health: $(STAMP)
	@$(PY) -m tools.health

# The environment files: compose and Dockerfile (schema, hadolint, commands), the workflows, the
# native launcher's agreement with compose, `make health`, the external mode.
# `setup`, not only the packages: the browser-artifact tests launch Chromium.
test-environment: setup
	$(PYTEST) environment_tests --junitxml=$(REPORTS)/junit/environment.xml

# The fakes proven against the official API descriptions (backend tests marked `contract`).
test-contracts: $(STAMP)
	$(PYTEST) backend_tests -m "contract and ($(TIER_MARKERS))" -n $(WORKERS) \
	  --junitxml=$(REPORTS)/junit/contracts.xml

# The backend suite of one tier on SQLite, in parallel; the contract tests run in test-contracts.
# BACKEND_SHARD picks one of CI's shards (above).
test-backend-tier: $(STAMP)
	$(PYTEST) $(BACKEND_SHARD_PATHS) -m "($(TIER_MARKERS)) and not contract" -n $(WORKERS) \
	  --junitxml=$(REPORTS)/junit/backend$(BACKEND_SHARD_SUFFIX).xml \
	  --cov=app --cov-report=xml:$(REPORTS)/coverage.xml --cov-report=html:$(REPORTS)/coverage-html

# The same on PostgreSQL: TEST_DATABASE_URL when set, else a throwaway cluster (tools/postgres.py).
test-backend-postgres-tier: $(STAMP)
	$(PY) -m tools.postgres -- $(PYTEST) $(BACKEND_SHARD_PATHS) -m "($(TIER_MARKERS)) and not contract" \
	  -n $(WORKERS) -p no:randomly --junitxml=$(REPORTS)/junit/backend-postgres$(BACKEND_SHARD_SUFFIX).xml

# The browser suite of one tier, headless, in parallel.
test-frontend-tier: setup
	$(PYTEST) frontend_tests -m "$(TIER_MARKERS)" -n $(WORKERS) --junitxml=$(REPORTS)/junit/frontend.xml

# The external mode: one stack started by `python -m tools.stack run`, and the live suites pointed
# at it by SQUAD_BASE_URL, FAKE_E2B_URL and FAKE_GITHUB_URL. Each suite prints "[stack] ...: reusing"
# for every service instead of starting its own. In one process each (-n 0), so those lines show.
EXTERNAL_SUITES = $(PYTEST) backend_tests/e2e -m "$(TIER_MARKERS)" -n 0 \
	  --junitxml=$(REPORTS)/junit/external-backend.xml \
	&& $(PYTEST) frontend_tests/flows -m "$(TIER_MARKERS)" -n 0 --junitxml=$(REPORTS)/junit/external-frontend.xml

# The launcher configures the fakes with E2B_API_KEY and GITHUB_TOKEN when they are set, and the suites
# inherit them: so the suites know the credentials of fakes they did not start.
EXTERNAL_CREDENTIALS = E2B_API_KEY=e2b_external0000000000000000000000000000000 \
	GITHUB_TOKEN=ghp_external000000000000000000000000000

test-external: setup
	$(EXTERNAL_CREDENTIALS) $(PY) -m tools.stack run --log-dir $(REPORTS)/stack/external -- \
	  bash -c '$(EXTERNAL_SUITES)'

# The same suites against whatever SQUAD_BASE_URL, FAKE_E2B_URL and FAKE_GITHUB_URL name: your own
# deployment, `make up`, or the compose stack.
test-external-suites: setup
	@test -n "$$SQUAD_BASE_URL" -a -n "$$FAKE_E2B_URL" -a -n "$$FAKE_GITHUB_URL" || { \
	  echo "set SQUAD_BASE_URL, FAKE_E2B_URL and FAKE_GITHUB_URL first (or run make test-external)"; exit 2; }
	$(EXTERNAL_SUITES)

# What a pull request's CI runs, one job after the other.
ci-pr: lint typecheck test-backend-tier test-backend-postgres-tier test-contracts test-frontend-tier test-load
