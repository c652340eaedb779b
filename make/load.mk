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
#   make bench-board         the board's reads: the stress scenario's knee (Locust, spread over the
#                            cores) against a platform of BENCH_SERVER_WORKERS web processes
#   make bench-calibration   the same stack measured by wrk, then by Locust: both knees
#   make bench-streams-5000  5,000 event streams held 60 s: drops and delivery p99
#
# Every run leaves Locust's HTML report, CSV stats and log under reports/load/<run>/, and the
# stack's logs under reports/stack/load-<run>/. The scenarios are in load/scenarios.py.

##@ Load suite (locust -f load/)

.PHONY: test-load bench-load load-distributed bench-agents bench-board bench-calibration bench-streams-5000 wrk

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
# Web processes of the platform (SERVER_WORKERS), each with its in-app worker running
# BENCH_AGENTS_CONCURRENCY jobs, and Locust's processes (the assignment users hold a stream each).
BENCH_AGENTS_SERVER_WORKERS ?= 1
BENCH_AGENTS_LOCUST_PROCESSES ?= 1
# The fake E2B's quota of sandboxes running at once (FAKE_E2B_MAX_CONCURRENT): every job at work
# holds one, so it covers BENCH_AGENTS_CONCURRENCY in every web process.
BENCH_AGENTS_SANDBOXES ?= $(shell echo $$(( $(BENCH_AGENTS_CONCURRENCY) * $(BENCH_AGENTS_SERVER_WORKERS) )))
# GitHub tokens the platform spreads its tasks over (GITHUB_TOKEN and GITHUB_EXTRA_TOKENS, canaries the
# fake GitHub accepts, each with its own limits): GitHub lets one account create about 80 pull requests a
# minute, 1.33 a second, so a run past that rate needs more of them, as a deployment would.
BENCH_AGENTS_GITHUB_TOKENS ?= 1
# The platform's database: sqlite (a file of the run's own), or postgres (a throwaway cluster, as
# bench-streams-postgres): with several web processes the agents' events and leases contend for
# SQLite's one writer.
BENCH_AGENTS_DATABASE ?= sqlite
BENCH_AGENTS_ON_DATABASE = $(if $(filter postgres,$(BENCH_AGENTS_DATABASE)),$(ON_POSTGRES) bash -c '$(POSTGRES_PLATFORM) exec "$$@"' bench-agents)
MACHINE_LINE = echo "machine: $$(nproc) CPUs, $$(free -g | awk '/^Mem:/ {print $$2 " GB"}') memory, load average $$(cut -d' ' -f1-3 /proc/loadavg)"

bench-agents: $(STAMP) ## the target: BENCH_AGENTS agent tasks in flight at a real model's pace end as 100 pull requests (exit 1 if any lost or doubled)
	@$(MACHINE_LINE)
	@mkdir -p $(LOAD_REPORTS)/bench-agents
	@set -o pipefail; $(RAISE_OPEN_FILES); \
	  WORKER_CONCURRENCY=$(BENCH_AGENTS_CONCURRENCY) FAKE_E2B_MAX_CONCURRENT=$(BENCH_AGENTS_SANDBOXES) \
	  SERVER_WORKERS=$(BENCH_AGENTS_SERVER_WORKERS) \
	  $(BENCH_AGENTS_ON_DATABASE) $(PY) -m tools.stack run --log-dir $(REPORTS)/stack/load-bench-agents \
	    --github-tokens $(BENCH_AGENTS_GITHUB_TOKENS) -- \
	    $(call LOAD_RUN,bench-agents) --scenario agents --assignments $(BENCH_AGENTS) \
	    $(if $(filter-out 1,$(BENCH_AGENTS_LOCUST_PROCESSES)),--processes $(BENCH_AGENTS_LOCUST_PROCESSES)) 2>&1 \
	  | tee $(LOAD_REPORTS)/bench-agents/locust.log; status=$$?; \
	  echo; echo "== bench-agents figures (log and report under $(LOAD_REPORTS)/bench-agents/)"; \
	  $(MACHINE_LINE); \
	  grep -E $(LOAD_FIGURES) $(LOAD_REPORTS)/bench-agents/locust.log | sed 's/^\[[^]]*\] [^ ]* //'; \
	  exit $$status

