# Mutation score gate: mutmut mutates the platform files [tool.mutmut] only_mutate names (in
# pyproject.toml) and runs the in-process backend tests against each mutant; fails under 85% killed.
# Figures and the survivors' explanations are in RELIABILITY.md ("Mutation score").
.PHONY: mutation mutation-resume mutation-score

# Two mutants at a time (one per core of the 2-core machine and of CI's runner), niced; about 40 minutes
# for the whole scope. MUTATION_CHILDREN=1 leaves a core to other work and takes about twice as long.
MUTATION_CHILDREN ?= 2
MUTATION_MIN_SCORE ?= 85
MUTMUT := nice -n 10 $(VENV)/bin/mutmut

# A fresh run: mutants/ is a copy of app/ and the tests, and a stale copy would test stale code.
mutation: $(STAMP)
	rm -rf mutants
	@start=$$(date +%s); \
	$(MUTMUT) run --max-children $(MUTATION_CHILDREN) | tr '\r' '\n' | grep --line-buffered -v '^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]'; \
	status=$${PIPESTATUS[0]}; echo "mutmut run: exit $$status, wall time $$(( $$(date +%s) - start )) s"; exit $$status
	$(PY) benchmarks/mutation_score.py --min-score $(MUTATION_MIN_SCORE)

# Carry on from the last run (mutmut checks only the mutants without a result, and those whose
# function changed); then the gate.
mutation-resume: $(STAMP)
	$(MUTMUT) run --max-children $(MUTATION_CHILDREN) | tr '\r' '\n' | tail -3
	$(PY) benchmarks/mutation_score.py --min-score $(MUTATION_MIN_SCORE)

# The gate on the results already in mutants/.
mutation-score:
	$(PY) benchmarks/mutation_score.py --min-score $(MUTATION_MIN_SCORE)
