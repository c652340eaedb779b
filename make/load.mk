# The load suite (`locust -f load/`): CI's smoke, the benchmarks and a distributed run. Included by
# the Makefile (VENV, PY, STAMP and REPORTS come from there).
#
#   make test-load           the smoke of load/locust.conf against a fresh stack, judged by the SLO gate
#   make bench-load          the figures of BENCHMARKS.md, each scenario against a fresh stack:
#                            smoke, 1,000 streams held 60 s (SQLite, then PostgreSQL), 100
#                            assignments in flight, API stress
#   make load-distributed    the smoke with a master and two workers on loopback, stats merged
#   make bench-agents        the target: 100 agent tasks in flight at a real model's pace end as 100
#                            pull requests, none lost or doubled (exit 1 otherwise)
#
# Every run leaves Locust's HTML report, CSV stats and log under reports/load/<run>/, and the
# stack's logs under reports/stack/load-<run>/. The scenarios are in load/scenarios.py.

##@ Load suite (locust -f load/)

.PHONY: test-load bench-load load-distributed bench-agents

# Locust's options in test-load. The smoke profile (users, run time, reports) lives in
# load/locust.conf; the nightly CI adds `--scenario stress`, or `--scenario soak --soak-minutes 30`.
LOAD_ARGS ?= --config load/locust.conf

test-load: $(STAMP) ## the load smoke (LOAD_ARGS) against a fresh stack, judged by the SLO gate
	@mkdir -p $(REPORTS)/load
	$(PY) -m tools.stack run --log-dir $(REPORTS)/stack/load -- $(VENV)/bin/locust $(LOAD_ARGS)

LOCUST := $(VENV)/bin/locust
LOAD_REPORTS := $(REPORTS)/load
# A fresh stack (the platform and the fakes on free loopback ports) around one command.
LOAD_STACK = $(PY) -m tools.stack run --log-dir $(REPORTS)/stack/load-$(1) --
# Locust with the suite's config, its reports in reports/load/$(1)/; the log is kept there too.
LOAD_RUN = $(LOCUST) --config load/locust.conf --html $(LOAD_REPORTS)/$(1)/report.html --csv $(LOAD_REPORTS)/$(1)/stats
# Each stream is a socket in the platform and one in Locust: 1,000 streams need more than the
# usual soft limit of 1,024 open files.
OPEN_FILES := 8192
RAISE_OPEN_FILES = ulimit -Sn $(OPEN_FILES) 2>/dev/null || ulimit -Sn "$$(ulimit -Hn)"
# The lines of a run's log that carry its figures.
LOAD_FIGURES := 'SLO (met|failed)|scenario|smoke:|streams:|pipeline:|stress:|postgres:|agents:'

# The platform on a throwaway PostgreSQL cluster (tools/postgres.py) instead of SQLite.
ON_POSTGRES = $(PY) -m tools.postgres -- env
POSTGRES_PLATFORM = DATABASE_URL="$${TEST_DATABASE_URL/postgresql:/postgresql+asyncpg:}"

# name, Locust options, and an optional wrapper (ON_POSTGRES): one benchmark against a fresh stack.
# Its exit status is kept, and the next one runs anyway.
define bench_run
	@echo; echo "== $(1): $(2)"
	@mkdir -p $(LOAD_REPORTS)/$(1)
	-@set -o pipefail; $(RAISE_OPEN_FILES); \
	  $(3) bash -c '$(if $(3),$(POSTGRES_PLATFORM)) $(call LOAD_STACK,$(1)) $(call LOAD_RUN,$(1)) $(2)' 2>&1 \
	  | tee $(LOAD_REPORTS)/$(1)/locust.log; echo $$? > $(LOAD_REPORTS)/$(1)/status
endef
BENCH_RUNS := bench-smoke bench-streams bench-streams-postgres bench-pipeline bench-stress

