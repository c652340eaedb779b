# The fakes (mocks/): their benchmark. Included by the Makefile (PY and STAMP come from there).

##@ Fakes (mocks/)

.PHONY: bench-fakes

# Requests per second of each fake server on loopback (python -m mocks.e2b / mocks.github, a few
# representative operations, a fixed request count, bounded in time) and the cost in microseconds of
# one respx-mocked call in-process. BENCH_ARGS passes options on, e.g. BENCH_ARGS="--json reports/bench-fakes.json".
BENCH_ARGS ?=

bench-fakes: $(STAMP) ## the fake servers' requests per second, and the cost of a respx-mocked call
	$(PY) -m benchmarks.fakes $(BENCH_ARGS)
