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
