# Reliability gates. The fault matrix: every fault through the live stack, on SQLite and
# then on a throwaway PostgreSQL cluster (where the pg_terminate_backend case runs). See RELIABILITY.md.
.PHONY: faults

faults: $(STAMP)
	@echo "== fault matrix, SQLite"
	$(PYTEST) reliability_tests/faults backend_tests/e2e/test_worker_restart.py -p no:randomly -q
	@echo "== fault matrix, PostgreSQL (throwaway cluster)"
	$(PY) -m tools.postgres -- $(PYTEST) reliability_tests/faults backend_tests/e2e/test_worker_restart.py \
	  -p no:randomly -q
