# Set-up and everyday commands. Needs only Python 3.11 (or newer) on the machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench check clean fuzz

# `make fuzz`: the fuzz suite of `make test` run far longer, with random (not derandomized)
# inputs (tests/fuzzing.py): FUZZ_EXAMPLES=50000 tries a million condition texts, 50,000
# facts files, 2,500 scenario files and 500 rule files. The counts of inputs tried are
# appended to fuzz-report.jsonl.
FUZZ_EXAMPLES ?= 50000

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,serve,batch,dask]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/decree check rules
	$(BIN)/decree eval examples/persoon.yaml --on 2024-03-01 --explain
	@echo "--- the whole derivation of 'status' ---"
	$(BIN)/decree explain status examples/persoon.yaml --on 2024-03-01
	@echo "--- the impact of the labour-migrant proposal on 100,000 generated persons ---"
	$(BIN)/python -m pip install --quiet -e '.[batch]'
	$(BIN)/python -m tools.population 100000 --seed 2027 --output .venv/population.parquet
	$(BIN)/decree impact .venv/population.parquet --on 2027-11-01 --proposal arbeidsmigranten

check: $(VENV)/.installed
	$(BIN)/decree check rules

test: $(VENV)/.installed-dev
	$(BIN)/decree check rules
	$(BIN)/mypy engine
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python -m tools.bench
	$(BIN)/python -m tools.bench_evaluation
	$(BIN)/python -m tools.bench_asof
	$(BIN)/python -m tools.bench_serve
	$(BIN)/python -m tools.bench_population --repeat 3
	$(BIN)/python -m tools.bench_bad_inputs
	$(BIN)/python -m tools.bench_exact

fuzz: $(VENV)/.installed-dev
	DECREE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) DECREE_FUZZ_RANDOM=1 DECREE_FUZZ_REPORT=fuzz-report.jsonl \
		$(BIN)/python -m pytest tests/test_fuzz_conditions.py tests/test_fuzz_files.py -p no:cacheprovider \
		--hypothesis-show-statistics
	@cat fuzz-report.jsonl

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis fuzz-report.jsonl
