# labgate task runner. CI calls `make test` (through .ci/run) and nothing else.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Lines of gateway/policy and gateway/audit the tests must run (a targeted run of
# tests/gateway/policy and tests/gateway/audit measured 91%).
COVERAGE_FLOOR ?= 88

.PHONY: demo test check openapi docs bench install clean

$(BIN)/python:
	@echo "== creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "== installing labgate and its test tools into $(VENV) (about two minutes)"
	$(BIN)/pip install --progress-bar on -e '.[test]'
	touch $(STAMP)
	@echo "== installed: $(BIN)/labgate (run '. $(BIN)/activate' to have labgate on PATH)"

install: $(STAMP)

## Start the gateway on sample data with a dev issuer: no lab, no network, no PostgreSQL.
demo: $(STAMP)
	$(BIN)/labgate demo

## Install what the tests need (Python packages, apt and npm packages) and run them all.
test: $(STAMP)
	@for f in tests/support/install_*.sh; do echo "== $$f"; bash "$$f" || exit 1; done
	$(BIN)/pytest --cov --cov-report=term:skip-covered
	@echo "== coverage floor of the security core (gateway/policy, gateway/audit)"
	$(BIN)/coverage report --include='gateway/policy/*,gateway/audit/*' --fail-under=$(COVERAGE_FLOOR)

check: $(STAMP)
	$(BIN)/ruff check gateway capabilities tests bench
	$(BIN)/ruff format --check gateway capabilities tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

openapi: $(STAMP)
	$(BIN)/labgate openapi > openapi/openapi.json

## Regenerate the reference tables in docs/ (settings, codes, CLI) from the code.
docs: $(STAMP)
	$(BIN)/python -m gateway.reference

bench: $(STAMP)
	@for f in bench/install_*.sh; do [ -f "$$f" ] && bash "$$f"; done; true
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