# The board's reads. The platform serves with BENCH_SERVER_WORKERS web processes (SERVER_WORKERS)
# and no per-squad rate limit (each Locust user is a squad reading fifty times a second, and the run
# measures the platform, not the limit); Locust runs BENCH_LOCUST_PROCESSES processes (`--processes`,
# one per core by default), so the generator is not one core's worth of Python.
BENCH_SERVER_WORKERS ?= 2
BENCH_LOCUST_PROCESSES ?= $(shell nproc)
# The objective of a step: the board's reads within 50 ms at the 95th percentile, no failure.
BENCH_BOARD_P95_MS ?= 50
BENCH_BOARD_STEP_USERS ?= 2
BENCH_BOARD_STEP_S ?= 15
BENCH_BOARD_ENV = SERVER_WORKERS=$(BENCH_SERVER_WORKERS) SQUAD_RATE_LIMIT_PER_S=0 SQUAD_RUN_WORKER=false
BENCH_BOARD_LOCUST = $(PY) -m benchmarks.cpu_of "Locust (all its processes)" -- \
  $(call LOAD_RUN,$(1)) --scenario stress --processes $(BENCH_LOCUST_PROCESSES) \
  --stress-p95-ms $(BENCH_BOARD_P95_MS) --stress-step-users $(BENCH_BOARD_STEP_USERS) --stress-step-s $(BENCH_BOARD_STEP_S)
# No single quotes: it also runs inside `bash -c '...'`.
LOAD_AVERAGE = echo load average $$(cut -d" " -f1-3 /proc/loadavg)

wrk: ## only Debian's wrk, the calibration's second client (installed as root, else the apt-get command is printed)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } \
	  || { echo "wrk is missing: sudo apt-get install wrk"; exit 1; }

bench-board: $(STAMP) ## the board's reads: the knee (requests/s within p95 BENCH_BOARD_P95_MS) with the generator on the same cores
	@$(MACHINE_LINE)
	@mkdir -p $(LOAD_REPORTS)/bench-board
	@set -o pipefail; $(BENCH_BOARD_ENV) $(call LOAD_STACK,bench-board) $(call BENCH_BOARD_LOCUST,bench-board) 2>&1 \
	  | tee $(LOAD_REPORTS)/bench-board/locust.log; status=$$?; \
	  echo; echo "== bench-board figures ($(BENCH_SERVER_WORKERS) web processes, $(BENCH_LOCUST_PROCESSES) Locust processes)"; \
	  $(LOAD_AVERAGE); grep -E 'stress:|CPU:' $(LOAD_REPORTS)/bench-board/locust.log | sed 's/^\[[^]]*\] [^ ]* //'; exit $$status

