# Lint, format and types of the Python code. Included by the Makefile (VENV and STAMP come from there).

##@ Code quality

.PHONY: lint typecheck

lint: $(STAMP) ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP) ## mypy on app/, mocks/, fixtures/, tools/
	$(VENV)/bin/mypy app mocks fixtures tools
