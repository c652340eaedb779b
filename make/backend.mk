# Backend benchmarks: suite wall time three ways, and per-test isolation side by side.
.PHONY: bench-backend bench-isolation coverage-backend

bench-isolation: $(STAMP)
	$(PY) -m benchmarks.isolation --runs 200
	$(PY) -m tools.postgres -- $(PY) -m benchmarks.isolation --runs 200

bench-backend: $(STAMP) bench-isolation
	@echo "== pytest backend_tests, serial, SQLite"
	@$(PYTEST) backend_tests -q -p no:randomly -p no:cacheprovider | tail -1
	@echo "== the same, its throwaway files on disk (SQUAD_TEST_TMPDIR=/var/tmp) instead of in shared memory"
	@SQUAD_TEST_TMPDIR=/var/tmp $(PYTEST) backend_tests -q -p no:randomly -p no:cacheprovider | tail -1
	@echo "== pytest backend_tests, serial, PostgreSQL (throwaway cluster)"
	@$(PY) -m tools.postgres -- $(PYTEST) backend_tests -q -p no:randomly -p no:cacheprovider | tail -1
	@echo "== pytest backend_tests -n 2, SQLite"
	@$(PYTEST) backend_tests -q -n 2 -p no:cacheprovider | tail -1

# Line and branch coverage of app/, the platform's own processes included, on SQLite and then on
# PostgreSQL (a throwaway cluster, or TEST_DATABASE_URL), combined; fails under 95%.
coverage-backend: $(STAMP)
	$(PYTEST) backend_tests -q --cov=app --cov-report=
	$(PY) -m tools.postgres -- $(PYTEST) backend_tests -q -p no:randomly --cov=app --cov-append \
	  --cov-report=term --cov-fail-under=95 \
	  --cov-report=xml:$(REPORTS)/coverage.xml --cov-report=html:$(REPORTS)/coverage-html
