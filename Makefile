# Todo Cloud — the two commands of the README:
#   make run    start the whole system on embedded defaults (prints the URL)
#   make test   lint, type-check and run the whole test suite
# Both create .venv and install what they need; both are safe to re-run.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check lint typecheck unit integration e2e bench venv clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: venv
	$(BIN)/python -m agent_gateway

test: venv check
	$(BIN)/python -m pytest

check: lint typecheck

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/python -m pytest tests/unit

integration: venv
	$(BIN)/python -m pytest tests/integration

bench: venv
	$(BIN)/python bench/api_bench.py
	$(BIN)/python bench/events_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
