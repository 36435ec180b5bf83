# Set-up and everyday commands. Needs only Python 3.11 (or newer) on the machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/decree check rules
	$(BIN)/decree eval examples/persoon.yaml --on 2024-03-01 --explain
	@echo "--- the whole derivation of 'status' ---"
	$(BIN)/decree explain status examples/persoon.yaml --on 2024-03-01

check: $(VENV)/.installed
	$(BIN)/decree check rules

test: $(VENV)/.installed-dev
	$(BIN)/decree check rules
	$(BIN)/mypy engine
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run.py
	$(BIN)/python -m tools.bench_exact

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
