# The reliability gates of RELIABILITY.md, one section each: the fault matrix, security and bad
# input, the flake gate, the mutation score. Included by the Makefile (VENV, PY, PYTEST, STAMP,
# REPORTS and WORKERS come from there).

##@ Reliability gates (RELIABILITY.md)

.PHONY: faults test-security test-security-postgres fuzz secrets-scan flake mutation mutation-resume mutation-score

# The fault matrix: every fault through the live stack, on SQLite and then on a throwaway PostgreSQL
# cluster (where the pg_terminate_backend case runs).
faults: $(STAMP) ## the fault matrix through the live stack, on SQLite then PostgreSQL
	@echo "== fault matrix, SQLite"
	$(PYTEST) reliability_tests/faults backend_tests/e2e/test_worker_restart.py -p no:randomly -q
	@echo "== fault matrix, PostgreSQL (throwaway cluster)"
	$(PY) -m tools.postgres -- $(PYTEST) reliability_tests/faults backend_tests/e2e/test_worker_restart.py \
	  -p no:randomly -q

# Security and bad input. test-security is the bounded run `make test` and every pull request run:
# tenancy over every endpoint, bad input, about 300 generated requests to the platform and 300 to the
# fakes. `make fuzz` is the full run (nightly).
test-security: $(STAMP) ## reliability_tests/security/: tenancy, bad input, the bounded schema fuzz
	$(PYTEST) reliability_tests/security -n $(WORKERS) --junitxml=$(REPORTS)/junit/security.xml

# The same gates on PostgreSQL, where text the database cannot store and concurrent writers differ most.
test-security-postgres: $(STAMP) ## the security gates on TEST_DATABASE_URL or a throwaway PostgreSQL cluster
	$(PY) -m tools.postgres -- $(PYTEST) reliability_tests/security -n $(WORKERS) -p no:randomly \
	  --junitxml=$(REPORTS)/junit/security-postgres.xml

# Generated requests per target: FUZZ_REQUESTS to the platform's OpenAPI, half as many to each fake's
# official description. FUZZ_SEED replays another exploration (the default one never changes).
FUZZ_REQUESTS ?= 1200

fuzz: $(STAMP) ## the full schema fuzz: FUZZ_REQUESTS generated requests to the platform and the fakes
	FUZZ_REQUESTS=$(FUZZ_REQUESTS) $(PYTEST) reliability_tests/security/test_platform_fuzz.py \
	  reliability_tests/security/test_fakes_fuzz.py -n 0 -p no:randomly --junitxml=$(REPORTS)/junit/fuzz.xml

# After the suites: no canary credential (nor E2B_API_KEY / GITHUB_TOKEN when set) in anything under
# reports/ or .squad/, zip archives (Playwright traces) included. Names the file and the kind of secret.
secrets-scan: $(STAMP) ## after the suites: no test credential under reports/ or .squad/ (traces included)
	$(PY) -m tools.secrets_scan

# The flake gate: flake-backend (make/backend.mk), then the browser suite FLAKE_FRONTEND_RUNS times
# (flake-frontend, make/frontend.mk); zero failures allowed. A failing run prints its seed and the
# command that reruns that very order (tools/flake.py); logs under reports/flake/.
FLAKE_FRONTEND_RUNS ?= 10

flake: flake-backend ## the flake gate: flake-backend, then flake-frontend FLAKE_FRONTEND_RUNS times
	@$(MAKE) --no-print-directory flake-frontend FLAKE_RUNS=$(FLAKE_FRONTEND_RUNS)

# The mutation score gate: mutmut mutates the platform files [tool.mutmut] only_mutate names (in
# pyproject.toml) and runs the in-process backend tests against each mutant; fails under 85% killed.
# Two mutants at a time (one per core of the 2-core machine and of CI's runner), niced; about 40
# minutes for the whole scope. MUTATION_CHILDREN=1 leaves a core to other work and takes about twice
# as long.
MUTATION_CHILDREN ?= 2
MUTATION_MIN_SCORE ?= 85
MUTMUT := nice -n 10 $(VENV)/bin/mutmut

# A fresh run: mutants/ is a copy of app/ and the tests, and a stale copy would test stale code.
mutation: $(STAMP) ## the mutation score gate: a fresh mutmut run; fails under MUTATION_MIN_SCORE
	rm -rf mutants
	@start=$$(date +%s); \
	$(MUTMUT) run --max-children $(MUTATION_CHILDREN) | tr '\r' '\n' | grep --line-buffered -v '^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]'; \
	status=$${PIPESTATUS[0]}; echo "mutmut run: exit $$status, wall time $$(( $$(date +%s) - start )) s"; exit $$status
	$(PY) benchmarks/mutation_score.py --min-score $(MUTATION_MIN_SCORE)

# Carry on from the last run (mutmut checks only the mutants without a result, and those whose
# function changed); then the gate.
mutation-resume: $(STAMP) ## the same, carrying on from the last run's mutants
	$(MUTMUT) run --max-children $(MUTATION_CHILDREN) | tr '\r' '\n' | tail -3
	$(PY) benchmarks/mutation_score.py --min-score $(MUTATION_MIN_SCORE)

# The gate on the results already in mutants/.
mutation-score: ## only the gate, on the results already in mutants/
	$(PY) benchmarks/mutation_score.py --min-score $(MUTATION_MIN_SCORE)
