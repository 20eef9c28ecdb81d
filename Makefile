# Todo Cloud — the two commands of the README:
#   make run    start the whole system on embedded defaults (prints the URL)
#   make test   lint, type-check and run the whole test suite
# Both create .venv and install what they need; both are safe to re-run.
# With Node.js (>= 20.19) both also build the web UI (ui/, served at /) and `make test` runs its tests;
# without it they say so and go on without the UI.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check lint typecheck unit integration e2e bench venv clean ui ui-test clock-check system-packages

# "ok" when a Node.js >= 20.19 is on PATH (what Next.js 16 and the test tools need), else empty
NODE   := $(shell node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.stdout.write(a > 20 || (a === 20 && b >= 19) ? "ok" : "")' 2>/dev/null)
UI_SRC := $(shell find ui/app ui/src ui/public -type f 2>/dev/null) \
          ui/package.json ui/package-lock.json ui/next.config.ts ui/tsconfig.json

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: venv ui
	$(BIN)/python -m agent_gateway

test: venv check ui-test system-packages clock-check
	$(BIN)/python -m pytest

# Debian packages of the stages that run real tools (libfaketime, Prometheus, podman + runc, mmdebstrap):
# installed when missing and root, else each stage skips with its reason
system-packages:
	@scripts/ensure-debian-packages.sh

# the Python unit tests and vitest again under libfaketime at three instants and zones (a DST switch,
# New Year's Eve west of UTC, 29 February east of UTC): no test or code may depend on today's date
clock-check: venv system-packages
	$(BIN)/python scripts/clock_check.py $(if $(NODE),,--only python)

# -- web UI: a Next.js static export in ui/out, which the gateway serves at / ----------------------------

ui:
ifeq ($(NODE),)
	@echo "make ui: no Node.js >= 20.19 found - skipping the web UI (the API, chat and /docs still run; install Node.js for it)"
else
	@$(MAKE) --no-print-directory ui/out/index.html
endif

ui/node_modules/.package-lock.json: ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

ui/out/index.html: ui/node_modules/.package-lock.json $(UI_SRC)
	cd ui && NEXT_TELEMETRY_DISABLED=1 npm run build --silent
	@touch $@

# typecheck + build (next build), component tests (vitest), and Debian's chromium for the browser tests,
# which pytest runs (tests/e2e/test_ui_browser.py) against the system as `make run` starts it
ui-test:
ifeq ($(NODE),)
	@echo "make ui-test: no Node.js >= 20.19 found - skipping the UI's component and browser tests"
else
	@$(MAKE) --no-print-directory ui/out/index.html
	cd ui && npx vitest run
	@ui/scripts/ensure-chromium.sh
endif

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache ui/.next ui/out ui/node_modules
