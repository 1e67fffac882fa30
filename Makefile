# One entry point for every task. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help compat-env system-deps install dev-install proto-breaking gen gen-check lint fmt typecheck test test-pg proto-lint run bench check

help:
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]' --config-settings editable_mode=strict
	touch $@

install: $(STAMP) ## create the virtualenv and install the project with its dev tools (idempotent)

DET_VENV := .venv-determined

$(DET_VENV)/bin/det:
	python3 -m venv $(DET_VENV)
	$(DET_VENV)/bin/python -m pip install -q --upgrade pip
	$(DET_VENV)/bin/python -m pip install -q 'determined==0.38.1'

compat-env: $(DET_VENV)/bin/det ## install Determined's own client (PyPI `determined`) in its own venv for the compatibility tests

system-deps: ## install the system packages the tests need (PostgreSQL, Chromium) if missing
	scripts/system-deps.sh

gen: ## regenerate protogw.gen (messages, stubs, descriptor sets, OpenAPI) from proto/ and tests.gen from tests/protos/
	$(PY) scripts/gen_protos.py
	@if [ -f scripts/gen_openapi.py ]; then $(PY) scripts/gen_openapi.py; fi
	$(MAKE) dev-install

gen-check: gen ## fail if generated code (shipped gen/ and test-only tests/gen/) drifted from the protos
	git add -N gen tests/gen && git diff --exit-code -- gen tests/gen

proto-lint: ## buf lint + format check (+ breaking against main when main has protos)
	$(BIN)/buf lint
	$(BIN)/buf format -d --exit-code

proto-breaking: ## buf breaking against the last commit whose protos differ (skipped when it has none)
	@base=$$(git merge-base HEAD origin/main 2>/dev/null || true); \
	if [ -z "$$base" ] || [ "$$base" = "$$(git rev-parse HEAD)" ]; then base=$$(git rev-parse -q --verify HEAD~1 || true); fi; \
	if [ -n "$$base" ] && git cat-file -e "$$base:proto/determined" 2>/dev/null; then \
		echo "buf breaking against $$base"; $(BIN)/buf breaking --against ".git#ref=$$base"; \
	else echo "buf breaking: no earlier protos to compare against"; fi

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
	cd $(EDITABLE) && $(abspath $(BIN))/mypy --config-file $(abspath pyproject.toml) -p protogw.core -p protogw.gateway -p protogw.openapi -p protogw.server -p protogw.clients

test: install system-deps compat-env ## run the whole test suite (every database test on SQLite and on a real PostgreSQL)
	$(BIN)/pytest

run: install ## run the stack on the embedded default (SQLite, REST + gRPC + Swagger UI)
	$(BIN)/protogw serve

bench: ## run the benchmarks (not tests); each prints ratios against a peer measured in the same run
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

check: lint typecheck proto-lint gen-check test ## everything CI runs