bench-load: $(STAMP) ## the load figures of BENCHMARKS.md: smoke, 1,000 streams, 100 assignments, stress
	@echo "machine: $$(nproc) CPUs, $$(free -g | awk '/^Mem:/ {print $$2 " GB"}') memory, load average $$(cut -d' ' -f1-3 /proc/loadavg)"
	$(call bench_run,bench-smoke,--scenario smoke)
	$(call bench_run,bench-streams,--scenario streams --streams 1000 --hold-s 60)
	$(call bench_run,bench-streams-postgres,--scenario streams --streams 1000 --hold-s 60,$(ON_POSTGRES))
	$(call bench_run,bench-pipeline,--scenario pipeline --assignments 100)
	$(call bench_run,bench-stress,--scenario stress --stress-p95-ms 100 --stress-step-users 25 --stress-step-s 20)
	@echo; echo "== bench-load figures (logs and reports under $(LOAD_REPORTS)/bench-*/)"
	@failed=0; for run in $(BENCH_RUNS); do \
	  status=$$(cat $(LOAD_REPORTS)/$$run/status 2>/dev/null || echo 1); \
	  echo "-- $$run (exit $$status)"; \
	  grep -E $(LOAD_FIGURES) $(LOAD_REPORTS)/$$run/locust.log | sed 's/^\[[^]]*\] [^ ]* //'; \
	  [ "$$status" = 0 ] || failed=1; \
	done; exit $$failed

# A master and two worker processes on loopback, on a port free at the time; the master waits for
# both (--expect-workers) and merges their statistics into its report. LOAD_SCENARIO chooses the
# scenario (default: the smoke of load/locust.conf).
load-distributed: $(STAMP) ## the load smoke with a Locust master and two workers on loopback (LOAD_SCENARIO)
	@mkdir -p $(LOAD_REPORTS)/distributed
	$(call LOAD_STACK,distributed) bash -c '\
	  port=$$($(PY) -c "from fixtures.stack import free_port; print(free_port())"); \
	  for worker in 1 2; do \
	    $(LOCUST) -f load/ --worker --master-host 127.0.0.1 --master-port $$port \
	      > $(LOAD_REPORTS)/distributed/worker-$$worker.log 2>&1 & \
	  done; \
	  $(call LOAD_RUN,distributed) --master --master-bind-host 127.0.0.1 --master-bind-port $$port \
	    --expect-workers 2 --expect-workers-max-wait 60; status=$$?; \
	  wait; exit $$status'

# The agents' benchmark: BENCH_AGENTS tasks assigned at once, each agent streaming at a real model's
# pace (load/_fakes.py: 500 ms to the first token, 20 ms a token), against a fresh stack. The platform
# runs BENCH_AGENTS_CONCURRENCY jobs at once (WORKER_CONCURRENCY): agents mostly wait on the model, so
# more than the default 8, up to the fake E2B's quota of 20 sandboxes at once.
BENCH_AGENTS ?= 100
BENCH_AGENTS_CONCURRENCY ?= 20
MACHINE_LINE = echo "machine: $$(nproc) CPUs, $$(free -g | awk '/^Mem:/ {print $$2 " GB"}') memory, load average $$(cut -d' ' -f1-3 /proc/loadavg)"

bench-agents: $(STAMP) ## the target: 100 agent tasks in flight at a real model's pace end as 100 pull requests (exit 1 if any lost or doubled)
	@$(MACHINE_LINE)
	@mkdir -p $(LOAD_REPORTS)/bench-agents
	@set -o pipefail; $(RAISE_OPEN_FILES); \
	  WORKER_CONCURRENCY=$(BENCH_AGENTS_CONCURRENCY) $(call LOAD_STACK,bench-agents) \
	    $(call LOAD_RUN,bench-agents) --scenario agents --assignments $(BENCH_AGENTS) 2>&1 \
	  | tee $(LOAD_REPORTS)/bench-agents/locust.log; status=$$?; \
	  echo; echo "== bench-agents figures (log and report under $(LOAD_REPORTS)/bench-agents/)"; \
	  $(MACHINE_LINE); \
	  grep -E $(LOAD_FIGURES) $(LOAD_REPORTS)/bench-agents/locust.log | sed 's/^\[[^]]*\] [^ ]* //'; \
	  exit $$status
