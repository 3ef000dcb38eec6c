# The two commands of the README's Quick start: `make demo` and `make test`.
PYTHON ?= python3
BIN := .venv/bin
RUNTIME_STAMP := .venv/.stamp-runtime
TEST_STAMP := .venv/.stamp-test
# Engine and ledger must stay at or above this line+branch coverage.
CORE_COVERAGE := 95
# The firmware's MicroPython tests run MicroPython's WebAssembly port on Node.js; its npm
# package is installed here when npm exists (without Node.js that one test is skipped).
MP_DIR := tools/micropython
MP_STAMP := $(MP_DIR)/node_modules/.stamp

.PHONY: all demo test lint typecheck pytest install clean micropython-deps bench

all: test

$(RUNTIME_STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) sh scripts/bootstrap.sh
	touch $@

$(TEST_STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) sh scripts/bootstrap.sh test
	touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)

demo: $(RUNTIME_STAMP)
	$(BIN)/lockerkey demo

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

$(MP_STAMP): $(MP_DIR)/package.json $(MP_DIR)/package-lock.json
	cd $(MP_DIR) && npm ci --no-audit --no-fund
	touch $@

# Decided when it runs (not when make reads this file): bootstrap.sh may just have installed npm.
micropython-deps: $(TEST_STAMP)
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) -s --no-print-directory $(MP_STAMP); \
	elif command -v node >/dev/null 2>&1; then \
		echo "Node.js without npm: cannot install MicroPython's WASM port; install npm" >&2; \
	else \
		echo "Node.js not found: the firmware's MicroPython (WASM) tests will be skipped"; \
	fi

pytest: $(TEST_STAMP) micropython-deps
	$(BIN)/pytest --cov --cov-report=term-missing:skip-covered
	$(BIN)/coverage report --fail-under=$(CORE_COVERAGE) \
		--include='*/lockerkey/core/*,*/lockerkey/store/*'

test: lint typecheck pytest

# Benchmarks (bench/run.py): a table on stdout and bench/results.json, in about 7 minutes;
# the two ledgers it makes once under bench/work/ take about 2 more. A memory soak of 10,000
# scans adds about 16 minutes: make bench BENCH_ARGS="--soak 9000".
BENCH_ARGS ?=
bench: $(TEST_STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .coverage .hypothesis $(MP_DIR)/node_modules
