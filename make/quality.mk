# Lint, format and types of the Python code, and of the board's JavaScript (lint-js). Included by the Makefile (VENV and STAMP come from there).

##@ Code quality

.PHONY: lint typecheck lint-js

# The board's JavaScript tools (ESLint, TypeScript, Lighthouse) live in tools/js, installed from its
# lockfile by `npm ci` whenever package.json or the lockfile changes.
JS_TOOLS := tools/js
JS_BIN := $(JS_TOOLS)/node_modules/.bin
JS_STAMP := $(JS_TOOLS)/node_modules/.installed-stamp

$(JS_STAMP): $(JS_TOOLS)/package.json $(JS_TOOLS)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing (Node.js 20+): apt-get install nodejs npm"; exit 1; }
	cd $(JS_TOOLS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint: $(STAMP) ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# ESLint's flat config and TypeScript's checkJs (types from JSDoc) over app/web; nothing is emitted.
lint-js: $(JS_STAMP) ## ESLint and TypeScript checkJs over the board's JavaScript (app/web)
	$(JS_BIN)/eslint --config $(JS_TOOLS)/eslint.config.js --max-warnings 0 app/web
	$(JS_BIN)/tsc -p $(JS_TOOLS)/tsconfig.json

typecheck: $(STAMP) ## mypy on app/, mocks/, fixtures/, tools/
	$(VENV)/bin/mypy app mocks fixtures tools
