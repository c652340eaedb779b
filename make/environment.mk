# The environment: the checks of its files (compose, Dockerfile, workflows, launcher, the docs and
# the make files) and the external mode. Included by the Makefile (PY, PYTEST, REPORTS, TIER_MARKERS
# and `setup` come from there).

##@ Environment and external mode

.PHONY: test-environment test-external test-external-suites

# The environment files: compose and Dockerfile (schema, hadolint, commands), the workflows, the
# native launcher's agreement with compose, `make health`, the external mode, the docs and `make help`.
# `setup`, not only the packages: the browser-artifact tests launch Chromium.
test-environment: WITH_PROMTOOL = 1
test-environment: setup ## environment_tests/: compose, Dockerfile, workflows, launcher, docs, make files
	$(PYTEST) environment_tests --junitxml=$(REPORTS)/junit/environment.xml

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

test-external: setup ## one stack started as an external deployment; the live suites (TIER) against it
	$(EXTERNAL_CREDENTIALS) $(PY) -m tools.stack run --log-dir $(REPORTS)/stack/external -- \
	  bash -c '$(EXTERNAL_SUITES)'

# The same suites against whatever SQUAD_BASE_URL, FAKE_E2B_URL and FAKE_GITHUB_URL name: your own
# deployment, `make up`, or the compose stack.
test-external-suites: setup ## the live suites against the SQUAD_BASE_URL, FAKE_E2B_URL, FAKE_GITHUB_URL you set
	@test -n "$$SQUAD_BASE_URL" -a -n "$$FAKE_E2B_URL" -a -n "$$FAKE_GITHUB_URL" || { \
	  echo "set SQUAD_BASE_URL, FAKE_E2B_URL and FAKE_GITHUB_URL first (or run make test-external)"; exit 2; }
	$(EXTERNAL_SUITES)

# The compose environment for real: a container engine, the base images (official, or local stand-ins
# built from Debian packages where no registry answers), the project's images, the test stack and the
# deployment behind nginx brought up health-gated, the live suites against them, everything torn down
# (tools/compose_run.py; TESTING.md, "The compose environment"). Nightly in CI: it takes longer than
# `make test` can spare (BENCHMARKS.md).
COMPOSE_ARGS ?=

.PHONY: compose-engine test-compose

# Docker's engine from Debian's packages (docker.io, with Compose v1 as docker-compose) and mmdebstrap
# for the stand-in base images, unless an engine and a Compose already answer (Docker's own packages,
# as on CI's runners). Installed with apt-get when root; otherwise the command to run is printed.
compose-engine: ## a container engine and Compose (Debian's docker.io, docker-compose, mmdebstrap) unless one answers
	@if docker info >/dev/null 2>&1 && { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; }; then \
	  exit 0; \
	fi; \
	missing=""; \
	command -v dockerd >/dev/null || missing="$$missing docker.io"; \
	command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	command -v mmdebstrap >/dev/null || missing="$$missing mmdebstrap"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "no container engine answers and these are missing:$$missing; install them with: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

test-compose: $(STAMP) compose-engine ## the compose stack and the nginx deployment built, run, tested and torn down
	$(PY) -m tools.compose_run $(COMPOSE_ARGS)
