# The two commands of the README's Quick start: `make demo` and `make test`.
PYTHON ?= python3
BIN := .venv/bin
RUNTIME_STAMP := .venv/.stamp-runtime
TEST_STAMP := .venv/.stamp-test
# Engine and ledger must stay at or above this line+branch coverage.
CORE_COVERAGE := 95

.PHONY: all demo test lint typecheck pytest install clean

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
	$(BIN)/ruff check src tests

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

pytest: $(TEST_STAMP)
	$(BIN)/pytest --cov --cov-report=term-missing:skip-covered
	$(BIN)/coverage report --fail-under=$(CORE_COVERAGE) \
		--include='*/lockerkey/core/*,*/lockerkey/store/*'

test: lint typecheck pytest

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .coverage .hypothesis
