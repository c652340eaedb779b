# The security and bad-input gates (RELIABILITY.md, "Security and bad input"). Included by the Makefile
# (PY, PYTEST, STAMP and REPORTS come from there; WORKERS from make/environment.mk).
# `make test-security` is the bounded run `make test` and every pull request run: tenancy over every
# endpoint, bad input, about 300 generated requests to the platform and 300 to the fakes. `make fuzz`
# is the full run (nightly).

.PHONY: test-security fuzz secrets-scan

test-security: $(STAMP)
	$(PYTEST) reliability_tests/security -n $(WORKERS) --junitxml=$(REPORTS)/junit/security.xml

# Generated requests per target: FUZZ_REQUESTS to the platform's OpenAPI, half as many to each fake's
# official description. FUZZ_SEED replays another exploration (the default one never changes).
FUZZ_REQUESTS ?= 1200

fuzz: $(STAMP)
	FUZZ_REQUESTS=$(FUZZ_REQUESTS) $(PYTEST) reliability_tests/security/test_platform_fuzz.py \
	  reliability_tests/security/test_fakes_fuzz.py -n 0 -p no:randomly --junitxml=$(REPORTS)/junit/fuzz.xml

# After the suites: no canary credential (nor E2B_API_KEY / GITHUB_TOKEN when set) in anything under
# reports/ or .squad/, zip archives (Playwright traces) included. Names the file and the kind of secret.
secrets-scan: $(STAMP)
	$(PY) -m tools.secrets_scan
