# Developer commands. `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
NPM_CI := npm ci --no-audit --no-fund --loglevel=error

.PHONY: run test lint format bench web web-test install install-dev migrate clean help

help:
	@echo "make run    - install, build the web app, migrate, start the single-node server on :8000"
	@echo "make test   - install what the tests need and run lint, front-end and back-end tests"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - benchmarks (docs/benchmarks.md)"

$(VENV)/.python-ok:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	touch $@

# Runtime only (make run); versions pinned by requirements.lock.
$(VENV)/.installed: $(VENV)/.python-ok pyproject.toml requirements.lock
	$(PY) -m pip install -q -c requirements.lock -e .
	touch $@

# Runtime plus test and lint tools.
$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml requirements.lock
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && $(NPM_CI)
	touch $@

postman/node_modules/.installed: postman/package.json postman/package-lock.json
	cd postman && $(NPM_CI)
	touch $@

# API types are generated from the app's OpenAPI before every build, so they cannot drift.
web: $(VENV)/.installed web/node_modules/.installed
	$(BIN)/livestream openapi --output web/openapi.json
	cd web && npm run --silent build

web-test: web/node_modules/.installed web
	cd web && npm test --silent

migrate: install
	LS_ENV=$${LS_ENV:-development} $(BIN)/livestream migrate

run: install web
	mkdir -p var
	LS_ENV=$${LS_ENV:-development} $(BIN)/livestream migrate
	LS_ENV=$${LS_ENV:-development} LS_PAYMENTS=$${LS_PAYMENTS-test} exec $(BIN)/livestream serve

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

test: install-dev lint web-test postman/node_modules/.installed
	$(PY) -m pytest --cov --cov-report=term --cov-fail-under=80 --durations=30 -n 2 --dist loadfile

bench: install-dev web
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 \
		|| echo "wrk unavailable: the benchmarks use the built-in Python load generator"
	$(PY) -m bench

clean:
	rm -rf $(VENV) web/node_modules web/dist postman/node_modules .coverage .mypy_cache .ruff_cache .pytest_cache