# One stack, two generators in turn: wrk (benchmarks/board_reads.py), then the load suite's stress
# scenario, on the same requests (benchmarks/calibration.py prints both knees and exits 1 when they
# are more than 10% apart). The stack runs on BENCH_PLATFORM_CPUS and the generators on
# BENCH_GENERATOR_CPUS (taskset's lists), so neither generator takes CPU from the platform: one web
# process and one Locust process for the one core each has by default.
BENCH_PLATFORM_CPUS ?= 0
BENCH_GENERATOR_CPUS ?= 1
BENCH_CALIBRATION_SERVER_WORKERS ?= 1
BENCH_CALIBRATION_LOCUST_PROCESSES ?= 1
BENCH_CALIBRATION_STEP_USERS ?= 2
# wrk's steps, in connections.
BENCH_WRK_CONNECTIONS ?= 2,4,8,16,32
bench-calibration: $(STAMP) wrk ## the board's knee by wrk and by Locust on one stack, on cores of their own: both knees
	@$(MACHINE_LINE)
	@[ "$$(nproc)" -ge 2 ] || { echo "bench-calibration needs two CPUs or more: the platform and the generators run on cores of their own"; exit 1; }
	@mkdir -p $(LOAD_REPORTS)/bench-calibration
	@set -o pipefail; SERVER_WORKERS=$(BENCH_CALIBRATION_SERVER_WORKERS) SQUAD_RATE_LIMIT_PER_S=0 SQUAD_RUN_WORKER=false \
	  taskset -c $(BENCH_PLATFORM_CPUS) $(call LOAD_STACK,bench-calibration) taskset -c $(BENCH_GENERATOR_CPUS) \
	  $(PY) -m benchmarks.calibration --wrk-connections $(BENCH_WRK_CONNECTIONS) --step-s $(BENCH_BOARD_STEP_S) --p95-ms $(BENCH_BOARD_P95_MS) -- \
	    $(call LOAD_RUN,bench-calibration) --scenario stress \
	    $(if $(filter-out 1,$(BENCH_CALIBRATION_LOCUST_PROCESSES)),--processes $(BENCH_CALIBRATION_LOCUST_PROCESSES)) \
	    --stress-p95-ms $(BENCH_BOARD_P95_MS) --stress-step-users $(BENCH_CALIBRATION_STEP_USERS) --stress-step-s $(BENCH_BOARD_STEP_S) \
	  2>&1 | tee $(LOAD_REPORTS)/bench-calibration/locust.log; status=$$?; \
	  echo; echo "== bench-calibration figures (platform on CPUs $(BENCH_PLATFORM_CPUS), $(BENCH_CALIBRATION_SERVER_WORKERS) web processes; generators on CPUs $(BENCH_GENERATOR_CPUS))"; \
	  $(LOAD_AVERAGE); grep -E '^wrk:|stress:|^calibration:' $(LOAD_REPORTS)/bench-calibration/locust.log | sed 's/^\[[^]]*\] [^ ]* //'; \
	  exit $$status

# 5,000 streams: 500 squads of ten viewers each (load/sse_user.py), each squad adding a task every
# BENCH_STREAMS_EVENT_S seconds: 50 events a second, 500 deliveries, as many as the 1,000 streams of
# bench-load (at one task every 2 s a squad, 250 writes a second would be measured, not the streams).
# Each stream is a socket on both ends, and each web process serves about half: the open files,
# the server's connection cap and the per-squad stream limit are set for that here. A squad's
# writer posts every BENCH_STREAMS_EVENT_S seconds on a kept-alive connection: the server keeps it
# longer than that (75 s, as nginx in front would), or it closes each one between posts, and a post
# sent as the close crosses it on the wire fails without an answer.
BENCH_STREAMS ?= 5000
BENCH_STREAMS_HOLD_S ?= 60
BENCH_STREAMS_EVENT_S ?= 10
bench-streams-5000: $(STAMP) ## 5,000 event streams held 60 s on BENCH_SERVER_WORKERS web processes: drops, delivery p99
	@$(MACHINE_LINE)
	@mkdir -p $(LOAD_REPORTS)/bench-streams-5000
	@set -o pipefail; ulimit -Sn 65536 2>/dev/null || ulimit -Sn "$$(ulimit -Hn)"; \
	  SERVER_WORKERS=$(BENCH_SERVER_WORKERS) SERVER_MAX_CONNECTIONS=$(BENCH_STREAMS) SQUAD_MAX_STREAMS=100 \
	  SERVER_KEEP_ALIVE_S=75 \
	  $(call LOAD_STACK,bench-streams-5000) $(call LOAD_RUN,bench-streams-5000) --processes $(BENCH_LOCUST_PROCESSES) \
	    --scenario streams --streams $(BENCH_STREAMS) --hold-s $(BENCH_STREAMS_HOLD_S) \
	    --sse-event-interval-s $(BENCH_STREAMS_EVENT_S) 2>&1 | tee $(LOAD_REPORTS)/bench-streams-5000/locust.log; status=$$?; \
	  echo; echo "== bench-streams-5000 figures"; $(LOAD_AVERAGE); \
	  grep -E 'streams:|SLO' $(LOAD_REPORTS)/bench-streams-5000/locust.log | sed 's/^\[[^]]*\] [^ ]* //'; exit $$status
