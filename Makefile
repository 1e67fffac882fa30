# One entry point for every task. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help install dev-install gen gen-check lint fmt typecheck test test-pg proto-lint run bench check

help:
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(PY):
	python3 -m venv $(VENV)

install: $(PY) ## create the virtualenv and install the project with its dev tools
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]' --config-settings editable_mode=strict

gen: ## regenerate protogw.gen (messages, stubs, descriptor sets, OpenAPI) from proto/
	$(PY) scripts/gen_protos.py
	$(MAKE) dev-install
	@if [ -f scripts/gen_openapi.py ]; then $(PY) scripts/gen_openapi.py; fi

gen-check: gen ## fail if generated code drifted from the protos
	git add -N gen && git diff --exit-code -- gen

proto-lint: ## buf lint + format check (+ breaking against main when main has protos)
	$(BIN)/buf lint
	$(BIN)/buf format -d --exit-code

lint: ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: ## apply ruff formatting and fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

EDITABLE := build/__editable__.protogw-0.1.0-py3-none-any

dev-install: ## re-link the editable install after adding or removing modules (strict editable mode)
	@$(PY) -m pip install -e . --no-deps --config-settings editable_mode=strict -q 2>&1 | grep -iE "^error" || true

typecheck: dev-install ## mypy --strict on our code (run inside the editable link tree so protogw.* resolves)
	cd $(EDITABLE) && $(abspath $(BIN))/mypy --config-file $(abspath pyproject.toml) -p protogw.gateway -p protogw.server -p protogw.clients

test: ## run the test suite (SQLite; PostgreSQL too when PROTOGW_TEST_POSTGRES is set or a server can be started)
	$(BIN)/pytest

run: ## run the stack on the embedded default (SQLite, REST + gRPC + Swagger UI)
	$(BIN)/protogw serve

bench: ## run the benchmarks (not tests); each prints ratios against a peer measured in the same run
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

check: lint typecheck proto-lint gen-check test ## everything CI runs
