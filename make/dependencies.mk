# The dependencies: the constraints file every install takes, the floors, and the known-vulnerability
# audit. Included by the Makefile (VENV, PY, PYTEST, STAMP, CONSTRAINTS, REPORTS, TIER_MARKERS and
# WORKERS come from there).

##@ Dependencies (pyproject.toml, requirements/)

.PHONY: lock test-floors audit

# pip's own resolution in a new virtual environment, frozen: the newest releases that satisfy
# pyproject.toml (all extras). Run it, run `make test`, commit requirements/constraints.txt.
LOCK_VENV ?= .venv-lock

lock: ## refresh requirements/constraints.txt: pip resolves .[dev] in a new venv, pip freeze keeps it
	rm -rf $(LOCK_VENV)
	python3 -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet '.[dev]'
	{ echo "# Every package make setup, CI and the Dockerfile install, at the version pip resolved for"; \
	  echo "# pyproject.toml's [dev] extra (all of them) on Python $$($(LOCK_VENV)/bin/python -c 'import platform; print(platform.python_version())'). Made by make lock: edit pyproject.toml, not this."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude agent-squad-tests; } > $(CONSTRAINTS)
	rm -rf $(LOCK_VENV)
	@echo "requirements/constraints.txt refreshed: run make test before committing it"

# The floors proven: the project with its [test] extra at exactly the floors of pyproject.toml
# (requirements/floors.constraints) in a venv of its own, then the backend's unit tests and the tier's
# in-process integration tests there. CI's floors job runs it on the oldest Python the project supports.
FLOORS_VENV ?= .venv-floors

test-floors: ## the backend unit and in-process tests of the TIER with every dependency at its floor
	python3 -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FLOORS_VENV)/bin/python -m pip install --quiet --constraint requirements/floors.constraints -e '.[test]'
	mkdir -p $(REPORTS) && $(FLOORS_VENV)/bin/python -m pip list --format=freeze > $(REPORTS)/floors-installed.txt
	$(FLOORS_VENV)/bin/pytest backend_tests/unit backend_tests/integration -m "($(TIER_MARKERS)) and not contract" \
	  -n $(WORKERS) --junitxml=$(REPORTS)/junit/floors.xml

# Known vulnerabilities of the locked versions, from PyPI's advisory data (tools/audit.py runs
# pip-audit). It needs the internet: without it, it says so and exits 3, so it is not part of
# `make test` (which runs offline) but a job of its own in CI.
audit: $(STAMP) ## pip-audit of requirements/constraints.txt: fails on a known vulnerability (needs the internet)
	$(PY) -m tools.audit $(CONSTRAINTS)
